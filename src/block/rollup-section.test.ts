import assert from "node:assert/strict";
import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FsObjectStore } from "../objstore/fs-store.ts";
import { mulberry32, randomInt } from "../testing/prng.ts";
import { openBlock, readIndex, readProfiles, readRollup, readSymbols } from "./block-reader.ts";
import { assembleBlock } from "./block-writer.ts";
import { DatasetBuilder, type EncodedDataset } from "./dataset-builder.ts";
import { AssertionError, BlockFormatError, SectionKind } from "./format.ts";
import { decodeProfiles, encodeProfiles, type ProfileRow, type ProfilesSection } from "./profiles-section.ts";
import {
  addRollups,
  bucketEndMs,
  buildRollup,
  checkBucketMs,
  checkRollupBuckets,
  decodeRollup,
  encodeRollup,
  ROLLUP_BUCKET_MS_MAX,
  ROLLUP_BUCKET_MS_MIN,
  ROLLUP_KINDS,
  ROLLUP_PROFILES_PER_ROW_MIN,
  type RollupRows,
  type RollupSection,
} from "./rollup-section.ts";
import { buildPprof, normalize, webServerLocations } from "./test-fixtures.ts";

const MS = 1_000_000n;
const MINUTE = 60_000;
const HOUR = 3_600_000;

let idCounter = 0;
function profileId(): Uint8Array {
  const id = new Uint8Array(16);
  id[15] = ++idCounter & 0xff;
  id[14] = (idCounter >> 8) & 0xff;
  id[0] = 0xab;
  return id;
}

/** A profile row with samples given as [node, value] pairs (sorted here). */
function row(
  seriesIndex: number,
  timeNanos: bigint,
  samples: [node: number, value: number][],
  options: { durationNanos?: bigint; total?: bigint; spans?: boolean; traces?: boolean } = {},
): ProfileRow {
  const sorted = [...samples].sort((a, b) => a[0] - b[0]);
  const total = options.total ?? BigInt(sorted.reduce((sum, [, value]) => sum + value, 0));
  return {
    seriesIndex,
    timeNanos,
    durationNanos: options.durationNanos ?? 10_000_000_000n,
    profileId: profileId(),
    total,
    nodes: Uint32Array.from(sorted, ([node]) => node),
    values: Float64Array.from(sorted, ([, value]) => value),
    spanIds: options.spans ? BigUint64Array.from(sorted, (_, i) => BigInt(i + 1)) : undefined,
    traceIds: options.traces ? new Uint8Array(16 * sorted.length).fill(7) : undefined,
  };
}

/** A decoded profiles section holding `rows` (sorted by (series, time) here, as a section is). */
function section(rows: ProfileRow[]): ProfilesSection {
  const sorted = [...rows].sort(
    (a, b) =>
      a.seriesIndex - b.seriesIndex || (a.timeNanos < b.timeNanos ? -1 : a.timeNanos > b.timeNanos ? 1 : 0),
  );
  return decodeProfiles(encodeProfiles(sorted), "test profiles");
}

function samplesOf(rollupRow: ProfileRow): [number, number][] {
  return [...rollupRow.nodes].map((node, i) => [node, rollupRow.values[i]!]);
}

function decodedSamples(rows: ProfilesSection, i: number): [number, number][] {
  const out: [number, number][] = [];
  for (let s = rows.sampleOffsets[i]!; s < rows.sampleOffsets[i + 1]!; s++) {
    out.push([rows.sampleNodes[s]!, rows.sampleValues[s]!]);
  }
  return out;
}

function mustBuild(profiles: ProfilesSection, bucketMs: number): RollupRows {
  const rollup = buildRollup(profiles, bucketMs);
  assert.ok(rollup, `rollup at ${bucketMs} ms is exact`);
  return rollup;
}

function assertCorrupt(fn: () => unknown, pattern?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof BlockFormatError, `want BlockFormatError, got ${String(error)}`);
    if (pattern !== undefined) assert.match(error.message, pattern);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// A hand-crafted payload: `bucketMs`, `rowCount`, counts, then a profiles section body.

