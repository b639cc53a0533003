/**
 * The aggregate cache and the worker pool of the query engine answer exactly as the plain
 * per-sample path: flame graphs and series are byte-identical with the cache off (reference),
 * pool size 1 and pool size 2, cold and warm, over ranges that cover datasets wholly and
 * ranges whose edges cut datasets.
 */
import assert from "node:assert/strict";
import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { encodeBlock } from "../src/block/block-writer.ts";
import { DatasetBuilder } from "../src/block/dataset-builder.ts";
import { SymbolsBuilder } from "../src/block/symbols.ts";
import { normalizePprof } from "../src/ingest/normalize/normalize.ts";
import { SqliteMetastore } from "../src/metastore/sqlite.ts";
import type { Label } from "../src/model/labels.ts";
import { FsObjectStore } from "../src/objstore/fs-store.ts";
import { QueryEngine, type SeriesQuery, type StackQuery } from "../src/query/engine.ts";
import { flameGraph } from "../src/query/flamegraph.ts";
import { corpusLimits, readCorpusPprof } from "../src/query/test-helpers.ts";
import { storeBlock } from "../src/testing/blocks.ts";
import { testdata } from "../src/testing/testdata.ts";

const corpus = testdata("pprof");
const TENANT = "anonymous";
const FILES = ["pyroscope-go-cpu-labels.pb.gz", "parca-go-fib-cpu.pb.gz", "pyroscope-go-cpu-span-id.pb.gz"];
const BLOCK_MS = 600_000;
const BLOCKS = 4;
const T0 = 1_700_000_000_000;
const CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";

