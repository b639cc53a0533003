/**
 * Byte-level primitives of the block format: a growable little-endian writer and a bounds-checked
 * reader, LEB128 varints and zigzag signed varints (docs/block-format.md, "Integers").
 *
 * Numbers are JS doubles. Unsigned varints accept any non-negative integer double up to 2^64
 * (so 64-bit addresses above 2^53, which a double holds only approximately but exactly as
 * the double it is, round-trip bit for bit); signed varints accept safe integers. Bigint
 * variants exist for nanosecond timestamps and totals, which exceed 2^53.
 */
import { assert, BlockFormatError, fail } from "./format.ts";

const TWO_POW_30 = 2 ** 30;
const TWO_POW_31 = 2 ** 31;
const TWO_POW_53 = 2 ** 53;
const TWO_POW_64 = 2 ** 64;
/** A 64-bit LEB128 value takes at most ceil(64 / 7) = 10 bytes. */
const VARINT_BYTES_MAX = 10;
/** Seven-bit groups that always fit a double exactly (7 * 7 = 49 bits < 53). */
const NUMBER_FAST_GROUP_COUNT = 7;
const BIG_MASK_64 = (1n << 64n) - 1n;

export class ByteWriter {
  #bytes: Uint8Array;
  #view: DataView;
  #length = 0;
  readonly #bytesMax: number;

  /** `bytesMax` bounds the buffer: a writer that would grow past it throws (a caller bug). */
  constructor(initialBytes: number, bytesMax: number) {
    assert(initialBytes > 0 && initialBytes <= bytesMax, "ByteWriter: 0 < initialBytes <= bytesMax");
    this.#bytes = new Uint8Array(initialBytes);
    this.#view = new DataView(this.#bytes.buffer);
    this.#bytesMax = bytesMax;
  }

  get length(): number {
    return this.#length;
  }

