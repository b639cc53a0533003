import assert from "node:assert/strict";
import { test } from "node:test";
import { KilnError } from "../model/errors.ts";
import { createLogger, formatLine } from "./log.ts";

test("one JSON object per line, level filtering, child fields", () => {
  const lines: string[] = [];
  const logger = createLogger({ level: "info", fields: { component: "api" }, write: (l) => lines.push(l) });
  logger.debug("dropped");
  logger.info("request done", { status: 200, duration_ms: 3 });
  logger.child({ tenant: "t1" }).warn("slow", { msg: "field named msg" });
  assert.equal(lines.length, 2);
  const first = JSON.parse(lines[0]!);
  assert.deepEqual(Object.keys(first), ["ts", "level", "msg", "component", "status", "duration_ms"]);
  assert.equal(first.level, "info");
  assert.match(first.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const second = JSON.parse(lines[1]!);
  assert.equal(second.msg, "slow");
  assert.equal(second.tenant, "t1");
  assert.equal(second["field.msg"], "field named msg");
  assert.equal(logger.isEnabled("debug"), false);
});

test("errors, bigints and cycles serialize", () => {
  const err = new KilnError("invalid_argument", "too_big", "too big", { cause: new Error("inner") });
  const line = JSON.parse(formatLine(new Date(0), "error", "failed", {}, { err, n: 12n }));
  assert.equal(line.err.message, "too big");
  assert.equal(line.err.code, "invalid_argument");
  assert.equal(line.err.reason, "too_big");
  assert.equal(line.err.cause.message, "inner");
  assert.equal(line.n, "12");
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const fallback = JSON.parse(formatLine(new Date(0), "info", "x", {}, { cyclic }));
  assert.equal(fallback.msg, "x");
  assert.match(fallback.log_error, /not serializable/);
});
