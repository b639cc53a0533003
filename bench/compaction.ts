/**
 * Compaction and long-range benchmarks.
 *
 * Compaction: `minutes` of one service's pushes (`pods` pods, one push every `intervalS`
 * seconds each, out of phase) go through the real ingest path in this process: each push is
 * a real Go CPU pprof of the corpus, varied as in bench/query.ts (a load factor, every sample
 * scaled on its own, about one in five dropped), encoded and gzipped (that is the input size a
 * client would send), then normalized and pushed into the real SegmentWriter. Pushes are
 * grouped by 500 ms of their own time, the server's flush window, and each group is flushed
 * as one level-0 segment: the many small blocks a server leaves. Then the Compactor (on this
 * thread, default concurrency, as `kiln compactor --once` runs it) drains the
 * levels one after the other (L0 → L1, L1 → L2, L2 → L3, then L3 → L4, the default policy
 * with its age thresholds at 0 so that nothing waits; `compactToCompletion`), and the wall
 * time of the four drains is measured (session 1's figures had three levels). Source objects
 * are deleted right after each commit (no grace period), so the live blocks left are the
 * compacted data.
 *
 * Long ranges: 7 and 30 days of one service written as compaction leaves them (a daily
 * final block per past UTC day, hourly level-3 blocks for today, rollups from level 2) with
 * bench/query.ts's generator, then the real server is timed on
 * SelectMergeStacktraces over the last 7 d and 30 d.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { DEFAULT_LEVELS } from "../src/compactor/planner.ts";
import { decodePprof } from "../src/formats/pprof/decode.ts";
import { encodePprof } from "../src/formats/pprof/encode.ts";
import { ProfileFormat, QuerierService } from "../src/gen/querier/v1/querier_pb.js";
import { normalizePprof } from "../src/ingest/normalize/normalize.ts";
import { SegmentWriter } from "../src/ingest/segment-writer.ts";
import { SqliteMetastore } from "../src/metastore/sqlite.ts";
import type { Pprof } from "../src/model/pprof.ts";
import { FsObjectStore } from "../src/objstore/fs-store.ts";
import { compactToCompletion } from "../src/testing/compaction.ts";
import { mulberry32 } from "../src/testing/prng.ts";
import {
  benchLimits,
  CPU,
  CPU_QUANTUM,
  DROP_RATE,
  generate,
  MAX_NODES,
  podSeriesLabels,
  SERVICE,
  TENANT,
} from "./query.ts";
import { peakRssMb, startBenchServer } from "./server.ts";

/** The Go CPU pprofs of the corpus (as bench/query.ts uses them). */
const SOURCE_FILES = [
  "pyroscope-go-cpu-truncated.pb.gz",
  "pyroscope-go-cpu-labels.pb.gz",
  "pyroscope-go-cpu-uncompressed.pb",
  "pyroscope-go-cpu-span-id.pb.gz",
  "parca-go-fib-cpu.pb.gz",
];
const FLUSH_WINDOW_MS = 500;

export interface CompactionBenchOptions {
  testdataDir: string;
  minutes: number;
  pods: number;
  intervalS: number;
  seed?: number;
}

export interface CompactionBenchResult {
  pushes: number;
  /** Stored profiles written at level 0 (a push splits per profile type and label set). */
  profiles: number;
  inputBytes: number;
  level0Blocks: number;
  level0Bytes: number;
  generateMs: number;
  jobs: number;
  failedJobs: number;
  /** Source bytes of every job, all levels (a byte merged at L0, L1 and L2 counts thrice). */
  mergedBytes: number;
  compactionMs: number;
  liveBlocks: number;
  liveBytes: number;
  liveLevels: Record<number, number>;
  duplicateProfiles: number;
}

/** A copy of `p` at `timeNanos`: one sample in five dropped, the rest scaled by `factor` × 0.5–1.5. */
function varyPprof(p: Pprof, timeNanos: bigint, factor: number, random: () => number): Pprof | undefined {
  const types = p.sampleTypeStr.length;
  const quanta = Array.from({ length: types }, (_, t) => {
    for (let s = 0; s < p.sampleCount; s++) {
      if (p.sampleValues[s * types + t]! % CPU_QUANTUM !== 0) return 1;
    }
    return CPU_QUANTUM;
  });
  const keep: number[] = [];
  const values: number[] = [];
  for (let s = 0; s < p.sampleCount; s++) {
    if (random() < DROP_RATE) continue;
    const m = factor * (0.5 + random());
    const row = quanta.map((q, t) => Math.round((p.sampleValues[s * types + t]! * m) / q) * q);
    if (row.every((v) => v === 0)) continue;
    keep.push(s);
    values.push(...row);
  }
  if (keep.length === 0) return undefined;
  const locOffsets = new Uint32Array(keep.length + 1);
  const labelOffsets = new Uint32Array(keep.length + 1);
  const locs: number[] = [];
  const lk: number[] = [];
  const lv: number[] = [];
  const ln: number[] = [];
  const lu: number[] = [];
  keep.forEach((s, i) => {
    for (let j = p.sampleLocationOffsets[s]!; j < p.sampleLocationOffsets[s + 1]!; j++) {
      locs.push(p.sampleLocations[j]!);
    }
    for (let l = p.sampleLabelOffsets[s]!; l < p.sampleLabelOffsets[s + 1]!; l++) {
      lk.push(p.labelKeyStr[l]!);
      lv.push(p.labelValueStr[l]!);
      ln.push(p.labelNum[l]!);
      lu.push(p.labelNumUnitStr[l]!);
    }
    locOffsets[i + 1] = locs.length;
    labelOffsets[i + 1] = lk.length;
  });
  return {
    ...p,
    timeNanos,
    sampleCount: keep.length,
    sampleLocationOffsets: locOffsets,
    sampleLocations: Uint32Array.from(locs),
    sampleValues: Float64Array.from(values),
    sampleLabelOffsets: labelOffsets,
    labelKeyStr: Uint32Array.from(lk),
    labelValueStr: Uint32Array.from(lv),
    labelNum: Float64Array.from(ln),
    labelNumUnitStr: Uint32Array.from(lu),
  };
}

