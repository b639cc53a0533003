/**
 * Query benchmark: flame graph and time-series latency of the real server over a generated
 * but realistic day of data, next to DuckDB answering the same question over the same samples.
 *
 * Dataset (built at run time, nothing derived is committed): one service, `pods` pods, each
 * pushing a Go CPU profile every `intervalS` seconds for `hours` hours up to now. Every push
 * is one of the corpus's real Go CPU pprofs (read and normalized as ingest would), varied per
 * push: a diurnal load curve and a per-push factor scale the values, every sample is scaled
 * again on its own and about one in five is dropped. Profiles are written straight into
 * blocks (one per `blockMinutes` of data, as compaction would leave them) with the block
 * writer, the object store and the metastore: pushing 69,120 profiles over HTTP would spend
 * the run on ingest, which bench/ingest.ts measures already.
 *
 * Kiln: the real server runs as a child process on that data folder; the client times
 * SelectMergeStacktraces (FLAMEGRAPH, max_nodes 8192) over the last 1 h, 6 h and 24 h and
 * SelectSeries (24 h, 60 s step) over Connect binary, and reads the server's peak RSS (VmHWM).
 *
 * DuckDB (in this process, in memory): the same samples as a columnar table
 * samples(time, series, stack_id, value), sorted by time, plus stacks(stack_id, path) where
 * path is the root-first function names of the stack. The timed query is end to end: select
 * the range, sum per stack, join the paths, and build the same named tree and flame graph
 * (the code Kiln's server runs) in JS from the result.
 */
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { BIGINT, DuckDBDataChunk, DuckDBInstance, INTEGER, VARCHAR } from "@duckdb/node-api";
import { assembleBlockAsync } from "../src/block/block-writer.ts";
import { DatasetBuilder } from "../src/block/dataset-builder.ts";
import { addRollups } from "../src/block/rollup-section.ts";
import { SymbolsBuilder } from "../src/block/symbols.ts";
import { locationFrames } from "../src/cli/query-source.ts";
import { DEFAULT_ROLLUPS } from "../src/compactor/merge.ts";
import { decodePprof } from "../src/formats/pprof/decode.ts";
import { ProfileFormat, QuerierService } from "../src/gen/querier/v1/querier_pb.js";
import { TimeSeriesAggregationType } from "../src/gen/types/v1/types_pb.js";
import { defaultIngestLimits, type IngestLimits } from "../src/ingest/normalize/limits.ts";
import { normalizePprof } from "../src/ingest/normalize/normalize.ts";
import { SqliteMetastore } from "../src/metastore/sqlite.ts";
import { type Label, labelsKey } from "../src/model/labels.ts";
import type { NormalizedProfile } from "../src/model/profile.ts";
import { profileTypeId } from "../src/model/profile-type.ts";
import { ulid } from "../src/model/ulid.ts";
import { FsObjectStore } from "../src/objstore/fs-store.ts";
import { flameGraph } from "../src/query/flamegraph.ts";
import { NameTree } from "../src/query/tree.ts";
import { storeBlock } from "../src/testing/blocks.ts";
import { mulberry32 } from "../src/testing/prng.ts";
import { peakRssMb, startBenchServer } from "./server.ts";

export interface QueryBenchOptions {
  testdataDir: string;
  pods: number;
  hours: number;
  intervalS: number;
  blockMinutes: number;
  /** Timed runs per query (after one warm-up); the median is reported. */
  runs: number;
  port: number;
  seed?: number;
}

export interface QueryBenchResult {
  pushes: number;
  /** Stored profiles (a push with pprof labels splits into one per label set). */
  profiles: number;
  samples: number;
  blocks: number;
  storedBytes: number;
  generateMs: number;
  /** First 24 h flame graph after the server started (empty section cache). */
  flamegraph24hColdMs: number;
  flamegraph1hMs: number;
  flamegraph6hMs: number;
  flamegraph24hMs: number;
  seriesMs: number;
  peakRssMb: number;
  duckdbLoadMs: number;
  duckdbFlamegraph1hMs: number;
  duckdbFlamegraph24hMs: number;
  /** Sum of every sample value of the 24 h range (both engines' flame graph totals equal it). */
  total24h: number;
}

