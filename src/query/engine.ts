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

import { availableParallelism } from "node:os";
import { readIndex, readProfiles, readRollup, readSymbols } from "../block/block-reader.ts";
import { SectionKind } from "../block/format.ts";
import type { IndexSection } from "../block/index-section.ts";
import { compareLabelSets } from "../block/index-section.ts";
import type { ProfilesSection } from "../block/profiles-section.ts";
import { ROLLUP_KINDS, type RollupSection } from "../block/rollup-section.ts";
import type { SymbolsSection } from "../block/symbols.ts";
import type { DatasetHit, Metastore } from "../metastore/metastore.ts";
import { KilnError } from "../model/errors.ts";
import { compareLabels, type Label, type Labels, labelsKey } from "../model/labels.ts";
import type { Pprof } from "../model/pprof.ts";
import { parseProfileTypeId } from "../model/profile-type.ts";
import { type Matcher, matchLabels, parseSelector } from "../model/selector.ts";
import { nanosToMsFloor } from "../model/time.ts";
import type { ObjectStore } from "../objstore/object-store.ts";
import {
  buildPartialTree,
  mergePartialTree,
  type PartialTree,
  type ProfileSummary,
  partialTreeBytes,
  partialTreeOf,
  profileSummaryBytes,
  summarizeProfiles,
} from "./aggregate.ts";
import { DEFAULT_QUERY_LIMITS, QueryBudget, type QueryLimits } from "./budget.ts";
import type { DatasetTask, DatasetTaskResult } from "./dataset-task.ts";
import { type HeatmapGroup, type HeatmapPoint, type HeatmapSeriesResult, rangeHeatmap } from "./heatmap.ts";
import { emptyStackValues, type StackValues, sumStackValues } from "./merge.ts";
import { PprofBuilder } from "./pprof-out.ts";
import { planRollupRead, type ReadPart } from "./rollup-plan.ts";
import { indexBytes, profilesBytes, rollupBytes, SectionCache, symbolsBytes } from "./section-cache.ts";
import { PROFILE_TYPE_LABEL, type SeriesSelector, selectProfileRows, selectSeries } from "./select.ts";
import { addStackValues, frameName, NameTable, NameTree } from "./tree.ts";
import { WorkerPool } from "./worker-pool.ts";

/** Range used when a request gives neither start nor end (Pyroscope answers "recent data"). */
export const DEFAULT_RANGE_MS = 60 * 60 * 1000;
export const DEFAULT_SECTION_CACHE_BYTES = 256 * 1024 * 1024;
/** Budget of the per-dataset aggregate cache (partial name trees, profile summaries). */
export const DEFAULT_AGGREGATE_CACHE_BYTES = 256 * 1024 * 1024;
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
  /** Per-query guard rails (budget.ts); unset fields take DEFAULT_QUERY_LIMITS. */
  limits?: Partial<QueryLimits>;
  now?: () => number;
  /**
   * Budget in bytes of the aggregate cache (0 disables it): per dataset wholly inside a query's
   * range, the selected series' name tree and the per-profile totals, so long ranges merge
   * small cached results instead of decoding profiles sections.
   */
  aggregateCacheBytes?: number;
  /**
   * Worker threads decoding and summing datasets (default: available parallelism; 0 = all on
   * the calling thread). Answers are identical whatever the size.
   */
  workers?: number;
  /**
   * Read the rollup sections of compacted blocks where whole buckets lie inside the range
   * (default true). Answers are identical either way; false is for comparison and tests.
   */
  rollups?: boolean;
  /**
   * The folder of a filesystem `store` (FsObjectStore.root): the worker threads then read the
   * sections of their tasks themselves, off the main thread. Unset: the main thread reads.
   */
  objectsDir?: string;
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
  /** Aborts the query (client gone, RPC deadline); combined with the engine's timeout. */
  signal?: AbortSignal;
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
  /** Exemplars per point: the top profile ("individual") or span ("span"); absent = none. */
  exemplars?: "individual" | "span";
}

export interface SeriesPoint {
  timestamp: number;
  value: number;
  /** With `exemplars` set: the point's top profile (INDIVIDUAL) or span (SPAN). */
  exemplars?: SeriesExemplar[];
}

export interface SeriesExemplar {
  /** ms: the profile's time (SPAN: the latest profile holding the span in the step). */
  timestamp: number;
  /** UUID (INDIVIDUAL), "" for SPAN. */
  profileId: string;
  /** 16 hex chars (SPAN), "" for INDIVIDUAL. */
  spanId: string;
  value: number;
  /** The profile's series labels that are not on the answer series (not grouped by). */
  labels: Label[];
}

/** Exemplars kept per point (Pyroscope's DefaultMaxExemplarsPerPoint). */
export const EXEMPLARS_PER_POINT = 1;

export interface HeatmapQuery extends StackQuery {
  /** Slot width in ms (> 0). */
  stepMs: number;
  groupBy: readonly string[];
  /** INDIVIDUAL: one point per profile (its total); SPAN: one per span per profile. */
  type: "individual" | "span";
  exemplars: boolean;
  /** Top-N series by point count; 0/absent = all. */
  limit?: number;
}

export interface SeriesResult {
  labels: Label[];
  points: SeriesPoint[];
}

/** What a query would touch, per storage scope (AnalyzeQuery). */
export interface QueryScopeStats {
  /** "segments" (level-0 blocks as written by ingest) or "compacted blocks" (level ≥ 1). */
  componentType: string;
  /** Processes serving the scope: Kiln serves every scope from this one process. */
  componentCount: number;
  blockCount: number;
  seriesCount: number;
  profileCount: number;
  sampleCount: number;
  /** Stored bytes of the index / profiles / symbols sections of the datasets with matches. */
  indexBytes: number;
  profileBytes: number;
  symbolBytes: number;
}

export interface QueryAnalysis {
  scopes: QueryScopeStats[];
  /** Σ index + profile + symbol bytes over the scopes: what the query reads. */
  totalBytesInTimeRange: number;
  totalQueriedSeries: number;
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
  /** The rollups of `Want.rollups`, in that order (finest first). */
  rollups?: RollupSection[];
}

/** Which sections of a dataset a step reads (the index always). */
interface Want {
  symbols: boolean;
  profiles: boolean;
  /** Rollup kinds to read, finest first. */
  rollups?: readonly RollupKind[];
}

