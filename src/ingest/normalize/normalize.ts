/**
 * Decoded pprof + request labels → the stored profiles (wire reference §1.3, §2.8, §3.2, §6).
 *
 * One output per (sample type × distinct set of string sample labels). Order of work follows
 * Pyroscope's distributor: series labels (drop `__delta__`/`__otel__`/`__order__`, default
 * service_name), time window and profile limits (ValidateProfile), Go stack repair, stack depth
 * truncation, then per output: drop zero values and merge samples with identical
 * (stack, span id, trace id). Outputs left without samples are skipped.
 *
 * `symbols` of every output is the input pprof, never mutated. Only when a string must change
 * (a symbol over max_symbol_length, a dashed sample type being rewritten, Go type parameters
 * being dropped) do the outputs
 * share a shallow copy that differs from the input in its `strings` array alone.
 */
import { randomUUID } from "node:crypto";
import { KilnError } from "../../model/errors.ts";
import {
  getLabel,
  type Label,
  LabelName,
  type Labels,
  labelsKey,
  sortLabels,
  unknownServiceName,
} from "../../model/labels.ts";
import type { Pprof } from "../../model/pprof.ts";
import type { NormalizedProfile } from "../../model/profile.ts";
import type { ProfileType } from "../../model/profile-type.ts";
import { profileTypeId } from "../../model/profile-type.ts";
import {
  dropGoTypeParameters,
  isGoProfile,
  mayHaveGoTruncatedStacks,
  repairGoTruncatedStacks,
  type Stacks,
} from "./go-truncation.ts";
import type { IngestLimits } from "./limits.ts";
import { fixSymbols } from "./symbols.ts";
import { checkTimeWindow, profileTimeNanos } from "./time-window.ts";
import { sanitizeLabelNames, validateSeriesLabels } from "./validate-labels.ts";

export interface NormalizeInput {
  /** Request labels incl. __name__, maybe service_name; may be unsorted. */
  seriesLabels: Labels;
  limits: IngestLimits;
  nowMs: number;
  /** `from` of /ingest, used when time_nanos is 0 or in 1970. */
  fallbackTimeNanos?: bigint;
  profileIdFor?: () => string;
  /**
   * Sample types containing `-` (older .NET profilers): Pyroscope's Push rejects them
   * ("reject", the default); its /ingest handler rewrites `-` to `_` ("replace").
   */
  dashedSampleTypes?: "reject" | "replace";
}

/** Series labels removed before storage (wire reference §6.2). */
const droppedLabels = new Set<string>([LabelName.delta, LabelName.otel, LabelName.order]);

export function normalizePprof(pprof: Pprof, input: NormalizeInput): NormalizedProfile[] {
  const { limits } = input;
  let base: Label[] = input.seriesLabels.filter(([name]) => !droppedLabels.has(name));
  if (getLabel(base, LabelName.serviceName) === undefined)
    base.push([LabelName.serviceName, unknownServiceName]);
  base = limits.sanitizeLabelNames ? sanitizeLabelNames(base) : sortLabels(base);

  const timeNanos = profileTimeNanos(pprof.timeNanos, input.nowMs, input.fallbackTimeNanos);
  checkTimeWindow(timeNanos, input.nowMs, limits, base);
  checkProfileLimits(pprof, limits);
  const isGo = isGoProfile(pprof, getLabel(base, LabelName.spy));
  const goStrings = isGo ? dropGoTypeParameters(pprof.strings) : undefined;
  const symbols = fixSymbols(
    goStrings ? { ...pprof, strings: goStrings } : pprof,
    limits.maxSymbolLength,
    input.dashedSampleTypes ?? "reject",
  );

  let stacks: Stacks = { offsets: pprof.sampleLocationOffsets, locations: pprof.sampleLocations };
  if (isGo && mayHaveGoTruncatedStacks(pprof, stacks)) {
    stacks = repairGoTruncatedStacks(pprof, stacks) ?? stacks;
  }
  stacks = truncateDeepStacks(stacks, pprof.sampleCount, limits.maxStackDepth);

  const groups = groupBySampleLabels(pprof, base, limits);
  const newId = input.profileIdFor ?? randomUUID;
  const out: NormalizedProfile[] = [];
  for (const group of groups) {
    validateSeriesLabels(group.labels, limits);
    const canonical = canonicalSamples(group, stacks);
    for (let t = 0; t < pprof.sampleTypeStr.length; t++) {
      const profileType: ProfileType = {
        name: getLabel(group.labels, LabelName.metricName) ?? "",
        sampleType: symbols.strings[pprof.sampleTypeStr[t]!] ?? "",
        sampleUnit: symbols.strings[pprof.sampleUnitStr[t]!] ?? "",
        periodType: pprof.hasPeriodType ? (symbols.strings[pprof.periodTypeStr] ?? "") : "",
        periodUnit: pprof.hasPeriodType ? (symbols.strings[pprof.periodUnitStr] ?? "") : "",
      };
      const profile = buildProfile(pprof, t, group, canonical, stacks);
      if (profile === undefined) continue;
      out.push({
        seriesLabels: withPrivateLabels(group.labels, profileType, pprof.hasPeriodType),
        profileType,
        timeNanos,
        durationNanos: pprof.durationNanos,
        profileId: newId(),
        symbols,
        ...profile,
      });
    }
  }
  return out;
}