function uvarintBytes(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

function craft(bucketMs: number, counts: number[], body: Uint8Array, rowCount = counts.length): Uint8Array {
  const head = [...uvarintBytes(bucketMs), ...uvarintBytes(rowCount), ...counts.flatMap(uvarintBytes)];
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

/** Rollup-shaped rows (times in ms, no ids), with enough samples each to make counts checkable. */
function rollupRows(times: number[]): ProfileRow[] {
  return times
    .map((t, i) =>
      row(
        0,
        BigInt(t) * MS,
        Array.from({ length: 12 }, (_, s): [number, number] => [s * 3 + i, 1000 + s]),
      ),
    )
    .map((r) => ({ ...r, profileId: new Uint8Array(16) }));
}

// ---------------------------------------------------------------------------------------------

describe("checkBucketMs and bucketEndMs", () => {
  it("accepts whole ms from one second to one week", () => {
    assert.equal(ROLLUP_BUCKET_MS_MIN, 1000);
    assert.equal(ROLLUP_BUCKET_MS_MAX, 7 * 24 * HOUR);
    for (const ok of [1000, 1001, MINUTE, HOUR, 7 * 24 * HOUR]) checkBucketMs(ok);
    for (const bad of [0, -1000, 999, 1000.5, 7 * 24 * HOUR + 1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => checkBucketMs(bad), RangeError, String(bad));
    }
  });

  it("gives the right edge of the right-closed bucket", () => {
    assert.equal(bucketEndMs(MINUTE, MINUTE), MINUTE);
    assert.equal(bucketEndMs(MINUTE + 1, MINUTE), 2 * MINUTE);
    assert.equal(bucketEndMs(1, MINUTE), MINUTE);
    assert.equal(bucketEndMs(2 * MINUTE - 1, MINUTE), 2 * MINUTE);
    assert.equal(bucketEndMs(-MINUTE, MINUTE), -MINUTE);
    assert.equal(bucketEndMs(-MINUTE - 1, MINUTE), -MINUTE);
    assert.equal(bucketEndMs(-2 * MINUTE + 1, MINUTE), -MINUTE);
    assert.equal(bucketEndMs(-2 * MINUTE, MINUTE), -2 * MINUTE);
    assert.ok(bucketEndMs(0, MINUTE) === 0 && bucketEndMs(-1, MINUTE) === 0);
  });
});

describe("buildRollup", () => {
  it("is right-closed: a profile at a bucket end E ms belongs to E, one at E + 1 ms to E + w", () => {
    const E = 1_700_000_040_000; // a multiple of 60 s
    assert.equal(E % MINUTE, 0);
    const profiles = section([
      row(0, BigInt(E - MINUTE) * MS, [[1, 1]]), // end of the previous bucket
      row(0, BigInt(E - MINUTE + 1) * MS, [[1, 10]]), // first ms of bucket E
      row(0, BigInt(E) * MS, [[1, 100]]), // exactly E
      row(0, BigInt(E) * MS + 999_999n, [[1, 1000]]), // still ms E
      row(0, BigInt(E + 1) * MS, [[1, 10_000]]), // E + 1 ms: the next bucket
      row(0, BigInt(E + MINUTE) * MS, [[1, 100_000]]), // end of the next bucket
    ]);
    const rollup = mustBuild(profiles, MINUTE);
    assert.equal(rollup.bucketMs, MINUTE);
    assert.deepEqual(
      rollup.rows.map((r) => r.timeNanos),
      [BigInt(E - MINUTE) * MS, BigInt(E) * MS, BigInt(E + MINUTE) * MS],
    );
    assert.deepEqual(
      rollup.rows.map((r) => [...r.values]),
      [[1], [1110], [110_000]],
    );
    assert.deepEqual(rollup.profileCounts, [1, 3, 2]);
  });

  it("row times are bucket ends in ns, for every width", () => {
    const profiles = section([row(0, 1_700_000_123_456_789_012n, [[2, 5]])]);
    for (const w of [1000, 5000, MINUTE, HOUR, 24 * HOUR, 7 * 24 * HOUR]) {
      const rollup = mustBuild(profiles, w);
      assert.equal(rollup.rows.length, 1);
      const t = rollup.rows[0]!.timeNanos;
      assert.equal(t % (BigInt(w) * MS), 0n);
      assert.equal(Number(t / MS), bucketEndMs(1_700_000_123_456, w));
      assert.ok(
        t >= 1_700_000_123_456_789_012n - 999_999n && t - BigInt(w) * MS < 1_700_000_123_456_000_000n,
      );
    }
  });

  it("sums per (series, bucket): samples per node sorted, totals, durations, counts; ids dropped", () => {
    const b1 = 1_700_000_040_000;
    const b2 = b1 + MINUTE;
    const profiles = section([
      row(
        0,
        BigInt(b1 - 5000) * MS,
        [
          [9, 4],
          [3, 1],
        ],
        { durationNanos: 1n, total: 5n, spans: true, traces: true },
      ),
      row(
        0,
        BigInt(b1 - 100) * MS,
        [
          [3, 2],
          [7, 8],
        ],
        { durationNanos: 2n, total: 10n, spans: true },
      ),
      row(0, BigInt(b1) * MS, [[1, 16]], { durationNanos: 4n, total: 16n, traces: true }),
      row(0, BigInt(b2) * MS, [[3, 32]], { durationNanos: 8n, total: 32n }),
      row(
        2,
        BigInt(b1 - 1) * MS,
        [
          [3, 64],
          [5, -3],
        ],
        { durationNanos: 16n, total: 61n },
      ),
      row(2, BigInt(b1) * MS, [[5, 128]], { durationNanos: 32n, total: 128n }),
    ]);
    assert.ok(profiles.sampleSpanIds !== undefined && profiles.sampleTraceIds !== undefined);
    const rollup = mustBuild(profiles, MINUTE);
    assert.equal(rollup.rows.length, 3);
    assert.deepEqual(rollup.profileCounts, [3, 1, 2]);
    const [a, b, c] = rollup.rows as [ProfileRow, ProfileRow, ProfileRow];
    assert.deepEqual([a.seriesIndex, b.seriesIndex, c.seriesIndex], [0, 0, 2]);
    assert.deepEqual(
      [a.timeNanos, b.timeNanos, c.timeNanos],
      [BigInt(b1) * MS, BigInt(b2) * MS, BigInt(b1) * MS],
    );
    assert.deepEqual(samplesOf(a), [
      [1, 16],
      [3, 3],
      [7, 8],
      [9, 4],
    ]);
    assert.deepEqual(samplesOf(b), [[3, 32]]);
    assert.deepEqual(samplesOf(c), [
      [3, 64],
      [5, 125],
    ]);
    assert.deepEqual([a.total, b.total, c.total], [31n, 32n, 189n]);
    assert.deepEqual([a.durationNanos, b.durationNanos, c.durationNanos], [7n, 8n, 48n]);
    for (const r of rollup.rows) {
      assert.equal(r.spanIds, undefined);
      assert.equal(r.traceIds, undefined);
      assert.deepEqual(r.profileId, new Uint8Array(16));
      assert.ok(r.nodes instanceof Uint32Array && r.values instanceof Float64Array);
    }
  });

  it("drops sums that cancel to 0, and a node whose running sum passes 0 appears once", () => {
    const end = 1_700_000_040_000;
    const at = (ms: number) => BigInt(end - ms) * MS;
    const profiles = section([
      row(0, at(50), [
        [4, 3],
        [6, 2],
        [8, 1],
      ]),
      row(0, at(40), [
        [4, -3],
        [6, -2],
      ]),
      row(0, at(30), [[6, 5]]),
      row(0, at(20), [
        [6, -1],
        [8, -1],
      ]),
      // A bucket where everything cancels still has a row (its profiles exist), with no samples.
      row(1, at(10), [[2, 7]]),
      row(1, at(5), [[2, -7]]),
    ]);
    const rollup = mustBuild(profiles, MINUTE);
    assert.equal(rollup.rows.length, 2);
    assert.deepEqual(samplesOf(rollup.rows[0]!), [[6, 4]]);
    assert.deepEqual(rollup.profileCounts, [4, 2]);
    assert.deepEqual(samplesOf(rollup.rows[1]!), []);
    assert.equal(rollup.rows[1]!.total, 0n);
    // The sums do not leak into the next bucket or series.
    const twice = section([
      row(0, at(50), [[4, 3]]),
      row(0, at(40), [[4, -3]]),
      row(0, BigInt(end + 1) * MS, [[4, 1]]),
      row(1, BigInt(end + 1) * MS, [[4, 1]]),
    ]);
    const again = mustBuild(twice, MINUTE);
    assert.deepEqual(
      again.rows.map((r) => samplesOf(r)),
      [[], [[4, 1]], [[4, 1]]],
    );
  });

  it("is exact up to 2^53 and returns undefined when a bucket's Σ|v| exceeds it", () => {
    const end = 1_700_000_040_000;
    const big = 2 ** 52;
    const exact = section([
      row(0, BigInt(end - 2) * MS, [[1, big]], { total: 0n }),
      row(0, BigInt(end - 1) * MS, [[1, -(big - 1)]], { total: 0n }),
    ]);
    assert.deepEqual(samplesOf(mustBuild(exact, MINUTE).rows[0]!), [[1, 1]]);
    const safeMax = section([
      row(0, BigInt(end - 2) * MS, [[1, big]], { total: 0n }),
      row(0, BigInt(end - 1) * MS, [[2, big - 1]], { total: 0n }),
    ]);
    assert.deepEqual(samplesOf(mustBuild(safeMax, MINUTE).rows[0]!), [
      [1, big],
      [2, big - 1],
    ]);
    // Σ|v| = 2^53 + 2: even though the signed sums are small, the rollup is refused.
    const tooBig = section([
      row(0, BigInt(end - 3) * MS, [[1, big]], { total: 0n }),
      row(0, BigInt(end - 2) * MS, [[1, -big]], { total: 0n }),
      row(0, BigInt(end - 1) * MS, [[2, 2]], { total: 0n }),
    ]);
    assert.equal(buildRollup(tooBig, MINUTE), undefined);
    // A single value beyond 2^53 (a double from the pprof decoder).
    const huge = section([row(0, BigInt(end) * MS, [[1, 2 ** 60]], { total: 0n })]);
    assert.equal(buildRollup(huge, MINUTE), undefined);
    // The same magnitudes in different buckets (or series) are fine: the bound is per bucket.
    const spread = section([
      row(0, BigInt(end - 1) * MS, [[1, big]], { total: 0n }),
      row(0, BigInt(end + 1) * MS, [[1, big]], { total: 0n }),
      row(1, BigInt(end + 2) * MS, [[1, big]], { total: 0n }),
    ]);
    assert.equal(mustBuild(spread, MINUTE).rows.length, 3);
    assert.equal(buildRollup(spread, HOUR), undefined);
  });

  it("handles an empty section and refuses a bad width", () => {
    const empty = section([]);
    assert.deepEqual(mustBuild(empty, MINUTE), { bucketMs: MINUTE, rows: [], profileCounts: [] });
    const one = section([row(0, 5n * MS, [[1, 1]])]);
    for (const bad of [999, 0, 1500.5, ROLLUP_BUCKET_MS_MAX + 1]) {
      assert.throws(() => buildRollup(one, bad), RangeError);
    }
  });

  it("handles profiles with no samples", () => {
    const profiles = section([row(0, 10n * MS, []), row(0, 20n * MS, [[3, 3]]), row(1, 10n * MS, [])]);
    const rollup = mustBuild(profiles, 1000);
    assert.deepEqual(
      rollup.rows.map((r) => [r.seriesIndex, Number(r.timeNanos / MS), samplesOf(r)]),
      [
        [0, 1000, [[3, 3]]],
        [1, 1000, []],
      ],
    );
    assert.deepEqual(rollup.profileCounts, [2, 1]);
  });

  // The module's contract (and `selectProfileRows`, and block-writer's `nanosToMs`) place a
  // time in the millisecond that contains it: floor(t / 1 ms). `buildRollup` truncates the
  // BigInt division instead, which differs for times before 1970 that are not whole ms.
  it("places a pre-1970 time in the bucket of floor(t / 1 ms)", () => {
    // −999.5 ms: floor = −1000 ms, so −2000 < −1000 ≤ −1000: the bucket ending at −1000 ms.
    const profiles = section([row(0, -999_500_000n, [[1, 1]])]);
    const rollup = mustBuild(profiles, 1000);
    assert.equal(rollup.rows[0]!.timeNanos, -1000n * MS);
  });
});

describe("encodeRollup and decodeRollup", () => {
  function assertSame(decoded: RollupSection, rollup: RollupRows): void {
    assert.equal(decoded.bucketMs, rollup.bucketMs);
    assert.ok(decoded.profileCounts instanceof Uint32Array);
    assert.deepEqual([...decoded.profileCounts], rollup.profileCounts);
    const rows = decoded.rows;
    assert.equal(rows.profileCount, rollup.rows.length);
    assert.equal(rows.sampleSpanIds, undefined);
    assert.equal(rows.sampleTraceIds, undefined);
    rollup.rows.forEach((r, i) => {
      assert.equal(rows.seriesIndex[i], r.seriesIndex);
      assert.equal(rows.timeNanos[i], r.timeNanos);
      assert.equal(rows.durationNanos[i], r.durationNanos);
      assert.equal(rows.totals[i], r.total);
      assert.deepEqual(rows.profileIds.subarray(16 * i, 16 * i + 16), new Uint8Array(16));
      assert.deepEqual(decodedSamples(rows, i), samplesOf(r));
    });
  }

  it("round-trips", () => {
    const random = mulberry32(7);
    const rows: ProfileRow[] = [];
    for (let i = 0; i < 300; i++) {
      const nodes = new Set<number>();
      const n = randomInt(random, 0, 6);
      while (nodes.size < n) nodes.add(randomInt(random, 0, 5000));
      rows.push(
        row(
          randomInt(random, 0, 4),
          BigInt(randomInt(random, 1_700_000_000_000, 1_700_000_000_000 + 5 * HOUR)) * MS +
            BigInt(randomInt(random, 0, 999_999)),
          [...nodes].map((node): [number, number] => [
            node,
            randomInt(random, 1, 2 ** 40) * (random() < 0.2 ? -1 : 1),
          ]),
          { durationNanos: BigInt(randomInt(random, 0, 1e12)), spans: random() < 0.3 },
        ),
      );
    }
    const profiles = section(rows);
    for (const w of [1000, MINUTE, HOUR]) {
      const rollup = mustBuild(profiles, w);
      const payload = encodeRollup(rollup);
      assertSame(decodeRollup(payload, "test"), rollup);
      // Decoding a Node Buffer view at an offset works too.
      const padded = Buffer.alloc(payload.length + 7);
      padded.set(payload, 3);
      assertSame(decodeRollup(padded.subarray(3, 3 + payload.length), "test"), rollup);
    }
  });

  it("round-trips an empty rollup and negative bucket ends", () => {
    const empty: RollupRows = { bucketMs: 5000, rows: [], profileCounts: [] };
    assertSame(decodeRollup(encodeRollup(empty), "test"), empty);
    const negative = mustBuild(
      section([row(0, -7_000n * MS, [[1, 1]]), row(0, -3_000n * MS, [[1, 2]]), row(1, 0n, [[2, 3]])]),
      5000,
    );
    assert.deepEqual(
      negative.rows.map((r) => r.timeNanos),
      [-5000n * MS, 0n, 0n],
    );
    assertSame(decodeRollup(encodeRollup(negative), "test"), negative);
  });

  it("encodeRollup refuses malformed rollups", () => {
    const good = mustBuild(section([row(0, 10n * MS, [[1, 1]])]), 1000);
    assert.throws(() => encodeRollup({ ...good, bucketMs: 999 }), RangeError);
    assert.throws(() => encodeRollup({ ...good, profileCounts: [] }), AssertionError);
    assert.throws(() => encodeRollup({ ...good, profileCounts: [0] }), AssertionError);
    assert.throws(() => encodeRollup({ ...good, profileCounts: [1.5] }), AssertionError);
    const r = good.rows[0]!;
    assert.throws(
      () => encodeRollup({ ...good, rows: [{ ...r, spanIds: BigUint64Array.of(1n) }] }),
      AssertionError,
    );
    assert.throws(
      () => encodeRollup({ ...good, rows: [{ ...r, traceIds: new Uint8Array(16) }] }),
      AssertionError,
    );
    assert.throws(() => encodeRollup({ ...good, rows: [{ ...r, timeNanos: 1500n * MS }] }), AssertionError);
    assert.throws(
      () => encodeRollup({ ...good, rows: [{ ...r, timeNanos: 1000n * MS + 1n }] }),
      AssertionError,
    );
  });

  it("decodeRollup refuses a bucket width out of range", () => {
    const body = encodeProfiles(rollupRows([7 * 24 * HOUR * 3]));
    for (const bad of [0, 1, 999, ROLLUP_BUCKET_MS_MAX + 1, 2 ** 40]) {
      assertCorrupt(() => decodeRollup(craft(bad, [1], body), "test"), /bucket/);
    }
    // A width beyond 2^53.
    const overflow = Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 1, ...body]);
    assertCorrupt(() => decodeRollup(overflow, "test"));
    // The edges themselves decode.
    decodeRollup(craft(ROLLUP_BUCKET_MS_MIN, [1], body), "test");
    decodeRollup(craft(ROLLUP_BUCKET_MS_MAX, [1], body), "test");
  });

  it("decodeRollup refuses a row time that is not a bucket end", () => {
    const body = encodeProfiles(rollupRows([MINUTE, 90_000]));
    assertCorrupt(() => decodeRollup(craft(MINUTE, [1, 1], body), "test"), /row 1: time is not a bucket end/);
    const subMs = encodeProfiles([{ ...rollupRows([MINUTE])[0]!, timeNanos: BigInt(MINUTE) * MS + 1n }]);
    assertCorrupt(() => decodeRollup(craft(MINUTE, [1], subMs), "test"), /not a bucket end/);
    // The same rows are fine at a width they are multiples of.
    decodeRollup(craft(30_000, [1, 1], body), "test");
  });

  it("decodeRollup refuses counts that do not match the rows", () => {
    const body = encodeProfiles(rollupRows([1000, 2000, 3000]));
    decodeRollup(craft(1000, [1, 2, 3], body), "test");
    assertCorrupt(() => decodeRollup(craft(1000, [1, 2], body), "test"), /2 profile counts for 3 rows/);
    assertCorrupt(() => decodeRollup(craft(1000, [1, 2, 3, 4], body), "test"));
    assertCorrupt(() => decodeRollup(craft(1000, [1, 0, 3], body), "test"), /profile count 0/);
    assertCorrupt(() => decodeRollup(craft(1000, [1, 2 ** 32, 3], body), "test"), /profile count/);
    // A row count the payload cannot hold fails before allocating.
    assertCorrupt(() => decodeRollup(craft(1000, [], body, 1e9), "test"), /count/);
    assertCorrupt(() => decodeRollup(craft(1000, [], new Uint8Array(0), 2 ** 53 + 2), "test"));
  });

  it("decodeRollup refuses span and trace id columns", () => {
    const [a] = rollupRows([1000]);
    const withSpans = encodeProfiles([{ ...a!, spanIds: BigUint64Array.from(a!.nodes, () => 1n) }]);
    assertCorrupt(() => decodeRollup(craft(1000, [1], withSpans), "test"), /span or trace/);
    const withTraces = encodeProfiles([{ ...a!, traceIds: new Uint8Array(16 * a!.nodes.length).fill(1) }]);
    assertCorrupt(() => decodeRollup(craft(1000, [1], withTraces), "test"), /span or trace/);
  });

  it("decodeRollup refuses trailing bytes and every truncation", () => {
    const rollup = mustBuild(
      section([
        row(0, 1500n * MS, [
          [1, 5],
          [9, -2],
        ]),
        row(0, 2500n * MS, [[3, 300_000]]),
        row(4, 2000n * MS, [[2, 1]]),
      ]),
      1000,
    );
    const payload = encodeRollup(rollup);
    decodeRollup(payload, "test");
    for (const extra of [[0], [1, 2, 3]]) {
      const longer = new Uint8Array(payload.length + extra.length);
      longer.set(payload);
      longer.set(extra, payload.length);
      assertCorrupt(() => decodeRollup(longer, "test"), /trailing/);
    }
    for (let length = 0; length < payload.length; length++) {
      assertCorrupt(() => decodeRollup(payload.subarray(0, length), "where-label"), /where-label/);
    }
  });

  it("decodeRollup fails only with BlockFormatError on corrupted bytes", () => {
    const random = mulberry32(99);
    const rows: ProfileRow[] = [];
    for (let i = 0; i < 20; i++) {
      rows.push(
        row(i % 3, BigInt(1_700_000_000_000 + i * 7_777) * MS, [
          [i, i + 1],
          [i + 50, -(i + 2)],
        ]),
      );
    }
    const payload = encodeRollup(mustBuild(section(rows), 5000));
    let failures = 0;
    for (let trial = 0; trial < 3000; trial++) {
      const corrupt = new Uint8Array(payload);
      const flips = randomInt(random, 1, 3);
      for (let f = 0; f < flips; f++)
        corrupt[randomInt(random, 0, corrupt.length - 1)] = randomInt(random, 0, 255);
      try {
        decodeRollup(corrupt, "fuzz");
      } catch (error) {
        assert.ok(error instanceof BlockFormatError, `trial ${trial}: ${String(error)}`);
        failures++;
      }
    }
    assert.ok(failures > 0);
  });
});

