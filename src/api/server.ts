/**
 * One TCP port for HTTP/1.1 and cleartext HTTP/2 with prior knowledge (gRPC clients), as
 * Pyroscope serves on 4040.
 *
 * node:http2 has no `allowHTTP1` for cleartext, so a plain net.Server accepts every
 * connection, reads until the first bytes either match or rule out the HTTP/2 client preface
 * (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`), puts the bytes back with `unshift`, and hands the
 * socket to an http.Server or an http2.Server with `emit('connection')`
 * (dependencies-tried.md §12). Both call the same handler through Node's compat API.
 *
 * Shutdown is two steps: `stopAccepting()` closes the listener only; `close()` then lets
 * in-flight requests finish (bounded by `closeTimeoutMs`), closes idle keep-alive
 * connections and sends GOAWAY to HTTP/2 sessions, and destroys whatever is left at the
 * deadline, so an idle gRPC client can never hold shutdown hostage.
 */

import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { Logger } from "../observability/log.ts";
import { type HttpHandler, type HttpRequest, type HttpResponse, sendError, sendText } from "./http-util.ts";

export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port (tests); the chosen one is `RunningServer.port`. */
  port: number;
  handler: HttpHandler;
  logger: Logger;
  /** Time for a client to send request headers (HTTP/1.1), and the first bytes of any connection. */
  headersTimeoutMs?: number;
  /** Time for a client to send a whole request, headers and body (both protocols). */
  requestTimeoutMs?: number;
  /** An HTTP/1.1 connection idle this long after a response is closed. */
  keepAliveTimeoutMs?: number;
  /** An HTTP/2 session without any frame this long gets GOAWAY. */
  http2IdleTimeoutMs?: number;
  /** Streams one HTTP/2 session may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS). */
  http2MaxConcurrentStreams?: number;
  /** Open TCP connections; more are refused by the listener. */
  connectionsMax?: number;
  /** Upper bound of `close()`: in-flight requests still running then are cut. */
  closeTimeoutMs?: number;
}

export interface RunningServer {
  readonly port: number;
  /** Closes the listener; open connections and in-flight requests go on. */
  stopAccepting(): Promise<void>;
  /**
   * Stops accepting, waits for in-flight requests (at most `closeTimeoutMs`), closes idle
   * keep-alive connections and HTTP/2 sessions, then destroys what is left.
   */
  close(): Promise<void>;
}

/** Defaults chosen for profile uploads: large bodies over slow links, but not forever. */
export const SERVER_DEFAULTS = Object.freeze({
  headersTimeoutMs: 30_000,
  requestTimeoutMs: 300_000,
  keepAliveTimeoutMs: 65_000, // longer than typical client idle timeouts (Go: 90 s → fine either way)
  http2IdleTimeoutMs: 300_000,
  http2MaxConcurrentStreams: 256,
  connectionsMax: 10_000,
  closeTimeoutMs: 10_000,
});

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** How often Node's http.Server checks headers/request timeouts. */
const TIMEOUT_CHECK_INTERVAL_MS_MAX = 1_000;

