/**
 * Micro-benchmark: decodePprof (gunzip included) vs normalizePprof over the shared pprof corpus.
 *
 *   npx node src/ingest/normalize/normalize.bench.ts [--rounds N] [--save out.json] [--baseline in.json]
 *
 * Per file: mean wall ms per call of each step, measured in batches after a warm-up over the
 * whole mix; the mix line is the mean over files (every file weighs the same, as in the ingest
 * benchmark's stream). Go files are normalized as sent with spyName gospy, like the SDKs do.
 * `--save` writes the numbers as JSON; `--baseline` prints them beside an earlier run's.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodePprof } from "../../formats/pprof/decode.ts";
import type { Label } from "../../model/labels.ts";
import type { Pprof } from "../../model/pprof.ts";
import { spyNameFor, testdata } from "../../testing/testdata.ts";
import { defaultIngestLimits, type IngestLimits } from "./limits.ts";
import { type NormalizeInput, normalizePprof } from "./normalize.ts";

interface Row {
  file: string;
  decodeMs: number;
  normalizeMs: number;
}

const args = process.argv.slice(2);
const argOf = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const minBatchMs = Number(argOf("--batch-ms") ?? 300);
const rounds = Number(argOf("--rounds") ?? 3);

const corpus = testdata("pprof");
if (!corpus.dir) throw new Error(String(corpus.skip));
const dir = corpus.dir;
const maxDecompressedBytes = 64 << 20;
const limits: IngestLimits = {
  ...defaultIngestLimits,
  rejectOlderThanMs: 0,
  creationGracePeriodMs: 0,
  maxProfileSamples: 0,
};

interface Case {
  file: string;
  bytes: Uint8Array;
  pprof: Pprof;
  input: NormalizeInput;
}

const cases: Case[] = [];
for (const file of readdirSync(dir)
  .filter((f) => /\.pb(\.gz)?$/.test(f))
  .sort()) {
  const bytes = new Uint8Array(readFileSync(join(dir, file)));
  const labels: Label[] = [
    ["__name__", "process_cpu"],
    ["service_name", "bench"],
    ["pyroscope_spy", spyNameFor(file)],
  ];
  const input: NormalizeInput = {
    seriesLabels: labels,
    limits,
    nowMs: Date.now(),
    dashedSampleTypes: "replace",
  };
  let pprof: Pprof;
  try {
    pprof = decodePprof(bytes, { maxDecompressedBytes });
    normalizePprof(pprof, input);
  } catch (err) {
    console.log(`skip ${file}: ${(err as Error).message}`);
    continue;
  }
  cases.push({ file, bytes, pprof, input });
}

/** Mean ms per call of `fn`, over batches of at least minBatchMs; the best of `rounds` batches. */
function time(fn: () => void): number {
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    const ms = performance.now() - t0;
    if (ms >= minBatchMs / 4) {
      reps = Math.max(1, Math.ceil((reps * minBatchMs) / ms));
      break;
    }
    reps *= 4;
  }
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    best = Math.min(best, (performance.now() - t0) / reps);
  }
  return best;
}

// Warm-up over the whole mix so that both functions are optimized before any timing.
for (let r = 0; r < 5; r++) {
  for (const c of cases) {
    decodePprof(c.bytes, { maxDecompressedBytes });
    normalizePprof(c.pprof, c.input);
  }
}

const rows: Row[] = [];
for (const c of cases) {
  const decodeMs = time(() => decodePprof(c.bytes, { maxDecompressedBytes }));
  const normalizeMs = time(() => normalizePprof(c.pprof, c.input));
  rows.push({ file: c.file, decodeMs, normalizeMs });
}
const mix: Row = {
  file: "MIX (mean over files)",
  decodeMs: rows.reduce((a, r) => a + r.decodeMs, 0) / rows.length,
  normalizeMs: rows.reduce((a, r) => a + r.normalizeMs, 0) / rows.length,
};

const baselinePath = argOf("--baseline");
const baseline = new Map<string, Row>();
if (baselinePath)
  for (const r of JSON.parse(readFileSync(baselinePath, "utf8")) as Row[]) baseline.set(r.file, r);

const fmt = (ms: number): string => ms.toFixed(3).padStart(9);
const head = `${"file".padEnd(42)} ${"decode".padStart(9)} ${"normalize".padStart(9)} ${"norm/dec".padStart(8)}`;
console.log(baselinePath ? `${head} ${"base norm".padStart(9)} ${"speedup".padStart(8)}` : head);
for (const r of [...rows, mix]) {
  let line = `${r.file.padEnd(42)} ${fmt(r.decodeMs)} ${fmt(r.normalizeMs)} ${(r.normalizeMs / r.decodeMs).toFixed(2).padStart(8)}`;
  const b = baseline.get(r.file);
  if (b) line += ` ${fmt(b.normalizeMs)} ${`${(b.normalizeMs / r.normalizeMs).toFixed(2)}x`.padStart(8)}`;
  console.log(line);
}
const savePath = argOf("--save");
if (savePath) writeFileSync(savePath, JSON.stringify([...rows, mix], null, 2));