export const SERVICE = "checkout";
export const TENANT = "anonymous";
export const CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
export const MAX_NODES = 8192;
/** Real Go CPU profiles of the corpus: the programs the service's pods run. */
const SOURCE_FILES = [
  "pyroscope-go-cpu-truncated.pb.gz",
  "pyroscope-go-cpu-labels.pb.gz",
  "pyroscope-go-cpu-uncompressed.pb",
  "pyroscope-go-cpu-span-id.pb.gz",
  "parca-go-fib-cpu.pb.gz",
];
/** Share of samples dropped from each push. */
export const DROP_RATE = 0.2;
/** CPU profiles count in periods of 10 ms. */
export const CPU_QUANTUM = 10_000_000;

export const benchLimits: IngestLimits = {
  ...defaultIngestLimits,
  rejectOlderThanMs: 0,
  creationGracePeriodMs: 0,
  maxProfileSamples: 0,
};

/** One stored profile of a source pprof for one pod, with its samples' stack ids for DuckDB. */
interface Base {
  profile: NormalizedProfile;
  series: number;
  stackIds: Int32Array;
  quantum: number;
}

/** Growable columns of the DuckDB samples table. */
class Columns {
  length = 0;
  time = new Float64Array(1 << 20);
  series = new Int32Array(1 << 20);
  stack = new Int32Array(1 << 20);
  value = new Float64Array(1 << 20);

  push(time: number, series: number, stack: number, value: number): void {
    if (this.length === this.time.length) this.#grow();
    const i = this.length++;
    this.time[i] = time;
    this.series[i] = series;
    this.stack[i] = stack;
    this.value[i] = value;
  }

  #grow(): void {
    const n = this.time.length * 2;
    const grow = <T extends Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.time = grow(this.time, (k) => new Float64Array(k));
    this.series = grow(this.series, (k) => new Int32Array(k));
    this.stack = grow(this.stack, (k) => new Int32Array(k));
    this.value = grow(this.value, (k) => new Float64Array(k));
  }
}

/** The series labels one pod of the benchmark service pushes with. */
export function podSeriesLabels(pod: number): Label[] {
  return [
    ["__name__", "process_cpu"],
    ["service_name", SERVICE],
    ["pyroscope_spy", "gospy"],
    ["pod", `${SERVICE}-${pod}`],
    ["region", pod % 2 === 0 ? "eu-west-1" : "us-east-1"],
  ];
}

/** Decodes and normalizes the source pprofs once per pod (CPU type only). */
function loadBases(testdataDir: string, pods: number, stackPaths: Map<string, number>): Base[][] {
  const seriesIds = new Map<string, number>();
  const files = SOURCE_FILES.filter((f) => existsSync(join(testdataDir, "pprof", f)));
  if (files.length === 0) throw new Error(`none of the Go CPU pprofs in ${testdataDir}/pprof`);
  const pprofs = files.map((f) =>
    decodePprof(new Uint8Array(readFileSync(join(testdataDir, "pprof", f))), {
      maxDecompressedBytes: 64 << 20,
    }),
  );
  const perPod: Base[][] = [];
  for (let p = 0; p < pods; p++) {
    const bases: Base[] = [];
    for (const pprof of pprofs) {
      const profiles = normalizePprof(pprof, {
        seriesLabels: podSeriesLabels(p),
        limits: benchLimits,
        nowMs: Date.now(),
      });
      for (const profile of profiles) {
        if (profileTypeId(profile.profileType) !== CPU) continue;
        const key = labelsKey(profile.seriesLabels);
        let series = seriesIds.get(key);
        if (series === undefined) {
          series = seriesIds.size;
          seriesIds.set(key, series);
        }
        bases.push({
          profile,
          series,
          stackIds: stackIdsOf(profile, stackPaths),
          quantum: quantumOf(profile),
        });
      }
    }
    perPod.push(bases);
  }
  return perPod;
}

