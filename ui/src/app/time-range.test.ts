import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  chooseStepSeconds,
  describeRange,
  isValidRange,
  parseTimeSpec,
  previousSpec,
  resolveRange,
} from "./time-range.ts";

const NOW_MS = 1_800_000_000_000;

describe("time specs", () => {
  test("now, now-N<unit> and epoch ms", () => {
    assert.equal(parseTimeSpec("now", NOW_MS), NOW_MS);
    assert.equal(parseTimeSpec("now-15m", NOW_MS), NOW_MS - 15 * 60_000);
    assert.equal(parseTimeSpec("now-7d", NOW_MS), NOW_MS - 7 * 86_400_000);
    assert.equal(parseTimeSpec("1700000000123", NOW_MS), 1_700_000_000_123);
    assert.equal(parseTimeSpec("yesterday", NOW_MS), undefined);
    assert.equal(parseTimeSpec("now-1y", NOW_MS), undefined);
  });

  test("invalid or reversed ranges fall back to the last hour", () => {
    assert.equal(isValidRange({ from: "now", until: "now-1h" }, NOW_MS), false);
    assert.deepEqual(resolveRange({ from: "x", until: "now" }, NOW_MS), {
      startMs: NOW_MS - 3_600_000,
      endMs: NOW_MS,
    });
  });

  test("describeRange names presets", () => {
    assert.equal(describeRange({ from: "now-6h", until: "now" }, NOW_MS), "Last 6 hours");
    assert.equal(describeRange({ from: "now-90m", until: "now" }, NOW_MS), "Last 90m");
    assert.match(describeRange({ from: "1700000000000", until: "1700003600000" }, NOW_MS), /→/);
  });
});

describe("previousSpec", () => {
  test("relative stays relative", () => {
    assert.deepEqual(previousSpec({ from: "now-1h", until: "now" }, NOW_MS), {
      from: "now-2h",
      until: "now-1h",
    });
    assert.deepEqual(previousSpec({ from: "now-90m", until: "now-30m" }, NOW_MS), {
      from: "now-150m",
      until: "now-90m",
    });
    assert.deepEqual(previousSpec({ from: "now-7d", until: "now" }, NOW_MS), {
      from: "now-2w",
      until: "now-1w",
    });
  });

  test("absolute stays absolute", () => {
    assert.deepEqual(previousSpec({ from: "1000000", until: "1600000" }, NOW_MS), {
      from: "400000",
      until: "1000000",
    });
  });
});

describe("chooseStepSeconds", () => {
  test("about 240 points, rounded up to a nice step, at least 10 s", () => {
    const range = (hours: number) => ({ startMs: 0, endMs: hours * 3_600_000 });
    assert.equal(chooseStepSeconds(range(5 / 60)), 10);
    assert.equal(chooseStepSeconds(range(1)), 15);
    assert.equal(chooseStepSeconds(range(24)), 600);
    assert.equal(chooseStepSeconds(range(24 * 30)), 10800);
    assert.equal(chooseStepSeconds(range(24 * 3650)), 86400);
  });
});
