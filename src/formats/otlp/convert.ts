/**
 * OTLP profiles (v1development, opentelemetry-proto v1.10+) → Kiln's in-memory `Pprof` plus
 * series labels, following Pyroscope's converter (wire reference §7.4):
 *
 * - Service: resource attribute `service.name` (string, int, strindex or a one-element
 *   array of those); else `unknown_service:<process.executable.name>` when that resource
 *   attribute exists; else `unknown_service`. Samples with a `service.name` sample attribute
 *   are split off into one pprof per value, which overrides the service for them.
 * - One pprof per (profile × service group): time = time_unix_nano (0 → now), duration =
 *   duration_nano (0 → 10 s), the single sample type, period, period type (when it names
 *   something), default sample type = the sample type. Locations, functions and mappings
 *   get ids 1, 2, 3… in first-use order; mapping build id = its attribute
 *   `process.executable.build_id.gnu`; mapping has_* flags from its locations; Line.column
 *   is dropped.
 * - Sample value: the sum of `values`; with no values, the number of timestamps; neither is
 *   an error. (Pyroscope documents one value per sample; summing is what its off-CPU rule
 *   does and the only meaning a multi-observation sample has in a one-value pprof.)
 * - Sample attributes with a string, int or strindex value (or a one-element array of one)
 *   become pprof string labels, except `service.name`; bool, double, bytes, kvlist and longer
 *   arrays are dropped. A link adds `span_id` = hex(span_id) and, when 16 bytes,
 *   `trace_id` = hex(trace_id).
 * - `__name__` from `<type>:<unit>:<period type>:<period unit>` (the period part empty unless
 *   a period type is set and period ≠ 0): `samples:count:cpu:nanoseconds` → sample type
 *   `cpu`/`nanoseconds`, values × period, `process_cpu`; `off_cpu:nanoseconds::` →
 *   `off_cpu`; anything else → the period type string (empty without a period, which label
 *   validation then rejects).
 * - Series labels: `__delta__="false"`, `__otel__="true"`, `__name__`, the resource
 *   attributes, the scope attributes not already set (string/int/strindex values, keys
 *   as-is), `service_name`.
 *
 * Kiln improvements over Pyroscope: `AnyValue.string_value_strindex` and
 * `KeyValue.key_strindex` are resolved through the dictionary's string table (Pyroscope
 * drops such attributes).
 *
 * Validation: the dictionary must be present and the request must have resource profiles.
 * Every index anywhere in the request is checked against its table; out of range →
 * KilnError invalid_argument "otlp_index_out_of_range" naming the table, the index and where
 * it was found. Index 0 of a table means "unset" (the tables' zero entries): a mapping,
 * function, link or string index 0 is accepted even if the table is empty, and so is stack
 * index 0 (an empty stack). Stack location indices must exist.
 */
import type { ExportProfilesServiceRequest } from "../../gen/opentelemetry/proto/collector/profiles/v1development/profiles_service_pb.js";
import type { AnyValue, KeyValue } from "../../gen/opentelemetry/proto/common/v1/common_pb.js";
import type {
  KeyValueAndUnit,
  Profile,
  ProfilesDictionary,
  Sample,
} from "../../gen/opentelemetry/proto/profiles/v1development/profiles_pb.js";
import { KilnError } from "../../model/errors.ts";
import { type Label, LabelName, unknownServiceName } from "../../model/labels.ts";
import type { Pprof } from "../../model/pprof.ts";
import { StringInterner } from "../../model/string-interner.ts";

/** One converted pprof and the series labels to normalize it with. */
export interface OtlpPprof {
  pprof: Pprof;
  seriesLabels: Label[];
}

const serviceNameKey = "service.name";
const executableNameKey = "process.executable.name";
const buildIdKey = "process.executable.build_id.gnu";
const defaultDurationNanos = 10_000_000_000n;
const nanosPerMs = 1_000_000n;

/** Labels the converter sets itself; attributes of these names are not copied. */
const reservedLabels: ReadonlySet<string> = new Set([
  LabelName.metricName,
  LabelName.delta,
  LabelName.otel,
  LabelName.serviceName,
]);

function outOfRange(table: string, index: number, size: number, where: string): KilnError {
  return new KilnError(
    "invalid_argument",
    "otlp_index_out_of_range",
    `invalid OTLP profiles: ${where}: ${table} index ${index} out of range (${table} has ${size} entries)`,
  );
}

