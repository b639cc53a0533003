/**
 * Time parameters as Pyroscope reads them (`from`/`until` of /ingest and the render API;
 * wire reference §5.3, upstream `pkg/og/util/attime`):
 *
 * - spaces, `_` and `,` are stripped (after trimming);
 * - digits only: 8 digits forming a valid `YYYYMMDD` (year > 1900) → that date at UTC midnight;
 *   otherwise by digit count 13 → ms, 16 → µs, 19 → ns, any other count → seconds;
 * - anything else: the text before the first `+` (or, if none, the first `-`) is read as
 *   "now" whatever it says, and the rest is an offset `<n><unit>…` with units chosen by
 *   prefix: `s` seconds, `mon`/`M` 30 days, `min`/`m` minutes, `h`, `d`, `w`, `y` 365 days;
 *   an unknown unit counts 0. Unparsable input is not an error: it yields "now".
 *
 * One deliberate difference: upstream only honours the first `<n><unit>` of an offset (its
 * unit scan swallows the rest, so `now-1h30m` is `now-1h` there); Kiln chains them as the
 * wire reference specifies (`now-1h30m` = 90 minutes ago).
 */

const nanosPerMs = 1_000_000n;
const nanosPerSecond = 1_000_000_000n;
/** Go's strconv.Atoi saturates at int64 bounds instead of wrapping; so do we. */
const int64Max = 9_223_372_036_854_775_807n;
/** Bounds the work on hostile offsets such as `now-1s1s1s…` (each pair is O(1) anyway). */
const maxOffsetTerms = 64;

const secondsPerUnitPrefix: ReadonlyArray<readonly [prefix: string, seconds: bigint]> = [
  // Order matters: `s` before `m…`, and `mon`/`M` before `min`/`m` (as upstream checks them).
  ["s", 1n],
  ["mon", 30n * 86_400n],
  ["M", 30n * 86_400n],
  ["min", 60n],
  ["m", 60n],
  ["h", 3_600n],
  ["d", 86_400n],
  ["w", 7n * 86_400n],
  ["y", 365n * 86_400n],
];

/** Parses a time parameter to milliseconds since the epoch (sub-ms precision is dropped). */
export function parseTime(s: string, nowMs: number): number {
  return Number(parseTimeNanos(s, nowMs) / nanosPerMs);
}

/**
 * Parses a time parameter to nanoseconds since the epoch. The Pyroscope Go SDK sends `from`
 * and `until` as 19-digit nanoseconds, which a double cannot hold exactly, hence bigint.
 */
export function parseTimeNanos(s: string, nowMs: number): bigint {
  const text = s.trim().replace(/[_, ]/g, "");
  const nowNanos = BigInt(Math.trunc(nowMs)) * nanosPerMs;
  if (/^\d+$/.test(text)) return parseDigits(text);
  let offsetStart = text.indexOf("+");
  if (offsetStart === -1) offsetStart = text.indexOf("-");
  if (offsetStart === -1) return nowNanos;
  return nowNanos + parseOffsetSeconds(text.slice(offsetStart)) * nanosPerSecond;
}

function parseDigits(digits: string): bigint {
  if (digits.length === 8) {
    const date = parseYyyymmdd(digits);
    if (date !== undefined) return date;
  }
  const value = saturatedInt64(digits);
  switch (digits.length) {
    case 13:
      return value * nanosPerMs;
    case 16:
      return value * 1_000n;
    case 19:
      return value;
    default:
      return value * nanosPerSecond;
  }
}

function parseYyyymmdd(digits: string): bigint | undefined {
  const year = Number(digits.slice(0, 4));
  const month = Number(digits.slice(4, 6));
  const day = Number(digits.slice(6, 8));
  if (year <= 1900 || month < 1 || month > 12 || day < 1) return undefined;
  const ms = Date.UTC(year, month - 1, day);
  // Date.UTC rolls 2023-02-30 over to March; Go's time.Parse rejects it, and then the
  // 8 digits are read as seconds like any other digit string.
  if (new Date(ms).getUTCDate() !== day) return undefined;
  return BigInt(ms) * nanosPerMs;
}

/** `offset` starts with its sign character. */
function parseOffsetSeconds(offset: string): bigint {
  const sign = offset[0] === "-" ? -1n : 1n;
  let rest = offset.slice(1);
  let totalSeconds = 0n;
  for (let term = 0; rest !== "" && term < maxOffsetTerms; term++) {
    const number = /^\d*/.exec(rest)![0];
    rest = rest.slice(number.length);
    const unit = /^\D*/.exec(rest)![0];
    rest = rest.slice(unit.length);
    // The product stays a bigint, so a saturated count cannot overflow.
    const n = number === "" ? 0n : saturatedInt64(number);
    totalSeconds += sign * n * unitSeconds(unit);
  }
  return totalSeconds;
}

/** Go's Atoi saturates out-of-range values; long strings are cut short before BigInt parses them. */
function saturatedInt64(digits: string): bigint {
  const trimmed = digits.replace(/^0+(?=\d)/, "");
  if (trimmed.length > 19) return int64Max;
  const value = BigInt(trimmed);
  return value > int64Max ? int64Max : value;
}

function unitSeconds(unit: string): bigint {
  for (const [prefix, seconds] of secondsPerUnitPrefix) if (unit.startsWith(prefix)) return seconds;
  return 0n;
}

/** Milliseconds of a nanosecond time, rounded down (also before 1970: −0.5 ms → −1). */
export function nanosToMsFloor(nanos: bigint): number {
  const ms = nanos / 1_000_000n;
  return Number(nanos < 0n && ms * 1_000_000n !== nanos ? ms - 1n : ms);
}
