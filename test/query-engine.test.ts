/**
 * Unit checks of the query side's small pieces: time defaults, the section cache's byte
 * bound and LRU order, the render timeline step and bucketing, settings persistence.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { autoStepSeconds, timelineOf } from "../src/api/render.ts";
import { SettingsStore } from "../src/api/settings-service.ts";
import { KilnError } from "../src/model/errors.ts";
import { DEFAULT_RANGE_MS, resolveRange } from "../src/query/engine.ts";
import { SectionCache } from "../src/query/section-cache.ts";

describe("resolveRange", () => {
  it("defaults zero start/end to the last hour and keeps explicit ranges", () => {
    assert.deepEqual(resolveRange(0, 0, 10_000_000), {
      startMs: 10_000_000 - DEFAULT_RANGE_MS,
      endMs: 10_000_000,
    });
    assert.deepEqual(resolveRange(5, 0, 10_000_000), { startMs: 5, endMs: 10_000_000 });
    assert.deepEqual(resolveRange(0, 7_200_000, 1), { startMs: 3_600_000, endMs: 7_200_000 });
    assert.deepEqual(resolveRange(1, 2, 3), { startMs: 1, endMs: 2 });
    assert.deepEqual(
      resolveRange(1, 2 ** 62, 3),
      { startMs: 1, endMs: 8.64e15 },
      "clamped to the Date range",
    );
    assert.throws(
      () => resolveRange(10, 5, 0),
      (err: unknown) => err instanceof KilnError && err.code === "invalid_argument",
    );
  });
});

describe("SectionCache", () => {
  it("shares loads, evicts least recently used beyond the byte budget, forgets failures", async () => {
    const cache = new SectionCache(100);
    let loads = 0;
    const load = (value: string) => async () => {
      loads++;
      return value;
    };
    const size = () => 40;
    const [a1, a2] = await Promise.all([cache.get("a", load("A"), size), cache.get("a", load("A"), size)]);
    assert.equal(a1, "A");
    assert.equal(a2, "A");
    assert.equal(loads, 1, "concurrent gets share one load");
    await cache.get("b", load("B"), size);
    await cache.get("a", load("A"), size); // a is now most recent
    await cache.get("c", load("C"), size); // 120 bytes > 100: b goes
    await new Promise((r) => setImmediate(r));
    assert.equal(cache.bytes, 80);
    const before = loads;
    await cache.get("a", load("A"), size);
    assert.equal(loads, before, "a still cached");
    await cache.get("b", load("B"), size);
    assert.equal(loads, before + 1, "b was evicted");
    await assert.rejects(cache.get("x", () => Promise.reject(new Error("boom")), size));
    await new Promise((r) => setImmediate(r));
    assert.equal(await cache.get("x", load("X"), size), "X", "a failed load is retried");
    const big = new SectionCache(10);
    assert.equal(await big.get("huge", load("H"), () => 11), "H");
    await new Promise((r) => setImmediate(r));
    assert.equal(big.size, 0, "an entry over the whole budget is not kept");
  });
});

describe("render timeline", () => {
  it("auto step: range / 1500, at least 15 s, rounded", () => {
    assert.equal(autoStepSeconds(0, 60 * 60 * 1000), 15);
    assert.equal(autoStepSeconds(0, 24 * 3600 * 1000), 60);
    assert.equal(autoStepSeconds(0, 7 * 24 * 3600 * 1000), 300);
    assert.equal(autoStepSeconds(0, 30 * 24 * 3600 * 1000), 1800);
  });

  it("buckets points by step from the snapped start, gaps filled with 0, up to the step holding until", () => {
    const t = timelineOf(
      [
        { timestamp: 1_000_020_000, value: 3 },
        { timestamp: 1_000_050_000, value: 4 },
      ],
      1_000_007_000,
      1_000_070_000,
      15,
    );
    assert.equal(t.startTime, 1_000_005);
    assert.equal(t.durationDelta, 15);
    // Points carry their bucket's right edge: 1_000_020 s is the step starting at 1_000_005.
    // The last step (1_000_065–1_000_080) holds `until` and is shown although still partial.
    assert.deepEqual(t.samples, [3, 0, 4, 0, 0]);
  });
});

describe("SettingsStore", () => {
  it("persists per tenant across instances, refuses stale writes, writes no temp leftovers", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kiln-settings-"));
    try {
      const store = new SettingsStore(dir, () => 1000);
      await store.set("t1", "a", "1", 0);
      await store.set("t1", "b", "2", 2000);
      await store.set("t2", "a", "other", 0);
      await assert.rejects(store.set("t1", "b", "old", 1500), (err: unknown) => err instanceof KilnError);
      const reopened = new SettingsStore(dir);
      assert.deepEqual(await reopened.get("t1"), [
        { name: "a", value: "1", modifiedAt: 1000 },
        { name: "b", value: "2", modifiedAt: 2000 },
      ]);
      assert.deepEqual(await reopened.get("t2"), [{ name: "a", value: "other", modifiedAt: 1000 }]);
      await reopened.delete("t1", "a");
      assert.deepEqual(
        (await new SettingsStore(dir).get("t1")).map((s) => s.name),
        ["b"],
      );
      assert.deepEqual(readdirSync(join(dir, "settings")).sort(), ["t1.json", "t2.json"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
