/**
 * JFR recording (+ optional pyroscope-java LabelsSnapshot) → one `Pprof` per profile kind,
 * the way Pyroscope's JFR ingest converts it (wire reference §2.4.3):
 *
 * | JFR event | kind | values per event |
 * |---|---|---|
 * | `jdk.ExecutionSample`, thread state not `STATE_SLEEPING` | cpu | period |
 * | `jdk.ExecutionSample` when the recording's `event` setting is `wall` | wall | period |
 * | `profiler.WallClockSample` | wall | `samples` × period |
 * | `jdk.ObjectAllocationInNewTLAB` | alloc_in_new_tlab | 1, `tlabSize` |
 * | `jdk.ObjectAllocationOutsideTLAB` | alloc_outside_tlab | 1, `allocationSize` |
 * | `jdk.ObjectAllocationSample` | alloc_sample | 1, `weight` |
 * | `profiler.LiveObject` | live | 1 |
 * | `profiler.Malloc` | malloc | 1, `size` |
 * | `jdk.JavaMonitorEnter` | lock | 1, `duration` |
 * | `jdk.ThreadPark` | thread_park | 1, `duration` |
 *
 * period = ⌊1e9 / sampleRate⌋ ns (the /ingest `sampleRate`, default 100 Hz), as upstream;
 * async-profiler's `event` setting (`cpu`, `itimer`, `wall`, …) is reported as `event` for
 * the `jfr_event` label. Durations are the raw JFR field values, like upstream (async-profiler
 * records them in its tick unit).
 *
 * Frames: `<class name>.<method name>` with the JVM's internal class names
 * (`java/lang/String.indexOf`), after `mergeGeneratedSymbol`; a frame whose method or class
 * is missing from the constant pools is left out, a sample whose stack trace is missing is
 * dropped. One location per (function, line). Samples with the same stack and the same
 * context/span are summed.
 *
 * Labels: an event's `contextId` is looked up in the LabelsSnapshot and its labels become
 * pprof string labels; a non-zero `spanId` becomes `profile_id` (16 hex digits, which Kiln's
 * normalization turns into the per-sample span id), a non-zero `spanName` id becomes
 * `span_name`. Labels with an empty name or value are left out.
 *
 * Differences from upstream, deliberate: sample dedup keys and ids are per chunk (upstream
 * mixes the chunk-local ids of different chunks); a `profiler.WallClockSample` does not
 * leak its `samples` count into later events' values; an ExecutionSample without a thread
 * state counts as CPU (upstream drops it).
 */
import type { Pprof } from "../../model/pprof.ts";
import { StringInterner } from "../../model/string-interner.ts";
import type { LabelsSnapshot } from "./labels-snapshot.ts";
import type { JfrClass } from "./metadata.ts";
import { field, type JfrChunk, type JfrLimits, parseJfr } from "./parser.ts";
import type { JfrLong } from "./reader.ts";
import { mergeGeneratedSymbol } from "./symbols.ts";
import type { JfrValue } from "./values.ts";

export type JfrProfileKind =
  | "cpu"
  | "wall"
  | "alloc_in_new_tlab"
  | "alloc_outside_tlab"
  | "alloc_sample"
  | "live"
  | "malloc"
  | "lock"
  | "thread_park";

interface KindSpec {
  metricName: string;
  sampleTypes: readonly (readonly [string, string])[];
  periodType: readonly [string, string] | undefined;
}

