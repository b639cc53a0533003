/**
 * `npm run bench`: prints a table; `npm run bench -- --json` prints one JSON object.
 * Every figure is printed next to the baseline measured in the same run.
 *
 * Parts: ingest (bench/ingest.ts) and query (bench/query.ts); `--no-ingest` or `--no-query`
 * skips one. Query dataset size: `--query-pods=8 --query-hours=24 --query-interval-s=10`
 * (the defaults), `--query-runs=5` timed runs per query.
 *
 * Compaction and long ranges (bench/compaction.ts; `--no-compaction` skips both):
 * `--compaction-minutes=60 --compaction-pods=8 --compaction-interval-s=10` of level-0
 * segments compacted to completion; `--long-days=30 --long-pods=8 --long-interval-s=60` of
 * blocks as compaction leaves them (daily for past days, hourly today) for the 7 d and 30 d
 * flame graphs (`--long-runs=5` warm runs each).
 *
 * Web UI (bench/ui.ts; `--no-ui` skips it): flame graph first render and hover/zoom frame
 * times in Chromium, and the app's bundle size (`--ui-dpr=1` sets the device pixel ratio).
 */

import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { testdataRoot } from "../src/testing/testdata.ts";
import {
  type CompactionBenchResult,
  type LongRangeBenchResult,
  runCompactionBench,
  runLongRangeBench,
} from "./compaction.ts";
import { cpuBreakdown } from "./cpu-breakdown.ts";
import { type IngestBenchResult, runIngestBench } from "./ingest.ts";
import { type QueryBenchResult, runQueryBench } from "./query.ts";
import { defaultUiBenchOptions, runUiBench, type UiBenchResult, uiResult, uiRows } from "./ui.ts";

const json = process.argv.includes("--json");
function numberArg(name: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (arg === undefined) return fallback;
  const value = Number(arg.slice(name.length + 3));
  if (!(value > 0)) throw new Error(`--${name} must be a positive number`);
  return value;
}
const durationMs = numberArg("duration-ms", 15_000);
// Agents push every 10–15 s each, so a server sees many concurrent pushes, each waiting up
// to one flush window (500 ms) for its acknowledgement: throughput needs many clients.
const clients = numberArg("clients", 256);
const runIngest = !process.argv.includes("--no-ingest");
const runQuery = !process.argv.includes("--no-query");
const runCompaction = !process.argv.includes("--no-compaction");
const runUi = !process.argv.includes("--no-ui");
const cpuProfileDir = "bench-profiles";
const cpuProfile = process.argv.includes("--cpu-prof");
if (cpuProfile) rmSync(cpuProfileDir, { recursive: true, force: true });
const serverNodeArgs = cpuProfile ? ["--cpu-prof", `--cpu-prof-dir=${cpuProfileDir}`] : [];
const ingest = runIngest
  ? await runIngestBench({
      testdataDir: testdataRoot,
      durationMs,
      concurrency: clients,
      port: 14040,
      serverNodeArgs,
    })
  : undefined;
const query = runQuery
  ? await runQueryBench({
      testdataDir: testdataRoot,
      pods: numberArg("query-pods", 8),
      hours: numberArg("query-hours", 24),
      intervalS: numberArg("query-interval-s", 10),
      blockMinutes: numberArg("query-block-minutes", 10),
      runs: numberArg("query-runs", 5),
      port: 14041,
    })
  : undefined;

const compaction = runCompaction
  ? await runCompactionBench({
      testdataDir: testdataRoot,
      minutes: numberArg("compaction-minutes", 60),
      pods: numberArg("compaction-pods", 8),
      intervalS: numberArg("compaction-interval-s", 10),
    })
  : undefined;
const longRange = runCompaction
  ? await runLongRangeBench({
      testdataDir: testdataRoot,
      days: numberArg("long-days", 30),
      pods: numberArg("long-pods", 8),
      intervalS: numberArg("long-interval-s", 60),
      runs: numberArg("long-runs", 5),
      port: 14042,
    })
  : undefined;

