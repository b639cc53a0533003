/**
 * The query engine over the stores: plans with the metastore, reads the dataset sections it
 * needs from the object store (through a byte-bounded `SectionCache`), selects series and
 * profiles, sums per stack node, and merges datasets into one result. The query core (select,
 * merge, tree, flamegraph, pprof-out) does the per-dataset work; this module does the I/O,
 * tenancy, selectors, time defaults and the label/series/time-series queries.
 *
 * Tenancy: every operation takes the tenant; the metastore only returns that tenant's
 * datasets, and the engine also checks each dataset's tenant (a mismatch is a bug and fails
 * the query rather than leaking data).
 *
 * Time ranges are milliseconds, both ends inclusive (as select.ts). `resolveRange` applies
 * the defaults for zero values.
 */

import { readIndex, readProfiles, readSymbols } from "../block/block-reader.ts";
import { SectionKind } from "../block/format.ts";
import type { IndexSection } from "../block/index-section.ts";
import { compareLabelSets } from "../block/index-section.ts";
import type { ProfilesSection } from "../block/profiles-section.ts";
import type { SymbolsSection } from "../block/symbols.ts";
import type { DatasetHit, Metastore } from "../metastore/metastore.ts";
import { KilnError } from "../model/errors.ts";
import { compareLabels, type Label, type Labels, labelsKey } from "../model/labels.ts";
import type { Pprof } from "../model/pprof.ts";
import { parseProfileTypeId } from "../model/profile-type.ts";
import { type Matcher, matchLabels, parseSelector } from "../model/selector.ts";
import type { ObjectStore } from "../objstore/object-store.ts";
import { emptyStackValues, sumStackValues } from "./merge.ts";
import { PprofBuilder } from "./pprof-out.ts";
import { indexBytes, profilesBytes, SectionCache, symbolsBytes } from "./section-cache.ts";
import { PROFILE_TYPE_LABEL, type SeriesSelector, selectProfileRows, selectSeries } from "./select.ts";
import { addStackValues, frameName, NameTable, NameTree } from "./tree.ts";

/** Range used when a request gives neither start nor end (Pyroscope answers "recent data"). */
export const DEFAULT_RANGE_MS = 60 * 60 * 1000;
export const DEFAULT_SECTION_CACHE_BYTES = 256 * 1024 * 1024;
/** Datasets read at the same time by one query. */
const DATASET_CONCURRENCY = 8;
/** Most points one SelectSeries answer may hold (over all series). */
export const MAX_SERIES_POINTS = 1_000_000;

const SERVICE_LABEL = "service_name";
/** Longest service / profile type passed to the metastore as a planning hint. */
const MAX_HINT_CHARS = 4096;

export interface QueryEngineOptions {
  store: ObjectStore;
  metastore: Metastore;
  /** Decoded-section cache budget in bytes (0 disables the cache). */
  cacheBytes?: number;
  now?: () => number;
}

export interface TimeRange {
  startMs: number;
  endMs: number;
}

/**
 * Applies the time defaults: both 0 → the last hour; end 0 → now; start 0 → one hour before
 * end. A range whose end precedes its start is invalid_argument.
 */
export function resolveRange(startMs: number, endMs: number, nowMs: number): TimeRange {
  if (!Number.isFinite(startMs) || !Number.isFinite(endMs)) {
    throw new KilnError("invalid_argument", "invalid_time_range", "start and end must be finite");
  }
  let start = clampMs(startMs);
  let end = clampMs(endMs);
  if (end === 0) end = Math.trunc(nowMs);
  if (start === 0) start = end - DEFAULT_RANGE_MS;
  if (end < start) {
    throw new KilnError(
      "invalid_argument",
      "invalid_time_range",
      `invalid time range: end ${end} is before start ${start}`,
    );
  }
  return { startMs: start, endMs: end };
}

/** Times are clamped to ±8.64e15 ms (the Date range) and truncated to whole ms. */
export const TIME_LIMIT_MS = 8.64e15;