export const jfrProfileKinds: Readonly<Record<JfrProfileKind, KindSpec>> = {
  cpu: {
    metricName: "process_cpu",
    sampleTypes: [["cpu", "nanoseconds"]],
    periodType: ["cpu", "nanoseconds"],
  },
  wall: { metricName: "wall", sampleTypes: [["wall", "nanoseconds"]], periodType: ["wall", "nanoseconds"] },
  alloc_in_new_tlab: {
    metricName: "memory",
    sampleTypes: [
      ["alloc_in_new_tlab_objects", "count"],
      ["alloc_in_new_tlab_bytes", "bytes"],
    ],
    periodType: ["space", "bytes"],
  },
  alloc_outside_tlab: {
    metricName: "memory",
    sampleTypes: [
      ["alloc_outside_tlab_objects", "count"],
      ["alloc_outside_tlab_bytes", "bytes"],
    ],
    periodType: ["space", "bytes"],
  },
  alloc_sample: {
    metricName: "memory",
    sampleTypes: [
      ["alloc_sample_objects", "count"],
      ["alloc_sample_bytes", "bytes"],
    ],
    periodType: ["space", "bytes"],
  },
  live: { metricName: "memory", sampleTypes: [["live", "count"]], periodType: ["objects", "count"] },
  malloc: {
    metricName: "memory",
    sampleTypes: [
      ["malloc_objects", "count"],
      ["malloc_bytes", "bytes"],
    ],
    periodType: undefined,
  },
  lock: {
    metricName: "mutex",
    sampleTypes: [
      ["contentions", "count"],
      ["delay", "nanoseconds"],
    ],
    periodType: ["mutex", "count"],
  },
  thread_park: {
    metricName: "block",
    sampleTypes: [
      ["contentions", "count"],
      ["delay", "nanoseconds"],
    ],
    periodType: ["block", "count"],
  },
};

const kindOrder = Object.keys(jfrProfileKinds) as JfrProfileKind[];

export interface JfrToPprofOptions {
  /** Hz (the /ingest `sampleRate`); CPU and wall values are multiples of 1e9 / sampleRate. */
  sampleRate: number;
  /** `time_nanos` of the profiles (/ingest `from`). */
  startNanos: bigint;
  /** `duration_nanos` = endNanos - startNanos (/ingest `until`). */
  endNanos: bigint;
  labels?: LabelsSnapshot;
  /** Frames kept per stack trace, leaf first (deeper traces lose their root-most frames). */
  maxStackDepth?: number;
  limits?: Partial<JfrLimits>;
}

export interface JfrProfile {
  kind: JfrProfileKind;
  /** Series label `__name__`. */
  metricName: string;
  pprof: Pprof;
}

export interface JfrConversion {
  /** async-profiler's `event` setting (`cpu`, `itimer`, `wall`, …); "" when absent. */
  event: string;
  /** One per kind that has samples, in the order of `jfrProfileKinds`. */
  profiles: JfrProfile[];
}

export const defaultMaxJfrStackDepth = 8192;

const poolClasses: ReadonlySet<string> = new Set([
  "jdk.types.Symbol",
  "java.lang.Class",
  "jdk.types.Method",
  "jdk.types.StackTrace",
  "jdk.types.ThreadState",
]);

type Handler = (chunk: JfrChunk, cls: JfrClass, v: JfrValue[]) => void;

/** Correlation of an event with pyroscope-java's labels, as a dedup key part. */
interface Correlation {
  key: string;
  contextId: JfrValue | undefined;
  spanId: JfrValue | undefined;
  spanName: JfrValue | undefined;
}

class KindAccumulator {
  readonly kind: JfrProfileKind;
  readonly width: number;
  readonly sampleIndex = new Map<string, number>();
  readonly stacks: number[] = [];
  readonly labelSets: number[] = [];
  readonly values: number[] = [];
  constructor(kind: JfrProfileKind) {
    this.kind = kind;
    this.width = jfrProfileKinds[kind].sampleTypes.length;
  }
}

export function jfrToPprof(bytes: Uint8Array, options: JfrToPprofOptions): JfrConversion {
  const converter = new Converter(options);
  parseJfr(bytes, converter, options.limits);
  return converter.finish();
}

class Converter {
  readonly poolClasses = poolClasses;
  private readonly options: JfrToPprofOptions;
  private readonly period: number;
  private readonly maxStackDepth: number;
  private recordingEvent = "";