describe("query aggregate cache and worker pool", { skip: corpus.skip }, () => {
  let folder: string;
  let store: FsObjectStore;
  let metastore: SqliteMetastore;
  const engines: QueryEngine[] = [];

  before(async () => {
    folder = await fsp.mkdtemp(join(tmpdir(), "kiln-aggregate-"));
    store = await FsObjectStore.open(join(folder, "objects"));
    metastore = await SqliteMetastore.open(folder);
    const dictionary = new SymbolsBuilder();
    for (let b = 0; b < BLOCKS; b++) {
      const builder = new DatasetBuilder(TENANT, "checkout", dictionary);
      for (let k = 0; k < 6; k++) {
        for (let pod = 0; pod < 3; pod++) {
          const file = FILES[(b + k + pod) % FILES.length]!;
          const timeMs = T0 + b * BLOCK_MS + k * 100_000 + pod * 1000;
          const pprof = { ...readCorpusPprof(`pprof/${file}`), timeNanos: BigInt(timeMs) * 1_000_000n };
          const labels: Label[] = [
            ["__name__", "process_cpu"],
            ["service_name", "checkout"],
            ["pod", `p${pod}`],
          ];
          for (const profile of normalizePprof(pprof, {
            seriesLabels: labels,
            limits: corpusLimits,
            nowMs: T0,
            dashedSampleTypes: "replace",
          })) {
            builder.append(profile);
          }
        }
      }
      const encoded = encodeBlock([builder]);
      const id = `01HBLOCK${String(b).padStart(18, "0")}`;
      await storeBlock(store, metastore, encoded, { id, level: 1, tenant: TENANT, createdAtMs: T0 });
    }
  });

  after(async () => {
    for (const engine of engines) await engine.close();
    await metastore?.close();
    await store?.close();
    if (folder !== undefined) await fsp.rm(folder, { recursive: true, force: true });
  });

  const engine = (options: { aggregateCacheBytes?: number; workers: number }) => {
    const e = new QueryEngine({ store, metastore, ...options });
    engines.push(e);
    return e;
  };

  const end = T0 + BLOCKS * BLOCK_MS;
  const ranges = [
    { startMs: T0 - 1, endMs: end }, // every dataset wholly inside
    { startMs: T0 + 250_000, endMs: T0 + 2 * BLOCK_MS + 150_000 }, // edges cut two datasets
    { startMs: T0 + BLOCK_MS, endMs: T0 + 3 * BLOCK_MS - 1 }, // whole middle blocks only
  ];
  const selectors = ["{}", '{service_name="checkout"}', '{pod="p1"}', '{pod=~"p[02]"}', '{pod="none"}'];

  const stackQueries = (): StackQuery[] => {
    const out: StackQuery[] = [];
    for (const range of ranges)
      for (const selector of selectors) out.push({ tenant: TENANT, profileType: CPU, selector, ...range });
    // Filters bypass the aggregates.
    out.push({ tenant: TENANT, profileType: CPU, selector: "{}", ...ranges[0]!, callSite: ["runtime.main"] });
    out.push({
      tenant: TENANT,
      profileType: CPU,
      selector: "{}",
      ...ranges[0]!,
      spanSelector: ["0000000000000001"],
    });
    return out;
  };

  const flame = async (e: QueryEngine, q: StackQuery) => {
    const tree = await e.mergeTree(q);
    return JSON.stringify({ graph: flameGraph(tree, 8192), exact: tree.exact, magnitude: tree.magnitude });
  };

  it("flame graphs: identical with the cache off, pool size 1 and 2, cold and warm", async () => {
    const reference = engine({ aggregateCacheBytes: 0, workers: 0 });
    const inProcess = engine({ workers: 0 });
    const one = engine({ workers: 1 });
    const two = engine({ workers: 2 });
    let nonEmpty = 0;
    for (let pass = 0; pass < 2; pass++) {
      for (const q of stackQueries()) {
        const want = await flame(reference, q);
        if (JSON.parse(want).graph.total > 0) nonEmpty++;
        for (const e of [inProcess, one, two]) assert.equal(await flame(e, q), want, `${JSON.stringify(q)}`);
      }
    }
    assert.ok(nonEmpty > 10, "the queries select data");
    assert.ok(two.aggregates.size > 0, "the aggregates are cached");
    assert.ok(one.aggregates.stats.hits > 0, "the second pass hits the cache");
  });

  it("shared name tables and concurrent queries give the same trees", async () => {
    const reference = engine({ aggregateCacheBytes: 0, workers: 0 });
    const two = engine({ workers: 2 });
    const q = stackQueries()[0]!;
    const results = await Promise.all([flame(two, q), flame(two, q), flame(two, { ...q, ...ranges[1]! })]);
    assert.equal(results[0], await flame(reference, q));
    assert.equal(results[1], results[0]);
    assert.equal(results[2], await flame(reference, { ...q, ...ranges[1]! }));
  });

  it("series: identical with the cache off, pool size 1 and 2, cold and warm", async () => {
    const reference = engine({ aggregateCacheBytes: 0, workers: 0 });
    const one = engine({ workers: 1 });
    const two = engine({ workers: 2 });
    for (let pass = 0; pass < 2; pass++) {
      for (const range of ranges) {
        for (const selector of selectors) {
          for (const variant of [
            { groupBy: [], aggregation: "sum" as const },
            { groupBy: ["pod"], aggregation: "average" as const, exemplars: "individual" as const },
            { groupBy: ["pod"], aggregation: "sum" as const, limit: 1 },
          ]) {
            const q: SeriesQuery = {
              tenant: TENANT,
              profileType: CPU,
              selector,
              ...range,
              stepMs: 60_000,
              ...variant,
            };
            const want = JSON.stringify(await reference.selectSeries(q));
            assert.equal(JSON.stringify(await one.selectSeries(q)), want);
            assert.equal(JSON.stringify(await two.selectSeries(q)), want);
          }
        }
      }
    }
    const total = await reference.selectSeries({
      tenant: TENANT,
      profileType: CPU,
      selector: "{}",
      ...ranges[0]!,
      stepMs: 60_000,
      groupBy: [],
      aggregation: "sum",
    });
    assert.ok(total.length === 1 && total[0]!.points.length > 10);
  });
});