function clampMs(value: number): number {
  return Math.trunc(Math.min(TIME_LIMIT_MS, Math.max(-TIME_LIMIT_MS, value)));
}

/** What selects the samples of a stack query (flame graph, tree, pprof, series, diff side). */
export interface StackQuery extends TimeRange {
  tenant: string;
  /** Profile type ID (5 or 6 parts). */
  profileType: string;
  /** Label selector text, `{…}`; empty = all series of the profile type. */
  selector: string;
  /** Stack prefix, root first; empty/absent = all stacks. */
  callSite?: readonly string[];
  /** Span ids (16 hex chars); absent = all samples. */
  spanSelector?: readonly string[];
  /** Trace ids (32 hex chars); absent = all samples. */
  traceSelector?: readonly string[];
  /** Profile ids (UUIDs); absent = all profiles. */
  profileIdSelector?: readonly string[];
}

export interface SeriesQuery extends StackQuery {
  /** Step in milliseconds (> 0). */
  stepMs: number;
  groupBy: readonly string[];
  aggregation: "sum" | "average";
  /** Top-N series by total; 0/absent = all. */
  limit?: number;
  /** Step edges are `alignMs + k·stepMs`; default `startMs`. */
  alignMs?: number;
}

export interface SeriesPoint {
  timestamp: number;
  value: number;
}

export interface SeriesResult {
  labels: Label[];
  points: SeriesPoint[];
}

export interface ProfileStats {
  dataIngested: boolean;
  oldestProfileTimeMs: number;
  newestProfileTimeMs: number;
}

/** A parsed stack query: matchers, planning hints, per-sample filters. */
interface PreparedQuery {
  tenant: string;
  range: TimeRange;
  profileType: string;
  matchers: Matcher[];
  selector: SeriesSelector;
  service: string | undefined;
  callSite: readonly string[] | undefined;
  spanIds: Set<bigint> | undefined;
  traceIds: Set<string> | undefined;
  profileIds: Set<string> | undefined;
}

interface Sections {
  symbols?: SymbolsSection;
  index: IndexSection;
  profiles?: ProfilesSection;
}

export class QueryEngine {
  readonly store: ObjectStore;
  readonly metastore: Metastore;
  readonly cache: SectionCache;
  readonly #now: () => number;

  constructor(options: QueryEngineOptions) {
    this.store = options.store;
    this.metastore = options.metastore;
    this.cache = new SectionCache(options.cacheBytes ?? DEFAULT_SECTION_CACHE_BYTES);
    this.#now = options.now ?? Date.now;
  }

  now(): number {
    return this.#now();
  }

