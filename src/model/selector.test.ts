import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create, fromBinary, fromJson, type JsonObject, toBinary, toJson } from "@bufbuild/protobuf";
import {
  FeatureFlagsService,
  GetFeatureFlagsResponseSchema,
} from "../gen/capabilities/v1/capabilities_pb.js";
import {
  AnalyzeQueryRequestSchema,
  AsyncQueryType,
  DiffResponseSchema,
  ProfileFormat,
  QuerierService,
  SelectHeatmapRequestSchema,
  SelectMergeStacktracesRequestSchema,
  SelectMergeStacktracesResponseSchema,
  SelectSeriesRequestSchema,
  SeriesResponseSchema,
} from "../gen/querier/v1/querier_pb.js";
import { SettingSchema, SettingsService } from "../gen/settings/v1/setting_pb.js";
import { ExemplarType, TimeSeriesAggregationType } from "../gen/types/v1/types_pb.js";
import { Version, VersionResponseSchema } from "../gen/version/v1/version_pb.js";
import { KilnError } from "./errors.ts";
import type { Labels } from "./labels.ts";
import {
  formatSelector,
  MAX_MATCHERS,
  MAX_SELECTOR_BYTES,
  type Matcher,
  matchLabels,
  newMatcher,
  parseQuery,
  parseSelector,
} from "./selector.ts";

/** name, type, value of each matcher, for deepEqual. */
function triples(ms: readonly Matcher[]): [string, string, string][] {
  return ms.map((m) => [m.name, m.type, m.value]);
}

function one(text: string): Matcher {
  const ms = parseSelector(text);
  assert.equal(ms.length, 1);
  return ms[0]!;
}

/** Asserts a KilnError(invalid_argument, invalid_selector) whose message matches `re`. */
function assertSelectorError(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof KilnError, `not a KilnError: ${String(err)}`);
    assert.equal(err.code, "invalid_argument");
    assert.equal(err.reason, "invalid_selector");
    assert.match(err.message, re);
    return true;
  });
}