/** The id of every sample's stack: its root-first function names, interned as one path. */
function stackIdsOf(profile: NormalizedProfile, stackPaths: Map<string, number>): Int32Array {
  const { symbols, stackOffsets, stackLocations, sampleCount } = profile;
  const ids = new Int32Array(sampleCount);
  const frames = new Map<number, string[]>();
  for (let s = 0; s < sampleCount; s++) {
    const names: string[] = [];
    for (let i = stackOffsets[s + 1]! - 1; i >= stackOffsets[s]!; i--) {
      const location = stackLocations[i]!;
      let f = frames.get(location);
      if (f === undefined) {
        f = locationFrames(symbols, location);
        frames.set(location, f);
      }
      for (let n = f.length - 1; n >= 0; n--) names.push(f[n]!);
    }
    const path = names.join(";");
    let id = stackPaths.get(path);
    if (id === undefined) {
      id = stackPaths.size;
      stackPaths.set(path, id);
    }
    ids[s] = id;
  }
  return ids;
}

function quantumOf(profile: NormalizedProfile): number {
  return profile.values.every((v) => v % CPU_QUANTUM === 0) ? CPU_QUANTUM : 1;
}

/** One push's variant of `base`: dropped and scaled samples, a new time and id. */
function variant(
  base: Base,
  timeMs: number,
  factor: number,
  random: () => number,
  rows: Columns | undefined,
): NormalizedProfile | undefined {
  const b = base.profile;
  const keep: number[] = [];
  const values: number[] = [];
  for (let s = 0; s < b.sampleCount; s++) {
    if (random() < DROP_RATE) continue;
    const scaled = Math.round((b.values[s]! * factor * (0.5 + random())) / base.quantum) * base.quantum;
    if (scaled === 0) continue;
    keep.push(s);
    values.push(scaled);
  }
  if (keep.length === 0) return undefined;
  const offsets = new Uint32Array(keep.length + 1);
  let locationCount = 0;
  for (const s of keep) locationCount += b.stackOffsets[s + 1]! - b.stackOffsets[s]!;
  const locations = new Uint32Array(locationCount);
  let at = 0;
  keep.forEach((s, i) => {
    locations.set(b.stackLocations.subarray(b.stackOffsets[s]!, b.stackOffsets[s + 1]!), at);
    at += b.stackOffsets[s + 1]! - b.stackOffsets[s]!;
    offsets[i + 1] = at;
    rows?.push(timeMs, base.series, base.stackIds[s]!, values[i]!);
  });
  const out: NormalizedProfile = {
    seriesLabels: b.seriesLabels,
    profileType: b.profileType,
    timeNanos: BigInt(timeMs) * 1_000_000n,
    durationNanos: BigInt(base.profile.durationNanos),
    profileId: randomUUID(),
    symbols: b.symbols,
    sampleCount: keep.length,
    stackOffsets: offsets,
    stackLocations: locations,
    values: Float64Array.from(values),
  };
  if (b.spanIds !== undefined) out.spanIds = BigUint64Array.from(keep, (s) => b.spanIds![s]!);
  if (b.traceIds !== undefined) out.traceIds = keep.map((s) => b.traceIds![s]!);
  return out;
}

interface Generated {
  pushes: number;
  profiles: number;
  blocks: number;
  storedBytes: number;
  rows: Columns;
  stackPaths: Map<string, number>;
  /** Sum of every generated sample value. */
  valueSum: number;
}

/** The shape of a generated dataset (see the module comment). */
export interface GenerateOptions {
  testdataDir: string;
  pods: number;
  hours: number;
  intervalS: number;
  blockMinutes: number;
  seed?: number;
  /** Level of the written blocks (default 1). */
  level?: number;
  /**
   * Profiles before this time (ms) go into one block per UTC day at `dayLevel` instead, as
   * the compactor's daily level leaves past days (default: none).
   */
  dayBlocksBeforeMs?: number;
  dayLevel?: number;
  /** Keep every sample as columns for DuckDB (default true). */
  collectRows?: boolean;
}

/**
 * Writes the dataset into `dataDir` as blocks and returns the same samples as columns (empty
 * when `collectRows` is false).
 */
