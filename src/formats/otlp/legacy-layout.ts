/**
 * Detection of the pre-v1.10 Sample layout in binary OTLP profiles (wire reference §7.5).
 *
 * opentelemetry-proto v1.10.0 renumbered Sample without renaming the package: v1.8/v1.9 have
 * #2 `values` (repeated int64), #3 `attribute_indices` (repeated int32), #4 `link_index`;
 * v1.10+ have #2 `attribute_indices`, #3 `link_index` (int32), #4 `values`. A v1.10 parser
 * reads old samples without complaint and gets garbage, so the raw bytes are scanned first
 * (Sample messages only: request #1 → ResourceProfiles #2 → ScopeProfiles #2 → Profile #2).
 *
 * What is reliably detectable, because a v1.10+ encoder can never produce it:
 * 1. Sample field 3 as a length-delimited field. In v1.10+ #3 is a singular int32 (varint
 *    only); in v1.9 it is the packed attribute_indices of any sample that has attributes.
 *    This is the common case: the eBPF profiler puts thread attributes on every sample.
 * 2. Sample field 2 carrying a varint that is not a valid int32 encoding, i.e. in
 *    [2^31, 2^64 - 2^31): a v1.10+ attribute index is an int32, while a v1.9 value (an
 *    int64, e.g. nanoseconds of off-CPU time) easily is.
 *
 * Not detectable here: a v1.9 sample without attributes whose values all fit in an int32.
 * Such a sample then carries attribute indices (its values) and no values; the converter
 * rejects it when an index is out of range or when it has neither values nor timestamps,
 * and its error message mentions the version mismatch. Only old samples with small values,
 * no attributes and timestamps, all of whose values happen to be valid attribute indices,
 * pass unnoticed. JSON is not affected: field names did not change between v1.9 and v1.10.
 *
 * gRPC requests are decoded by connect-node before Kiln sees them, so for those only the
 * converter's checks apply (a v1.9 sample with attributes usually fails to decode at all).
 */
import { WireReader, WireType } from "../pprof/wire-reader.ts";

const twoPow31 = 0x80000000;

/**
 * Returns a description of the first v1.9-layout evidence found, or undefined. Best effort:
 * bytes that do not parse are left to the real decoder, which reports them.
 */
export function detectLegacySampleLayout(bytes: Uint8Array): string | undefined {
  try {
    return scanRequest(bytes);
  } catch {
    return undefined;
  }
}

/** Calls `visit(reader, end)` for every length-delimited field `field` of the message [pos, end). */
function forEachSubmessage(
  r: WireReader,
  end: number,
  field: number,
  visit: (start: number, end: number) => string | undefined,
): string | undefined {
  while (r.pos < end) {
    const tagAt = r.pos;
    const tag = r.tag();
    const wireType = tag & 7;
    if (tag >>> 3 === field && wireType === WireType.bytes) {
      const subEnd = r.lengthEnd();
      const found = visit(r.pos, subEnd);
      if (found !== undefined) return found;
      r.pos = subEnd;
    } else {
      r.skip(wireType, tagAt);
    }
  }
  return undefined;
}

function scanRequest(bytes: Uint8Array): string | undefined {
  const r = new WireReader(bytes);
  let sampleNumber = 0;
  const inSample = (start: number, end: number) =>
    scanSample(new WireReader(bytes, start, end), sampleNumber++);
  const inProfile = (start: number, end: number) =>
    forEachSubmessage(new WireReader(bytes, start, end), end, 2, inSample);
  const inScope = (start: number, end: number) =>
    forEachSubmessage(new WireReader(bytes, start, end), end, 2, inProfile);
  const inResource = (start: number, end: number) =>
    forEachSubmessage(new WireReader(bytes, start, end), end, 2, inScope);
  return forEachSubmessage(r, bytes.length, 1, inResource);
}

function scanSample(r: WireReader, sample: number): string | undefined {
  const end = r.end;
  while (r.pos < end) {
    const tagAt = r.pos;
    const tag = r.tag();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === 3 && wireType === WireType.bytes) {
      return `sample ${sample} has a packed list in field 3 (v1.9 attribute_indices; v1.10 link_index is a single int32)`;
    }
    if (field === 2 && (wireType === WireType.varint || wireType === WireType.bytes)) {
      const listEnd = wireType === WireType.bytes ? r.lengthEnd() : -1;
      do {
        const at = r.pos;
        r.varint();
        r.lossy = false;
        const [lo, hi] = r.halvesAt(at);
        const validInt32 = (hi === 0 && lo < twoPow31) || (hi === 0xffffffff && lo >= twoPow31);
        if (!validInt32) {
          return `sample ${sample} has ${((BigInt(hi) << 32n) | BigInt(lo)).toString()} in field 2, not an int32 attribute index (v1.9 values)`;
        }
      } while (listEnd >= 0 && r.pos < listEnd);
      continue;
    }
    r.skip(wireType, tagAt);
  }
  return undefined;
}