describe("parseSelector: operators", () => {
  test("all four operators", () => {
    const ms = parseSelector(`{a="b", c!="d", e=~"re.*", f!~"x|y"}`);
    assert.deepEqual(triples(ms), [
      ["a", "=", "b"],
      ["c", "!=", "d"],
      ["e", "=~", "re.*"],
      ["f", "!~", "x|y"],
    ]);
    const [eq, ne, re, nre] = ms as [Matcher, Matcher, Matcher, Matcher];
    assert.equal(eq.matches("b"), true);
    assert.equal(eq.matches("bb"), false);
    assert.equal(ne.matches("d"), false);
    assert.equal(ne.matches("x"), true);
    assert.equal(re.matches("re"), true);
    assert.equal(re.matches("reXYZ"), true);
    assert.equal(re.matches("are"), false, "anchored at the start");
    assert.equal(nre.matches("x"), false);
    assert.equal(nre.matches("y"), false);
    assert.equal(nre.matches("xy"), true);
  });

  test("regexes are fully anchored", () => {
    const m = one(`{a=~"b|c"}`);
    assert.equal(m.matches("b"), true);
    assert.equal(m.matches("ab"), false);
    assert.equal(m.matches("bc"), false);
    const m2 = one(`{a=~"fo+"}`);
    assert.equal(m2.matches("foo"), true);
    assert.equal(m2.matches("foox"), false);
    assert.equal(m2.matches("xfoo"), false);
    // Alternation must not escape the anchors: ^(?:a|b)$, not ^a|b$.
    const m3 = one(`{a=~"x.*|y"}`);
    assert.equal(m3.matches("yz"), false);
    assert.equal(m3.matches("xz"), true);
  });

  test(". matches newlines, as Prometheus's (?s:) does", () => {
    assert.equal(one(`{a=~"a.b"}`).matches("a\nb"), true);
    assert.equal(one(`{a=~".*"}`).matches("x\ny"), true);
    assert.equal(one(`{a=~".+"}`).matches(""), false);
    assert.equal(one(`{a=~"(.*)"}`).matches("x\ny"), true);
  });

  test("regex fast paths agree with the regex", () => {
    assert.equal(one(`{a=~"api"}`).matches("api"), true);
    assert.equal(one(`{a=~"api"}`).matches("api2"), false);
    assert.equal(one(`{a=~"api|web"}`).matches("web"), true);
    assert.equal(one(`{a=~"api|web"}`).matches("api|web"), false);
    assert.equal(one(`{a=~""}`).matches(""), true);
    assert.equal(one(`{a=~""}`).matches("x"), false);
    assert.equal(one(`{a!~".*"}`).matches("anything"), false);
  });

  test("RE2 syntax is translated", () => {
    const ci = one(`{a=~"(?i)abc|def"}`);
    assert.equal(ci.matches("ABC"), true);
    assert.equal(ci.matches("DeF"), true, "(?i) reaches every alternative");
    assert.equal(ci.matches("abcdef"), false);
    const mid = one(`{a=~"a(?i)b|c"}`);
    assert.equal(mid.matches("aB"), true);
    assert.equal(mid.matches("C"), true);
    assert.equal(mid.matches("AB"), false);
    assert.equal(one("{a=~`(?i:x)y`}").matches("Xy"), true);
    assert.equal(one("{a=~`(?i:x)y`}").matches("XY"), false);
    assert.equal(one("{a=~`\\d+\\.\\w+`}").matches("12.ab_c"), true);
    assert.equal(one("{a=~`[[:alpha:]]+[[:digit:]]`}").matches("abc1"), true);
    assert.equal(one("{a=~`[[:alpha:]]+[[:digit:]]`}").matches("abc"), false);
    assert.equal(one("{a=~`(?P<x>a)b`}").matches("ab"), true);
    assert.equal(one("{a=~`\\Qa.b\\E`}").matches("a.b"), true);
    assert.equal(one("{a=~`\\Qa.b\\E`}").matches("axb"), false);
    assert.equal(one("{a=~`\\pL+`}").matches("héllo"), true);
    assert.equal(one("{a=~`\\p{Greek}+`}").matches("αβγ"), true);
    assert.equal(one("{a=~`\\p{Greek}+`}").matches("abc"), false);
    assert.equal(one("{a=~`\\x{1F600}`}").matches("😀"), true);
    assert.equal(one("{a=~`.`}").matches("😀"), true, "a code point, not a UTF-16 unit");
    assert.equal(one("{a=~`[]a]+`}").matches("]a]"), true);
    assert.equal(one("{a=~`a{2}`}").matches("aa"), true);
    assert.equal(one("{a=~`a{`}").matches("a{"), true, "a brace that is no repeat is literal");
    assert.equal(one("{a=~`\\_\\-\\#`}").matches("_-#"), true, "escaped punctuation is literal");
    assert.equal(one("{a=~`a\\s`}").matches("a\v"), false, "RE2 \\s excludes \\v");
    assert.equal(one("{a=~`a\\s`}").matches("a\t"), true);
    assert.equal(one("{a=~`\\101`}").matches("A"), true, "octal escape");
    assert.equal(one("{a=~`a\\z`}").matches("a"), true);
  });

  test("regex special characters are not literal characters", () => {
    assert.equal(one(`{a=~"a.c"}`).matches("abc"), true);
    assert.equal(one(`{a=~"a\\\\.c"}`).matches("abc"), false);
    assert.equal(one(`{a=~"a\\\\.c"}`).matches("a.c"), true);
  });

  test("bad regexes fail with the column of the value", () => {
    assertSelectorError(
      () => parseSelector(`{a=~"("}`),
      /^parse error at column 5: invalid regex "\(": .*\)/,
    );
    assertSelectorError(
      () => parseSelector(`{abc=~"a**"}`),
      /^parse error at column 7: invalid regex "a\*\*"/,
    );
    assertSelectorError(
      () => parseSelector(`{a!~"[a"}`),
      /column 5: invalid regex "\[a": missing closing \]/,
    );
    assertSelectorError(() => parseSelector("{a=~`(?=x)`}"), /lookahead and lookbehind are not supported/);
    assertSelectorError(() => parseSelector("{a=~`(?<!x)`}"), /lookahead and lookbehind are not supported/);
    assertSelectorError(() => parseSelector("{a=~`(a)\\1`}"), /backreference \\1 is not supported/);
    assertSelectorError(() => parseSelector("{a=~`(?U)a*`}"), /flag U \(ungreedy\) is not supported/);
    assertSelectorError(() => parseSelector("{a=~`\\C`}"), /\\C \(any byte\) is not supported/);
    assertSelectorError(() => parseSelector("{a=~`[[:^alpha:]]`}"), /negated POSIX class/);
    assertSelectorError(() => parseSelector("{a=~`[[:bogus:]]`}"), /invalid POSIX class/);
    assertSelectorError(() => parseSelector("{a=~`a{1001}`}"), /repeat count \{1001\} exceeds 1000/);
    assertSelectorError(() => parseSelector("{a=~`\\k<x>`}"), /invalid escape \\k/);
    assertSelectorError(() => parseSelector("{a=~`x)`}"), /unexpected \)/);
    assertSelectorError(() => parseSelector("{a=~`\\`}"), /trailing backslash/);
  });

  test("newMatcher compiles once and rejects bad regexes", () => {
    const m = newMatcher("__profile_type__", "=", "process_cpu:cpu:nanoseconds:cpu:nanoseconds");
    assert.equal(m.matches("process_cpu:cpu:nanoseconds:cpu:nanoseconds"), true);
    assert.throws(() => newMatcher("a", "=~", "("), KilnError);
  });
});

