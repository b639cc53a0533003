/** Messages between the compactor's merge pool (merge-pool.ts) and its workers (merge-worker.ts). */
import type { BlockMeta } from "../metastore/metastore.ts";
import type { CompactionOutput, CompactionStats, RollupPolicy } from "./merge.ts";

export interface MergeWorkerConfig {
  /** Root folder of the filesystem object store (`<data-dir>/objects`). */
  objectsDir: string;
}

export type MergeRequest =
  | { type: "merge"; id: number; sources: BlockMeta[]; nowMs: number; rollups: RollupPolicy | undefined }
  | { type: "close" };

export type MergeReply =
  | { type: "ready" }
  | { type: "done"; id: number; outputs: CompactionOutput[]; stats: CompactionStats }
  | { type: "failed"; id: number; error: { name: string; message: string; stack: string } };