  range(startMs: number, endMs: number): TimeRange {
    return resolveRange(startMs, endMs, this.#now());
  }

  // ---- stack queries -------------------------------------------------------------------------

  /** The merged function-name tree of a stack query (`names` may be shared with another tree). */
  async mergeTree(query: StackQuery, names: NameTable = new NameTable()): Promise<NameTree> {
    const prepared = prepare(query);
    const tree = new NameTree(names);
    await this.#forEachStackDataset(prepared, (sections, values, magnitude) => {
      addStackValues(tree, sections.symbols!, values, magnitude);
    });
    return tree;
  }

  /** The merged pprof of a stack query: one sample per distinct stack. */
  async mergePprof(query: StackQuery): Promise<Pprof> {
    const prepared = prepare(query);
    const builder = new PprofBuilder();
    await this.#forEachStackDataset(prepared, (sections, values) => {
      builder.add(sections.symbols!, values);
    });
    const { startMs, endMs } = prepared.range;
    return builder.build({
      profileType: prepared.profileType,
      timeNanos: BigInt(Math.trunc(startMs)) * 1_000_000n,
      durationNanos: BigInt(Math.trunc(endMs - startMs)) * 1_000_000n,
    });
  }

  /**
   * Time series of per-profile totals: one series per distinct combination of the `groupBy`
   * label values, one point per step with data. A profile at time t lands in the step whose
   * right edge is the first `start + k·step ≥ t` (Pyroscope's buckets (edge − step, edge]);
   * point timestamps are those edges, in ms.
   */
  async selectSeries(query: SeriesQuery): Promise<SeriesResult[]> {
    if (!(query.stepMs > 0) || !Number.isFinite(query.stepMs)) {
      throw new KilnError("invalid_argument", "invalid_step", `step must be a positive number of seconds`);
    }
    const prepared = prepare(query);
    const align = query.alignMs ?? prepared.range.startMs;
    const step = query.stepMs;
    const groupBy = [...new Set(query.groupBy)].sort();
    interface Group {
      labels: Label[];
      sums: Map<number, number>;
      counts: Map<number, number>;
    }
    const groups = new Map<string, Group>();
    let pointCount = 0;
    await this.#forEachDataset(prepared, { symbols: needsSymbols(prepared), profiles: true }, (sections) => {
      const index = sections.index;
      const profiles = sections.profiles!;
      const series = selectSeries(index, prepared.selector);
      if (series.length === 0) return;
      let rows = selectProfileRows(profiles, series, prepared.range.startMs, prepared.range.endMs);
      rows = filterProfileIds(profiles, rows, prepared.profileIds);
      const mask = prepared.callSite ? callSiteMask(sections.symbols!, prepared.callSite) : undefined;
      const sampleLevel =
        mask !== undefined || prepared.spanIds !== undefined || prepared.traceIds !== undefined;
      const groupOfSeries = new Map<number, Group>();
      for (const row of rows) {
        const s = profiles.seriesIndex[row]!;
        let group = groupOfSeries.get(s);
        if (group === undefined) {
          const labels = project(index.seriesLabels[s]!, groupBy);
          const key = labelsKey(labels);
          group = groups.get(key);
          if (group === undefined) {
            group = { labels, sums: new Map(), counts: new Map() };
            groups.set(key, group);
          }
          groupOfSeries.set(s, group);
        }
        const value = sampleLevel
          ? rowValue(profiles, row, mask, prepared.spanIds, prepared.traceIds)
          : Number(profiles.totals[row]!);
        if (sampleLevel && value === 0) continue;
        const timeMs = Number(profiles.timeNanos[row]! / 1_000_000n);
        const edge = align + Math.ceil((timeMs - align) / step) * step;
        const previous = group.sums.get(edge);
        if (previous === undefined) {
          if (++pointCount > MAX_SERIES_POINTS) {
            throw new KilnError(
              "resource_exhausted",
              "too_many_points",
              `the answer would exceed ${MAX_SERIES_POINTS} points; use a larger step or fewer groups`,
            );
          }
          group.sums.set(edge, value);
          group.counts.set(edge, 1);
        } else {
          group.sums.set(edge, previous + value);
          group.counts.set(edge, group.counts.get(edge)! + 1);
        }
      }
    });
    let results = [...groups.values()].map((group) => {
      const points = [...group.sums.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([timestamp, sum]) => ({
          timestamp,
          value: query.aggregation === "average" ? sum / group.counts.get(timestamp)! : sum,
        }));
      return { labels: group.labels, points };
    });
    results.sort((a, b) => compareLabelSets(a.labels, b.labels));
    const limit = query.limit ?? 0;
    if (limit > 0 && results.length > limit) {
      const total = (r: SeriesResult) => r.points.reduce((sum, p) => sum + p.value, 0);
      const ranked = results.map((r) => ({ r, total: total(r) }));
      ranked.sort((a, b) => b.total - a.total || compareLabelSets(a.r.labels, b.r.labels));
      const kept = new Set(ranked.slice(0, limit).map((x) => x.r));
      results = results.filter((r) => kept.has(r));
    }
    return results;
  }

  // ---- label queries -------------------------------------------------------------------------

  /** Distinct profile type IDs with data in the range (metadata only), sorted. */
  async profileTypes(tenant: string, range: TimeRange): Promise<string[]> {
    const types = new Set<string>();
    for (const hit of await this.#plan(tenant, range, undefined, undefined)) {
      for (const type of hit.dataset.profileTypes) types.add(type);
    }
    return [...types].sort();
  }

  /** Label names of the series matching any of `selectors` (all series when none), sorted. */
  async labelNames(tenant: string, selectors: readonly string[], range: TimeRange): Promise<string[]> {
    const parsed = parseSelectors(selectors);
    const names = new Set<string>();
    if (parsed.length === 0) {
      for (const hit of await this.#plan(tenant, range, undefined, undefined)) {
        for (const name of hit.dataset.labelNames) names.add(name);
      }
    } else {
      await this.#forEachLabelSet(tenant, parsed, range, (labels) => {
        for (const [name] of labels) names.add(name);
      });
    }
    return [...names].sort();
  }

  /** Values of label `name` on the series matching any of `selectors`, sorted. */
  async labelValues(
    tenant: string,
    name: string,
    selectors: readonly string[],
    range: TimeRange,
  ): Promise<string[]> {
    const parsed = parseSelectors(selectors);
    const values = new Set<string>();
    if (parsed.length === 0) {
      await this.#forEachDataset(
        { tenant, range, service: undefined, profileType: undefined },
        { symbols: false, profiles: false },
        (sections) => {
          for (const value of sections.index.postings.get(name)?.keys() ?? []) values.add(value);
        },
      );
    } else {
      await this.#forEachLabelSet(tenant, parsed, range, (labels) => {
        for (const [n, v] of labels) if (n === name) values.add(v);
      });
    }
    values.delete("");
    return [...values].sort();
  }

  /**
   * Label sets of the series matching any of `selectors`, reduced to `labelNames` when given
   * (empty sets dropped), deduplicated and sorted.
   */
  async series(
    tenant: string,
    selectors: readonly string[],
    labelNames: readonly string[],
    range: TimeRange,
  ): Promise<Label[][]> {
    const parsed = parseSelectors(selectors);
    const names = labelNames.length === 0 ? undefined : [...new Set(labelNames)].sort();
    const out = new Map<string, Label[]>();
    await this.#forEachLabelSet(tenant, parsed, range, (labels) => {
      const kept = names === undefined ? [...labels] : project(labels, names);
      if (kept.length === 0) return;
      const key = labelsKey(kept);
      if (!out.has(key)) out.set(key, kept);
    });
    return [...out.values()].sort(compareLabelSets);
  }

  /** Oldest and newest profile time of the tenant (metadata only). */
  async profileStats(tenant: string): Promise<ProfileStats> {
    const hits = await this.#plan(
      tenant,
      { startMs: -TIME_LIMIT_MS, endMs: TIME_LIMIT_MS },
      undefined,
      undefined,
    );
    if (hits.length === 0) return { dataIngested: false, oldestProfileTimeMs: 0, newestProfileTimeMs: 0 };
    let oldest = Number.POSITIVE_INFINITY;
    let newest = Number.NEGATIVE_INFINITY;
    for (const { dataset } of hits) {
      if (dataset.minTimeMs < oldest) oldest = dataset.minTimeMs;
      if (dataset.maxTimeMs > newest) newest = dataset.maxTimeMs;
    }
    return { dataIngested: true, oldestProfileTimeMs: oldest, newestProfileTimeMs: newest };
  }

  // ---- plumbing -------------------------------------------------------------------------------

  async #plan(
    tenant: string,
    range: TimeRange,
    service: string | undefined,
    profileType: string | undefined,
  ): Promise<DatasetHit[]> {
    // Hints longer than any stored text cannot match; the metastore refuses them, so drop them
    // (the matchers still filter).
    if (service !== undefined && service.length > MAX_HINT_CHARS) service = undefined;
    if (profileType !== undefined && profileType.length > MAX_HINT_CHARS) profileType = undefined;
    const hits = await this.metastore.queryDatasets({
      tenant,
      startMs: clampMs(range.startMs),
      endMs: clampMs(range.endMs),
      ...(service === undefined ? {} : { service }),
      ...(profileType === undefined ? {} : { profileType }),
    });
    for (const hit of hits) {
      if (hit.dataset.tenant !== tenant) {
        throw new Error(
          `metastore returned dataset ${hit.dataset.tenant}/${hit.dataset.service} of block ${hit.blockId} for tenant ${tenant}`,
        );
      }
    }
    return hits;
  }

  #sections(hit: DatasetHit, want: { symbols: boolean; profiles: boolean }): Promise<Sections> {
    const { objectKey, dataset } = hit;
    const key = (kind: number) => {
      const ref = dataset.sections.find((s) => s.kind === kind);
      return `${objectKey}@${ref?.offset ?? -1}:${kind}`;
    };
    const index = this.cache.get(
      key(SectionKind.index),
      () => readIndex(this.store, objectKey, dataset),
      indexBytes,
    );
    const symbols = want.symbols
      ? this.cache.get(
          key(SectionKind.symbols),
          () => readSymbols(this.store, objectKey, dataset),
          symbolsBytes,
        )
      : undefined;
    const profiles = want.profiles
      ? this.cache.get(
          key(SectionKind.profiles),
          () => readProfiles(this.store, objectKey, dataset),
          profilesBytes,
        )
      : undefined;
    return Promise.all([index, symbols, profiles]).then(([i, s, p]) => {
      const out: Sections = { index: i };
      if (s !== undefined) out.symbols = s;
      if (p !== undefined) out.profiles = p;
      return out;
    });
  }

  /**
   * Runs `visit` on every planned dataset's sections. Sections are fetched a few datasets at a
   * time; `visit` runs synchronously, one dataset at a time, so it may merge into shared state.
   */
  async #forEachDataset(
    plan: { tenant: string; range: TimeRange; service: string | undefined; profileType: string | undefined },
    want: { symbols: boolean; profiles: boolean },
    visit: (sections: Sections, hit: DatasetHit) => void,
  ): Promise<void> {
    const hits = await this.#plan(plan.tenant, plan.range, plan.service, plan.profileType);
    let next = 0;
    const worker = async () => {
      while (next < hits.length) {
        const hit = hits[next++]!;
        const sections = await this.#sections(hit, want);
        visit(sections, hit);
      }
    };
    const workers: Promise<void>[] = [];
    for (let i = 0; i < Math.min(DATASET_CONCURRENCY, hits.length); i++) workers.push(worker());
    await Promise.all(workers);
  }

  /** Sums each planned dataset per stack node with all the query's filters applied. */
  async #forEachStackDataset(
    prepared: PreparedQuery,
    visit: (sections: Sections, values: Float64Array, magnitude: number) => void,
  ): Promise<void> {
    await this.#forEachDataset(prepared, { symbols: true, profiles: true }, (sections) => {
      const symbols = sections.symbols!;
      const profiles = sections.profiles!;
      const series = selectSeries(sections.index, prepared.selector);
      if (series.length === 0) return;
      let rows = selectProfileRows(profiles, series, prepared.range.startMs, prepared.range.endMs);
      rows = filterProfileIds(profiles, rows, prepared.profileIds);
      if (rows.length === 0) return;
      const sums = emptyStackValues(symbols.stacks.nodeCount);
      if (prepared.traceIds === undefined) {
        sumStackValues(
          profiles,
          rows,
          sums,
          prepared.spanIds === undefined ? {} : { spanIds: prepared.spanIds },
        );
      } else {
        sums.magnitude = sumFiltered(profiles, rows, sums.values, prepared.spanIds, prepared.traceIds);
      }
      if (prepared.callSite !== undefined) {
        const mask = callSiteMask(symbols, prepared.callSite);
        const values = sums.values;
        for (let i = 0; i < values.length; i++) if (mask[i] === 0) values[i] = 0;
      }
      if (!sums.values.some((v) => v !== 0)) return;
      visit(sections, sums.values, sums.magnitude);
    });
  }

  /** Runs `visit` on the label set of every series matching any of `selectors` (all if none). */
  async #forEachLabelSet(
    tenant: string,
    selectors: Matcher[][],
    range: TimeRange,
    visit: (labels: Labels) => void,
  ): Promise<void> {
    // Planning hints only when every selector agrees on them.
    const service = commonEquality(selectors, SERVICE_LABEL);
    const profileType = commonEquality(selectors, PROFILE_TYPE_LABEL);
    await this.#forEachDataset(
      { tenant, range, service, profileType },
      { symbols: false, profiles: false },
      (sections) => {
        for (const labels of sections.index.seriesLabels) {
          if (selectors.length === 0 || selectors.some((m) => matchLabels(m, labels))) visit(labels);
        }
      },
    );
  }
}

