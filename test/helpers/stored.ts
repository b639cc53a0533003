/**
 * Reads back what a Kiln data folder holds, through the metastore and the block reader only
 * (the same path a query takes): totals per profile type, and series label sets.
 */
import { join } from "node:path";
import { openBlock } from "../../src/block/block-reader.ts";
import { SqliteMetastore } from "../../src/metastore/sqlite.ts";
import type { Labels } from "../../src/model/labels.ts";
import { FsObjectStore } from "../../src/objstore/fs-store.ts";

export interface StoredFilter {
  tenant?: string;
  service?: string;
}

export interface StoredData {
  /** profile type ID → sum of all values. */
  totals: Map<string, bigint>;
  /** Every stored series (label sets include the private labels). */
  series: Labels[];
  profiles: number;
  blocks: number;
}

export async function readStored(dataDir: string, filter: StoredFilter = {}): Promise<StoredData> {
  const metastore = await SqliteMetastore.open(dataDir);
  const store = await FsObjectStore.open(join(dataDir, "objects"));
  try {
    const totals = new Map<string, bigint>();
    const series: Labels[] = [];
    let profiles = 0;
    const blocks = await metastore.listBlocks();
    for (const meta of blocks) {
      const block = await openBlock(store, meta.objectKey);
      for (const ds of block.datasets) {
        if (filter.tenant !== undefined && ds.tenant !== filter.tenant) continue;
        if (filter.service !== undefined && ds.service !== filter.service) continue;
        const index = await block.readIndex(ds);
        const rows = await block.readProfiles(ds);
        for (const labels of index.seriesLabels) series.push(labels);
        for (let p = 0; p < rows.profileCount; p++) {
          const type = index.seriesProfileType[rows.seriesIndex[p]!]!;
          // Sum the samples themselves rather than trusting the per-profile totals column,
          // and check the column against them.
          let sum = 0n;
          for (let s = rows.sampleOffsets[p]!; s < rows.sampleOffsets[p + 1]!; s++) {
            sum += BigInt(rows.sampleValues[s]!);
          }
          if (sum !== rows.totals[p]) {
            throw new Error(
              `block ${meta.id}: profile ${p} total column ${rows.totals[p]} != sample sum ${sum}`,
            );
          }
          totals.set(type, (totals.get(type) ?? 0n) + sum);
          profiles++;
        }
      }
    }
    return { totals, series, profiles, blocks: blocks.length };
  } finally {
    await store.close();
    await metastore.close();
  }
}