describe("parseSelector: syntax", () => {
  test("{} and blank input mean no matchers", () => {
    assert.deepEqual(parseSelector("{}"), []);
    assert.deepEqual(parseSelector("  {  }  "), []);
    assert.deepEqual(parseSelector(""), []);
    assert.deepEqual(parseSelector(" \n"), []);
  });

  test("whitespace and a trailing comma", () => {
    const ms = parseSelector(` {\n  a = "b" ,\tc!~ 'd' , \n} `);
    assert.deepEqual(triples(ms), [
      ["a", "=", "b"],
      ["c", "!~", "d"],
    ]);
    assert.deepEqual(triples(parseSelector(`{a="b",}`)), [["a", "=", "b"]]);
  });

  test("quoted UTF-8 label names", () => {
    assert.deepEqual(triples(parseSelector(`{"service.name"="x", 'k8s.pod-name'!="y"}`)), [
      ["service.name", "=", "x"],
      ["k8s.pod-name", "!=", "y"],
    ]);
    assert.deepEqual(triples(parseSelector(`{"サービス"=~"名前.*"}`)), [["サービス", "=~", "名前.*"]]);
    assert.equal(one(`{"サービス"=~"名前.*"}`).matches("名前です"), true);
  });

  test("a bare quoted string is the metric name", () => {
    assert.deepEqual(triples(parseSelector(`{"process_cpu", a="b"}`)), [
      ["__name__", "=", "process_cpu"],
      ["a", "=", "b"],
    ]);
    assertSelectorError(() => parseSelector(`{"x", "y"}`), /column 7: metric name set twice: "x" and "y"/);
  });

  test("double-quoted escapes", () => {
    const m = one(String.raw`{a="q\"b\\s\a\b\f\n\r\t\v"}`);
    assert.equal(m.value, 'q"b\\s\x07\b\f\n\r\t\v');
    assert.equal(one(String.raw`{a="\x41\101\u00e9\U0001F600"}`).value, "AAé😀");
    assert.equal(one(String.raw`{a="\xc3\xa9"}`).value, "é", "\\x escapes are UTF-8 bytes");
    assert.equal(one(String.raw`{a="x\xc3\xa9y\u00e9"}`).value, "xéyé");
    assert.equal(one(`{a="日本"}`).value, "日本");
  });

  test("single-quoted escapes", () => {
    assert.equal(one(String.raw`{a='it\'s "ok"'}`).value, `it's "ok"`);
    assert.equal(one(String.raw`{a='\n\x41'}`).value, "\nA");
  });

  test("backtick strings are raw", () => {
    assert.equal(one("{a=`\\d+\\n`}").value, "\\d+\\n");
    assert.equal(one("{a=`line1\nline2`}").value, "line1\nline2");
    assert.equal(one("{a=`x\r\ny`}").value, "x\ny", "carriage returns are dropped, as in Go");
  });

  test("escape errors", () => {
    assertSelectorError(
      () => parseSelector(String.raw`{a="\q"}`),
      /^parse error at column 5: unknown escape sequence "\\\\q"$/,
    );
    assertSelectorError(() => parseSelector(String.raw`{a="\'"}`), /column 5: unknown escape sequence/);
    assertSelectorError(() => parseSelector(String.raw`{a='\"'}`), /column 5: unknown escape sequence/);
    assertSelectorError(
      () => parseSelector(String.raw`{a="\x4"}`),
      /column 5: escape sequence "\\\\x" needs 2 hex digits/,
    );
    assertSelectorError(() => parseSelector(String.raw`{a="\1"}`), /needs 3 octal digits/);
    assertSelectorError(() => parseSelector(String.raw`{a="\400"}`), /invalid Unicode code point/);
    assertSelectorError(() => parseSelector(String.raw`{a="\uD800"}`), /invalid Unicode code point/);
    assertSelectorError(() => parseSelector(String.raw`{a="\U00110000"}`), /invalid Unicode code point/);
    assertSelectorError(() => parseSelector(String.raw`{a="\xff"}`), /do not form valid UTF-8/);
  });

  test("unterminated strings point at the opening quote", () => {
    assertSelectorError(
      () => parseSelector(`{a="b}`),
      /^parse error at column 4: unterminated quoted string$/,
    );
    assertSelectorError(() => parseSelector(`{a='b}`), /column 4: unterminated quoted string/);
    assertSelectorError(() => parseSelector("{a=`b}"), /column 4: unterminated quoted string/);
    assertSelectorError(() => parseSelector(`{a="b\nc"}`), /column 4: unterminated quoted string/);
    assertSelectorError(() => parseSelector(`{a="b\\`), /column 4: unterminated quoted string/);
    assertSelectorError(() => parseSelector(`{"service`), /column 2: unterminated quoted string/);
  });

  test("missing operator", () => {
    assertSelectorError(
      () => parseSelector(`{service_name "api"}`),
      /^parse error at column 15: expected "=", "!=", "=~" or "!~" after label name "service_name"$/,
    );
    assertSelectorError(
      () => parseSelector(`{a=="b"}`),
      /column 3: expected "=", "!=", "=~" or "!~" after label name "a"/,
    );
    assertSelectorError(() => parseSelector(`{a}`), /column 3: expected .* after label name "a"/);
    assertSelectorError(() => parseSelector(`{a~"b"}`), /column 3: expected/);
    assertSelectorError(() => parseSelector(`{"a.b" "c"}`), /column 8: expected .* after label name "a.b"/);
  });

  test("other syntax errors name the column and what was expected", () => {
    assertSelectorError(() => parseSelector(`a="b"`), /^parse error at column 1: expected "\{"$/);
    assertSelectorError(() => parseSelector(`{`), /^parse error at column 2: expected label name or "\}"$/);
    assertSelectorError(
      () => parseSelector(`{a="b"`),
      /^parse error at column 7: expected "," or "\}" after matcher$/,
    );
    assertSelectorError(() => parseSelector(`{a="b" c="d"}`), /column 8: expected "," or "\}" after matcher/);
    assertSelectorError(
      () => parseSelector(`{a=b}`),
      /^parse error at column 4: expected quoted string after "="$/,
    );
    assertSelectorError(() => parseSelector(`{a=~}`), /column 5: expected quoted string after "=~"/);
    assertSelectorError(() => parseSelector(`{,}`), /column 2: expected label name or "\}"/);
    assertSelectorError(() => parseSelector(`{a="b",,}`), /column 8: expected label name/);
    assertSelectorError(() => parseSelector(`{1a="b"}`), /column 2: expected label name/);
    assertSelectorError(() => parseSelector(`{""="b"}`), /column 2: label name must not be empty/);
    assertSelectorError(() => parseSelector(`{a.b="c"}`), /column 3: expected .* after label name "a"/);
  });

  test("junk after }", () => {
    assertSelectorError(
      () => parseSelector(`{a="b"} x`),
      /^parse error at column 9: unexpected "x" after "\}"$/,
    );
    assertSelectorError(() => parseSelector(`{a="b"}}`), /column 8: unexpected "\}" after "\}"/);
    assertSelectorError(() => parseSelector(`{}[5m]`), /column 3: unexpected "\[" after "\}"/);
  });

  test("columns count characters, and lines in multi-line input", () => {
    assertSelectorError(() => parseSelector(`{"ключ"="знач" x}`), /column 16:/);
    assertSelectorError(() => parseSelector(`{"😀"="x" x}`), /column 10:/);
    assertSelectorError(
      () => parseSelector(`{\n  a="b",\n  c "d"\n}`),
      /^parse error at line 3, column 5: expected/,
    );
  });

  test("limits: input length and matcher count", () => {
    const long = `{a="${"x".repeat(MAX_SELECTOR_BYTES)}"}`;
    assertSelectorError(() => parseSelector(long), /selector too long: \d+ bytes, limit 65536/);
    // Multi-byte characters count in UTF-8 bytes.
    const wide = `{a="${"é".repeat(MAX_SELECTOR_BYTES / 2)}"}`;
    assertSelectorError(() => parseSelector(wide), /selector too long/);
    const many = `{${Array.from({ length: MAX_MATCHERS + 1 }, (_, i) => `l${i}="v"`).join(",")}}`;
    assertSelectorError(() => parseSelector(many), /too many matchers: limit 1024/);
    const ok = `{${Array.from({ length: MAX_MATCHERS }, (_, i) => `l${i}="v"`).join(",")}}`;
    assert.equal(parseSelector(ok).length, MAX_MATCHERS);
  });

  test("formatSelector round-trips", () => {
    const text = String.raw`{a="b\"c", "service.name"!="x\ny", e=~"a|b.*", f!~"\\d+", g="é\t😀"}`;
    const ms = parseSelector(text);
    const again = parseSelector(formatSelector(ms));
    assert.deepEqual(triples(again), triples(ms));
    assert.equal(formatSelector([]), "{}");
  });
});

