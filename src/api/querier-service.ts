/**
 * `querier.v1.QuerierService` over the query engine (wire reference §4), plus the small
 * services Grafana's Profiles Drilldown calls: `version.v1.Version`,
 * `capabilities.v1.FeatureFlagsService` (settings.v1 is in settings-service.ts).
 *
 * Registered RPCs: ProfileTypes, LabelNames, LabelValues, Series, SelectMergeStacktraces
 * (FLAMEGRAPH, TREE, PPROF, DOT: Graphviz call graph, query/dot.ts), SelectMergeSpanProfile,
 * SelectMergeProfile, SelectSeries (exemplars INDIVIDUAL and SPAN), SelectHeatmap (INDIVIDUAL
 * and SPAN, with exemplars), Diff, GetProfileStats, AnalyzeQuery (per-scope blocks, series,
 * profiles, samples and section bytes a query selects).
 *
 * The tenant of every call comes from the request context (X-Scope-OrgID), via `tenantOf`.
 */
import { create, fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { encodePprof } from "../formats/pprof/encode.ts";
import {
  FeatureFlagSchema,
  FeatureFlagsService,
  GetFeatureFlagsResponseSchema,
} from "../gen/capabilities/v1/capabilities_pb.js";
import { ProfileSchema } from "../gen/google/v1/profile_pb.js";
import {
  AnalyzeQueryResponseSchema,
  DiffResponseSchema,
  type FlameGraphDiff as FlameGraphDiffMessage,
  FlameGraphDiffSchema,
  type FlameGraph as FlameGraphMessage,
  FlameGraphSchema,
  HeatmapQueryType,
  LevelSchema,
  PprofProfileSchema,
  ProfileFormat,
  ProfileTypesResponseSchema,
  QuerierService,
  QueryImpactSchema,
  QueryScopeSchema,
  SelectHeatmapResponseSchema,
  SelectMergeSpanProfileResponseSchema,
  type SelectMergeStacktracesRequest,
  SelectMergeStacktracesResponseSchema,
  SelectSeriesResponseSchema,
  SeriesResponseSchema,
} from "../gen/querier/v1/querier_pb.js";
import {
  ExemplarSchema,
  ExemplarType,
  GetProfileStatsResponseSchema,
  HeatmapSeriesSchema,
  HeatmapSlotSchema,
  LabelNamesResponseSchema,
  LabelPairSchema,
  LabelsSchema,
  LabelValuesResponseSchema,
  PointSchema,
  ProfileTypeSchema,
  SeriesSchema,
  type StackTraceSelector,
  TimeSeriesAggregationType,
} from "../gen/types/v1/types_pb.js";
import { Version, VersionResponseSchema } from "../gen/version/v1/version_pb.js";
import { KilnError } from "../model/errors.ts";
import type { Label } from "../model/labels.ts";
import { parseProfileTypeId } from "../model/profile-type.ts";
import { formatSelector, parseQuery } from "../model/selector.ts";
import { DOT_DEFAULT_MAX_NODES, dotOf } from "../query/dot.ts";
import type { QueryEngine, StackQuery, TimeRange } from "../query/engine.ts";
import { type FlameGraph, type FlameGraphDiff, flameGraph, flameGraphDiff } from "../query/flamegraph.ts";
import { NameTable, NameTree } from "../query/tree.ts";
import { encodeTreeBytes } from "../query/tree-bytes.ts";

/** Flame graph node cap when a request sets none (Pyroscope's tenant default). */
export const DEFAULT_MAX_NODES = 8192;
/** Largest node cap honoured (Pyroscope's tenant maximum); larger requests are capped. */
export const MAX_NODES_LIMIT = 1_048_576;
/** The querier.v1 API version reported by version.v1.Version. */
export const QUERIER_API_VERSION = 1n;

export type TenantOf = (context: HandlerContext) => string;

/** DOT node cap: max_nodes when set (capped), else pprof-sized DOT_DEFAULT_MAX_NODES. */
export function dotMaxNodesOf(requested: bigint | number | undefined): number {
  const n = requested === undefined ? 0 : Number(requested);
  if (!(n > 0)) return DOT_DEFAULT_MAX_NODES;
  return Math.min(n, MAX_NODES_LIMIT);
}

export function maxNodesOf(requested: bigint | number | undefined): number {
  const n = requested === undefined ? 0 : Number(requested);
  if (!(n > 0)) return DEFAULT_MAX_NODES;
  return Math.min(n, MAX_NODES_LIMIT);
}

function ms(value: bigint): number {
  return Number(value);
}

/** Call-site prefix of a stack trace selector (root first); go_pgo is not supported. */
export function callSiteOf(selector: StackTraceSelector | undefined): string[] | undefined {
  if (selector === undefined) return undefined;
  if (selector.goPgo !== undefined) {
    throw new KilnError(
      "unimplemented",
      "go_pgo_unsupported",
      "stack_trace_selector.go_pgo is not supported by this server",
    );
  }
  return selector.callSite.length === 0 ? undefined : selector.callSite.map((l) => l.name);
}

export function flameGraphMessage(graph: FlameGraph): FlameGraphMessage {
  return create(FlameGraphSchema, {
    names: graph.names,
    levels: graph.levels.map((values) => create(LevelSchema, { values: values.map(toInt64) })),
    total: toInt64(graph.total),
    maxSelf: toInt64(graph.maxSelf),
  });
}

export function flameGraphDiffMessage(graph: FlameGraphDiff): FlameGraphDiffMessage {
  return create(FlameGraphDiffSchema, {
    names: graph.names,
    levels: graph.levels.map((values) => create(LevelSchema, { values: values.map(toInt64) })),
    total: toInt64(graph.total),
    maxSelf: toInt64(graph.maxSelf),
    leftTicks: toInt64(graph.leftTicks),
    rightTicks: toInt64(graph.rightTicks),
  });
}

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/** A double holding an integer (possibly beyond 2^53) as int64, saturating like a sum in Go would not wrap. */
function toInt64(value: number): bigint {
  const v = BigInt(Math.trunc(value));
  return v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : v;
}

function labelPairs(labels: readonly Label[]) {
  return labels.map(([name, value]) => create(LabelPairSchema, { name, value }));
}

interface StackRequestFields {
  profileTypeID: string;
  labelSelector: string;
  start: bigint;
  end: bigint;
  stackTraceSelector?: StackTraceSelector | undefined;
  profileIdSelector?: string[];
  traceIdSelector?: string[];
  spanSelector?: string[];
}

export function stackQueryOf(
  engine: QueryEngine,
  tenant: string,
  req: StackRequestFields,
  options: { signal?: AbortSignal; range?: TimeRange } = {},
): StackQuery {
  const r = options.range ?? engine.range(ms(req.start), ms(req.end));
  const callSite = callSiteOf(req.stackTraceSelector);
  return {
    tenant,
    profileType: req.profileTypeID,
    selector: req.labelSelector,
    startMs: r.startMs,
    endMs: r.endMs,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(callSite === undefined ? {} : { callSite }),
    ...(req.spanSelector && req.spanSelector.length > 0 ? { spanSelector: req.spanSelector } : {}),
    ...(req.traceIdSelector && req.traceIdSelector.length > 0 ? { traceSelector: req.traceIdSelector } : {}),
    ...(req.profileIdSelector && req.profileIdSelector.length > 0
      ? { profileIdSelector: req.profileIdSelector }
      : {}),
  };
}

/** SelectSeries exemplar_type → the engine's exemplar kind (undefined = none). */
export function seriesExemplarsOf(type: ExemplarType): "individual" | "span" | undefined {
  switch (type) {
    case ExemplarType.UNSPECIFIED:
    case ExemplarType.NONE:
      return undefined;
    case ExemplarType.INDIVIDUAL:
      return "individual";
    case ExemplarType.SPAN:
      return "span";
    default:
      throw new ConnectError(`unknown exemplar type ${type}`, Code.InvalidArgument);
  }
}

interface ExemplarFields {
  timestamp: number;
  profileId: string;
  spanId: string;
  value: number;
  labels: readonly Label[];
}

function exemplarMessage(e: ExemplarFields) {
  return create(ExemplarSchema, {
    timestamp: BigInt(e.timestamp),
    profileId: e.profileId,
    spanId: e.spanId,
    value: toInt64(e.value),
    labels: labelPairs(e.labels),
  });
}

function unimplementedFormat(name: string): ConnectError {
  return new ConnectError(`profile format ${name} is not supported by this server`, Code.Unimplemented);
}

export function registerQuerierServices(
  router: ConnectRouter,
  engine: QueryEngine,
  tenantOf: TenantOf,
  options: { utf8LabelNames: boolean },
): void {
  const selectMerge = async (req: SelectMergeStacktracesRequest, context: HandlerContext) => {
    const tenant = tenantOf(context);
    const query = stackQueryOf(engine, tenant, req, { signal: context.signal });
    const maxNodes = maxNodesOf(req.maxNodes);
    switch (req.format) {
      case ProfileFormat.UNSPECIFIED:
      case ProfileFormat.FLAMEGRAPH: {
        const tree = await engine.mergeTree(query);
        return create(SelectMergeStacktracesResponseSchema, {
          flamegraph: flameGraphMessage(flameGraph(tree, maxNodes)),
        });
      }
      case ProfileFormat.TREE: {
        const tree = await engine.mergeTree(query);
        return create(SelectMergeStacktracesResponseSchema, { tree: encodeTreeBytes(tree, maxNodes) });
      }
      case ProfileFormat.PPROF: {
        const pprof = await engine.mergePprof(query);
        return create(SelectMergeStacktracesResponseSchema, {
          pprof: create(PprofProfileSchema, { profile: fromBinary(ProfileSchema, encodePprof(pprof)) }),
        });
      }
      case ProfileFormat.DOT: {
        const tree = await engine.mergeTree(query);
        const dot = dotOf(tree, { maxNodes: dotMaxNodesOf(req.maxNodes), profileType: req.profileTypeID });
        return create(SelectMergeStacktracesResponseSchema, { dot });
      }
      default:
        throw new ConnectError(`unknown profile format ${req.format}`, Code.InvalidArgument);
    }
  };

  router.service(QuerierService, {
    async profileTypes(req, context) {
      const tenant = tenantOf(context);
      const ids = await engine.profileTypes(tenant, engine.range(ms(req.start), ms(req.end)), context.signal);
      const profileTypes = [];
      for (const id of ids) {
        let t: ReturnType<typeof parseProfileTypeId>;
        try {
          t = parseProfileTypeId(id);
        } catch {
          continue;
        }
        profileTypes.push(
          create(ProfileTypeSchema, {
            ID: id,
            name: t.name,
            sampleType: t.sampleType,
            sampleUnit: t.sampleUnit,
            periodType: t.periodType,
            periodUnit: t.periodUnit,
          }),
        );
      }
      return create(ProfileTypesResponseSchema, { profileTypes });
    },

    async labelNames(req, context) {
      const tenant = tenantOf(context);
      const names = await engine.labelNames(
        tenant,
        req.matchers,
        engine.range(ms(req.start), ms(req.end)),
        context.signal,
      );
      return create(LabelNamesResponseSchema, { names });
    },

    async labelValues(req, context) {
      const tenant = tenantOf(context);
      if (req.name === "") throw new ConnectError("label name is required", Code.InvalidArgument);
      const names = await engine.labelValues(
        tenant,
        req.name,
        req.matchers,
        engine.range(ms(req.start), ms(req.end)),
        context.signal,
      );
      return create(LabelValuesResponseSchema, { names });
    },

    async series(req, context) {
      const tenant = tenantOf(context);
      const sets = await engine.series(
        tenant,
        req.matchers,
        req.labelNames,
        engine.range(ms(req.start), ms(req.end)),
        context.signal,
      );
      return create(SeriesResponseSchema, {
        labelsSet: sets.map((labels) => create(LabelsSchema, { labels: labelPairs(labels) })),
      });
    },

    selectMergeStacktraces: selectMerge,

    async selectMergeSpanProfile(req, context) {
      const tenant = tenantOf(context);
      const query = stackQueryOf(engine, tenant, req, { signal: context.signal });
      const maxNodes = maxNodesOf(req.maxNodes);
      // An empty span selector selects no sample: the answer is an empty profile.
      const tree = req.spanSelector.length === 0 ? new NameTree() : await engine.mergeTree(query);
      switch (req.format) {
        case ProfileFormat.UNSPECIFIED:
        case ProfileFormat.FLAMEGRAPH:
          return create(SelectMergeSpanProfileResponseSchema, {
            flamegraph: flameGraphMessage(flameGraph(tree, maxNodes)),
          });
        case ProfileFormat.TREE:
          return create(SelectMergeSpanProfileResponseSchema, { tree: encodeTreeBytes(tree, maxNodes) });
        case ProfileFormat.DOT:
          throw unimplementedFormat("PROFILE_FORMAT_DOT");
        case ProfileFormat.PPROF:
          throw unimplementedFormat("PROFILE_FORMAT_PPROF on SelectMergeSpanProfile");
        default:
          throw new ConnectError(`unknown profile format ${req.format}`, Code.InvalidArgument);
      }
    },

    async selectMergeProfile(req, context) {
      const tenant = tenantOf(context);
      const pprof = await engine.mergePprof(stackQueryOf(engine, tenant, req, { signal: context.signal }));
      return fromBinary(ProfileSchema, encodePprof(pprof));
    },

    async selectSeries(req, context) {
      const tenant = tenantOf(context);
      const query = stackQueryOf(engine, tenant, req, { signal: context.signal });
      const limit = req.limit === undefined ? 0 : Number(req.limit);
      const exemplars = seriesExemplarsOf(req.exemplarType);
      const series = await engine.selectSeries({
        ...query,
        stepMs: req.step * 1000,
        groupBy: req.groupBy,
        aggregation: req.aggregation === TimeSeriesAggregationType.AVERAGE ? "average" : "sum",
        limit: Math.max(limit, 0),
        ...(exemplars === undefined ? {} : { exemplars }),
      });
      return create(SelectSeriesResponseSchema, {
        series: series.map((s) =>
          create(SeriesSchema, {
            labels: labelPairs(s.labels),
            points: s.points.map((p) =>
              create(PointSchema, {
                value: p.value,
                timestamp: BigInt(p.timestamp),
                exemplars: (p.exemplars ?? []).map(exemplarMessage),
              }),
            ),
          }),
        ),
      });
    },

    async selectHeatmap(req, context) {
      const tenant = tenantOf(context);
      if (!(req.step > 0) || !Number.isFinite(req.step)) {
        throw new ConnectError(`step must be greater than 0, got ${req.step}`, Code.InvalidArgument);
      }
      if (req.limit !== undefined && req.limit < 0n) {
        throw new ConnectError(`limit must be non-negative, got ${req.limit}`, Code.InvalidArgument);
      }
      let type: "individual" | "span";
      if (req.queryType === HeatmapQueryType.INDIVIDUAL) type = "individual";
      else if (req.queryType === HeatmapQueryType.SPAN) type = "span";
      else {
        throw new ConnectError(
          "query_type must be HEATMAP_QUERY_TYPE_INDIVIDUAL or HEATMAP_QUERY_TYPE_SPAN",
          Code.InvalidArgument,
        );
      }
      let exemplars: boolean;
      switch (req.exemplarType) {
        case ExemplarType.UNSPECIFIED:
        case ExemplarType.NONE:
          exemplars = false;
          break;
        case ExemplarType.INDIVIDUAL:
        case ExemplarType.SPAN: {
          const wanted = req.exemplarType === ExemplarType.INDIVIDUAL ? "individual" : "span";
          if (wanted !== type) {
            throw new ConnectError(
              `${wanted} exemplars are only available for the ${wanted} query type`,
              Code.InvalidArgument,
            );
          }
          exemplars = true;
          break;
        }
        default:
          throw new ConnectError(`unknown exemplar type ${req.exemplarType}`, Code.InvalidArgument);
      }
      const query = stackQueryOf(engine, tenant, req, { signal: context.signal });
      if (query.startMs >= query.endMs) {
        throw new ConnectError(
          `start must be before end, got start=${query.startMs} end=${query.endMs}`,
          Code.InvalidArgument,
        );
      }
      const series = await engine.selectHeatmap({
        ...query,
        stepMs: req.step * 1000,
        groupBy: req.groupBy,
        type,
        exemplars,
        limit: req.limit === undefined ? 0 : Number(req.limit),
      });
      return create(SelectHeatmapResponseSchema, {
        series: series.map((s) =>
          create(HeatmapSeriesSchema, {
            labels: labelPairs(s.labels),
            slots: s.slots.map((slot) =>
              create(HeatmapSlotSchema, {
                timestamp: BigInt(slot.timestamp),
                yMin: slot.yMin,
                counts: slot.counts,
                exemplars: slot.exemplars.map(exemplarMessage),
              }),
            ),
          }),
        ),
      });
    },

    async analyzeQuery(req, context) {
      const tenant = tenantOf(context);
      const parsed = parseQuery(req.query);
      if (parsed.profileTypeId === undefined) {
        throw new ConnectError(
          "query needs a profile type ID before the selector, e.g. process_cpu:cpu:nanoseconds:cpu:nanoseconds{}",
          Code.InvalidArgument,
        );
      }
      const range = engine.range(ms(req.start), ms(req.end));
      const analysis = await engine.analyzeQuery({
        tenant,
        profileType: parsed.profileTypeId,
        selector: formatSelector(parsed.matchers),
        startMs: range.startMs,
        endMs: range.endMs,
        signal: context.signal,
      });
      return create(AnalyzeQueryResponseSchema, {
        queryScopes: analysis.scopes.map((scope) =>
          create(QueryScopeSchema, {
            componentType: scope.componentType,
            componentCount: BigInt(scope.componentCount),
            blockCount: BigInt(scope.blockCount),
            seriesCount: BigInt(scope.seriesCount),
            profileCount: BigInt(scope.profileCount),
            sampleCount: BigInt(scope.sampleCount),
            indexBytes: BigInt(scope.indexBytes),
            profileBytes: BigInt(scope.profileBytes),
            symbolBytes: BigInt(scope.symbolBytes),
          }),
        ),
        queryImpact: create(QueryImpactSchema, {
          totalBytesInTimeRange: BigInt(analysis.totalBytesInTimeRange),
          totalQueriedSeries: BigInt(analysis.totalQueriedSeries),
          deduplicationNeeded: false,
        }),
      });
    },

    async diff(req, context) {
      const tenant = tenantOf(context);
      if (req.left === undefined || req.right === undefined) {
        throw new ConnectError("diff needs both left and right", Code.InvalidArgument);
      }
      const names = new NameTable();
      const left = await engine.mergeTree(
        stackQueryOf(engine, tenant, req.left, { signal: context.signal }),
        names,
      );
      const right = await engine.mergeTree(
        stackQueryOf(engine, tenant, req.right, { signal: context.signal }),
        names,
      );
      const maxNodes = maxNodesOf(req.left.maxNodes ?? req.right.maxNodes);
      return create(DiffResponseSchema, {
        flamegraph: flameGraphDiffMessage(flameGraphDiff(left, right, maxNodes)),
      });
    },

    async getProfileStats(_req, context) {
      const tenant = tenantOf(context);
      const stats = await engine.profileStats(tenant, context.signal);
      return create(GetProfileStatsResponseSchema, {
        dataIngested: stats.dataIngested,
        oldestProfileTime: BigInt(stats.oldestProfileTimeMs),
        newestProfileTime: BigInt(stats.newestProfileTimeMs),
      });
    },
  });

  router.service(Version, {
    version() {
      return create(VersionResponseSchema, { QuerierAPI: QUERIER_API_VERSION });
    },
  });

  router.service(FeatureFlagsService, {
    getFeatureFlags(_req, context) {
      tenantOf(context);
      return create(GetFeatureFlagsResponseSchema, {
        featureFlags: [
          create(FeatureFlagSchema, {
            name: "utf8LabelNames",
            enabled: options.utf8LabelNames,
            description: "Label names may hold any UTF-8 text (quote them in selectors).",
          }),
        ],
      });
    },
  });
}
