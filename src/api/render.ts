/**
 * The legacy render API (wire reference §5): `GET /pyroscope/render` (flamebearer JSON with a
 * timeline), `GET /pyroscope/render-diff`, `GET /pyroscope/label-values`. Tenant-scoped like
 * every query; errors are Connect-style JSON bodies (`{"code","message"}`) with the code's
 * HTTP status. Responses are gzipped when the client accepts it.
 *
 * `format=dot` answers the Graphviz call graph (query/dot.ts) as text, at most `maxNodes`
 * (default 100) function nodes; the body is empty when there is no data.
 */
import { gzipSync } from "node:zlib";
import { KilnError } from "../model/errors.ts";
import { type ProfileType, parseProfileTypeId } from "../model/profile-type.ts";
import { formatSelector, parseQuery } from "../model/selector.ts";
import { parseTime } from "../model/time.ts";
import { DOT_DEFAULT_MAX_NODES, dotOf } from "../query/dot.ts";
import type { QueryEngine, SeriesResult } from "../query/engine.ts";
import { flameGraph, flameGraphDiff } from "../query/flamegraph.ts";
import { NameTable } from "../query/tree.ts";
import { type HttpHandler, type HttpRequest, type HttpResponse, sendError, writeHead } from "./http-util.ts";
import { DEFAULT_MAX_NODES, MAX_NODES_LIMIT } from "./querier-service.ts";

/** Bodies at least this large are gzipped for clients that accept gzip. */
const GZIP_MIN_BYTES = 1024;
/** Timeline resolution: about this many points per range. */
const TIMELINE_POINTS = 1500;
const MIN_STEP_SECONDS = 15;

export interface RenderOptions {
  engine: QueryEngine;
  tenantOf: (req: HttpRequest) => string;
}

function badRequest(message: string): KilnError {
  return new KilnError("invalid_argument", "invalid_render_request", message);
}

/**
 * The timeline step for a range (seconds): range / 1500, at least 15 s, rounded to the usual
 * steps (Grafana's interval rounding).
 */
export function autoStepSeconds(fromMs: number, untilMs: number): number {
  const intervalMs = Math.max(0, untilMs - fromMs) / TIMELINE_POINTS;
  if (intervalMs < MIN_STEP_SECONDS * 1000) return MIN_STEP_SECONDS;
  const s = 1000;
  const m = 60 * s;
  const h = 60 * m;
  const d = 24 * h;
  const table: [number, number][] = [
    [17_500, 15 * s],
    [25_000, 20 * s],
    [45_000, 30 * s],
    [90_000, m],
    [210_000, 2 * m],
    [450_000, 5 * m],
    [750_000, 10 * m],
    [1_050_000, 15 * m],
    [1_500_000, 20 * m],
    [2_700_000, 30 * m],
    [5_400_000, h],
    [9_000_000, 2 * h],
    [16_200_000, 3 * h],
    [32_400_000, 6 * h],
    [86_400_000, 12 * h],
    [604_800_000, d],
    [1_814_400_000, 7 * d],
    [3_628_800_000, 30 * d],
  ];
  for (const [upTo, step] of table) if (intervalMs <= upTo) return step / 1000;
  return (365 * d) / 1000;
}

interface Timeline {
  startTime: number;
  samples: number[];
  durationDelta: number;
  watermarks: null;
}

/**
 * One value per step from `fromMs` snapped down to the step, up to the step holding
 * `untilMs` (so the most recent, still partial step is shown). Series points carry the right
 * edge e of their bucket (e − step, e], so a point fills the sample starting at e − step.
 */
export function timelineOf(
  points: SeriesResult["points"],
  fromMs: number,
  untilMs: number,
  stepS: number,
): Timeline {
  const startS = Math.floor(fromMs / 1000 / stepS) * stepS;
  const endS = Math.ceil(untilMs / 1000 / stepS) * stepS;
  const count = Math.max(0, Math.round((endS - startS) / stepS));
  const samples = new Array<number>(count).fill(0);
  for (const p of points) {
    const i = Math.round((p.timestamp / 1000 - startS) / stepS) - 1;
    if (i >= 0 && i < count) samples[i]! += Math.round(p.value);
  }
  return { startTime: startS, samples, durationDelta: stepS, watermarks: null };
}

function metadataOf(type: ProfileType, format: "single" | "double") {
  const objects = new Set(["inuse_objects", "alloc_objects", "goroutine", "samples"]);
  let units = type.sampleUnit;
  if (objects.has(type.sampleType)) units = "objects";
  if (type.sampleType === "cpu") units = "samples";
  return {
    format,
    spyName: "",
    sampleRate: type.sampleType === "cpu" ? 1_000_000_000 : 100,
    units,
    name: type.sampleType,
  };
}

