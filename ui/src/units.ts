/**
 * Value formatting for profile sample units, shared by the flame graph, tables and charts.
 */

const TIME_UNITS_NS: [number, string][] = [
  [86_400e9, "d"],
  [3_600e9, "h"],
  [60e9, "min"],
  [1e9, "s"],
  [1e6, "ms"],
  [1e3, "µs"],
  [1, "ns"],
];

const NANOSECONDS_PER: Record<string, number> = {
  nanoseconds: 1,
  nanosecond: 1,
  ns: 1,
  lock_nanoseconds: 1,
  microseconds: 1e3,
  microsecond: 1e3,
  us: 1e3,
  milliseconds: 1e6,
  millisecond: 1e6,
  ms: 1e6,
  seconds: 1e9,
  second: 1e9,
  s: 1e9,
};

const BYTE_UNITS: [number, string][] = [
  [1024 ** 4, "TiB"],
  [1024 ** 3, "GiB"],
  [1024 ** 2, "MiB"],
  [1024, "KiB"],
];

const COUNT_SUFFIXES: [number, string][] = [
  [1e12, "T"],
  [1e9, "G"],
  [1e6, "M"],
  [1e3, "k"],
];

/** Up to 3 significant digits, trailing zeros dropped ("1.5", "12.3", "123"). */
function short(value: number): string {
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return String(Number(value.toFixed(digits)));
}

export function formatNumber(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

/** A value in a profile's sample unit, scaled to a readable magnitude ("1.5 s", "12 MiB"). */
export function formatValue(value: number, unit: string): string {
  if (!Number.isFinite(value)) return String(value);
  const lower = unit.toLowerCase();
  const nsPer = NANOSECONDS_PER[lower];
  const sign = value < 0 ? "-" : "";
  const abs = Math.abs(value);
  if (nsPer !== undefined) {
    const ns = abs * nsPer;
    if (ns === 0) return "0 s";
    for (const [size, suffix] of TIME_UNITS_NS) if (ns >= size) return `${sign}${short(ns / size)} ${suffix}`;
    return `${sign}${short(ns)} ns`;
  }
  if (lower === "bytes" || lower === "byte") {
    for (const [size, suffix] of BYTE_UNITS) if (abs >= size) return `${sign}${short(abs / size)} ${suffix}`;
    return `${sign}${formatNumber(abs)} B`;
  }
  if (["count", "samples", "objects", "goroutines", "lock_samples", "calls", ""].includes(lower)) {
    for (const [size, suffix] of COUNT_SUFFIXES)
      if (abs >= size) return `${sign}${short(abs / size)}${suffix}`;
    return `${sign}${formatNumber(abs)}`;
  }
  return `${sign}${formatNumber(abs)}`;
}

/** A fraction as a percentage ("12.5%", "0.03%", "<0.01%"). */
export function formatPercent(fraction: number): string {
  if (!Number.isFinite(fraction)) return fraction > 0 ? "new" : fraction < 0 ? "gone" : "–";
  const percent = fraction * 100;
  const abs = Math.abs(percent);
  if (abs === 0) return "0%";
  if (abs < 0.01) return percent < 0 ? ">-0.01%" : "<0.01%";
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return `${Number(percent.toFixed(digits))}%`;
}

/** A relative change: "+25%", "−50%", "new", "removed". */
export function formatChange(change: number): string {
  if (change === Number.POSITIVE_INFINITY) return "new";
  if (change === -1) return "removed";
  if (change === 0) return "no change";
  return `${change > 0 ? "+" : "−"}${formatPercent(Math.abs(change))}`;
}

/** A change in share, in percentage points: "+1.2 pp". */
export function formatPoints(delta: number): string {
  const points = delta * 100;
  if (points === 0) return "±0 pp";
  const abs = Math.abs(points);
  const digits = abs >= 10 ? 1 : abs >= 0.1 ? 2 : 3;
  return `${points > 0 ? "+" : "−"}${abs.toFixed(digits)} pp`;
}