function invalid(reason: string, message: string): KilnError {
  return new KilnError("invalid_argument", reason, `invalid OTLP profiles: ${message}`);
}

/** Index check for references where 0 means "unset" and may be absent from the table. */
function checkOptional(table: string, index: number, size: number, where: string): void {
  if (index !== 0 && !(index > 0 && index < size)) throw outOfRange(table, index, size, where);
}

/** Index check for references that must exist. */
function checkRequired(table: string, index: number, size: number, where: string): void {
  if (!(index >= 0 && index < size)) throw outOfRange(table, index, size, where);
}

/** Checks every index inside the dictionary once, so conversion can trust it. */
function validateDictionary(d: ProfilesDictionary): void {
  const nStrings = d.stringTable.length;
  const nAttributes = d.attributeTable.length;
  const str = (i: number, where: string) => checkOptional("string_table", i, nStrings, where);
  const attrs = (list: readonly number[], where: string) => {
    for (const a of list) checkRequired("attribute_table", a, nAttributes, `${where}.attribute_indices`);
  };
  d.mappingTable.forEach((m, i) => {
    const where = `mapping_table[${i}]`;
    str(m.filenameStrindex, `${where}.filename_strindex`);
    attrs(m.attributeIndices, where);
  });
  d.locationTable.forEach((loc, i) => {
    const where = `location_table[${i}]`;
    checkOptional("mapping_table", loc.mappingIndex, d.mappingTable.length, `${where}.mapping_index`);
    for (const [j, line] of loc.lines.entries()) {
      const at = `${where}.lines[${j}].function_index`;
      checkOptional("function_table", line.functionIndex, d.functionTable.length, at);
    }
    attrs(loc.attributeIndices, where);
  });
  d.functionTable.forEach((f, i) => {
    const where = `function_table[${i}]`;
    str(f.nameStrindex, `${where}.name_strindex`);
    str(f.systemNameStrindex, `${where}.system_name_strindex`);
    str(f.filenameStrindex, `${where}.filename_strindex`);
  });
  d.attributeTable.forEach((a, i) => {
    const where = `attribute_table[${i}]`;
    str(a.keyStrindex, `${where}.key_strindex`);
    str(a.unitStrindex, `${where}.unit_strindex`);
    validateAnyValue(a.value, nStrings, `${where}.value`);
  });
  d.stackTable.forEach((s, i) => {
    for (const l of s.locationIndices)
      checkRequired("location_table", l, d.locationTable.length, `stack_table[${i}].location_indices`);
  });
}

function validateAnyValue(v: AnyValue | undefined, nStrings: number, where: string): void {
  if (v === undefined) return;
  switch (v.value.case) {
    case "stringValueStrindex":
      checkOptional("string_table", v.value.value, nStrings, `${where}.string_value_strindex`);
      return;
    case "arrayValue":
      for (const [i, e] of v.value.value.values.entries())
        validateAnyValue(e, nStrings, `${where}.array_value[${i}]`);
      return;
    case "kvlistValue":
      for (const [i, kv] of v.value.value.values.entries())
        validateKeyValue(kv, nStrings, `${where}.kvlist_value[${i}]`);
      return;
    default:
      return;
  }
}

function validateKeyValue(kv: KeyValue, nStrings: number, where: string): void {
  checkOptional("string_table", kv.keyStrindex, nStrings, `${where}.key_strindex`);
  validateAnyValue(kv.value, nStrings, `${where}.value`);
}

/** The text of an attribute value usable as a label: string, int, strindex or a one-element array of those. */
function labelValueOf(v: AnyValue | undefined, strings: readonly string[]): string | undefined {
  if (v === undefined) return undefined;
  switch (v.value.case) {
    case "stringValue":
      return v.value.value;
    case "intValue":
      return v.value.value.toString();
    case "stringValueStrindex":
      return strings[v.value.value] ?? "";
    case "arrayValue": {
      const values = v.value.value.values;
      if (values.length !== 1) return undefined;
      const only = values[0]!.value.case;
      return only === "arrayValue" ? undefined : labelValueOf(values[0], strings);
    }
    default:
      return undefined;
  }
}

function keyOf(kv: KeyValue, strings: readonly string[]): string {
  return kv.key !== "" ? kv.key : (strings[kv.keyStrindex] ?? "");
}

