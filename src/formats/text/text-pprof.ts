/**
 * Text stacks (folded, lines, trie, tree) → a one-sample-type `Pprof` (wire reference §2.6),
 * the way Pyroscope's ingest adapter builds one from its tree:
 * - the app-name suffix picks the profile name, sample type and unit (`suffixProfileType`);
 * - for `process_cpu` and `wall` with sampleRate > 0, period = ⌊1e9 / sampleRate⌋ ns, every
 *   value is multiplied by it, the sample type becomes `cpu`/`wall` in nanoseconds and the
 *   period type `cpu/nanoseconds`; other types get no period type;
 * - one fake mapping (id 1), one function and one location per distinct frame name
 *   (ids = position + 1), samples leaf first, `time_nanos = from`, duration 0.
 */
import { KilnError } from "../../model/errors.ts";
import { noSampleLabels, type Pprof } from "../../model/pprof.ts";
import { StringInterner } from "../../model/string-interner.ts";
import type { ParsedStacks } from "./stacks.ts";

export interface SuffixProfileType {
  /** The app name without its type suffix: becomes `service_name` (or `app_name`). */
  serviceName: string;
  /** The suffix as given (`cpu` when the name has no dot). */
  suffix: string;
  /** Series label `__name__`. */
  metricName: string;
  sampleType: string;
  sampleUnit: string;
}

type TypeRow = readonly [metricName: string, sampleType: string | undefined, sampleUnit: string];

/** Suffix → [__name__, sample type (undefined = the suffix itself), unit]. */
const profileTypeOfSuffix: ReadonlyMap<string, TypeRow> = new Map<string, TypeRow>([
  ["cpu", ["process_cpu", "samples", "count"]],
  ["itimer", ["process_cpu", "samples", "count"]],
  ["wall", ["wall", "samples", "count"]],
  ["seconds", ["wall", "samples", "count"]],
  ["nanoseconds", ["wall", "samples", "count"]],
  ["microseconds", ["wall", "samples", "count"]],
  ["milliseconds", ["wall", "samples", "count"]],
  ["inuse_objects", ["memory", undefined, "count"]],
  ["alloc_objects", ["memory", undefined, "count"]],
  ["inuse_space", ["memory", undefined, "bytes"]],
  ["alloc_space", ["memory", undefined, "bytes"]],
  ["bytes", ["memory", "samples", "bytes"]],
  ["goroutines", ["goroutine", undefined, "count"]],
  ["mutex_count", ["mutex", "contentions", "count"]],
  ["mutex_duration", ["mutex", "delay", "nanoseconds"]],
  ["block_count", ["block", "contentions", "count"]],
  ["lock_count", ["block", "contentions", "count"]],
  ["block_duration", ["block", "delay", "nanoseconds"]],
  ["lock_duration", ["block", "delay", "nanoseconds"]],
  ["alloc_in_new_tlab_objects", ["memory", undefined, "count"]],
  ["alloc_outside_tlab_objects", ["memory", undefined, "count"]],
  ["alloc_in_new_tlab_bytes", ["memory", undefined, "bytes"]],
  ["alloc_outside_tlab_bytes", ["memory", undefined, "bytes"]],
  ["live", ["memory", "live", "count"]],
  ["exceptions", ["exceptions", "samples", "count"]],
]);

/**
 * Splits `app.suffix` at its last dot and maps the suffix (§2.6). No dot → `cpu`. An unknown
 * suffix is a client error: KilnError invalid_argument "unknown_profile_type" (400), so
 * `my.app` is rejected while `myapp` is accepted, exactly as upstream.
 */
export function suffixProfileType(appName: string): SuffixProfileType {
  const dot = appName.lastIndexOf(".");
  const suffix = dot === -1 ? "cpu" : appName.slice(dot + 1);
  const serviceName = dot === -1 ? appName : appName.slice(0, dot);
  const row = profileTypeOfSuffix.get(suffix);
  if (!row) {
    throw new KilnError("invalid_argument", "unknown_profile_type", `unknown profile type: ${suffix}`);
  }
  return { serviceName, suffix, metricName: row[0], sampleType: row[1] ?? suffix, sampleUnit: row[2] };
}

export interface TextPprofInput {
  type: SuffixProfileType;
  /** Hz, from the `sampleRate` parameter (default 100); 0 disables the period rule. */
  sampleRate: number;
  /** `from`, nanoseconds since the epoch. */
  timeNanos: bigint;
}

const nanosPerSecond = 1_000_000_000;