describe("matchLabels", () => {
  const labels: Labels = [
    ["__profile_type__", "process_cpu:cpu:nanoseconds:cpu:nanoseconds"],
    ["env", "prod"],
    ["service_name", "api"],
  ];

  test("all matchers must match", () => {
    assert.equal(matchLabels(parseSelector(`{service_name="api", env=~"p.*"}`), labels), true);
    assert.equal(matchLabels(parseSelector(`{service_name="api", env!="prod"}`), labels), false);
    assert.equal(matchLabels([], labels), true);
    assert.equal(matchLabels(parseSelector(`{}`), []), true);
  });

  test('an absent label has the value ""', () => {
    assert.equal(matchLabels(parseSelector(`{region=""}`), labels), true);
    assert.equal(matchLabels(parseSelector(`{region!~"x"}`), labels), true);
    assert.equal(matchLabels(parseSelector(`{region!="x"}`), labels), true);
    assert.equal(matchLabels(parseSelector(`{region=~".*"}`), labels), true);
    assert.equal(matchLabels(parseSelector(`{region=~".+"}`), labels), false);
    assert.equal(matchLabels(parseSelector(`{region="x"}`), labels), false);
    assert.equal(matchLabels(parseSelector(`{env=""}`), labels), false);
    assert.equal(matchLabels(parseSelector(`{aaa=""}`), labels), true, "before the first label");
    assert.equal(matchLabels(parseSelector(`{zzz=""}`), labels), true, "after the last label");
  });
});