export class QueryEngine {
  readonly store: ObjectStore;
  readonly metastore: Metastore;
  readonly cache: SectionCache;
  /** Per-dataset aggregates (aggregate.ts), keyed by what they depend on. */
  readonly aggregates: SectionCache;
  readonly limits: Readonly<QueryLimits>;
  readonly #now: () => number;
  readonly #pool: WorkerPool | undefined;
  readonly #rollups: boolean;
  /** Partial trees one query computes ahead of merging them. */
  readonly #prefetchMax: number;

  constructor(options: QueryEngineOptions) {
    this.store = options.store;
    this.metastore = options.metastore;
    this.cache = new SectionCache(options.cacheBytes ?? DEFAULT_SECTION_CACHE_BYTES);
    this.limits = Object.freeze({ ...DEFAULT_QUERY_LIMITS, ...definedOnly(options.limits ?? {}) });
    for (const [name, value] of Object.entries(this.limits)) {
      if (!(value > 0)) throw new RangeError(`query limit ${name} must be positive, got ${value}`);
    }
    this.#now = options.now ?? Date.now;
    this.aggregates = new SectionCache(options.aggregateCacheBytes ?? DEFAULT_AGGREGATE_CACHE_BYTES);
    const workers = options.workers ?? availableParallelism();
    if (!(Number.isInteger(workers) && workers >= 0)) throw new RangeError(`workers ${workers} invalid`);
    this.#pool =
      workers > 0
        ? new WorkerPool(workers, options.objectsDir === undefined ? {} : { objectsDir: options.objectsDir })
        : undefined;
    this.#rollups = options.rollups ?? true;
    this.#prefetchMax = Math.max(DATASET_CONCURRENCY, 4 * workers);
  }

  /** Worker threads of the pool (0 = in-process). */
  get workers(): number {
    return this.#pool?.size ?? 0;
  }

  /** Starts the worker threads now instead of at the first query (see WorkerPool.start). */
  startWorkers(): void {
    this.#pool?.start();
  }

  /** Stops the worker threads (idle workers never keep the process alive; this frees them). */
  async close(): Promise<void> {
    await this.#pool?.close();
  }

