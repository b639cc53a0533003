/**
 * The profiles section: one row per profile, sorted by (series, time), stored column by column
 * (docs/block-format.md, "Profiles section").
 */
import { ByteReader, ByteWriter } from "./encoding.ts";
import { assert, fail, ID_BYTES, SECTION_PAYLOAD_BYTES_MAX } from "./format.ts";

/** Flag bits of the profiles section: optional per-sample columns present. */
const FLAG_SPAN_IDS = 1;
const FLAG_TRACE_IDS = 2;
const FLAGS_KNOWN = FLAG_SPAN_IDS | FLAG_TRACE_IDS;

/** One profile as the writer holds it. Samples are sorted by node (then span, then trace). */
export interface ProfileRow {
  seriesIndex: number;
  timeNanos: bigint;
  durationNanos: bigint;
  /** 16 bytes. */
  profileId: Uint8Array;
  total: bigint;
  nodes: Uint32Array;
  values: Float64Array;
  /** Per sample, 0n = none. Absent when no sample of the profile has one. */
  spanIds: BigUint64Array | undefined;
  /** 16 bytes per sample, all zero = none. Absent when no sample of the profile has one. */
  traceIds: Uint8Array | undefined;
}

/** Decoded profiles section: parallel arrays per profile, flat arrays per sample. */
export interface ProfilesSection {
  profileCount: number;
  /** Index into the dataset's index section series. Non-decreasing. */
  seriesIndex: Uint32Array;
  /** Nanoseconds since the Unix epoch; non-decreasing within a series. */
  timeNanos: BigInt64Array;
  durationNanos: BigInt64Array;
  /** 16 bytes per profile: profile i is `profileIds.subarray(16 * i, 16 * i + 16)`. */
  profileIds: Uint8Array;
  /** Sum of the profile's sample values. */
  totals: BigInt64Array;
  /** Length profileCount + 1: samples of profile i are `[sampleOffsets[i], sampleOffsets[i + 1])`. */
  sampleOffsets: Uint32Array;
  /** Stack node id per sample, ascending within a profile. */
  sampleNodes: Uint32Array;
  /** Integers, never 0 (exact to 2^53; beyond it, the double the pprof decoder produced). */
  sampleValues: Float64Array;
  /** Per sample span id, 0n = none; undefined when no profile in the section has one. */
  sampleSpanIds: BigUint64Array | undefined;
  /** 16 bytes per sample, zeros = none; undefined when no profile in the section has one. */
  sampleTraceIds: Uint8Array | undefined;
}

export function encodeProfiles(rows: readonly ProfileRow[]): Uint8Array {
  const writer = new ByteWriter(64 * 1024, SECTION_PAYLOAD_BYTES_MAX);
  const hasSpans = rows.some((row) => row.spanIds !== undefined);
  const hasTraces = rows.some((row) => row.traceIds !== undefined);
  writer.uvarint(rows.length);
  writer.u8((hasSpans ? FLAG_SPAN_IDS : 0) | (hasTraces ? FLAG_TRACE_IDS : 0));
  let previousSeries = 0;
  for (const row of rows) {
    assert(row.seriesIndex >= previousSeries, "profiles: rows not sorted by series");
    writer.uvarint(row.seriesIndex - previousSeries);
    previousSeries = row.seriesIndex;
  }
  // Deltas from the previous row: small within a series, one negative jump per series change.
  let previousTime = 0n;
  for (const row of rows) {
    writer.varintBig(row.timeNanos - previousTime);
    previousTime = row.timeNanos;
  }
  for (const row of rows) writer.varintBig(row.durationNanos);
  for (const row of rows) {
    assert(row.profileId.length === ID_BYTES, "profiles: profile id is not 16 bytes");
    writer.bytes(row.profileId);
  }
  for (const row of rows) writer.varintBig(row.total);
  for (const row of rows) writer.uvarint(row.nodes.length);
  for (const row of rows) writeNodes(writer, row.nodes);
  for (const row of rows) for (const value of row.values) writer.varint(value);
  if (hasSpans) for (const row of rows) writeSpanIds(writer, row);
  if (hasTraces) for (const row of rows) writeTraceIds(writer, row);
  return writer.finish();
}

function writeNodes(writer: ByteWriter, nodes: Uint32Array): void {
  let previous = 0;
  for (const node of nodes) {
    assert(node >= previous, "profiles: sample nodes not sorted");
    writer.uvarint(node - previous);
    previous = node;
  }
}

