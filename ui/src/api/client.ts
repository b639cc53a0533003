/**
 * The typed client of the public query API: querier.v1 over Connect JSON
 * (`POST /querier.v1.QuerierService/<Method>`, wire reference §4), plus SelectMergeProfile in
 * binary protobuf for the pprof export. int64 fields arrive as JSON strings and are turned
 * into numbers here, so the rest of the UI sees plain numbers.
 */
import { ApiError } from "./errors.ts";
import { encodeSelectMergeProfileRequest } from "./proto-encode.ts";
import type {
  FlameGraphData,
  FlameGraphDiffData,
  LabelPair,
  ProfileQuery,
  ProfileType,
  Series,
} from "./types.ts";

const SERVICE_PATH = "/querier.v1.QuerierService";

/** int64 as JSON: a string (what Connect sends), a number, or absent when zero. */
type Int64Json = string | number | undefined;

interface FlameGraphJson {
  names?: string[];
  levels?: { values?: Int64Json[] }[];
  total?: Int64Json;
  maxSelf?: Int64Json;
}

interface FlameGraphDiffJson extends FlameGraphJson {
  leftTicks?: Int64Json;
  rightTicks?: Int64Json;
}

interface SeriesJson {
  labels?: LabelPair[];
  points?: { value?: number; timestamp?: Int64Json }[];
}

export interface SelectSeriesOptions {
  /** Seconds between points. */
  stepSeconds: number;
  groupBy?: string[];
  /** Top-N series by total. */
  limit?: number;
}

export interface QueryClientOptions {
  /** Base URL of the server; "" = same origin (the UI is served by Kiln itself). */
  baseUrl?: string;
}

export class QueryClient {
  readonly #baseUrl: string;

  constructor(options: QueryClientOptions = {}) {
    this.#baseUrl = options.baseUrl ?? "";
  }

