/**
 * The one binary protobuf message the UI sends: querier.v1.SelectMergeProfileRequest, for the
 * pprof export (wire reference §4.3; clients send it as `application/proto`, and the answer
 * is a plain pprof message). Hand-encoded: two strings and two int64s do not justify a
 * protobuf runtime in the bundle.
 */

const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;

export interface SelectMergeProfileRequest {
  profileTypeId: string;
  labelSelector: string;
  startMs: number;
  endMs: number;
  /** Unset: the server does not truncate this RPC by default. */
  maxNodes?: number;
}

/** Field numbers of SelectMergeProfileRequest. */
const FIELD_PROFILE_TYPE_ID = 1;
const FIELD_LABEL_SELECTOR = 2;
const FIELD_START = 3;
const FIELD_END = 4;
const FIELD_MAX_NODES = 5;

export function encodeSelectMergeProfileRequest(request: SelectMergeProfileRequest): Uint8Array {
  const bytes: number[] = [];
  writeString(bytes, FIELD_PROFILE_TYPE_ID, request.profileTypeId);
  writeString(bytes, FIELD_LABEL_SELECTOR, request.labelSelector);
  writeInt64(bytes, FIELD_START, request.startMs);
  writeInt64(bytes, FIELD_END, request.endMs);
  if (request.maxNodes !== undefined) writeInt64(bytes, FIELD_MAX_NODES, request.maxNodes);
  return Uint8Array.from(bytes);
}

function writeString(out: number[], field: number, value: string): void {
  // proto3: a default (empty) scalar is not written.
  if (value === "") return;
  const utf8 = new TextEncoder().encode(value);
  writeVarint(out, field * 8 + WIRE_LENGTH_DELIMITED);
  writeVarint(out, utf8.length);
  for (const byte of utf8) out.push(byte);
}

function writeInt64(out: number[], field: number, value: number): void {
  if (value === 0) return;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`field ${field}: ${value} is not a non-negative safe integer`);
  }
  writeVarint(out, field * 8 + WIRE_VARINT);
  writeVarint(out, value);
}

/** Base-128 varint; arithmetic rather than bit operators, which stop at 32 bits. */
export function writeVarint(out: number[], value: number): void {
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest % 0x80) + 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}
