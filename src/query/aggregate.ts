/**
 * Per-dataset aggregates that long-range queries cache instead of raw sections.
 *
 * - `PartialTree`: the function-name tree of one dataset for one selection (profile type and
 *   set of selected series, every profile of the dataset, summed from its profiles or from
 *   all rows of its coarsest rollup): the sum of sample values per stack node resolved to
 *   names, with its own small name list (filled in on the main thread when a worker sends
 *   names as ids). Merging 144 of these is much cheaper
 *   than decoding 144 profiles sections, and the result is the same tree: sums are exact
 *   integers (see tree.ts), so summing per dataset first and then across datasets gives the
 *   same values as summing per sample.
 * - `ProfileSummary`: the per-profile columns of a profiles section without its samples
 *   (series index, time, total, id): what SelectSeries reads when no sample-level filter is set.
 *
 * Both are plain typed arrays and strings, so they cross worker threads by transfer/clone.
 */
import type { ProfilesSection } from "../block/profiles-section.ts";
import type { SymbolNames } from "../block/symbols.ts";
import { emptyStackValues, sumStackValues } from "./merge.ts";
import { addStackValues, NameTable, NameTree } from "./tree.ts";

/** One dataset's resolved name tree (node 0 = root; `parent[i] < i`). */
export interface PartialTree {
  nodeCount: number;
  /** Local name list: `name[i]` indexes it (-1 for the root). */
  names: string[];
  parent: Int32Array;
  name: Int32Array;
  self: Float64Array;
  /** Σ|value| of the samples summed (feeds NameTree.exact). */
  magnitude: number;
}

/** The per-profile columns of a profiles section (no samples). */
export interface ProfileSummary {
  profileCount: number;
  seriesIndex: Uint32Array;
  timeNanos: BigInt64Array;
  totals: BigInt64Array;
  profileIds: Uint8Array;
}

const STRING_OVERHEAD_BYTES = 48;

export function partialTreeBytes(p: PartialTree): number {
  let bytes = 64 + p.parent.byteLength + p.name.byteLength + p.self.byteLength;
  for (const name of p.names) bytes += STRING_OVERHEAD_BYTES + 2 * name.length;
  return bytes;
}

export function profileSummaryBytes(s: ProfileSummary): number {
  return (
    64 + s.seriesIndex.byteLength + s.timeNanos.byteLength + s.totals.byteLength + s.profileIds.byteLength
  );
}

/** An own copy of the per-profile columns (the section's arrays may share a larger buffer). */
export function summarizeProfiles(profiles: ProfilesSection): ProfileSummary {
  return {
    profileCount: profiles.profileCount,
    seriesIndex: profiles.seriesIndex.slice(),
    timeNanos: profiles.timeNanos.slice(),
    totals: profiles.totals.slice(),
    profileIds: profiles.profileIds.slice(),
  };
}

/**
 * Sums the samples of `rows` per stack node and resolves them to a name tree, as the exact
 * query path does for one dataset (same sums, same nodes created).
 */
export function buildPartialTree(
  symbols: SymbolNames,
  profiles: ProfilesSection,
  rows: Uint32Array,
): PartialTree {
  return partialTreeOf(buildNameTree(symbols, profiles, rows, new NameTable()));
}

/** The name tree of `rows`, its names interned into `names` (which may hold others too). */
export function buildNameTree(
  symbols: SymbolNames,
  profiles: ProfilesSection,
  rows: Uint32Array,
  names: NameTable,
): NameTree {
  // The name tree has at most one node per stack node (frames merge by name).
  const tree = new NameTree(names, symbols.stacks.nodeCount);
  if (rows.length > 0) {
    const sums = sumStackValues(profiles, rows, emptyStackValues(symbols.stacks.nodeCount));
    if (sums.values.some((v) => v !== 0)) addStackValues(tree, symbols, sums.values, sums.magnitude);
  }
  return tree;
}

/**
 * Renumbers the names of trees interned into one shared table densely per tree, in order of
 * first use. Typed arrays indexed by table id, stamped per call, so a call costs O(nodes)
 * whatever the table's size (a Map here cost more than building the tree).
 */
export class SharedNameRenumbering {
  #stamp = new Int32Array(1024);
  #local = new Int32Array(1024);
  #epoch = 0;

  /**
   * A partial tree of `tree` with local name ids; `tableIds[i]` is local name i's id in the
   * shared table. The partial's `names` is left empty (the caller sends the ids instead).
   */
  partialTreeOf(tree: NameTree): { partial: PartialTree; tableIds: Int32Array } {
    const tableSize = tree.names.count;
    if (this.#stamp.length < tableSize) {
      const size = 2 ** Math.ceil(Math.log2(tableSize));
      this.#stamp = new Int32Array(size);
      this.#local = new Int32Array(size);
      this.#epoch = 0;
    }
    const epoch = ++this.#epoch;
    const stamp = this.#stamp;
    const local = this.#local;
    const view = tree.view();
    const name = new Int32Array(view.nodeCount);
    const tableIds: number[] = [];
    name[0] = -1;
    for (let i = 1; i < view.nodeCount; i++) {
      const id = view.name[i]!;
      if (stamp[id] !== epoch) {
        stamp[id] = epoch;
        local[id] = tableIds.length;
        tableIds.push(id);
      }
      name[i] = local[id]!;
    }
    return {
      partial: {
        nodeCount: view.nodeCount,
        names: [],
        parent: view.parent.slice(),
        name,
        self: view.self.slice(),
        magnitude: tree.magnitude,
      },
      tableIds: Int32Array.from(tableIds),
    };
  }
}

/** A copy of a name tree as a partial tree (own name list and arrays). */
export function partialTreeOf(tree: NameTree): PartialTree {
  const view = tree.view();
  return {
    nodeCount: view.nodeCount,
    names: tree.names.names.slice(),
    parent: view.parent.slice(),
    name: view.name.slice(),
    self: view.self.slice(),
    magnitude: tree.magnitude,
  };
}

/** Adds a partial tree into `tree` (names matched by text). */
export function mergePartialTree(tree: NameTree, partial: PartialTree): void {
  const n = partial.nodeCount;
  if (n <= 1) return;
  const table = tree.names;
  const nameMap = new Int32Array(partial.names.length);
  for (let i = 0; i < nameMap.length; i++) nameMap[i] = table.id(partial.names[i]!);
  const mapped = new Int32Array(n);
  const { parent, name, self } = partial;
  for (let i = 1; i < n; i++) {
    const node = tree.child(mapped[parent[i]!]!, nameMap[name[i]!]!);
    mapped[i] = node;
    const value = self[i]!;
    if (value !== 0) tree.addSelfCounted(node, value);
  }
  tree.addMagnitude(partial.magnitude);
}