const ui: UiBenchResult | undefined = runUi
  ? await runUiBench({ ...defaultUiBenchOptions, devicePixelRatio: numberArg("ui-dpr", 1) })
  : undefined;

const result: Record<string, number> = {};
if (ingest) Object.assign(result, ingestResult(ingest));
if (query) Object.assign(result, queryResult(query));
if (compaction) Object.assign(result, compactionResult(compaction));
if (longRange) Object.assign(result, longRangeResult(longRange));
if (ui) Object.assign(result, uiResult(ui));

function compactionResult(c: CompactionBenchResult): Record<string, number> {
  const compacted = c.liveBytes / c.pushes;
  const input = c.inputBytes / c.pushes;
  return {
    "storage.compactedBytesPerProfile": round(compacted),
    "storage.level0BytesPerProfile": round(c.level0Bytes / c.pushes),
    // The ingest part's storage.inputBytesPerProfile is over its own corpus mix.
    "storage.compactionInputBytesPerProfile": round(input),
    "storage.compactedToInputRatio": round(compacted / input, 4),
    "compaction.mbPerSec": round(c.mergedBytes / 1e6 / (c.compactionMs / 1000), 2),
    "compaction.level0MbPerSec": round(c.level0Bytes / 1e6 / (c.compactionMs / 1000), 2),
    "compaction.ms": round(c.compactionMs),
    "compaction.jobs": c.jobs,
    "compaction.level0Blocks": c.level0Blocks,
    "compaction.liveBlocks": c.liveBlocks,
  };
}

function longRangeResult(l: LongRangeBenchResult): Record<string, number> {
  return {
    "query.flamegraph7dMs": round(l.flamegraph7dMs, 1),
    "query.flamegraph7dColdMs": round(l.flamegraph7dColdMs, 1),
    "query.flamegraph30dMs": round(l.flamegraph30dMs, 1),
    "query.flamegraph30dColdMs": round(l.flamegraph30dColdMs, 1),
    "query.longRangePeakRssMb": round(l.peakRssMb),
  };
}

function queryResult(q: QueryBenchResult): Record<string, number> {
  return {
    "query.flamegraph1hMs": round(q.flamegraph1hMs, 1),
    "query.flamegraph6hMs": round(q.flamegraph6hMs, 1),
    "query.flamegraph24hMs": round(q.flamegraph24hMs, 1),
    "query.flamegraph24hColdMs": round(q.flamegraph24hColdMs, 1),
    "query.seriesMs": round(q.seriesMs, 1),
    "query.duckdbFlamegraph1hMs": round(q.duckdbFlamegraph1hMs, 1),
    "query.duckdbFlamegraph24hMs": round(q.duckdbFlamegraph24hMs, 1),
    "query.peakRssMb": round(q.peakRssMb),
    "query.profiles": q.profiles,
    "query.samples": q.samples,
  };
}

function ingestResult(ingest: IngestBenchResult): Record<string, number> {
  return {
    "ingest.profilesPerSec": round(ingest.profilesPerSec),
    "ingest.mbPerSec": round(ingest.mbPerSec, 2),
    "ingest.cpuMsPerProfile": round(ingest.cpuMsPerProfile, 3),
    "ingest.floorCpuMsPerProfile": round(ingest.floorCpuMsPerProfile, 3),
    "ingest.kilnDecodeMbPerSec": round(ingest.kilnDecodeMbPerSec, 1),
    "ingest.genericDecodeMbPerSec": round(ingest.genericDecodeMbPerSec, 1),
    "ingest.ackP50Ms": round(ingest.ackP50Ms, 1),
    "ingest.ackP99Ms": round(ingest.ackP99Ms, 1),
    "storage.bytesPerProfile": round(ingest.bytesPerProfile),
    "storage.inputBytesPerProfile": round(ingest.inputBytesPerProfile),
  };
}