export async function startHttpServer(options: HttpServerOptions): Promise<RunningServer> {
  const o = { ...SERVER_DEFAULTS, ...definedOnly(options) };
  const { logger, handler } = options;
  for (const key of Object.keys(SERVER_DEFAULTS) as (keyof typeof SERVER_DEFAULTS)[]) {
    if (!Number.isSafeInteger(o[key]) || o[key] <= 0) throw new Error(`startHttpServer: ${key} must be > 0`);
  }

  let closing = false;
  let inFlight = 0;
  const inFlightWaiters = new Set<() => void>();
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();

  const onRequest = (req: HttpRequest, res: HttpResponse): void => {
    inFlight++;
    const isH2 = "stream" in req;
    if (closing && !isH2) (res as http.ServerResponse).shouldKeepAlive = false;
    let requestTimer: NodeJS.Timeout | undefined;
    if (isH2) requestTimer = startH2RequestTimer(req as http2.Http2ServerRequest, res, o.requestTimeoutMs);
    res.once("close", () => {
      clearTimeout(requestTimer);
      inFlight--;
      if (closing) {
        // The finished connection may now be idle; Node marks it so after this event.
        setImmediate(() => h1.closeIdleConnections());
      }
      if (inFlight === 0) for (const wake of inFlightWaiters) wake();
    });
    let result: void | Promise<void>;
    try {
      result = handler(req, res);
    } catch (err) {
      sendError(res, err, { logger });
      return;
    }
    if (result instanceof Promise) result.catch((err: unknown) => sendError(res, err, { logger }));
  };

  const h1 = http.createServer(
    {
      headersTimeout: o.headersTimeoutMs,
      requestTimeout: o.requestTimeoutMs,
      keepAliveTimeout: o.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_INTERVAL_MS_MAX, Math.ceil(o.headersTimeoutMs / 2)),
    },
    onRequest,
  );
  // http.Server starts its connection tracking (which enforces headersTimeout and
  // requestTimeout and backs closeIdleConnections) on 'listening'. This server never
  // listens itself, since sockets come from the shared listener, so start it by hand.
  // server.test.ts checks that a slow client still gets 408.
  h1.emit("listening");
  h1.on("clientError", (err: NodeJS.ErrnoException, socket: net.Socket) => {
    logger.debug("http/1.1 client error", { err: err.message, code: err.code });
    if (socket.writable && !socket.writableEnded) {
      const status = err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "408 Request Timeout" : "400 Bad Request";
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    }
    socket.destroySoon();
  });

  const h2 = http2.createServer(
    { settings: { maxConcurrentStreams: o.http2MaxConcurrentStreams } },
    onRequest as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
  );
  h2.on("session", (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    session.on("error", (err) => logger.debug("http/2 session error", { err: err.message }));
    session.setTimeout(o.http2IdleTimeoutMs, () => session.close());
    if (closing) session.close();
  });

  const listener = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    // Resets before or after routing are routine; a listener keeps them from crashing.
    socket.on("error", (err: NodeJS.ErrnoException) => logger.debug("socket error", { code: err.code }));
    if (closing) {
      socket.destroy();
      return;
    }
    routeByPreface(socket, o.headersTimeoutMs, (isH2) => (isH2 ? h2 : h1).emit("connection", socket));
  });
  listener.maxConnections = o.connectionsMax;

  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen({ host: options.host, port: options.port }, () => {
      listener.off("error", reject);
      resolve();
    });
  });
  listener.on("error", (err) => logger.error("listener error", { err }));
  const port = (listener.address() as net.AddressInfo).port;
  logger.info("listening", { host: options.host, port });

  const listenerClosed = new Promise<void>((resolve) => listener.once("close", resolve));
  let stopped = false;
  const stopAccepting = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // The callback would wait for every connection; only the listening handle matters here.
    listener.close();
  };

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      await stopAccepting();
      const deadline = AbortSignal.timeout(o.closeTimeoutMs);
      h1.closeIdleConnections();
      for (const session of sessions) session.close();
      if (inFlight > 0) logger.info("waiting for in-flight requests", { in_flight: inFlight });
      await untilAbortedOr(deadline, (wake) => {
        if (inFlight === 0) return true;
        inFlightWaiters.add(wake);
        return false;
      });
      inFlightWaiters.clear();
      if (inFlight > 0) logger.warn("close deadline passed; cutting requests", { in_flight: inFlight });
      // Everything still open now is idle, half-closed or past the deadline.
      h1.closeAllConnections();
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
      await listenerClosed;
      // Stops the timeout checker started by the 'listening' emit above.
      h1.close(() => {});
      h2.close();
      logger.info("server closed", { port });
    })();
    return closed;
  };

  return { port, stopAccepting, close };
}

/**
 * Reads the first bytes of a connection until they match or rule out the HTTP/2 preface,
 * puts them back, and calls `route`. A client that sends nothing within `timeoutMs` is
 * dropped: that is the slowloris bound before any HTTP server sees the socket.
 */
function routeByPreface(socket: net.Socket, timeoutMs: number, route: (isH2: boolean) => void): void {
  let head: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  const done = () => {
    clearTimeout(timer);
    socket.off("readable", onReadable);
    socket.off("end", onEnd);
  };
  const onEnd = () => {
    done();
    socket.destroy();
  };
  const onReadable = () => {
    for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) {
      head = head.byteLength === 0 ? chunk : Buffer.concat([head, chunk]);
    }
    const compared = Math.min(head.byteLength, H2_PREFACE.byteLength);
    const prefixMatches = head.subarray(0, compared).equals(H2_PREFACE.subarray(0, compared));
    if (prefixMatches && compared < H2_PREFACE.byteLength) return; // need more bytes
    done();
    socket.unshift(head);
    route(prefixMatches);
  };
  socket.on("readable", onReadable);
  socket.once("end", onEnd);
}

/**
 * HTTP/2 has no equivalent of http.Server's requestTimeout, so each stream gets a timer
 * that cancels it when the request body is not complete in time. It stops when the body
 * has ended; the response may take as long as the handler needs.
 */
function startH2RequestTimer(req: http2.Http2ServerRequest, res: HttpResponse, timeoutMs: number) {
  const timer = setTimeout(() => {
    if (req.complete) return;
    if (!res.headersSent) sendText(res, 408, "request timeout: request not received in time\n");
    if (!req.stream.closed) req.stream.close(http2.constants.NGHTTP2_CANCEL);
  }, timeoutMs);
  req.once("end", () => clearTimeout(timer));
  return timer;
}

/** Resolves when `check` returns true (re-run on each wake) or the signal aborts. */
function untilAbortedOr(signal: AbortSignal, check: (wake: () => void) => boolean): Promise<void> {
  return new Promise<void>((resolve) => {
    const wake = () => {
      if (check(wake)) finish();
    };
    const finish = () => {
      signal.removeEventListener("abort", finish);
      resolve();
    };
    if (signal.aborted || check(wake)) {
      resolve();
      return;
    }
    signal.addEventListener("abort", finish, { once: true });
  });
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