describe("parseQuery", () => {
  test("profile type ID and selector", () => {
    const q = parseQuery(`process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="api"}`);
    assert.equal(q.profileTypeId, "process_cpu:cpu:nanoseconds:cpu:nanoseconds");
    assert.deepEqual(triples(q.matchers), [["service_name", "=", "api"]]);
  });

  test("empty selector, bare ID, trailing empty components", () => {
    assert.deepEqual(parseQuery("memory:alloc_space:bytes:space:bytes{}"), {
      profileTypeId: "memory:alloc_space:bytes:space:bytes",
      matchers: [],
    });
    assert.deepEqual(parseQuery("memory:inuse_space:bytes:space:bytes"), {
      profileTypeId: "memory:inuse_space:bytes:space:bytes",
      matchers: [],
    });
    assert.equal(parseQuery("goroutines:goroutine:count::{}").profileTypeId, "goroutines:goroutine:count::");
    assert.equal(parseQuery("off_cpu:off_cpu:nanoseconds::").profileTypeId, "off_cpu:off_cpu:nanoseconds::");
    assert.equal(
      parseQuery("process_cpu:cpu:nanoseconds:cpu:nanoseconds:delta{}").profileTypeId,
      "process_cpu:cpu:nanoseconds:cpu:nanoseconds:delta",
    );
    assert.equal(
      parseQuery("  wall:wall:nanoseconds:wall:nanoseconds  {} ").profileTypeId,
      "wall:wall:nanoseconds:wall:nanoseconds",
    );
  });

  test("IDs may contain . and -", () => {
    const q = parseQuery(`my-app.cpu:cpu:nanoseconds:cpu:nanoseconds{env=~"p.*"}`);
    assert.equal(q.profileTypeId, "my-app.cpu:cpu:nanoseconds:cpu:nanoseconds");
    assert.deepEqual(triples(q.matchers), [["env", "=~", "p.*"]]);
  });

  test("several matchers are kept in order", () => {
    const q = parseQuery(
      `process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="x", env=~"p.*", pod!="a"}`,
    );
    assert.deepEqual(triples(q.matchers), [
      ["service_name", "=", "x"],
      ["env", "=~", "p.*"],
      ["pod", "!=", "a"],
    ]);
  });

  test("__name__ inside the braces is the profile type", () => {
    const q = parseQuery(`{__name__="memory:alloc_space:bytes:space:bytes", service_name="api"}`);
    assert.equal(q.profileTypeId, "memory:alloc_space:bytes:space:bytes");
    assert.deepEqual(triples(q.matchers), [["service_name", "=", "api"]]);
    const q2 = parseQuery(`{"process_cpu:cpu:nanoseconds:cpu:nanoseconds", service_name="api"}`);
    assert.equal(q2.profileTypeId, "process_cpu:cpu:nanoseconds:cpu:nanoseconds");
    assert.deepEqual(triples(q2.matchers), [["service_name", "=", "api"]]);
  });

  test("no profile type", () => {
    const q = parseQuery(`{service_name="api"}`);
    assert.equal(q.profileTypeId, undefined);
    assert.equal("profileTypeId" in q, false);
    assert.deepEqual(triples(q.matchers), [["service_name", "=", "api"]]);
  });

  test("errors", () => {
    assertSelectorError(() => parseQuery(""), /^parse error at column 1: expected profile type ID or "\{"$/);
    assertSelectorError(
      () => parseQuery(`process_cpu:cpu:nanoseconds:cpu:nanoseconds{__name__="x"}`),
      /column 45: metric name set twice/,
    );
    assertSelectorError(
      () => parseQuery(`{__name__="a", __name__="b"}`),
      /profile type set twice: "a" and "b"/,
    );
    assertSelectorError(
      () => parseQuery(`a:b:c:d:e x`),
      /^parse error at column 11: expected "\{" or end of input$/,
    );
    assertSelectorError(
      () => parseQuery(`"a:b:c:d:e"{}`),
      /^parse error at column 1: expected profile type ID or "\{"$/,
    );
    assertSelectorError(
      () => parseQuery(`process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name "api"}`),
      /column 58: expected "=", "!=", "=~" or "!~" after label name "service_name"/,
    );
    assertSelectorError(() => parseQuery(`a:b:c:d:e{x="y"} z`), /column 18: unexpected "z" after "\}"/);
  });
});

