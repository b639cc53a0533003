/**
 * Connect/gRPC/gRPC-web handler for Node requests: connect-node's adapter, plus one
 * correction. connect-es answers a request message that is not valid protobuf with
 * `internal` ("parse binary: …", HTTP 500 / grpc-status 13), while connect-go, and so
 * Pyroscope, answers `invalid_argument`. Malformed input is the client's fault and must get
 * a 4xx (Connect) or InvalidArgument (gRPC), so this adapter rewrites exactly that error.
 */

import { gunzipSync } from "node:zlib";
import type { ContextValues } from "@connectrpc/connect";
import {
  Code,
  type ConnectRouter,
  type ConnectRouterOptions,
  createConnectRouter,
} from "@connectrpc/connect";
import {
  createAsyncIterable,
  type UniversalHandler,
  type UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";

/** connect-node's request and response types (Node's two response classes with `write` unified). */
export type NodeServerRequest = Parameters<typeof universalRequestFromNodeRequest>[0];
export type NodeServerResponse = Parameters<typeof universalResponseToNodeResponse>[1];

const parseErrorPrefix = "parse binary:";
/** An error body larger than this is not a connect-es parse error; it is passed on untouched. */
const errorBodyBytesMax = 64 * 1024;

export interface ConnectAdapterOptions extends ConnectRouterOptions {
  routes: (router: ConnectRouter) => void;
  contextValues?: (req: NodeServerRequest) => ContextValues;
  onHandlerError?: (rpc: string, err: unknown) => void;
}

export interface ConnectAdapter {
  /** Request paths served, with the RPC name of each (`<service>/<method>`). */
  readonly paths: ReadonlyMap<string, string>;
  handle(req: NodeServerRequest, res: NodeServerResponse): void;
}

export function createConnectAdapter(options: ConnectAdapterOptions): ConnectAdapter {
  const router = createConnectRouter(options);
  options.routes(router);
  const handlers = new Map<string, UniversalHandler>();
  const paths = new Map<string, string>();
  for (const h of router.handlers) {
    handlers.set(h.requestPath, h);
    paths.set(h.requestPath, `${h.service.typeName}/${h.method.name}`);
  }
  return {
    paths,
    handle(req, res) {
      const path = (req.url ?? "").split("?", 1)[0] ?? "";
      const handler = handlers.get(path);
      if (handler === undefined) {
        res.writeHead(404);
        res.end();
        return;
      }
      const uReq = universalRequestFromNodeRequest(req, res, undefined, options.contextValues?.(req));
      handler(uReq)
        .then(async (uRes) => universalResponseToNodeResponse(await correctParseErrors(uRes), res))
        .catch((err: unknown) => options.onHandlerError?.(paths.get(path)!, err));
    },
  };
}

async function correctParseErrors(uRes: UniversalServerResponse): Promise<UniversalServerResponse> {
  const contentType = headerOf(uRes, "content-type") ?? "";
  if (contentType.startsWith("application/grpc") && !contentType.startsWith("application/grpc-web")) {
    return correctGrpcTrailer(uRes);
  }
  if (uRes.status === 500 && contentType.startsWith("application/json") && uRes.body !== undefined) {
    return correctConnectUnary(uRes);
  }
  return uRes;
}

function headerOf(uRes: UniversalServerResponse, name: string): string | undefined {
  return uRes.header?.get(name) ?? undefined;
}

/**
 * Connect unary: the error is the whole (small) JSON body and the status goes out before it,
 * so the body is read here first.
 */
async function correctConnectUnary(uRes: UniversalServerResponse): Promise<UniversalServerResponse> {
  const original = uRes.body!;
  if (original instanceof Uint8Array || !(Symbol.asyncIterator in original)) return uRes;
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of original as AsyncIterable<Uint8Array>) {
    chunks.push(chunk);
    size += chunk.byteLength;
    if (size > errorBodyBytesMax) break;
  }
  const bytes = Buffer.concat(chunks);
  const rest = { ...uRes, body: createAsyncIterable([bytes]) };
  if (size > errorBodyBytesMax) return rest;
  const header = new Headers(uRes.header);
  try {
    const text = (header.get("content-encoding") === "gzip" ? gunzipSync(bytes) : bytes).toString("utf8");
    const json = JSON.parse(text) as { code?: string; message?: string };
    if (json.code === "internal" && json.message?.startsWith(parseErrorPrefix)) {
      const fixed = Buffer.from(JSON.stringify({ code: "invalid_argument", message: json.message }), "utf8");
      header.delete("content-encoding");
      header.set("content-length", String(fixed.byteLength));
      return { ...uRes, status: 400, header, body: createAsyncIterable([fixed]) };
    }
  } catch {
    // Not JSON we understand: pass it on unchanged.
  }
  return rest;
}

/** gRPC: the status travels in trailers, filled in once the body has been produced. */
function correctGrpcTrailer(uRes: UniversalServerResponse): UniversalServerResponse {
  const original = uRes.body;
  const trailer = uRes.trailer;
  if (original === undefined || trailer === undefined || original instanceof Uint8Array) return uRes;
  return {
    ...uRes,
    body: (async function* () {
      yield* original as AsyncIterable<Uint8Array>;
      const grpcStatus = trailer.get("grpc-status");
      const message = decodeURIComponent(trailer.get("grpc-message") ?? "");
      if (grpcStatus === String(Code.Internal) && message.startsWith(parseErrorPrefix)) {
        trailer.set("grpc-status", String(Code.InvalidArgument));
      }
    })(),
  };
}