function needsSymbols(prepared: PreparedQuery): boolean {
  return prepared.callSite !== undefined;
}

function parseSelectors(selectors: readonly string[]): Matcher[][] {
  return selectors.filter((s) => s.trim() !== "").map((s) => parseSelector(s));
}

/** The value every selector requires for `name` with `=`, if they all require the same one. */
function commonEquality(selectors: Matcher[][], name: string): string | undefined {
  if (selectors.length === 0) return undefined;
  let value: string | undefined;
  for (const matchers of selectors) {
    const m = matchers.find((x) => x.name === name && x.type === "=" && x.value !== "");
    if (m === undefined) return undefined;
    if (value !== undefined && value !== m.value) return undefined;
    value = m.value;
  }
  return value;
}

/** The labels of `labels` (sorted) whose names are in `names` (sorted), in order. */
function project(labels: Labels, names: readonly string[]): Label[] {
  const out: Label[] = [];
  for (const label of labels) if (names.includes(label[0])) out.push(label);
  return out.sort(compareLabels);
}

/** Validates and parses a stack query. Throws invalid_argument naming what is wrong. */
function prepare(query: StackQuery): PreparedQuery {
  const profileType = query.profileType;
  try {
    parseProfileTypeId(profileType);
  } catch (err) {
    throw new KilnError("invalid_argument", "invalid_profile_type", (err as Error).message);
  }
  const matchers = parseSelector(query.selector);
  const labelEquals: Label[] = [];
  let service: string | undefined;
  for (const m of matchers) {
    if (m.type !== "=") continue;
    labelEquals.push([m.name, m.value]);
    if (m.name === SERVICE_LABEL && m.value !== "") {
      if (service !== undefined && service !== m.value)
        service = "\u0000"; // contradictory: nothing
      else service = m.value;
    }
  }
  const callSite =
    query.callSite !== undefined && query.callSite.length > 0 ? [...query.callSite] : undefined;
  return {
    tenant: query.tenant,
    range: { startMs: query.startMs, endMs: query.endMs },
    profileType,
    matchers,
    selector: {
      profileType,
      labelEquals,
      match: matchers.length === 0 ? undefined : (labels: Labels) => matchLabels(matchers, labels),
    },
    service,
    callSite,
    spanIds: parseSpanIds(query.spanSelector),
    traceIds: parseTraceIds(query.traceSelector),
    profileIds: parseProfileIds(query.profileIdSelector),
  };
}