  /** A fresh budget for one query (exposed for tests and callers that run several steps). */
  budget(signal?: AbortSignal): QueryBudget {
    return new QueryBudget(this.limits, signal);
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
    const budget = this.budget(query.signal);
    const tree = new NameTree(names);
    if (aggregatable(prepared) && this.aggregates.maxBytes > 0) {
      await this.#mergeTreeAggregated(prepared, budget, tree);
      return tree;
    }
    await this.#forEachStackDataset(prepared, budget, (sections, values, magnitude) => {
      addStackValues(tree, sections.symbols!, values, magnitude);
      budget.setState(nameTreeBytes(tree));
    });
    return tree;
  }

  /** The merged pprof of a stack query: one sample per distinct stack. */
  async mergePprof(query: StackQuery): Promise<Pprof> {
    const prepared = prepare(query);
    const budget = this.budget(query.signal);
    const builder = new PprofBuilder();
    let state = 0;
    await this.#forEachStackDataset(prepared, budget, (sections, values) => {
      builder.add(sections.symbols!, values);
      // Upper bound: the output holds at most every input stack node and its location.
      state += sections.symbols!.stacks.nodeCount * PPROF_NODE_BYTES;
      budget.setState(state);
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
    const budget = this.budget(query.signal);
    const align = query.alignMs ?? prepared.range.startMs;
    const step = query.stepMs;
    const groupBy = [...new Set(query.groupBy)].sort();
    interface Group {
      labels: Label[];
      sums: Map<number, number>;
      counts: Map<number, number>;
      best: Map<number, SeriesExemplar>;
      spans: Map<number, Map<bigint, { value: number; timestamp: number; labels: Label[] }>>;
    }
    const exemplarType = query.exemplars;
    let exemplarEntries = 0;
    const groups = new Map<string, Group>();
    let pointCount = 0;
    const visitRows = (
      index: IndexSection,
      series: Uint32Array,
      profiles: ProfileColumns,
      full: ProfilesSection | undefined,
      symbols: SymbolsSection | undefined,
      part: ReadPart = { source: "raw", fromMs: prepared.range.startMs, toMs: prepared.range.endMs },
      profileCounts?: Uint32Array,
    ) => {
      let rows = selectProfileRows(profiles, series, part.fromMs, part.toMs);
      rows = filterProfileIds(profiles, rows, prepared.profileIds);
      const mask = prepared.callSite ? callSiteMask(symbols!, prepared.callSite) : undefined;
      const sampleLevel =
        mask !== undefined || prepared.spanIds !== undefined || prepared.traceIds !== undefined;
      const groupOf = seriesGroups(index, groupBy, groups, (labels) => ({
        labels,
        sums: new Map(),
        counts: new Map(),
        best: new Map(),
        spans: new Map(),
      }));
      for (const row of rows) {
        const s = profiles.seriesIndex[row]!;
        const group = groupOf(s);
        const value = sampleLevel
          ? rowValue(full!, row, mask, prepared.spanIds, prepared.traceIds)
          : Number(profiles.totals[row]!);
        if (sampleLevel && value === 0) continue;
        const timeMs = nanosToMsFloor(profiles.timeNanos[row]!);
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
          group.counts.set(edge, profileCounts?.[row] ?? 1);
          if ((pointCount & 1023) === 0) budget.setState(pointCount * SERIES_POINT_BYTES);
        } else {
          group.sums.set(edge, previous + value);
          group.counts.set(edge, group.counts.get(edge)! + (profileCounts?.[row] ?? 1));
        }
        if (exemplarType === "individual") {
          const best = group.best.get(edge);
          if (best === undefined || value > best.value) {
            group.best.set(edge, {
              timestamp: timeMs,
              profileId: uuidOf(profiles.profileIds, row),
              spanId: "",
              value,
              labels: without(index.seriesLabels[s]!, groupBy),
            });
          }
        } else if (exemplarType === "span" && full?.sampleSpanIds !== undefined) {
          let spans = group.spans.get(edge);
          if (spans === undefined) {
            spans = new Map();
            group.spans.set(edge, spans);
          }
          for (const [span, spanValue] of rowSpanSums(
            full!,
            row,
            mask,
            prepared.spanIds,
            prepared.traceIds,
          )) {
            const entry = spans.get(span);
            if (entry === undefined) {
              spans.set(span, {
                value: spanValue,
                timestamp: timeMs,
                labels: without(index.seriesLabels[s]!, groupBy),
              });
              if ((++exemplarEntries & 1023) === 0)
                budget.setState((pointCount + exemplarEntries) * SERIES_POINT_BYTES);
            } else {
              entry.value += spanValue;
              if (timeMs > entry.timestamp) entry.timestamp = timeMs;
            }
          }
        }
      }
    };
    const perSample =
      needsSymbols(prepared) ||
      prepared.spanIds !== undefined ||
      prepared.traceIds !== undefined ||
      exemplarType === "span";
    if (!perSample && this.aggregates.maxBytes > 0) {
      // Per-profile totals only: the cached summaries stand in for the profiles sections.
      const hits = await this.#plan(
        budget,
        prepared.tenant,
        prepared.range,
        prepared.service,
        prepared.profileType,
      );
      await this.#forEachHit(hits, budget, async (hit) => {
        const { index, series } = await this.#selectedSeries(hit, prepared, budget);
        if (series.length === 0) return;
        // Rollup rows carry no profile ids: not for exemplars of single profiles.
        const { parts, rollups } =
          exemplarType === "individual" || !rollupEligible(prepared)
            ? { parts: undefined, rollups: [] }
            : await this.#seriesRollupPlan(hit, prepared.range, step, align, budget);
        // The raw per-profile columns, read once for however many raw parts there are.
        let summary: ProfileSummary | undefined;
        const rawSummary = async (): Promise<ProfileSummary> => {
          if (summary !== undefined) return summary;
          const key = summaryKey(hit);
          if (!this.aggregates.has(key))
            budget.read(sectionBytesOf(hit, PROFILES_ONLY) - sectionBytesOf(hit, NO_DATA));
          summary = await this.aggregates.get(key, () => this.#computeSummary(hit), profileSummaryBytes);
          budget.check();
          return summary;
        };
        for (const part of parts ?? [undefined]) {
          if (part !== undefined && part.source !== "raw") {
            const rollup = rollups[part.source]!;
            visitRows(index, series, rollup.rows, undefined, undefined, part, rollup.profileCounts);
          } else {
            visitRows(index, series, await rawSummary(), undefined, undefined, part);
          }
        }
      });
    } else {
      await this.#forEachDataset(
        prepared,
        budget,
        { symbols: needsSymbols(prepared), profiles: true },
        (sections) => {
          const series = selectSeries(sections.index, prepared.selector);
          if (series.length === 0) return;
          visitRows(sections.index, series, sections.profiles!, sections.profiles!, sections.symbols);
        },
      );
    }
    let results = [...groups.values()].map((group) => {
      const points = [...group.sums.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([timestamp, sum]): SeriesPoint => {
          const point: SeriesPoint = {
            timestamp,
            value: query.aggregation === "average" ? sum / group.counts.get(timestamp)! : sum,
          };
          const exemplars = exemplarsOf(group, timestamp);
          if (exemplars.length > 0) point.exemplars = exemplars;
          return point;
        });
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

  /**
   * Heatmap points of a query, bucketed by heatmap.ts: per profile (INDIVIDUAL: value = the
   * profile total) or per span per profile (SPAN: value = the span's samples summed), grouped
   * by `groupBy`. Reads from `start − step` so the first slot is whole (as Pyroscope).
   */
  async selectHeatmap(query: HeatmapQuery): Promise<HeatmapSeriesResult[]> {
    if (!(query.stepMs > 0) || !Number.isFinite(query.stepMs)) {
      throw new KilnError("invalid_argument", "invalid_step", `step must be a positive number of seconds`);
    }
    const startMs = query.startMs;
    const prepared = prepare({ ...query, startMs: query.startMs - query.stepMs });
    const budget = this.budget(query.signal);
    const groupBy = [...new Set(query.groupBy)].sort();
    const groups = new Map<string, HeatmapGroup>();
    let pointCount = 0;
    const addPoint = (group: HeatmapGroup, point: HeatmapPoint) => {
      group.points.push(point);
      if (++pointCount > MAX_SERIES_POINTS) {
        throw new KilnError(
          "resource_exhausted",
          "too_many_points",
          `the heatmap would hold more than ${MAX_SERIES_POINTS} points; narrow the time range or the selector`,
        );
      }
      if ((pointCount & 1023) === 0) budget.setState(pointCount * HEATMAP_POINT_BYTES);
    };
    await this.#forEachDataset(prepared, budget, { symbols: false, profiles: true }, (sections) => {
      const index = sections.index;
      const profiles = sections.profiles!;
      const series = selectSeries(index, prepared.selector);
      if (series.length === 0) return;
      let rows = selectProfileRows(profiles, series, prepared.range.startMs, prepared.range.endMs);
      rows = filterProfileIds(profiles, rows, prepared.profileIds);
      const groupOf = seriesGroups(
        index,
        groupBy,
        groups,
        (labels): HeatmapGroup => ({ labels, points: [] }),
      );
      for (const row of rows) {
        const s = profiles.seriesIndex[row]!;
        const group = groupOf(s);
        const timeMs = nanosToMsFloor(profiles.timeNanos[row]!);
        const labels = index.seriesLabels[s]!;
        if (query.type === "individual") {
          const filtered = prepared.spanIds !== undefined || prepared.traceIds !== undefined;
          const value = filtered
            ? rowValue(profiles, row, undefined, prepared.spanIds, prepared.traceIds)
            : Number(profiles.totals[row]!);
          if (filtered && value === 0) continue;
          addPoint(group, { timeMs, value, profileId: uuidOf(profiles.profileIds, row), spanId: "", labels });
        } else {
          if (profiles.sampleSpanIds === undefined) continue;
          for (const [span, value] of rowSpanSums(
            profiles,
            row,
            undefined,
            prepared.spanIds,
            prepared.traceIds,
          )) {
            addPoint(group, { timeMs, value, profileId: "", spanId: spanHex(span), labels });
          }
        }
      }
    });
    return rangeHeatmap([...groups.values()], {
      startMs,
      endMs: query.endMs,
      stepMs: query.stepMs,
      groupBy,
      exemplars: query.exemplars,
      limit: query.limit ?? 0,
    });
  }

  /**
   * The cost of a stack query without running it: per scope (segments, compacted blocks) the
   * blocks, series, profiles and samples it selects in the range and the stored bytes of the
   * sections it would read. Reads the index and profiles sections (counting needs them).
   */
  async analyzeQuery(query: StackQuery): Promise<QueryAnalysis> {
    const prepared = prepare(query);
    const budget = this.budget(query.signal);
    const scopes = new Map<string, QueryScopeStats & { blocks: Set<string> }>();
    await this.#forEachDataset(prepared, budget, { symbols: false, profiles: true }, (sections, hit) => {
      const profiles = sections.profiles!;
      const series = selectSeries(sections.index, prepared.selector);
      if (series.length === 0) return;
      let rows = selectProfileRows(profiles, series, prepared.range.startMs, prepared.range.endMs);
      rows = filterProfileIds(profiles, rows, prepared.profileIds);
      if (rows.length === 0) return;
      const componentType = hit.level === 0 ? "segments" : "compacted blocks";
      let scope = scopes.get(componentType);
      if (scope === undefined) {
        scope = {
          componentType,
          componentCount: 1,
          blockCount: 0,
          seriesCount: 0,
          profileCount: 0,
          sampleCount: 0,
          indexBytes: 0,
          profileBytes: 0,
          symbolBytes: 0,
          blocks: new Set(),
        };
        scopes.set(componentType, scope);
      }
      scope.blocks.add(hit.blockId);
      const seen = new Set<number>();
      for (const row of rows) {
        seen.add(profiles.seriesIndex[row]!);
        scope.sampleCount += profiles.sampleOffsets[row + 1]! - profiles.sampleOffsets[row]!;
      }
      scope.seriesCount += seen.size;
      scope.profileCount += rows.length;
      for (const ref of hit.dataset.sections) {
        if (ref.kind === SectionKind.index) scope.indexBytes += ref.sizeBytes;
        else if (ref.kind === SectionKind.profiles) scope.profileBytes += ref.sizeBytes;
        else if (ref.kind === SectionKind.symbols) scope.symbolBytes += ref.sizeBytes;
      }
    });
    const out: QueryScopeStats[] = [];
    for (const type of ["segments", "compacted blocks"]) {
      const scope = scopes.get(type);
      if (scope === undefined) continue;
      const { blocks, ...stats } = scope;
      out.push({ ...stats, blockCount: blocks.size });
    }
    return {
      scopes: out,
      totalBytesInTimeRange: out.reduce((n, s) => n + s.indexBytes + s.profileBytes + s.symbolBytes, 0),
      totalQueriedSeries: out.reduce((n, s) => n + s.seriesCount, 0),
    };
  }

  // ---- label queries -------------------------------------------------------------------------

  /** Distinct profile type IDs with data in the range (metadata only), sorted. */
  async profileTypes(tenant: string, range: TimeRange, signal?: AbortSignal): Promise<string[]> {
    const types = new Set<string>();
    const budget = this.budget(signal);
    for (const hit of await this.#plan(budget, tenant, range, undefined, undefined)) {
      for (const type of hit.dataset.profileTypes) types.add(type);
    }
    return [...types].sort();
  }

  /** Label names of the series matching any of `selectors` (all series when none), sorted. */
  async labelNames(
    tenant: string,
    selectors: readonly string[],
    range: TimeRange,
    signal?: AbortSignal,
  ): Promise<string[]> {
    const parsed = parseSelectors(selectors);
    const names = new Set<string>();
    const budget = this.budget(signal);
    if (parsed.length === 0) {
      for (const hit of await this.#plan(budget, tenant, range, undefined, undefined)) {
        for (const name of hit.dataset.labelNames) names.add(name);
      }
    } else {
      await this.#forEachLabelSet(budget, tenant, parsed, range, (labels) => {
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
    signal?: AbortSignal,
  ): Promise<string[]> {
    const parsed = parseSelectors(selectors);
    const values = new Set<string>();
    const budget = this.budget(signal);
    if (parsed.length === 0) {
      await this.#forEachDataset(
        { tenant, range, service: undefined, profileType: undefined },
        budget,
        { symbols: false, profiles: false },
        (sections) => {
          for (const value of sections.index.postings.get(name)?.keys() ?? []) values.add(value);
        },
      );
    } else {
      await this.#forEachLabelSet(budget, tenant, parsed, range, (labels) => {
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
    signal?: AbortSignal,
  ): Promise<Label[][]> {
    const parsed = parseSelectors(selectors);
    const names = labelNames.length === 0 ? undefined : [...new Set(labelNames)].sort();
    const out = new Map<string, Label[]>();
    const budget = this.budget(signal);
    await this.#forEachLabelSet(budget, tenant, parsed, range, (labels) => {
      const kept = names === undefined ? [...labels] : project(labels, names);
      if (kept.length === 0) return;
      const key = labelsKey(kept);
      if (!out.has(key)) out.set(key, kept);
    });
    return [...out.values()].sort(compareLabelSets);
  }

  /** Oldest and newest profile time of the tenant (metadata only). */
  async profileStats(tenant: string, signal?: AbortSignal): Promise<ProfileStats> {
    const hits = await this.#plan(
      this.budget(signal),
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
    budget: QueryBudget,
    tenant: string,
    range: TimeRange,
    service: string | undefined,
    profileType: string | undefined,
  ): Promise<DatasetHit[]> {
    // Hints longer than any stored text cannot match; the metastore refuses them, so drop them
    // (the matchers still filter).
    if (service !== undefined && service.length > MAX_HINT_CHARS) service = undefined;
    if (profileType !== undefined && profileType.length > MAX_HINT_CHARS) profileType = undefined;
    budget.check();
    const hits = await this.metastore.queryDatasets({
      tenant,
      startMs: clampMs(range.startMs),
      endMs: clampMs(range.endMs),
      ...(service === undefined ? {} : { service }),
      ...(profileType === undefined ? {} : { profileType }),
    });
    budget.check();
    for (const hit of hits) {
      if (hit.dataset.tenant !== tenant) {
        throw new Error(
          `metastore returned dataset ${hit.dataset.tenant}/${hit.dataset.service} of block ${hit.blockId} for tenant ${tenant}`,
        );
      }
    }
    return hits;
  }

  #sections(hit: DatasetHit, want: Want): Promise<Sections> {
    const { objectKey, dataset } = hit;
    const key = (kind: number) => sectionKey(hit, kind);
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
    const rollups = want.rollups
      ? Promise.all(
          want.rollups.map((kind) =>
            this.cache.get(key(kind), () => readRollup(this.store, objectKey, dataset, kind), rollupBytes),
          ),
        )
      : undefined;
    return Promise.all([index, symbols, profiles, rollups]).then(([i, s, p, r]) => {
      const out: Sections = { index: i };
      if (s !== undefined) out.symbols = s;
      if (p !== undefined) out.profiles = p;
      if (r !== undefined) out.rollups = r;
      return out;
    });
  }

  /**
   * Runs `visit` on every planned dataset's sections. Sections are fetched a few datasets at a
   * time; `visit` runs synchronously, one dataset at a time, so it may merge into shared state.
   */
  async #forEachDataset(
    plan: { tenant: string; range: TimeRange; service: string | undefined; profileType: string | undefined },
    budget: QueryBudget,
    wantOf: Want | ((hit: DatasetHit) => Want),
    visit: (sections: Sections, hit: DatasetHit) => void,
  ): Promise<void> {
    const hits = await this.#plan(budget, plan.tenant, plan.range, plan.service, plan.profileType);
    await this.#forEachHit(hits, budget, async (hit) => {
      const want = typeof wantOf === "function" ? wantOf(hit) : wantOf;
      budget.read(sectionBytesOf(hit, want));
      const sections = await this.#sections(hit, want);
      budget.check();
      const decoded = decodedBytesOf(sections);
      budget.hold(decoded);
      try {
        visit(sections, hit);
      } finally {
        budget.release(decoded);
      }
    });
  }

  /** Sums each planned dataset per stack node with all the query's filters applied. */
  async #forEachStackDataset(
    prepared: PreparedQuery,
    budget: QueryBudget,
    visit: (sections: Sections, values: Float64Array, magnitude: number) => void,
  ): Promise<void> {
    await this.#forEachDataset(
      prepared,
      budget,
      (hit) => this.#stackWant(prepared, hit),
      (sections, hit) => this.#sumDataset(prepared, budget, sections, visit, hit),
    );
  }

  /**
   * What a stack query reads of a dataset: with rollups, a dataset wholly inside the range
   * needs only its coarsest rollup; one at an edge needs the raw profiles for the ragged ends.
   */
  #stackWant(prepared: PreparedQuery, hit: DatasetHit): Want {
    const kinds = this.#rollups && rollupEligible(prepared) ? rollupKindsOf(hit) : [];
    if (kinds.length === 0) return { symbols: true, profiles: true };
    if (coversDataset(prepared.range, hit))
      return { symbols: true, profiles: false, rollups: kinds.slice(-1) };
    return { symbols: true, profiles: true, rollups: kinds };
  }

  /** One dataset of #forEachStackDataset: select, sum with the filters, visit non-empty sums. */
  #sumDataset(
    prepared: PreparedQuery,
    budget: QueryBudget,
    sections: Sections,
    visit: (sections: Sections, values: Float64Array, magnitude: number) => void,
    hit: DatasetHit,
  ): void {
    const symbols = sections.symbols!;
    const series = selectSeries(sections.index, prepared.selector);
    if (series.length === 0) return;
    const rollups = sections.rollups ?? [];
    const { startMs, endMs } = prepared.range;
    const scratch = symbols.stacks.nodeCount * 8;
    const sums = emptyStackValues(symbols.stacks.nodeCount);
    if (rollups.length > 0 && rollupEligible(prepared)) {
      // Rollup rows where whole buckets fit, raw profiles for the rest: the same samples.
      budget.hold(scratch);
      const parts = planRollupRead(
        rollups.map((r) => r.bucketMs),
        { startMs, endMs, whole: coversDataset(prepared.range, hit) },
      );
      for (const part of parts) {
        const rows = part.source === "raw" ? sections.profiles! : rollups[part.source]!.rows;
        sumStackValues(rows, selectProfileRows(rows, series, part.fromMs, part.toMs), sums);
      }
    } else {
      const profiles = sections.profiles!;
      let rows = selectProfileRows(profiles, series, startMs, endMs);
      rows = filterProfileIds(profiles, rows, prepared.profileIds);
      if (rows.length === 0) return;
      budget.hold(scratch);
      this.#sumRows(prepared, profiles, rows, sums);
    }
    if (prepared.callSite !== undefined) {
      const mask = callSiteMask(symbols, prepared.callSite);
      const values = sums.values;
      for (let i = 0; i < values.length; i++) if (mask[i] === 0) values[i] = 0;
    }
    try {
      if (!sums.values.some((v) => v !== 0)) return;
      visit(sections, sums.values, sums.magnitude);
    } finally {
      budget.release(scratch);
    }
  }

  /** Sums raw profile rows with the query's per-sample filters. */
  #sumRows(prepared: PreparedQuery, profiles: ProfilesSection, rows: Uint32Array, sums: StackValues): void {
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
  }

  /**
   * mergeTree without sample filters: datasets wholly inside the range merge their cached
   * partial tree (computed on a worker on a miss); datasets at the range's edges take the
   * exact per-sample path. Same tree either way: every sum is of the same integers.
   */
  async #mergeTreeAggregated(prepared: PreparedQuery, budget: QueryBudget, tree: NameTree): Promise<void> {
    const visit = (sections: Sections, values: Float64Array, magnitude: number) => {
      addStackValues(tree, sections.symbols!, values, magnitude);
      budget.setState(nameTreeBytes(tree));
    };
    const hits = await this.#plan(
      budget,
      prepared.tenant,
      prepared.range,
      prepared.service,
      prepared.profileType,
    );
    const whole: { hit: DatasetHit; series: Uint32Array; key: string; partial?: Promise<PartialTree> }[] = [];
    // Partial trees not yet cached start computing as soon as a dataset's series are known,
    // so the workers sum while this thread still reads index sections; a few at a time.
    const started = new Set<Promise<unknown>>();
    const startPartial = async (
      hit: DatasetHit,
      series: Uint32Array,
      key: string,
    ): Promise<{ partial: Promise<PartialTree> }> => {
      while (started.size >= this.#prefetchMax) await Promise.race(started);
      budget.check();
      const bytes = sectionBytesOf(hit, this.#wholeWant(hit)) - sectionBytesOf(hit, NO_DATA);
      budget.read(bytes);
      budget.hold(bytes);
      // A computed partial is held until merged (below): the budget sees every one waiting.
      const partial = this.aggregates
        .get(key, () => this.#computePartial(hit, series), partialTreeBytes)
        .finally(() => budget.release(bytes))
        .then((tree) => {
          budget.hold(partialTreeBytes(tree));
          return tree;
        });
      const settled: Promise<void> = partial.then(
        () => {
          started.delete(settled);
        },
        () => {
          started.delete(settled);
        },
      );
      started.add(settled);
      // Wrapped, so that awaiting the start does not await the computation.
      return { partial };
    };
    // Edges: the exact per-sample path. Whole datasets: their series first (index sections).
    await this.#forEachHit(hits, budget, async (hit) => {
      if (!coversDataset(prepared.range, hit)) {
        const want = this.#stackWant(prepared, hit);
        budget.read(sectionBytesOf(hit, want));
        const sections = await this.#sections(hit, want);
        budget.check();
        const decoded = decodedBytesOf(sections);
        budget.hold(decoded);
        try {
          this.#sumDataset(prepared, budget, sections, visit, hit);
        } finally {
          budget.release(decoded);
        }
        return;
      }
      const { series } = await this.#selectedSeries(hit, prepared, budget);
      if (series.length === 0) return;
      const key = `${datasetKey(hit)}|tree|${prepared.profileType}|${seriesKey(series)}`;
      const entry: (typeof whole)[number] = { hit, series, key };
      whole.push(entry);
      if (!this.aggregates.has(key)) {
        const { partial } = await startPartial(hit, series, key);
        // Awaited below (or dropped when the combined tree is cached): never unhandled.
        partial.catch(() => {});
        entry.partial = partial;
      }
    });
    if (whole.length === 0) return;
    // The merge of all whole datasets is cached too, keyed by their keys: a repeated long
    // range merges one partial tree (names are matched by text, so the tree is the same).
    const keys = whole.map((w) => w.key).sort();
    const combinedKey = `combined|${keys.join("\n")}`;
    const cached = whole.length > 1 ? this.aggregates.lookup<PartialTree>(combinedKey) : undefined;
    const combined = cached === undefined ? undefined : await cached.catch(() => undefined);
    if (combined !== undefined) {
      budget.check();
      mergePartialTree(tree, combined);
      budget.setState(nameTreeBytes(tree));
      return;
    }
    const into = whole.length > 1 ? new NameTree(new NameTable()) : tree;
    await this.#forEachHit(whole, budget, async ({ hit, series, key, partial }) => {
      const merged = await (partial ??
        this.aggregates.get(key, () => this.#computePartial(hit, series), partialTreeBytes));
      budget.check();
      mergePartialTree(into, merged);
      if (partial !== undefined) budget.release(partialTreeBytes(merged));
      budget.setState(nameTreeBytes(into) + (into === tree ? 0 : nameTreeBytes(tree)));
    });
    if (into !== tree) {
      const combined = partialTreeOf(into);
      this.aggregates.put(combinedKey, combined, partialTreeBytes(combined));
      mergePartialTree(tree, combined);
      budget.setState(nameTreeBytes(tree));
    }
  }

  /**
   * The rollup parts of a time series over one dataset (undefined parts: no rollup fits, read
   * the raw profiles). The coarse rollup is read first; the finer one only when the coarse one
   * cannot answer alone (an edge of the range, or a step it does not divide).
   */
  async #seriesRollupPlan(
    hit: DatasetHit,
    range: TimeRange,
    stepMs: number,
    alignMs: number,
    budget: QueryBudget,
  ): Promise<{ parts: ReadPart[] | undefined; rollups: RollupSection[] }> {
    const kinds = this.#rollups ? rollupKindsOf(hit) : [];
    if (kinds.length === 0) return { parts: undefined, rollups: [] };
    const whole = coversDataset(range, hit);
    const read = async (want: RollupKind[]) => {
      budget.read(
        sectionBytesOf(hit, { symbols: false, profiles: false, rollups: want }) -
          sectionBytesOf(hit, NO_DATA),
      );
      const sections = await this.#sections(hit, { symbols: false, profiles: false, rollups: want });
      budget.check();
      return sections.rollups ?? [];
    };
    const options = { startMs: range.startMs, endMs: range.endMs, whole, stepMs, alignMs };
    if (whole) {
      const coarsest = await read(kinds.slice(-1));
      const parts = planRollupRead(
        coarsest.map((r) => r.bucketMs),
        options,
      );
      if (parts.every((p) => p.source !== "raw")) return { parts, rollups: coarsest };
    }
    const rollups = await read(kinds);
    const parts = planRollupRead(
      rollups.map((r) => r.bucketMs),
      options,
    );
    return { parts, rollups };
  }

  /** The series of `hit` a query selects (reads the index section through the section cache). */
  async #selectedSeries(
    hit: DatasetHit,
    prepared: PreparedQuery,
    budget: QueryBudget,
  ): Promise<{ index: IndexSection; series: Uint32Array }> {
    budget.read(sectionBytesOf(hit, NO_DATA));
    const index = (await this.#sections(hit, NO_DATA)).index;
    budget.check();
    return { index, series: selectSeries(index, prepared.selector) };
  }

  /** A dataset's partial tree of `series`: on a worker, or here when that fails or is off. */
  async #computePartial(hit: DatasetHit, series: Uint32Array): Promise<PartialTree> {
    const want = this.#wholeWant(hit);
    const rowsKind = want.rollups?.[0] ?? SectionKind.profiles;
    const useSections =
      this.#pool === undefined ||
      (this.cache.has(sectionKey(hit, SectionKind.symbols)) && this.cache.has(sectionKey(hit, rowsKind)));
    if (!useSections) {
      const result = await this.#runTask(hit, rowsKind, series);
      if (result?.partial !== undefined) return result.partial;
    }
    const sections = await this.#sections(hit, want);
    const rows = sections.rollups?.[0]?.rows ?? sections.profiles!;
    const selected = selectProfileRows(rows, series, -TIME_LIMIT_MS, TIME_LIMIT_MS);
    return buildPartialTree(sections.symbols!, rows, selected);
  }

  /**
   * What the partial tree of a dataset wholly inside a query's range reads: all rows of its
   * coarsest rollup (they add up to every profile of it), or else its profiles.
   */
  #wholeWant(hit: DatasetHit): Want {
    const kinds = this.#rollups ? rollupKindsOf(hit) : [];
    if (kinds.length === 0) return { symbols: true, profiles: true };
    return { symbols: true, profiles: false, rollups: kinds.slice(-1) };
  }

  /** A dataset's per-profile columns: on a worker, or from the decoded section. */
  async #computeSummary(hit: DatasetHit): Promise<ProfileSummary> {
    if (this.#pool !== undefined && !this.cache.has(sectionKey(hit, SectionKind.profiles))) {
      const result = await this.#runTask(hit, SectionKind.profiles, undefined);
      if (result?.summary !== undefined) return result.summary;
    }
    const sections = await this.#sections(hit, { symbols: false, profiles: true });
    return summarizeProfiles(sections.profiles!);
  }

  /**
   * Runs the dataset task on the pool (the main thread only reads the framed bytes); caches
   * the profile summary it yields too. Undefined when the worker failed: the caller redoes
   * the work here, where errors keep their kinds (e.g. BlockFormatError).
   */
  async #runTask(
    hit: DatasetHit,
    rowsKind: number,
    series: Uint32Array | undefined,
  ): Promise<DatasetTaskResult | undefined> {
    const { objectKey, dataset } = hit;
    const refOf = (kind: number) => dataset.sections.find((s) => s.kind === kind);
    const rowsRef = refOf(rowsKind);
    const symbolsRef = refOf(SectionKind.symbols);
    if (rowsRef === undefined || (series !== undefined && symbolsRef === undefined)) return undefined;
    let result: DatasetTaskResult;
    const pool = this.#pool!;
    // Without a store folder for the workers, this thread reads the framed bytes.
    const read = (offset: number, sizeBytes: number) =>
      pool.readsObjects ? undefined : this.store.getRange(objectKey, offset, sizeBytes);
    try {
      const [rows, symbols] = await Promise.all([
        read(rowsRef.offset, rowsRef.sizeBytes),
        series === undefined ? undefined : read(symbolsRef!.offset, symbolsRef!.sizeBytes),
      ]);
      const task: DatasetTask = {
        objectKey,
        dataset: `${dataset.tenant}/${dataset.service}`,
        rows: { kind: rowsKind, offset: rowsRef.offset, sizeBytes: rowsRef.sizeBytes },
      };
      if (rows !== undefined) task.rows.bytes = rows;
      if (series !== undefined) {
        task.symbols = { offset: symbolsRef!.offset, sizeBytes: symbolsRef!.sizeBytes };
        if (symbols !== undefined) task.symbols.bytes = symbols;
        task.series = series;
      }
      result = await pool.run(task);
    } catch {
      return undefined;
    }
    if (result.summary !== undefined)
      this.aggregates.put(summaryKey(hit), result.summary, profileSummaryBytes(result.summary));
    return result;
  }

  /**
   * Runs `work` on every planned dataset, a few at a time (work may await; its synchronous
   * parts may merge into shared state). The first failure stops the others.
   */
  async #forEachHit<T>(
    hits: readonly T[],
    budget: QueryBudget,
    work: (hit: T) => Promise<void>,
  ): Promise<void> {
    let next = 0;
    let failed = false;
    const worker = async () => {
      while (next < hits.length && !failed) {
        const hit = hits[next++]!;
        try {
          budget.check();
          await work(hit);
          if (failed) return;
        } catch (err) {
          failed = true;
          throw err;
        }
      }
    };
    const workers: Promise<void>[] = [];
    for (let i = 0; i < Math.min(DATASET_CONCURRENCY, hits.length); i++) workers.push(worker());
    await Promise.all(workers);
  }

  /** Runs `visit` on the label set of every series matching any of `selectors` (all if none). */
  async #forEachLabelSet(
    budget: QueryBudget,
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
      budget,
      { symbols: false, profiles: false },
      (sections) => {
        for (const labels of sections.index.seriesLabels) {
          if (selectors.length === 0 || selectors.some((m) => matchLabels(m, labels))) visit(labels);
        }
      },
    );
  }
}

