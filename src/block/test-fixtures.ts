/**
 * Hand-built `Pprof` and `NormalizedProfile` values for the block tests: small, exact and
 * readable, so a test states its input in a few lines. Used by tests only.
 */
import { LabelName, type Labels, sortLabels } from "../model/labels.ts";
import type { Pprof } from "../model/pprof.ts";
import type { NormalizedProfile } from "../model/profile.ts";
import type { ProfileType } from "../model/profile-type.ts";
import { assert } from "./format.ts";

export interface FixtureLine {
  /** Function name; the file is `<name>.go`. */
  fn: string;
  line: number;
}

export interface FixtureLocation {
  address: number;
  /** Innermost (inlined callee) first, as in pprof. Empty for an unsymbolized frame. */
  lines: FixtureLine[];
  /** Mapping file name; undefined for none. */
  mapping?: string;
}

export interface FixtureSample {
  /** Indices into the fixture's locations, leaf first. */
  stack: number[];
  values: number[];
}

/** Builds a Pprof from readable rows, interning strings and functions like a decoder would. */
/** A small web server's frames: main → serve → handle / parse (leaves); main → gc (leaf). */
export const webServerLocations: readonly FixtureLocation[] = [
  { address: 0x401000, lines: [{ fn: "main", line: 10 }], mapping: "/bin/app" },
  { address: 0x402000, lines: [{ fn: "serve", line: 20 }], mapping: "/bin/app" },
  { address: 0x403000, lines: [{ fn: "handle", line: 30 }], mapping: "/bin/app" },
  { address: 0x404000, lines: [{ fn: "parse", line: 40 }], mapping: "/bin/app" },
  { address: 0x405000, lines: [{ fn: "gc", line: 50 }], mapping: "/bin/app" },
];

export function buildPprof(options: {
  sampleTypes: [type: string, unit: string][];
  locations: readonly FixtureLocation[];
  samples: FixtureSample[];
  timeNanos?: bigint;
}): Pprof {
  const strings = [""];
  const stringIds = new Map<string, number>([["", 0]]);
  const str = (text: string): number => {
    let id = stringIds.get(text);
    if (id === undefined) {
      id = strings.length;
      strings.push(text);
      stringIds.set(text, id);
    }
    return id;
  };
  const functionNames: string[] = [];
  const mappingNames: string[] = [];
  const indexOf = (list: string[], name: string): number => {
    const at = list.indexOf(name);
    if (at >= 0) return at;
    list.push(name);
    return list.length - 1;
  };
  const lineFunctionPlus1: number[] = [];
  const lineNumber: number[] = [];
  const locationLineOffsets = [0];
  const locationMappingPlus1: number[] = [];
  for (const location of options.locations) {
    for (const line of location.lines) {
      lineFunctionPlus1.push(indexOf(functionNames, line.fn) + 1);
      lineNumber.push(line.line);
    }
    locationLineOffsets.push(lineNumber.length);
    locationMappingPlus1.push(
      location.mapping === undefined ? 0 : indexOf(mappingNames, location.mapping) + 1,
    );
  }
  const typeCount = options.sampleTypes.length;
  const sampleValues: number[] = [];
  const sampleLocations: number[] = [];
  const sampleLocationOffsets = [0];
  for (const sample of options.samples) {
    assert(sample.values.length === typeCount, "fixture sample: one value per sample type");
    sampleValues.push(...sample.values);
    sampleLocations.push(...sample.stack);
    sampleLocationOffsets.push(sampleLocations.length);
  }
  return {
    strings,
    sampleTypeStr: Uint32Array.from(options.sampleTypes, ([type]) => str(type)),
    sampleUnitStr: Uint32Array.from(options.sampleTypes, ([, unit]) => str(unit)),
    periodTypeStr: 0,
    periodUnitStr: 0,
    hasPeriodType: false,
    period: 0,
    timeNanos: options.timeNanos ?? 0n,
    durationNanos: 0n,
    defaultSampleTypeStr: 0,
    dropFramesStr: 0,
    keepFramesStr: 0,
    commentStrs: [],
    sampleCount: options.samples.length,
    sampleLocationOffsets: Uint32Array.from(sampleLocationOffsets),
    sampleLocations: Uint32Array.from(sampleLocations),
    sampleValues: Float64Array.from(sampleValues),
    sampleLabelOffsets: new Uint32Array(options.samples.length + 1),
    labelKeyStr: new Uint32Array(0),
    labelValueStr: new Uint32Array(0),
    labelNum: new Float64Array(0),
    labelNumUnitStr: new Uint32Array(0),
    locationCount: options.locations.length,
    locationId: Float64Array.from(options.locations, (_, i) => i + 1),
    locationMappingPlus1: Uint32Array.from(locationMappingPlus1),
    locationAddress: Float64Array.from(options.locations, (location) => location.address),
    locationIsFolded: new Uint8Array(options.locations.length),
    locationLineOffsets: Uint32Array.from(locationLineOffsets),
    lineFunctionPlus1: Uint32Array.from(lineFunctionPlus1),
    lineNumber: Float64Array.from(lineNumber),
    functionCount: functionNames.length,
    functionId: Float64Array.from(functionNames, (_, i) => i + 1),
    functionNameStr: Uint32Array.from(functionNames, (name) => str(name)),
    functionSystemNameStr: Uint32Array.from(functionNames, (name) => str(name)),
    functionFilenameStr: Uint32Array.from(functionNames, (name) => str(`${name}.go`)),
    functionStartLine: Float64Array.from(functionNames, () => 1),
    mappingCount: mappingNames.length,
    mappingId: Float64Array.from(mappingNames, (_, i) => i + 1),
    mappingStart: Float64Array.from(mappingNames, (_, i) => 0x400000 * (i + 1)),
    mappingLimit: Float64Array.from(mappingNames, (_, i) => 0x400000 * (i + 2)),
    mappingOffset: new Float64Array(mappingNames.length),
    mappingFilenameStr: Uint32Array.from(mappingNames, (name) => str(name)),
    mappingBuildIdStr: Uint32Array.from(mappingNames, (name) => str(`build-${name}`)),
    mappingFlags: Uint8Array.from(mappingNames, () => 0b0111),
  };
}

