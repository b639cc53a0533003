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
  // As Pyroscope's distributor: pprof.FixGoProfile runs the repair once when the depths call for
  // it, with today's rules (the defaults). Its golden fixture was made differently (two passes,
  // an older rule); go-truncation.test.ts reproduces that with options.
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
    const profiles = buildGroupProfiles(pprof, group, canonical, stacks);
    for (let t = 0; t < pprof.sampleTypeStr.length; t++) {
      const profile = profiles[t];
      if (profile === undefined) continue;
      const profileType: ProfileType = {
        name: getLabel(group.labels, LabelName.metricName) ?? "",
        sampleType: symbols.strings[pprof.sampleTypeStr[t]!] ?? "",
        sampleUnit: symbols.strings[pprof.sampleUnitStr[t]!] ?? "",
        periodType: pprof.hasPeriodType ? (symbols.strings[pprof.periodTypeStr] ?? "") : "",
        periodUnit: pprof.hasPeriodType ? (symbols.strings[pprof.periodUnitStr] ?? "") : "",
      };
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
  /** The group's samples, ascending. */
  samples: Int32Array;
  /** Per sample of `samples`: index of its (span id, trace id) pair in `pairSpans`/`pairTraces`. */
  pairs: Int32Array;
  /** Distinct (span id, trace id) pairs of the group: 0n = no span, "" = no trace. */
  pairSpans: bigint[];
  pairTraces: string[];
  hasSpans: boolean;
  hasTraces: boolean;
}

/** Samples with the same series-label list (same raw key/value indices, in order). */
interface RawLabelClass {
  group: number;
  /** The group's pair index of (no span, no trace). */
  plainPair: number;
  /** A sample of the class, to compare label lists against. */
  sample: number;
  hash: number;
}

/** Span ids are 16 hex chars on the wire; shorter hex (leading zeros dropped by some SDKs) parses the same. */
const spanIdPattern = /^[0-9a-fA-F]{1,16}$/;

/** What a sample label key is, by its name (profile_id is the legacy name of span_id, §1.3). */
const KeyKind = { unknown: 0, series: 1, span: 2, trace: 3 } as const;

function keyKindOf(name: string): number {
  if (name === "span_id" || name === "profile_id") return KeyKind.span;
  if (name === "trace_id") return KeyKind.trace;
  return KeyKind.series;
}

/**
 * Same series labels (value index != 0, key neither span nor trace id), in the same order, on
 * samples a and b.
 */
function sameSeriesLabels(pprof: Pprof, kinds: Uint8Array, a: number, b: number): boolean {
  const keys = pprof.labelKeyStr;
  const vals = pprof.labelValueStr;
  let i = pprof.sampleLabelOffsets[a]!;
  const iEnd = pprof.sampleLabelOffsets[a + 1]!;
  let j = pprof.sampleLabelOffsets[b]!;
  const jEnd = pprof.sampleLabelOffsets[b + 1]!;
  for (;;) {
    while (i < iEnd && (vals[i] === 0 || kinds[keys[i]!] !== KeyKind.series)) i++;
    while (j < jEnd && (vals[j] === 0 || kinds[keys[j]!] !== KeyKind.series)) j++;
    if (i === iEnd || j === jEnd) return i === iEnd && j === jEnd;
    if (keys[i] !== keys[j] || vals[i] !== vals[j]) return false;
    i++;
    j++;
  }
}

/**
 * Splits samples by their string labels (wire reference §1.3). Samples whose series labels
 * (string labels other than span and trace ids) have the same (key, value) indices in the same
 * order share a group; they are found by a hash of those indices, so labels are resolved once
 * per distinct list. Span and trace ids are resolved once per distinct value string, and each
 * group interns its distinct (span id, trace id) pairs.
 */