interface ParsedRenderQuery {
  profileTypeId: string;
  profileType: ProfileType;
  selector: string;
}

function parseRenderQuery(text: string | null, param: string): ParsedRenderQuery {
  if (text === null || text.trim() === "") throw badRequest(`${param} is required`);
  const parsed = parseQuery(text);
  if (parsed.profileTypeId === undefined) {
    throw badRequest(
      `${param}: a profile type ID is required before the selector, e.g. process_cpu:cpu:nanoseconds:cpu:nanoseconds{}`,
    );
  }
  let profileType: ProfileType;
  try {
    profileType = parseProfileTypeId(parsed.profileTypeId);
  } catch (err) {
    throw badRequest(`${param}: ${(err as Error).message}`);
  }
  return { profileTypeId: parsed.profileTypeId, profileType, selector: formatSelector(parsed.matchers) };
}

function maxNodesParam(params: URLSearchParams, fallback = DEFAULT_MAX_NODES): number {
  const raw = params.get("maxNodes") ?? params.get("max-nodes");
  if (raw === null || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0)
    throw badRequest(`maxNodes ${JSON.stringify(raw)} is not a non-negative number`);
  if (n === 0) return fallback;
  return Math.min(Math.trunc(n), MAX_NODES_LIMIT);
}

function timeParam(params: URLSearchParams, name: string, nowMs: number): number {
  const raw = params.get(name);
  return raw === null || raw === "" ? nowMs : parseTime(raw, nowMs);
}

function sendJsonBody(req: HttpRequest, res: HttpResponse, body: unknown): void {
  sendBody(req, res, Buffer.from(JSON.stringify(body), "utf8"), "application/json");
}

function sendBody(req: HttpRequest, res: HttpResponse, body: Buffer, contentType: string): void {
  let bytes = body;
  const headers: Record<string, string | number> = { "content-type": contentType };
  const accept = req.headers["accept-encoding"];
  if (bytes.byteLength >= GZIP_MIN_BYTES && typeof accept === "string" && /\bgzip\b/.test(accept)) {
    bytes = gzipSync(bytes);
    headers["content-encoding"] = "gzip";
  }
  headers["content-length"] = bytes.byteLength;
  headers.vary = "accept-encoding";
  writeHead(res, 200, headers);
  res.end(bytes);
}

/** Aborts when the client goes away before the answer is sent (stops the query). */
function clientSignal(res: HttpResponse): AbortSignal {
  const controller = new AbortController();
  res.once("close", () => {
    if (!res.writableEnded) {
      controller.abort(new KilnError("canceled", "client_closed", "query canceled: the client went away"));
    }
  });
  return controller.signal;
}

function paramsOf(req: HttpRequest): URLSearchParams {
  return new URL(req.url ?? "/", "http://localhost").searchParams;
}

export function renderHandler(options: RenderOptions): HttpHandler {
  const { engine } = options;
  return async (req, res) => {
    try {
      const tenant = options.tenantOf(req);
      const params = paramsOf(req);
      const query = parseRenderQuery(params.get("query"), "query");
      const nowMs = engine.now();
      const fromMs = timeParam(params, "from", nowMs);
      const untilMs = timeParam(params, "until", nowMs);
      if (untilMs < fromMs) throw badRequest(`until (${untilMs}) is before from (${fromMs})`);
      if (params.get("format") === "dot") {
        const tree = await engine.mergeTree({
          tenant,
          profileType: query.profileTypeId,
          selector: query.selector,
          startMs: fromMs,
          endMs: untilMs,
          signal: clientSignal(res),
        });
        const dot = dotOf(tree, {
          maxNodes: maxNodesParam(params, DOT_DEFAULT_MAX_NODES),
          profileType: query.profileTypeId,
        });
        sendBody(req, res, Buffer.from(dot, "utf8"), "text/plain; charset=utf-8");
        return;
      }
      const maxNodes = maxNodesParam(params);
      const aggregation = params.get("aggregation") === "avg" ? "average" : "sum";
      const groupBy = params.getAll("groupBy").filter((g) => g !== "");
      const base = {
        tenant,
        profileType: query.profileTypeId,
        selector: query.selector,
        startMs: fromMs,
        endMs: untilMs,
        signal: clientSignal(res),
      };
      const stepS = autoStepSeconds(fromMs, untilMs);
      const snappedStartMs = Math.floor(fromMs / 1000 / stepS) * stepS * 1000;
      const [tree, series] = await Promise.all([
        engine.mergeTree(base),
        engine.selectSeries({
          ...base,
          alignMs: snappedStartMs,
          stepMs: stepS * 1000,
          groupBy: groupBy.slice(0, 1),
          aggregation,
        }),
      ]);
      // Same profiles as the flame graph ([from, until]); steps on the grid of the snapped start.
      const graph = flameGraph(tree, maxNodes);
      const all = series.flatMap((s) => s.points);
      const timeline = timelineOf(all, fromMs, untilMs, stepS);
      let groups: Record<string, Timeline> | null = null;
      if (groupBy.length > 0) {
        groups = {};
        const byValue = new Map<string, SeriesResult["points"]>();
        for (const s of series) {
          const value = s.labels.find(([name]) => name === groupBy[0])?.[1] ?? "*";
          const points = byValue.get(value) ?? [];
          points.push(...s.points);
          byValue.set(value, points);
        }
        for (const [value, points] of byValue) groups[value] = timelineOf(points, fromMs, untilMs, stepS);
      }
      sendJsonBody(req, res, {
        version: 1,
        flamebearer: {
          names: graph.names,
          levels: graph.levels,
          numTicks: graph.total,
          maxSelf: graph.maxSelf,
        },
        metadata: metadataOf(query.profileType, "single"),
        timeline,
        groups,
        heatmap: null,
      });
    } catch (err) {
      sendError(res, err);
    }
  };
}

