import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  decodeProfiles,
  encodeProfiles,
  type ProfileRow,
  type ProfilesSection,
} from "../block/profiles-section.ts";
import { buildRollup, decodeRollup, encodeRollup, type RollupSection } from "../block/rollup-section.ts";
import { mulberry32, randomInt } from "../testing/prng.ts";
import { type PlanOptions, planRollupRead, type ReadPart } from "./rollup-plan.ts";
import { selectProfileRows } from "./select.ts";

const SECOND = 1000;
const MINUTE = 60_000;
const HOUR = 3_600_000;
const ALL_MS = 8.64e15;

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

function mod(a: number, m: number): number {
  return ((a % m) + m) % m;
}

/** The right edge of the bucket of width w holding ms time t. */
function bucketEnd(t: number, w: number): number {
  return Math.ceil(t / w) * w;
}

/** The tiers a plan may use, finest first, by the rules (an independent restatement). */
function usableTiers(tiers: readonly number[], options: PlanOptions): number[] {
  const usable: number[] = [];
  for (let i = 0; i < tiers.length; i++) {
    const w = tiers[i]!;
    const finer = usable.length === 0 ? undefined : tiers[usable[usable.length - 1]!]!;
    if (finer !== undefined && w % finer !== 0) continue;
    if (options.stepMs !== undefined) {
      const align = options.alignMs ?? options.startMs;
      if (options.stepMs % w !== 0 || mod(align, w) !== 0) continue;
    }
    usable.push(i);
  }
  return usable;
}

function covers(part: ReadPart, t: number, tiers: readonly number[]): boolean {
  if (part.source === "raw") return part.fromMs <= t && t <= part.toMs;
  const end = bucketEnd(t, tiers[part.source]!);
  return part.fromMs <= end && end <= part.toMs;
}

/** A whole bucket of width w around t lies inside [start, end]. */
function bucketInside(t: number, w: number, start: number, end: number): boolean {
  const e = bucketEnd(t, w);
  return start <= e - w + 1 && e <= end;
}

function describeCase(tiers: readonly number[], options: PlanOptions, parts: ReadPart[]): string {
  return `tiers ${JSON.stringify(tiers)}, options ${JSON.stringify(options)}, parts ${JSON.stringify(parts)}`;
}

/** The times to probe: a few ms around every edge of the finest tier and the range, plus random ones. */
function probeTimes(tiers: readonly number[], start: number, end: number, random: () => number): number[] {
  const coarsest = tiers.length === 0 ? SECOND : Math.max(...tiers);
  const from = start - 2 * coarsest;
  const to = end + 2 * coarsest;
  const times = new Set<number>();
  for (const t of [start, end, from, to]) for (let d = -2; d <= 2; d++) times.add(t + d);
  for (const w of tiers) {
    const first = Math.floor(from / w) * w;
    const edgeCount = Math.floor((to - first) / w) + 1;
    // Every edge when there are not too many; otherwise the edges near the range's ends.
    for (let k = 0; k < edgeCount; k++) {
      if (edgeCount > 4000 && k > 50 && k < edgeCount - 50 && random() > 0.02) continue;
      const edge = first + k * w;
      for (let d = -2; d <= 2; d++) times.add(edge + d);
    }
  }
  for (let k = 0; k < 100; k++) times.add(randomInt(random, from, to));
  return [...times];
}

