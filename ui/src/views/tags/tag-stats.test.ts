import assert from "node:assert/strict";
import { test } from "node:test";
import { tagRows } from "./tag-stats.ts";

test("totals, averages and shares per value, largest first", () => {
  const rows = tagRows(
    [
      {
        labels: [{ name: "pod", value: "a" }],
        points: [
          { timestampMs: 0, value: 10 },
          { timestampMs: 15_000, value: 20 },
        ],
      },
      { labels: [{ name: "pod", value: "b" }], points: [{ timestampMs: 0, value: 90 }] },
      { labels: [{ name: "other", value: "x" }], points: [] },
    ],
    "pod",
  );
  assert.deepEqual(rows, [
    { value: "b", total: 90, average: 90, share: 0.75, seriesIndex: 1 },
    { value: "a", total: 30, average: 15, share: 0.25, seriesIndex: 0 },
    { value: "", total: 0, average: 0, share: 0, seriesIndex: 2 },
  ]);
});

test("no data gives zero shares, not NaN", () => {
  const rows = tagRows(
    [{ labels: [{ name: "pod", value: "a" }], points: [{ timestampMs: 0, value: 0 }] }],
    "pod",
  );
  assert.equal(rows[0]!.share, 0);
});