describe("checkRollupBuckets", () => {
  it("accepts up to two ascending widths, each a multiple of the one before", () => {
    checkRollupBuckets([]);
    checkRollupBuckets([MINUTE]);
    checkRollupBuckets([MINUTE, HOUR]);
    checkRollupBuckets([1000, 5000]);
    checkRollupBuckets([1000]);
    checkRollupBuckets([HOUR, 7 * 24 * HOUR]);
  });

  it("refuses three widths, non-multiples, descending or equal widths, and bad widths", () => {
    for (const bad of [
      [1000, MINUTE, HOUR],
      [MINUTE, 90_000],
      [MINUTE, 150_000],
      [HOUR, MINUTE],
      [MINUTE, MINUTE],
      [999],
      [500, 1000],
      [1000, 999],
      [0],
      [1000.5],
      [MINUTE, 8 * 24 * HOUR],
    ]) {
      assert.throws(() => checkRollupBuckets(bad), RangeError, JSON.stringify(bad));
    }
  });

  it("maps widths finest first to kinds 4 and 5", () => {
    assert.deepEqual([...ROLLUP_KINDS], [SectionKind.rollupFine, SectionKind.rollupCoarse]);
    assert.deepEqual([...ROLLUP_KINDS], [4, 5]);
  });
});

