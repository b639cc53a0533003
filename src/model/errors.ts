/**
 * Errors that carry what the API edge needs to answer well: a Connect code (wire reference
 * §4.6, which fixes the HTTP status for Connect and gRPC) and a short machine-readable
 * `reason` used as the `reason` label of the rejected-inputs metric
 * (e.g. "profile_too_large", "too_many_labels", "malformed_pprof").
 *
 * The message is for a human: it names what was wrong and, for limits, the limit and the
 * value seen, e.g. `profile too large: 5242880 bytes decompressed, limit 4194304 (max_profile_size_bytes)`.
 */
export type ErrorCode =
  | "canceled"
  | "unknown"
  | "invalid_argument"
  | "deadline_exceeded"
  | "not_found"
  | "already_exists"
  | "permission_denied"
  | "resource_exhausted"
  | "failed_precondition"
  | "aborted"
  | "out_of_range"
  | "unimplemented"
  | "internal"
  | "unavailable"
  | "data_loss"
  | "unauthenticated";

export class KilnError extends Error {
  readonly code: ErrorCode;
  readonly reason: string;
  constructor(code: ErrorCode, reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "KilnError";
    this.code = code;
    this.reason = reason;
  }
}

/** Malformed input: bytes that do not decode as the format they claim to be. */
export function malformed(reason: string, message: string, cause?: unknown): KilnError {
  return new KilnError("invalid_argument", reason, message, { cause });
}

/** Connect code → HTTP status (wire reference §4.6). */
export const httpStatusOfCode: Readonly<Record<ErrorCode, number>> = {
  canceled: 499,
  unknown: 500,
  invalid_argument: 400,
  deadline_exceeded: 504,
  not_found: 404,
  already_exists: 409,
  permission_denied: 403,
  resource_exhausted: 429,
  failed_precondition: 400,
  aborted: 409,
  out_of_range: 400,
  unimplemented: 501,
  internal: 500,
  unavailable: 503,
  data_loss: 500,
  unauthenticated: 401,
};
