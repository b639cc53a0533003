/**
 * Rollup sections: pre-merged profiles per series per time bucket (docs/block-format.md,
 * "Rollup sections"). A rollup row is the sum of every profile of one series whose time falls
 * in one bucket: samples summed per stack node of the same dataset's stack tree, totals and
 * durations summed, span and trace ids dropped. A flame graph over a week then sums a few
 * hundred rows per series instead of tens of thousands of profiles.
 *
 * Buckets are right-closed, like the time series steps of Pyroscope's SelectSeries: with
 * width w (ms), the bucket whose right edge is E (a multiple of w since the epoch) holds the
 * profiles whose time t satisfies E − w < floor(t / 1 ms) ≤ E, and its row's time is E. So a
 * step that is a multiple of w, with edges on multiples of w, takes whole buckets: series
 * answers from rollups equal those from raw profiles.
 *
 * A rollup is written only where it is exact: when the magnitudes (Σ|v|) of some bucket's
 * samples exceed 2^53, a sum could round, and `buildRollup` returns undefined; the dataset is
 * then queried from its raw profiles.
 */
import { nanosToMsFloor } from "../model/time.ts";
import type { EncodedDataset } from "./dataset-builder.ts";
import { ByteReader, ByteWriter } from "./encoding.ts";
import { assert, ID_BYTES, SECTION_PAYLOAD_BYTES_MAX, SectionKind } from "./format.ts";
import { decodeProfiles, encodeProfiles, type ProfileRow, type ProfilesSection } from "./profiles-section.ts";

/** Bucket widths are whole milliseconds, from one second to one week. */
export const ROLLUP_BUCKET_MS_MIN = 1000;
export const ROLLUP_BUCKET_MS_MAX = 7 * 24 * 3_600_000;

export interface RollupSection {
  bucketMs: number;
  /** Raw profiles summed into each row (≥ 1): what AVERAGE series divide by. */
  profileCounts: Uint32Array;
  /** One row per (series, bucket), sorted by (series, bucket end); times are bucket ends. */
  rows: ProfilesSection;
}

const NO_PROFILE_ID = new Uint8Array(ID_BYTES);

export function checkBucketMs(bucketMs: number): void {
  if (!(Number.isInteger(bucketMs) && bucketMs >= ROLLUP_BUCKET_MS_MIN && bucketMs <= ROLLUP_BUCKET_MS_MAX)) {
    throw new RangeError(
      `rollup bucket ${bucketMs} ms: want a whole number of ms in [${ROLLUP_BUCKET_MS_MIN}, ${ROLLUP_BUCKET_MS_MAX}]`,
    );
  }
}

/** The right edge (ms) of the bucket of width `bucketMs` holding time `timeMs`. */
export function bucketEndMs(timeMs: number, bucketMs: number): number {
  return Math.ceil(timeMs / bucketMs) * bucketMs;
}

/** A rollup as the compactor builds it, before encoding. */
export interface RollupRows {
  bucketMs: number;
  rows: ProfileRow[];
  /** Raw profiles summed into each row. */
  profileCounts: number[];
}

/**
 * The rollup of a decoded profiles section (rows sorted by (series, time), as every profiles
 * section is) at width `bucketMs`; undefined when some bucket's sums might not be exact.
 */
export function buildRollup(profiles: ProfilesSection, bucketMs: number): RollupRows | undefined {
  checkBucketMs(bucketMs);
  const { profileCount, seriesIndex, timeNanos, sampleOffsets, sampleNodes, sampleValues } = profiles;
  let maxNode = 0;
  for (const node of sampleNodes) if (node > maxNode) maxNode = node;
  // Dense sums per stack node; `touched` lists the nodes of the current bucket once each.
  const sums = new Float64Array(maxNode + 1);
  const seen = new Uint8Array(maxNode + 1);
  const touched: number[] = [];
  const rows: ProfileRow[] = [];
  const profileCounts: number[] = [];
  const bucketOf = (row: number) => bucketEndMs(nanosToMsFloor(timeNanos[row]!), bucketMs);
  let row = 0;
  while (row < profileCount) {
    const first = row;
    const series = seriesIndex[row]!;
    const end = bucketOf(row);
    let total = 0n;
    let duration = 0n;
    let magnitude = 0;
    for (; row < profileCount && seriesIndex[row] === series && bucketOf(row) === end; row++) {
      total += profiles.totals[row]!;
      duration += profiles.durationNanos[row]!;
      for (let i = sampleOffsets[row]!; i < sampleOffsets[row + 1]!; i++) {
        const node = sampleNodes[i]!;
        const value = sampleValues[i]!;
        if (seen[node] === 0) {
          seen[node] = 1;
          touched.push(node);
        }
        sums[node]! += value;
        magnitude += value < 0 ? -value : value;
      }
    }
    if (magnitude > Number.MAX_SAFE_INTEGER) return undefined;
    touched.sort((a, b) => a - b);
    const nodes: number[] = [];
    const values: number[] = [];
    for (const node of touched) {
      // Samples that cancel out are dropped, as a profiles section never holds a 0.
      if (sums[node] !== 0) {
        nodes.push(node);
        values.push(sums[node]!);
      }
      sums[node] = 0;
      seen[node] = 0;
    }
    touched.length = 0;
    rows.push({
      seriesIndex: series,
      timeNanos: BigInt(end) * 1_000_000n,
      durationNanos: duration,
      profileId: NO_PROFILE_ID,
      total,
      nodes: Uint32Array.from(nodes),
      values: Float64Array.from(values),
      spanIds: undefined,
      traceIds: undefined,
    });
    profileCounts.push(row - first);
  }
  return { bucketMs, rows, profileCounts };
}