function parseSpanIds(ids: readonly string[] | undefined): Set<bigint> | undefined {
  if (ids === undefined || ids.length === 0) return undefined;
  const out = new Set<bigint>();
  for (const id of ids) {
    if (!/^[0-9a-fA-F]{1,16}$/.test(id)) {
      throw new KilnError(
        "invalid_argument",
        "invalid_span_id",
        `invalid span id ${JSON.stringify(id)}: want 16 hex characters`,
      );
    }
    out.add(BigInt(`0x${id}`));
  }
  return out;
}

function parseTraceIds(ids: readonly string[] | undefined): Set<string> | undefined {
  if (ids === undefined || ids.length === 0) return undefined;
  const out = new Set<string>();
  for (const id of ids) {
    if (!/^[0-9a-fA-F]{32}$/.test(id)) {
      throw new KilnError(
        "invalid_argument",
        "invalid_trace_id",
        `invalid trace id ${JSON.stringify(id)}: want 32 hex characters`,
      );
    }
    out.add(id.toLowerCase());
  }
  return out;
}

function parseProfileIds(ids: readonly string[] | undefined): Set<string> | undefined {
  if (ids === undefined || ids.length === 0) return undefined;
  const out = new Set<string>();
  for (const id of ids) {
    const hex = id.replace(/-/g, "").toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(hex)) {
      throw new KilnError(
        "invalid_argument",
        "invalid_profile_id",
        `invalid profile id ${JSON.stringify(id)}: want a UUID`,
      );
    }
    out.add(hex);
  }
  return out;
}