if (json) {
  console.log(JSON.stringify(result));
} else {
  const rows: [string, string, string][] = [];
  if (ingest) rows.push(...ingestRows(ingest));
  if (query) rows.push(...queryRows(query));
  if (compaction) rows.push(...compactionRows(compaction));
  if (longRange) rows.push(...longRangeRows(longRange));
  if (ui) rows.push(...uiRows(ui));
  const w = Math.max(...rows.map((r) => r[0].length));
  const v = Math.max(...rows.map((r) => r[1].length));
  for (const [k, val, base] of rows) console.log(`${k.padEnd(w)}  ${val.padStart(v)}  ${base}`);
}

function queryRows(q: QueryBenchResult): [string, string, string][] {
  const r = queryResult(q);
  const duck24 = r["query.duckdbFlamegraph24hMs"]!;
  return [
    [
      "query dataset",
      `${q.profiles}`,
      `profiles (${q.pushes} pushes), ${q.samples} samples, ${q.blocks} blocks, ${fmt(q.storedBytes / 1e6, 1)} MB; generated in ${fmt(q.generateMs / 1000, 1)} s`,
    ],
    [
      "query.flamegraph1hMs",
      fmt(r["query.flamegraph1hMs"]!),
      `DuckDB: ${fmt(r["query.duckdbFlamegraph1hMs"]!)} ms`,
    ],
    ["query.flamegraph6hMs", fmt(r["query.flamegraph6hMs"]!), ""],
    [
      "query.flamegraph24hMs",
      fmt(r["query.flamegraph24hMs"]!),
      `DuckDB: ${fmt(duck24)} ms (target ≤0.5×: ${fmt(r["query.flamegraph24hMs"]! / duck24, 2)}×); first call after start ${fmt(r["query.flamegraph24hColdMs"]!)} ms`,
    ],
    ["query.seriesMs (24 h, 60 s step)", fmt(r["query.seriesMs"]!), ""],
    [
      "query.peakRssMb (server)",
      fmt(r["query.peakRssMb"]!),
      `DuckDB load of the same samples: ${fmt(q.duckdbLoadMs / 1000, 1)} s`,
    ],
  ];
}

function compactionRows(c: CompactionBenchResult): [string, string, string][] {
  const r = compactionResult(c);
  const levels = Object.entries(c.liveLevels)
    .map(([level, n]) => `${n} at L${level}`)
    .join(", ");
  return [
    [
      "compaction dataset",
      `${c.pushes}`,
      `pushes (${c.profiles} profiles) in ${c.level0Blocks} level-0 segments, ${fmt(c.level0Bytes / 1e6, 1)} MB; ${fmt(c.inputBytes / 1e6, 1)} MB gzipped input; generated in ${fmt(c.generateMs / 1000, 1)} s`,
    ],
    [
      "storage.compactedBytesPerProfile",
      fmt(r["storage.compactedBytesPerProfile"]!),
      `input: ${fmt(r["storage.compactionInputBytesPerProfile"]!)} bytes/push gzipped, ratio ${fmt(r["storage.compactedToInputRatio"]!, 3)} = 1/${fmt(1 / r["storage.compactedToInputRatio"]!, 1)} (target ≤ 1/20); level 0: ${fmt(r["storage.level0BytesPerProfile"]!)}`,
    ],
    [
      "compaction.mbPerSec (source bytes, all levels)",
      fmt(r["compaction.mbPerSec"]!),
      `${fmt(c.mergedBytes / 1e6, 1)} MB merged by ${c.jobs} jobs in ${fmt(c.compactionMs / 1000, 2)} s wall (${c.failedJobs} failed); level-0 bytes/wall: ${fmt(r["compaction.level0MbPerSec"]!)} MB/s; left: ${c.liveBlocks} blocks (${levels})`,
    ],
  ];
}

