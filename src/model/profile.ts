import type { Labels } from "./labels.ts";
import type { Pprof } from "./pprof.ts";
import type { ProfileType } from "./profile-type.ts";

/**
 * One stored profile: a single sample type of a single series at one point in time.
 * Produced by normalization (src/ingest/normalize) from a decoded pprof, consumed by the
 * segment writer and the block format.
 *
 * Invariants (normalization guarantees them, the block builder asserts them):
 * - `seriesLabels` is sorted by name, names are unique, and it contains `__name__`,
 *   `service_name`, `__profile_type__` and the other private labels of wire reference §6.2
 *   that apply (`__delta__` and `__otel__` are removed).
 * - No sample has value 0, and no two samples share the same (stack, spanId, traceId).
 */
export interface NormalizedProfile {
  seriesLabels: Labels;
  profileType: ProfileType;
  /** Nanoseconds since the Unix epoch. */
  timeNanos: bigint;
  durationNanos: bigint;
  /** A UUID, assigned at ingest. */
  profileId: string;
  /** Symbol tables shared by all profiles split from the same pprof. Never mutated. */
  symbols: Pprof;
  sampleCount: number;
  /** Stacks as location indices into `symbols`, leaf first; `stackOffsets` has sampleCount + 1 entries. */
  stackOffsets: Uint32Array;
  stackLocations: Uint32Array;
  values: Float64Array;
  /**
   * Optional per-sample span id (16 hex chars in the wire, here the 64-bit value) and trace id
   * (32 hex chars; here as a hex string, "" when absent). Absent when no sample carries one.
   */
  spanIds?: BigUint64Array;
  traceIds?: string[];
}

/** The profiles of one tenant, as handed to the segment writer by a receiver. */
export interface TenantProfiles {
  tenant: string;
  profiles: NormalizedProfile[];
}