// ---------------------------------------------------------------------------------------------
// Datasets built through the real ingest types, and whole blocks.

// main → serve → handle (leaf); main → serve → parse (leaf); main → gc (leaf).
const locations = webServerLocations;

function webPprof(cpu: [number, number, number]) {
  return buildPprof({
    sampleTypes: [["cpu", "nanoseconds"]],
    locations,
    samples: [
      { stack: [2, 1, 0], values: [cpu[0]] },
      { stack: [3, 1, 0], values: [cpu[1]] },
      { stack: [4, 0], values: [cpu[2]] },
    ],
  });
}

const T0 = 1_700_000_000_000; // ms; not a multiple of an hour

function webDataset(
  service: string,
  profiles: { ms: number; cpu: [number, number, number]; region: string }[],
) {
  const builder = new DatasetBuilder("tenant-a", service);
  for (const p of profiles) {
    builder.append(
      normalize(webPprof(p.cpu), {
        service,
        timeNanos: BigInt(p.ms) * MS + 123n,
        extraLabels: [["region", p.region]],
      }),
    );
  }
  return builder.encode();
}

function sampleDataset(): EncodedDataset {
  const profiles: { ms: number; cpu: [number, number, number]; region: string }[] = [];
  // Pairs of profiles of one series in one minute (so the 1-minute rollup halves the rows),
  // 7 minutes apart.
  for (let i = 0; i < 40; i++) {
    const pair = Math.floor(i / 2);
    profiles.push({
      ms: T0 + pair * 7 * MINUTE + (i % 2) * 1000 + (pair % 5) * 1000,
      cpu: [i + 1, 2 * i + 1, i % 3],
      region: pair % 3 === 0 ? "us" : "eu",
    });
  }
  return webDataset("web", profiles);
}

