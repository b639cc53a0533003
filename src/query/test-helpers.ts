/**
 * Test support for src/query: real blocks built from corpus pprofs through the real ingest
 * path (decode → normalize → DatasetBuilder → encodeBlock → FsObjectStore → openBlock), and a
 * reader for the MANIFEST.md top-10 tables (src/testing/manifest.ts reads only the totals).
 */
import { readFileSync } from "node:fs";
import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openBlock } from "../block/block-reader.ts";
import { encodeBlock } from "../block/block-writer.ts";
import { DatasetBuilder } from "../block/dataset-builder.ts";
import { decodePprof } from "../formats/pprof/decode.ts";
import { defaultIngestLimits, type IngestLimits } from "../ingest/normalize/limits.ts";
import { normalizePprof } from "../ingest/normalize/normalize.ts";
import type { Label } from "../model/labels.ts";
import type { Pprof } from "../model/pprof.ts";
import { FsObjectStore } from "../objstore/fs-store.ts";
import { spyNameFor, testdataRoot } from "../testing/testdata.ts";
import type { DatasetSections } from "./merge.ts";

export const corpusLimits: IngestLimits = {
  ...defaultIngestLimits,
  rejectOlderThanMs: 0,
  creationGracePeriodMs: 0,
  maxProfileSamples: 0,
};

export function readCorpusPprof(path: string): Pprof {
  return decodePprof(readFileSync(join(testdataRoot, path)), { maxDecompressedBytes: 64 * 1024 * 1024 });
}

export interface CorpusInput {
  /** Path under the testdata root, e.g. "pprof/pyroscope-go-heap.pb.gz". */
  path: string;
  service: string;
  metricName?: string;
  extraLabels?: Label[];
  /** `pyroscope_spy` label; by default the SDK's for the file (src/testing/testdata.ts). */
  spyName?: string;
  /** Overrides the pprof's time (nanoseconds), e.g. to place copies apart. */
  timeNanos?: bigint;
}

export interface LoadedDataset extends DatasetSections {
  service: string;
}

/**
 * Builds one block holding the inputs (inputs with the same service share a dataset), writes
 * it to a real filesystem object store in a temp folder, reads it back and returns each
 * dataset's decoded sections. The folder is removed before returning.
 */
export async function buildCorpusBlock(inputs: readonly CorpusInput[]): Promise<LoadedDataset[]> {
  const builders = new Map<string, DatasetBuilder>();
  for (const input of inputs) {
    let pprof = readCorpusPprof(input.path);
    if (input.timeNanos !== undefined) pprof = { ...pprof, timeNanos: input.timeNanos };
    const labels: Label[] = [
      ["__name__", input.metricName ?? "process_cpu"],
      ["service_name", input.service],
      ["pyroscope_spy", input.spyName ?? spyNameFor(input.path)],
      ...(input.extraLabels ?? []),
    ];
    const profiles = normalizePprof(pprof, {
      seriesLabels: labels,
      limits: corpusLimits,
      nowMs: Date.now(),
      dashedSampleTypes: "replace",
    });
    let builder = builders.get(input.service);
    if (builder === undefined) {
      builder = new DatasetBuilder("tenant", input.service);
      builders.set(input.service, builder);
    }
    for (const profile of profiles) builder.append(profile);
  }
  const folder = await fsp.mkdtemp(join(tmpdir(), "kiln-query-"));
  const store = await FsObjectStore.open(folder);
  try {
    await store.put("blocks/query-test/block.bin", encodeBlock([...builders.values()]).bytes);
    const block = await openBlock(store, "blocks/query-test/block.bin");
    const out: LoadedDataset[] = [];
    for (const dataset of block.datasets) {
      const [symbols, index, profiles] = await Promise.all([
        block.readSymbols(dataset),
        block.readIndex(dataset),
        block.readProfiles(dataset),
      ]);
      out.push({ service: dataset.service, symbols, index, profiles });
    }
    return out;
  } finally {
    await store.close();
    await fsp.rm(folder, { recursive: true, force: true });
  }
}

export interface ManifestTop {
  /** "type:unit" → its top tables. */
  bySampleType: Map<string, { total: bigint; self: [string, bigint][]; inclusive: [string, bigint][] }>;
}

/** The top-10 tables of MANIFEST.md, by file path. */
export function readManifestTops(): Map<string, ManifestTop> {
  const text = readFileSync(join(testdataRoot, "MANIFEST.md"), "utf8");
  const out = new Map<string, ManifestTop>();
  let file: ManifestTop | undefined;
  let table: [string, bigint][] | undefined;
  let current: { total: bigint; self: [string, bigint][]; inclusive: [string, bigint][] } | undefined;
  for (const line of text.split("\n")) {
    const heading = /^### `([^`]+)`/.exec(line);
    if (heading) {
      file = { bySampleType: new Map() };
      out.set(heading[1]!, file);
      current = undefined;
      table = undefined;
      continue;
    }
    const type = /^\s*\*\*sample type `([^`]*)`\*\* \(total (-?\d+)\)/.exec(line);
    if (type && file) {
      current = { total: BigInt(type[2]!), self: [], inclusive: [] };
      file.bySampleType.set(type[1]!, current);
      continue;
    }
    if (current && /top 10 by self/.test(line)) table = current.self;
    else if (current && /top 10 by total/.test(line)) table = current.inclusive;
    const row = /^\s*\| \d+ \| `(.*)` \| (-?\d+) \|\s*$/.exec(line);
    if (row && table) table.push([row[1]!, BigInt(row[2]!)]);
  }
  for (const [path, top] of out) if (top.bySampleType.size === 0) out.delete(path);
  return out;
}
