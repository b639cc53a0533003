/**
 * Where the server's CPU time goes: reads a V8 .cpuprofile (node --cpu-prof) and attributes
 * every sample to the innermost ingest stage on its stack (decode, normalize, append, block
 * encode, …). Used by `npm run bench -- --cpu-prof` for the breakdown the benchmark reports.
 */
import { readFileSync } from "node:fs";

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Stages, innermost first: a sample counts for the first stage found walking from its leaf. */
const stages: [stage: string, match: (fn: string, url: string) => boolean][] = [
  ["gc", (fn) => fn === "(garbage collector)"],
  ["idle", (fn) => fn === "(idle)"],
  [
    "decode (pprof parse; gunzip runs on libuv threads, outside these profiles)",
    (fn, url) => /^decode(Pprof|PprofAsync|Inflated)$/.test(fn) && url.endsWith("pprof/decode.ts"),
  ],
  ["normalize", (fn) => fn === "normalizePprof"],
  ["append (symbols, stack tree)", (fn, url) => fn === "append" && url.endsWith("block/dataset-builder.ts")],
  ["encode block (incl. zstd)", (fn) => fn === "encodeBlock" || fn === "encodeBlockAsync"],
  ["object store + metastore", (_fn, url) => /objstore\/|metastore\//.test(url)],
  ["body read, HTTP, routing, worker messages, other", () => false],
];

/** Sums the breakdown of several profiles (one per thread of the server). */
export function cpuBreakdown(paths: readonly string[]): { stage: string; ms: number }[] {
  const totals = new Float64Array(stages.length);
  for (const path of paths) {
    cpuBreakdownOf(path).forEach((row, i) => {
      totals[i]! += row.ms;
    });
  }
  return stages.map(([stage], i) => ({ stage, ms: totals[i]! }));
}

function cpuBreakdownOf(path: string): { stage: string; ms: number }[] {
  const profile = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stageOfNode = new Map<number, number>();
  const stageOf = (id: number): number => {
    const cached = stageOfNode.get(id);
    if (cached !== undefined) return cached;
    let stage = stages.length - 1;
    // Bounded by the stack depth: every node has one parent and the root has none.
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      const hit = stages.findIndex(([, match]) => match(frame.functionName, frame.url));
      if (hit >= 0) {
        stage = hit;
        break;
      }
    }
    stageOfNode.set(id, stage);
    return stage;
  };
  const totals = new Float64Array(stages.length);
  profile.samples.forEach((id, i) => {
    totals[stageOf(id)]! += (profile.timeDeltas[i] ?? 0) / 1000;
  });
  return stages.map(([stage], i) => ({ stage, ms: totals[i]! }));
}
