import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseTime, parseTimeNanos } from "./time.ts";

const nowMs = Date.UTC(2026, 7, 1, 12, 0, 0);
const nowNanos = BigInt(nowMs) * 1_000_000n;

describe("parseTime", () => {
  it("reads digit strings by length: s, ms, µs, ns", () => {
    assert.equal(parseTime("1700000000", nowMs), 1_700_000_000_000);
    assert.equal(parseTime("1700000000123", nowMs), 1_700_000_000_123);
    assert.equal(parseTime("1700000000123456", nowMs), 1_700_000_000_123);
    assert.equal(parseTime("1700000000123456789", nowMs), 1_700_000_000_123);
    // Any other length is seconds, even when it looks like ms with a digit missing.
    assert.equal(parseTime("170000000012", nowMs), 170_000_000_012_000);
    assert.equal(parseTime("0", nowMs), 0);
  });

  it("keeps nanosecond precision in parseTimeNanos", () => {
    assert.equal(parseTimeNanos("1700000000123456789", nowMs), 1_700_000_000_123_456_789n);
    assert.equal(parseTimeNanos("1700000000123456", nowMs), 1_700_000_000_123_456_000n);
    assert.equal(parseTimeNanos("1700000000", nowMs), 1_700_000_000_000_000_000n);
  });

  it("saturates out-of-range digit strings like Go's Atoi", () => {
    assert.equal(parseTimeNanos("9999999999999999999", nowMs), 9_223_372_036_854_775_807n);
    assert.equal(parseTimeNanos("9".repeat(40), nowMs), 9_223_372_036_854_775_807n * 1_000_000_000n);
  });

  it("reads a valid YYYYMMDD as UTC midnight, an invalid one as seconds", () => {
    assert.equal(parseTime("20240229", nowMs), Date.UTC(2024, 1, 29));
    assert.equal(parseTime("20230229", nowMs), 20_230_229_000);
    assert.equal(parseTime("20231301", nowMs), 20_231_301_000);
    assert.equal(parseTime("18991231", nowMs), 18_991_231_000);
  });

  it("handles now and relative offsets with units by prefix", () => {
    assert.equal(parseTime("now", nowMs), nowMs);
    assert.equal(parseTime("now-1h", nowMs), nowMs - 3_600_000);
    assert.equal(parseTime("now+30s", nowMs), nowMs + 30_000);
    assert.equal(parseTime("now-5min", nowMs), nowMs - 300_000);
    assert.equal(parseTime("now-5m", nowMs), nowMs - 300_000);
    assert.equal(parseTime("now-2mon", nowMs), nowMs - 2 * 30 * 86_400_000);
    assert.equal(parseTime("now-2M", nowMs), nowMs - 2 * 30 * 86_400_000);
    assert.equal(parseTime("now-1d", nowMs), nowMs - 86_400_000);
    assert.equal(parseTime("now-1w", nowMs), nowMs - 7 * 86_400_000);
    assert.equal(parseTime("now-1y", nowMs), nowMs - 365 * 86_400_000);
    // `ms` starts with `m`: minutes, as upstream reads it.
    assert.equal(parseTime("now-1ms", nowMs), nowMs - 60_000);
  });

  it("chains offset terms and strips spaces, _ and ,", () => {
    assert.equal(parseTime("now-1h30m", nowMs), nowMs - 5_400_000);
    assert.equal(parseTime(" now - 1_h, 30 m ", nowMs), nowMs - 5_400_000);
  });

  it("takes the text before the sign as now, and + before -", () => {
    assert.equal(parseTime("yesterday-1h", nowMs), nowMs - 3_600_000);
    assert.equal(parseTime("now-1h+2m", nowMs), nowMs + 120_000);
  });

  it("falls back to now (or an offset of 0) for unparsable input", () => {
    assert.equal(parseTime("", nowMs), nowMs);
    assert.equal(parseTime("garbage", nowMs), nowMs);
    assert.equal(parseTime("now-1parsec", nowMs), nowMs);
    assert.equal(parseTimeNanos("-5", nowMs), nowNanos);
  });

  it("bounds the number of offset terms", () => {
    assert.equal(parseTime(`now-${"1s".repeat(10_000)}`, nowMs), nowMs - 64_000);
  });
});