  /** Makes room for `count` more bytes, doubling so appends stay amortized O(1). */
  #reserve(count: number): void {
    const needed = this.#length + count;
    if (needed <= this.#bytes.length) return;
    if (!(needed <= this.#bytesMax)) fail(`ByteWriter: ${needed} bytes exceeds the limit ${this.#bytesMax}`);
    const grown = new Uint8Array(Math.min(this.#bytesMax, Math.max(needed, this.#bytes.length * 2)));
    grown.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = grown;
    this.#view = new DataView(grown.buffer);
  }

  u8(value: number): void {
    if (!(Number.isInteger(value) && value >= 0 && value <= 0xff)) fail(`u8 out of range: ${value}`);
    this.#reserve(1);
    this.#bytes[this.#length++] = value;
  }

  u32(value: number): void {
    if (!(Number.isInteger(value) && value >= 0 && value <= 0xffffffff)) fail(`u32 out of range: ${value}`);
    this.#reserve(4);
    this.#view.setUint32(this.#length, value, true);
    this.#length += 4;
  }

  u64(value: bigint): void {
    this.#reserve(8);
    this.#view.setBigUint64(this.#length, value, true);
    this.#length += 8;
  }

  bytes(data: Uint8Array): void {
    this.#reserve(data.length);
    this.#bytes.set(data, this.#length);
    this.#length += data.length;
  }

  /** Unsigned LEB128 of a non-negative integer double up to 2^64 (at most 10 bytes). */
  uvarint(value: number): void {
    this.#reserve(VARINT_BYTES_MAX);
    const bytes = this.#bytes;
    let at = this.#length;
    if (value < TWO_POW_31 && value >= 0 && (value | 0) === value) {
      let v = value;
      while (v >= 0x80) {
        bytes[at++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      bytes[at++] = v;
    } else {
      // 2^64 itself is allowed: a uint64 near the top (a kernel address) decodes to that double.
      if (!(Number.isInteger(value) && value >= 0 && value <= TWO_POW_64))
        fail(`uvarint out of range: ${value}`);
      // Division by 128 and remainder are exact for every integer double, even above 2^53.
      let v = value;
      while (v >= 0x80) {
        bytes[at++] = (v % 0x80) | 0x80;
        v = Math.floor(v / 0x80);
      }
      bytes[at++] = v;
    }
    this.#length = at;
  }

  /** `uvarint` of every value of `values`, in order (one capacity check for the run). */
  uvarints(values: ArrayLike<number>): void {
    const count = values.length;
    this.#reserve(count * VARINT_BYTES_MAX);
    let bytes = this.#bytes;
    let at = this.#length;
    for (let i = 0; i < count; i++) {
      let v = values[i]!;
      if (v < TWO_POW_31 && v >= 0 && (v | 0) === v) {
        while (v >= 0x80) {
          bytes[at++] = (v & 0x7f) | 0x80;
          v >>>= 7;
        }
        bytes[at++] = v;
      } else {
        this.#length = at;
        this.uvarint(v);
        at = this.#length;
        bytes = this.#bytes;
      }
    }
    this.#length = at;
  }

  /** `varint` of every value of `values`, in order. */
  varints(values: ArrayLike<number>): void {
    const count = values.length;
    this.#reserve(count * VARINT_BYTES_MAX);
    let bytes = this.#bytes;
    let at = this.#length;
    for (let i = 0; i < count; i++) {
      const value = values[i]!;
      if (value < TWO_POW_30 && value >= 0 && (value | 0) === value) {
        let v = value * 2;
        while (v >= 0x80) {
          bytes[at++] = (v & 0x7f) | 0x80;
          v >>>= 7;
        }
        bytes[at++] = v;
      } else {
        this.#length = at;
        this.varint(value);
        at = this.#length;
        bytes = this.#bytes;
      }
    }
    this.#length = at;
  }

  /**
   * Zigzag then LEB128 of an integer double in the int64 range: 0, -1, 1, -2 … map to
   * 0, 1, 2, 3 … Doubles beyond 2^53 (pprof values decoded from int64) are written as the
   * exact integer they hold, so they read back as the same double.
   */
  varint(value: number): void {
    if (value >= 0 && value < TWO_POW_53) {
      if (!Number.isInteger(value)) fail(`varint out of range: ${value}`);
      this.uvarint(value * 2);
      return;
    }
    // -2v - 1 is exact only while |v| < 2^52; larger magnitudes take the bigint path.
    if (value < 0 && value > -(2 ** 52)) {
      if (!Number.isInteger(value)) fail(`varint out of range: ${value}`);
      this.uvarint(-2 * value - 1);
      return;
    }
    assert(
      Number.isInteger(value) && value >= -(2 ** 63) && value < 2 ** 63,
      `varint out of range: ${value}`,
    );
    this.varintBig(BigInt(value));
  }

  uvarintBig(value: bigint): void {
    if (!(value >= 0n && value <= BIG_MASK_64)) fail(`uvarintBig out of range: ${value}`);
    this.#reserve(VARINT_BYTES_MAX);
    let v = value;
    while (v >= 0x80n) {
      this.#bytes[this.#length++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.#bytes[this.#length++] = Number(v);
  }

  /** Zigzag then LEB128 of a signed 64-bit bigint. */
  varintBig(value: bigint): void {
    if (!(value >= -(1n << 63n) && value < 1n << 63n)) fail(`varintBig out of range: ${value}`);
    this.uvarintBig(value >= 0n ? value << 1n : (-value << 1n) - 1n);
  }

  /** Length-prefixed UTF-8. */
  string(text: string): void {
    const byteCount = Buffer.byteLength(text, "utf8");
    this.uvarint(byteCount);
    this.utf8(text, byteCount);
  }

  /** The UTF-8 bytes of `text`, which must be `byteCount` long (`Buffer.byteLength`), unprefixed. */
  utf8(text: string, byteCount: number): void {
    this.#reserve(byteCount);
    const written = Buffer.from(this.#bytes.buffer, this.#bytes.byteOffset).write(
      text,
      this.#length,
      byteCount,
      "utf8",
    );
    assert(written === byteCount, "string: UTF-8 byte count mismatch");
    this.#length += byteCount;
  }

  /** The bytes written so far. A view: copy it before writing more if it must be kept. */
  finish(): Uint8Array {
    return this.#bytes.subarray(0, this.#length);
  }
}

/**
 * Reads what ByteWriter wrote. Every read is bounds-checked and fails with a BlockFormatError
 * whose message starts with `where` (object, dataset and section), so a truncated or corrupt
 * payload that passed its checksum (a writer bug) still fails loudly and locally.
 */
export class ByteReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #buffer: Buffer;
  #position = 0;
  readonly where: string;

  constructor(bytes: Uint8Array, where: string) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.where = where;
  }

  get position(): number {
    return this.#position;
  }

  get remaining(): number {
    return this.#bytes.length - this.#position;
  }

  fail(what: string): never {
    throw new BlockFormatError("block_corrupt", `${this.where}: ${what} (at payload byte ${this.#position})`);
  }

  #need(count: number): void {
    if (count > this.remaining) this.fail(`truncated: need ${count} bytes, ${this.remaining} left`);
  }

  /** Reads a count of items that each take at least `bytesMin` bytes, so corrupt counts fail early. */
  count(what: string, bytesMin = 1): number {
    const count = this.uvarint();
    if (count * bytesMin > this.remaining) this.fail(`${what} count ${count} exceeds the payload`);
    return count;
  }

  u8(): number {
    this.#need(1);
    return this.#bytes[this.#position++]!;
  }

  u32(): number {
    this.#need(4);
    const value = this.#view.getUint32(this.#position, true);
    this.#position += 4;
    return value;
  }

  u64(): bigint {
    this.#need(8);
    const value = this.#view.getBigUint64(this.#position, true);
    this.#position += 8;
    return value;
  }

  /** A view of the next `count` bytes (not a copy). */
  bytes(count: number): Uint8Array {
    this.#need(count);
    const view = this.#bytes.subarray(this.#position, this.#position + count);
    this.#position += count;
    return view;
  }

  /** An unsigned varint as a double; exact for what `ByteWriter.uvarint` wrote. */
  uvarint(): number {
    const bytes = this.#bytes;
    let at = this.#position;
    let result = 0;
    let scale = 1;
    for (let group = 0; group < VARINT_BYTES_MAX; group++) {
      if (at >= bytes.length) this.fail("truncated varint");
      const byte = bytes[at++]!;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        this.#position = at;
        return result;
      }
      scale *= 0x80;
    }
    return this.fail("varint longer than 10 bytes");
  }

  /** An unsigned varint that must be a safe integer (counts, ids, offsets). */
  uvarintSafe(): number {
    const value = this.uvarint();
    if (value > Number.MAX_SAFE_INTEGER) this.fail(`integer ${value} exceeds 2^53`);
    return value;
  }

  /** A zigzag varint as a double: exact for what `ByteWriter.varint` wrote. */
  varint(): number {
    const start = this.#position;
    const bytes = this.#bytes;
    // Fast path: up to seven groups (49 bits) accumulate exactly in a double.
    let zigzag = 0;
    let scale = 1;
    for (let group = 0; group < NUMBER_FAST_GROUP_COUNT && start + group < bytes.length; group++) {
      const byte = bytes[start + group]!;
      zigzag += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        this.#position = start + group + 1;
        return zigzag % 2 === 0 ? zigzag / 2 : -(zigzag + 1) / 2;
      }
      scale *= 0x80;
    }
    // Beyond 2^53 the writer only wrote integers that are doubles, so this conversion is exact.
    return Number(this.varintBig());
  }

  uvarintBig(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let group = 0; group < VARINT_BYTES_MAX; group++) {
      const byte = this.u8();
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) {
        if (result > BIG_MASK_64) this.fail("varint exceeds 64 bits");
        return result;
      }
      shift += 7n;
    }
    return this.fail("varint longer than 10 bytes");
  }

