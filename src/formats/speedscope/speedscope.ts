/**
 * speedscope JSON (`/ingest?format=speedscope`, wire reference §2.4.7) → one `FrameStacks`
 * per merged profile, then one pprof each, as Pyroscope's speedscope converter does:
 * - `$schema` must be `https://www.speedscope.app/file-format-schema.json`;
 * - profiles of type `evented` (`O`/`C` events: the time between two events is added to the
 *   stack open during it) or `sampled` (`samples[i]` root-first frame indexes, `weights[i]`);
 * - units `none`, `nanoseconds`, `microseconds`, `milliseconds`, `seconds`, `bytes`; time
 *   values (and `none`) are multiplied by 100 to keep precision, bytes are kept as they are;
 * - profiles with equal (name, type, unit, startValue) are merged (endValue is ignored);
 * - every profile gets label `profile_name`; when more than one (merged) profile remains,
 *   its app name becomes `<name>.<unit>` so the suffix rule (§2.6) maps time units → `wall`
 *   and `bytes` → `memory`;
 * - a `sampleRate` left at its default 100 is replaced per unit: ns → 1e11, µs → 1e8,
 *   ms → 1e5, s → 100, none → 10000, bytes → 0 (no period). With the ×100, a `process_cpu`
 *   or `wall` profile then stores real nanoseconds (`none` counts as 1/100 s per unit).
 * Kiln differences, all stricter or more exact than upstream:
 * - an evented profile that ends with frames still open is rejected (speedscope itself
 *   refuses such a trace; upstream Pyroscope silently drops the open time);
 * - frame indexes must be integers within `shared.frames` (upstream truncates floats and
 *   is off by one on sampled profiles), weights and times must be finite;
 * - fractional values are multiplied before rounding (upstream truncates first), and
 *   nanosecond profiles are converted exactly (upstream's uint32 rate overflows);
 * - frames keep their `file` as the pprof function filename.
 * Every failure is a KilnError invalid_argument "malformed_speedscope".
 */
import { KilnError } from "../../model/errors.ts";
import type { Pprof } from "../../model/pprof.ts";
import { suffixProfileType } from "../text/text-pprof.ts";
import { FrameStacks, frameStacksToPprof } from "./frame-stacks.ts";

export const speedscopeSchema = "https://www.speedscope.app/file-format-schema.json";

export type SpeedscopeUnit = "none" | "nanoseconds" | "microseconds" | "milliseconds" | "seconds" | "bytes";

/** Default sample rate (Hz) per unit, used when the request left `sampleRate` at 100. */
const defaultRateOfUnit: Readonly<Record<SpeedscopeUnit, number>> = {
  nanoseconds: 100 * 1e9,
  microseconds: 100 * 1e6,
  milliseconds: 100 * 1e3,
  seconds: 100,
  none: 100 * 100,
  bytes: 0,
};

const precisionOfUnit: Readonly<Record<SpeedscopeUnit, number>> = {
  nanoseconds: 100,
  microseconds: 100,
  milliseconds: 100,
  seconds: 100,
  none: 100,
  bytes: 1,
};

export interface SpeedscopeLimits {
  /** Body size cap (max_profile_size_bytes). */
  maxDecodedBytes: number;
  maxDistinctStacks: number;
  maxStackDepth: number;
}

/** One profile after merging: its stacks hold values already multiplied (×100 or ×1). */
export interface SpeedscopeProfile {
  name: string;
  type: "evented" | "sampled";
  unit: SpeedscopeUnit;
  startValue: number;
  stacks: FrameStacks;
}

