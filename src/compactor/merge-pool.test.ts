import assert from "node:assert/strict";
import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { describe, it } from "node:test";
import { encodeBlock } from "../block/block-writer.ts";
import { DatasetBuilder } from "../block/dataset-builder.ts";
import { buildPprof, type FixtureLocation, type FixtureSample, normalize } from "../block/test-fixtures.ts";
import { defaultConfig } from "../cli/config.ts";
import type { Metastore } from "../metastore/metastore.ts";
import { SqliteMetastore } from "../metastore/sqlite.ts";
import { ulid } from "../model/ulid.ts";
import { FsObjectStore } from "../objstore/fs-store.ts";
import type { ObjectStore } from "../objstore/object-store.ts";
import { createLogger } from "../observability/log.ts";
import { createRegistry } from "../observability/metrics.ts";
import type { JobReport } from "./compactor.ts";
import { compactBlocks } from "./merge.ts";
import { MergeWorkerPool } from "./merge-pool.ts";
import { startServerCompactor } from "./server.ts";
import { tenantView } from "./test-support.ts";

const T0_NS = 1_700_000_000_000_000_000n;

/** A deterministic pseudo-random generator (xorshift32), so the data is the same every run. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

/** A level-0 segment of one tenant and service: `profiles` profiles of many distinct stacks. */
async function addSegment(
  store: ObjectStore,
  metastore: Metastore,
  options: { tenant: string; seed: number; profiles: number; samples: number; level?: number },
): Promise<void> {
  const random = rng(options.seed);
  const locations: FixtureLocation[] = [];
  for (let i = 0; i < 3000; i++) {
    locations.push({ address: i + 1, lines: [{ fn: `fn_${options.seed % 3}_${i}`, line: i % 97 }] });
  }
  const builder = new DatasetBuilder(options.tenant, "api");
  for (let p = 0; p < options.profiles; p++) {
    const samples: FixtureSample[] = [];
    for (let s = 0; s < options.samples; s++) {
      const depth = 8 + Math.floor(random() * 24);
      const stack: number[] = [];
      for (let d = 0; d < depth; d++) stack.push(Math.floor(random() * locations.length));
      samples.push({ stack, values: [1 + Math.floor(random() * 100)] });
    }
    const pprof = buildPprof({ sampleTypes: [["cpu", "nanoseconds"]], locations, samples });
    builder.append(
      normalize(pprof, {
        service: "api",
        timeNanos: T0_NS + BigInt(options.seed * 1000 + p) * 1_000_000n,
        extraLabels: [["pod", `p${p % 7}`]],
      }),
    );
  }
  const encoded = encodeBlock([builder]);
  const id = ulid();
  const objectKey = `segments/${id}/block.bin`;
  await store.put(objectKey, encoded.bytes);
  await metastore.addBlock({
    id,
    objectKey,
    formatVersion: 1,
    level: options.level ?? 0,
    tenant: options.level === undefined ? "" : options.tenant,
    minTimeMs: encoded.minTimeMs,
    maxTimeMs: encoded.maxTimeMs,
    sizeBytes: encoded.bytes.length,
    createdAtMs: Date.now(),
    datasets: encoded.datasets,
  });
}