function writeSpanIds(writer: ByteWriter, row: ProfileRow): void {
  if (row.spanIds === undefined) {
    for (let i = 0; i < row.nodes.length; i++) writer.u64(0n);
    return;
  }
  assert(row.spanIds.length === row.nodes.length, "profiles: span id count");
  for (const spanId of row.spanIds) writer.u64(spanId);
}

function writeTraceIds(writer: ByteWriter, row: ProfileRow): void {
  if (row.traceIds === undefined) {
    writer.bytes(new Uint8Array(ID_BYTES * row.nodes.length));
    return;
  }
  assert(row.traceIds.length === ID_BYTES * row.nodes.length, "profiles: trace id bytes");
  writer.bytes(row.traceIds);
}

export function decodeProfiles(payload: Uint8Array, where: string): ProfilesSection {
  const reader = new ByteReader(payload, where);
  // Each profile takes at least 1 + 1 + 1 + 16 + 1 + 1 bytes of columns.
  const profileCount = reader.count("profile", 21);
  const flags = reader.u8();
  if ((flags & ~FLAGS_KNOWN) !== 0) reader.fail(`unknown profiles flags ${flags}`);
  const seriesIndex = new Uint32Array(profileCount);
  let series = 0;
  for (let i = 0; i < profileCount; i++) {
    series += reader.uvarintSafe();
    if (series > 0xffffffff) reader.fail(`series index ${series} out of range`);
    seriesIndex[i] = series;
  }
  const timeNanos = new BigInt64Array(profileCount);
  let time = 0n;
  for (let i = 0; i < profileCount; i++) {
    time += reader.varintBig();
    timeNanos[i] = time;
  }
  const durationNanos = new BigInt64Array(profileCount);
  for (let i = 0; i < profileCount; i++) durationNanos[i] = reader.varintBig();
  // Copies (a payload may be a Node Buffer, whose `slice` is a view of pooled memory).
  const profileIds = new Uint8Array(reader.bytes(ID_BYTES * profileCount));
  const totals = new BigInt64Array(profileCount);
  for (let i = 0; i < profileCount; i++) totals[i] = reader.varintBig();
  const sampleOffsets = readSampleOffsets(reader, profileCount);
  const sampleCount = sampleOffsets[profileCount]!;
  const sampleNodes = readNodes(reader, sampleOffsets);
  const sampleValues = new Float64Array(sampleCount);
  for (let i = 0; i < sampleCount; i++) sampleValues[i] = reader.varint();
  let sampleSpanIds: BigUint64Array | undefined;
  if ((flags & FLAG_SPAN_IDS) !== 0) {
    sampleSpanIds = new BigUint64Array(sampleCount);
    for (let i = 0; i < sampleCount; i++) sampleSpanIds[i] = reader.u64();
  }
  const sampleTraceIds =
    (flags & FLAG_TRACE_IDS) !== 0 ? new Uint8Array(reader.bytes(ID_BYTES * sampleCount)) : undefined;
  reader.end();
  return {
    profileCount,
    seriesIndex,
    timeNanos,
    durationNanos,
    profileIds,
    totals,
    sampleOffsets,
    sampleNodes,
    sampleValues,
    sampleSpanIds,
    sampleTraceIds,
  };
}

function readSampleOffsets(reader: ByteReader, profileCount: number): Uint32Array {
  const offsets = new Uint32Array(profileCount + 1);
  let total = 0;
  for (let i = 0; i < profileCount; i++) {
    total += reader.uvarintSafe();
    // Each sample takes at least two payload bytes (node gap and value).
    if (total * 2 > reader.remaining) reader.fail(`sample count ${total} exceeds the payload`);
    offsets[i + 1] = total;
  }
  return offsets;
}

function readNodes(reader: ByteReader, offsets: Uint32Array): Uint32Array {
  const profileCount = offsets.length - 1;
  const nodes = new Uint32Array(offsets[profileCount]!);
  for (let profile = 0; profile < profileCount; profile++) {
    let node = 0;
    for (let i = offsets[profile]!; i < offsets[profile + 1]!; i++) {
      node += reader.uvarintSafe();
      if (node > 0xffffffff) reader.fail(`stack node ${node} out of range`);
      nodes[i] = node;
    }
  }
  return nodes;
}

/** Formats 16 id bytes as a lowercase UUID (8-4-4-4-12). */
export function formatUuid(bytes: Uint8Array): string {
  assert(bytes.length === ID_BYTES, "formatUuid: want 16 bytes");
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const UUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Parses a UUID string into 16 bytes. */
export function parseUuid(text: string): Uint8Array {
  if (!UUID_PATTERN.test(text)) fail(`profile id is not a UUID: ${JSON.stringify(text)}`);
  return new Uint8Array(Buffer.from(text.replaceAll("-", ""), "hex"));
}