/** Checks every property of one plan (see the brief in the tests below). */
function checkPlan(tiers: readonly number[], options: PlanOptions, random: () => number): ReadPart[] {
  const parts = planRollupRead(tiers, options);
  const { startMs: start, endMs: end } = options;
  const what = describeCase(tiers, options, parts);
  if (end < start) {
    assert.deepEqual(parts, [], what);
    return parts;
  }
  const usable = usableTiers(tiers, options);
  if (options.whole && usable.length > 0) {
    assert.equal(parts.length, 1, what);
    const [part] = parts as [ReadPart];
    assert.equal(part.source, usable[usable.length - 1], what);
    assert.ok(part.fromMs <= -ALL_MS && part.toMs >= ALL_MS, what);
    return parts;
  }
  assert.ok(parts.length > 0, what);
  const perSource = new Map<ReadPart["source"], number>();
  for (const part of parts) {
    perSource.set(part.source, (perSource.get(part.source) ?? 0) + 1);
    assert.ok(Number.isInteger(part.fromMs) && Number.isInteger(part.toMs), what);
    assert.ok(part.fromMs <= part.toMs, `empty part: ${what}`);
    if (part.source === "raw") {
      assert.ok(start <= part.fromMs && part.toMs <= end, `raw part outside the range: ${what}`);
      continue;
    }
    assert.ok(usable.includes(part.source), `tier ${part.source} not usable: ${what}`);
    const w = tiers[part.source]!;
    if (options.stepMs !== undefined) {
      assert.equal(options.stepMs % w, 0, what);
      assert.equal(mod(options.alignMs ?? start, w), 0, what);
    }
    // Every bucket used lies wholly inside the range, and there is at least one.
    const firstEnd = bucketEnd(part.fromMs, w);
    const lastEnd = Math.floor(part.toMs / w) * w;
    assert.ok(firstEnd <= lastEnd, `tier part without a bucket: ${what}`);
    assert.ok(start <= firstEnd - w + 1, `bucket ${firstEnd} starts before the range: ${what}`);
    assert.ok(lastEnd <= end, `bucket ${lastEnd} ends after the range: ${what}`);
    if (options.stepMs !== undefined) {
      const step = options.stepMs;
      const align = options.alignMs ?? start;
      for (let e = firstEnd; e <= lastEnd; e += w) {
        // The step (edge − step, edge] holding the bucket's last ms holds its first ms too.
        const edge = align + Math.ceil((e - align) / step) * step;
        assert.ok(edge - step < e - w + 1 && e <= edge, `bucket ${e} straddles step edge: ${what}`);
      }
    }
  }
  for (const count of perSource.values()) assert.ok(count <= 2, `more than two parts per source: ${what}`);

  for (const t of probeTimes(tiers, start, end, random)) {
    const covering = parts.filter((part) => covers(part, t, tiers));
    const want = start <= t && t <= end ? 1 : 0;
    assert.equal(covering.length, want, `time ${t} covered ${covering.length} times: ${what}`);
    if (covering.length === 1 && usable.length > 0) {
      // The coarsest tier that can take t does: no coarser whole bucket around t was missed.
      const source = covering[0]!.source;
      const rank = source === "raw" ? -1 : usable.indexOf(source);
      for (let u = rank + 1; u < usable.length; u++) {
        const w = tiers[usable[u]!]!;
        assert.ok(!bucketInside(t, w, start, end), `time ${t}: a whole ${w} ms bucket was not used: ${what}`);
      }
    }
  }
  return parts;
}

const WIDTH_SETS: readonly (readonly number[])[] = [
  [],
  [MINUTE],
  [MINUTE, HOUR],
  [SECOND, 5 * SECOND],
  [HOUR],
];

