/**
 * A small pool of worker threads for per-dataset query work (dataset-task.ts): decoding
 * sections, summing per stack node and resolving names run off the main thread, on every
 * core, while the main thread merges the small results. Workers start on the first task (or
 * with `start()`, as the server does), are unref'd while idle (an idle pool never keeps the
 * process alive) and are replaced when one dies. With the store's folder, workers read their
 * tasks' sections themselves; function names come back as ids into a per-worker table
 * (name-dictionary.ts). The answer never depends on the pool: a task's result is a function of
 * its input.
 */
import { Worker } from "node:worker_threads";
import type { DatasetTask, DatasetTaskResult } from "./dataset-task.ts";
import { type EncodedNames, NameDecoder } from "./name-dictionary.ts";

interface Pending {
  id: number;
  task: DatasetTask;
  resolve: (result: DatasetTaskResult) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  current: Pending | undefined;
  /** This worker's name texts (name-dictionary.ts). */
  names: NameDecoder;
}

type Reply = { id: number; result: DatasetTaskResult; names?: EncodedNames } | { id: number; error: string };

const WORKER_URL = new URL("./dataset-worker.ts", import.meta.url);

export interface QueryWorkerConfig {
  /** The filesystem object store's folder: workers read the sections of their tasks. */
  objectsDir?: string;
}

export class WorkerPool {
  readonly size: number;
  readonly #slots: Slot[] = [];
  readonly #queue: Pending[] = [];
  #nextId = 1;
  #closed = false;

  readonly #config: QueryWorkerConfig;

  constructor(size: number, config: QueryWorkerConfig = {}) {
    if (!(Number.isInteger(size) && size >= 1)) throw new RangeError(`worker pool size ${size} invalid`);
    this.size = size;
    this.#config = config;
  }

  /** Whether tasks may leave their sections unread (workers read them from the store). */
  get readsObjects(): boolean {
    return this.#config.objectsDir !== undefined;
  }

  /** Runs `task` on a worker; rejects with the task's error message on failure. */
  run(task: DatasetTask): Promise<DatasetTaskResult> {
    if (this.#closed) return Promise.reject(new Error("worker pool closed"));
    return new Promise((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, task, resolve, reject });
      this.#dispatch();
    });
  }

  /**
   * Starts every worker now rather than on the first tasks (a server calls this at startup,
   * so its first query does not wait for threads to boot and load their modules).
   */
  start(): void {
    if (this.#closed) return;
    while (this.#slots.length < this.size) this.#spawn();
  }

  /** Stops every worker; queued and running tasks reject. */
  async close(): Promise<void> {
    this.#closed = true;
    const closed = new Error("worker pool closed");
    for (const pending of this.#queue.splice(0)) pending.reject(closed);
    const slots = this.#slots.splice(0);
    for (const slot of slots) slot.current?.reject(closed);
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      let slot = this.#slots.find((s) => s.current === undefined);
      if (slot === undefined) {
        if (this.#slots.length >= this.size) return;
        slot = this.#spawn();
      }
      const pending = this.#queue.shift()!;
      slot.current = pending;
      slot.worker.ref();
      slot.worker.postMessage({ id: pending.id, task: pending.task });
    }
  }

  #spawn(): Slot {
    const worker = new Worker(WORKER_URL, { workerData: this.#config });
    const slot: Slot = { worker, current: undefined, names: new NameDecoder() };
    worker.unref();
    worker.on("message", (reply: Reply) => {
      // Every reply's new names are kept, in order, whatever becomes of the reply.
      let decodeError: Error | undefined;
      if ("result" in reply && reply.names !== undefined && reply.result.partial !== undefined) {
        try {
          reply.result.partial.names = slot.names.decode(reply.names);
        } catch (err) {
          decodeError = err as Error;
        }
      }
      if (decodeError !== undefined) {
        // Out of step with this worker's names for good (a bug if seen): replace the worker;
        // its exit fails the pending task, which the engine then redoes on this thread.
        void worker.terminate();
        return;
      }
      const pending = slot.current;
      if (pending === undefined || pending.id !== reply.id) return;
      slot.current = undefined;
      worker.unref();
      if ("error" in reply) pending.reject(new Error(reply.error));
      else pending.resolve(reply.result);
      this.#dispatch();
    });
    const fail = (err: Error) => {
      const index = this.#slots.indexOf(slot);
      if (index >= 0) this.#slots.splice(index, 1);
      const pending = slot.current;
      slot.current = undefined;
      pending?.reject(err);
      if (!this.#closed) this.#dispatch();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`query worker exited with code ${code}`)));
    this.#slots.push(slot);
    return slot;
  }
}