describe("merge worker pool", () => {
  it("merges in a worker thread with the same result as compactBlocks", async () => {
    const dir = await fsp.mkdtemp(join(tmpdir(), "kiln-merge-pool-"));
    const store = await FsObjectStore.open(join(dir, "objects"));
    const metastore = await SqliteMetastore.open(dir);
    const pool = new MergeWorkerPool({ objectsDir: join(dir, "objects"), size: 2 });
    try {
      for (let seed = 1; seed <= 3; seed++) {
        await addSegment(store, metastore, { tenant: "t1", seed, profiles: 5, samples: 50 });
      }
      const sources = await metastore.listBlocks();
      const nowMs = Date.now();
      const inline = await compactBlocks(store, sources, { nowMs });
      const [a, b] = await Promise.all([pool.merge(sources, { nowMs }), pool.merge(sources, { nowMs })]);
      assert.equal(pool.workers, 2);
      for (const viaWorker of [a, b]) {
        assert.deepEqual(viaWorker.stats, inline.stats);
        assert.equal(viaWorker.outputs.length, 1);
        assert.deepEqual(viaWorker.outputs[0]!.bytes, inline.outputs[0]!.bytes);
        assert.deepEqual(
          { ...viaWorker.outputs[0]!.meta, id: "", objectKey: "" },
          { ...inline.outputs[0]!.meta, id: "", objectKey: "" },
        );
      }
      // A failing merge rejects with the worker's error; the pool keeps working.
      await assert.rejects(
        pool.merge([{ ...sources[0]!, objectKey: "segments/missing/block.bin" }], { nowMs }),
        /missing/,
      );
      assert.equal((await pool.merge(sources, { nowMs })).stats.outputBlocks, 1);
    } finally {
      await pool.close();
      await store.close();
      await metastore.close();
      await fsp.rm(dir, { recursive: true, force: true });
    }
    await assert.rejects(pool.merge([]), /closed/);
  });

  it("a query answered while a big merge runs in the server is not blocked by it", async (t) => {
    const dir = await fsp.mkdtemp(join(tmpdir(), "kiln-merge-offload-"));
    const store = await FsObjectStore.open(join(dir, "objects"));
    const metastore = await SqliteMetastore.open(dir);
    const running: { stop(): Promise<void> }[] = [];
    try {
      // The big job: level-0 segments of one dataset (merged in one piece of CPU work).
      for (let seed = 1; seed <= 6; seed++) {
        await addSegment(store, metastore, { tenant: "big", seed, profiles: 40, samples: 400 });
      }
      // What the queries read: a small final block of another tenant, never compacted.
      await addSegment(store, metastore, { tenant: "q", seed: 99, profiles: 2, samples: 20, level: 3 });
      const sources = await metastore.listBlocks({ level: 0 });

      // Reference: the same merge on this thread, and how long it stalls this event loop.
      const inlineDelay = monitorEventLoopDelay({ resolution: 5 });
      inlineDelay.enable();
      const inlineStart = performance.now();
      await compactBlocks(store, sources);
      const inlineMs = performance.now() - inlineStart;
      inlineDelay.disable();
      const inlineStallMs = inlineDelay.max / 1e6;

      const reports: JobReport[] = [];
      const delay = monitorEventLoopDelay({ resolution: 5 });
      const compactor = await startServerCompactor({
        dataDir: dir,
        config: { ...defaultConfig(), compactionIntervalMs: 20, compactionL0MaxAgeMs: 0 },
        metrics: createRegistry(),
        logger: createLogger({ level: "error" }),
        overrides: { hooks: { onJob: (report) => reports.push(report) } },
      });
      running.push(compactor);
      delay.enable();
      let queries = 0;
      let slowestQueryMs = 0;
      const jobStart = performance.now();
      while (reports.length === 0) {
        const started = performance.now();
        const view = await tenantView(store, metastore, "q");
        slowestQueryMs = Math.max(slowestQueryMs, performance.now() - started);
        assert.equal(view.flameGraphs.size, 1);
        queries++;
        await new Promise((resolve) => setTimeout(resolve, 2));
        assert.ok(performance.now() - jobStart < 120_000, "the compaction job did not finish");
      }
      delay.disable();
      const report = reports[0]!;
      assert.ok(report.ok, String(report.error));
      assert.equal(report.stats?.sourceBlocks, sources.length);
      const mergeMs = report.durationMs;
      const stallMs = delay.max / 1e6;
      t.diagnostic(
        `inline merge ${inlineMs.toFixed(0)} ms (stalled the loop ${inlineStallMs.toFixed(0)} ms); ` +
          `worker job ${mergeMs} ms: ${queries} queries, slowest ${slowestQueryMs.toFixed(1)} ms, ` +
          `loop stall max ${stallMs.toFixed(1)} ms`,
      );
      // Relative bounds only: the job's own duration, measured here, is the yardstick.
      assert.ok(queries >= 5, `only ${queries} queries answered during a ${mergeMs} ms merge`);
      assert.ok(slowestQueryMs < mergeMs / 4, `a query took ${slowestQueryMs} ms of a ${mergeMs} ms merge`);
      assert.ok(stallMs < mergeMs / 4, `the event loop stalled ${stallMs} ms during a ${mergeMs} ms merge`);
      assert.equal((await metastore.listBlocks({ level: 1 })).length, 1);
    } finally {
      for (const r of running) await r.stop();
      await store.close();
      await metastore.close();
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