/**
 * Payload: `bucketMs <uvarint>`, `rowCount <uvarint>`, `profileCount <uvarint> × rowCount`,
 * then the rows exactly as a profiles section payload (no span or trace columns).
 */
export function encodeRollup(rollup: RollupRows): Uint8Array {
  checkBucketMs(rollup.bucketMs);
  const n = rollup.rows.length;
  assert(rollup.profileCounts.length === n, "rollup: one profile count per row");
  for (const row of rollup.rows) {
    assert(row.spanIds === undefined && row.traceIds === undefined, "rollup rows carry no span/trace ids");
    assert(row.timeNanos % (BigInt(rollup.bucketMs) * 1_000_000n) === 0n, "rollup row time is a bucket end");
  }
  const body = encodeProfiles(rollup.rows);
  const writer = new ByteWriter(16 + 5 * n + body.length, SECTION_PAYLOAD_BYTES_MAX);
  writer.uvarint(rollup.bucketMs);
  writer.uvarint(n);
  for (const count of rollup.profileCounts) {
    assert(Number.isInteger(count) && count >= 1, "rollup: a row sums at least one profile");
    writer.uvarint(count);
  }
  writer.bytes(body);
  return writer.finish();
}

export function decodeRollup(payload: Uint8Array, where: string): RollupSection {
  const reader = new ByteReader(payload, where);
  const bucketMs = reader.uvarintSafe();
  if (!(bucketMs >= ROLLUP_BUCKET_MS_MIN && bucketMs <= ROLLUP_BUCKET_MS_MAX))
    reader.fail(`rollup bucket ${bucketMs} ms out of range`);
  // Each row takes at least one count byte and 21 bytes of profile columns.
  const rowCount = reader.count("rollup row", 22);
  const profileCounts = new Uint32Array(rowCount);
  for (let i = 0; i < rowCount; i++) {
    const count = reader.uvarintSafe();
    if (!(count >= 1 && count <= 0xffffffff)) reader.fail(`rollup row ${i}: profile count ${count}`);
    profileCounts[i] = count;
  }
  const rows = decodeProfiles(reader.bytes(reader.remaining), where);
  reader.end();
  if (rows.profileCount !== rowCount)
    reader.fail(`rollup: ${rowCount} profile counts for ${rows.profileCount} rows`);
  if (rows.sampleSpanIds !== undefined || rows.sampleTraceIds !== undefined)
    reader.fail("rollup rows carry span or trace ids");
  for (let i = 0; i < rowCount; i++) {
    if (rows.timeNanos[i]! % (BigInt(bucketMs) * 1_000_000n) !== 0n)
      reader.fail(`rollup row ${i}: time is not a bucket end`);
  }
  return { bucketMs, profileCounts, rows };
}

/** A rollup is written only when its rows sum this many profiles each on average. */
export const ROLLUP_PROFILES_PER_ROW_MIN = 2;

/** Rollup section kinds, finer first: `bucketsMs[i]` is written as kind `ROLLUP_KINDS[i]`. */
export const ROLLUP_KINDS = [SectionKind.rollupFine, SectionKind.rollupCoarse] as const;

/**
 * Checks a list of rollup widths: at most two, ascending, each a multiple of the one before
 * (so a coarse bucket is a whole number of fine buckets and a query can mix them).
 */
export function checkRollupBuckets(bucketsMs: readonly number[]): void {
  if (bucketsMs.length > ROLLUP_KINDS.length)
    throw new RangeError(`at most ${ROLLUP_KINDS.length} rollup widths, got ${bucketsMs.length}`);
  bucketsMs.forEach((bucketMs, i) => {
    checkBucketMs(bucketMs);
    const finer = bucketsMs[i - 1];
    if (finer !== undefined && !(bucketMs > finer && bucketMs % finer === 0))
      throw new RangeError(`rollup width ${bucketMs} ms must be a larger multiple of ${finer} ms`);
  });
}

/**
 * The dataset with rollup sections added after its other sections, one per width in
 * `bucketsMs` (built from its profiles section). A width whose sums would not be exact is
 * left out, and so are the coarser ones (their sums are larger still). A width that would not
 * merge at least ROLLUP_PROFILES_PER_ROW_MIN profiles per row on average is left out too: it
 * would cost about as much to store and to read as the raw profiles (agents that push once a
 * minute get no 1-minute rollup); readers take whichever widths a dataset has.
 */
export function addRollups(dataset: EncodedDataset, bucketsMs: readonly number[]): EncodedDataset {
  checkRollupBuckets(bucketsMs);
  if (bucketsMs.length === 0) return dataset;
  assert(
    dataset.sections.every((s) => !(ROLLUP_KINDS as readonly number[]).includes(s.kind)),
    "dataset already has rollups",
  );
  const profilesPayload = dataset.sections.find((s) => s.kind === SectionKind.profiles)?.payload;
  assert(profilesPayload !== undefined, "dataset without a profiles section");
  const profiles = decodeProfiles(profilesPayload, `dataset ${dataset.tenant}/${dataset.service}`);
  const sections = [...dataset.sections];
  for (let i = 0; i < bucketsMs.length; i++) {
    const rollup = buildRollup(profiles, bucketsMs[i]!);
    if (rollup === undefined) break;
    if (rollup.rows.length * ROLLUP_PROFILES_PER_ROW_MIN > profiles.profileCount) continue;
    sections.push({ kind: ROLLUP_KINDS[i]!, payload: encodeRollup(rollup) });
  }
  return { ...dataset, sections };
}