/** `count` profiles of one series, `gapMs` apart from T0. */
function evenDataset(count: number, gapMs: number): EncodedDataset {
  return webDataset(
    "web",
    Array.from({ length: count }, (_, i) => ({ ms: T0 + i * gapMs, cpu: [1, 2, 3], region: "eu" })),
  );
}

describe("addRollups", () => {
  it("adds kinds 4 and 5 after the other sections", () => {
    const dataset = sampleDataset();
    const before = dataset.sections.map((s) => s.kind);
    assert.deepEqual(before, [SectionKind.symbols, SectionKind.index, SectionKind.profiles]);
    const withRollups = addRollups(dataset, [MINUTE, HOUR]);
    assert.deepEqual(
      withRollups.sections.map((s) => s.kind),
      [...before, SectionKind.rollupFine, SectionKind.rollupCoarse],
    );
    // The other sections are the same payloads; the input dataset is untouched.
    dataset.sections.forEach((s, i) => {
      assert.equal(withRollups.sections[i]!.payload, s.payload);
    });
    assert.deepEqual(
      dataset.sections.map((s) => s.kind),
      before,
    );
    const { sections: _a, ...metaBefore } = dataset;
    const { sections: _b, ...metaAfter } = withRollups;
    assert.deepEqual(metaAfter, metaBefore);
    // Each rollup is the rollup of the dataset's profiles.
    const profiles = decodeProfiles(dataset.sections[2]!.payload, "test");
    const fine = decodeRollup(withRollups.sections[3]!.payload, "test");
    const coarse = decodeRollup(withRollups.sections[4]!.payload, "test");
    assert.deepEqual(fine, decodeRollup(encodeRollup(mustBuild(profiles, MINUTE)), "test"));
    assert.deepEqual(coarse, decodeRollup(encodeRollup(mustBuild(profiles, HOUR)), "test"));
    assert.equal(fine.bucketMs, MINUTE);
    assert.equal(coarse.bucketMs, HOUR);
    const countSum = (r: RollupSection) => r.profileCounts.reduce((a, b) => a + b, 0);
    assert.equal(countSum(fine), 40);
    assert.equal(countSum(coarse), 40);
    assert.ok(coarse.rows.profileCount < fine.rows.profileCount);
  });

  it("adds one section for one width, and leaves the dataset alone for []", () => {
    const dataset = sampleDataset();
    assert.equal(addRollups(dataset, []), dataset);
    const one = addRollups(dataset, [2 * MINUTE]);
    assert.deepEqual(
      one.sections.map((s) => s.kind),
      [1, 2, 3, 4],
    );
    assert.equal(decodeRollup(one.sections[3]!.payload, "test").bucketMs, 2 * MINUTE);
    // A lone width (the finest) is kind 4 even when it is an hour.
    const hourly = addRollups(dataset, [HOUR]);
    assert.deepEqual(
      hourly.sections.map((s) => s.kind),
      [1, 2, 3, 4],
    );
  });

  it("leaves out a width whose sums are not exact, and the coarser ones", () => {
    const big = 2 ** 51;
    // Two minutes of one hour with two profiles each: each minute is exact (Σ|v| ≈ 2^52), the
    // hour is not (Σ|v| ≈ 2^53 + 8).
    const coarseInexact = webDataset("web", [
      { ms: T0 + 1000, cpu: [big, 1, 1], region: "eu" },
      { ms: T0 + 2000, cpu: [big, 1, 1], region: "eu" },
      { ms: T0 + 2 * MINUTE, cpu: [big, 1, 1], region: "eu" },
      { ms: T0 + 2 * MINUTE + 1000, cpu: [big, 1, 1], region: "eu" },
    ]);
    assert.equal(bucketEndMs(T0 + 1000, HOUR), bucketEndMs(T0 + 2 * MINUTE + 1000, HOUR));
    assert.notEqual(bucketEndMs(T0 + 1000, MINUTE), bucketEndMs(T0 + 2 * MINUTE, MINUTE));
    const fineOnly = addRollups(coarseInexact, [MINUTE, HOUR]);
    assert.deepEqual(
      fineOnly.sections.map((s) => s.kind),
      [1, 2, 3, 4],
    );
    // Two profiles in one minute: not even the fine rollup is exact, so none is written.
    const fineInexact = webDataset("web", [
      { ms: T0 + 1000, cpu: [2 * big, 1, 1], region: "eu" },
      { ms: T0 + 2000, cpu: [2 * big, 1, 1], region: "eu" },
    ]);
    const none = addRollups(fineInexact, [MINUTE, HOUR]);
    assert.deepEqual(
      none.sections.map((s) => s.kind),
      [1, 2, 3],
    );
  });

  it("leaves out a width that merges fewer than ROLLUP_PROFILES_PER_ROW_MIN profiles per row", () => {
    assert.equal(ROLLUP_PROFILES_PER_ROW_MIN, 2);
    // One profile a minute for 3 hours: no 1-minute rollup, but the hourly one.
    const sparse = addRollups(evenDataset(180, MINUTE), [MINUTE, HOUR]);
    assert.deepEqual(
      sparse.sections.map((s) => s.kind),
      [1, 2, 3, 5],
    );
    assert.equal(decodeRollup(sparse.sections[3]!.payload, "test").bucketMs, HOUR);
    // Exactly two profiles per row on average is enough; a little less is not.
    const four = evenDataset(4, 30_000); // T0 is 20 s into a minute: 2 + 2 profiles in 2 minutes
    assert.deepEqual(mustBuild(decodeProfiles(four.sections[2]!.payload, "x"), MINUTE).profileCounts, [2, 2]);
    assert.deepEqual(
      addRollups(four, [MINUTE]).sections.map((s) => s.kind),
      [1, 2, 3, 4],
    );
    const three = evenDataset(3, 30_000); // 2 + 1 profiles in 2 minutes
    assert.deepEqual(
      addRollups(three, [MINUTE]).sections.map((s) => s.kind),
      [1, 2, 3],
    );
    // A single profile never gets a rollup.
    assert.deepEqual(
      addRollups(evenDataset(1, MINUTE), [MINUTE, HOUR]).sections.map((s) => s.kind),
      [1, 2, 3],
    );
  });

  it("refuses bad widths, a dataset with rollups, and one without profiles", () => {
    const dataset = sampleDataset();
    assert.throws(() => addRollups(dataset, [MINUTE, 90_000]), RangeError);
    assert.throws(() => addRollups(dataset, [1000, MINUTE, HOUR]), RangeError);
    assert.throws(() => addRollups(dataset, [500]), RangeError);
    const withRollups = addRollups(dataset, [MINUTE]);
    assert.throws(() => addRollups(withRollups, [MINUTE]), AssertionError);
    const noProfiles = {
      ...dataset,
      sections: dataset.sections.filter((s) => s.kind !== SectionKind.profiles),
    };
    assert.throws(() => addRollups(noProfiles, [MINUTE]), AssertionError);
  });

  describe("in a block", () => {
    let folder: string;
    let store: FsObjectStore;

    before(async () => {
      folder = await fsp.mkdtemp(join(tmpdir(), "kiln-rollup-"));
      store = await FsObjectStore.open(join(folder, "objects"));
    });

    after(async () => {
      await store.close();
      await fsp.rm(folder, { recursive: true, force: true });
    });

    it("reads back through readRollup, with the other sections intact", async () => {
      const web = sampleDataset();
      const api = webDataset("api", [
        { ms: T0, cpu: [1, 2, 3], region: "eu" },
        { ms: T0 + HOUR, cpu: [4, 5, 6], region: "us" },
      ]);
      const withRollups = addRollups(web, [MINUTE, HOUR]);
      // One profile a minute: only the coarse rollup (kind 5) is written.
      const sparse = addRollups({ ...evenDataset(180, MINUTE), service: "sparse" }, [MINUTE, HOUR]);
      const block = assembleBlock([withRollups, sparse, api]);
      const key = "segments/rollup-test/block.bin";
      await store.put(key, block.bytes);
      const reader = await openBlock(store, key);
      assert.deepEqual(reader.datasets, block.datasets);
      type Meta = (typeof reader.datasets)[0];
      const [apiMeta, sparseMeta, webMeta] = reader.datasets as [Meta, Meta, Meta];
      assert.equal(sparseMeta.service, "sparse");
      assert.equal(webMeta.service, "web");
      assert.deepEqual(
        webMeta.sections.map((s) => s.kind),
        [1, 2, 3, 4, 5],
      );
      assert.deepEqual(
        apiMeta.sections.map((s) => s.kind),
        [1, 2, 3],
      );
      // Sections are laid out in order: the rollups come after the profiles in the object.
      const offsets = webMeta.sections.map((s) => s.offset);
      assert.deepEqual(
        offsets,
        [...offsets].sort((a, b) => a - b),
      );

      const fine = await readRollup(store, key, webMeta, SectionKind.rollupFine);
      const coarse = await readRollup(store, key, webMeta, SectionKind.rollupCoarse);
      assert.deepEqual(fine, decodeRollup(withRollups.sections[3]!.payload, "x"));
      assert.deepEqual(coarse, decodeRollup(withRollups.sections[4]!.payload, "x"));
      assert.equal(fine.bucketMs, MINUTE);
      assert.equal(coarse.bucketMs, HOUR);

      const profiles = await readProfiles(store, key, webMeta);
      assert.equal(profiles.profileCount, 40);
      assert.deepEqual(profiles, await reader.readProfiles(webMeta));
      assert.deepEqual(fine, decodeRollup(encodeRollup(mustBuild(profiles, MINUTE)), "x"));
      const symbols = await readSymbols(store, key, webMeta);
      assert.equal(symbols.functionCount, 5);
      assert.equal(symbols.stacks.nodeCount, 6);
      // Every rollup node is a node of the dataset's stack tree.
      for (const node of [...fine.rows.sampleNodes, ...coarse.rows.sampleNodes]) {
        assert.ok(node < symbols.stacks.nodeCount);
      }
      const index = await readIndex(store, key, webMeta);
      assert.equal(index.seriesCount, 2);
      assert.ok(Math.max(...fine.rows.seriesIndex) < index.seriesCount);
      assert.deepEqual(await reader.readSymbols(webMeta), symbols);
      assert.deepEqual(await reader.readIndex(webMeta), index);
      // A dataset with only the coarse rollup.
      assert.deepEqual(
        sparseMeta.sections.map((s) => s.kind),
        [1, 2, 3, 5],
      );
      const sparseCoarse = await readRollup(store, key, sparseMeta, SectionKind.rollupCoarse);
      assert.equal(sparseCoarse.bucketMs, HOUR);
      assert.equal(
        sparseCoarse.profileCounts.reduce((a, b) => a + b, 0),
        180,
      );
      await assert.rejects(
        readRollup(store, key, sparseMeta, SectionKind.rollupFine),
        (error: unknown) => error instanceof BlockFormatError && error.reason === "block_missing_section",
      );
      // The other dataset still reads, and has no rollup.
      assert.equal((await readProfiles(store, key, apiMeta)).profileCount, 2);
      await assert.rejects(
        readRollup(store, key, apiMeta, SectionKind.rollupFine),
        (error: unknown) => error instanceof BlockFormatError && error.reason === "block_missing_section",
      );
    });
  });
});

