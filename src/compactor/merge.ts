/**
 * Compaction of a set of source blocks into new blocks, one per tenant: reads every source
 * dataset's sections (ranged reads, located by the metastore's table of contents), merges the
 * datasets of each (tenant, service) with `DatasetMerger`, and encodes one block per tenant.
 *
 * Multi-tenant level-0 segments are split here: a job over segments emits one block for each
 * tenant they hold. Output blocks are `blocks/<tenant>/<ULID>/block.bin`, level
 * max(source levels) + 1. Nothing is written: the caller uploads and commits.
 */

import { DatasetMerger, type DatasetMergeStats } from "../block/block-merge.ts";
import { readIndex, readProfiles, readSymbols } from "../block/block-reader.ts";
import { assembleBlockAsync } from "../block/block-writer.ts";
import type { EncodedDataset } from "../block/dataset-builder.ts";
import { FORMAT_VERSION } from "../block/format.ts";
import { addRollups, checkRollupBuckets } from "../block/rollup-section.ts";
import type { BlockMeta, DatasetMeta } from "../metastore/metastore.ts";
import { ulid } from "../model/ulid.ts";
import type { ObjectStore } from "../objstore/object-store.ts";

export interface CompactionOutput {
  meta: BlockMeta;
  bytes: Uint8Array;
}

export interface CompactionStats {
  sourceBlocks: number;
  sourceBytes: number;
  outputBlocks: number;
  outputBytes: number;
  datasets: number;
  inputProfiles: number;
  outputProfiles: number;
  duplicateProfiles: number;
}

/** Which outputs get rollup sections (src/block/rollup-section.ts), and at which widths. */
export interface RollupPolicy {
  /** Ascending widths in ms, each a multiple of the one before; at most two; [] = none. */
  bucketsMs: readonly number[];
  /** Outputs of this level and above carry rollups. */
  fromLevel: number;
}

/** Rollups of 1 minute and 1 hour from level 2 on. */
export const DEFAULT_ROLLUPS: RollupPolicy = Object.freeze({
  bucketsMs: Object.freeze([60_000, 3_600_000]),
  fromLevel: 2,
});

export interface CompactOptions {
  /** Creation time of the output blocks (ms); also their ULID time. Default `Date.now()`. */
  nowMs?: number;
  /** Default DEFAULT_ROLLUPS. */
  rollups?: RollupPolicy;
}

/** The object key of a compacted block. Tenant ids are valid key segments (src/api/tenant.ts). */
export function compactedObjectKey(tenant: string, blockId: string): string {
  return `blocks/${tenant}/${blockId}/block.bin`;
}

/**
 * Merges `sources` (any levels, any tenants) into one block per tenant. Sources are taken in
 * block id order (creation order), so equal (series, time) rows keep their arrival order.
 */
export async function compactBlocks(
  store: ObjectStore,
  sources: readonly BlockMeta[],
  options: CompactOptions = {},
): Promise<{ outputs: CompactionOutput[]; stats: CompactionStats }> {
  if (sources.length === 0) throw new Error("compaction needs at least one source block");
  const nowMs = options.nowMs ?? Date.now();
  const ordered = [...sources].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const level = Math.max(...ordered.map((b) => b.level)) + 1;
  const rollups = options.rollups ?? DEFAULT_ROLLUPS;
  checkRollupBuckets(rollups.bucketsMs);
  const rollupBucketsMs = level >= rollups.fromLevel ? rollups.bucketsMs : [];
  // tenant → service → the source datasets, in block order.
  const byTenant = new Map<string, Map<string, { objectKey: string; dataset: DatasetMeta }[]>>();
  for (const block of ordered) {
    if (block.formatVersion !== FORMAT_VERSION) {
      throw new Error(
        `block ${block.id}: format version ${block.formatVersion}, this compactor writes ${FORMAT_VERSION}`,
      );
    }
    for (const dataset of block.datasets) {
      let services = byTenant.get(dataset.tenant);
      if (services === undefined) {
        services = new Map();
        byTenant.set(dataset.tenant, services);
      }
      let list = services.get(dataset.service);
      if (list === undefined) {
        list = [];
        services.set(dataset.service, list);
      }
      list.push({ objectKey: block.objectKey, dataset });
    }
  }
  const stats: CompactionStats = {
    sourceBlocks: ordered.length,
    sourceBytes: ordered.reduce((sum, b) => sum + b.sizeBytes, 0),
    outputBlocks: 0,
    outputBytes: 0,
    datasets: 0,
    inputProfiles: 0,
    outputProfiles: 0,
    duplicateProfiles: 0,
  };
  const outputs: CompactionOutput[] = [];
  for (const tenant of [...byTenant.keys()].sort()) {
    const services = byTenant.get(tenant)!;
    const encoded: EncodedDataset[] = [];
    for (const service of [...services.keys()].sort()) {
      const merged = await mergeDataset(store, tenant, service, services.get(service)!);
      encoded.push(addRollups(merged.dataset, rollupBucketsMs));
      addStats(stats, merged.stats);
      // Merging is synchronous CPU work: let other callbacks run between datasets.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const block = await assembleBlockAsync(encoded);
    const id = ulid(nowMs);
    outputs.push({
      bytes: block.bytes,
      meta: {
        id,
        objectKey: compactedObjectKey(tenant, id),
        formatVersion: FORMAT_VERSION,
        level,
        tenant,
        minTimeMs: block.minTimeMs,
        maxTimeMs: block.maxTimeMs,
        sizeBytes: block.bytes.byteLength,
        createdAtMs: nowMs,
        datasets: block.datasets,
      },
    });
    stats.outputBlocks++;
    stats.outputBytes += block.bytes.byteLength;
  }
  return { outputs, stats };
}

async function mergeDataset(
  store: ObjectStore,
  tenant: string,
  service: string,
  inputs: readonly { objectKey: string; dataset: DatasetMeta }[],
): Promise<{ dataset: EncodedDataset; stats: DatasetMergeStats }> {
  const merger = new DatasetMerger(tenant, service);
  // Read one input ahead of the merge of the previous one; never hold more than two decoded.
  const read = (i: number) => {
    const { objectKey, dataset } = inputs[i]!;
    const sections = Promise.all([
      readSymbols(store, objectKey, dataset),
      readIndex(store, objectKey, dataset),
      readProfiles(store, objectKey, dataset),
    ]);
    // Awaited below; this only keeps a read failing while a merge throws from going unhandled.
    sections.catch(() => {});
    return sections;
  };
  let next = read(0);
  for (let i = 0; i < inputs.length; i++) {
    const [symbols, index, profiles] = await next;
    if (i + 1 < inputs.length) next = read(i + 1);
    merger.add({ symbols, index, profiles });
  }
  return merger.encode();
}

function addStats(into: CompactionStats, dataset: DatasetMergeStats): void {
  into.datasets++;
  into.inputProfiles += dataset.inputProfiles;
  into.outputProfiles += dataset.outputProfiles;
  into.duplicateProfiles += dataset.duplicateProfiles;
}
