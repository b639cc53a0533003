/**
 * Request/response helpers shared by every plain HTTP handler (`/ingest`, `/ready`, the
 * render API): a bounded body reader and Connect-style responses. They accept both
 * node:http and node:http2 compat objects, because one port serves both (see server.ts).
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { httpStatusOfCode, KilnError } from "../model/errors.ts";
import type { Logger } from "../observability/log.ts";

export type HttpRequest = IncomingMessage | Http2ServerRequest;
export type HttpResponse = ServerResponse | Http2ServerResponse;
/** A request handler for either protocol; a rejected promise becomes a 500 (server.ts). */
export type HttpHandler = (req: HttpRequest, res: HttpResponse) => void | Promise<void>;

/**
 * After a body is rejected for size, at most this much more is read and thrown away before
 * the request is destroyed. Reading a little lets a client that is still sending see the
 * 4xx answer instead of a connection reset; stopping bounds what a hostile client costs.
 */
export const DRAIN_BYTES_MAX = 1024 * 1024;

export interface ReadBodyOptions {
  /** Largest accepted body, in bytes (after transfer decoding, before any gzip). */
  maxBytes: number;
  /** The option name shown in the error message. Default "max_body_bytes". */
  limitName?: string;
}

/**
 * Reads the whole request body into one buffer, or rejects with
 * KilnError("invalid_argument", "body_too_large") as soon as more than `maxBytes` arrive:
 * up front when Content-Length already says so, otherwise at the chunk that crosses the
 * limit. Nothing past the limit is buffered. A client that goes away mid-body rejects with
 * KilnError("canceled", "client_closed").
 */
export function readBody(req: HttpRequest, options: ReadBodyOptions): Promise<Uint8Array> {
  const { maxBytes } = options;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0)
    throw new Error(`readBody maxBytes ${maxBytes} invalid`);
  const tooLarge = () =>
    new KilnError(
      "invalid_argument",
      "body_too_large",
      `request body too large: more than ${maxBytes} bytes (${options.limitName ?? "max_body_bytes"})`,
    );
  const declared = declaredLength(req);
  if (declared !== undefined && declared > maxBytes) {
    discardRest(req);
    return Promise.reject(tooLarge());
  }
  if (req.readableEnded) return Promise.resolve(new Uint8Array(0));

  return new Promise<Uint8Array>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let receivedBytes = 0;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      receivedBytes += chunk.byteLength;
      if (receivedBytes > maxBytes) {
        cleanup();
        chunks.length = 0;
        discardRest(req);
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, receivedBytes));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new KilnError("canceled", "client_closed", `reading request body failed: ${err.message}`));
    };
    const onClose = () => {
      // 'close' without 'end': the client reset the stream or dropped the connection.
      cleanup();
      reject(new KilnError("canceled", "client_closed", "client closed the request before sending the body"));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

function declaredLength(req: HttpRequest): number | undefined {
  const header = req.headers["content-length"];
  if (typeof header !== "string" || !/^\d+$/.test(header)) return undefined;
  return Number(header);
}

/** Reads and drops what is left of a rejected body, up to DRAIN_BYTES_MAX, then destroys. */
function discardRest(req: HttpRequest): void {
  if (req.readableEnded || req.destroyed) return;
  let discardedBytes = 0;
  const onData = (chunk: Buffer) => {
    discardedBytes += chunk.byteLength;
    if (discardedBytes > DRAIN_BYTES_MAX) {
      req.off("data", onData);
      req.destroy();
    }
  };
  req.on("data", onData);
  // Errors after the rejection are expected (client gives up); nobody else listens.
  req.on("error", () => {});
}

export function sendText(
  res: HttpResponse,
  status: number,
  text: string,
  contentType = "text/plain; charset=utf-8",
) {
  send(res, status, contentType, Buffer.from(text, "utf8"));
}

export function sendJson(res: HttpResponse, status: number, body: unknown): void {
  send(res, status, "application/json", Buffer.from(JSON.stringify(body), "utf8"));
}

export interface SendErrorOptions {
  /** Overrides the status derived from the error code (e.g. 413 or 422 on /ingest). */
  status?: number;
  /** Where unexpected (non-KilnError) errors are logged with their stack. */
  logger?: Logger;
}

/** The Connect error body and the HTTP status for any thrown value (wire reference §4.6). */
export function errorResponseOf(err: unknown): { status: number; body: { code: string; message: string } } {
  if (err instanceof KilnError) {
    return { status: httpStatusOfCode[err.code], body: { code: err.code, message: err.message } };
  }
  // Anything else is a bug or an environment failure: its message and stack may reveal
  // internals (paths, SQL), so the client gets a fixed text and the log gets the details.
  return { status: 500, body: { code: "internal", message: "internal error" } };
}

/**
 * Answers with a Connect-style error: `{"code":"…","message":"…"}` and the status of the
 * code (or `options.status`). If the response has already started, the stream is aborted,
 * so the client sees a failure instead of a truncated success.
 */
export function sendError(res: HttpResponse, err: unknown, options: SendErrorOptions = {}): void {
  const { status, body } = errorResponseOf(err);
  if (!(err instanceof KilnError)) options.logger?.error("request failed", { err });
  if (res.headersSent) {
    abortResponse(res);
    return;
  }
  sendJson(res, options.status ?? status, body);
}

/** Ends a response whose headers are out: destroys the h1 socket or resets the h2 stream. */
export function abortResponse(res: HttpResponse): void {
  if ("stream" in res) res.stream.close(0x8 /* NGHTTP2_CANCEL */);
  else res.destroy();
}

/** The path of a request without its query string. */
export function pathOf(req: HttpRequest): string {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  return q === -1 ? url : url.slice(0, q);
}

function send(res: HttpResponse, status: number, contentType: string, body: Buffer): void {
  if (res.headersSent) {
    abortResponse(res);
    return;
  }
  const headers: Record<string, string | number> = {
    "content-type": contentType,
    "content-length": body.byteLength,
  };
  const bodyUnread = !res.req.complete;
  // An HTTP/1.1 request whose body was not read to the end cannot be followed by another
  // request on the same connection without reading the rest; closing is the bounded choice.
  if (bodyUnread && !("stream" in res)) headers.connection = "close";
  writeHead(res, status, headers);
  res.end(body);
  if (bodyUnread && "stream" in res) {
    // HTTP/2: after a complete response, RST_STREAM(NO_ERROR) tells the client to stop
    // sending the body (RFC 9113 §8.1); otherwise the half-open stream stays in flight.
    // Http2Stream.close sends the queued response first.
    if (!res.stream.closed) res.stream.close(0x0 /* NGHTTP2_NO_ERROR */);
  }
}

/**
 * Both response classes have `writeHead(status, headers)`, but TypeScript cannot call a
 * method through a union whose overload lists differ, so this names the shared signature.
 */
export function writeHead(res: HttpResponse, status: number, headers: Record<string, string | number>): void {
  (res as ServerResponse).writeHead(status, headers);
}