const NO_DATA = { symbols: false, profiles: false };
const PROFILES_ONLY = { symbols: false, profiles: true };

type RollupKind = (typeof ROLLUP_KINDS)[number];

/** The rollup kinds a dataset has, finest first (a writer may leave out either width). */
function rollupKindsOf(hit: DatasetHit): RollupKind[] {
  return ROLLUP_KINDS.filter((kind) => hit.dataset.sections.some((s) => s.kind === kind));
}

/** The per-profile columns SelectSeries reads (a ProfilesSection or a cached ProfileSummary). */
type ProfileColumns = Pick<
  ProfilesSection,
  "profileCount" | "seriesIndex" | "timeNanos" | "totals" | "profileIds"
>;

/** The section cache key of one section of a dataset. */
function sectionKey(hit: DatasetHit, kind: number): string {
  const ref = hit.dataset.sections.find((s) => s.kind === kind);
  return `${hit.objectKey}@${ref?.offset ?? -1}:${kind}`;
}

/** Identifies a dataset of an (immutable) block object: its key and profiles section offset. */
function datasetKey(hit: DatasetHit): string {
  return sectionKey(hit, SectionKind.profiles);
}

function summaryKey(hit: DatasetHit): string {
  return `${datasetKey(hit)}|summary`;
}