function longRangeRows(l: LongRangeBenchResult): [string, string, string][] {
  const r = longRangeResult(l);
  return [
    [
      "long-range dataset",
      `${l.profiles}`,
      `profiles (${l.pushes} pushes), ${l.blocks} blocks (daily for past days, hourly today), ${fmt(l.storedBytes / 1e6, 1)} MB; generated in ${fmt(l.generateMs / 1000, 1)} s`,
    ],
    [
      "query.flamegraph7dMs",
      fmt(r["query.flamegraph7dMs"]!),
      `first call after start ${fmt(r["query.flamegraph7dColdMs"]!)} ms`,
    ],
    [
      "query.flamegraph30dMs",
      fmt(r["query.flamegraph30dMs"]!),
      `target < 1000 ms; first call after start ${fmt(r["query.flamegraph30dColdMs"]!)} ms; server peak RSS ${fmt(r["query.longRangePeakRssMb"]!)} MB`,
    ],
  ];
}

function ingestRows(ingest: IngestBenchResult): [string, string, string][] {
  const result = ingestResult(ingest);
  const rows: [string, string, string][] = [
    [
      "ingest.profilesPerSec",
      fmt(result["ingest.profilesPerSec"]),
      `${ingest.profilesSent} pprofs, ${clients} clients`,
    ],
    [
      "ingest.mbPerSec (gzipped input)",
      fmt(result["ingest.mbPerSec"]),
      `generic decoder alone: ${fmt(result["ingest.genericDecodeMbPerSec"])} MB/s (target ≥1.5×: ${fmt(result["ingest.mbPerSec"] / result["ingest.genericDecodeMbPerSec"], 2)}×)`,
    ],
    [
      "ingest.cpuMsPerProfile (server)",
      fmt(result["ingest.cpuMsPerProfile"]),
      `floor (gunzip+decode): ${fmt(result["ingest.floorCpuMsPerProfile"])} ms (target ≤1.3×: ${fmt(result["ingest.cpuMsPerProfile"] / result["ingest.floorCpuMsPerProfile"], 2)}×)`,
    ],
    [
      "ingest.kilnDecodeMbPerSec",
      fmt(result["ingest.kilnDecodeMbPerSec"]),
      `generic pprof-format: ${fmt(result["ingest.genericDecodeMbPerSec"])} MB/s`,
    ],
    [
      "ingest.ackP50Ms / ackP99Ms",
      `${fmt(result["ingest.ackP50Ms"])} / ${fmt(result["ingest.ackP99Ms"])}`,
      "flush window 500 ms",
    ],
    [
      "storage.bytesPerProfile",
      fmt(result["storage.bytesPerProfile"]),
      `input: ${fmt(result["storage.inputBytesPerProfile"])} bytes/pprof gzipped`,
    ],
  ];
  rows.push([
    "cores used (server / load generator)",
    `${fmt(ingest.serverCpuMs / ingest.elapsedMs, 2)} / ${fmt(ingest.clientCpuMs / ingest.elapsedMs, 2)}`,
    "the load generator runs on the same machine",
  ]);
  return rows;
}

function round(x: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function fmt(x: number, digits?: number): string {
  return digits === undefined ? String(x) : x.toFixed(digits);
}

if (cpuProfile && !json && ingest) {
  // The server writes one profile per thread (main and ingest workers) on exit.
  const files = readdirSync(cpuProfileDir).map((f) => join(cpuProfileDir, f));
  if (files.length > 0) {
    const rows = cpuBreakdown(files);
    const newest = `${files.length} thread profiles in ${cpuProfileDir}/`;
    const busy = rows.filter((r) => r.stage !== "idle").reduce((a, r) => a + r.ms, 0);
    console.log(`\nserver CPU by stage (all threads, ${newest}), per pprof:`);
    for (const r of rows) {
      if (r.stage === "idle") continue;
      const perProfile = r.ms / ingest.profilesSent;
      console.log(
        `  ${r.stage.padEnd(50)} ${perProfile.toFixed(3).padStart(7)} ms  ${((100 * r.ms) / busy).toFixed(1).padStart(5)}%`,
      );
    }
  }
}