function dirBytes(dir: string): number {
  let sum = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) sum += readFileSync(join(e.parentPath, e.name)).byteLength;
  }
  return sum;
}

export async function runCompactionBench(opts: CompactionBenchOptions): Promise<CompactionBenchResult> {
  const dataDir = mkdtempSync(join(tmpdir(), "kiln-compaction-bench-"));
  const random = mulberry32(opts.seed ?? 7);
  const pprofs = SOURCE_FILES.map((f) =>
    decodePprof(new Uint8Array(readFileSync(join(opts.testdataDir, "pprof", f))), {
      maxDecompressedBytes: 64 << 20,
    }),
  );
  try {
    const store = await FsObjectStore.open(join(dataDir, "objects"));
    const metastore = await SqliteMetastore.open(dataDir);
    try {
      // ---- level 0: the segments a server leaves ----
      const t0 = performance.now();
      // The writer's flush timer is unref'd: keep the process alive while pushes wait on it.
      const keepAlive = setInterval(() => {}, 1000);
      let level0Blocks = 0;
      let level0Bytes = 0;
      const writer = new SegmentWriter({
        store,
        metastore,
        // Flushes as soon as a window's pushes are in: one segment per 500 ms of data time.
        flushIntervalMs: 1,
        segmentBytesMax: 64 << 20,
        onFlush: (r) => {
          if (!r.ok) throw new Error(`segment flush failed: ${String(r.error)}`);
          level0Blocks++;
          level0Bytes += r.sizeBytes;
        },
      });
      const nowMs = Math.floor(Date.now() / 1000) * 1000;
      const intervalMs = opts.intervalS * 1000;
      const startMs = nowMs - opts.minutes * 60_000;
      const times: { timeMs: number; pod: number }[] = [];
      for (let t = startMs; t < nowMs; t += intervalMs) {
        for (let p = 0; p < opts.pods; p++) {
          times.push({ timeMs: t + Math.floor((p * intervalMs) / opts.pods), pod: p });
        }
      }
      times.sort((a, b) => a.timeMs - b.timeMs);
      let inputBytes = 0;
      let pushes = 0;
      let profiles = 0;
      let i = 0;
      while (i < times.length) {
        const window = Math.floor(times[i]!.timeMs / FLUSH_WINDOW_MS);
        const pending: Promise<void>[] = [];
        for (; i < times.length && Math.floor(times[i]!.timeMs / FLUSH_WINDOW_MS) === window; i++) {
          const { timeMs, pod } = times[i]!;
          const source = pprofs[Math.floor(random() * pprofs.length)]!;
          const load = 0.7 + 0.6 * random();
          const pprof = varyPprof(source, BigInt(timeMs) * 1_000_000n, load, random);
          if (pprof === undefined) continue;
          inputBytes += gzipSync(encodePprof(pprof)).byteLength;
          const normalized = normalizePprof(pprof, {
            seriesLabels: podSeriesLabels(pod),
            limits: benchLimits,
            nowMs: Date.now(),
          });
          pushes++;
          profiles += normalized.length;
          pending.push(writer.push(TENANT, normalized));
        }
        await Promise.all(pending);
      }
      await writer.close();
      clearInterval(keepAlive);
      const generateMs = performance.now() - t0;

      // ---- compaction to completion, one level at a time (see compactToCompletion) ----
      // Level n is compacted only once level n − 1 is done, as a server's levels fill over
      // minutes and hours: draining every level at once with no age threshold would merge
      // each pair of fresh L1 blocks at once and leave many small final blocks.
      const c0 = performance.now();
      const reports = await compactToCompletion(store, metastore);
      const compactionMs = performance.now() - c0;

      const live = await metastore.listBlocks();
      const liveLevels: Record<number, number> = {};
      for (const b of live) liveLevels[b.level] = (liveLevels[b.level] ?? 0) + 1;
      const liveBytes = live.reduce((s, b) => s + b.sizeBytes, 0);
      // Every source object is gone: what is on disk is the live blocks.
      const onDisk = dirBytes(join(dataDir, "objects"));
      if (onDisk !== liveBytes) {
        throw new Error(`objects on disk hold ${onDisk} bytes, live blocks ${liveBytes}`);
      }
      const ok = reports.filter((r) => r.ok);
      return {
        pushes,
        profiles,
        inputBytes,
        level0Blocks,
        level0Bytes,
        generateMs,
        jobs: reports.length,
        failedJobs: reports.length - ok.length,
        mergedBytes: ok.reduce((s, r) => s + (r.stats?.sourceBytes ?? 0), 0),
        compactionMs,
        liveBlocks: live.length,
        liveBytes,
        liveLevels,
        duplicateProfiles: ok.reduce((s, r) => s + (r.stats?.duplicateProfiles ?? 0), 0),
      };
    } finally {
      await metastore.close();
      await store.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export interface LongRangeBenchOptions {
  testdataDir: string;
  days: number;
  pods: number;
  intervalS: number;
  runs: number;
  port: number;
  seed?: number;
}

export interface LongRangeBenchResult {
  pushes: number;
  profiles: number;
  blocks: number;
  storedBytes: number;
  generateMs: number;
  flamegraph7dColdMs: number;
  flamegraph7dMs: number;
  flamegraph30dColdMs: number;
  flamegraph30dMs: number;
  peakRssMb: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function runLongRangeBench(opts: LongRangeBenchOptions): Promise<LongRangeBenchResult> {
  const dataDir = mkdtempSync(join(tmpdir(), "kiln-longrange-bench-"));
  try {
    const nowMs = Math.floor(Date.now() / 1000) * 1000;
    const t0 = performance.now();
    const gen = await generate(
      {
        testdataDir: opts.testdataDir,
        pods: opts.pods,
        hours: opts.days * 24,
        intervalS: opts.intervalS,
        blockMinutes: 60,
        // What the default policy leaves: past UTC days as one final daily block each,
        // today's hours as hourly level-3 blocks.
        level: DEFAULT_LEVELS.length - 1,
        dayBlocksBeforeMs: Math.floor(nowMs / 86_400_000) * 86_400_000,
        dayLevel: DEFAULT_LEVELS.length,
        collectRows: false,
        ...(opts.seed === undefined ? {} : { seed: opts.seed }),
      },
      dataDir,
      nowMs,
    );
    const generateMs = performance.now() - t0;
    // A fresh server per range, so that each first call reads every block of its range cold.
    const d7 = await timeRange(opts, dataDir, nowMs, Math.min(7, opts.days));
    const d30 = await timeRange(opts, dataDir, nowMs, opts.days);
    if (d30.total !== gen.valueSum) {
      throw new Error(
        `${opts.days} d flame graph total ${d30.total}, generated samples sum to ${gen.valueSum}`,
      );
    }
    return {
      pushes: gen.pushes,
      profiles: gen.profiles,
      blocks: gen.blocks,
      storedBytes: gen.storedBytes,
      generateMs,
      flamegraph7dColdMs: d7.cold,
      flamegraph7dMs: d7.warm,
      flamegraph30dColdMs: d30.cold,
      flamegraph30dMs: d30.warm,
      peakRssMb: Math.max(d7.peakRssMb, d30.peakRssMb),
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Starts a server on `dataDir`, times one cold and `runs` warm flame graphs over `days`. */
async function timeRange(
  opts: LongRangeBenchOptions,
  dataDir: string,
  nowMs: number,
  days: number,
): Promise<{ cold: number; warm: number; total: number; peakRssMb: number }> {
  const server = await startBenchServer({
    port: opts.port,
    dataDir,
    args: ["--reject-older-than-ms", "0", "--compaction=false"],
  });
  try {
    const client = createClient(
      QuerierService,
      createConnectTransport({
        baseUrl: server.url,
        httpVersion: "1.1",
        useBinaryFormat: true,
        readMaxBytes: 1 << 30,
      }),
    );
    const flame = async () => {
      const t = performance.now();
      const res = await client.selectMergeStacktraces({
        profileTypeID: CPU,
        labelSelector: `{service_name="${SERVICE}"}`,
        start: BigInt(nowMs - days * 86_400_000),
        end: BigInt(nowMs),
        maxNodes: BigInt(MAX_NODES),
        format: ProfileFormat.FLAMEGRAPH,
      });
      return { ms: performance.now() - t, total: Number(res.flamegraph?.total ?? 0n) };
    };
    const cold = await flame();
    const warm: number[] = [];
    for (let i = 0; i < opts.runs; i++) warm.push((await flame()).ms);
    return { cold: cold.ms, warm: median(warm), total: cold.total, peakRssMb: peakRssMb(server.pid) };
  } finally {
    await server.stop();
  }
}