// ---------------------------------------------------------------------------------------------
// The defining property, on random data.

interface Sums {
  nodes: Map<number, number>;
  total: bigint;
  duration: bigint;
  count: number;
}

function emptySums(): Sums {
  return { nodes: new Map(), total: 0n, duration: 0n, count: 0 };
}

function addRow(sums: Sums, rows: ProfilesSection, i: number, count: number): void {
  for (let s = rows.sampleOffsets[i]!; s < rows.sampleOffsets[i + 1]!; s++) {
    const node = rows.sampleNodes[s]!;
    const value = (sums.nodes.get(node) ?? 0) + rows.sampleValues[s]!;
    if (value === 0) sums.nodes.delete(node);
    else sums.nodes.set(node, value);
  }
  sums.total += rows.totals[i]!;
  sums.duration += rows.durationNanos[i]!;
  sums.count += count;
}

function sortedEntries(sums: Sums) {
  return {
    nodes: [...sums.nodes].sort((a, b) => a[0] - b[0]),
    total: sums.total,
    duration: sums.duration,
    count: sums.count,
  };
}

/** Floor of ns to ms (the profile's millisecond). */
function msOf(timeNanos: bigint): number {
  const ms = timeNanos / MS;
  return Number(timeNanos < 0n && ms * MS !== timeNanos ? ms - 1n : ms);
}