export function renderDiffHandler(options: RenderOptions): HttpHandler {
  const { engine } = options;
  return async (req, res) => {
    try {
      const tenant = options.tenantOf(req);
      const params = paramsOf(req);
      const left = parseRenderQuery(params.get("leftQuery"), "leftQuery");
      const right = parseRenderQuery(params.get("rightQuery"), "rightQuery");
      if (left.profileTypeId !== right.profileTypeId) {
        throw badRequest(
          `leftQuery and rightQuery must have the same profile type (${left.profileTypeId} vs ${right.profileTypeId})`,
        );
      }
      const nowMs = engine.now();
      const signal = clientSignal(res);
      const side = (q: ParsedRenderQuery, from: string, until: string) => {
        const startMs = timeParam(params, from, nowMs);
        const endMs = timeParam(params, until, nowMs);
        if (endMs < startMs) throw badRequest(`${until} is before ${from}`);
        return { tenant, profileType: q.profileTypeId, selector: q.selector, startMs, endMs, signal };
      };
      const leftQuery = side(left, "leftFrom", "leftUntil");
      const rightQuery = side(right, "rightFrom", "rightUntil");
      const maxNodes = maxNodesParam(params);
      const names = new NameTable();
      const [leftTree, rightTree] = await Promise.all([
        engine.mergeTree(leftQuery, names),
        engine.mergeTree(rightQuery, names),
      ]);
      const diff = flameGraphDiff(leftTree, rightTree, maxNodes);
      const body: Record<string, unknown> = {
        version: 1,
        flamebearer: { names: diff.names, levels: diff.levels, numTicks: diff.total, maxSelf: diff.maxSelf },
        metadata: metadataOf(left.profileType, "double"),
        timeline: null,
        groups: null,
        heatmap: null,
      };
      if (diff.leftTicks !== 0) body.leftTicks = diff.leftTicks;
      if (diff.rightTicks !== 0) body.rightTicks = diff.rightTicks;
      sendJsonBody(req, res, body);
    } catch (err) {
      sendError(res, err);
    }
  };
}

/**
 * `label=__name__` → profile type IDs; any other label → its values. Kiln honours the
 * optional `from`/`until` (default: the last hour, as the RPCs) and `query`/`match[]`
 * selectors, which upstream ignores.
 */
export function labelValuesHandler(options: RenderOptions): HttpHandler {
  const { engine } = options;
  return async (req, res) => {
    try {
      const tenant = options.tenantOf(req);
      const params = paramsOf(req);
      const label = params.get("label");
      if (label === null || label === "") throw badRequest("label is required");
      const nowMs = engine.now();
      const from = params.get("from");
      const until = params.get("until");
      const range = engine.range(
        from === null || from === "" ? 0 : parseTime(from, nowMs),
        until === null || until === "" ? 0 : parseTime(until, nowMs),
      );
      let values: string[];
      if (label === "__name__") {
        values = await engine.profileTypes(tenant, range, clientSignal(res));
      } else {
        const selectors = [...params.getAll("match[]"), ...params.getAll("query")].filter((s) => s !== "");
        values = await engine.labelValues(tenant, label, selectors, range, clientSignal(res));
      }
      sendJsonBody(req, res, values);
    } catch (err) {
      sendError(res, err);
    }
  };
}
