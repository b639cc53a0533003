/**
 * Merging datasets for compaction: the decoded sections of several blocks' datasets of one
 * (tenant, service) become the sections of one dataset.
 *
 * - Symbols are re-interned into one fresh dictionary (`SymbolsBuilder`): strings, mappings,
 *   functions and locations by content, then every input stack node as (merged parent,
 *   merged location), parents first, so identical stacks of different inputs become one node
 *   of one stack tree. The output holds only what the kept profiles reference.
 * - Series are unioned by label set and re-indexed in the index section's sort order.
 * - Profiles are rewritten with the new series index and stack nodes, and sorted by
 *   (series, time); equal times keep input order (inputs in the order they were added).
 * - Exact duplicates are dropped: a profile with the same series, timestamp, duration and
 *   samples (stack, value, span id, trace id) as an earlier kept one. That is how an
 *   at-least-once push that was retried (and so stored twice, with two different random
 *   profile ids) counts once after compaction. The profile id is not compared.
 *
 * The flame graph of the merged dataset is exactly the sum of its inputs' minus the dropped
 * duplicates: no value is rounded (samples are only re-keyed; samples a remap makes equal are
 * summed with the same exact rule as at ingest, `mergeSamples`).
 */
import { labelsKey } from "../model/labels.ts";
import type { EncodedDataset } from "./dataset-builder.ts";
import { fail, ID_BYTES, SectionKind } from "./format.ts";
import { compareLabelSets, encodeIndex, type IndexSection, type SeriesEntry } from "./index-section.ts";
import { encodeProfiles, type ProfileRow, type ProfilesSection } from "./profiles-section.ts";
import { mergeSamples } from "./samples.ts";
import { encodeSymbolsSubset, SymbolsBuilder, type SymbolsSection } from "./symbols.ts";

/** What one dataset merge did, for logs and metrics. */
export interface DatasetMergeStats {
  inputs: number;
  inputProfiles: number;
  outputProfiles: number;
  /** Profiles dropped as exact duplicates of a kept one. */
  duplicateProfiles: number;
  inputSeries: number;
  outputSeries: number;
  /** Stack nodes (without the root) of the inputs, and of the merged tree as written. */
  inputStackNodes: number;
  outputStackNodes: number;
}

/** The sections of one input dataset, decoded. */
export interface MergeInput {
  symbols: SymbolsSection;
  index: IndexSection;
  profiles: ProfilesSection;
}

/** A profile row while merging: series is the merged (unsorted) series id, nodes the dictionary's. */
interface MergeRow extends ProfileRow {
  /** Insertion order, the tie-break of equal (series, time). */
  order: number;
}

export class DatasetMerger {
  readonly tenant: string;
  readonly service: string;
  readonly #symbols = new SymbolsBuilder();
  readonly #series: SeriesEntry[] = [];
  readonly #seriesIds = new Map<string, number>();
  readonly #rows: MergeRow[] = [];
  #inputs = 0;
  #inputSeries = 0;
  #inputStackNodes = 0;

  constructor(tenant: string, service: string) {
    this.tenant = tenant;
    this.service = service;
  }

  get profileCount(): number {
    return this.#rows.length;
  }

  /** Adds one input dataset. Inputs are taken in call order (oldest block first, by convention). */
  add(input: MergeInput): void {
    const { symbols, index, profiles } = input;
    const nodeMap = this.#internSymbols(symbols);
    const seriesMap = this.#internSeries(index);
    this.#inputs++;
    this.#inputSeries += index.seriesCount;
    this.#inputStackNodes += symbols.stacks.nodeCount - 1;
    const { sampleOffsets, sampleNodes, sampleValues, sampleSpanIds, sampleTraceIds } = profiles;
    for (let p = 0; p < profiles.profileCount; p++) {
      const inputSeries = profiles.seriesIndex[p]!;
      if (!(inputSeries < seriesMap.length)) fail(`profile ${p}: series ${inputSeries} out of range`);
      const from = sampleOffsets[p]!;
      const to = sampleOffsets[p + 1]!;
      const nodes = new Uint32Array(to - from);
      let increasing = true;
      for (let i = from; i < to; i++) {
        const node = sampleNodes[i]!;
        if (!(node < nodeMap.length)) fail(`profile ${p}: stack node ${node} out of range`);
        const mapped = nodeMap[node]!;
        if (i > from && !(mapped > nodes[i - from - 1]!)) increasing = false;
        nodes[i - from] = mapped;
      }
      const values = sampleValues.subarray(from, to);
      let spanIds = sampleSpanIds?.subarray(from, to);
      if (spanIds?.every((id) => id === 0n)) spanIds = undefined;
      let traceIds = sampleTraceIds?.subarray(ID_BYTES * from, ID_BYTES * to);
      if (traceIds?.every((b) => b === 0)) traceIds = undefined;
      const row: MergeRow = {
        seriesIndex: seriesMap[inputSeries]!,
        timeNanos: profiles.timeNanos[p]!,
        durationNanos: profiles.durationNanos[p]!,
        profileId: profiles.profileIds.slice(ID_BYTES * p, ID_BYTES * p + ID_BYTES),
        total: profiles.totals[p]!,
        nodes,
        values,
        spanIds,
        traceIds,
        order: this.#rows.length,
      };
      if (!increasing) {
        // The remap changed the order (or made two nodes one): sort and sum again, exactly as
        // at ingest. The total stays the same sum of the same values.
        const merged = mergeSamples(nodes, values, spanIds, traceIds);
        row.nodes = merged.nodes;
        row.values = merged.values;
        row.spanIds = merged.spanIds;
        row.traceIds = merged.traceIds;
        row.total = merged.total;
      }
      this.#rows.push(row);
    }
  }