/** Resource or scope attributes → (key, label value) pairs, first occurrence of a key wins. */
function attributeLabels(
  attributes: readonly KeyValue[],
  strings: readonly string[],
  where: string,
): Label[] {
  const out: Label[] = [];
  const seen = new Set<string>();
  for (const [i, kv] of attributes.entries()) validateKeyValue(kv, strings.length, `${where}[${i}]`);
  for (const kv of attributes) {
    const key = keyOf(kv, strings);
    if (key === "" || seen.has(key)) continue;
    const value = labelValueOf(kv.value, strings);
    if (value === undefined || value === "") continue;
    seen.add(key);
    out.push([key, value]);
  }
  return out;
}

function attributeKey(a: KeyValueAndUnit, strings: readonly string[]): string {
  return strings[a.keyStrindex] ?? "";
}

/**
 * Converts a decoded request. `nowMs` replaces a zero profile time. Profiles without samples
 * produce nothing.
 */
export function otlpToPprofs(request: ExportProfilesServiceRequest, nowMs: number): OtlpPprof[] {
  const dict = request.dictionary;
  if (dict === undefined) throw invalid("missing_dictionary", "the request has no dictionary");
  if (request.resourceProfiles.length === 0)
    throw invalid("missing_resource_profiles", "the request has no resource_profiles");
  validateDictionary(dict);
  const strings = dict.stringTable;
  const out: OtlpPprof[] = [];
  request.resourceProfiles.forEach((rp, r) => {
    const resourceLabels = attributeLabels(
      rp.resource?.attributes ?? [],
      strings,
      `resource_profiles[${r}].resource.attributes`,
    );
    const resourceService = serviceOfResource(resourceLabels);
    rp.scopeProfiles.forEach((sp, s) => {
      const scopeLabels = attributeLabels(
        sp.scope?.attributes ?? [],
        strings,
        `resource_profiles[${r}].scope_profiles[${s}].scope.attributes`,
      );
      // Resource attributes, then the scope's whose key is new.
      const base: Label[] = [];
      const seen = new Set<string>();
      for (const [key, value] of [...resourceLabels, ...scopeLabels]) {
        if (reservedLabels.has(key) || seen.has(key)) continue;
        seen.add(key);
        base.push([key, value]);
      }
      sp.profiles.forEach((profile, p) => {
        const where = `resource_profiles[${r}].scope_profiles[${s}].profiles[${p}]`;
        for (const converted of convertProfile(profile, dict, base, resourceService, nowMs, where))
          out.push(converted);
      });
    });
  });
  return out;
}

function serviceOfResource(resourceLabels: readonly Label[]): string {
  let executable: string | undefined;
  for (const [key, value] of resourceLabels) {
    if (key === serviceNameKey) return value;
    if (key === executableNameKey) executable = value;
  }
  return executable === undefined ? unknownServiceName : `${unknownServiceName}:${executable}`;
}

interface ProfileKind {
  metricName: string;
  sampleType: string;
  sampleUnit: string;
  /** Every value is multiplied by this. */
  scale: number;
}

function profileKind(profile: Profile, strings: readonly string[]): ProfileKind {
  const type = strings[profile.sampleType?.typeStrindex ?? 0] ?? "";
  const unit = strings[profile.sampleType?.unitStrindex ?? 0] ?? "";
  const hasPeriod = profile.periodType !== undefined && profile.period !== 0n;
  const periodType = hasPeriod ? (strings[profile.periodType!.typeStrindex] ?? "") : "";
  const periodUnit = hasPeriod ? (strings[profile.periodType!.unitStrindex] ?? "") : "";
  const key = `${type}:${unit}:${periodType}:${periodUnit}`;
  if (key === "samples:count:cpu:nanoseconds") {
    return {
      metricName: "process_cpu",
      sampleType: "cpu",
      sampleUnit: "nanoseconds",
      scale: Number(profile.period),
    };
  }
  if (key === "off_cpu:nanoseconds::")
    return { metricName: "off_cpu", sampleType: type, sampleUnit: unit, scale: 1 };
  return { metricName: periodType, sampleType: type, sampleUnit: unit, scale: 1 };
}