function groupBySampleLabels(pprof: Pprof, base: Label[], limits: IngestLimits): SampleGroup[] {
  const byKey = new Map<string, number>();
  const groups: SampleGroup[] = [];
  const classes: RawLabelClass[] = [];
  const baseNames = new Set(base.map(([n]) => n));
  const strings = pprof.strings;
  const n = pprof.sampleCount;
  const labelOffsets = pprof.sampleLabelOffsets;
  const keys = pprof.labelKeyStr;
  const vals = pprof.labelValueStr;
  const sampleGroup = new Int32Array(n);
  const samplePair = new Int32Array(n);
  /** Label key index → KeyKind, filled on first sight; allocated once a string label shows up. */
  let kinds: Uint8Array | undefined;
  let noLabelsClass = -1;
  let slots: Int32Array | undefined; // class + 1; 0 = empty
  let mask = 0;

  // Span and trace ids, interned by value (0 = none): value string index → id number.
  const spanOfValue = new Map<number, number>();
  const spanNumber = new Map<bigint, number>([[0n, 0]]);
  const spanValues: bigint[] = [0n];
  const traceOfValue = new Map<number, number>();
  const traceNumber = new Map<string, number>([["", 0]]);
  const traceValues: string[] = [""];
  /**
   * Per group: span number * traceRadix + trace number → the group's pair index (both numbers
   * are at most the label count; a text key past 2^53).
   */
  const pairIndex: Map<number | string, number>[] = [];
  const traceRadix = vals.length + 1;
  const numericPairKeys = traceRadix * traceRadix <= Number.MAX_SAFE_INTEGER;

  const pairOf = (g: number, span: number, trace: number): number => {
    const key = numericPairKeys ? span * traceRadix + trace : `${span},${trace}`;
    let pair = pairIndex[g]!.get(key);
    if (pair === undefined) {
      const group = groups[g]!;
      pair = group.pairSpans.length;
      group.pairSpans.push(spanValues[span]!);
      group.pairTraces.push(traceValues[trace]!);
      if (span !== 0) group.hasSpans = true;
      if (trace !== 0) group.hasTraces = true;
      pairIndex[g]!.set(key, pair);
    }
    return pair;
  };

  const newClass = (s: number, hash: number): number => {
    const from = labelOffsets[s]!;
    const to = labelOffsets[s + 1]!;
    const extra: Label[] = [];
    const seen = new Set<string>();
    for (let l = from; l < to; l++) {
      const valueIdx = vals[l]!;
      if (valueIdx === 0) continue; // numeric label or empty value: not a series label
      if (kinds![keys[l]!] !== KeyKind.series) continue;
      const name = strings[keys[l]!]!;
      if (name === "" || baseNames.has(name) || seen.has(name)) continue;
      seen.add(name);
      extra.push([name, strings[valueIdx]!]);
    }
    let labels = sortLabels([...base, ...extra]);
    if (limits.sanitizeLabelNames && extra.length > 0) labels = sanitizeLabelNames(labels);
    const key = labelsKey(labels);
    let g = byKey.get(key);
    if (g === undefined) {
      g = groups.length;
      groups.push({
        labels,
        samples: new Int32Array(0),
        pairs: new Int32Array(0),
        pairSpans: [],
        pairTraces: [],
        hasSpans: false,
        hasTraces: false,
      });
      pairIndex.push(new Map());
      byKey.set(key, g);
    }
    classes.push({ group: g, plainPair: -1, sample: s, hash });
    return classes.length - 1;
  };

  for (let s = 0; s < n; s++) {
    const from = labelOffsets[s]!;
    const to = labelOffsets[s + 1]!;
    let h = 0;
    let count = 0;
    let span = -1; // span number, -1 = no valid span_id label
    let trace = -1;
    for (let l = from; l < to; l++) {
      const v = vals[l]!;
      if (v === 0) continue;
      const k = keys[l]!;
      kinds ??= new Uint8Array(strings.length);
      let kind = kinds[k]!;
      if (kind === KeyKind.unknown) {
        kind = keyKindOf(strings[k]!);
        kinds[k] = kind;
      }
      if (kind === KeyKind.span) {
        // The last valid span_id wins; invalid ones are ignored.
        let number = spanOfValue.get(v);
        if (number === undefined) {
          const value = strings[v]!;
          number = -1;
          if (spanIdPattern.test(value)) {
            const id = BigInt(`0x${value}`);
            number = spanNumber.get(id) ?? -1;
            if (number < 0) {
              number = spanValues.length;
              spanValues.push(id);
              spanNumber.set(id, number);
            }
          }
          spanOfValue.set(v, number);
        }
        if (number >= 0) span = number;
        continue;
      }
      if (kind === KeyKind.trace) {
        let number = traceOfValue.get(v);
        if (number === undefined) {
          const value = strings[v]!;
          number = traceNumber.get(value);
          if (number === undefined) {
            number = traceValues.length;
            traceValues.push(value);
            traceNumber.set(value, number);
          }
          traceOfValue.set(v, number);
        }
        trace = number;
        continue;
      }
      h = Math.imul((h << 5) | (h >>> 27), 0x9e3779b1) ^ k;
      h = Math.imul((h << 5) | (h >>> 27), 0x9e3779b1) ^ v;
      count++;
    }
    let c: number;
    if (count === 0) {
      if (noLabelsClass < 0) noLabelsClass = newClass(s, 0);
      c = noLabelsClass;
    } else {
      h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
      h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
      h = (h ^ (h >>> 16)) >>> 0;
      if (slots === undefined || 2 * classes.length >= slots.length) {
        // (Re)build the table at four times the class count, at least 64 slots.
        let size = 64;
        while (size < 4 * (classes.length + 1)) size *= 2;
        slots = new Int32Array(size);
        mask = size - 1;
        for (let k = 0; k < classes.length; k++) {
          if (k === noLabelsClass) continue;
          let slot = classes[k]!.hash & mask;
          while (slots[slot] !== 0) slot = (slot + 1) & mask;
          slots[slot] = k + 1;
        }
      }
      let slot = h & mask;
      c = -1;
      for (;;) {
        const entry = slots[slot]!;
        if (entry === 0) break;
        const cls = classes[entry - 1]!;
        if (cls.hash === h && sameSeriesLabels(pprof, kinds!, cls.sample, s)) {
          c = entry - 1;
          break;
        }
        slot = (slot + 1) & mask;
      }
      if (c < 0) {
        c = newClass(s, h);
        slots[slot] = c + 1;
      }
    }
    const cls = classes[c]!;
    sampleGroup[s] = cls.group;
    if (span <= 0 && trace <= 0) {
      if (cls.plainPair < 0) cls.plainPair = pairOf(cls.group, 0, 0);
      samplePair[s] = cls.plainPair;
    } else {
      samplePair[s] = pairOf(cls.group, Math.max(span, 0), Math.max(trace, 0));
    }
  }

  // Lay the samples out per group, in sample order.
  const sizes = new Int32Array(groups.length);
  for (let s = 0; s < n; s++) sizes[sampleGroup[s]!]!++;
  for (let g = 0; g < groups.length; g++) {
    groups[g]!.samples = new Int32Array(sizes[g]!);
    groups[g]!.pairs = new Int32Array(sizes[g]!);
  }
  const fill = new Int32Array(groups.length);
  for (let s = 0; s < n; s++) {
    const g = sampleGroup[s]!;
    const group = groups[g]!;
    const at = fill[g]!++;
    group.samples[at] = s;
    group.pairs[at] = samplePair[s]!;
  }
  return groups;
}

