/**
 * Storing an encoded block as the segment writer and the compactor do (object first, then its
 * metastore row), for tests and benchmark generators that write blocks directly.
 */
import type { EncodedBlock } from "../block/block-writer.ts";
import { FORMAT_VERSION } from "../block/format.ts";
import type { Metastore } from "../metastore/metastore.ts";
import type { ObjectStore } from "../objstore/object-store.ts";

export async function storeBlock(
  store: ObjectStore,
  metastore: Metastore,
  encoded: EncodedBlock,
  block: { id: string; objectKey?: string; level: number; tenant: string; createdAtMs: number },
): Promise<string> {
  const objectKey = block.objectKey ?? `blocks/${block.id}/block.bin`;
  await store.put(objectKey, encoded.bytes);
  await metastore.addBlock({
    id: block.id,
    objectKey,
    formatVersion: FORMAT_VERSION,
    level: block.level,
    tenant: block.tenant,
    minTimeMs: encoded.minTimeMs,
    maxTimeMs: encoded.maxTimeMs,
    sizeBytes: encoded.bytes.byteLength,
    createdAtMs: block.createdAtMs,
    datasets: encoded.datasets,
  });
  return objectKey;
}
