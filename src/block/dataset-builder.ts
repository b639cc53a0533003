/**
 * Accumulates the profiles of one dataset (tenant, service) in memory, interning symbols and
 * stacks as they arrive, and encodes the dataset's sections when the block is cut.
 * Called on the ingest path by the segment writer: `append` does work proportional to the
 * profile's samples, plus a one-time translation per distinct `Pprof` object.
 *
 * Symbols and stacks go into a `SymbolsBuilder` (the dictionary), which may be shared with the
 * builders of earlier segments of the same dataset: a stack seen in an earlier segment is then
 * a cache hit. `encode` writes only what this builder's profiles reference, so every block
 * stays self-contained whatever the dictionary holds.
 */
import { LabelName, labelsKey } from "../model/labels.ts";
import type { NormalizedProfile } from "../model/profile.ts";
import { profileTypeId } from "../model/profile-type.ts";
import { assert, fail, ID_BYTES, SectionKind } from "./format.ts";
import { compareLabelSets, encodeIndex, type SeriesEntry } from "./index-section.ts";
import { encodeProfiles, type ProfileRow, parseUuid } from "./profiles-section.ts";
import { mergeSamples } from "./samples.ts";
import { encodeSymbols, encodeSymbolsSubset, SymbolsBuilder } from "./symbols.ts";

/** Estimated encoded bytes of one profile row beyond its samples (ids, times, total). */
const PROFILE_ROW_BYTES_ESTIMATE = 40;
/** Estimated encoded bytes per sample: node gap and value varints. */
const SAMPLE_BYTES_ESTIMATE = 4;

/** The encoded sections of one dataset plus what its table-of-contents entry needs. */
export interface EncodedDataset {
  tenant: string;
  service: string;
  minTimeNanos: bigint;
  maxTimeNanos: bigint;
  profileTypes: string[];
  labelNames: string[];
  /** Uncompressed payloads by kind, in the order they are written to the object. */
  sections: { kind: number; payload: Uint8Array }[];
}

export class DatasetBuilder {
  readonly tenant: string;
  readonly service: string;
  readonly #symbols: SymbolsBuilder;
  /** The dictionary's `bytesEstimate` when this builder started (it may predate the builder). */
  readonly #symbolsBytesAtStart: number;
  /** The dictionary was empty when this builder started (so far, all of it is this builder's). */
  readonly #symbolsStartedEmpty: boolean;
  readonly #series: SeriesEntry[] = [];
  readonly #seriesIds = new Map<string, number>();
  readonly #rows: ProfileRow[] = [];
  #bytesEstimate = 0;

  /**
   * `symbols`: a dictionary to intern into, possibly filled by earlier builders of the same
   * dataset (the caller must not share one between datasets, and must not share it with a
   * builder whose `encode` may run concurrently with this builder's `append` — both are
   * synchronous, so on one thread this always holds). Default: a new one of its own.
   */
  constructor(tenant: string, service: string, symbols: SymbolsBuilder = new SymbolsBuilder()) {
    assert(typeof tenant === "string" && typeof service === "string", "DatasetBuilder: tenant, service");
    this.tenant = tenant;
    this.service = service;
    this.#symbols = symbols;
    this.#symbolsBytesAtStart = symbols.bytesEstimate;
    this.#symbolsStartedEmpty = symbols.stacks.nodeCount === 1 && symbols.strings.length === 1;
  }

  /** The dictionary this builder interns into. */
  get symbols(): SymbolsBuilder {
    return this.#symbols;
  }

  get profileCount(): number {
    return this.#rows.length;
  }

  /**
   * Roughly the uncompressed bytes the dataset's sections will take, for the segment writer's
   * size cap. Compression typically makes the object 3-6x smaller than this. With a shared
   * dictionary, only what the dictionary grew by since this builder started counts: that is
   * the memory this builder added (symbols reused from earlier segments are not counted).
   */
  estimatedBytes(): number {
    return this.#symbols.bytesEstimate - this.#symbolsBytesAtStart + this.#bytesEstimate;
  }