  varintBig(): bigint {
    const zigzag = this.uvarintBig();
    return (zigzag & 1n) === 0n ? zigzag >> 1n : -((zigzag + 1n) >> 1n);
  }

  string(): string {
    const byteCount = this.uvarintSafe();
    this.#need(byteCount);
    const text = this.#buffer.toString("utf8", this.#position, this.#position + byteCount);
    this.#position += byteCount;
    return text;
  }

  /** Asserts the payload was consumed exactly: trailing bytes mean a layout mismatch. */
  end(): void {
    if (this.remaining !== 0) this.fail(`${this.remaining} unexpected trailing bytes`);
  }
}

/** Reads a string column: `count` lengths as uvarints, then the concatenated UTF-8 bytes. */
export function readStringColumn(reader: ByteReader, count: number): string[] {
  const column = readStringColumnBytes(reader, count);
  const strings = new Array<string>(count);
  for (let i = 0; i < count; i++) strings[i] = column.string(i);
  return strings;
}

/** A string column read but not decoded: `string(i)` decodes one string when asked. */
export interface StringColumnBytes {
  count: number;
  string(index: number): string;
}

/** Reads a string column's lengths and bytes; strings are decoded one by one on demand. */
export function readStringColumnBytes(reader: ByteReader, count: number): StringColumnBytes {
  const offsets = new Float64Array(count + 1);
  for (let i = 0; i < count; i++) {
    offsets[i + 1] = offsets[i]! + reader.uvarintSafe();
    if (offsets[i + 1]! > reader.remaining) reader.fail(`string bytes exceed the payload`);
  }
  const blob = reader.bytes(offsets[count]!);
  const buffer = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  return {
    count,
    string: (index) => buffer.toString("utf8", offsets[index]!, offsets[index + 1]!),
  };
}

/** Writes a string column (see `readStringColumn`). */
export function writeStringColumn(writer: ByteWriter, strings: readonly string[]): void {
  const joined = strings.join("");
  const joinedBytes = Buffer.byteLength(joined, "utf8");
  if (joinedBytes === joined.length) {
    // All ASCII: byte length = UTF-16 length for every string, and one native encode suffices.
    // (Only then: UTF-8 of a concatenation can differ from the concatenated UTF-8 when a lone
    // surrogate at the end of one string meets one at the start of the next.)
    const lengths = new Uint32Array(strings.length);
    for (let i = 0; i < strings.length; i++) lengths[i] = strings[i]!.length;
    writer.uvarints(lengths);
    writer.utf8(joined, joinedBytes);
    return;
  }
  const lengths = new Uint32Array(strings.length);
  for (let i = 0; i < strings.length; i++) lengths[i] = Buffer.byteLength(strings[i]!, "utf8");
  writer.uvarints(lengths);
  for (let i = 0; i < strings.length; i++) writer.utf8(strings[i]!, lengths[i]!);
}
