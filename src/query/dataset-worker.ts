/** Worker-thread entry of the query worker pool (worker-pool.ts): runs dataset tasks. */
import { parentPort } from "node:worker_threads";
import { type DatasetTask, resultTransferList, runDatasetTask } from "./dataset-task.ts";

interface Request {
  id: number;
  task: DatasetTask;
}

const port = parentPort;
if (port === null) throw new Error("dataset-worker.ts must run in a worker thread");
port.on("message", (request: Request) => {
  try {
    const result = runDatasetTask(request.task);
    port.postMessage({ id: request.id, result }, resultTransferList(result));
  } catch (err) {
    port.postMessage({ id: request.id, error: err instanceof Error ? err.message : String(err) });
  }
});
