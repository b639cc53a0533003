import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatPercent, formatValue } from "./units.ts";

describe("formatValue", () => {
  it("scales time units to a readable magnitude", () => {
    assert.equal(formatValue(8_730_000_000, "nanoseconds"), "8.73 s");
    assert.equal(formatValue(1_500_000, "nanoseconds"), "1.5 ms");
    assert.equal(formatValue(999, "nanoseconds"), "999 ns");
    assert.equal(formatValue(90, "seconds"), "1.5 min");
    assert.equal(formatValue(2500, "milliseconds"), "2.5 s");
    assert.equal(formatValue(12, "microseconds"), "12 µs");
    assert.equal(formatValue(0, "nanoseconds"), "0 s");
  });

  it("uses binary multiples for bytes and short suffixes for counts", () => {
    assert.equal(formatValue(512, "bytes"), "512 B");
    assert.equal(formatValue(1536, "bytes"), "1.5 KiB");
    assert.equal(formatValue(3 * 1024 ** 3, "bytes"), "3 GiB");
    assert.equal(formatValue(873, "count"), "873");
    assert.equal(formatValue(12_345, "samples"), "12.3k");
    assert.equal(formatValue(-2_000_000, "objects"), "-2M");
  });

  it("prints unknown units with thousands separators", () => {
    assert.equal(formatValue(1234567, "widgets"), "1,234,567");
  });
});

describe("formatPercent", () => {
  it("keeps about three significant digits", () => {
    assert.equal(formatPercent(0.125), "12.5%");
    assert.equal(formatPercent(1), "100%");
    assert.equal(formatPercent(0.00123), "0.12%");
    assert.equal(formatPercent(0.00001), "<0.01%");
    assert.equal(formatPercent(0), "0%");
    assert.equal(formatPercent(-0.5), "-50%");
  });
});