function hexOf(bytes: Uint8Array, offset: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + offset, 16).toString("hex");
}

function filterProfileIds(
  profiles: ProfilesSection,
  rows: Uint32Array,
  ids: Set<string> | undefined,
): Uint32Array {
  if (ids === undefined) return rows;
  return rows.filter((row) => ids.has(hexOf(profiles.profileIds, row * 16)));
}

function sampleSelected(
  profiles: ProfilesSection,
  i: number,
  spanIds: Set<bigint> | undefined,
  traceIds: Set<string> | undefined,
): boolean {
  if (spanIds !== undefined) {
    const spans = profiles.sampleSpanIds;
    if (spans === undefined || !spanIds.has(spans[i]!)) return false;
  }
  if (traceIds !== undefined) {
    const traces = profiles.sampleTraceIds;
    if (traces === undefined || !traceIds.has(hexOf(traces, i * 16))) return false;
  }
  return true;
}

/** Adds the selected samples of `rows` into `values` (per stack node); returns Σ|value|. */
function sumFiltered(
  profiles: ProfilesSection,
  rows: Uint32Array,
  values: Float64Array,
  spanIds: Set<bigint> | undefined,
  traceIds: Set<string> | undefined,
): number {
  const { sampleOffsets, sampleNodes, sampleValues } = profiles;
  let magnitude = 0;
  for (const row of rows) {
    for (let i = sampleOffsets[row]!; i < sampleOffsets[row + 1]!; i++) {
      if (!sampleSelected(profiles, i, spanIds, traceIds)) continue;
      const node = sampleNodes[i]!;
      if (!(node < values.length)) throw new RangeError(`sample node ${node} beyond the stack tree`);
      const value = sampleValues[i]!;
      values[node]! += value;
      magnitude += Math.abs(value);
    }
  }
  return magnitude;
}

