/**
 * Profile timestamp and the accepted ingestion window (wire reference §2.8; Pyroscope's
 * ValidateProfile). Bounds are exclusive, as upstream: a profile exactly at now − 1h is too old.
 */
import { KilnError } from "../../model/errors.ts";
import { formatLabels, type Labels } from "../../model/labels.ts";
import type { IngestLimits } from "./limits.ts";

const nanosPerMs = 1_000_000n;
/** 1971-01-01T00:00:00Z in ns: earlier timestamps are unset or in the wrong unit (py-spy writes ms). */
const endOf1970Nanos = 365n * 86_400n * 1_000_000_000n;

/**
 * The time to store: the pprof's own unless it is unset or in 1970, then `fallbackTimeNanos`
 * (the /ingest `from`) when given, else now for an unset time.
 */
export function profileTimeNanos(
  timeNanos: bigint,
  nowMs: number,
  fallbackTimeNanos: bigint | undefined,
): bigint {
  if (timeNanos > 0n && timeNanos >= endOf1970Nanos) return timeNanos;
  if (fallbackTimeNanos !== undefined && fallbackTimeNanos > 0n) return fallbackTimeNanos;
  if (timeNanos <= 0n) return BigInt(Math.trunc(nowMs)) * nanosPerMs;
  return timeNanos;
}

export function checkTimeWindow(
  timeNanos: bigint,
  nowMs: number,
  limits: IngestLimits,
  labels: Labels,
): void {
  const now = BigInt(Math.trunc(nowMs)) * nanosPerMs;
  const at = () => new Date(Number(timeNanos / nanosPerMs)).toISOString();
  if (limits.rejectOlderThanMs > 0) {
    const from = now - BigInt(limits.rejectOlderThanMs) * nanosPerMs;
    if (timeNanos <= from) {
      throw new KilnError(
        "invalid_argument",
        "profile_too_old",
        `profile with labels ${formatLabels(labels)} has timestamp ${at()}, older than ${limits.rejectOlderThanMs} ms before now (reject_older_than_ms)`,
      );
    }
  }
  if (limits.creationGracePeriodMs > 0) {
    const to = now + BigInt(limits.creationGracePeriodMs) * nanosPerMs;
    if (timeNanos >= to) {
      throw new KilnError(
        "invalid_argument",
        "profile_too_new",
        `profile with labels ${formatLabels(labels)} has timestamp ${at()}, more than ${limits.creationGracePeriodMs} ms after now (creation_grace_period_ms)`,
      );
    }
  }
}
