/**
 * Messages between the HTTP thread and the ingest workers (src/ingest/ingest-pool.ts and
 * ingest-worker.ts). Plain data only: they cross a thread boundary by structured clone, so
 * errors travel as their fields and are rebuilt on the other side.
 */
import type { ErrorCode } from "../model/errors.ts";
import type { IngestLimits } from "./normalize/limits.ts";
import type { FlushReport } from "./segment-writer.ts";

export interface IngestWorkerConfig {
  workerIndex: number;
  dataDir: string;
  limits: IngestLimits;
  flushIntervalMs: number;
  segmentBytesMax: number;
  /** One Int32 slot per worker: profiles waiting in its open segment (for /metrics). */
  pendingProfiles: SharedArrayBuffer;
}

/** An /ingest request, as the HTTP layer received it. */
export interface HttpIngestJob {
  kind: "http";
  tenant: string;
  /** The URL's query string, without `?`. */
  query: string;
  contentType: string | undefined;
  body: Uint8Array;
  nowMs: number;
}

/** A push.v1 request: the series with their raw pprofs. */
export interface PushIngestJob {
  kind: "push";
  tenant: string;
  series: { labels: { name: string; value: string }[]; samples: { rawProfile: Uint8Array }[] }[];
  nowMs: number;
}

/** An OTLP profiles export (wire reference §7): the raw request body, HTTP or re-encoded gRPC. */
export interface OtlpIngestJob {
  kind: "otlp";
  tenant: string;
  /** application/x-protobuf, application/protobuf or application/json. */
  contentType: string | undefined;
  /** Content-Encoding of `body` (gzip or none); the worker decompresses. */
  contentEncoding: string | undefined;
  body: Uint8Array;
  nowMs: number;
}

export type IngestJob = HttpIngestJob | PushIngestJob | OtlpIngestJob;

export interface SerializedError {
  code: ErrorCode;
  reason: string;
  message: string;
  /** The HTTP status /ingest must answer with, when it differs from the code's. */
  status?: number;
  /** Not a KilnError: a bug or an environment failure; details went to the worker's log. */
  internal?: boolean;
}

export type WorkerRequest = { type: "job"; id: number; job: IngestJob } | { type: "close" };

export type WorkerReply =
  | { type: "ready" }
  | { type: "done"; id: number; profiles: number }
  | { type: "failed"; id: number; error: SerializedError }
  | { type: "flush"; report: Omit<FlushReport, "error"> & { error?: string } }
  | { type: "log"; level: "debug" | "info" | "warn" | "error"; msg: string; fields?: Record<string, unknown> }
  | { type: "closed" };