/** The sum of a profile's samples that pass the mask and id filters. */
function rowValue(
  profiles: ProfilesSection,
  row: number,
  mask: Uint8Array | undefined,
  spanIds: Set<bigint> | undefined,
  traceIds: Set<string> | undefined,
): number {
  const { sampleOffsets, sampleNodes, sampleValues } = profiles;
  let sum = 0;
  for (let i = sampleOffsets[row]!; i < sampleOffsets[row + 1]!; i++) {
    if (mask !== undefined && mask[sampleNodes[i]!] !== 1) continue;
    if (!sampleSelected(profiles, i, spanIds, traceIds)) continue;
    sum += sampleValues[i]!;
  }
  return sum;
}

/**
 * Stack nodes whose root-first frame names start with `callSite` (1 = selected). One forward
 * pass: a node's match depth follows from its parent's (parents precede children).
 */
export function callSiteMask(symbols: SymbolsSection, callSite: readonly string[]): Uint8Array {
  const { nodeCount, parent, location } = symbols.stacks;
  const want = callSite.length;
  const depth = new Int32Array(nodeCount); // matched prefix length; -1 = diverged
  const mask = new Uint8Array(nodeCount);
  const names: (string | undefined)[] = new Array(symbols.locationCount);
  if (want === 0) return mask.fill(1);
  for (let i = 1; i < nodeCount; i++) {
    const d = depth[parent[i]!]!;
    if (d < 0) {
      depth[i] = -1;
    } else if (d === want) {
      depth[i] = want;
      mask[i] = 1;
    } else {
      const loc = location[i]!;
      let name = names[loc];
      if (name === undefined) {
        name = frameName(symbols, loc);
        names[loc] = name;
      }
      depth[i] = name === callSite[d] ? d + 1 : -1;
      if (depth[i] === want) mask[i] = 1;
    }
  }
  return mask;
}