function randomProfiles(seed: number, count: number, seriesCount: number, startMs: number, spanMs: number) {
  const random = mulberry32(seed);
  const rows: ProfileRow[] = [];
  for (let i = 0; i < count; i++) {
    let ms = randomInt(random, startMs, startMs + spanMs);
    const r = random();
    // A share of profiles exactly on (or next to) minute and hour edges.
    if (r < 0.1) ms = Math.round(ms / MINUTE) * MINUTE;
    else if (r < 0.15) ms = Math.round(ms / HOUR) * HOUR;
    else if (r < 0.2) ms = Math.round(ms / MINUTE) * MINUTE + 1;
    else if (r < 0.25) ms = Math.round(ms / MINUTE) * MINUTE - 1;
    const subMs = random() < 0.3 ? 0n : BigInt(randomInt(random, 0, 999_999));
    const nodes = new Set<number>();
    const n = randomInt(random, 0, 8);
    while (nodes.size < n) nodes.add(randomInt(random, 0, 30));
    const samples = [...nodes].map((node): [number, number] => {
      let value = randomInt(random, 1, 20);
      if (random() < 0.3) value = -value;
      return [node, value];
    });
    rows.push(
      row(randomInt(random, 0, seriesCount - 1), BigInt(ms) * MS + subMs, samples, {
        durationNanos: BigInt(randomInt(random, 0, 60_000_000_000)),
        spans: random() < 0.2,
        traces: random() < 0.1,
      }),
    );
  }
  return section(rows);
}