function validateSamples(profile: Profile, dict: ProfilesDictionary, where: string): void {
  const nAttributes = dict.attributeTable.length;
  checkOptional(
    "string_table",
    profile.sampleType?.typeStrindex ?? 0,
    dict.stringTable.length,
    `${where}.sample_type.type_strindex`,
  );
  checkOptional(
    "string_table",
    profile.sampleType?.unitStrindex ?? 0,
    dict.stringTable.length,
    `${where}.sample_type.unit_strindex`,
  );
  checkOptional(
    "string_table",
    profile.periodType?.typeStrindex ?? 0,
    dict.stringTable.length,
    `${where}.period_type.type_strindex`,
  );
  checkOptional(
    "string_table",
    profile.periodType?.unitStrindex ?? 0,
    dict.stringTable.length,
    `${where}.period_type.unit_strindex`,
  );
  for (const a of profile.attributeIndices)
    checkRequired("attribute_table", a, nAttributes, `${where}.attribute_indices`);
  profile.samples.forEach((sample, i) => {
    const at = `${where}.samples[${i}]`;
    checkOptional("stack_table", sample.stackIndex, dict.stackTable.length, `${at}.stack_index`);
    checkOptional("link_table", sample.linkIndex, dict.linkTable.length, `${at}.link_index`);
    for (const a of sample.attributeIndices) {
      if (!(a >= 0 && a < nAttributes)) {
        const e = outOfRange("attribute_table", a, nAttributes, `${at}.attribute_indices`);
        // The one symptom of a v1.9 sender that legacy-layout.ts cannot see (§7.5).
        if (sample.values.length === 0) {
          e.message +=
            " (a sender on opentelemetry-proto v1.9 or older puts values in this field; Kiln speaks v1.10+)";
        }
        throw e;
      }
    }
    if (sample.values.length === 0 && sample.timestampsUnixNano.length === 0) {
      throw invalid(
        "otlp_sample_without_values",
        `${at} has neither values nor timestamps_unix_nano${sample.attributeIndices.length > 0 ? " (if the sender uses opentelemetry-proto v1.9 or older, its values arrive as attribute_indices; Kiln speaks v1.10+)" : ""}`,
      );
    }
  });
}

function convertProfile(
  profile: Profile,
  dict: ProfilesDictionary,
  base: readonly Label[],
  resourceService: string,
  nowMs: number,
  where: string,
): OtlpPprof[] {
  validateSamples(profile, dict, where);
  if (profile.samples.length === 0) return [];
  const strings = dict.stringTable;
  const kind = profileKind(profile, strings);

  // Samples by the service they belong to (their `service.name` attribute, if any).
  const groups = new Map<string, Sample[]>();
  for (const sample of profile.samples) {
    let service = resourceService;
    for (const a of sample.attributeIndices) {
      const attr = dict.attributeTable[a]!;
      if (attributeKey(attr, strings) !== serviceNameKey) continue;
      const value = labelValueOf(attr.value, strings);
      if (value !== undefined && value !== "") service = value;
    }
    let group = groups.get(service);
    if (group === undefined) {
      group = [];
      groups.set(service, group);
    }
    group.push(sample);
  }

  const out: OtlpPprof[] = [];
  for (const [service, samples] of groups) {
    const seriesLabels: Label[] = [
      [LabelName.delta, "false"],
      [LabelName.otel, "true"],
      [LabelName.metricName, kind.metricName],
    ];
    for (const [key, value] of base) {
      // A split-off group's copy of the resource's service.name follows the group, so that
      // sanitized label names (service.name → service_name) cannot disagree.
      seriesLabels.push([key, key === serviceNameKey ? service : value]);
    }
    seriesLabels.push([LabelName.serviceName, service]);
    out.push({ pprof: buildPprof(profile, samples, dict, kind, nowMs), seriesLabels });
  }
  return out;
}

