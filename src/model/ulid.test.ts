import assert from "node:assert/strict";
import { test } from "node:test";
import { ulid, ulidTimeMs } from "./ulid.ts";

test("ulid encodes its time and sorts by creation", () => {
  const t = Date.UTC(2026, 10, 24, 12, 0, 0);
  const ids = Array.from({ length: 1000 }, () => ulid(t));
  assert.equal(ids[0]!.length, 26);
  assert.match(ids[0]!, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.equal(ulidTimeMs(ids[0]!), t);
  assert.deepEqual([...ids].sort(), ids, "same-millisecond ids are monotonic");
  assert.equal(new Set(ids).size, ids.length);
  const later = ulid(t + 1);
  assert.ok(later > ids.at(-1)!);
});

test("ulid rejects out-of-range times", () => {
  assert.throws(() => ulid(-1), RangeError);
  assert.throws(() => ulid(2 ** 48), RangeError);
});