  // Global interning, shared by all kinds; compacted per kind in finish().
  private readonly functionNames: string[] = [];
  private readonly functionByName = new Map<string, number>();
  private readonly locationFunction: number[] = [];
  private readonly locationLine: number[] = [];
  private readonly locationByKey = new Map<string, number>();
  private readonly stackOffsets: number[] = [0];
  private readonly stackLocations: number[] = [];
  private readonly stackByKey = new Map<string, number>();
  private readonly labelSets: [string, string][][] = [[]];
  private readonly labelSetByKey = new Map<string, number>([["", 0]]);

  private readonly kinds = new Map<JfrProfileKind, KindAccumulator>();

  // Per-chunk state.
  private chunk: JfrChunk | undefined;
  private handlers = new Map<JfrClass, Handler>();
  private symbolCache = new Map<JfrLong, string>();
  private functionOfMethod = new Map<JfrLong, number>();
  private stackOfTrace = new Map<JfrLong, number>();
  private sleepingStates = new Set<JfrLong>();

  constructor(options: JfrToPprofOptions) {
    this.options = options;
    const rate = Math.trunc(options.sampleRate);
    this.period = rate > 0 ? Math.trunc(1e9 / rate) : 0;
    this.maxStackDepth = options.maxStackDepth ?? defaultMaxJfrStackDepth;
  }

  beginChunk(chunk: JfrChunk): ReadonlySet<JfrClass> {
    this.chunk = chunk;
    this.symbolCache = new Map();
    this.functionOfMethod = new Map();
    this.stackOfTrace = new Map();
    this.sleepingStates = new Set();
    const states = chunk.pool("jdk.types.ThreadState");
    const stateClass = chunk.metadata.byName.get("jdk.types.ThreadState");
    if (states && stateClass) {
      for (const [id, v] of states) {
        if (chunk.string(field(stateClass, v as JfrValue[], "name")) === "STATE_SLEEPING") {
          this.sleepingStates.add(id);
        }
      }
    }
    this.handlers = new Map();
    const on = (name: string, handler: Handler): void => {
      const cls = chunk.metadata.byName.get(name);
      if (cls && cls.fields.length > 0) this.handlers.set(cls, handler);
    };
    on("jdk.ActiveSetting", (c, cls, v) => {
      if (c.string(field(cls, v, "name")) === "event") this.recordingEvent = c.string(field(cls, v, "value"));
    });
    on("jdk.ExecutionSample", (_c, cls, v) => {
      const state = field(cls, v, "state");
      const corr = this.correlation(cls, v);
      const stack = field(cls, v, "stackTrace");
      if (state === undefined || !this.sleepingStates.has(state as JfrLong)) {
        this.add("cpu", stack, corr, this.period, 0);
      }
      if (this.recordingEvent === "wall") this.add("wall", stack, corr, this.period, 0);
    });
    on("profiler.WallClockSample", (_c, cls, v) => {
      const samples = num(field(cls, v, "samples")) ?? 1;
      this.add("wall", field(cls, v, "stackTrace"), this.correlation(cls, v), samples * this.period, 0);
    });
    const counted = (name: string, kind: JfrProfileKind, valueField: string | undefined): void => {
      on(name, (_c, cls, v) => {
        const second = valueField === undefined ? 0 : (num(field(cls, v, valueField)) ?? 0);
        this.add(kind, field(cls, v, "stackTrace"), this.correlation(cls, v), 1, second);
      });
    };
    counted("jdk.ObjectAllocationInNewTLAB", "alloc_in_new_tlab", "tlabSize");
    counted("jdk.ObjectAllocationOutsideTLAB", "alloc_outside_tlab", "allocationSize");
    counted("jdk.ObjectAllocationSample", "alloc_sample", "weight");
    counted("profiler.LiveObject", "live", undefined);
    counted("profiler.Malloc", "malloc", "size");
    counted("jdk.JavaMonitorEnter", "lock", "duration");
    counted("jdk.ThreadPark", "thread_park", "duration");
    return new Set(this.handlers.keys());
  }

  event(chunk: JfrChunk, cls: JfrClass, value: JfrValue[]): void {
    this.handlers.get(cls)?.(chunk, cls, value);
  }