function checkProfileLimits(pprof: Pprof, limits: IngestLimits): void {
  if (limits.maxProfileSamples > 0 && pprof.sampleCount > limits.maxProfileSamples) {
    throw new KilnError(
      "invalid_argument",
      "too_many_samples",
      `profile has ${pprof.sampleCount} samples, limit ${limits.maxProfileSamples} (max_profile_samples)`,
    );
  }
  if (limits.maxSampleLabels > 0) {
    for (let s = 0; s < pprof.sampleCount; s++) {
      const n = pprof.sampleLabelOffsets[s + 1]! - pprof.sampleLabelOffsets[s]!;
      if (n > limits.maxSampleLabels) {
        throw new KilnError(
          "invalid_argument",
          "too_many_sample_labels",
          `sample ${s} has ${n} labels, limit ${limits.maxSampleLabels} (max_sample_labels)`,
        );
      }
    }
  }
}

/** Keeps the root-most `maxDepth` frames of deeper stacks, as Pyroscope's ValidateProfile does. */
function truncateDeepStacks(stacks: Stacks, sampleCount: number, maxDepth: number): Stacks {
  if (maxDepth <= 0) return stacks;
  let total = 0;
  let needed = false;
  for (let s = 0; s < sampleCount; s++) {
    const depth = stacks.offsets[s + 1]! - stacks.offsets[s]!;
    if (depth > maxDepth) needed = true;
    total += Math.min(depth, maxDepth);
  }
  if (!needed) return stacks;
  const offsets = new Uint32Array(sampleCount + 1);
  const locations = new Uint32Array(total);
  let n = 0;
  for (let s = 0; s < sampleCount; s++) {
    const start = stacks.offsets[s]!;
    const end = stacks.offsets[s + 1]!;
    // Leaf first: dropping the leaf-most frames means skipping the start of the slice.
    const from = Math.max(start, end - maxDepth);
    locations.set(stacks.locations.subarray(from, end), n);
    n += end - from;
    offsets[s + 1] = n;
  }
  return { offsets, locations };
}

interface SampleGroup {
  /** Sorted series labels (base + string sample labels). */
  labels: Label[];
  samples: number[];
  /** Per sample of `samples`: span id (0n = none) and trace id ("" = none). */
  spanIds: bigint[];
  traceIds: string[];
  hasSpans: boolean;
  hasTraces: boolean;
}

/** Span ids are 16 hex chars on the wire; shorter hex (leading zeros dropped by some SDKs) parses the same. */
const spanIdPattern = /^[0-9a-fA-F]{1,16}$/;

/** Splits samples by their string labels (wire reference §1.3). */
function groupBySampleLabels(pprof: Pprof, base: Label[], limits: IngestLimits): SampleGroup[] {
  const byKey = new Map<string, SampleGroup>();
  // Samples with the same raw (key, value) index pairs share a group: cache by those indices.
  const byRawKey = new Map<string, { group: SampleGroup; span: bigint; trace: string }>();
  const baseNames = new Set(base.map(([n]) => n));
  const strings = pprof.strings;
  for (let s = 0; s < pprof.sampleCount; s++) {
    const from = pprof.sampleLabelOffsets[s]!;
    const to = pprof.sampleLabelOffsets[s + 1]!;
    let rawKey = "";
    for (let l = from; l < to; l++)
      if (pprof.labelValueStr[l] !== 0) rawKey += `${pprof.labelKeyStr[l]}=${pprof.labelValueStr[l]},`;
    let entry = byRawKey.get(rawKey);
    if (entry === undefined) {
      const extra: Label[] = [];
      let span = 0n;
      let trace = "";
      const seen = new Set<string>();
      for (let l = from; l < to; l++) {
        const valueIdx = pprof.labelValueStr[l]!;
        if (valueIdx === 0) continue; // numeric label or empty value: not a series label
        let name = strings[pprof.labelKeyStr[l]!]!;
        const value = strings[valueIdx]!;
        if (name === "profile_id") name = "span_id"; // legacy name (§1.3)
        if (name === "span_id") {
          if (spanIdPattern.test(value)) span = BigInt(`0x${value}`);
          continue;
        }
        if (name === "trace_id") {
          trace = value;
          continue;
        }
        if (name === "" || baseNames.has(name) || seen.has(name)) continue;
        seen.add(name);
        extra.push([name, value]);
      }
      let labels = sortLabels([...base, ...extra]);
      if (limits.sanitizeLabelNames && extra.length > 0) labels = sanitizeLabelNames(labels);
      const key = labelsKey(labels);
      let group = byKey.get(key);
      if (group === undefined) {
        group = { labels, samples: [], spanIds: [], traceIds: [], hasSpans: false, hasTraces: false };
        byKey.set(key, group);
      }
      entry = { group, span, trace };
      byRawKey.set(rawKey, entry);
    }
    const g = entry.group;
    g.samples.push(s);
    g.spanIds.push(entry.span);
    g.traceIds.push(entry.trace);
    if (entry.span !== 0n) g.hasSpans = true;
    if (entry.trace !== "") g.hasTraces = true;
  }
  return [...byKey.values()];
}