  /**
   * Adds one profile. Its `symbols` must never be mutated afterwards: translations are cached
   * per Pprof object. Samples whose stacks intern to the same node (with the same span and
   * trace id) are summed, and sums of 0 are dropped.
   */
  append(profile: NormalizedProfile): void {
    assertProfileInvariants(profile, this.service);
    // Stacks before the series: a profile that fails mid-way must not leave an empty series.
    this.#symbols.lastWriter = this;
    const nodes = this.#internStacks(profile);
    const seriesId = this.#internSeries(profile);
    const traceBytes = profile.traceIds === undefined ? undefined : traceIdBytes(profile.traceIds);
    const merged = mergeSamples(nodes, profile.values, profile.spanIds, traceBytes);
    this.#rows.push({
      seriesIndex: seriesId,
      timeNanos: profile.timeNanos,
      durationNanos: profile.durationNanos,
      profileId: parseUuid(profile.profileId),
      total: merged.total,
      nodes: merged.nodes,
      values: merged.values,
      spanIds: merged.spanIds,
      traceIds: merged.traceIds,
    });
    const idBytes = (merged.spanIds === undefined ? 0 : 8) + (merged.traceIds === undefined ? 0 : 16);
    this.#bytesEstimate +=
      PROFILE_ROW_BYTES_ESTIMATE + merged.nodes.length * (SAMPLE_BYTES_ESTIMATE + idBytes);
  }

  #internSeries(profile: NormalizedProfile): number {
    const key = labelsKey(profile.seriesLabels);
    const profileType = profileTypeId(profile.profileType);
    let id = this.#seriesIds.get(key);
    if (id === undefined) {
      id = this.#series.length;
      this.#series.push({ labels: profile.seriesLabels.map(([n, v]) => [n, v] as const), profileType });
      this.#seriesIds.set(key, id);
      this.#bytesEstimate += key.length + profileType.length;
    }
    if (!(this.#series[id]!.profileType === profileType)) fail(`series ${key}: two profile types`);
    return id;
  }

  /** Stack node per sample (see `PprofTranslation.internStacks`). */
  #internStacks(profile: NormalizedProfile): Uint32Array {
    const translation = this.#symbols.translation(profile.symbols);
    return translation.internStacks(profile.stackOffsets, profile.stackLocations, profile.sampleCount);
  }

  /** Encodes the three sections. Does not change the builder; callable more than once. */
  encode(): EncodedDataset {
    if (!(this.#rows.length > 0)) fail(`dataset ${this.tenant}/${this.service}: no profiles`);
    const order = this.#series.map((_, id) => id);
    order.sort((a, b) => compareLabelSets(this.#series[a]!.labels, this.#series[b]!.labels));
    const sortedIndex = new Uint32Array(order.length);
    order.forEach((id, index) => {
      sortedIndex[id] = index;
    });
    const symbols = this.#encodeSymbols();
    const rows = this.#rows.map((row, i) => ({
      ...row,
      seriesIndex: sortedIndex[row.seriesIndex]!,
      nodes: symbols.nodeLists[i]!,
    }));
    rows.sort((a, b) => a.seriesIndex - b.seriesIndex || compareBigint(a.timeNanos, b.timeNanos));
    let minTimeNanos = rows[0]!.timeNanos;
    let maxTimeNanos = rows[0]!.timeNanos;
    for (const row of rows) {
      if (row.timeNanos < minTimeNanos) minTimeNanos = row.timeNanos;
      if (row.timeNanos > maxTimeNanos) maxTimeNanos = row.timeNanos;
    }
    const series = order.map((id) => this.#series[id]!);
    const profileTypes = [...new Set(series.map((entry) => entry.profileType))].sort();
    const labelNames = [...new Set(series.flatMap((entry) => entry.labels.map(([name]) => name)))].sort();
    return {
      tenant: this.tenant,
      service: this.service,
      minTimeNanos,
      maxTimeNanos,
      profileTypes,
      labelNames,
      sections: [
        { kind: SectionKind.symbols, payload: symbols.payload },
        { kind: SectionKind.index, payload: encodeIndex(series) },
        { kind: SectionKind.profiles, payload: encodeProfiles(rows) },
      ],
    };
  }

  /**
   * Only the symbols and nodes these rows reference, with compact ids; node order is kept, so
   * each row's samples stay sorted by node. A dictionary that only this builder has filled is
   * (all but the leftovers of a failed append) entirely referenced: written whole, ids as is.
   */
  #encodeSymbols(): { payload: Uint8Array; nodeLists: Uint32Array[] } {
    const nodeLists = this.#rows.map((row) => row.nodes);
    if (this.#symbolsStartedEmpty && this.#symbols.lastWriter === this) {
      return { payload: encodeSymbols(this.#symbols), nodeLists };
    }
    return encodeSymbolsSubset(this.#symbols, nodeLists);
  }
}

function compareBigint(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Cheap checks of the NormalizedProfile contract (src/model/profile.ts); a violation is a bug. */
function assertProfileInvariants(profile: NormalizedProfile, service: string): void {
  const labels = profile.seriesLabels;
  for (let i = 1; i < labels.length; i++) {
    if (!(labels[i - 1]![0] < labels[i]![0])) fail(`series labels not sorted/unique at ${labels[i]![0]}`);
  }
  const serviceLabel = labels.find(([name]) => name === LabelName.serviceName);
  assert(serviceLabel === undefined || serviceLabel[1] === service, "profile of another service");
  const sampleCount = profile.sampleCount;
  assert(profile.stackOffsets.length === sampleCount + 1, "stackOffsets length is not sampleCount + 1");
  assert(profile.values.length === sampleCount, "values length is not sampleCount");
  assert(profile.spanIds === undefined || profile.spanIds.length === sampleCount, "spanIds length");
  assert(profile.traceIds === undefined || profile.traceIds.length === sampleCount, "traceIds length");
  assert(profile.stackOffsets[sampleCount] === profile.stackLocations.length, "stackOffsets end");
  for (let i = 0; i < sampleCount; i++) {
    const value = profile.values[i]!;
    if (!(value !== 0)) fail(`sample ${i} has value 0`);
    // Values beyond 2^53 are int64s the decoder could only hold as the nearest double: stored as is.
    if (!Number.isInteger(value)) fail(`sample ${i} value ${value} is not an integer`);
  }
}

const TRACE_ID_PATTERN = /^[0-9a-fA-F]{32}$/;

/** Hex trace ids to 16 bytes each; "" (absent) stays all zero. */
function traceIdBytes(traceIds: readonly string[]): Uint8Array {
  const bytes = new Uint8Array(ID_BYTES * traceIds.length);
  traceIds.forEach((traceId, i) => {
    if (traceId === "") return;
    if (!TRACE_ID_PATTERN.test(traceId)) fail(`trace id is not 32 hex chars: ${JSON.stringify(traceId)}`);
    bytes.set(Buffer.from(traceId, "hex"), ID_BYTES * i);
  });
  return bytes;
}
