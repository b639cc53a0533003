/**
 * The ingest worker pool: the HTTP thread reads requests and hands each one to a worker
 * thread (src/ingest/ingest-worker.ts), which decodes, normalizes and stores it through its
 * own segment writer. Decoding and storing are the CPU-heavy part of ingest, so with one
 * worker per core a server takes pushes on every core, like Pyroscope's segment-writer
 * shards.
 *
 * Routing: jobs go by a hash of (tenant, service), so one service's profiles land on one
 * worker and its symbols stay warm there, unless that worker is far busier than another.
 *
 * Bounds: each worker holds at most `jobsInFlightMax` jobs; beyond that a push is refused
 * with resource_exhausted (429) rather than queued without limit. A worker that dies fails
 * its jobs in flight with unavailable (503, retryable) and is replaced.
 */
import { Worker } from "node:worker_threads";
import { KilnError } from "../model/errors.ts";
import type { Logger } from "../observability/log.ts";
import type { IngestJob, IngestWorkerConfig, SerializedError, WorkerReply } from "./ingest-messages.ts";
import type { IngestLimits } from "./normalize/limits.ts";
import { IngestHttpError } from "./receivers/ingest-http.ts";
import type { FlushReport } from "./segment-writer.ts";

export interface IngestPoolOptions {
  workers: number;
  dataDir: string;
  limits: IngestLimits;
  flushIntervalMs: number;
  segmentBytesMax: number;
  logger: Logger;
  jobsInFlightMax?: number;
  onFlush?: (report: Omit<FlushReport, "error"> & { error?: string }) => void;
}

interface Pending {
  resolve(profiles: number): void;
  reject(err: unknown): void;
}

interface Slot {
  index: number;
  worker: Worker;
  ready: Promise<void>;
  jobs: Map<number, Pending>;
  closed?: () => void;
}

const workerUrl = new URL("./ingest-worker.ts", import.meta.url);
/** Respawns after unexpected worker deaths; past this the pool stops replacing them. */
const respawnsMax = 16;
/** Jobs a service's own worker may have beyond twice the least busy one's before work moves. */
const busyMarginJobs = 8;
/** Young-generation size of an ingest worker, in MiB (V8 default: 16 on 64-bit). */
const youngGenerationMb = 64;

export class IngestPool {
  readonly #opts: IngestPoolOptions & { jobsInFlightMax: number };
  readonly #slots: Slot[] = [];
  readonly #pending: Int32Array;
  readonly #pendingBuffer: SharedArrayBuffer;
  #nextJobId = 1;
  #closing = false;
  #respawns = 0;

  private constructor(opts: IngestPoolOptions) {
    if (!(opts.workers >= 1)) throw new RangeError("an ingest pool needs at least one worker");
    this.#opts = { jobsInFlightMax: 4096, ...opts };
    this.#pendingBuffer = new SharedArrayBuffer(4 * opts.workers);
    this.#pending = new Int32Array(this.#pendingBuffer);
  }

