/**
 * Merge on stack-node ids: the inner loop of every query. The selected profiles' samples are
 * summed into one dense array indexed by the dataset's stack node, so a dataset costs one
 * pass over its samples and names are resolved afterwards, once per distinct node
 * (`addStackValues` in tree.ts), never per sample.
 */
import type { IndexSection } from "../block/index-section.ts";
import type { ProfilesSection } from "../block/profiles-section.ts";
import type { SymbolsSection } from "../block/symbols.ts";
import { type SeriesSelector, selectProfileRows, selectSeries } from "./select.ts";
import { addStackValues, type NameTree } from "./tree.ts";

/** Per-stack-node sums of one dataset. */
export interface StackValues {
  /** Sum of the selected samples' values per stack node (index = node id; `[0]` stays 0). */
  values: Float64Array;
  /** Sum of |value| of the samples added: every entry of `values` is exact while ≤ 2^53. */
  magnitude: number;
  profileCount: number;
  sampleCount: number;
}

export interface SampleFilter {
  /**
   * Keep only samples with one of these span ids (Pyroscope's `span_selector`, 16 hex chars
   * parsed to u64). Absent = all samples; an empty set selects nothing.
   */
  spanIds?: ReadonlySet<bigint>;
}

/** Empty sums sized for a stack tree of `nodeCount` nodes. */
export function emptyStackValues(nodeCount: number): StackValues {
  return { values: new Float64Array(nodeCount), magnitude: 0, profileCount: 0, sampleCount: 0 };
}

/**
 * Adds the samples of profile rows `rows` into `into` (sized for the same dataset's stack
 * tree). Throws RangeError on a node beyond the tree: the sections disagree.
 */
export function sumStackValues(
  profiles: ProfilesSection,
  rows: Uint32Array,
  into: StackValues,
  filter: SampleFilter = {},
): StackValues {
  const { sampleOffsets, sampleNodes, sampleValues } = profiles;
  const values = into.values;
  const nodeCount = values.length;
  let magnitude = 0;
  let samples = 0;
  const spanIds = filter.spanIds;
  const sampleSpans = profiles.sampleSpanIds;
  for (const row of rows) {
    const from = sampleOffsets[row]!;
    const to = sampleOffsets[row + 1]!;
    if (spanIds === undefined) {
      for (let i = from; i < to; i++) {
        const node = sampleNodes[i]!;
        if (!(node < nodeCount))
          throw new RangeError(`sample node ${node} beyond the stack tree (${nodeCount})`);
        const value = sampleValues[i]!;
        values[node]! += value;
        magnitude += value < 0 ? -value : value;
      }
      samples += to - from;
    } else {
      // No span column means no sample has a span: nothing matches a span selector.
      if (sampleSpans === undefined || spanIds.size === 0) continue;
      for (let i = from; i < to; i++) {
        if (!spanIds.has(sampleSpans[i]!)) continue;
        const node = sampleNodes[i]!;
        if (!(node < nodeCount))
          throw new RangeError(`sample node ${node} beyond the stack tree (${nodeCount})`);
        const value = sampleValues[i]!;
        values[node]! += value;
        magnitude += value < 0 ? -value : value;
        samples++;
      }
    }
  }
  into.magnitude += magnitude;
  into.profileCount += rows.length;
  into.sampleCount += samples;
  return into;
}

/** The decoded sections of one dataset a query reads. */
export interface DatasetSections {
  symbols: SymbolsSection;
  index: IndexSection;
  profiles: ProfilesSection;
}

export interface MergeQuery extends SeriesSelector, SampleFilter {
  /** Inclusive, ms since the epoch (see select.ts). */
  startMs: number;
  endMs: number;
}

/** Selects and sums one dataset on stack-node ids (no name resolution yet). */
export function selectStackValues(
  dataset: Pick<DatasetSections, "symbols" | "index" | "profiles">,
  query: MergeQuery,
): StackValues {
  const series = selectSeries(dataset.index, query);
  const rows = selectProfileRows(dataset.profiles, series, query.startMs, query.endMs);
  return sumStackValues(dataset.profiles, rows, emptyStackValues(dataset.symbols.stacks.nodeCount), query);
}

/**
 * Selects, sums and resolves one dataset into `tree` (which may already hold other datasets:
 * the name tree is where datasets with different symbol tables meet). Returns the dataset's
 * stack sums, e.g. for a pprof answer or statistics.
 */
export function mergeDatasetInto(tree: NameTree, dataset: DatasetSections, query: MergeQuery): StackValues {
  const sums = selectStackValues(dataset, query);
  if (sums.sampleCount > 0) addStackValues(tree, dataset.symbols, sums.values, sums.magnitude);
  return sums;
}
