/**
 * The request router: exact-path routes for plain HTTP handlers (`/ingest`, `/ready`,
 * `/metrics`, the render API) and Connect services, which connect-node serves as Connect
 * (JSON and binary), gRPC and gRPC-web on the same `/<package>.<Service>/<Method>` paths.
 * A GET (or HEAD) of any other path goes to the fallback handler when one is set (the web
 * UI's static files, whose client-side routes are arbitrary paths); anything else is a 404
 * with a text body.
 *
 * It also records the per-request metrics. The `endpoint` label is the route path or
 * `connect:<Service>/<Method>`, never the raw URL; every GET the fallback answers shares
 * `endpoint="fallback"` and every other unknown path `endpoint="other"`, so scanners probing
 * random URLs cannot grow the metric.
 */

import {
  Code,
  ConnectError,
  type ConnectRouter,
  type ContextValues,
  type Interceptor,
} from "@connectrpc/connect";
import { compressionGzip } from "@connectrpc/connect-node";
import { type ErrorCode, KilnError } from "../model/errors.ts";
import type { Logger } from "../observability/log.ts";
import {
  CONTENT_TYPE_PROMETHEUS_TEXT,
  DURATION_BUCKETS_SECONDS,
  type Labels,
  type Registry,
} from "../observability/metrics.ts";
import { createConnectAdapter, type NodeServerResponse } from "./connect-adapter.ts";
import {
  type HttpHandler,
  type HttpRequest,
  type HttpResponse,
  pathOf,
  sendText,
  writeHead,
} from "./http-util.ts";

export interface RouterOptions {
  logger: Logger;
  metrics: Registry;
  /** Largest Connect/gRPC request message, in bytes, after decompression. */
  readMaxBytes: number;
  /** Aborts the handler contexts of running RPCs on shutdown. */
  shutdownSignal?: AbortSignal;
  /** Values handed to Connect handlers (tenant, for example), computed per request. */
  contextValues?: (req: HttpRequest) => ContextValues;
}

export interface Router {
  get(path: string, handler: HttpHandler): Router;
  post(path: string, handler: HttpHandler): Router;
  /** Registers Connect services; may be called several times. */
  connect(routes: (router: ConnectRouter) => void): Router;
  /** Answers GET and HEAD requests that match no route or RPC (at most one fallback). */
  fallbackGet(handler: HttpHandler): Router;
  /** The handler for startHttpServer. Registration is closed once it has served a request. */
  readonly handler: HttpHandler;
}

const ENDPOINT_OTHER = "other";
const ENDPOINT_FALLBACK = "fallback";
const KNOWN_METHODS: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "PATCH",
  "OPTIONS",
]);
/** A request path echoed in a 404 body is cut to this, so the answer stays small. */
const ECHOED_PATH_LENGTH_MAX = 200;

/** Connect's codes by Kiln's wire spelling (the same 16 codes, wire reference §4.6). */
const CONNECT_CODE_OF: Readonly<Record<ErrorCode, Code>> = {
  canceled: Code.Canceled,
  unknown: Code.Unknown,
  invalid_argument: Code.InvalidArgument,
  deadline_exceeded: Code.DeadlineExceeded,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  permission_denied: Code.PermissionDenied,
  resource_exhausted: Code.ResourceExhausted,
  failed_precondition: Code.FailedPrecondition,
  aborted: Code.Aborted,
  out_of_range: Code.OutOfRange,
  unimplemented: Code.Unimplemented,
  internal: Code.Internal,
  unavailable: Code.Unavailable,
  data_loss: Code.DataLoss,
  unauthenticated: Code.Unauthenticated,
};