  private correlation(cls: JfrClass, v: JfrValue[]): Correlation {
    const contextId = nonZero(field(cls, v, "contextId"));
    const spanId = nonZero(field(cls, v, "spanId"));
    const spanName = nonZero(field(cls, v, "spanName"));
    const key =
      contextId === undefined && spanId === undefined && spanName === undefined
        ? ""
        : `${String(contextId ?? "")}/${String(spanId ?? "")}/${String(spanName ?? "")}`;
    return { key, contextId, spanId, spanName };
  }

  private add(
    kind: JfrProfileKind,
    stackRef: JfrValue | undefined,
    corr: Correlation,
    first: number,
    second: number,
  ): void {
    if (typeof stackRef !== "number" && typeof stackRef !== "bigint") return;
    const stack = this.stackIndex(stackRef);
    if (stack < 0) return;
    let acc = this.kinds.get(kind);
    if (!acc) {
      acc = new KindAccumulator(kind);
      this.kinds.set(kind, acc);
    }
    const key = corr.key === "" ? String(stack) : `${stack}|${corr.key}`;
    let s = acc.sampleIndex.get(key);
    if (s === undefined) {
      s = acc.stacks.length;
      acc.sampleIndex.set(key, s);
      acc.stacks.push(stack);
      acc.labelSets.push(this.labelSetIndex(corr));
      for (let i = 0; i < acc.width; i++) acc.values.push(0);
    }
    acc.values[s * acc.width] += first;
    if (acc.width > 1) acc.values[s * acc.width + 1] += second;
  }

  private labelSetIndex(corr: Correlation): number {
    if (corr.key === "") return 0;
    let i = this.labelSetByKey.get(corr.key);
    if (i !== undefined) return i;
    const snapshot = this.options.labels;
    const labels: [string, string][] = [];
    if (snapshot) {
      if (corr.contextId !== undefined) {
        for (const [k, v] of snapshot.contexts.get(String(corr.contextId)) ?? []) {
          labels.push([snapshot.strings.get(k) ?? "", snapshot.strings.get(v) ?? ""]);
        }
      }
      if (corr.spanName !== undefined) {
        labels.push(["span_name", snapshot.strings.get(String(corr.spanName)) ?? ""]);
      }
    }
    if (corr.spanId !== undefined) {
      const id = BigInt.asUintN(64, BigInt(corr.spanId as JfrLong));
      labels.push(["profile_id", id.toString(16).padStart(16, "0")]);
    }
    const kept = labels.filter(([k, v]) => k !== "" && v !== "").sort((a, b) => (a[0] < b[0] ? -1 : 1));
    i = this.labelSets.length;
    this.labelSets.push(kept);
    this.labelSetByKey.set(corr.key, i);
    return i;
  }

  /** Stack trace ref → global stack index, -1 when the trace is not in the pool. */
  private stackIndex(ref: JfrLong): number {
    const cached = this.stackOfTrace.get(ref);
    if (cached !== undefined) return cached;
    const chunk = this.chunk!;
    const traceClass = chunk.metadata.byName.get("jdk.types.StackTrace");
    const frameClass = chunk.metadata.byName.get("jdk.types.StackFrame");
    const trace = chunk.pool("jdk.types.StackTrace")?.get(ref) as JfrValue[] | undefined;
    let index = -1;
    if (trace && traceClass && frameClass) {
      const frames = field(traceClass, trace, "frames");
      const locations: number[] = [];
      if (Array.isArray(frames)) {
        const methodAt = frameClass.fieldIndex.get("method");
        const lineAt = frameClass.fieldIndex.get("lineNumber");
        const n = Math.min(frames.length, this.maxStackDepth);
        for (let i = 0; i < n; i++) {
          const frame = frames[i] as JfrValue[];
          const method = methodAt === undefined ? undefined : frame[methodAt];
          if (typeof method !== "number" && typeof method !== "bigint") continue;
          const fn = this.functionIndex(method);
          if (fn < 0) continue;
          const line = lineAt === undefined ? 0 : (num(frame[lineAt]) ?? 0);
          locations.push(this.locationIndex(fn, Math.max(line, 0)));
        }
      }
      const key = locations.join(",");
      index = this.stackByKey.get(key) ?? -1;
      if (index < 0) {
        index = this.stackOffsets.length - 1;
        for (const l of locations) this.stackLocations.push(l);
        this.stackOffsets.push(this.stackLocations.length);
        this.stackByKey.set(key, index);
      }
    }
    this.stackOfTrace.set(ref, index);
    return index;
  }

