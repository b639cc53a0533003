/**
 * Small pprofs built in the test, independent of the shared corpus: a Go-style CPU profile
 * (`samples/count`, `cpu/nanoseconds`, period 10 ms) with three stacks.
 */
import type { Pprof } from "../model/pprof.ts";

export interface CpuPprofOptions {
  timeNanos: bigint;
  /** Extra frame name appended under `main`, to make profiles distinguishable. */
  tag?: string;
}

/** Stacks (root first) and sample counts; cpu = count × 10 ms. Totals: 6 samples, 60 ms. */
const stacks: [string[], number][] = [
  [["main", "work", "compute"], 3],
  [["main", "work"], 2],
  [["main", "idle"], 1],
];

export function makeCpuPprof(opts: CpuPprofOptions): Pprof {
  const strings = ["", "samples", "count", "cpu", "nanoseconds", "main.go"];
  const functionNames = ["main", "work", "compute", "idle", ...(opts.tag ? [opts.tag] : [])];
  const fnStr = functionNames.map((name) => {
    strings.push(name);
    return strings.length - 1;
  });
  const allStacks = opts.tag ? [...stacks, [["main", opts.tag], 1] as [string[], number]] : stacks;
  const locOf = (name: string) => functionNames.indexOf(name);
  const sampleLocations: number[] = [];
  const offsets = [0];
  const values: number[] = [];
  for (const [frames, count] of allStacks) {
    for (let i = frames.length - 1; i >= 0; i--) sampleLocations.push(locOf(frames[i]!));
    offsets.push(sampleLocations.length);
    values.push(count, count * 10_000_000);
  }
  const n = functionNames.length;
  const seq = (k: number, f: (i: number) => number) => Array.from({ length: k }, (_, i) => f(i));
  return {
    strings,
    sampleTypeStr: new Uint32Array([1, 3]),
    sampleUnitStr: new Uint32Array([2, 4]),
    periodTypeStr: 3,
    periodUnitStr: 4,
    hasPeriodType: true,
    period: 10_000_000,
    timeNanos: opts.timeNanos,
    durationNanos: 10_000_000_000n,
    defaultSampleTypeStr: 0,
    dropFramesStr: 0,
    keepFramesStr: 0,
    commentStrs: [],
    sampleCount: allStacks.length,
    sampleLocationOffsets: new Uint32Array(offsets),
    sampleLocations: new Uint32Array(sampleLocations),
    sampleValues: new Float64Array(values),
    sampleLabelOffsets: new Uint32Array(allStacks.length + 1),
    labelKeyStr: new Uint32Array(0),
    labelValueStr: new Uint32Array(0),
    labelNum: new Float64Array(0),
    labelNumUnitStr: new Uint32Array(0),
    locationCount: n,
    locationId: new Float64Array(seq(n, (i) => i + 1)),
    locationMappingPlus1: new Uint32Array(n),
    locationAddress: new Float64Array(seq(n, (i) => 0x1000 + i * 16)),
    locationIsFolded: new Uint8Array(n),
    locationLineOffsets: new Uint32Array(seq(n + 1, (i) => i)),
    lineFunctionPlus1: new Uint32Array(seq(n, (i) => i + 1)),
    lineNumber: new Float64Array(seq(n, (i) => 10 + i)),
    functionCount: n,
    functionId: new Float64Array(seq(n, (i) => i + 1)),
    functionNameStr: new Uint32Array(fnStr),
    functionSystemNameStr: new Uint32Array(fnStr),
    functionFilenameStr: new Uint32Array(n).fill(5),
    functionStartLine: new Float64Array(n),
    mappingCount: 0,
    mappingId: new Float64Array(0),
    mappingStart: new Float64Array(0),
    mappingLimit: new Float64Array(0),
    mappingOffset: new Float64Array(0),
    mappingFilenameStr: new Uint32Array(0),
    mappingBuildIdStr: new Uint32Array(0),
    mappingFlags: new Uint8Array(0),
  };
}