export const cpuType: ProfileType = {
  name: "process_cpu",
  sampleType: "cpu",
  sampleUnit: "nanoseconds",
  periodType: "cpu",
  periodUnit: "nanoseconds",
};

/** Series labels as normalization builds them: service, __name__, __profile_type__ and extras. */
export function seriesLabels(
  service: string,
  profileType: ProfileType,
  extra: [string, string][] = [],
): Labels {
  const id = `${profileType.name}:${profileType.sampleType}:${profileType.sampleUnit}:${profileType.periodType}:${profileType.periodUnit}`;
  return sortLabels([
    [LabelName.serviceName, service],
    [LabelName.metricName, profileType.name],
    [LabelName.profileType, id],
    ...extra,
  ]);
}

let profileIdCounter = 0;

/** A UUID-shaped id that is unique within the test process and readable in failures. */
export function nextProfileId(): string {
  profileIdCounter++;
  return `00000000-0000-4000-8000-${profileIdCounter.toString(16).padStart(12, "0")}`;
}

/** The profile of sample type `typeIndex` of `pprof`, keeping samples with non-zero values. */
export function normalize(
  pprof: Pprof,
  options: {
    service: string;
    profileType?: ProfileType;
    typeIndex?: number;
    timeNanos?: bigint;
    extraLabels?: [string, string][];
    spanIds?: bigint[];
    traceIds?: string[];
  },
): NormalizedProfile {
  const typeIndex = options.typeIndex ?? 0;
  const typeCount = pprof.sampleTypeStr.length;
  const profileType = options.profileType ?? cpuType;
  const stackOffsets = [0];
  const stackLocations: number[] = [];
  const values: number[] = [];
  const spanIds: bigint[] = [];
  const traceIds: string[] = [];
  for (let sample = 0; sample < pprof.sampleCount; sample++) {
    const value = pprof.sampleValues[sample * typeCount + typeIndex]!;
    if (value === 0) continue;
    const from = pprof.sampleLocationOffsets[sample]!;
    const to = pprof.sampleLocationOffsets[sample + 1]!;
    stackLocations.push(...pprof.sampleLocations.subarray(from, to));
    stackOffsets.push(stackLocations.length);
    values.push(value);
    spanIds.push(options.spanIds?.[sample] ?? 0n);
    traceIds.push(options.traceIds?.[sample] ?? "");
  }
  return {
    seriesLabels: seriesLabels(options.service, profileType, options.extraLabels),
    profileType,
    timeNanos: options.timeNanos ?? pprof.timeNanos,
    durationNanos: 10_000_000_000n,
    profileId: nextProfileId(),
    symbols: pprof,
    sampleCount: values.length,
    stackOffsets: Uint32Array.from(stackOffsets),
    stackLocations: Uint32Array.from(stackLocations),
    values: Float64Array.from(values),
    ...(options.spanIds === undefined ? {} : { spanIds: BigUint64Array.from(spanIds) }),
    ...(options.traceIds === undefined ? {} : { traceIds }),
  };
}
