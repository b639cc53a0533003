/**
 * Which rows of one dataset answer a query: rollup rows (src/block/rollup-section.ts) where
 * whole buckets lie inside the range, raw profiles for the rest. Pure arithmetic on
 * milliseconds, so the engine and the tests agree on every edge.
 *
 * A bucket of width w ending at E holds the profiles with E − w < time ≤ E (ms). It may
 * answer a query over [start, end] (inclusive) when start ≤ E − w + 1 and E ≤ end; a time
 * series additionally needs every bucket inside one step: the step a multiple of w, and the
 * steps' edges (align + k·step) multiples of w. Tiers nest (a coarse width is a multiple of
 * the fine one, so coarse edges are fine edges): the coarsest tier takes the middle of the
 * range, the next finer tier the whole buckets beside it, and raw profiles the ragged ends.
 *
 * A dataset whose profiles all lie inside the range needs no edges at all: every row of its
 * coarsest usable tier (including partial buckets at the dataset's own edges, which hold
 * only its profiles) sums to exactly its profiles.
 */

/** Rows of one source whose time key (profile time, or bucket end) lies in [fromMs, toMs]. */
export interface ReadPart {
  /** "raw" = the profiles section; otherwise an index into the tiers passed in. */
  source: "raw" | number;
  fromMs: number;
  toMs: number;
}

export interface PlanOptions {
  /** Query range, inclusive, ms. */
  startMs: number;
  endMs: number;
  /** The dataset's profiles all lie inside the range. */
  whole: boolean;
  /** For time series: the step and the edge alignment; buckets must not straddle steps. */
  stepMs?: number;
  alignMs?: number;
}

/** Keys beyond any stored time: a part over all rows. */
const ALL_MS = 8.64e15;

/**
 * The parts of one dataset's read, given its rollup widths finest first (`tiersMs[i]` is the
 * source `i`); at most one part per source and side. Without a usable tier: the raw range.
 */
export function planRollupRead(tiersMs: readonly number[], options: PlanOptions): ReadPart[] {
  const { startMs, endMs } = options;
  if (endMs < startMs) return [];
  const usable: number[] = [];
  for (let i = 0; i < tiersMs.length; i++) {
    const w = tiersMs[i]!;
    const finer = usable.length === 0 ? undefined : tiersMs[usable[usable.length - 1]!]!;
    if (finer !== undefined && w % finer !== 0) continue;
    if (options.stepMs !== undefined && !alignsWithSteps(w, options.stepMs, options.alignMs ?? startMs))
      continue;
    usable.push(i);
  }
  if (usable.length === 0) return [{ source: "raw", fromMs: startMs, toMs: endMs }];
  if (options.whole) return [{ source: usable[usable.length - 1]!, fromMs: -ALL_MS, toMs: ALL_MS }];
  const parts: ReadPart[] = [];
  // Covered so far: bucket ends in (coveredFrom − w, …]; times [coveredFrom, coveredTo].
  let coveredFrom: number | undefined;
  let coveredTo: number | undefined;
  for (let u = usable.length - 1; u >= 0; u--) {
    const source = usable[u]!;
    const w = tiersMs[source]!;
    const firstEnd = ceilToMultiple(startMs + w - 1, w);
    const lastEnd = floorToMultiple(endMs, w);
    if (firstEnd > lastEnd) continue;
    if (coveredFrom === undefined || coveredTo === undefined) {
      parts.push({ source, fromMs: firstEnd, toMs: lastEnd });
    } else {
      // Buckets left of the covered span end at most at coveredFrom − 1; right ones start
      // after coveredTo, i.e. end at coveredTo + w or later.
      if (firstEnd <= coveredFrom - 1) parts.push({ source, fromMs: firstEnd, toMs: coveredFrom - 1 });
      if (coveredTo + w <= lastEnd) parts.push({ source, fromMs: coveredTo + w, toMs: lastEnd });
    }
    coveredFrom = firstEnd - w + 1;
    coveredTo = lastEnd;
  }
  if (coveredFrom === undefined || coveredTo === undefined) {
    return [{ source: "raw", fromMs: startMs, toMs: endMs }];
  }
  if (startMs <= coveredFrom - 1) parts.push({ source: "raw", fromMs: startMs, toMs: coveredFrom - 1 });
  if (coveredTo + 1 <= endMs) parts.push({ source: "raw", fromMs: coveredTo + 1, toMs: endMs });
  return parts;
}

function alignsWithSteps(bucketMs: number, stepMs: number, alignMs: number): boolean {
  return stepMs % bucketMs === 0 && mod(alignMs, bucketMs) === 0;
}

function mod(a: number, m: number): number {
  return ((a % m) + m) % m;
}

function ceilToMultiple(value: number, m: number): number {
  return value + mod(-value, m);
}

function floorToMultiple(value: number, m: number): number {
  return value - mod(value, m);
}
