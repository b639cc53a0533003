import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  applyCompletion,
  completionContextAt,
  formatSelector,
  isValidSelector,
  parseSelector,
  serviceOf,
  withEqualMatcher,
  withoutMatcher,
} from "./selector.ts";

describe("parseSelector / formatSelector", () => {
  test("reads all four operators, quoted names and escapes", () => {
    assert.deepEqual(
      parseSelector(`{service_name="api", env!="dev",pod=~"a.*" , x!~'b', "ü.name"="q\\"x"}`),
      [
        { name: "service_name", op: "=", value: "api" },
        { name: "env", op: "!=", value: "dev" },
        { name: "pod", op: "=~", value: "a.*" },
        { name: "x", op: "!~", value: "b" },
        { name: "ü.name", op: "=", value: 'q"x' },
      ],
    );
    assert.deepEqual(parseSelector("{}"), []);
    assert.deepEqual(parseSelector("  "), []);
    assert.deepEqual(parseSelector('{a="1",}'), [{ name: "a", op: "=", value: "1" }]);
  });

  test("says what is wrong", () => {
    assert.throws(() => parseSelector('service_name="a"'), /expected "\{"/);
    assert.throws(() => parseSelector('{a="1"'), /expected "," or "\}"/);
    assert.throws(() => parseSelector("{a=1}"), /expected a quoted value/);
    assert.throws(() => parseSelector('{a>"1"}'), /expected one of/);
    assert.throws(() => parseSelector('{a="1'), /unterminated string/);
    assert.equal(isValidSelector('{a="1"} x'), false);
  });

  test("format round-trips through parse", () => {
    const matchers = parseSelector(`{"ü"="a\\\\b", env=~"p\\"q"}`);
    assert.deepEqual(parseSelector(formatSelector(matchers)), matchers);
    assert.equal(formatSelector([{ name: "a", op: "=~", value: "x|y" }]), '{a=~"x|y"}');
  });
});

describe("service matcher", () => {
  test("withEqualMatcher replaces and adds the service first; withoutMatcher removes", () => {
    assert.equal(withEqualMatcher('{env="prod"}', "service_name", "api"), '{service_name="api", env="prod"}');
    assert.equal(
      withEqualMatcher('{service_name="a", env="prod"}', "service_name", "b"),
      '{service_name="b", env="prod"}',
    );
    assert.equal(withoutMatcher('{service_name="a", env="prod"}', "service_name"), '{env="prod"}');
    assert.equal(withEqualMatcher("{}", "pod", ""), '{pod=""}');
    assert.equal(withEqualMatcher('{service_name="a"}', "pod", "p1"), '{service_name="a", pod="p1"}');
  });

  test("serviceOf reads only an equality matcher", () => {
    assert.equal(serviceOf('{env="x", service_name="api"}'), "api");
    assert.equal(serviceOf('{service_name=~"api.*"}'), "");
    assert.equal(serviceOf("{broken"), "");
  });
});

describe("completionContextAt", () => {
  test("a label name after { or ,", () => {
    assert.deepEqual(completionContextAt("{", 1), { kind: "name", prefix: "", from: 1, to: 1 });
    assert.deepEqual(completionContextAt('{service_name="a", en', 21), {
      kind: "name",
      prefix: "en",
      from: 19,
      to: 21,
    });
    assert.deepEqual(completionContextAt("{env}", 3), { kind: "name", prefix: "en", from: 1, to: 4 });
  });

  test("a value inside quotes, with the label it belongs to", () => {
    const text = '{service_name="ap"}';
    assert.deepEqual(completionContextAt(text, 17), {
      kind: "value",
      name: "service_name",
      prefix: "ap",
      from: 15,
      to: 17,
    });
    assert.deepEqual(completionContextAt('{a="1", env =~ "pr', 18), {
      kind: "value",
      name: "env",
      prefix: "pr",
      from: 16,
      to: 18,
    });
  });

  test("nothing between a name and its operator, or after a closed value", () => {
    assert.deepEqual(completionContextAt('{a="1"', 6), { kind: "none" });
    assert.deepEqual(completionContextAt("{a ", 3), { kind: "none" });
  });

  test('applyCompletion writes name=" and closes values', () => {
    const nameCtx = completionContextAt("{en}", 3);
    assert.notEqual(nameCtx.kind, "none");
    if (nameCtx.kind === "none") return;
    assert.deepEqual(applyCompletion("{en}", nameCtx, "env"), { text: '{env=""}', cursor: 6 });
    const valueCtx = completionContextAt('{env="pr"}', 8);
    if (valueCtx.kind === "none") throw new Error("expected a value context");
    assert.deepEqual(applyCompletion('{env="pr"}', valueCtx, "prod"), { text: '{env="prod"}', cursor: 11 });
    const open = completionContextAt('{env="pr', 8);
    if (open.kind === "none") throw new Error("expected a value context");
    assert.deepEqual(applyCompletion('{env="pr', open, 'a"b'), { text: '{env="a\\"b"', cursor: 11 });
  });
});