export async function generate(opts: GenerateOptions, dataDir: string, nowMs: number): Promise<Generated> {
  const random = mulberry32(opts.seed ?? 42);
  const stackPaths = new Map<string, number>();
  const bases = loadBases(opts.testdataDir, opts.pods, stackPaths);
  const rows = new Columns();
  const keepRows = opts.collectRows ?? true;
  const store = await FsObjectStore.open(join(dataDir, "objects"));
  const metastore = await SqliteMetastore.open(dataDir);
  const intervalMs = opts.intervalS * 1000;
  const rangeMs = opts.hours * 3_600_000;
  const blockMs = opts.blockMinutes * 60_000;
  const ticks = Math.floor(rangeMs / intervalMs);
  const startMs = nowMs - rangeMs;
  // One dictionary for the whole day, as the segment writer keeps one per dataset: blocks
  // still hold only the symbols their own profiles use.
  const dictionary = new SymbolsBuilder();
  let builder = new DatasetBuilder(TENANT, SERVICE, dictionary);
  const DAY_MS = 86_400_000;
  /** A block's window: a UTC day before `dayBlocksBeforeMs`, else `blockMs` from the start. */
  const windowOf = (timeMs: number) =>
    timeMs < (opts.dayBlocksBeforeMs ?? Number.NEGATIVE_INFINITY)
      ? {
          key: `d${Math.floor(timeMs / DAY_MS)}`,
          level: opts.dayLevel ?? 4,
          startMs: Math.floor(timeMs / DAY_MS) * DAY_MS,
        }
      : {
          key: `w${Math.floor((timeMs - startMs) / blockMs)}`,
          level: opts.level ?? 1,
          startMs: startMs + Math.floor((timeMs - startMs) / blockMs) * blockMs,
        };
  let window: ReturnType<typeof windowOf> | undefined;
  let blocks = 0;
  let storedBytes = 0;
  let profiles = 0;
  let pushes = 0;
  let valueSum = 0;
  const flush = async () => {
    if (builder.profileCount === 0) return;
    // Blocks of a level that compaction gives rollups carry them, as the compactor writes them.
    const level = window!.level;
    const bucketsMs = level >= DEFAULT_ROLLUPS.fromLevel ? DEFAULT_ROLLUPS.bucketsMs : [];
    const encoded = await assembleBlockAsync([addRollups(builder.encode(), bucketsMs)]);
    const id = ulid(window!.startMs);
    await storeBlock(store, metastore, encoded, {
      id,
      level: level,
      tenant: TENANT,
      createdAtMs: Date.now(),
    });
    blocks++;
    storedBytes += encoded.bytes.byteLength;
    builder = new DatasetBuilder(TENANT, SERVICE, dictionary);
  };
  try {
    for (let k = 0; k < ticks; k++) {
      for (let p = 0; p < opts.pods; p++) {
        // Pods push out of phase; times stay in [now - range, now).
        const timeMs = startMs + k * intervalMs + Math.floor((p * intervalMs) / opts.pods);
        const w = windowOf(timeMs);
        if (w.key !== window?.key) {
          await flush();
          window = w;
        }
        const dayPhase = ((timeMs % 86_400_000) / 86_400_000) * 2 * Math.PI;
        const load = (1 + 0.35 * Math.sin(dayPhase)) * (0.7 + 0.6 * random());
        // A push carries every label set (series) of the program it ran.
        const podBases = bases[p]!;
        const program = podBases[Math.floor(random() * podBases.length)]!.profile.symbols;
        pushes++;
        for (const base of podBases) {
          if (base.profile.symbols !== program) continue;
          const profile = variant(base, timeMs, load, random, keepRows ? rows : undefined);
          if (profile === undefined) continue;
          builder.append(profile);
          for (const v of profile.values) valueSum += v;
          profiles++;
        }
      }
    }
    await flush();
  } finally {
    await metastore.close();
    await store.close();
  }
  return { pushes, profiles, blocks, storedBytes, rows, stackPaths, valueSum };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timed<T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await f();
  return { ms: performance.now() - t0, value };
}

