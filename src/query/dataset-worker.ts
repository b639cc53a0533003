/** Worker-thread entry of the query worker pool (worker-pool.ts): runs dataset tasks. */
import { parentPort, workerData } from "node:worker_threads";
import { FsRangeReaderSync } from "../objstore/fs-store.ts";
import { SharedNameRenumbering } from "./aggregate.ts";
import { type DatasetTask, type FramedSection, resultTransferList, runDatasetTask } from "./dataset-task.ts";
import { type EncodedNames, NameSender } from "./name-dictionary.ts";
import type { QueryWorkerConfig } from "./worker-pool.ts";

interface Request {
  id: number;
  task: DatasetTask;
}

const port = parentPort;
if (port === null) throw new Error("dataset-worker.ts must run in a worker thread");
const config = (workerData ?? {}) as QueryWorkerConfig;
const names = new NameSender();
const renumbering = new SharedNameRenumbering();
/** Reads the sections the main thread left unread (the pool was given the store's folder). */
const reader = config.objectsDir === undefined ? undefined : new FsRangeReaderSync(config.objectsDir);

function fill(task: DatasetTask, section: FramedSection | undefined): void {
  if (section === undefined || section.bytes !== undefined) return;
  if (reader === undefined) throw new Error("dataset task without bytes, and this worker has no store");
  section.bytes = reader.read(task.objectKey, section.offset, section.sizeBytes);
}

port.on("message", (request: Request) => {
  let encoded: EncodedNames | undefined;
  try {
    fill(request.task, request.task.rows);
    fill(request.task, request.task.symbols);
    // Names are interned into the worker's shared table and go as ids (name-dictionary.ts).
    const { nameIds, ...result } = runDatasetTask(request.task, { names: names.table(), renumbering });
    encoded = nameIds === undefined ? undefined : names.encode(nameIds);
    const transfer = resultTransferList(result);
    if (encoded !== undefined) transfer.push(encoded.ids.buffer as ArrayBuffer);
    port.postMessage({ id: request.id, result, names: encoded }, transfer);
  } catch (err) {
    // Texts `encode` counted as sent never arrived: a new generation makes the main thread
    // drop its copy rather than miss them. (Names interned by a task that failed earlier go
    // out with the next message, as any new name.)
    if (encoded !== undefined) names.reset();
    port.postMessage({ id: request.id, error: err instanceof Error ? err.message : String(err) });
  }
});
