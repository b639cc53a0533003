/**
 * A merge worker thread: runs `compactBlocks` (src/compactor/merge.ts) for the compactor of
 * the all-in-one server, so the merge's synchronous CPU work (decoding, deduplicating and
 * re-encoding whole datasets) never stalls the thread that answers queries and pushes.
 *
 * The worker only reads: it opens its own handle on the object store, reads the sources'
 * sections and sends the encoded outputs back (their buffers transferred, not copied). The
 * lease, its renewal, the upload and the fenced commit stay with the `Compactor` on the
 * calling thread, so the crash-safety and fencing rules of src/compactor/compactor.ts hold
 * unchanged: a worker that dies mid-merge has written nothing.
 */
import { parentPort, workerData } from "node:worker_threads";
import { FsObjectStore } from "../objstore/fs-store.ts";
import { compactBlocks } from "./merge.ts";
import type { MergeReply, MergeRequest, MergeWorkerConfig } from "./merge-messages.ts";

const port = parentPort;
if (port === null) throw new Error("merge-worker.ts must run as a worker thread");
const config = workerData as MergeWorkerConfig;
const store = await FsObjectStore.open(config.objectsDir);

port.on("message", (request: MergeRequest) => {
  if (request.type === "close") {
    void store.close().finally(() => port.close());
    return;
  }
  const options = request.rollups === undefined ? {} : { rollups: request.rollups };
  compactBlocks(store, request.sources, { nowMs: request.nowMs, ...options }).then(
    ({ outputs, stats }) => {
      const transfer: ArrayBuffer[] = [];
      const owned = outputs.map((output) => {
        // Transfer whole buffers only: a view into a larger buffer is copied into its own first.
        const { bytes } = output;
        const own =
          bytes.byteOffset === 0 &&
          bytes.byteLength === bytes.buffer.byteLength &&
          bytes.buffer instanceof ArrayBuffer
            ? bytes
            : bytes.slice();
        transfer.push(own.buffer as ArrayBuffer);
        return { meta: output.meta, bytes: own };
      });
      const reply: MergeReply = { type: "done", id: request.id, outputs: owned, stats };
      port.postMessage(reply, transfer);
    },
    (error: unknown) => {
      const reply: MergeReply = {
        type: "failed",
        id: request.id,
        error:
          error instanceof Error
            ? { name: error.name, message: error.message, stack: error.stack ?? "" }
            : { name: "Error", message: String(error), stack: "" },
      };
      port.postMessage(reply);
    },
  );
});

port.postMessage({ type: "ready" } satisfies MergeReply);
