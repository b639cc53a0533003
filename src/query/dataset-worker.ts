/** Worker-thread entry of the query worker pool (worker-pool.ts): runs dataset tasks. */
import { parentPort, workerData } from "node:worker_threads";
import { FsRangeReaderSync } from "../objstore/fs-store.ts";
import { type DatasetTask, type FramedSection, resultTransferList, runDatasetTask } from "./dataset-task.ts";
import { type EncodedNames, NameEncoder } from "./name-dictionary.ts";
import type { QueryWorkerConfig } from "./worker-pool.ts";

interface Request {
  id: number;
  task: DatasetTask;
}

const port = parentPort;
if (port === null) throw new Error("dataset-worker.ts must run in a worker thread");
const config = (workerData ?? {}) as QueryWorkerConfig;
const encoder = new NameEncoder();
/** Reads the sections the main thread left unread (the pool was given the store's folder). */
const reader = config.objectsDir === undefined ? undefined : new FsRangeReaderSync(config.objectsDir);

function fill(task: DatasetTask, section: FramedSection | undefined): void {
  if (section === undefined || section.bytes !== undefined) return;
  if (reader === undefined) throw new Error("dataset task without bytes, and this worker has no store");
  section.bytes = reader.read(task.objectKey, section.offset, section.sizeBytes);
}

port.on("message", (request: Request) => {
  const generation = encoder.generation;
  try {
    fill(request.task, request.task.rows);
    fill(request.task, request.task.symbols);
    const result = runDatasetTask(request.task);
    // Names go as numbers, their texts once (name-dictionary.ts).
    let names: EncodedNames | undefined;
    if (result.partial !== undefined) {
      names = encoder.encode(result.partial.names);
      result.partial.names = [];
    }
    const transfer = resultTransferList(result);
    if (names !== undefined) transfer.push(names.ids.buffer as ArrayBuffer);
    port.postMessage({ id: request.id, result, names }, transfer);
  } catch (err) {
    // Names this message would have introduced never arrived: start a new generation, so the
    // main thread drops its copy rather than miss them.
    if (encoder.generation === generation) encoder.reset();
    port.postMessage({ id: request.id, error: err instanceof Error ? err.message : String(err) });
  }
});