  /** Interns every symbol and stack node of `symbols`; returns input node → dictionary node. */
  #internSymbols(symbols: SymbolsSection): Uint32Array {
    const builder = this.#symbols;
    const strings = new Uint32Array(symbols.strings.length);
    for (let i = 0; i < strings.length; i++) strings[i] = builder.internString(symbols.strings[i]!);

    const mappings = new Uint32Array(symbols.mappingCount);
    const mappingRow = builder.mappings.row;
    for (let i = 0; i < mappings.length; i++) {
      mappingRow[0] = symbols.mappingStart[i]!;
      mappingRow[1] = symbols.mappingLimit[i]!;
      mappingRow[2] = symbols.mappingOffset[i]!;
      mappingRow[3] = strings[symbols.mappingFilenameStr[i]!]!;
      mappingRow[4] = strings[symbols.mappingBuildIdStr[i]!]!;
      mappingRow[5] = symbols.mappingFlags[i]!;
      mappings[i] = builder.mappings.intern();
    }

    const functions = new Uint32Array(symbols.functionCount);
    const functionRow = builder.functions.row;
    for (let i = 0; i < functions.length; i++) {
      functionRow[0] = strings[symbols.functionNameStr[i]!]!;
      functionRow[1] = strings[symbols.functionSystemNameStr[i]!]!;
      functionRow[2] = strings[symbols.functionFilenameStr[i]!]!;
      functionRow[3] = symbols.functionStartLine[i]!;
      functions[i] = builder.functions.intern();
    }

    const locations = new Uint32Array(symbols.locationCount);
    const locationRow = builder.locations.row;
    for (let i = 0; i < locations.length; i++) {
      const mappingPlus1 = symbols.locationMappingPlus1[i]!;
      const functionPlus1 = symbols.locationFunctionPlus1[i]!;
      locationRow[0] = mappingPlus1 === 0 ? 0 : mappings[mappingPlus1 - 1]! + 1;
      locationRow[1] = symbols.locationAddress[i]!;
      locationRow[2] = functionPlus1 === 0 ? 0 : functions[functionPlus1 - 1]! + 1;
      locationRow[3] = symbols.locationLine[i]!;
      locations[i] = builder.locations.intern();
    }