/**
 * For each sample of a group, the position (within the group) of the first sample with the
 * same stack, span id and trace id: samples sharing it are merged. Computed once per group
 * and reused for every sample type. Undefined when no two samples share one (the usual case).
 * Stacks are hashed over their location indices into an open-addressing table; a hit is
 * confirmed by comparing the stacks themselves.
 */
function canonicalSamples(group: SampleGroup, stacks: Stacks): Int32Array | undefined {
  const { offsets, locations } = stacks;
  const samples = group.samples;
  const pairs = group.pairs;
  const count = samples.length;
  let size = 16;
  while (size < 2 * count) size *= 2;
  const mask = size - 1;
  const slots = new Int32Array(size); // position + 1; 0 = empty
  const slotHash = new Int32Array(size);
  let canon: Int32Array | undefined;
  for (let i = 0; i < count; i++) {
    const s = samples[i]!;
    const from = offsets[s]!;
    const to = offsets[s + 1]!;
    const pair = pairs[i]!;
    let h = (to - from) ^ Math.imul(pair, 0x27d4eb2f);
    for (let k = from; k < to; k++) h = Math.imul((h << 5) | (h >>> 27), 0x9e3779b1) ^ locations[k]!;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
    let slot = h & mask;
    let first = -1;
    for (;;) {
      const entry = slots[slot]!;
      if (entry === 0) break;
      if (slotHash[slot] === h) {
        const j = entry - 1;
        const t = samples[j]!;
        const tFrom = offsets[t]!;
        if (pairs[j] === pair && offsets[t + 1]! - tFrom === to - from) {
          let same = true;
          for (let k = 0; k < to - from; k++) {
            if (locations[tFrom + k] !== locations[from + k]) {
              same = false;
              break;
            }
          }
          if (same) {
            first = j;
            break;
          }
        }
      }
      slot = (slot + 1) & mask;
    }
    if (first < 0) {
      slots[slot] = i + 1;
      slotHash[slot] = h;
      if (canon) canon[i] = i;
    } else {
      if (canon === undefined) {
        canon = new Int32Array(count);
        for (let k = 0; k < i; k++) canon[k] = k;
      }
      canon[i] = first;
    }
  }
  return canon;
}

type ProfileSamples = Pick<
  NormalizedProfile,
  "sampleCount" | "stackOffsets" | "stackLocations" | "values" | "spanIds" | "traceIds"
>;