  private locationIndex(fn: number, line: number): number {
    const key = `${fn}:${line}`;
    let i = this.locationByKey.get(key);
    if (i === undefined) {
      i = this.locationFunction.length;
      this.locationFunction.push(fn);
      this.locationLine.push(line);
      this.locationByKey.set(key, i);
    }
    return i;
  }

  /** Method ref → function index, -1 when the method or its class is unknown. */
  private functionIndex(methodRef: JfrLong): number {
    const cached = this.functionOfMethod.get(methodRef);
    if (cached !== undefined) return cached;
    const chunk = this.chunk!;
    let index = -1;
    const methodClass = chunk.metadata.byName.get("jdk.types.Method");
    const classClass = chunk.metadata.byName.get("java.lang.Class");
    const method = chunk.pool("jdk.types.Method")?.get(methodRef) as JfrValue[] | undefined;
    if (method && methodClass && classClass) {
      const typeRef = field(methodClass, method, "type");
      const cls =
        typeRef === undefined
          ? undefined
          : (chunk.pool("java.lang.Class")?.get(typeRef as JfrLong) as JfrValue[] | undefined);
      if (cls) {
        const name = `${this.symbol(field(classClass, cls, "name"))}.${this.symbol(field(methodClass, method, "name"))}`;
        index = this.functionByName.get(name) ?? -1;
        if (index < 0) {
          index = this.functionNames.length;
          this.functionNames.push(name);
          this.functionByName.set(name, index);
        }
      }
    }
    this.functionOfMethod.set(methodRef, index);
    return index;
  }

  private symbol(ref: JfrValue | undefined): string {
    if (typeof ref !== "number" && typeof ref !== "bigint") return "";
    const cached = this.symbolCache.get(ref);
    if (cached !== undefined) return cached;
    const chunk = this.chunk!;
    const symbolClass = chunk.metadata.byName.get("jdk.types.Symbol");
    const sym = chunk.pool("jdk.types.Symbol")?.get(ref) as JfrValue[] | undefined;
    const text =
      sym && symbolClass ? mergeGeneratedSymbol(chunk.string(field(symbolClass, sym, "string"))) : "";
    this.symbolCache.set(ref, text);
    return text;
  }

  finish(): JfrConversion {
    const profiles: JfrProfile[] = [];
    for (const kind of kindOrder) {
      const acc = this.kinds.get(kind);
      if (!acc || acc.stacks.length === 0) continue;
      profiles.push({ kind, metricName: jfrProfileKinds[kind].metricName, pprof: this.buildPprof(acc) });
    }
    return { event: this.recordingEvent, profiles };
  }

