/**
 * Ingest-path cost per pushed pprof, by phase: decode (gunzip + decodePprof), normalize,
 * DatasetBuilder.append, and encodeBlock amortized over the profiles of a segment. Each push is
 * a fresh decode of the same bytes (a fresh Pprof), as an agent resends its symbols every 10 s.
 *
 *   npx node src/block/append.bench.ts [rounds]
 *
 * Not a test: prints a table. Reads the shared corpus (src/testing/testdata.ts).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { constants, zstdCompressSync } from "node:zlib";
import { decodePprof } from "../formats/pprof/decode.ts";
import { defaultIngestLimits } from "../ingest/normalize/limits.ts";
import { normalizePprof } from "../ingest/normalize/normalize.ts";
import type { NormalizedProfile } from "../model/profile.ts";
import { testdata } from "../testing/testdata.ts";
import { encodeBlock } from "./block-writer.ts";
import { DatasetBuilder } from "./dataset-builder.ts";
import { SymbolsBuilder } from "./symbols.ts";

const corpus = testdata("pprof");
if (corpus.dir === undefined) throw new Error(String(corpus.skip));
const dir = corpus.dir;
const rounds = Number(process.argv[2] ?? 20);
const limits = {
  ...defaultIngestLimits,
  maxProfileSamples: 0,
  rejectOlderThanMs: 0,
  creationGracePeriodMs: 0,
};
const maxDecompressedBytes = 64 * 1024 * 1024;

const files = readdirSync(dir)
  .filter((file) => !/malformed|invalid/.test(file))
  .sort();
const inputs = files.map((file) => ({ file, bytes: readFileSync(join(dir, file)) }));

interface Phases {
  decode: number;
  normalize: number;
  append: number;
  encode: number;
  pushes: number;
  profiles: number;
  blockBytes: number;
}

function zero(): Phases {
  return { decode: 0, normalize: 0, append: 0, encode: 0, pushes: 0, profiles: 0, blockBytes: 0 };
}

function push(
  bytes: Uint8Array,
  service: string,
  builder: DatasetBuilder,
  phases: Phases,
  seq: number,
): void {
  let t0 = performance.now();
  const pprof = decodePprof(bytes, { maxDecompressedBytes });
  let t1 = performance.now();
  phases.decode += t1 - t0;
  t0 = t1;
  const profiles: NormalizedProfile[] = normalizePprof(pprof, {
    seriesLabels: [
      ["__name__", "process_cpu"],
      ["service_name", service],
    ],
    limits,
    nowMs: Date.now(),
    dashedSampleTypes: "replace",
    fallbackTimeNanos: 1_700_000_000_000_000_000n + BigInt(seq) * 10_000_000_000n,
  });
  t1 = performance.now();
  phases.normalize += t1 - t0;
  t0 = t1;
  for (const profile of profiles) builder.append(profile);
  t1 = performance.now();
  phases.append += t1 - t0;
  phases.pushes++;
  phases.profiles += profiles.length;
}

/**
 * One segment: `pushesPerDataset` pushes of every input into its own dataset, then one encode.
 * With `dictionaries`, each dataset interns into its dictionary kept from earlier segments (as
 * the segment writer does); without, every segment starts from empty ones.
 */
function segment(
  selected: typeof inputs,
  pushesPerDataset: number,
  phases: Phases,
  seq: number,
  dictionaries?: Map<string, SymbolsBuilder>,
): DatasetBuilder[] {
  const dictionary = (file: string): SymbolsBuilder | undefined => {
    if (dictionaries === undefined) return undefined;
    let found = dictionaries.get(file);
    if (found === undefined) {
      found = new SymbolsBuilder();
      dictionaries.set(file, found);
    }
    return found;
  };
  const builders = selected.map(({ file }) => new DatasetBuilder("bench", file, dictionary(file)));
  for (let p = 0; p < pushesPerDataset; p++) {
    selected.forEach(({ bytes, file }, i) => {
      push(bytes, file, builders[i]!, phases, seq + p);
    });
  }
  const t0 = performance.now();
  const block = encodeBlock(builders);
  phases.encode += performance.now() - t0;
  phases.blockBytes += block.bytes.length;
  return builders;
}

function report(label: string, phases: Phases): void {
  const per = (ms: number): string => (ms / phases.pushes).toFixed(3).padStart(8);
  const ingest = phases.normalize + phases.append + phases.encode;
  console.log(
    `${label.padEnd(34)} per push ms: decode ${per(phases.decode)} normalize ${per(phases.normalize)} ` +
      `append ${per(phases.append)} encode ${per(phases.encode)} | (norm+append+enc)/decode ` +
      `${(ingest / phases.decode).toFixed(2)} | ${Math.round(phases.blockBytes / phases.profiles)} B/profile ` +
      `(${(phases.profiles / phases.pushes).toFixed(1)} profiles/push)`,
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

/** Median over rounds of each phase (the machine may be shared: medians resist noise). */
function run(label: string, selected: typeof inputs, pushesPerDataset: number, keep = false): void {
  const dictionaries = keep ? new Map<string, SymbolsBuilder>() : undefined;
  // Warm-up rounds are not counted.
  for (let r = 0; r < 3; r++) segment(selected, pushesPerDataset, zero(), r * pushesPerDataset, dictionaries);
  const perRound: Phases[] = [];
  for (let r = 0; r < rounds; r++) {
    const phases = zero();
    segment(selected, pushesPerDataset, phases, r * pushesPerDataset, dictionaries);
    perRound.push(phases);
  }
  const first = perRound[0]!;
  const pick = (key: "decode" | "normalize" | "append" | "encode"): number =>
    median(perRound.map((phases) => phases[key]));
  report(label, {
    decode: pick("decode"),
    normalize: pick("normalize"),
    append: pick("append"),
    encode: pick("encode"),
    pushes: first.pushes,
    profiles: first.profiles,
    blockBytes: first.blockBytes,
  });
}

const large = inputs.filter(({ file }) => file === "gpprof-large-cpu.pb.gz");
const only = process.argv[3];
if (only !== "large") {
  run("corpus mix, 1 push/dataset/segment", inputs, 1);
  run("corpus mix, 10 pushes/dataset/seg", inputs, 10);
  run("mix, 1 push/ds/seg, kept dicts", inputs, 1, true);
}
run("large, 1 push/segment", large, 1);
run("large, 10 pushes/segment", large, 10);
run("large, 1 push/seg, kept dicts", large, 1, true);

if (only === "large") process.exit(0);
// zstd level trade-off on the sections of one realistic segment (10 pushes per dataset).
const builders = segment(inputs, 10, zero(), 0);
for (const level of [1, 2, 3]) {
  let raw = 0;
  let compressed = 0;
  const t0 = performance.now();
  const reps = 5;
  for (let r = 0; r < reps; r++) {
    for (const builder of builders) {
      for (const section of builder.encode().sections) {
        const out = zstdCompressSync(section.payload, {
          params: { [constants.ZSTD_c_compressionLevel]: level, [constants.ZSTD_c_checksumFlag]: 0 },
        });
        if (r === 0) {
          raw += section.payload.length;
          compressed += out.length;
        }
      }
    }
  }
  const ms = (performance.now() - t0) / reps;
  console.log(
    `zstd level ${level}: ${raw} B raw → ${compressed} B, encode+compress ${ms.toFixed(1)} ms/segment`,
  );
}