/**
 * For each sample of a group, the position (within the group) of the first sample with the
 * same stack, span id and trace id: samples sharing it are merged. Computed once per group
 * and reused for every sample type.
 */
function canonicalSamples(group: SampleGroup, stacks: Stacks): Int32Array {
  const canon = new Int32Array(group.samples.length);
  const firstByKey = new Map<string, number>();
  for (let i = 0; i < group.samples.length; i++) {
    const s = group.samples[i]!;
    let key = stacks.locations.subarray(stacks.offsets[s]!, stacks.offsets[s + 1]!).join(",");
    if (group.hasSpans) key += `|${group.spanIds[i]}`;
    if (group.hasTraces) key += `|${group.traceIds[i]}`;
    const first = firstByKey.get(key);
    if (first === undefined) {
      firstByKey.set(key, i);
      canon[i] = i;
    } else {
      canon[i] = first;
    }
  }
  return canon;
}

type ProfileSamples = Pick<
  NormalizedProfile,
  "sampleCount" | "stackOffsets" | "stackLocations" | "values" | "spanIds" | "traceIds"
>;

function buildProfile(
  pprof: Pprof,
  t: number,
  group: SampleGroup,
  canon: Int32Array,
  stacks: Stacks,
): ProfileSamples | undefined {
  const nTypes = pprof.sampleTypeStr.length;
  const sums = new Float64Array(group.samples.length);
  for (let i = 0; i < group.samples.length; i++)
    sums[canon[i]!]! += pprof.sampleValues[group.samples[i]! * nTypes + t]!;
  let count = 0;
  let nLocations = 0;
  for (let i = 0; i < sums.length; i++) {
    // Zero values are dropped after merging, so merged samples that cancel out go too.
    if (canon[i] !== i || sums[i] === 0) continue;
    const s = group.samples[i]!;
    count++;
    nLocations += stacks.offsets[s + 1]! - stacks.offsets[s]!;
  }
  if (count === 0) return undefined;
  const stackOffsets = new Uint32Array(count + 1);
  const stackLocations = new Uint32Array(nLocations);
  const values = new Float64Array(count);
  const spanIds = group.hasSpans ? new BigUint64Array(count) : undefined;
  const traceIds = group.hasTraces ? new Array<string>(count) : undefined;
  let k = 0;
  let n = 0;
  for (let i = 0; i < sums.length; i++) {
    if (canon[i] !== i || sums[i] === 0) continue;
    const s = group.samples[i]!;
    const stack = stacks.locations.subarray(stacks.offsets[s]!, stacks.offsets[s + 1]!);
    stackLocations.set(stack, n);
    n += stack.length;
    stackOffsets[k + 1] = n;
    values[k] = sums[i]!;
    if (spanIds) spanIds[k] = group.spanIds[i]!;
    if (traceIds) traceIds[k] = group.traceIds[i]!;
    k++;
  }
  const result: ProfileSamples = { sampleCount: count, stackOffsets, stackLocations, values };
  if (spanIds) result.spanIds = spanIds;
  if (traceIds) result.traceIds = traceIds;
  return result;
}

/** Adds the private labels of wire reference §6.1/§6.2 and returns the sorted set. */
function withPrivateLabels(labels: Label[], type: ProfileType, hasPeriodType: boolean): Label[] {
  const out: Label[] = [...labels];
  out.push(
    [LabelName.profileType, profileTypeId(type)],
    [LabelName.type, type.sampleType],
    [LabelName.unit, type.sampleUnit],
  );
  if (hasPeriodType)
    out.push([LabelName.periodType, type.periodType], [LabelName.periodUnit, type.periodUnit]);
  out.push([LabelName.serviceNamePrivate, getLabel(labels, LabelName.serviceName) ?? unknownServiceName]);
  return sortLabels(out);
}
