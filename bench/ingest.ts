/**
 * Ingest benchmark: a realistic stream of real pprofs through the real HTTP server.
 *
 * The server runs as a child process so that its own CPU time (user + system, from
 * /proc/<pid>/stat) can be told apart from the load generator's. In the same run, the
 * floor is measured in this process: gunzip + Kiln's decoder over the same bytes on one
 * thread, and, as an independent reference, the generic `pprof-format` decoder.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { Profile } from "pprof-format";
import { decodePprof } from "../src/formats/pprof/decode.ts";
import { encodePprof } from "../src/formats/pprof/encode.ts";
import { spyNameFor } from "../src/testing/testdata.ts";
import { cpuMsOfPid, startBenchServer } from "./server.ts";

export interface IngestBenchOptions {
  testdataDir: string;
  /** Extra node flags for the server process (e.g. --cpu-prof to see where its time goes). */
  serverNodeArgs?: string[];
  durationMs: number;
  concurrency: number;
  port: number;
}

export interface IngestBenchResult {
  profilesPerSec: number;
  mbPerSec: number;
  cpuMsPerProfile: number;
  floorCpuMsPerProfile: number;
  genericDecodeMbPerSec: number;
  kilnDecodeMbPerSec: number;
  ackP50Ms: number;
  ackP99Ms: number;
  bytesPerProfile: number;
  inputBytesPerProfile: number;
  profilesSent: number;
  serverCpuMs: number;
  /** CPU of this process (the load generator) during the run: it shares the machine's cores. */
  clientCpuMs: number;
  elapsedMs: number;
}

/** How many copies of each profile, with timestamps 10 s apart, the stream cycles through. */
const timestampVariants = 6;

export interface BenchProfile {
  name: string;
  /** The service that sends it: one program per service, as in a real fleet. */
  service: string;
  /** Gzipped pprof variants that differ only in time_nanos (now, now − 10 s, …). */
  variants: Uint8Array[];
}

/**
 * The testdata pprofs that a real client would send (edge-case files excluded), read at run
 * time, each re-stamped with recent timestamps so the server's default accepted time window
 * applies as it would in production. Nothing derived from them is written to disk.
 */
export function loadProfiles(testdataDir: string, nowMs = Date.now()): BenchProfile[] {
  const dir = join(testdataDir, "pprof");
  const skip = /invalid-utf8|malformed|no-sampletype-names|unwind-errors/;
  return readdirSync(dir)
    .filter((f) => /\.pb(\.gz)?$/.test(f) && !skip.test(f))
    .sort()
    .map((f) => {
      const pprof = decodePprof(new Uint8Array(readFileSync(join(dir, f))), {
        maxDecompressedBytes: 64 << 20,
      });
      const variants = Array.from({ length: timestampVariants }, (_, j) => {
        const timeNanos = BigInt(nowMs - j * 10_000) * 1_000_000n;
        return new Uint8Array(gzipSync(encodePprof({ ...pprof, timeNanos })));
      });
      const service = `bench-${f.replace(/\.pb(\.gz)?$/, "").replace(/[^A-Za-z0-9_.-]/g, "_")}`;
      return { name: f, service, variants };
    });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** gunzip (when gzipped) + decode, one thread, CPU ms per profile over the mix. */
function measureFloor(
  profiles: { bytes: Uint8Array }[],
  rounds: number,
): { cpuMsPerProfile: number; mbPerSec: number } {
  const maxDecompressedBytes = 64 << 20;
  let inputBytes = 0;
  const start = process.cpuUsage();
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) {
    for (const p of profiles) {
      decodePprof(p.bytes, { maxDecompressedBytes });
      inputBytes += p.bytes.byteLength;
    }
  }
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(start);
  return {
    cpuMsPerProfile: (cpu.user + cpu.system) / 1000 / (rounds * profiles.length),
    mbPerSec: inputBytes / 1e6 / (elapsedMs / 1000),
  };
}