/** Builds the columnar pprof of some samples of one profile. */
function buildPprof(
  profile: Profile,
  samples: readonly Sample[],
  dict: ProfilesDictionary,
  kind: ProfileKind,
  nowMs: number,
): Pprof {
  const dictStrings = dict.stringTable;
  const stringTable = new StringInterner({ initial: [""] });
  const strings = stringTable.list;
  const intern = (s: string): number => stringTable.id(s);
  const dictString = (i: number): number => intern(dictStrings[i] ?? "");

  // Entities in first-use order: dictionary index → pprof index.
  const locationOf = new Map<number, number>();
  const locations: number[] = [];
  const functionOf = new Map<number, number>();
  const functions: number[] = [];
  const mappingOf = new Map<number, number>();
  const mappings: number[] = [];
  const useFunction = (f: number): number => {
    let i = functionOf.get(f);
    if (i === undefined) {
      i = functions.length;
      functions.push(f);
      functionOf.set(f, i);
    }
    return i;
  };
  const useMapping = (m: number): number => {
    let i = mappingOf.get(m);
    if (i === undefined) {
      i = mappings.length;
      mappings.push(m);
      mappingOf.set(m, i);
    }
    return i;
  };
  const useLocation = (l: number): number => {
    let i = locationOf.get(l);
    if (i === undefined) {
      i = locations.length;
      locations.push(l);
      locationOf.set(l, i);
    }
    return i;
  };

  // Samples.
  const sampleCount = samples.length;
  const sampleLocationOffsets = new Uint32Array(sampleCount + 1);
  const sampleValues = new Float64Array(sampleCount);
  const sampleLabelOffsets = new Uint32Array(sampleCount + 1);
  const sampleLocations: number[] = [];
  const labelKeys: number[] = [];
  const labelValues: number[] = [];
  for (let s = 0; s < sampleCount; s++) {
    const sample = samples[s]!;
    // Stack 0 of an empty stack_table is an empty stack.
    const stack = dict.stackTable[sample.stackIndex];
    if (stack !== undefined) for (const l of stack.locationIndices) sampleLocations.push(useLocation(l));
    sampleLocationOffsets[s + 1] = sampleLocations.length;

    let value = 0;
    if (sample.values.length > 0) for (const v of sample.values) value += Number(v);
    else value = sample.timestampsUnixNano.length;
    sampleValues[s] = value * kind.scale;

    for (const a of sample.attributeIndices) {
      const attr = dict.attributeTable[a]!;
      const key = attributeKey(attr, dictStrings);
      if (key === "" || key === serviceNameKey) continue;
      const v = labelValueOf(attr.value, dictStrings);
      if (v === undefined || v === "") continue;
      labelKeys.push(intern(key));
      labelValues.push(intern(v));
    }
    if (sample.linkIndex !== 0) {
      const link = dict.linkTable[sample.linkIndex]!;
      if (link.spanId.length > 0) {
        labelKeys.push(intern("span_id"));
        labelValues.push(intern(Buffer.from(link.spanId).toString("hex")));
      }
      if (link.traceId.length === 16) {
        labelKeys.push(intern("trace_id"));
        labelValues.push(intern(Buffer.from(link.traceId).toString("hex")));
      }
    }
    sampleLabelOffsets[s + 1] = labelKeys.length;
  }

  // Locations and their lines (functions and mappings are numbered as they are reached).
  const locationCount = locations.length;
  const locationId = new Float64Array(locationCount);
  const locationMappingPlus1 = new Uint32Array(locationCount);
  const locationAddress = new Float64Array(locationCount);
  const locationLineOffsets = new Uint32Array(locationCount + 1);
  const lineFunctionPlus1: number[] = [];
  const lineNumber: number[] = [];
  for (let i = 0; i < locationCount; i++) {
    const loc = dict.locationTable[locations[i]!]!;
    locationId[i] = i + 1;
    locationAddress[i] = Number(loc.address);
    locationMappingPlus1[i] = loc.mappingIndex === 0 ? 0 : useMapping(loc.mappingIndex) + 1;
    for (const line of loc.lines) {
      lineFunctionPlus1.push(line.functionIndex === 0 ? 0 : useFunction(line.functionIndex) + 1);
      lineNumber.push(Number(line.line));
    }
    locationLineOffsets[i + 1] = lineFunctionPlus1.length;
  }

  const functionCount = functions.length;
  const functionNameStr = new Uint32Array(functionCount);
  const functionSystemNameStr = new Uint32Array(functionCount);
  const functionFilenameStr = new Uint32Array(functionCount);
  const functionStartLine = new Float64Array(functionCount);
  for (let i = 0; i < functionCount; i++) {
    const f = dict.functionTable[functions[i]!]!;
    functionNameStr[i] = dictString(f.nameStrindex);
    functionSystemNameStr[i] = dictString(f.systemNameStrindex);
    functionFilenameStr[i] = dictString(f.filenameStrindex);
    functionStartLine[i] = Number(f.startLine);
  }

  const mappingCount = mappings.length;
  const mappingStart = new Float64Array(mappingCount);
  const mappingLimit = new Float64Array(mappingCount);
  const mappingOffset = new Float64Array(mappingCount);
  const mappingFilenameStr = new Uint32Array(mappingCount);
  const mappingBuildIdStr = new Uint32Array(mappingCount);
  const mappingFlags = new Uint8Array(mappingCount);
  for (let i = 0; i < mappingCount; i++) {
    const m = dict.mappingTable[mappings[i]!]!;
    mappingStart[i] = Number(m.memoryStart);
    mappingLimit[i] = Number(m.memoryLimit);
    mappingOffset[i] = Number(m.fileOffset);
    mappingFilenameStr[i] = dictString(m.filenameStrindex);
    for (const a of m.attributeIndices) {
      const attr = dict.attributeTable[a]!;
      if (attributeKey(attr, dictStrings) !== buildIdKey) continue;
      const v = labelValueOf(attr.value, dictStrings);
      if (v !== undefined) mappingBuildIdStr[i] = intern(v);
      break;
    }
  }
  // has_functions, has_filenames, has_line_numbers, has_inline_frames from the locations.
  for (let i = 0; i < locationCount; i++) {
    const m = locationMappingPlus1[i]!;
    if (m === 0) continue;
    let flags = mappingFlags[m - 1]!;
    const from = locationLineOffsets[i]!;
    const to = locationLineOffsets[i + 1]!;
    if (to - from > 1) flags |= 8;
    for (let l = from; l < to; l++) {
      const f = lineFunctionPlus1[l]!;
      if (f !== 0) {
        if (strings[functionNameStr[f - 1]!] !== "") flags |= 1;
        if (strings[functionFilenameStr[f - 1]!] !== "") flags |= 2;
      }
      if (lineNumber[l] !== 0) flags |= 4;
    }
    mappingFlags[m - 1] = flags;
  }

  const sampleTypeStr = intern(kind.sampleType);
  const sampleUnitStr = intern(kind.sampleUnit);
  const periodTypeName = dictStrings[profile.periodType?.typeStrindex ?? 0] ?? "";
  const periodUnitName = dictStrings[profile.periodType?.unitStrindex ?? 0] ?? "";
  // A present but empty period type (the eBPF profiler's off-CPU profiles) is no period type.
  const hasPeriodType = profile.periodType !== undefined && (periodTypeName !== "" || periodUnitName !== "");
  const timeNanos =
    profile.timeUnixNano !== 0n ? profile.timeUnixNano : BigInt(Math.trunc(nowMs)) * nanosPerMs;

  const labelCount = labelKeys.length;
  return {
    strings,
    sampleTypeStr: Uint32Array.of(sampleTypeStr),
    sampleUnitStr: Uint32Array.of(sampleUnitStr),
    periodTypeStr: hasPeriodType ? intern(periodTypeName) : 0,
    periodUnitStr: hasPeriodType ? intern(periodUnitName) : 0,
    hasPeriodType,
    period: Number(profile.period),
    timeNanos,
    durationNanos: profile.durationNano !== 0n ? profile.durationNano : defaultDurationNanos,
    defaultSampleTypeStr: sampleTypeStr,
    dropFramesStr: 0,
    keepFramesStr: 0,
    commentStrs: [],

    sampleCount,
    sampleLocationOffsets,
    sampleLocations: Uint32Array.from(sampleLocations),
    sampleValues,
    sampleLabelOffsets,
    labelKeyStr: Uint32Array.from(labelKeys),
    labelValueStr: Uint32Array.from(labelValues),
    labelNum: new Float64Array(labelCount),
    labelNumUnitStr: new Uint32Array(labelCount),

    locationCount,
    locationId,
    locationMappingPlus1,
    locationAddress,
    locationIsFolded: new Uint8Array(locationCount),
    locationLineOffsets,
    lineFunctionPlus1: Uint32Array.from(lineFunctionPlus1),
    lineNumber: Float64Array.from(lineNumber),

    functionCount,
    functionId: Float64Array.from({ length: functionCount }, (_, i) => i + 1),
    functionNameStr,
    functionSystemNameStr,
    functionFilenameStr,
    functionStartLine,

    mappingCount,
    mappingId: Float64Array.from({ length: mappingCount }, (_, i) => i + 1),
    mappingStart,
    mappingLimit,
    mappingOffset,
    mappingFilenameStr,
    mappingBuildIdStr,
    mappingFlags,
  };
}