  private buildPprof(acc: KindAccumulator): Pprof {
    const spec = jfrProfileKinds[acc.kind];
    const stringTable = new StringInterner({ initial: [""] });
    const strings = stringTable.list;
    const intern = (s: string): number => stringTable.id(s);
    const sampleTypeStr = Uint32Array.from(spec.sampleTypes, ([t]) => intern(t));
    const sampleUnitStr = Uint32Array.from(spec.sampleTypes, ([, u]) => intern(u));
    const periodTypeStr = spec.periodType ? intern(spec.periodType[0]) : 0;
    const periodUnitStr = spec.periodType ? intern(spec.periodType[1]) : 0;

    // Compact: locations and functions used by this kind, in first-use order.
    const locMap = new Map<number, number>();
    const fnMap = new Map<number, number>();
    const sampleCount = acc.stacks.length;
    const sampleLocationOffsets = new Uint32Array(sampleCount + 1);
    let frames = 0;
    for (let s = 0; s < sampleCount; s++) {
      const st = acc.stacks[s]!;
      frames += this.stackOffsets[st + 1]! - this.stackOffsets[st]!;
    }
    const sampleLocations = new Uint32Array(frames);
    let at = 0;
    for (let s = 0; s < sampleCount; s++) {
      const st = acc.stacks[s]!;
      for (let k = this.stackOffsets[st]!; k < this.stackOffsets[st + 1]!; k++) {
        const g = this.stackLocations[k]!;
        let l = locMap.get(g);
        if (l === undefined) {
          l = locMap.size;
          locMap.set(g, l);
          const fn = this.locationFunction[g]!;
          if (!fnMap.has(fn)) fnMap.set(fn, fnMap.size);
        }
        sampleLocations[at++] = l;
      }
      sampleLocationOffsets[s + 1] = at;
    }
    const locationCount = locMap.size;
    const locationId = new Float64Array(locationCount);
    const lineFunctionPlus1 = new Uint32Array(locationCount);
    const lineNumber = new Float64Array(locationCount);
    const locationLineOffsets = new Uint32Array(locationCount + 1);
    for (const [g, l] of locMap) {
      locationId[l] = l + 1;
      lineFunctionPlus1[l] = fnMap.get(this.locationFunction[g]!)! + 1;
      lineNumber[l] = this.locationLine[g]!;
      locationLineOffsets[l + 1] = l + 1;
    }
    const functionCount = fnMap.size;
    const functionId = new Float64Array(functionCount);
    const functionNameStr = new Uint32Array(functionCount);
    for (const [g, f] of fnMap) {
      functionId[f] = f + 1;
      functionNameStr[f] = intern(this.functionNames[g]!);
    }

    // Labels.
    const sampleLabelOffsets = new Uint32Array(sampleCount + 1);
    const keys: number[] = [];
    const values: number[] = [];
    for (let s = 0; s < sampleCount; s++) {
      for (const [k, v] of this.labelSets[acc.labelSets[s]!]!) {
        keys.push(intern(k));
        values.push(intern(v));
      }
      sampleLabelOffsets[s + 1] = keys.length;
    }

    const timed = acc.kind === "cpu" || acc.kind === "wall";
    return {
      strings,
      sampleTypeStr,
      sampleUnitStr,
      periodTypeStr,
      periodUnitStr,
      hasPeriodType: spec.periodType !== undefined,
      period: timed ? this.period : 0,
      timeNanos: this.options.startNanos,
      durationNanos:
        this.options.endNanos > this.options.startNanos
          ? this.options.endNanos - this.options.startNanos
          : 0n,
      defaultSampleTypeStr: 0,
      dropFramesStr: 0,
      keepFramesStr: 0,
      commentStrs: [],

      sampleCount,
      sampleLocationOffsets,
      sampleLocations,
      sampleValues: Float64Array.from(acc.values),
      sampleLabelOffsets,
      labelKeyStr: Uint32Array.from(keys),
      labelValueStr: Uint32Array.from(values),
      labelNum: new Float64Array(keys.length),
      labelNumUnitStr: new Uint32Array(keys.length),

      locationCount,
      locationId,
      locationMappingPlus1: new Uint32Array(locationCount).fill(1),
      locationAddress: new Float64Array(locationCount),
      locationIsFolded: new Uint8Array(locationCount),
      locationLineOffsets,
      lineFunctionPlus1,
      lineNumber,

      functionCount,
      functionId,
      functionNameStr,
      functionSystemNameStr: new Uint32Array(functionCount),
      functionFilenameStr: new Uint32Array(functionCount),
      functionStartLine: new Float64Array(functionCount),

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
}

function num(v: JfrValue | undefined): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  return undefined;
}

function nonZero(v: JfrValue | undefined): JfrValue | undefined {
  if (v === undefined || v === 0 || v === 0n || typeof v === "boolean") return undefined;
  if (typeof v !== "number" && typeof v !== "bigint") return undefined;
  return v;
}