function randomOptions(random: () => number, tiers: readonly number[], withSteps: boolean): PlanOptions {
  const widths = tiers.length === 0 ? [SECOND] : tiers;
  const coarsest = Math.max(...widths);
  const anchor = pick(random, [0, 0, 1_700_000_000_000, -50 * HOUR]);
  let start: number;
  const mode = random();
  if (mode < 0.3) start = anchor + randomInt(random, -20 * coarsest, 20 * coarsest);
  else {
    const w = pick(random, widths);
    start = anchor + randomInt(random, -20, 20) * w + pick(random, [0, 0, 1, -1, 2]);
  }
  let length: number;
  const lengthMode = random();
  if (lengthMode < 0.1) length = 0;
  else if (lengthMode < 0.25) length = randomInt(random, 0, Math.min(...widths));
  else if (lengthMode < 0.6) length = randomInt(random, 0, 12 * coarsest);
  else length = randomInt(random, 0, 12) * pick(random, widths) + pick(random, [0, 0, -1, 1, -2]);
  const end = random() < 0.03 ? start - randomInt(random, 1, 5000) : start + length;
  const options: PlanOptions = { startMs: start, endMs: end, whole: random() < 0.3 };
  if (withSteps && random() < 0.8) {
    options.stepMs = pick(random, [
      SECOND,
      2 * SECOND,
      5 * SECOND,
      15 * SECOND,
      MINUTE,
      90 * SECOND,
      2 * MINUTE,
      30 * MINUTE,
      HOUR,
      2 * HOUR,
      24 * HOUR,
    ]);
    const alignMode = random();
    if (alignMode < 0.2) {
      // No alignment: the steps' edges follow the start.
    } else if (alignMode < 0.4) options.alignMs = 0;
    else if (alignMode < 0.8)
      options.alignMs = randomInt(random, -1000, 1000) * pick(random, [SECOND, MINUTE, HOUR]);
    else options.alignMs = randomInt(random, -1e9, 1e9);
  }
  return options;
}

describe("planRollupRead, brute-forced", () => {
  for (const tiers of WIDTH_SETS) {
    it(`covers every time of the range exactly once with widths ${JSON.stringify(tiers)}`, () => {
      const random = mulberry32(1 + tiers.length * 17 + (tiers[0] ?? 0));
      let tierParts = 0;
      let rawParts = 0;
      for (let trial = 0; trial < 400; trial++) {
        const parts = checkPlan(tiers, randomOptions(random, tiers, false), random);
        for (const part of parts) {
          if (part.source === "raw") rawParts++;
          else tierParts++;
        }
      }
      // The random cases exercise both kinds of part.
      assert.ok(rawParts > 0);
      if (tiers.length > 0) assert.ok(tierParts > 0);
    });

    it(`keeps buckets inside steps with widths ${JSON.stringify(tiers)}`, () => {
      const random = mulberry32(1001 + tiers.length * 31 + (tiers[0] ?? 0));
      for (let trial = 0; trial < 400; trial++) checkPlan(tiers, randomOptions(random, tiers, true), random);
    });
  }

  it("handles tiers that do not nest", () => {
    const random = mulberry32(77);
    for (const tiers of [
      [MINUTE, 90 * SECOND],
      [SECOND, 1500, 5 * SECOND],
      [5 * SECOND, SECOND],
      [SECOND, 5 * SECOND, 7 * SECOND],
    ]) {
      for (let trial = 0; trial < 200; trial++)
        checkPlan(tiers, randomOptions(random, tiers, trial % 2 === 0), random);
    }
  });
});

function sortParts(parts: ReadPart[]): ReadPart[] {
  return [...parts].sort((a, b) => a.fromMs - b.fromMs || String(a.source).localeCompare(String(b.source)));
}