/** Sorted series ids as runs: "3-7,9,12-40". */
function seriesKey(series: Uint32Array): string {
  const parts: string[] = [];
  for (let i = 0; i < series.length; ) {
    let j = i;
    while (j + 1 < series.length && series[j + 1] === series[j]! + 1) j++;
    parts.push(j === i ? `${series[i]}` : `${series[i]}-${series[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

/** Whether every profile of the dataset lies in the range (so every row of a series is selected). */
function coversDataset(range: TimeRange, hit: DatasetHit): boolean {
  return (
    hit.dataset.minTimeMs >= Math.floor(range.startMs) && hit.dataset.maxTimeMs <= Math.floor(range.endMs)
  );
}

/**
 * Whether rollup rows can stand in for a query's profiles: no filter on what rollups drop
 * (span ids, trace ids, profile ids). A call-site filter masks stack nodes after summing.
 */
function rollupEligible(prepared: PreparedQuery): boolean {
  return (
    prepared.spanIds === undefined && prepared.traceIds === undefined && prepared.profileIds === undefined
  );
}

/**
 * The group of each series of one dataset under `groupBy` (its projected labels), created in
 * `groups` (shared across datasets, by label key) on first use and remembered per series.
 */
function seriesGroups<G>(
  index: IndexSection,
  groupBy: readonly string[],
  groups: Map<string, G>,
  create: (labels: Label[]) => G,
): (series: number) => G {
  const bySeries = new Map<number, G>();
  return (series) => {
    let group = bySeries.get(series);
    if (group === undefined) {
      const labels = project(index.seriesLabels[series]!, groupBy);
      const key = labelsKey(labels);
      group = groups.get(key);
      if (group === undefined) {
        group = create(labels);
        groups.set(key, group);
      }
      bySeries.set(series, group);
    }
    return group;
  };
}

/** Whether a stack query can use the per-dataset aggregates: no per-sample or per-profile filter. */
function aggregatable(prepared: PreparedQuery): boolean {
  return (
    prepared.callSite === undefined &&
    prepared.spanIds === undefined &&
    prepared.traceIds === undefined &&
    prepared.profileIds === undefined
  );
}

/** Estimated bytes per output stack node of a merged pprof (trie arrays, key map, location). */
const PPROF_NODE_BYTES = 48;
/** Estimated bytes per time-series point (two map entries). */
const SERIES_POINT_BYTES = 64;
/** Estimated bytes per heatmap point (object, id strings; labels are shared). */
const HEATMAP_POINT_BYTES = 160;

/** A profile id (16 bytes at `row`) as a UUID, 8-4-4-4-12 lower-case hex. */
export function uuidOf(ids: Uint8Array, row: number): string {
  const h = hexOf(ids, row * 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A span id as the 16 hex chars span selectors take. */
export function spanHex(span: bigint): string {
  return span.toString(16).padStart(16, "0");
}

/** The labels of `labels` whose names are not in `names`. */
function without(labels: Labels, names: readonly string[]): Label[] {
  const out: Label[] = [];
  for (const label of labels) if (!names.includes(label[0])) out.push([label[0], label[1]]);
  return out;
}

/** The exemplars of one series point: the best profile, or the spans with the largest value. */
function exemplarsOf(
  group: {
    best: Map<number, SeriesExemplar>;
    spans: Map<number, Map<bigint, { value: number; timestamp: number; labels: Label[] }>>;
  },
  edge: number,
): SeriesExemplar[] {
  const best = group.best.get(edge);
  if (best !== undefined) return [best];
  const spans = group.spans.get(edge);
  if (spans === undefined) return [];
  return [...spans.entries()]
    .sort((a, b) => b[1].value - a[1].value || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, EXEMPLARS_PER_POINT)
    .map(([span, e]) => ({
      timestamp: e.timestamp,
      profileId: "",
      spanId: spanHex(span),
      value: e.value,
      labels: e.labels,
    }));
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Stored bytes of the sections of `hit` that a query with `want` reads. */
function sectionBytesOf(hit: DatasetHit, want: Want): number {
  let bytes = 0;
  for (const ref of hit.dataset.sections) {
    if (
      ref.kind === SectionKind.index ||
      (want.symbols && ref.kind === SectionKind.symbols) ||
      (want.profiles && ref.kind === SectionKind.profiles) ||
      (want.rollups?.includes(ref.kind as RollupKind) ?? false)
    ) {
      bytes += ref.sizeBytes;
    }
  }
  return bytes;
}

/** Decoded sizes, computed once per (immutable, cached) section object. */
const decodedSizes = new WeakMap<object, number>();

function sizeOnce<T extends object>(section: T, sizeOf: (s: T) => number): number {
  let size = decodedSizes.get(section);
  if (size === undefined) {
    size = sizeOf(section);
    decodedSizes.set(section, size);
  }
  return size;
}

function decodedBytesOf(sections: Sections): number {
  let bytes = sizeOnce(sections.index, indexBytes);
  if (sections.symbols !== undefined) bytes += sizeOnce(sections.symbols, symbolsBytes);
  if (sections.profiles !== undefined) bytes += sizeOnce(sections.profiles, profilesBytes);
  for (const rollup of sections.rollups ?? []) bytes += sizeOnce(rollup, rollupBytes);
  return bytes;
}

/** Estimated bytes of a name table's strings, counted incrementally (tables only grow). */
const nameBytesSeen = new WeakMap<NameTable, { count: number; bytes: number }>();

/** Estimated heap bytes of a name tree: node arrays and hash slots (24 B/node), and its names. */
export function nameTreeBytes(tree: NameTree): number {
  const table = tree.names;
  let seen = nameBytesSeen.get(table);
  if (seen === undefined) {
    seen = { count: 0, bytes: 0 };
    nameBytesSeen.set(table, seen);
  }
  const names = table.names;
  for (; seen.count < names.length; seen.count++) seen.bytes += 48 + 2 * names[seen.count]!.length;
  return tree.nodeCount * 24 + seen.bytes;
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
  profiles: Pick<ProfilesSection, "profileIds">,
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

/** Per span id (samples without one skipped), the sum of a profile's selected samples. */
function rowSpanSums(
  profiles: ProfilesSection,
  row: number,
  mask: Uint8Array | undefined,
  spanIds: Set<bigint> | undefined,
  traceIds: Set<string> | undefined,
): Map<bigint, number> {
  const out = new Map<bigint, number>();
  const spans = profiles.sampleSpanIds;
  if (spans === undefined) return out;
  const { sampleOffsets, sampleNodes, sampleValues } = profiles;
  for (let i = sampleOffsets[row]!; i < sampleOffsets[row + 1]!; i++) {
    const span = spans[i]!;
    if (span === 0n) continue;
    if (mask !== undefined && mask[sampleNodes[i]!] !== 1) continue;
    if (!sampleSelected(profiles, i, spanIds, traceIds)) continue;
    out.set(span, (out.get(span) ?? 0) + sampleValues[i]!);
  }
  return out;
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
