/**
 * Per-query guard rails (Kiln's answer to Pyroscope's 24-hour query cap): a wall-clock timeout,
 * cancellation when the caller goes away, a bound on the block-section bytes a query reads
 * and a bound on the memory it holds. One `QueryBudget` lives for one engine call.
 *
 * - Time: the caller's AbortSignal (Connect's HandlerContext.signal covers client disconnect
 *   and Connect-Timeout-Ms; the render API aborts on connection close) is combined with
 *   `timeoutMs`. `check()` is called between datasets and sections; it throws
 *   `deadline_exceeded` for the timeout, the caller's own error (a ConnectError or KilnError
 *   reason) when it has one, else `canceled`.
 * - Bytes read: the stored sizes of the block sections a query needs, counted before they are
 *   fetched, whether or not they are in the section cache (so the bound does not depend on
 *   what other queries did). Over the limit → `resource_exhausted`.
 * - Memory: an estimate of what the query holds at once: the decoded sections of the dataset
 *   being processed plus the accumulated state (per-node sums, name tree, output builders,
 *   series points). Over the limit → `resource_exhausted`.
 *
 * Messages name the bound, the value and the option, e.g.
 * `query read 5.1 GiB of block sections, limit 4 GiB (query_bytes_read_max); narrow the time range or the selector`.
 */
import { KilnError } from "../model/errors.ts";

const GiB = 1024 * 1024 * 1024;

export interface QueryLimits {
  /** Wall-clock limit per query, ms. */
  timeoutMs: number;
  /** Block-section bytes one query may read. */
  bytesReadMax: number;
  /** Estimated bytes of decoded sections and intermediate state one query may hold. */
  memoryBytesMax: number;
}

export const DEFAULT_QUERY_LIMITS: Readonly<QueryLimits> = Object.freeze({
  timeoutMs: 60_000,
  bytesReadMax: 4 * GiB,
  memoryBytesMax: 2 * GiB,
});

const NARROW = "narrow the time range or the selector";

/** Human-readable byte count: `512 B`, `1.5 KiB`, `4 GiB`, `5.1 GiB`. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${bytes} B`;
  const text = Number.isInteger(value) ? String(value) : value.toFixed(1);
  return `${text.replace(/\.0$/, "")} ${units[unit]}`;
}

export class QueryBudget {
  readonly limits: QueryLimits;
  /** Aborts on the caller's signal or the timeout, whichever comes first. */
  readonly signal: AbortSignal;
  readonly #caller: AbortSignal | undefined;
  readonly #deadline: number;
  #bytesRead = 0;
  /** Transient holdings (sections being processed, scratch arrays). */
  #held = 0;
  /** Accumulated state, replaced as it grows. */
  #state = 0;
  #peak = 0;

  constructor(limits: QueryLimits, caller?: AbortSignal) {
    this.limits = limits;
    this.#caller = caller;
    this.#deadline = performance.now() + limits.timeoutMs;
    const timeout = AbortSignal.timeout(limits.timeoutMs);
    this.signal = caller === undefined ? timeout : AbortSignal.any([caller, timeout]);
  }

  get bytesRead(): number {
    return this.#bytesRead;
  }

  /** Largest estimated holding seen so far. */
  get peakBytes(): number {
    return this.#peak;
  }

  /** Throws when the query must stop: caller gone or timeout reached. */
  check(): void {
    if (this.#caller?.aborted) {
      const reason: unknown = this.#caller.reason;
      if (reason instanceof KilnError) throw reason;
      if (reason instanceof Error && reason.name === "ConnectError") throw reason;
      throw new KilnError("canceled", "query_canceled", "query canceled: the client went away", {
        cause: reason,
      });
    }
    if (this.signal.aborted || performance.now() > this.#deadline) {
      throw new KilnError(
        "deadline_exceeded",
        "query_timeout",
        `query ran longer than ${this.limits.timeoutMs} ms, limit ${this.limits.timeoutMs} ms (query_timeout_ms); ${NARROW}`,
      );
    }
  }

  /** Counts `bytes` of block sections about to be read; throws when over the bound. */
  read(bytes: number): void {
    this.#bytesRead += bytes;
    if (this.#bytesRead > this.limits.bytesReadMax) {
      throw new KilnError(
        "resource_exhausted",
        "query_bytes_read_max",
        `query read ${formatBytes(this.#bytesRead)} of block sections, limit ${formatBytes(this.limits.bytesReadMax)} (query_bytes_read_max); ${NARROW}`,
      );
    }
  }

  /** Takes `bytes` of transient memory (release it with `release`); throws when over the bound. */
  hold(bytes: number): void {
    this.#held += bytes;
    this.#checkMemory();
  }

  release(bytes: number): void {
    this.#held = Math.max(0, this.#held - bytes);
  }

  /** Sets the size of the accumulated state (result being built); throws when over the bound. */
  setState(bytes: number): void {
    this.#state = bytes;
    this.#checkMemory();
  }

  #checkMemory(): void {
    const total = this.#held + this.#state;
    if (total > this.#peak) this.#peak = total;
    if (total > this.limits.memoryBytesMax) {
      throw new KilnError(
        "resource_exhausted",
        "query_memory_bytes_max",
        `query would hold ${formatBytes(total)} of decoded sections and intermediate results, limit ${formatBytes(this.limits.memoryBytesMax)} (query_memory_bytes_max); ${NARROW}`,
      );
    }
  }
}
