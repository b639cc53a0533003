/**
 * An ingest worker thread: decodes, normalizes and stores the profiles of the jobs the HTTP
 * thread hands it, through its own segment writer (its own block per flush window), and
 * answers each job once its profiles are durable. Workers share nothing but the data folder:
 * the object store takes concurrent writers by design, and the SQLite metastore serializes
 * writers through WAL and its busy timeout. Routing keeps one service on one worker, so its
 * symbols and stacks stay warm in that worker's memory.
 */
import { join } from "node:path";
import { parentPort, workerData } from "node:worker_threads";
import { profilesFromOtlp } from "../formats/otlp/ingest.ts";
import { SqliteMetastore } from "../metastore/sqlite.ts";
import { KilnError } from "../model/errors.ts";
import type { NormalizedProfile } from "../model/profile.ts";
import { FsObjectStore } from "../objstore/fs-store.ts";
import type {
  IngestJob,
  IngestWorkerConfig,
  SerializedError,
  WorkerReply,
  WorkerRequest,
} from "./ingest-messages.ts";
import { profilesFromPushRequest } from "./push-request.ts";
import { IngestHttpError, parseIngestRequest } from "./receivers/ingest-http.ts";
import { SegmentWriter } from "./segment-writer.ts";

const port = parentPort;
if (port === null) throw new Error("ingest-worker.ts must run as a worker thread");
const config = workerData as IngestWorkerConfig;
const pending = new Int32Array(config.pendingProfiles);

const post = (reply: WorkerReply) => port.postMessage(reply);

const store = await FsObjectStore.open(join(config.dataDir, "objects"));
const metastore = await SqliteMetastore.open(config.dataDir);
const writer = new SegmentWriter({
  store,
  metastore,
  flushIntervalMs: config.flushIntervalMs,
  segmentBytesMax: config.segmentBytesMax,
  onFlush(report) {
    Atomics.store(pending, config.workerIndex, writer.pendingProfiles);
    const { error, ...rest } = report;
    post({
      type: "flush",
      report:
        error === undefined
          ? rest
          : { ...rest, error: error instanceof Error ? error.message : String(error) },
    });
  },
});

async function profilesOf(job: IngestJob): Promise<NormalizedProfile[]> {
  if (job.kind === "http") {
    const result = await parseIngestRequest({
      query: new URLSearchParams(job.query),
      contentType: job.contentType,
      body: job.body,
      limits: config.limits,
      nowMs: job.nowMs,
    });
    return result.profiles;
  }
  if (job.kind === "otlp") {
    return profilesFromOtlp({
      body: job.body,
      contentType: job.contentType,
      contentEncoding: job.contentEncoding,
      limits: config.limits,
      nowMs: job.nowMs,
    });
  }
  return profilesFromPushRequest(job, config.limits, job.nowMs);
}

function serialize(err: unknown): SerializedError {
  if (err instanceof IngestHttpError) {
    return { code: err.code, reason: err.reason, message: err.message, status: err.status };
  }
  if (err instanceof KilnError) return { code: err.code, reason: err.reason, message: err.message };
  post({
    type: "log",
    level: "error",
    msg: "ingest job failed",
    fields: { err: String((err as Error)?.stack ?? err) },
  });
  return { code: "internal", reason: "internal", message: "internal error", internal: true };
}

async function run(id: number, job: IngestJob): Promise<void> {
  try {
    const profiles = await profilesOf(job);
    const durable = writer.push(job.tenant, profiles);
    Atomics.store(pending, config.workerIndex, writer.pendingProfiles);
    await durable;
    post({ type: "done", id, profiles: profiles.length });
  } catch (err) {
    post({ type: "failed", id, error: serialize(err) });
  }
}

port.on("message", (request: WorkerRequest) => {
  if (request.type === "job") {
    void run(request.id, request.job);
    return;
  }
  // close: flush the open segment (answering its jobs), then release the stores.
  void (async () => {
    await writer.close();
    Atomics.store(pending, config.workerIndex, 0);
    await metastore.close();
    await store.close();
    post({ type: "closed" });
    port.close();
  })();
});

post({ type: "ready" });