export function createRouter(options: RouterOptions): Router {
  const { logger } = options;
  const routes = new Map<string, Map<string, HttpHandler>>();
  const connectRoutes: ((router: ConnectRouter) => void)[] = [];
  let fallbackGet: HttpHandler | undefined;
  const record = createHttpMetrics(options.metrics);
  let dispatch: HttpHandler | undefined;

  const add = (method: string, path: string, handler: HttpHandler) => {
    if (dispatch !== undefined)
      throw new Error(`route ${method} ${path} added after the router started serving`);
    if (!path.startsWith("/")) throw new Error(`route path "${path}" must start with /`);
    const byMethod = routes.get(path) ?? new Map<string, HttpHandler>();
    if (byMethod.has(method)) throw new Error(`route ${method} ${path} registered twice`);
    byMethod.set(method, handler);
    routes.set(path, byMethod);
  };

  const build = (): HttpHandler => {
    // Filled while connect-node builds its own path table, so both agree on the paths.
    const connectEndpoints = new Map<string, string>();
    const connectAdapter =
      connectRoutes.length === 0
        ? undefined
        : createConnectAdapter({
            routes(router) {
              for (const register of connectRoutes) register(router);
              for (const h of router.handlers) {
                if (routes.has(h.requestPath))
                  throw new Error(`path ${h.requestPath} is both a route and an RPC`);
                connectEndpoints.set(h.requestPath, `connect:${h.service.typeName}/${h.method.name}`);
              }
            },
            acceptCompression: [compressionGzip],
            readMaxBytes: options.readMaxBytes,
            // Connect clients send Connect-Protocol-Version: 1, but curl users and some
            // SDKs do not; Pyroscope does not require it (wire reference §4.6).
            requireConnectProtocolHeader: false,
            jsonOptions: { ignoreUnknownFields: true },
            interceptors: [errorInterceptor(logger)],
            ...(options.shutdownSignal === undefined ? {} : { shutdownSignal: options.shutdownSignal }),
            ...(options.contextValues === undefined ? {} : { contextValues: options.contextValues }),
            onHandlerError: (rpc, err) => {
              // A client that went away mid-answer (a browser tab replacing its query, a
              // cancelled curl) is routine, not a server failure.
              if (clientWentAway(err))
                logger.debug("rpc answer not delivered: the client went away", { rpc });
              else logger.error("rpc handler failed", { rpc, err });
            },
          });

    return (req, res) => {
      const path = pathOf(req);
      const method = req.method ?? "GET";
      const byMethod = routes.get(path);
      if (byMethod !== undefined) {
        record(req, res, path);
        const handler = byMethod.get(method) ?? (method === "HEAD" ? byMethod.get("GET") : undefined);
        if (handler !== undefined) return handler(req, res);
        res.setHeader("allow", [...byMethod.keys()].join(", "));
        sendText(res, 405, `method ${method} not allowed on ${path}\n`);
        return;
      }
      const endpoint = connectEndpoints.get(path);
      if (endpoint !== undefined && connectAdapter !== undefined) {
        record(req, res, endpoint);
        connectAdapter.handle(req, res as NodeServerResponse);
        return;
      }
      if (fallbackGet !== undefined && (method === "GET" || method === "HEAD")) {
        record(req, res, ENDPOINT_FALLBACK);
        return fallbackGet(req, res);
      }
      record(req, res, ENDPOINT_OTHER);
      sendText(res, 404, `not found: ${method} ${path.slice(0, ECHOED_PATH_LENGTH_MAX)}\n`);
    };
  };

  const router: Router = {
    get(path, handler) {
      add("GET", path, handler);
      return router;
    },
    post(path, handler) {
      add("POST", path, handler);
      return router;
    },
    connect(register) {
      if (dispatch !== undefined) throw new Error("connect routes added after the router started serving");
      connectRoutes.push(register);
      return router;
    },
    fallbackGet(handler) {
      if (dispatch !== undefined) throw new Error("fallback added after the router started serving");
      if (fallbackGet !== undefined) throw new Error("fallback registered twice");
      fallbackGet = handler;
      return router;
    },
    handler: (req, res) => {
      dispatch ??= build();
      return dispatch(req, res);
    },
  };
  return router;
}

/**
 * Maps what RPC implementations throw to what clients see: a KilnError keeps its code and
 * message; an unexpected error is logged with its stack and answered as `internal` with a
 * fixed message, so internals (paths, SQL) never reach the client.
 */
/** Whether a handler error only says the client closed the connection or cancelled the call. */
function clientWentAway(err: unknown): boolean {
  const codes = new Set(["ERR_STREAM_DESTROYED", "ERR_STREAM_PREMATURE_CLOSE", "ECONNRESET", "EPIPE"]);
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if (codes.has(String((e as { code?: unknown }).code))) return true;
    if (e instanceof ConnectError && e.code === Code.Canceled) return true;
  }
  return false;
}

function errorInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    try {
      return await next(req);
    } catch (err) {
      if (err instanceof ConnectError) throw err;
      if (err instanceof KilnError) {
        throw new ConnectError(err.message, CONNECT_CODE_OF[err.code], undefined, undefined, err);
      }
      if (err instanceof Error && (err.name === "AbortError" || err.name === "TimeoutError")) {
        throw ConnectError.from(err);
      }
      logger.error("rpc failed", { rpc: `${req.service.typeName}/${req.method.name}`, err });
      throw new ConnectError("internal error", Code.Internal, undefined, undefined, err);
    }
  };
}