/** One warm-up, then `runs` timed calls; the median time and the last answer. */
async function measure<T>(runs: number, f: () => Promise<T>): Promise<{ ms: number; value: T }> {
  await f();
  const times: number[] = [];
  let value: T | undefined;
  for (let i = 0; i < runs; i++) {
    const r = await timed(f);
    times.push(r.ms);
    value = r.value;
  }
  return { ms: median(times), value: value! };
}

interface KilnFigures {
  cold24: number;
  fg1: number;
  fg6: number;
  fg24: number;
  series: number;
  peakRssMb: number;
  total1h: number;
  total24h: number;
  seriesSum: number;
}

async function queryKiln(opts: QueryBenchOptions, dataDir: string, nowMs: number): Promise<KilnFigures> {
  const server = await startBenchServer({
    port: opts.port,
    dataDir,
    // The generated day reaches 24 h back, past the default accepted window of 1 h.
    args: ["--reject-older-than-ms", "0"],
  });
  const url = server.url;
  try {
    const client = createClient(
      QuerierService,
      createConnectTransport({
        baseUrl: url,
        httpVersion: "1.1",
        useBinaryFormat: true,
        readMaxBytes: 1 << 30,
      }),
    );
    const selector = `{service_name="${SERVICE}"}`;
    const flame = async (hours: number) => {
      const res = await client.selectMergeStacktraces({
        profileTypeID: CPU,
        labelSelector: selector,
        start: BigInt(nowMs - hours * 3_600_000),
        end: BigInt(nowMs),
        maxNodes: BigInt(MAX_NODES),
        format: ProfileFormat.FLAMEGRAPH,
      });
      return Number(res.flamegraph?.total ?? 0n);
    };
    const series = async () => {
      const res = await client.selectSeries({
        profileTypeID: CPU,
        labelSelector: selector,
        start: BigInt(nowMs - opts.hours * 3_600_000),
        end: BigInt(nowMs),
        step: 60,
        groupBy: [],
        aggregation: TimeSeriesAggregationType.SUM,
      });
      let sum = 0;
      for (const s of res.series) for (const p of s.points) sum += p.value;
      return sum;
    };
    const cold = await timed(() => flame(opts.hours));
    const fg1 = await measure(opts.runs, () => flame(Math.min(1, opts.hours)));
    const fg6 = await measure(opts.runs, () => flame(Math.min(6, opts.hours)));
    const fg24 = await measure(opts.runs, () => flame(opts.hours));
    const ser = await measure(opts.runs, series);
    return {
      cold24: cold.ms,
      fg1: fg1.ms,
      fg6: fg6.ms,
      fg24: fg24.ms,
      series: ser.ms,
      peakRssMb: peakRssMb(server.pid!),
      total1h: fg1.value,
      total24h: fg24.value,
      seriesSum: ser.value,
    };
  } finally {
    await server.stop();
  }
}

interface DuckFigures {
  loadMs: number;
  fg1: number;
  fg24: number;
  total1h: number;
  total24h: number;
}

