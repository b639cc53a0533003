/**
 * Selection inside one dataset: which series (from the index section) and which profile rows
 * (from the profiles section) a query reads. Pure functions over decoded sections.
 *
 * Time range: `[startMs, endMs]`, both ends inclusive, in milliseconds since the epoch — the
 * metastore's and the block footer's convention (a profile at 12:00:00.999 belongs to
 * endMs = 12:00:00.999 and to startMs = 12:00:00.999). A profile's time is compared at
 * millisecond precision (floor of its nanoseconds), so `[t, t]` selects every profile of
 * that millisecond.
 */
import type { IndexSection } from "../block/index-section.ts";
import type { ProfilesSection } from "../block/profiles-section.ts";
import type { Labels } from "../model/labels.ts";

/** The label Kiln and Pyroscope store the full profile type ID under (wire reference §6.2). */
export const PROFILE_TYPE_LABEL = "__profile_type__";

export interface SeriesSelector {
  /** Profile type ID, `name:sample_type:sample_unit:period_type:period_unit`. */
  profileType: string;
  /**
   * Equality matchers answered from the postings before `match` runs (e.g. the `=` matchers
   * of a selector). A name absent from the dataset selects nothing unless its value is "",
   * as in Prometheus (`{a=""}` matches series without `a`).
   */
  labelEquals?: Labels;
  /** Full predicate over a series' labels (e.g. `matchLabels(matchers, labels)`); all when absent. */
  match?: (labels: Labels) => boolean;
}

/** Ascending indices of the series of `index` that match `selector`. */
export function selectSeries(index: IndexSection, selector: SeriesSelector): Uint32Array {
  let candidates: Uint32Array | undefined = index.postings.get(PROFILE_TYPE_LABEL)?.get(selector.profileType);
  if (candidates === undefined) {
    // Series always carry the label; a dataset without the posting has no such series, but a
    // scan keeps us right for writers that omitted it.
    const scanned: number[] = [];
    for (let s = 0; s < index.seriesCount; s++) {
      if (index.seriesProfileType[s] === selector.profileType) scanned.push(s);
    }
    candidates = Uint32Array.from(scanned);
  }
  for (const [name, value] of selector.labelEquals ?? []) {
    if (candidates.length === 0) break;
    if (value === "") continue; // "absent or empty": not a posting; left to `match`.
    const posting = index.postings.get(name)?.get(value);
    if (posting === undefined) return new Uint32Array(0);
    candidates = intersectSorted(candidates, posting);
  }
  const match = selector.match;
  if (match === undefined) return candidates;
  const kept = new Uint32Array(candidates.length);
  let count = 0;
  for (const s of candidates) if (match(index.seriesLabels[s]!)) kept[count++] = s;
  return kept.slice(0, count);
}

/** Intersection of two ascending lists. */
export function intersectSorted(a: Uint32Array, b: Uint32Array): Uint32Array {
  const out = new Uint32Array(Math.min(a.length, b.length));
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    if (x === y) {
      out[n++] = x;
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
  return out.slice(0, n);
}

/**
 * Ascending row indices of the profiles of `series` (ascending) with a time in
 * [startMs, endMs] (inclusive). Rows are sorted by (series, time), so each series is two
 * binary searches for its rows and two for its time window.
 */
export function selectProfileRows(
  profiles: Pick<ProfilesSection, "seriesIndex" | "timeNanos" | "profileCount">,
  series: Uint32Array,
  startMs: number,
  endMs: number,
): Uint32Array {
  if (series.length === 0 || endMs < startMs) return new Uint32Array(0);
  // [startMs, endMs] at ms precision = [startMs·10^6, (endMs + 1)·10^6) in nanoseconds.
  const startNanos = BigInt(Math.floor(startMs)) * 1_000_000n;
  const endNanosExclusive = (BigInt(Math.floor(endMs)) + 1n) * 1_000_000n;
  const rows: number[] = [];
  const seriesOf = profiles.seriesIndex;
  const times = profiles.timeNanos;
  const n = profiles.profileCount;
  for (const s of series) {
    const first = lowerBound(n, (row) => seriesOf[row]! >= s);
    const end = lowerBound(n, (row) => seriesOf[row]! > s, first);
    if (first === end) continue;
    const from = lowerBound(end, (row) => times[row]! >= startNanos, first);
    const to = lowerBound(end, (row) => times[row]! >= endNanosExclusive, from);
    for (let row = from; row < to; row++) rows.push(row);
  }
  return Uint32Array.from(rows);
}

/** First index in [from, end) where `atOrAfter` holds (it must be monotone); `end` if none. */
function lowerBound(end: number, atOrAfter: (i: number) => boolean, from = 0): number {
  let lo = from;
  let hi = end;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (atOrAfter(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