describe("generated code", () => {
  test("SelectMergeStacktracesRequest binary and JSON round trip", () => {
    const req = create(SelectMergeStacktracesRequestSchema, {
      profileTypeID: "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
      labelSelector: `{service_name="api"}`,
      start: 1_700_000_000_000n,
      end: 1_700_000_060_000n,
      maxNodes: 16384n,
      format: ProfileFormat.TREE,
      stackTraceSelector: { callSite: [{ name: "main" }, { name: "run" }], goPgo: { keepLocations: 5 } },
      profileIdSelector: ["7c9e6679-7425-40de-944b-e07fc1f90ae7"],
      async: { requestId: "r1", type: AsyncQueryType.FORCE },
      traceIdSelector: ["0af7651916cd43dd8448eb211c80319c"],
      spanSelector: ["b7ad6b7169203331"],
    });
    const bytes = toBinary(SelectMergeStacktracesRequestSchema, req);
    const back = fromBinary(SelectMergeStacktracesRequestSchema, bytes);
    assert.deepEqual(back, req);
    // Field 1 (profile_typeID), wire type 2: tag byte 0x0a.
    assert.equal(bytes[0], 0x0a);

    const json = toJson(SelectMergeStacktracesRequestSchema, req) as JsonObject;
    assert.equal(json.profileTypeID, "process_cpu:cpu:nanoseconds:cpu:nanoseconds");
    assert.equal(json.labelSelector, `{service_name="api"}`);
    assert.equal(json.maxNodes, "16384", "int64 as a string");
    assert.equal(json.start, "1700000000000");
    assert.equal(json.format, "PROFILE_FORMAT_TREE");
    assert.deepEqual(json.stackTraceSelector, {
      callSite: [{ name: "main" }, { name: "run" }],
      goPgo: { keepLocations: 5 },
    });
    assert.deepEqual(json.async, { requestId: "r1", type: "ASYNC_QUERY_TYPE_FORCE" });
    assert.deepEqual(json.spanSelector, ["b7ad6b7169203331"]);
    assert.deepEqual(json.traceIdSelector, ["0af7651916cd43dd8448eb211c80319c"]);
    assert.deepEqual(fromJson(SelectMergeStacktracesRequestSchema, json), req);
  });

  test("JSON input accepts proto names and numbers, ignores unknown fields", () => {
    const req = fromJson(
      SelectMergeStacktracesRequestSchema,
      {
        profile_typeID: "memory:alloc_space:bytes:space:bytes",
        label_selector: "{}",
        start: 1,
        end: "2",
        max_nodes: 100,
        stackTraceSelector: { subtreeRoot: [{ name: "x" }] },
      },
      { ignoreUnknownFields: true },
    );
    assert.equal(req.profileTypeID, "memory:alloc_space:bytes:space:bytes");
    assert.equal(req.labelSelector, "{}");
    assert.equal(req.maxNodes, 100n);
    assert.equal(req.end, 2n);
    assert.equal(req.format, ProfileFormat.UNSPECIFIED);
    assert.deepEqual(
      toJson(SelectMergeStacktracesRequestSchema, create(SelectMergeStacktracesRequestSchema)),
      {},
    );
  });

  test("response and other messages use the upstream JSON names", () => {
    const resp = create(SelectMergeStacktracesResponseSchema, {
      flamegraph: {
        names: ["total", "main"],
        levels: [{ values: [0n, 10n, 0n, 0n] }],
        total: 10n,
        maxSelf: 10n,
      },
    });
    assert.deepEqual(toJson(SelectMergeStacktracesResponseSchema, resp), {
      flamegraph: {
        names: ["total", "main"],
        levels: [{ values: ["0", "10", "0", "0"] }],
        total: "10",
        maxSelf: "10",
      },
    });
    const diff = create(DiffResponseSchema, { flamegraph: { leftTicks: 3n, rightTicks: 4n } });
    assert.deepEqual(toJson(DiffResponseSchema, diff), { flamegraph: { leftTicks: "3", rightTicks: "4" } });
    const series = create(SeriesResponseSchema, { labelsSet: [{ labels: [{ name: "a", value: "b" }] }] });
    const seriesBytes = toBinary(SeriesResponseSchema, series);
    assert.equal(seriesBytes[0], 0x12, "labels_set is field 2");
    assert.deepEqual(toJson(SeriesResponseSchema, series), {
      labelsSet: [{ labels: [{ name: "a", value: "b" }] }],
    });

    const ss = create(SelectSeriesRequestSchema, {
      profileTypeID: "x",
      groupBy: ["pod"],
      step: 15,
      aggregation: TimeSeriesAggregationType.AVERAGE,
      limit: 10n,
      exemplarType: ExemplarType.INDIVIDUAL,
    });
    assert.deepEqual(toJson(SelectSeriesRequestSchema, ss), {
      profileTypeID: "x",
      groupBy: ["pod"],
      step: 15,
      aggregation: "TIME_SERIES_AGGREGATION_TYPE_AVERAGE",
      limit: "10",
      exemplarType: "EXEMPLAR_TYPE_INDIVIDUAL",
    });
    // An explicitly set optional enum with the zero value is still sent.
    const sum = create(SelectSeriesRequestSchema, { aggregation: TimeSeriesAggregationType.SUM });
    assert.deepEqual(toJson(SelectSeriesRequestSchema, sum), {
      aggregation: "TIME_SERIES_AGGREGATION_TYPE_SUM",
    });

    const hm = fromJson(SelectHeatmapRequestSchema, {
      queryType: "HEATMAP_QUERY_TYPE_SPAN",
      exemplarType: "EXEMPLAR_TYPE_SPAN",
      step: 1.5,
    });
    assert.equal(hm.queryType, 2);
    assert.equal(hm.exemplarType, ExemplarType.SPAN);

    const aq = create(AnalyzeQueryRequestSchema, { start: 1n, end: 2n, query: "a:b:c:d:e{}" });
    assert.equal(toBinary(AnalyzeQueryRequestSchema, aq)[0], 0x10, "start is field 2");

    assert.deepEqual(
      toJson(SettingSchema, create(SettingSchema, { name: "n", value: "v", modifiedAt: 5n })),
      {
        name: "n",
        value: "v",
        modifiedAt: "5",
      },
    );
    assert.deepEqual(toJson(VersionResponseSchema, create(VersionResponseSchema, { QuerierAPI: 1n })), {
      QuerierAPI: "1",
    });
    assert.deepEqual(
      toJson(
        GetFeatureFlagsResponseSchema,
        create(GetFeatureFlagsResponseSchema, {
          featureFlags: [{ name: "x", enabled: true, documentationUrl: "https://example.com" }],
        }),
      ),
      { featureFlags: [{ name: "x", enabled: true, documentationUrl: "https://example.com" }] },
    );
  });

  test("services have the upstream names and methods", () => {
    assert.equal(QuerierService.typeName, "querier.v1.QuerierService");
    assert.deepEqual(
      QuerierService.methods.map((m) => m.name),
      [
        "ProfileTypes",
        "LabelValues",
        "LabelNames",
        "Series",
        "SelectMergeStacktraces",
        "SelectMergeSpanProfile",
        "SelectMergeProfile",
        "SelectSeries",
        "SelectHeatmap",
        "Diff",
        "GetProfileStats",
        "AnalyzeQuery",
      ],
    );
    const smp = QuerierService.methods.find((m) => m.name === "SelectMergeProfile")!;
    assert.equal(smp.output.typeName, "google.v1.Profile");
    assert.equal(SettingsService.typeName, "settings.v1.SettingsService");
    assert.deepEqual(
      SettingsService.methods.map((m) => m.name),
      ["Get", "Set", "Delete"],
    );
    assert.equal(Version.typeName, "version.v1.Version");
    assert.equal(Version.methods[0]!.name, "Version");
    assert.equal(FeatureFlagsService.typeName, "capabilities.v1.FeatureFlagsService");
    assert.equal(FeatureFlagsService.methods[0]!.name, "GetFeatureFlags");
  });
});