    const tree = symbols.stacks;
    const stacks = builder.stacks;
    stacks.reserve(stacks.nodeCount + tree.nodeCount);
    const nodes = new Uint32Array(tree.nodeCount);
    // Parents precede children (the reader checked parent < node), so one pass suffices.
    for (let node = 1; node < tree.nodeCount; node++) {
      nodes[node] = stacks.intern(nodes[tree.parent[node]!]!, locations[tree.location[node]!]!);
    }
    return nodes;
  }

  /** Unions the input's series into the merged set; returns input series → merged id. */
  #internSeries(index: IndexSection): Uint32Array {
    const ids = new Uint32Array(index.seriesCount);
    for (let s = 0; s < index.seriesCount; s++) {
      const labels = index.seriesLabels[s]!;
      const profileType = index.seriesProfileType[s]!;
      const key = labelsKey(labels);
      let id = this.#seriesIds.get(key);
      if (id === undefined) {
        id = this.#series.length;
        this.#series.push({ labels, profileType });
        this.#seriesIds.set(key, id);
      } else if (this.#series[id]!.profileType !== profileType) {
        fail(`series ${key}: two profile types (${this.#series[id]!.profileType}, ${profileType})`);
      }
      ids[s] = id;
    }
    return ids;
  }

  /** Encodes the merged dataset's three sections. */
  encode(): { dataset: EncodedDataset; stats: DatasetMergeStats } {
    if (!(this.#rows.length > 0)) fail(`merge of ${this.tenant}/${this.service}: no profiles`);
    const order = this.#series.map((_, id) => id);
    order.sort((a, b) => compareLabelSets(this.#series[a]!.labels, this.#series[b]!.labels));
    const sortedIndex = new Uint32Array(order.length);
    order.forEach((id, position) => {
      sortedIndex[id] = position;
    });
    const sorted = [...this.#rows].sort(
      (a, b) =>
        sortedIndex[a.seriesIndex]! - sortedIndex[b.seriesIndex]! ||
        compareBigint(a.timeNanos, b.timeNanos) ||
        a.order - b.order,
    );
    const kept: MergeRow[] = [];
    let runStart = 0;
    for (const row of sorted) {
      const last = kept[kept.length - 1];
      if (last === undefined || last.seriesIndex !== row.seriesIndex || last.timeNanos !== row.timeNanos) {
        runStart = kept.length;
      } else {
        let duplicate = false;
        for (let k = runStart; k < kept.length && !duplicate; k++) duplicate = sameContent(kept[k]!, row);
        if (duplicate) continue;
      }
      kept.push(row);
    }
    // Series that only duplicates referenced disappear with them.
    const usedSeries = new Uint8Array(this.#series.length);
    for (const row of kept) usedSeries[row.seriesIndex] = 1;
    const finalIndex = new Int32Array(this.#series.length).fill(-1);
    const series: SeriesEntry[] = [];
    for (const id of order) {
      if (usedSeries[id] === 0) continue;
      finalIndex[id] = series.length;
      series.push(this.#series[id]!);
    }
    const symbols = encodeSymbolsSubset(
      this.#symbols,
      kept.map((row) => row.nodes),
    );
    let minTimeNanos = kept[0]!.timeNanos;
    let maxTimeNanos = kept[0]!.timeNanos;
    const rows: ProfileRow[] = kept.map((row, i) => {
      if (row.timeNanos < minTimeNanos) minTimeNanos = row.timeNanos;
      if (row.timeNanos > maxTimeNanos) maxTimeNanos = row.timeNanos;
      return {
        seriesIndex: finalIndex[row.seriesIndex]!,
        timeNanos: row.timeNanos,
        durationNanos: row.durationNanos,
        profileId: row.profileId,
        total: row.total,
        nodes: symbols.nodeLists[i]!,
        values: row.values,
        spanIds: row.spanIds,
        traceIds: row.traceIds,
      };
    });
    const profileTypes = [...new Set(series.map((entry) => entry.profileType))].sort();
    const labelNames = [...new Set(series.flatMap((entry) => entry.labels.map(([name]) => name)))].sort();
    const symbolsPayload = symbols.payload;
    return {
      dataset: {
        tenant: this.tenant,
        service: this.service,
        minTimeNanos,
        maxTimeNanos,
        profileTypes,
        labelNames,
        sections: [
          { kind: SectionKind.symbols, payload: symbolsPayload },
          { kind: SectionKind.index, payload: encodeIndex(series) },
          { kind: SectionKind.profiles, payload: encodeProfiles(rows) },
        ],
      },
      stats: {
        inputs: this.#inputs,
        inputProfiles: this.#rows.length,
        outputProfiles: rows.length,
        duplicateProfiles: this.#rows.length - rows.length,
        inputSeries: this.#inputSeries,
        outputSeries: series.length,
        inputStackNodes: this.#inputStackNodes,
        outputStackNodes: countWrittenNodes(rows),
      },
    };
  }
}

/** Nodes (without the root) of the written stack tree. */
function countWrittenNodes(rows: readonly ProfileRow[]): number {
  // Written node ids are compact and every written node is referenced or an ancestor of one,
  // and parents precede children: the largest referenced id is the written tree's last node.
  let max = 0;
  for (const row of rows) if (row.nodes.length > 0) max = Math.max(max, row.nodes[row.nodes.length - 1]!);
  return max;
}

/** Same duration and samples (node, value, span id, trace id) and total; the profile id is not compared. */
function sameContent(a: ProfileRow, b: ProfileRow): boolean {
  if (a.durationNanos !== b.durationNanos || a.total !== b.total) return false;
  const n = a.nodes.length;
  if (b.nodes.length !== n) return false;
  for (let i = 0; i < n; i++) {
    if (a.nodes[i] !== b.nodes[i] || a.values[i] !== b.values[i]) return false;
  }
  if ((a.spanIds === undefined) !== (b.spanIds === undefined)) return false;
  if (a.spanIds !== undefined && b.spanIds !== undefined) {
    for (let i = 0; i < n; i++) if (a.spanIds[i] !== b.spanIds[i]) return false;
  }
  if ((a.traceIds === undefined) !== (b.traceIds === undefined)) return false;
  if (a.traceIds !== undefined && b.traceIds !== undefined) {
    for (let i = 0; i < a.traceIds.length; i++) if (a.traceIds[i] !== b.traceIds[i]) return false;
  }
  return true;
}

function compareBigint(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
