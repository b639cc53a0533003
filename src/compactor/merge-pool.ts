/**
 * A small pool of merge worker threads (merge-worker.ts) for the server's compactor: `merge`
 * has the shape of `compactBlocks` and is what `CompactorOptions.merge` takes. Workers start
 * on first use, up to `size` (the compactor's concurrency, so each running job has one), and
 * stay for the next jobs. A worker that exits or fails rejects the merge it was running (the
 * job then fails and is retried with back-off, like any failed merge) and is replaced on the
 * next merge.
 */
import { Worker } from "node:worker_threads";
import type { BlockMeta } from "../metastore/metastore.ts";
import type { CompactionOutput, CompactionStats, CompactOptions } from "./merge.ts";
import type { MergeReply, MergeRequest, MergeWorkerConfig } from "./merge-messages.ts";

const workerUrl = new URL("./merge-worker.ts", import.meta.url);

interface Pending {
  resolve(result: { outputs: CompactionOutput[]; stats: CompactionStats }): void;
  reject(error: unknown): void;
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  /** The merge this worker runs, if any. */
  busy: Pending | undefined;
  exited: boolean;
}

export class MergeWorkerError extends Error {
  constructor(message: string, stack?: string) {
    super(message);
    this.name = "MergeWorkerError";
    if (stack !== undefined && stack !== "") this.stack = stack;
  }
}

export class MergeWorkerPool {
  readonly #config: MergeWorkerConfig;
  readonly #size: number;
  readonly #slots: Slot[] = [];
  /** Merges waiting for a free worker, in arrival order. */
  readonly #queue: ((slot: Slot) => void)[] = [];
  #nextId = 1;
  #closed = false;

  constructor(options: { objectsDir: string; size: number }) {
    if (!Number.isSafeInteger(options.size) || options.size < 1)
      throw new RangeError(`merge pool size ${options.size} must be >= 1`);
    this.#config = { objectsDir: options.objectsDir };
    this.#size = options.size;
  }

  /** Worker threads alive now (for tests). */
  get workers(): number {
    return this.#slots.filter((slot) => !slot.exited).length;
  }

  /** Merges `sources` in a worker thread; same result as `compactBlocks(store, sources, options)`. */
  async merge(
    sources: readonly BlockMeta[],
    options: CompactOptions = {},
  ): Promise<{ outputs: CompactionOutput[]; stats: CompactionStats }> {
    if (this.#closed) throw new Error("merge pool is closed");
    const slot = await this.#acquire();
    try {
      await slot.ready;
      return await new Promise((resolve, reject) => {
        slot.busy = { resolve, reject };
        const request: MergeRequest = {
          type: "merge",
          id: this.#nextId++,
          sources: [...sources],
          nowMs: options.nowMs ?? Date.now(),
          rollups: options.rollups,
        };
        slot.worker.postMessage(request);
      });
    } finally {
      slot.busy = undefined;
      this.#release(slot);
    }
  }

  /** Stops the workers (a merge still running is rejected). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#slots.map((slot) => slot.worker.terminate()));
    this.#slots.length = 0;
  }

  #acquire(): Promise<Slot> {
    for (let i = this.#slots.length - 1; i >= 0; i--) if (this.#slots[i]!.exited) this.#slots.splice(i, 1);
    const idle = this.#slots.find((slot) => slot.busy === undefined && !this.#claimed.has(slot));
    if (idle !== undefined) {
      this.#claimed.add(idle);
      return Promise.resolve(idle);
    }
    if (this.#slots.length < this.#size) {
      const slot = this.#spawn();
      this.#claimed.add(slot);
      return Promise.resolve(slot);
    }
    return new Promise((resolve) => this.#queue.push(resolve));
  }

  /** Slots handed to a merge (from acquire to release). */
  readonly #claimed = new Set<Slot>();

  #release(slot: Slot): void {
    this.#claimed.delete(slot);
    const next = this.#queue.shift();
    if (next === undefined) return;
    if (slot.exited || this.#closed) {
      // Hand the waiter a fresh worker in place of the dead one.
      const index = this.#slots.indexOf(slot);
      if (index !== -1) this.#slots.splice(index, 1);
      if (this.#closed) return;
      const fresh = this.#spawn();
      this.#claimed.add(fresh);
      next(fresh);
      return;
    }
    this.#claimed.add(slot);
    next(slot);
  }

  #spawn(): Slot {
    const worker = new Worker(workerUrl, { workerData: this.#config, name: "kiln-compaction-merge" });
    let markReady!: () => void;
    let failStart!: (error: unknown) => void;
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failStart = reject;
    });
    ready.catch(() => {});
    const slot: Slot = { worker, ready, busy: undefined, exited: false };
    worker.on("message", (reply: MergeReply) => {
      if (reply.type === "ready") {
        markReady();
        return;
      }
      const pending = slot.busy;
      slot.busy = undefined;
      if (pending === undefined) return;
      if (reply.type === "done") pending.resolve({ outputs: reply.outputs, stats: reply.stats });
      else
        pending.reject(
          new MergeWorkerError(`${reply.error.name}: ${reply.error.message}`, reply.error.stack),
        );
    });
    const fail = (error: unknown) => {
      slot.exited = true;
      failStart(error);
      const pending = slot.busy;
      slot.busy = undefined;
      pending?.reject(error);
    };
    worker.on("error", (error) => fail(error));
    worker.on("exit", (code) => fail(new MergeWorkerError(`merge worker exited with code ${code}`)));
    this.#slots.push(slot);
    return slot;
  }
}