describe("rollup property", () => {
  it("summing the rows of a bucket-aligned window equals summing the raw profiles in it", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const startMs = T0 + seed * 12_345;
      const spanMs = 5 * HOUR;
      const profiles = randomProfiles(seed, 200, 3, startMs, spanMs);
      assert.equal(profiles.profileCount, 200);
      const random = mulberry32(1000 + seed);
      for (const w of [1000, MINUTE, 5 * MINUTE, HOUR]) {
        const rollup = decodeRollup(encodeRollup(mustBuild(profiles, w)), "test");
        const rows = rollup.rows;
        // Structural invariants.
        assert.equal(
          rollup.profileCounts.reduce((a, b) => a + b, 0),
          200,
        );
        for (let i = 0; i < rows.profileCount; i++) {
          assert.equal(rows.timeNanos[i]! % (BigInt(w) * MS), 0n);
          if (i > 0) {
            const ordered =
              rows.seriesIndex[i - 1]! < rows.seriesIndex[i]! ||
              (rows.seriesIndex[i - 1] === rows.seriesIndex[i] &&
                rows.timeNanos[i - 1]! < rows.timeNanos[i]!);
            assert.ok(ordered, `row ${i} sorted by (series, bucket) and unique`);
          }
          for (let s = rows.sampleOffsets[i]!; s < rows.sampleOffsets[i + 1]!; s++) {
            assert.notEqual(rows.sampleValues[s], 0);
            if (s > rows.sampleOffsets[i]!) assert.ok(rows.sampleNodes[s - 1]! < rows.sampleNodes[s]!);
          }
        }
        const firstEdge = Math.floor(startMs / w) * w - 2 * w;
        const lastEdge = Math.ceil((startMs + spanMs) / w) * w + 2 * w;
        const windows: [number, number][] = [
          [firstEdge, lastEdge],
          [firstEdge, firstEdge],
        ];
        for (let k = 0; k < 60; k++) {
          const a = firstEdge + randomInt(random, 0, (lastEdge - firstEdge) / w) * w;
          const b = a + randomInt(random, 0, Math.min(20, (lastEdge - a) / w)) * w;
          windows.push([a, b]);
        }
        for (const [windowStart, windowEnd] of windows) {
          for (let series = 0; series < 3; series++) {
            const fromRollup = emptySums();
            for (let i = 0; i < rows.profileCount; i++) {
              const end = Number(rows.timeNanos[i]! / MS);
              if (rows.seriesIndex[i] === series && windowStart <= end && end <= windowEnd) {
                addRow(fromRollup, rows, i, rollup.profileCounts[i]!);
              }
            }
            const fromRaw = emptySums();
            for (let i = 0; i < profiles.profileCount; i++) {
              const ms = msOf(profiles.timeNanos[i]!);
              if (profiles.seriesIndex[i] === series && windowStart - w < ms && ms <= windowEnd) {
                addRow(fromRaw, profiles, i, 1);
              }
            }
            assert.deepEqual(
              sortedEntries(fromRollup),
              sortedEntries(fromRaw),
              `seed ${seed}, w ${w}, series ${series}, window [${windowStart}, ${windowEnd}]`,
            );
          }
        }
      }
    }
  });

  it("a coarse row is the sum of the fine rows of its bucket", () => {
    const profiles = randomProfiles(42, 200, 3, T0, 6 * HOUR);
    const fine = decodeRollup(encodeRollup(mustBuild(profiles, MINUTE)), "fine");
    const coarse = decodeRollup(encodeRollup(mustBuild(profiles, HOUR)), "coarse");
    for (let c = 0; c < coarse.rows.profileCount; c++) {
      const end = Number(coarse.rows.timeNanos[c]! / MS);
      const expected = emptySums();
      addRow(expected, coarse.rows, c, coarse.profileCounts[c]!);
      const summed = emptySums();
      for (let f = 0; f < fine.rows.profileCount; f++) {
        const fineEnd = Number(fine.rows.timeNanos[f]! / MS);
        if (
          fine.rows.seriesIndex[f] === coarse.rows.seriesIndex[c] &&
          end - HOUR < fineEnd &&
          fineEnd <= end
        ) {
          addRow(summed, fine.rows, f, fine.profileCounts[f]!);
        }
      }
      assert.deepEqual(sortedEntries(summed), sortedEntries(expected));
    }
  });
});