function measureGeneric(profiles: { bytes: Uint8Array }[], rounds: number): number {
  let inputBytes = 0;
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) {
    for (const p of profiles) {
      const raw = p.bytes[0] === 0x1f && p.bytes[1] === 0x8b ? gunzipSync(p.bytes) : p.bytes;
      Profile.decode(raw);
      inputBytes += p.bytes.byteLength;
    }
  }
  return inputBytes / 1e6 / ((performance.now() - t0) / 1000);
}

export async function runIngestBench(opts: IngestBenchOptions): Promise<IngestBenchResult> {
  const profiles = loadProfiles(opts.testdataDir);
  if (profiles.length === 0) throw new Error(`no pprof files in ${opts.testdataDir}/pprof`);
  // The baselines decode exactly the bytes the clients send.
  const sentBytes = profiles.map((p) => ({ bytes: p.variants[0]! }));

  // Warm up both decoders, then measure the floor and the generic reference.
  measureFloor(sentBytes, 3);
  measureGeneric(sentBytes, 3);
  const floor = measureFloor(sentBytes, 20);
  const genericDecodeMbPerSec = measureGeneric(sentBytes, 20);

  const dataDir = mkdtempSync(join(tmpdir(), "kiln-bench-"));
  const server = await startBenchServer({
    port: opts.port,
    dataDir,
    nodeArgs: opts.serverNodeArgs ?? [],
    // The largest corpus profile has 20,430 samples, over Pyroscope's default of 16,000.
    args: ["--max-profile-samples", "32000"],
  });
  const url = server.url;
  try {
    const pid = server.pid;
    const cpuBefore = cpuMsOfPid(pid);
    const clientCpuBefore = process.cpuUsage();
    const latencies: number[] = [];
    let sent = 0;
    let inputBytes = 0;
    const deadline = Date.now() + opts.durationMs;
    const t0 = performance.now();
    const regions = ["eu-west-1", "us-east-1", "ap-south-1"];
    const worker = async (w: number) => {
      let i = w;
      while (Date.now() < deadline) {
        const p = profiles[i % profiles.length]!;
        const bytes = p.variants[Math.floor(i / profiles.length) % timestampVariants]!;
        const name = `${p.service}{pod=pod-${i % 40},region=${regions[i % 3]},version=v${i % 4}}`;
        const query = new URLSearchParams({ name, format: "pprof", spyName: spyNameFor(p.name) });
        const started = performance.now();
        const res = await fetch(`${url}/ingest?${query}`, {
          method: "POST",
          body: bytes,
          headers: { "content-type": "application/octet-stream" },
        });
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`ingest of ${p.name} failed: ${res.status}`);
        latencies.push(performance.now() - started);
        sent++;
        inputBytes += bytes.byteLength;
        i += opts.concurrency;
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, (_, w) => worker(w)));
    const elapsedS = (performance.now() - t0) / 1000;
    const serverCpuMs = cpuMsOfPid(pid) - cpuBefore;
    const clientCpu = process.cpuUsage(clientCpuBefore);

    const storedBytes = await storedBlockBytes(dataDir);
    latencies.sort((a, b) => a - b);
    return {
      profilesPerSec: sent / elapsedS,
      mbPerSec: inputBytes / 1e6 / elapsedS,
      cpuMsPerProfile: serverCpuMs / sent,
      floorCpuMsPerProfile: floor.cpuMsPerProfile,
      genericDecodeMbPerSec,
      kilnDecodeMbPerSec: floor.mbPerSec,
      ackP50Ms: percentile(latencies, 50),
      ackP99Ms: percentile(latencies, 99),
      bytesPerProfile: storedBytes / sent,
      inputBytesPerProfile: inputBytes / sent,
      profilesSent: sent,
      serverCpuMs,
      clientCpuMs: (clientCpu.user + clientCpu.system) / 1000,
      elapsedMs: elapsedS * 1000,
    };
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function storedBlockBytes(dataDir: string): Promise<number> {
  const { FsObjectStore } = await import("../src/objstore/fs-store.ts");
  const store = await FsObjectStore.open(join(dataDir, "objects"));
  try {
    const objects = await store.list("");
    return objects.reduce((sum, o) => sum + o.sizeBytes, 0);
  } finally {
    await store.close();
  }
}