export function parseSpeedscope(body: Uint8Array, limits: SpeedscopeLimits): SpeedscopeProfile[] {
  if (body.length > limits.maxDecodedBytes) {
    throw new KilnError(
      "invalid_argument",
      "profile_too_large",
      `speedscope profile of ${body.length} bytes exceeds ${limits.maxDecodedBytes} bytes (max_profile_size_bytes)`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch (err) {
    throw bad(`not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!isObject(json)) throw bad("want a JSON object");
  if (json.$schema !== speedscopeSchema) {
    throw bad(`unknown schema ${JSON.stringify(json.$schema ?? null)}, want ${speedscopeSchema}`);
  }
  const shared = optional(json.shared, isObject, "shared", {});
  const rawFrames = optional(shared.frames, Array.isArray, "shared.frames", []);
  const frames = rawFrames.map((f, i) => {
    if (!isObject(f)) throw bad(`shared.frames[${i}]: want an object`);
    return {
      name: optional(f.name, isString, `shared.frames[${i}].name`, ""),
      file: optional(f.file, isString, `shared.frames[${i}].file`, ""),
    };
  });
  const rawProfiles = optional(json.profiles, Array.isArray, "profiles", []);
  const merged = new Map<string, SpeedscopeProfile>();
  rawProfiles.forEach((raw, p) => {
    const where = `profiles[${p}]`;
    if (!isObject(raw)) throw bad(`${where}: want an object`);
    const type = raw.type;
    if (type !== "evented" && type !== "sampled") {
      throw bad(`${where}: profile type ${JSON.stringify(type ?? null)} not supported`);
    }
    const unit = raw.unit;
    if (typeof unit !== "string" || !Object.hasOwn(defaultRateOfUnit, unit)) {
      throw bad(`${where}: unknown unit ${JSON.stringify(unit ?? null)}`);
    }
    const name = optional(raw.name, isString, `${where}.name`, "");
    const startValue = optional(raw.startValue, isFiniteNumber, `${where}.startValue`, 0);
    const key = JSON.stringify([name, type, unit, startValue]);
    let profile = merged.get(key);
    if (!profile) {
      profile = {
        name,
        type,
        unit: unit as SpeedscopeUnit,
        startValue,
        stacks: new FrameStacks(limits),
      };
      merged.set(key, profile);
    }
    const precision = precisionOfUnit[profile.unit];
    const frameIds = frames.map(() => -1);
    const frameId = (index: unknown, at: string): number => {
      if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= frames.length) {
        throw bad(`${at}: invalid frame ${JSON.stringify(index ?? null)} (${frames.length} frames)`);
      }
      let id = frameIds[index]!;
      if (id === -1) {
        const f = frames[index]!;
        id = profile.stacks.frame(f.name, f.file);
        frameIds[index] = id;
      }
      return id;
    };
    if (type === "evented") addEvented(raw, where, startValue, precision, profile.stacks, frameId);
    else addSampled(raw, where, precision, profile.stacks, frameId);
  });
  return [...merged.values()];
}

function addEvented(
  raw: Record<string, unknown>,
  where: string,
  startValue: number,
  precision: number,
  stacks: FrameStacks,
  frameId: (index: unknown, at: string) => number,
): void {
  const events = optional(raw.events, Array.isArray, `${where}.events`, []);
  const open: number[] = [];
  const nodes: number[] = [0];
  let last = startValue;
  for (let e = 0; e < events.length; e++) {
    const ev = events[e];
    const at = `${where}.events[${e}]`;
    if (!isObject(ev)) throw bad(`${at}: want an object`);
    const time = ev.at;
    if (!isFiniteNumber(time)) throw bad(`${at}.at: want a number`);
    if (time < last) throw bad(`${at}: events out of order, ${time} < ${last}`);
    const frame = frameId(ev.frame, `${at}.frame`);
    const node = nodes[nodes.length - 1]!;
    if (ev.type === "O") {
      stacks.add(node, (time - last) * precision);
      open.push(frame);
      nodes.push(stacks.child(node, frame));
    } else if (ev.type === "C") {
      if (open.length === 0) throw bad(`${at}: no open frame to close at ${time}`);
      if (open[open.length - 1] !== frame)
        throw bad(`${at}: closing frame ${String(ev.frame)}, which is not the innermost open frame`);
      stacks.add(node, (time - last) * precision);
      open.pop();
      nodes.pop();
    } else {
      throw bad(`${at}: unknown event type ${JSON.stringify(ev.type ?? null)}`);
    }
    last = time;
  }
  if (open.length > 0) {
    throw bad(`${where}: evented profile ends with ${open.length} frame(s) still open (incomplete trace)`);
  }
}

function addSampled(
  raw: Record<string, unknown>,
  where: string,
  precision: number,
  stacks: FrameStacks,
  frameId: (index: unknown, at: string) => number,
): void {
  const samples = optional(raw.samples, Array.isArray, `${where}.samples`, []);
  const weights = optional(raw.weights, Array.isArray, `${where}.weights`, []);
  if (samples.length !== weights.length) {
    throw bad(`${where}: unequal lengths of samples and weights: ${samples.length} != ${weights.length}`);
  }
  for (let s = 0; s < samples.length; s++) {
    const sample = samples[s];
    const at = `${where}.samples[${s}]`;
    if (!Array.isArray(sample)) throw bad(`${at}: want an array of frame indexes`);
    const weight = weights[s];
    if (!isFiniteNumber(weight) || weight < 0) {
      throw bad(`${where}.weights[${s}]: want a non-negative number, got ${JSON.stringify(weight ?? null)}`);
    }
    let node = 0;
    for (let f = 0; f < sample.length; f++) node = stacks.child(node, frameId(sample[f], `${at}[${f}]`));
    stacks.add(node, weight * precision);
  }
}

export interface SpeedscopeOutput {
  pprof: Pprof;
  /** The app name this profile is stored under (suffixed with the unit when several). */
  appName: string;
  serviceName: string;
  metricName: string;
  profileName: string;
}

export interface SpeedscopeConvertInput {
  /** `name`'s app name (with its profile-type suffix, if any). */
  appName: string;
  /** The request's `sampleRate` (100 when not given). */
  sampleRate: number;
  timeNanos: bigint;
}

/**
 * Merged profiles → pprofs (profiles without any value are left out). Throws the suffix
 * rule's KilnError for an unknown suffix.
 */
export function speedscopeToPprofs(
  profiles: SpeedscopeProfile[],
  input: SpeedscopeConvertInput,
): SpeedscopeOutput[] {
  const out: SpeedscopeOutput[] = [];
  const multi = profiles.length > 1;
  for (const profile of profiles) {
    const appName = multi ? `${input.appName}.${profile.unit}` : input.appName;
    const type = suffixProfileType(appName);
    if (profile.stacks.stackCount === 0) continue;
    // Upstream cannot tell "not given" from 100 either (pyroscope-io/pyroscope#1598).
    const sampleRate = input.sampleRate === 100 ? defaultRateOfUnit[profile.unit] : input.sampleRate;
    const pprof = frameStacksToPprof(profile.stacks, { type, sampleRate, timeNanos: input.timeNanos });
    if (pprof.sampleCount === 0) continue;
    out.push({
      pprof,
      appName,
      serviceName: type.serviceName,
      metricName: type.metricName,
      profileName: profile.name,
    });
  }
  return out;
}

function bad(message: string): KilnError {
  return new KilnError("invalid_argument", "malformed_speedscope", `speedscope: ${message}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isString(v: unknown): v is string {
  return typeof v === "string";
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

/** A field that may be absent or null (→ `fallback`, as Go's decoder), else must pass `check`. */
function optional<T>(v: unknown, check: (v: unknown) => v is T, what: string, fallback: T): T;
function optional(v: unknown, check: (v: unknown) => boolean, what: string, fallback: unknown): unknown {
  if (v === undefined || v === null) return fallback;
  if (!check(v)) throw bad(`${what}: wrong JSON type`);
  return v;
}