async function queryDuckDb(opts: QueryBenchOptions, gen: Generated, nowMs: number): Promise<DuckFigures> {
  const instance = await DuckDBInstance.create(":memory:");
  const conn = await instance.connect();
  try {
    const t0 = performance.now();
    await conn.run("CREATE TABLE stacks (stack_id INTEGER PRIMARY KEY, path VARCHAR)");
    await conn.run("CREATE TABLE samples (time BIGINT, series INTEGER, stack_id INTEGER, value BIGINT)");
    const CHUNK = 2048;
    const stacks = await conn.createAppender("stacks");
    const paths = [...gen.stackPaths.keys()];
    const stackChunk = DuckDBDataChunk.create([INTEGER, VARCHAR], CHUNK);
    for (let base = 0; base < paths.length; base += CHUNK) {
      const n = Math.min(CHUNK, paths.length - base);
      stackChunk.rowCount = n;
      stackChunk.setColumns([Array.from({ length: n }, (_, j) => base + j), paths.slice(base, base + n)]);
      stacks.appendDataChunk(stackChunk);
    }
    stacks.closeSync();
    const samples = await conn.createAppender("samples");
    const chunk = DuckDBDataChunk.create([BIGINT, INTEGER, INTEGER, BIGINT], CHUNK);
    const { rows } = gen;
    for (let base = 0; base < rows.length; base += CHUNK) {
      const n = Math.min(CHUNK, rows.length - base);
      chunk.rowCount = n;
      const time = new Array<bigint>(n);
      const value = new Array<bigint>(n);
      for (let j = 0; j < n; j++) {
        time[j] = BigInt(rows.time[base + j]!);
        value[j] = BigInt(rows.value[base + j]!);
      }
      chunk.setColumns([
        time,
        Array.from(rows.series.subarray(base, base + n)),
        Array.from(rows.stack.subarray(base, base + n)),
        value,
      ]);
      samples.appendDataChunk(chunk);
    }
    samples.closeSync();
    const loadMs = performance.now() - t0;

    const statement = await conn.prepare(
      `SELECT st.path, agg.v
         FROM (SELECT stack_id, CAST(sum(value) AS DOUBLE) AS v
                 FROM samples WHERE time BETWEEN $1 AND $2 GROUP BY stack_id) agg
         JOIN stacks st USING (stack_id)`,
    );
    const flame = async (hours: number) => {
      statement.bindBigInt(1, BigInt(nowMs - hours * 3_600_000));
      statement.bindBigInt(2, BigInt(nowMs));
      const reader = await statement.runAndReadAll();
      const [pathColumn, valueColumn] = reader.getColumnsJS() as [string[], number[]];
      const tree = new NameTree();
      for (let i = 0; i < pathColumn.length; i++) tree.addStack(pathColumn[i]!.split(";"), valueColumn[i]!);
      return flameGraph(tree, MAX_NODES).total;
    };
    const fg1 = await measure(opts.runs, () => flame(Math.min(1, opts.hours)));
    const fg24 = await measure(opts.runs, () => flame(opts.hours));
    return { loadMs, fg1: fg1.ms, fg24: fg24.ms, total1h: fg1.value, total24h: fg24.value };
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

export async function runQueryBench(opts: QueryBenchOptions): Promise<QueryBenchResult> {
  const dataDir = mkdtempSync(join(tmpdir(), "kiln-query-bench-"));
  try {
    // Whole seconds, so every range edge is a whole millisecond on both sides.
    const nowMs = Math.floor(Date.now() / 1000) * 1000;
    const t0 = performance.now();
    const gen = await generate(opts, dataDir, nowMs);
    const generateMs = performance.now() - t0;
    const kiln = await queryKiln(opts, dataDir, nowMs);
    const duck = await queryDuckDb(opts, gen, nowMs);
    let sum = 0;
    for (let i = 0; i < gen.rows.length; i++) sum += gen.rows.value[i]!;
    // Both engines must have answered the same question.
    for (const [what, got] of [
      ["Kiln 24 h flame graph total", kiln.total24h],
      ["Kiln 24 h series sum", kiln.seriesSum],
      ["DuckDB 24 h flame graph total", duck.total24h],
    ] as const) {
      if (got !== sum) throw new Error(`${what} is ${got}, the generated samples sum to ${sum}`);
    }
    if (kiln.total1h !== duck.total1h) {
      throw new Error(`1 h totals differ: Kiln ${kiln.total1h}, DuckDB ${duck.total1h}`);
    }
    return {
      pushes: gen.pushes,
      profiles: gen.profiles,
      samples: gen.rows.length,
      blocks: gen.blocks,
      storedBytes: gen.storedBytes,
      generateMs,
      flamegraph24hColdMs: kiln.cold24,
      flamegraph1hMs: kiln.fg1,
      flamegraph6hMs: kiln.fg6,
      flamegraph24hMs: kiln.fg24,
      seriesMs: kiln.series,
      peakRssMb: kiln.peakRssMb,
      duckdbLoadMs: duck.loadMs,
      duckdbFlamegraph1hMs: duck.fg1,
      duckdbFlamegraph24hMs: duck.fg24,
      total24h: sum,
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