/** The sample columns of one output except its values, shared by outputs keeping the same samples. */
type SharedColumns = Omit<ProfileSamples, "values">;

/**
 * Builds the outputs' sample columns of one group, one per sample type (undefined when a type
 * keeps no sample). Outputs whose kept samples coincide (the usual case: same stacks, non-zero
 * in every type) share the very same stackOffsets, stackLocations, spanIds and traceIds arrays;
 * when a group keeps every sample of the pprof unmerged, those are the `stacks` arrays themselves.
 * None of them is ever mutated.
 */
function buildGroupProfiles(
  pprof: Pprof,
  group: SampleGroup,
  canon: Int32Array | undefined,
  stacks: Stacks,
): (ProfileSamples | undefined)[] {
  const nTypes = pprof.sampleTypeStr.length;
  const samples = group.samples;
  const count = samples.length;
  const allValues = pprof.sampleValues;
  const out: (ProfileSamples | undefined)[] = [];
  const built: { kept: Int32Array; columns: SharedColumns }[] = [];
  const sums = new Float64Array(count);
  const kept = new Int32Array(count);
  for (let t = 0; t < nTypes; t++) {
    if (canon === undefined) {
      for (let i = 0; i < count; i++) sums[i] = allValues[samples[i]! * nTypes + t]!;
    } else {
      sums.fill(0);
      for (let i = 0; i < count; i++) sums[canon[i]!]! += allValues[samples[i]! * nTypes + t]!;
    }
    // Zero values are dropped after merging, so merged samples that cancel out go too.
    let nKept = 0;
    for (let i = 0; i < count; i++) {
      if (sums[i] === 0 || (canon !== undefined && canon[i] !== i)) continue;
      kept[nKept++] = i;
    }
    if (nKept === 0) {
      out.push(undefined);
      continue;
    }
    let columns: SharedColumns | undefined;
    for (const b of built) {
      if (b.kept.length !== nKept) continue;
      let same = true;
      for (let k = 0; k < nKept; k++) {
        if (b.kept[k] !== kept[k]) {
          same = false;
          break;
        }
      }
      if (same) {
        columns = b.columns;
        break;
      }
    }
    if (columns === undefined) {
      const keptCopy = kept.slice(0, nKept);
      columns = sampleColumns(pprof, group, keptCopy, stacks);
      built.push({ kept: keptCopy, columns });
    }
    const values = new Float64Array(nKept);
    for (let k = 0; k < nKept; k++) values[k] = sums[kept[k]!]!;
    out.push({ ...columns, values });
  }
  return out;
}

/** A typed array that owns its whole buffer, so handing it out is like handing out a copy. */
function ownsBuffer(a: Uint32Array): boolean {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength;
}

function sampleColumns(pprof: Pprof, group: SampleGroup, kept: Int32Array, stacks: Stacks): SharedColumns {
  const { offsets, locations } = stacks;
  const samples = group.samples;
  const count = kept.length;
  let stackOffsets: Uint32Array;
  let stackLocations: Uint32Array;
  if (
    count === pprof.sampleCount &&
    offsets.length === count + 1 &&
    offsets[0] === 0 &&
    offsets[count] === locations.length &&
    ownsBuffer(offsets) &&
    ownsBuffer(locations)
  ) {
    // Every sample kept, in order (kept positions and samples are ascending and unique).
    stackOffsets = offsets;
    stackLocations = locations;
  } else {
    stackOffsets = new Uint32Array(count + 1);
    let nLocations = 0;
    for (let k = 0; k < count; k++) {
      const s = samples[kept[k]!]!;
      nLocations += offsets[s + 1]! - offsets[s]!;
      stackOffsets[k + 1] = nLocations;
    }
    stackLocations = new Uint32Array(nLocations);
    let n = 0;
    for (let k = 0; k < count; k++) {
      const s = samples[kept[k]!]!;
      const end = offsets[s + 1]!;
      for (let at = offsets[s]!; at < end; at++) stackLocations[n++] = locations[at]!;
    }
  }
  const result: SharedColumns = { sampleCount: count, stackOffsets, stackLocations };
  if (group.hasSpans) {
    const spanIds = new BigUint64Array(count);
    for (let k = 0; k < count; k++) spanIds[k] = group.pairSpans[group.pairs[kept[k]!]!]!;
    result.spanIds = spanIds;
  }
  if (group.hasTraces) {
    const traceIds = new Array<string>(count);
    for (let k = 0; k < count; k++) traceIds[k] = group.pairTraces[group.pairs[kept[k]!]!]!;
    result.traceIds = traceIds;
  }
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
