/**
 * The flame graph library's public data and state shapes (the contract with the app shell).
 * Data arrive as Pyroscope's level encodings (wire reference §4.4) with int64 strings already
 * converted to numbers by the API client.
 */

/** Numbers already converted from the wire's int64 strings by the API client. */
export interface FlameGraphData {
  names: string[];
  /** Per depth, flat [x_delta, total, self, name_index] quadruples. */
  levels: number[][];
  total: number;
  maxSelf: number;
}

/** 7-tuples per node: [x_delta_left, total_left, self_left, x_delta_right, total_right, self_right, name]. */
export interface FlameGraphDiffData extends FlameGraphData {
  leftTicks: number;
  rightTicks: number;
}

export interface FlameViewState {
  /** Case-insensitive substring; "/…/" means a regular expression. */
  search: string;
  /** Frame names from the root's child down to the focused node. */
  focusPath: string[] | null;
  orientation: "icicle" | "flame";
  /** Function name shown in the sandwich view, or null. */
  sandwich: string | null;
  tableSort: "self" | "total" | "name" | "diff";
  view: "both" | "flamegraph" | "table";
}

export const defaultFlameViewState: FlameViewState = {
  search: "",
  focusPath: null,
  orientation: "icicle",
  sandwich: null,
  tableSort: "self",
  view: "both",
};

export function isDiffData(data: FlameGraphData | FlameGraphDiffData): data is FlameGraphDiffData {
  return "leftTicks" in data && "rightTicks" in data;
}