type RecordRequest = (req: HttpRequest, res: HttpResponse, endpoint: string) => void;

function createHttpMetrics(registry: Registry): RecordRequest {
  const requests = registry.counter({
    name: "kiln_http_requests_total",
    help: "HTTP requests by endpoint (route or connect:<Service>/<Method>), method and status.",
    labelNames: ["endpoint", "method", "status"],
  });
  const requestBytes = registry.counter({
    name: "kiln_http_request_bytes_total",
    help: "Request body bytes received, as sent (before decompression).",
    labelNames: ["endpoint"],
  });
  const responseBytes = registry.counter({
    name: "kiln_http_response_bytes_total",
    help: "Response body bytes sent.",
    labelNames: ["endpoint"],
  });
  const duration = registry.histogram({
    name: "kiln_http_request_duration_seconds",
    help: "Time from request headers received to response closed.",
    labelNames: ["endpoint", "method"],
    buckets: DURATION_BUCKETS_SECONDS,
  });
  const inFlight = registry.gauge({
    name: "kiln_http_requests_in_flight",
    help: "Requests received and not yet answered.",
  });

  return (req, res, endpoint) => {
    const startNs = process.hrtime.bigint();
    const method = KNOWN_METHODS.has(req.method ?? "") ? req.method! : "other";
    const received = countRequestBytes(req);
    const sent = countResponseBytes(res);
    let finished = false;
    res.once("finish", () => {
      finished = true;
    });
    inFlight.inc();
    res.once("close", () => {
      inFlight.dec();
      // A response closed before it finished means the client went away: 499, the
      // status nginx and Connect use for a canceled request.
      const status = finished ? String(res.statusCode) : "499";
      const labels: Labels = { endpoint, method, status };
      requests.inc(labels);
      requestBytes.inc({ endpoint }, received.bytes);
      responseBytes.inc({ endpoint }, sent.bytes);
      duration.observe({ endpoint, method }, Number(process.hrtime.bigint() - startNs) / 1e9);
    });
  };
}

/**
 * Counts body bytes as the protocol layer pushes them into the request stream. A 'data'
 * listener would do it too, but would switch the stream to flowing mode and take the body
 * away from the handler; both node:http and the http2 compat layer feed bodies through
 * `push`, so wrapping it on this one object observes without consuming.
 */
function countRequestBytes(req: HttpRequest): { bytes: number } {
  const counter = { bytes: 0 };
  const target = req as unknown as { push(chunk: unknown, encoding?: BufferEncoding): boolean };
  const push = target.push;
  target.push = function countedPush(this: unknown, chunk: unknown, encoding?: BufferEncoding) {
    counter.bytes += byteLengthOf(chunk, encoding);
    return push.call(this, chunk, encoding);
  };
  return counter;
}

/** Counts body bytes written through `write` and `end` on this one response object. */
function countResponseBytes(res: HttpResponse): { bytes: number } {
  const counter = { bytes: 0 };
  const target = res as unknown as {
    write(...args: unknown[]): boolean;
    end(...args: unknown[]): unknown;
  };
  const write = target.write;
  const end = target.end;
  // The http2 compat `end(chunk)` calls `this.write(chunk)`; count that chunk once.
  let inEnd = false;
  target.write = function countedWrite(this: unknown, ...args: unknown[]) {
    if (!inEnd) counter.bytes += byteLengthOf(args[0], args[1]);
    return write.apply(this, args);
  };
  target.end = function countedEnd(this: unknown, ...args: unknown[]) {
    if (typeof args[0] !== "function") counter.bytes += byteLengthOf(args[0], args[1]);
    inEnd = true;
    try {
      return end.apply(this, args);
    } finally {
      inEnd = false;
    }
  };
  return counter;
}

function byteLengthOf(chunk: unknown, encoding: unknown): number {
  if (chunk === null || chunk === undefined) return 0;
  if (typeof chunk === "string") {
    return Buffer.byteLength(chunk, typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8");
  }
  if (ArrayBuffer.isView(chunk)) return chunk.byteLength;
  return 0;
}

/** GET /metrics: the registry in Prometheus text format. */
export function metricsHandler(registry: Registry): HttpHandler {
  return (_req, res) => {
    const body = Buffer.from(registry.render(), "utf8");
    writeHead(res, 200, { "content-type": CONTENT_TYPE_PROMETHEUS_TEXT, "content-length": body.byteLength });
    res.end(body);
  };
}
