/**
 * Time ranges as the URL holds them: `from`/`until` are either relative to now (`now`,
 * `now-1h`, `now-30m`) or absolute epoch milliseconds, so a link to "the last hour" stays
 * the last hour while a zoomed range stays exactly that range.
 */

export interface TimeRangeSpec {
  from: string;
  until: string;
}

export interface ResolvedRange {
  startMs: number;
  endMs: number;
}

export const DEFAULT_RANGE: TimeRangeSpec = { from: "now-1h", until: "now" };

export const RELATIVE_RANGES: readonly { label: string; from: string }[] = [
  { label: "Last 5 minutes", from: "now-5m" },
  { label: "Last 15 minutes", from: "now-15m" },
  { label: "Last 1 hour", from: "now-1h" },
  { label: "Last 6 hours", from: "now-6h" },
  { label: "Last 24 hours", from: "now-24h" },
  { label: "Last 7 days", from: "now-7d" },
  { label: "Last 30 days", from: "now-30d" },
];

const UNIT_MS: Readonly<Record<string, number>> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Milliseconds for a spec, or undefined when it is not one. */
export function parseTimeSpec(spec: string, nowMs: number): number | undefined {
  const text = spec.trim();
  if (text === "now") return nowMs;
  const relative = /^now-(\d+)([smhdw])$/.exec(text);
  if (relative !== null) return nowMs - Number(relative[1]) * UNIT_MS[relative[2]!]!;
  if (/^\d{1,16}$/.test(text)) return Number(text);
  return undefined;
}

export function isValidRange(spec: TimeRangeSpec, nowMs: number): boolean {
  const start = parseTimeSpec(spec.from, nowMs);
  const end = parseTimeSpec(spec.until, nowMs);
  return start !== undefined && end !== undefined && start < end;
}

/** The range in ms; an invalid spec falls back to the default range. */
export function resolveRange(spec: TimeRangeSpec, nowMs: number): ResolvedRange {
  const start = parseTimeSpec(spec.from, nowMs);
  const end = parseTimeSpec(spec.until, nowMs);
  if (start === undefined || end === undefined || start >= end) return resolveRange(DEFAULT_RANGE, nowMs);
  return { startMs: start, endMs: end };
}

/** An absolute spec for a range (after a zoom, or for the comparison's left side). */
export function absoluteSpec(range: ResolvedRange): TimeRangeSpec {
  return { from: String(Math.round(range.startMs)), until: String(Math.round(range.endMs)) };
}

/** The range of the same width right before this one. */
export function previousRange(range: ResolvedRange): ResolvedRange {
  const widthMs = range.endMs - range.startMs;
  return { startMs: range.startMs - widthMs, endMs: range.startMs };
}

/** "Last 1 hour" for a preset, else the two instants in the user's locale. */
export function describeRange(spec: TimeRangeSpec, nowMs: number): string {
  if (spec.until === "now") {
    const preset = RELATIVE_RANGES.find((r) => r.from === spec.from);
    if (preset !== undefined) return preset.label;
    if (spec.from.startsWith("now-")) return `Last ${spec.from.slice(4)}`;
  }
  const range = resolveRange(spec, nowMs);
  return `${formatInstant(range.startMs)} → ${formatInstant(range.endMs)}`;
}

export function formatInstant(ms: number): string {
  return new Date(ms).toLocaleString(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

/** Steps a chart snaps to, seconds: readable and aligned with the server's buckets. */
const NICE_STEPS_SECONDS = [10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

/**
 * The SelectSeries step for a range: about `targetPoints` points (a point per few pixels of
 * a typical chart), rounded up to a nice step, at least 10 s (the usual push interval).
 */
export function chooseStepSeconds(range: ResolvedRange, targetPoints = 240): number {
  const rawSeconds = (range.endMs - range.startMs) / 1000 / targetPoints;
  return NICE_STEPS_SECONDS.find((step) => step >= rawSeconds) ?? NICE_STEPS_SECONDS.at(-1)!;
}

/** `datetime-local` input value (local time, minutes) ⇄ epoch ms. */
export function toDateTimeLocal(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function fromDateTimeLocal(value: string): number | undefined {
  if (value === "") return undefined;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}

/** Milliseconds before now of a `now` / `now-N<unit>` spec, or undefined for absolute specs. */
function offsetBeforeNowMs(spec: string): number | undefined {
  if (spec.trim() === "now") return 0;
  const relative = /^now-(\d+)([smhdw])$/.exec(spec.trim());
  return relative === null ? undefined : Number(relative[1]) * UNIT_MS[relative[2]!]!;
}

function relativeSpecOf(offsetMs: number): string {
  if (offsetMs === 0) return "now";
  for (const unit of ["w", "d", "h", "m", "s"]) {
    const unitMs = UNIT_MS[unit]!;
    if (offsetMs % unitMs === 0) return `now-${offsetMs / unitMs}${unit}`;
  }
  return `now-${Math.round(offsetMs / 1000)}s`;
}

/**
 * The spec of the same-width range right before this one: relative stays relative (the last
 * hour → the hour before it), absolute stays absolute.
 */
export function previousSpec(spec: TimeRangeSpec, nowMs: number): TimeRangeSpec {
  const fromOffset = offsetBeforeNowMs(spec.from);
  const untilOffset = offsetBeforeNowMs(spec.until);
  if (fromOffset !== undefined && untilOffset !== undefined && fromOffset > untilOffset) {
    return { from: relativeSpecOf(2 * fromOffset - untilOffset), until: relativeSpecOf(fromOffset) };
  }
  return absoluteSpec(previousRange(resolveRange(spec, nowMs)));
}