describe("planRollupRead, examples", () => {
  const tiers = [MINUTE, HOUR];

  it("takes the middle from the coarse tier, whole fine buckets beside it, raw ragged ends", () => {
    const parts = planRollupRead(tiers, { startMs: 30_000, endMs: 7_290_000, whole: false });
    assert.deepEqual(sortParts(parts), [
      { source: "raw", fromMs: 30_000, toMs: 60_000 },
      { source: 0, fromMs: 120_000, toMs: 3_600_000 },
      { source: 1, fromMs: 7_200_000, toMs: 7_200_000 },
      { source: 0, fromMs: 7_260_000, toMs: 7_260_000 },
      { source: "raw", fromMs: 7_260_001, toMs: 7_290_000 },
    ]);
  });

  it("uses only tiers for an exactly aligned range", () => {
    // [1, 2 h]: exactly the buckets ending at 1 h and 2 h.
    assert.deepEqual(planRollupRead(tiers, { startMs: 1, endMs: 2 * HOUR, whole: false }), [
      { source: 1, fromMs: HOUR, toMs: 2 * HOUR },
    ]);
    // [0, 2 h] also holds ms 0, the last ms of the bucket ending at 0.
    assert.deepEqual(sortParts(planRollupRead(tiers, { startMs: 0, endMs: 2 * HOUR, whole: false })), [
      { source: "raw", fromMs: 0, toMs: 0 },
      { source: 1, fromMs: HOUR, toMs: 2 * HOUR },
    ]);
    assert.deepEqual(planRollupRead([MINUTE], { startMs: -MINUTE + 1, endMs: 0, whole: false }), [
      { source: 0, fromMs: 0, toMs: 0 },
    ]);
    assert.deepEqual(planRollupRead([MINUTE], { startMs: -3 * MINUTE + 1, endMs: -MINUTE, whole: false }), [
      { source: 0, fromMs: -2 * MINUTE, toMs: -MINUTE },
    ]);
  });

  it("gives one raw part for a range shorter than the fine width", () => {
    for (const [start, end] of [
      [0, MINUTE - 2],
      [1, MINUTE - 1],
      [MINUTE + 5, 2 * MINUTE + 3],
      [-5, 5],
      [HOUR - 1, HOUR],
      [1_700_000_000_000, 1_700_000_000_000],
    ] as const) {
      assert.deepEqual(planRollupRead(tiers, { startMs: start, endMs: end, whole: false }), [
        { source: "raw", fromMs: start, toMs: end },
      ]);
    }
    // One full minute is enough for a bucket.
    assert.deepEqual(planRollupRead(tiers, { startMs: 1, endMs: MINUTE, whole: false }), [
      { source: 0, fromMs: MINUTE, toMs: MINUTE },
    ]);
  });

  it("gives [] when end < start, whatever the options", () => {
    assert.deepEqual(planRollupRead(tiers, { startMs: 10, endMs: 9, whole: false }), []);
    assert.deepEqual(planRollupRead(tiers, { startMs: 10, endMs: 9, whole: true }), []);
    assert.deepEqual(planRollupRead([], { startMs: 0, endMs: -HOUR, whole: false }), []);
    assert.deepEqual(planRollupRead(tiers, { startMs: HOUR, endMs: 0, whole: false, stepMs: MINUTE }), []);
  });

  it("reads raw profiles without tiers", () => {
    assert.deepEqual(planRollupRead([], { startMs: 5, endMs: 10 * HOUR, whole: false }), [
      { source: "raw", fromMs: 5, toMs: 10 * HOUR },
    ]);
    assert.deepEqual(planRollupRead([], { startMs: 5, endMs: 10 * HOUR, whole: true }), [
      { source: "raw", fromMs: 5, toMs: 10 * HOUR },
    ]);
  });

  it("reads every row of the coarsest usable tier for a whole dataset", () => {
    const all = { fromMs: -ALL_MS, toMs: ALL_MS };
    assert.deepEqual(planRollupRead(tiers, { startMs: 30, endMs: 40, whole: true }), [{ source: 1, ...all }]);
    assert.deepEqual(planRollupRead([MINUTE], { startMs: 30, endMs: 40, whole: true }), [
      { source: 0, ...all },
    ]);
    assert.deepEqual(planRollupRead(tiers, { startMs: 0, endMs: 40, whole: true, stepMs: MINUTE }), [
      { source: 0, ...all },
    ]);
    assert.deepEqual(planRollupRead([MINUTE, 90 * SECOND], { startMs: 0, endMs: HOUR, whole: true }), [
      { source: 0, ...all },
    ]);
    // No usable tier: the raw range.
    assert.deepEqual(planRollupRead(tiers, { startMs: 0, endMs: HOUR, whole: true, stepMs: 90 * SECOND }), [
      { source: "raw", fromMs: 0, toMs: HOUR },
    ]);
  });

  it("uses only tiers the steps and their alignment are multiples of", () => {
    const range = { startMs: 30_000, endMs: 7_290_000, whole: false };
    const fineOnly = [
      { source: "raw", fromMs: 30_000, toMs: 60_000 },
      { source: 0, fromMs: 120_000, toMs: 7_260_000 },
      { source: "raw", fromMs: 7_260_001, toMs: 7_290_000 },
    ];
    assert.deepEqual(sortParts(planRollupRead(tiers, { ...range, stepMs: MINUTE, alignMs: 0 })), fineOnly);
    assert.deepEqual(
      sortParts(planRollupRead(tiers, { ...range, stepMs: HOUR, alignMs: HOUR / 2 })),
      fineOnly,
    );
    assert.deepEqual(sortParts(planRollupRead(tiers, { ...range, stepMs: 2 * HOUR, alignMs: -HOUR })), [
      { source: "raw", fromMs: 30_000, toMs: 60_000 },
      { source: 0, fromMs: 120_000, toMs: 3_600_000 },
      { source: 1, fromMs: 7_200_000, toMs: 7_200_000 },
      { source: 0, fromMs: 7_260_000, toMs: 7_260_000 },
      { source: "raw", fromMs: 7_260_001, toMs: 7_290_000 },
    ]);
    // Neither width divides the step, or the alignment is off the minute: raw only.
    for (const step of [
      { stepMs: 90 * SECOND, alignMs: 0 },
      { stepMs: 2 * MINUTE, alignMs: 1000 },
      { stepMs: 30_000 },
    ]) {
      assert.deepEqual(planRollupRead(tiers, { ...range, ...step }), [
        { source: "raw", fromMs: 30_000, toMs: 7_290_000 },
      ]);
    }
  });

  it("aligns steps to the start when no alignment is given", () => {
    // Start on a minute, not on an hour: the fine tier only.
    const parts = planRollupRead(tiers, { startMs: 2 * MINUTE, endMs: 3 * HOUR, whole: false, stepMs: HOUR });
    assert.ok(parts.every((p) => p.source !== 1));
    assert.ok(parts.some((p) => p.source === 0));
    // Start on an hour: the coarse tier may be used.
    const onHour = planRollupRead(tiers, { startMs: HOUR, endMs: 3 * HOUR, whole: false, stepMs: HOUR });
    assert.ok(onHour.some((p) => p.source === 1));
    // Start off the minute: no tier at all.
    assert.deepEqual(planRollupRead(tiers, { startMs: 1, endMs: 3 * HOUR, whole: false, stepMs: HOUR }), [
      { source: "raw", fromMs: 1, toMs: 3 * HOUR },
    ]);
  });

  it("skips coarse tiers that are not multiples of the finer one", () => {
    const parts = planRollupRead([MINUTE, 90 * SECOND], { startMs: 1, endMs: 10 * MINUTE, whole: false });
    assert.deepEqual(parts, [{ source: 0, fromMs: MINUTE, toMs: 10 * MINUTE }]);
    // A skipped tier does not block a later one that nests in the last usable tier.
    const nested = planRollupRead([SECOND, 1500, 5 * SECOND], { startMs: 1, endMs: 10_000, whole: false });
    assert.deepEqual(nested, [{ source: 2, fromMs: 5000, toMs: 10_000 }]);
    // Descending widths: the second is skipped.
    assert.deepEqual(planRollupRead([5 * SECOND, SECOND], { startMs: 1, endMs: 7000, whole: false }), [
      { source: 0, fromMs: 5000, toMs: 5000 },
      { source: "raw", fromMs: 5001, toMs: 7000 },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// End to end: rows chosen by the plan from real rollups sum to the raw profiles of the range.

function randomSection(seed: number, startMs: number, spanMs: number): ProfilesSection {
  const random = mulberry32(seed);
  const rows: ProfileRow[] = [];
  for (let i = 0; i < 200; i++) {
    let ms = randomInt(random, startMs, startMs + spanMs);
    if (random() < 0.15) ms = Math.round(ms / MINUTE) * MINUTE + pick(random, [0, 0, 1, -1]);
    const nodes = new Set<number>();
    const n = randomInt(random, 1, 6);
    while (nodes.size < n) nodes.add(randomInt(random, 0, 20));
    const sorted = [...nodes].sort((a, b) => a - b);
    const values = sorted.map(() => randomInt(random, 1, 9) * (random() < 0.25 ? -1 : 1));
    rows.push({
      seriesIndex: randomInt(random, 0, 2),
      timeNanos: BigInt(ms) * 1_000_000n + BigInt(randomInt(random, 0, 999_999)),
      durationNanos: 1n,
      profileId: new Uint8Array(16),
      total: BigInt(values.reduce((a, b) => a + b, 0)),
      nodes: Uint32Array.from(sorted),
      values: Float64Array.from(values),
      spanIds: undefined,
      traceIds: undefined,
    });
  }
  rows.sort((a, b) => a.seriesIndex - b.seriesIndex || Number(a.timeNanos - b.timeNanos));
  return decodeProfiles(encodeProfiles(rows), "test");
}

function sumInto(sums: Map<number, number>, rows: ProfilesSection, selected: Uint32Array): void {
  for (const row of selected) {
    for (let s = rows.sampleOffsets[row]!; s < rows.sampleOffsets[row + 1]!; s++) {
      const node = rows.sampleNodes[s]!;
      sums.set(node, (sums.get(node) ?? 0) + rows.sampleValues[s]!);
    }
  }
}

function nonZero(sums: Map<number, number>): [number, number][] {
  return [...sums].filter(([, v]) => v !== 0).sort((a, b) => a[0] - b[0]);
}

describe("planRollupRead with real rollups", () => {
  it("the planned rows sum to the raw profiles of the range", () => {
    const T0 = 1_700_000_000_000;
    const span = 6 * HOUR;
    for (const seed of [11, 12, 13]) {
      const profiles = randomSection(seed, T0, span);
      const random = mulberry32(seed * 7);
      for (const tiers of WIDTH_SETS) {
        const rollups: RollupSection[] = tiers.map((w) => {
          const built = buildRollup(profiles, w);
          assert.ok(built);
          return decodeRollup(encodeRollup(built), "test");
        });
        const all = Uint32Array.of(0, 1, 2);
        for (let trial = 0; trial < 60; trial++) {
          const series = pick(random, [all, Uint32Array.of(1), Uint32Array.of(0, 2)]);
          let startMs = T0 + randomInt(random, -HOUR, span);
          let endMs = startMs + randomInt(random, 0, span);
          if (random() < 0.3) startMs = Math.round(startMs / MINUTE) * MINUTE + pick(random, [0, 1, -1]);
          if (random() < 0.3) endMs = Math.round(endMs / MINUTE) * MINUTE + pick(random, [0, 1, -1]);
          if (endMs < startMs) endMs = startMs;
          let whole = false;
          if (random() < 0.2) {
            // A range covering the whole dataset.
            startMs = T0 - randomInt(random, 0, HOUR);
            endMs = T0 + span + randomInt(random, 0, HOUR);
            whole = true;
          }
          const stepped = random() < 0.4;
          const options: PlanOptions = stepped
            ? { startMs, endMs, whole, stepMs: pick(random, [MINUTE, HOUR, 5 * SECOND]), alignMs: 0 }
            : { startMs, endMs, whole };
          const parts = planRollupRead(tiers, options);
          const planned = new Map<number, number>();
          for (const part of parts) {
            const rows = part.source === "raw" ? profiles : rollups[part.source]!.rows;
            sumInto(planned, rows, selectProfileRows(rows, series, part.fromMs, part.toMs));
          }
          const raw = new Map<number, number>();
          sumInto(raw, profiles, selectProfileRows(profiles, series, startMs, endMs));
          assert.deepEqual(nonZero(planned), nonZero(raw), describeCase(tiers, options, parts));
        }
      }
    }
  });
});
