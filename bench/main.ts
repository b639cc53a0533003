/**
 * `npm run bench`: prints a table; `npm run bench -- --json` prints one JSON object.
 * Every figure is printed next to the baseline measured in the same run.
 */

import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { testdataRoot } from "../src/testing/testdata.ts";
import { cpuBreakdown } from "./cpu-breakdown.ts";
import { runIngestBench } from "./ingest.ts";

const json = process.argv.includes("--json");
const durationArg = process.argv.find((a) => a.startsWith("--duration-ms="));
const durationMs = durationArg ? Number(durationArg.slice("--duration-ms=".length)) : 15_000;

const clientsArg = process.argv.find((a) => a.startsWith("--clients="));
// Agents push every 10–15 s each, so a server sees many concurrent pushes, each waiting up
// to one flush window (500 ms) for its acknowledgement: throughput needs many clients.
const clients = clientsArg ? Number(clientsArg.slice("--clients=".length)) : 256;
const cpuProfileDir = "bench-profiles";
const cpuProfile = process.argv.includes("--cpu-prof");
if (cpuProfile) rmSync(cpuProfileDir, { recursive: true, force: true });
const serverNodeArgs = cpuProfile ? ["--cpu-prof", `--cpu-prof-dir=${cpuProfileDir}`] : [];
const ingest = await runIngestBench({
  testdataDir: testdataRoot,
  durationMs,
  concurrency: clients,
  port: 14040,
  serverNodeArgs,
});

const result = {
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

if (json) {
  console.log(JSON.stringify(result));
} else {
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
  const w = Math.max(...rows.map((r) => r[0].length));
  const v = Math.max(...rows.map((r) => r[1].length));
  for (const [k, val, base] of rows) console.log(`${k.padEnd(w)}  ${val.padStart(v)}  ${base}`);
}

function round(x: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function fmt(x: number, digits?: number): string {
  return digits === undefined ? String(x) : x.toFixed(digits);
}

if (cpuProfile && !json) {
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