  /** Starts the workers and resolves once each has opened its stores. */
  static async start(opts: IngestPoolOptions): Promise<IngestPool> {
    const pool = new IngestPool(opts);
    for (let i = 0; i < opts.workers; i++) pool.#slots.push(pool.#spawn(i));
    await Promise.all(pool.#slots.map((s) => s.ready));
    return pool;
  }

  /** Profiles waiting in the workers' open segments. */
  get pendingProfiles(): number {
    let sum = 0;
    for (let i = 0; i < this.#pending.length; i++) sum += Atomics.load(this.#pending, i);
    return sum;
  }

  /**
   * Hands a job to the worker of its (tenant, service) and resolves with the number of
   * profiles stored once they are durable. Rejects with the KilnError (IngestHttpError for
   * /ingest statuses) the worker raised.
   */
  ingest(job: IngestJob, serviceKey: string): Promise<number> {
    if (this.#closing) {
      return Promise.reject(new KilnError("unavailable", "shutting_down", "server is shutting down"));
    }
    const slot = this.#pick(hash(`${job.tenant}\u0000${serviceKey}`));
    if (slot.jobs.size >= this.#opts.jobsInFlightMax) {
      return Promise.reject(
        new KilnError(
          "resource_exhausted",
          "ingest_queue_full",
          `ingest worker busy: ${slot.jobs.size} requests in flight (limit ${this.#opts.jobsInFlightMax}); retry later`,
        ),
      );
    }
    const id = this.#nextJobId++;
    return new Promise<number>((resolve, reject) => {
      slot.jobs.set(id, { resolve, reject });
      const message = withOwnBody(job);
      slot.worker.postMessage({ type: "job", id, job: message.job }, message.transfer);
    });
  }

  /**
   * The worker for a job: the service's own worker (its symbols are warm there) unless that
   * worker is far busier than the least busy one, which then takes it. Locality is only a
   * speed-up; balance keeps one heavy service from holding back every core but one.
   */
  #pick(serviceHash: number): Slot {
    const preferred = this.#slots[serviceHash % this.#slots.length]!;
    let least = preferred;
    for (const slot of this.#slots) if (slot.jobs.size < least.jobs.size) least = slot;
    return preferred.jobs.size > 2 * least.jobs.size + busyMarginJobs ? least : preferred;
  }

  /**
   * Fault injection for tests: stops a worker abruptly, as a crash would. Its jobs in flight
   * fail with unavailable and a new worker takes its place.
   */
  async crashWorkerForTest(index: number): Promise<void> {
    await this.#slots[index]!.worker.terminate();
  }

  /** Flushes every worker's open segment, answers their jobs, and stops the workers. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    await Promise.all(
      this.#slots.map(
        (slot) =>
          new Promise<void>((resolve) => {
            slot.closed = resolve;
            slot.worker.postMessage({ type: "close" });
          }),
      ),
    );
    await Promise.all(this.#slots.map((slot) => slot.worker.terminate()));
  }

  #spawn(index: number): Slot {
    const config: IngestWorkerConfig = {
      workerIndex: index,
      dataDir: this.#opts.dataDir,
      limits: this.#opts.limits,
      flushIntervalMs: this.#opts.flushIntervalMs,
      segmentBytesMax: this.#opts.segmentBytesMax,
      pendingProfiles: this.#pendingBuffer,
    };
    const worker = new Worker(workerUrl, {
      workerData: config,
      name: `kiln-ingest-${index}`,
      // Ingest allocates many short-lived typed arrays per push; a larger young generation
      // lets most of them die in cheap scavenges instead of being promoted and marked.
      resourceLimits: { maxYoungGenerationSizeMb: youngGenerationMb },
    });
    let markReady!: () => void;
    let failStart!: (err: unknown) => void;
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failStart = reject;
    });
    const slot: Slot = { index, worker, ready, jobs: new Map() };
    const log = this.#opts.logger.child({ ingestWorker: index });
    worker.on("message", (reply: WorkerReply) => {
      switch (reply.type) {
        case "ready":
          markReady();
          return;
        case "done":
          slot.jobs.get(reply.id)?.resolve(reply.profiles);
          slot.jobs.delete(reply.id);
          return;
        case "failed":
          slot.jobs.get(reply.id)?.reject(deserialize(reply.error));
          slot.jobs.delete(reply.id);
          return;
        case "flush":
          this.#opts.onFlush?.(reply.report);
          return;
        case "log":
          log[reply.level](reply.msg, reply.fields);
          return;
        case "closed":
          slot.closed?.();
          return;
      }
    });
    worker.on("error", (err) => {
      log.error("ingest worker failed", { err });
      failStart(err);
    });
    worker.on("exit", (code) => {
      if (this.#closing && slot.closed !== undefined) return;
      const err = new KilnError(
        "unavailable",
        "ingest_worker_exited",
        "the ingest worker handling this push stopped; nothing of this push was stored, retry it",
      );
      for (const job of slot.jobs.values()) job.reject(err);
      slot.jobs.clear();
      Atomics.store(this.#pending, index, 0);
      log.error("ingest worker exited", { code });
      if (!this.#closing && this.#respawns < respawnsMax) {
        this.#respawns++;
        this.#slots[index] = this.#spawn(index);
      }
    });
    return slot;
  }
}

/**
 * The body goes to the worker as its own fresh buffer, transferred (not cloned). It is copied
 * once first: a body read in one chunk is a view into a buffer of the socket, which must
 * never be detached, and structured clone would copy that whole buffer anyway.
 */
function withOwnBody(job: IngestJob): { job: IngestJob; transfer: ArrayBuffer[] } {
  if (job.kind === "push") return { job, transfer: [] };
  const body = new Uint8Array(job.body);
  return { job: { ...job, body }, transfer: [body.buffer] };
}

function deserialize(e: SerializedError): KilnError {
  if (e.status !== undefined) return new IngestHttpError(e.status, e.code, e.reason, e.message);
  return new KilnError(e.code, e.reason, e.message);
}

/** FNV-1a over UTF-16 code units: cheap and stable, for spreading services over workers. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
