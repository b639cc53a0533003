/**
 * Test support for compaction: a data folder filled through the real segment writer with
 * real corpus profiles, and what queries see of it through the query core (flame graphs per
 * service and profile type, and series totals). Used by tests only.
 */
import { readIndex, readProfiles, readSymbols } from "../block/block-reader.ts";
import { normalizePprof } from "../ingest/normalize/normalize.ts";
import { SegmentWriter } from "../ingest/segment-writer.ts";
import type { Metastore } from "../metastore/metastore.ts";
import { labelsKey } from "../model/labels.ts";
import type { ObjectStore } from "../objstore/object-store.ts";
import { mergeDatasetInto } from "../query/merge.ts";
import { corpusLimits, readCorpusPprof } from "../query/test-helpers.ts";
import { NameTree } from "../query/tree.ts";
import { spyNameFor } from "../testing/testdata.ts";

/** One push: a corpus pprof for one tenant and service at a given time. */
export interface CorpusPush {
  tenant: string;
  service: string;
  /** Path under the testdata root. */
  path: string;
  timeMs: number;
  extraLabels?: [string, string][];
}

/** 2023-11-14T22:13:20Z: pushes sit a few minutes after it, inside one planning window. */
export const BASE_TIME_MS = 1_700_000_000_000;

/**
 * Pushes through a real SegmentWriter. Each inner array is pushed at once (so its pushes share
 * one segment, multi-tenant when tenants differ); arrays go one after the other, each flushed
 * before the next, so each makes its own segment.
 */
export async function pushSegments(
  store: ObjectStore,
  metastore: Metastore,
  segments: readonly (readonly CorpusPush[])[],
): Promise<void> {
  const writer = new SegmentWriter({
    store,
    metastore,
    flushIntervalMs: 5,
    segmentBytesMax: 256 * 1024 * 1024,
  });
  try {
    for (const pushes of segments) {
      await Promise.all(
        pushes.map((push) => {
          const pprof = { ...readCorpusPprof(push.path), timeNanos: BigInt(push.timeMs) * 1_000_000n };
          const profiles = normalizePprof(pprof, {
            seriesLabels: [
              ["__name__", "process_cpu"],
              ["service_name", push.service],
              ["pyroscope_spy", spyNameFor(push.path)],
              ...(push.extraLabels ?? []),
            ],
            limits: corpusLimits,
            nowMs: Date.now(),
            dashedSampleTypes: "replace",
          });
          return writer.push(push.tenant, profiles);
        }),
      );
    }
  } finally {
    await writer.close();
  }
}

/** What queries see for one tenant: flame graphs and series, as comparable plain values. */
export interface TenantView {
  /** "service|profileType" → "root;…;leaf" → self value (non-zero only). */
  flameGraphs: Map<string, Map<string, number>>;
  /** "service|series labels" → [profiles, sum of totals]. */
  series: Map<string, [number, bigint]>;
}

/** Reads every live dataset of `tenant` and merges it with the query core. */
export async function tenantView(
  store: ObjectStore,
  metastore: Metastore,
  tenant: string,
): Promise<TenantView> {
  const hits = await metastore.queryDatasets({ tenant, startMs: 0, endMs: Number.MAX_SAFE_INTEGER });
  const trees = new Map<string, NameTree>();
  const series = new Map<string, [number, bigint]>();
  for (const hit of hits) {
    const { dataset, objectKey } = hit;
    const [symbols, index, profiles] = await Promise.all([
      readSymbols(store, objectKey, dataset),
      readIndex(store, objectKey, dataset),
      readProfiles(store, objectKey, dataset),
    ]);
    for (const profileType of dataset.profileTypes) {
      const key = `${dataset.service}|${profileType}`;
      let tree = trees.get(key);
      if (tree === undefined) {
        tree = new NameTree();
        trees.set(key, tree);
      }
      mergeDatasetInto(
        tree,
        { symbols, index, profiles },
        { profileType, startMs: 0, endMs: Number.MAX_SAFE_INTEGER },
      );
    }
    for (let p = 0; p < profiles.profileCount; p++) {
      const key = `${dataset.service}|${labelsKey(index.seriesLabels[profiles.seriesIndex[p]!]!)}`;
      const entry = series.get(key) ?? [0, 0n];
      series.set(key, [entry[0] + 1, entry[1] + profiles.totals[p]!]);
    }
  }
  const flameGraphs = new Map<string, Map<string, number>>();
  for (const [key, tree] of trees) flameGraphs.set(key, treePaths(tree));
  return { flameGraphs: sortMap(flameGraphs), series: sortMap(series) };
}

function treePaths(tree: NameTree): Map<string, number> {
  const view = tree.view();
  const names = tree.names.list;
  const paths = new Array<string>(view.nodeCount);
  paths[0] = "";
  const out = new Map<string, number>();
  for (let node = 1; node < view.nodeCount; node++) {
    const parent = view.parent[node]!;
    const name = names[view.name[node]!]!;
    paths[node] = parent === 0 ? name : `${paths[parent]};${name}`;
    const self = view.self[node]!;
    if (self !== 0) out.set(paths[node]!, (out.get(paths[node]!) ?? 0) + self);
  }
  return sortMap(out);
}

function sortMap<V>(map: Map<string, V>): Map<string, V> {
  return new Map([...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Sum of all self values of a view (a quick sanity number for messages). */
export function viewTotal(view: TenantView): number {
  let total = 0;
  for (const graph of view.flameGraphs.values()) for (const value of graph.values()) total += value;
  return total;
}
