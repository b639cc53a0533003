/**
 * What the UI reads from the querier.v1 API (wire reference §4), after the API client turned
 * the JSON's int64 strings into numbers. Profile values are far below 2^53 in practice
 * (nanoseconds over days of one service fit), so `number` is exact enough for display.
 */
import type { FlameGraphData, FlameGraphDiffData } from "../flamegraph/index.ts";

export type { FlameGraphData, FlameGraphDiffData };

export interface ProfileType {
  /** `name:sample_type:sample_unit:period_type:period_unit`, the query's `profileTypeID`. */
  id: string;
  name: string;
  sampleType: string;
  sampleUnit: string;
  periodType: string;
  periodUnit: string;
}

export interface LabelPair {
  name: string;
  value: string;
}

export interface SeriesPoint {
  timestampMs: number;
  value: number;
}

export interface Series {
  labels: LabelPair[];
  points: SeriesPoint[];
}

/** A query: profile type, label selector and time range (inclusive ms, as the API takes). */
export interface ProfileQuery {
  profileTypeId: string;
  labelSelector: string;
  startMs: number;
  endMs: number;
}