export function textStacksToPprof(parsed: ParsedStacks, input: TextPprofInput): Pprof {
  const { type } = input;
  const stringTable = new StringInterner({ initial: [""] });
  const strings = stringTable.list;
  const intern = (s: string): number => stringTable.id(s);

  let sampleType = type.sampleType;
  let sampleUnit = type.sampleUnit;
  let period = 0;
  let valueScale = 1;
  const timed = type.metricName === "process_cpu" || type.metricName === "wall";
  if (input.sampleRate > 0 && timed) {
    // Integer division, as upstream's int64 arithmetic: a rate above 1 GHz gives period 0.
    period = Math.floor(nanosPerSecond / input.sampleRate);
    valueScale = period;
    sampleType = type.metricName === "wall" ? "wall" : "cpu";
    sampleUnit = "nanoseconds";
  }
  const sampleTypeStr = intern(sampleType);
  const sampleUnitStr = intern(sampleUnit);
  // Upstream sets the period type whenever the rule applies, even for wall (`cpu` there too).
  const hasPeriodType = input.sampleRate > 0 && timed;
  const periodTypeStr = hasPeriodType ? intern("cpu") : 0;
  const periodUnitStr = hasPeriodType ? intern("nanoseconds") : 0;

  // First pass: distinct frame names → function/location index, and the total frame count.
  const frameIndex = new Map<string, number>();
  const frameNameStr: number[] = [];
  let totalFrames = 0;
  const framesOfStack: string[][] = new Array(parsed.stacks.length);
  for (let s = 0; s < parsed.stacks.length; s++) {
    const frames = parsed.stacks[s]!.split(";");
    framesOfStack[s] = frames;
    totalFrames += frames.length;
    for (const name of frames) {
      if (!frameIndex.has(name)) {
        frameIndex.set(name, frameNameStr.length);
        frameNameStr.push(intern(name));
      }
    }
  }

  const sampleCount = parsed.stacks.length;
  const sampleLocationOffsets = new Uint32Array(sampleCount + 1);
  const sampleLocations = new Uint32Array(totalFrames);
  const sampleValues = new Float64Array(sampleCount);
  let at = 0;
  for (let s = 0; s < sampleCount; s++) {
    const frames = framesOfStack[s]!;
    // Text is root first; pprof locations are leaf first.
    for (let f = frames.length - 1; f >= 0; f--) sampleLocations[at++] = frameIndex.get(frames[f]!)!;
    sampleLocationOffsets[s + 1] = at;
    sampleValues[s] = parsed.values[s]! * valueScale;
  }

  const n = frameNameStr.length;
  const ids = new Float64Array(n);
  for (let i = 0; i < n; i++) ids[i] = i + 1;
  const lineOffsets = new Uint32Array(n + 1);
  const lineFunctionPlus1 = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    lineOffsets[i + 1] = i + 1;
    lineFunctionPlus1[i] = i + 1;
  }
  const names = Uint32Array.from(frameNameStr);

  return {
    strings,
    sampleTypeStr: Uint32Array.of(sampleTypeStr),
    sampleUnitStr: Uint32Array.of(sampleUnitStr),
    periodTypeStr,
    periodUnitStr,
    hasPeriodType,
    period,
    timeNanos: input.timeNanos,
    durationNanos: 0n,
    defaultSampleTypeStr: 0,
    dropFramesStr: 0,
    keepFramesStr: 0,
    commentStrs: [],

    sampleCount,
    sampleLocationOffsets,
    sampleLocations,
    sampleValues,
    ...noSampleLabels(sampleCount),

    locationCount: n,
    locationId: ids,
    locationMappingPlus1: new Uint32Array(n).fill(1),
    locationAddress: new Float64Array(n),
    locationIsFolded: new Uint8Array(n),
    locationLineOffsets: lineOffsets,
    lineFunctionPlus1,
    lineNumber: new Float64Array(n),

    functionCount: n,
    functionId: ids.slice(),
    functionNameStr: names,
    functionSystemNameStr: names.slice(),
    functionFilenameStr: new Uint32Array(n),
    functionStartLine: new Float64Array(n),

    mappingCount: 1,
    mappingId: Float64Array.of(1),
    mappingStart: new Float64Array(1),
    mappingLimit: new Float64Array(1),
    mappingOffset: new Float64Array(1),
    mappingFilenameStr: new Uint32Array(1),
    mappingBuildIdStr: new Uint32Array(1),
    mappingFlags: Uint8Array.of(1 /* has_functions */),
  };
}