  async profileTypes(
    range: { startMs: number; endMs: number },
    signal?: AbortSignal,
  ): Promise<ProfileType[]> {
    const res = await this.#call<{ profileTypes?: Record<string, string | undefined>[] }>(
      "ProfileTypes",
      { start: range.startMs, end: range.endMs },
      signal,
    );
    return (res.profileTypes ?? []).map((t) => ({
      id: t.ID ?? "",
      name: t.name ?? "",
      sampleType: t.sampleType ?? "",
      sampleUnit: t.sampleUnit ?? "",
      periodType: t.periodType ?? "",
      periodUnit: t.periodUnit ?? "",
    }));
  }

  /** Label names for the selector's series, private `__…` names removed, sorted. */
  async labelNames(
    args: { matchers: string[]; startMs: number; endMs: number },
    signal?: AbortSignal,
  ): Promise<string[]> {
    const res = await this.#call<{ names?: string[] }>(
      "LabelNames",
      { matchers: args.matchers, start: args.startMs, end: args.endMs },
      signal,
    );
    return (res.names ?? []).filter((name) => !name.startsWith("__")).sort();
  }

  async labelValues(
    args: { name: string; matchers: string[]; startMs: number; endMs: number },
    signal?: AbortSignal,
  ): Promise<string[]> {
    const res = await this.#call<{ names?: string[] }>(
      "LabelValues",
      { name: args.name, matchers: args.matchers, start: args.startMs, end: args.endMs },
      signal,
    );
    return (res.names ?? []).slice().sort();
  }

  async selectSeries(
    query: ProfileQuery,
    options: SelectSeriesOptions,
    signal?: AbortSignal,
  ): Promise<Series[]> {
    const res = await this.#call<{ series?: SeriesJson[] }>(
      "SelectSeries",
      {
        ...queryJson(query),
        step: options.stepSeconds,
        ...(options.groupBy === undefined ? {} : { groupBy: options.groupBy }),
        ...(options.limit === undefined ? {} : { limit: options.limit }),
      },
      signal,
    );
    return (res.series ?? []).map((s) => ({
      labels: s.labels ?? [],
      points: (s.points ?? []).map((p) => ({ timestampMs: int64(p.timestamp), value: p.value ?? 0 })),
    }));
  }

  /** The merged flame graph; an empty one (total 0) when there is no data. */
  async selectMergeStacktraces(
    query: ProfileQuery,
    options: { maxNodes: number },
    signal?: AbortSignal,
  ): Promise<FlameGraphData> {
    const res = await this.#call<{ flamegraph?: FlameGraphJson }>(
      "SelectMergeStacktraces",
      { ...queryJson(query), maxNodes: options.maxNodes, format: "PROFILE_FORMAT_FLAMEGRAPH" },
      signal,
    );
    return flameGraphOf(res.flamegraph ?? {});
  }

  async diff(
    left: ProfileQuery,
    right: ProfileQuery,
    options: { maxNodes: number },
    signal?: AbortSignal,
  ): Promise<FlameGraphDiffData> {
    const res = await this.#call<{ flamegraph?: FlameGraphDiffJson }>(
      "Diff",
      {
        left: { ...queryJson(left), maxNodes: options.maxNodes },
        right: { ...queryJson(right), maxNodes: options.maxNodes },
      },
      signal,
    );
    const json = res.flamegraph ?? {};
    return { ...flameGraphOf(json), leftTicks: int64(json.leftTicks), rightTicks: int64(json.rightTicks) };
  }

  /**
   * The merged profile as a pprof message (not gzipped), through SelectMergeProfile in binary
   * protobuf, as Grafana's "export as pprof" does (wire reference §4.7).
   */
  async selectMergeProfilePprof(query: ProfileQuery, signal?: AbortSignal): Promise<Uint8Array> {
    const body = encodeSelectMergeProfileRequest({
      profileTypeId: query.profileTypeId,
      labelSelector: query.labelSelector,
      startMs: query.startMs,
      endMs: query.endMs,
    });
    const res = await this.#fetch(
      "SelectMergeProfile",
      { "content-type": "application/proto" },
      body as Uint8Array<ArrayBuffer>,
      signal,
    );
    return new Uint8Array(await res.arrayBuffer());
  }

  async #call<T>(method: string, request: unknown, signal?: AbortSignal): Promise<T> {
    const res = await this.#fetch(
      method,
      { "content-type": "application/json" },
      JSON.stringify(request),
      signal,
    );
    return (await res.json()) as T;
  }

  async #fetch(method: string, headers: Record<string, string>, body: BodyInit, signal?: AbortSignal) {
    let res: Response;
    try {
      res = await fetch(`${this.#baseUrl}${SERVICE_PATH}/${method}`, {
        method: "POST",
        headers: { ...headers, "connect-protocol-version": "1" },
        body,
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (err) {
      if (err instanceof DOMException && err.name === "AbortError") throw err;
      throw new ApiError("network", 0, `${method}: the server did not answer (${String(err)})`);
    }
    if (!res.ok) throw await errorOf(method, res);
    return res;
  }
}

/** The server's Connect error (`{"code","message"}`), or the status line when the body is not one. */
async function errorOf(method: string, res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  try {
    const json = JSON.parse(text) as { code?: unknown; message?: unknown };
    if (typeof json.code === "string") {
      return new ApiError(json.code, res.status, typeof json.message === "string" ? json.message : json.code);
    }
  } catch {
    // not JSON: fall through
  }
  return new ApiError("unknown", res.status, `${method}: HTTP ${res.status} ${text.slice(0, 300)}`.trim());
}

function queryJson(query: ProfileQuery) {
  return {
    profileTypeID: query.profileTypeId,
    labelSelector: query.labelSelector,
    start: query.startMs,
    end: query.endMs,
  };
}

export function int64(value: Int64Json): number {
  if (value === undefined) return 0;
  return typeof value === "number" ? value : Number(value);
}

/** Converts the JSON FlameGraph (int64 strings, zero fields omitted) to numbers. */
export function flameGraphOf(json: FlameGraphJson): FlameGraphData {
  return {
    names: json.names ?? [],
    levels: (json.levels ?? []).map((level) => (level.values ?? []).map(int64)),
    total: int64(json.total),
    maxSelf: int64(json.maxSelf),
  };
}
