/**
 * SelectHeatmap bucketing (Pyroscope's heatmap model, pkg/model/heatmap): points (a time and
 * an integer value: one per profile for INDIVIDUAL, one per span per profile for SPAN) are
 * counted into cells of (time slot, value bucket).
 *
 * - Time: a point at t lands in the slot whose right edge is the first `start + k·step ≥ t`
 *   (slot = (edge − step, edge]); edges are clamped to [start, the edge holding end]. The
 *   engine reads from `start − step` so the first slot is whole (as Pyroscope's frontend).
 * - Value: 20 equal buckets between the smallest and largest value over all series (max =
 *   min + 1 when all are equal); bucket i covers [min_i, min_{i+1}), the last one also holds
 *   the max. Every slot lists all 20 `y_min` and `counts` (zeros included).
 * - Exemplars (when asked): per non-empty cell the point with the largest value, with the
 *   point's labels minus the group-by labels.
 * - Limit: the `limit` series with the most points, ties by labels, in that order.
 */
import { compareLabelSets } from "../block/index-section.ts";
import type { Label } from "../model/labels.ts";

export const HEATMAP_Y_BUCKETS = 20;

export interface HeatmapPoint {
  timeMs: number;
  value: number;
  /** UUID, "" when none (SPAN points). */
  profileId: string;
  /** 16 hex chars, "" when none (INDIVIDUAL points). */
  spanId: string;
  /** The point's series labels (all of them; group-by labels are removed for exemplars). */
  labels: readonly Label[];
}

export interface HeatmapGroup {
  labels: Label[];
  points: HeatmapPoint[];
}

export interface HeatmapExemplar {
  timestamp: number;
  profileId: string;
  spanId: string;
  value: number;
  labels: Label[];
}

export interface HeatmapSlot {
  timestamp: number;
  yMin: number[];
  counts: number[];
  exemplars: HeatmapExemplar[];
}

export interface HeatmapSeriesResult {
  labels: Label[];
  slots: HeatmapSlot[];
}

export interface HeatmapOptions {
  /** Start of the requested range (ms): the grid is `start + k·step`. */
  startMs: number;
  endMs: number;
  stepMs: number;
  groupBy: readonly string[];
  exemplars: boolean;
  /** Top-N series by point count; 0 = all. */
  limit: number;
}

/** The right edge of the slot holding `t`: the first `start + k·step ≥ t`, clamped. */
export function slotEdge(t: number, startMs: number, endMs: number, stepMs: number): number {
  const up = (x: number) => startMs + Math.ceil((x - startMs) / stepMs) * stepMs;
  const last = up(endMs);
  const edge = up(t);
  return Math.max(startMs, Math.min(edge, last));
}

export function yBuckets(minValue: number, maxValue: number): number[] {
  const size = (maxValue - minValue) / HEATMAP_Y_BUCKETS;
  const mins: number[] = [];
  for (let i = 0; i < HEATMAP_Y_BUCKETS; i++) mins.push(minValue + Math.trunc(i * size));
  return mins;
}

function bucketOf(value: number, mins: readonly number[], maxValue: number): number {
  const n = mins.length;
  for (let i = 0; i < n; i++) {
    const hi = i + 1 < n ? mins[i + 1]! : maxValue;
    if (value >= mins[i]! && value < hi) return i;
  }
  return value >= mins[n - 1]! ? n - 1 : -1;
}

export function rangeHeatmap(
  groups: readonly HeatmapGroup[],
  options: HeatmapOptions,
): HeatmapSeriesResult[] {
  let minValue = Number.POSITIVE_INFINITY;
  let maxValue = Number.NEGATIVE_INFINITY;
  for (const g of groups) {
    for (const p of g.points) {
      if (p.value < minValue) minValue = p.value;
      if (p.value > maxValue) maxValue = p.value;
    }
  }
  if (minValue === Number.POSITIVE_INFINITY) return [];
  if (minValue === maxValue) maxValue = minValue + 1;
  const mins = yBuckets(minValue, maxValue);
  const groupBy = new Set(options.groupBy);
  const ranked: { series: HeatmapSeriesResult; count: number }[] = [];
  for (const g of groups) {
    if (g.points.length === 0) continue;
    const slots = new Map<number, { counts: number[]; best: (HeatmapPoint | undefined)[] }>();
    let count = 0;
    for (const p of g.points) {
      const y = bucketOf(p.value, mins, maxValue);
      if (y < 0) continue;
      const edge = slotEdge(p.timeMs, options.startMs, options.endMs, options.stepMs);
      let slot = slots.get(edge);
      if (slot === undefined) {
        slot = { counts: new Array(HEATMAP_Y_BUCKETS).fill(0), best: new Array(HEATMAP_Y_BUCKETS) };
        slots.set(edge, slot);
      }
      slot.counts[y]!++;
      count++;
      if (options.exemplars) {
        const best = slot.best[y];
        if (best === undefined || p.value > best.value) slot.best[y] = p;
      }
    }
    const out: HeatmapSlot[] = [...slots.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([timestamp, slot]) => ({
        timestamp,
        yMin: [...mins],
        counts: slot.counts,
        exemplars: slot.best
          .filter((p): p is HeatmapPoint => p !== undefined)
          .map((p) => ({
            timestamp: p.timeMs,
            profileId: p.profileId,
            spanId: p.spanId,
            value: p.value,
            labels: p.labels.filter(([name]) => !groupBy.has(name)),
          }))
          .filter((e) => e.profileId !== "" || e.spanId !== "" || e.labels.length > 0),
      }));
    ranked.push({ series: { labels: g.labels, slots: out }, count });
  }
  ranked.sort((a, b) => compareLabelSets(a.series.labels, b.series.labels));
  if (options.limit > 0 && ranked.length > options.limit) {
    ranked.sort((a, b) => b.count - a.count || compareLabelSets(a.series.labels, b.series.labels));
    ranked.length = options.limit;
  }
  return ranked.map((r) => r.series);
}
