/**
 * Bounds-checked reader for the JFR binary encoding.
 *
 * JFR (version 1.x/2.x) writes chunk headers as big-endian fixed-width integers and
 * everything else with "compressed integers": little-endian base-128 varints where `short`,
 * `char`, `int` and `long` all use the same scheme; a `long` takes at most 9 bytes, the 9th
 * contributing all of its 8 bits. `byte` and `boolean` are one raw byte, `float` and
 * `double` big-endian IEEE 754.
 *
 * Every read checks `end`; a failure is a KilnError("invalid_argument", "malformed_jfr")
 * naming the byte offset, so truncated or hostile input can neither run past the buffer nor
 * throw anything else.
 */
import { KilnError } from "../../model/errors.ts";

export function malformedJfr(message: string, offset?: number): KilnError {
  const where = offset === undefined ? "" : ` at byte ${offset}`;
  return new KilnError("invalid_argument", "malformed_jfr", `malformed JFR${where}: ${message}`);
}

const twoPow32 = 4294967296;
const utf8 = new TextDecoder("utf-8");
const latin1 = new TextDecoder("latin1");

/**
 * A JFR long: a number when it is exactly representable (|v| < 2^53), else a bigint
 * holding the signed 64-bit value. The representation depends on the value only, so equal
 * longs are equal Map keys.
 */
export type JfrLong = number | bigint;

export class JfrReader {
  readonly buf: Uint8Array;
  pos: number;
  end: number;
  private readonly view: DataView;
  /** Halves of the last varint read by `varLongParts`. */
  private lo = 0;
  private hi = 0;

  constructor(buf: Uint8Array, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  remaining(): number {
    return this.end - this.pos;
  }

  fail(message: string): KilnError {
    return malformedJfr(message, this.pos);
  }

  private need(n: number, what: string): void {
    if (this.end - this.pos < n) throw this.fail(`truncated ${what}`);
  }

  u8(): number {
    if (this.pos >= this.end) throw this.fail("truncated byte");
    return this.buf[this.pos++]!;
  }

  /** Big-endian fixed-width (chunk header). */
  rawU16(): number {
    this.need(2, "u16");
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  rawI32(): number {
    this.need(4, "i32");
    const v = this.view.getInt32(this.pos);
    this.pos += 4;
    return v;
  }

  /** Big-endian signed 64-bit as a number (exact below 2^53). */
  rawI64(): number {
    this.need(8, "i64");
    const hi = this.view.getInt32(this.pos);
    const lo = this.view.getUint32(this.pos + 4);
    this.pos += 8;
    return hi * twoPow32 + lo;
  }

  rawI64Big(): bigint {
    this.need(8, "i64");
    const v = this.view.getBigInt64(this.pos);
    this.pos += 8;
    return v;
  }

  f32(): number {
    this.need(4, "float");
    const v = this.view.getFloat32(this.pos);
    this.pos += 4;
    return v;
  }

  f64(): number {
    this.need(8, "double");
    const v = this.view.getFloat64(this.pos);
    this.pos += 8;
    return v;
  }

  /** Decodes one varint into `lo`/`hi` (the two 32-bit halves of the 64-bit value). */
  private varLongParts(): void {
    const buf = this.buf;
    let pos = this.pos;
    const end = this.end;
    let lo = 0;
    let hi = 0;
    for (let i = 0; ; i++) {
      if (pos >= end) {
        this.pos = pos;
        throw this.fail("truncated varint");
      }
      const b = buf[pos++]!;
      if (i === 8) {
        // 9th byte: all 8 bits are payload (bits 56..63).
        hi |= b << 24;
        break;
      }
      const bits = b & 0x7f;
      const shift = i * 7;
      if (shift < 28) lo |= bits << shift;
      else if (shift === 28) {
        lo |= (bits & 0x0f) << 28;
        hi |= bits >>> 4;
      } else hi |= bits << (shift - 32);
      if (b < 0x80) break;
    }
    this.pos = pos;
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }

  /** Compressed `int` (signed 32-bit). Fast path for one-byte values. */
  varInt(): number {
    const pos = this.pos;
    if (pos < this.end) {
      const b = this.buf[pos]!;
      if (b < 0x80) {
        this.pos = pos + 1;
        return b;
      }
    }
    this.varLongParts();
    return this.lo | 0;
  }

  /** Compressed `int` that must be a count/length within [0, remaining bytes]. */
  count(what: string): number {
    const at = this.pos;
    const n = this.varInt();
    if (n < 0) throw malformedJfr(`negative ${what} ${n}`, at);
    if (n > this.end - this.pos) {
      throw malformedJfr(`${what} ${n} exceeds the ${this.end - this.pos} bytes left`, at);
    }
    return n;
  }

  varShort(): number {
    this.varLongParts();
    return (this.lo << 16) >> 16;
  }

  varChar(): number {
    this.varLongParts();
    return this.lo & 0xffff;
  }

  /** Compressed `long`, see JfrLong. */
  varLong(): JfrLong {
    const pos = this.pos;
    if (pos < this.end) {
      const b = this.buf[pos]!;
      if (b < 0x80) {
        this.pos = pos + 1;
        return b;
      }
    }
    this.varLongParts();
    const { lo, hi } = this;
    if (hi < 0x200000) return hi * twoPow32 + lo; // < 2^53
    if (hi >= 0xffe00000) {
      // Negative with |v| <= 2^53.
      const v = (hi - twoPow32) * twoPow32 + lo;
      if (v > -9007199254740992) return v;
    }
    return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
  }

  /** Compressed `long` as a double (rounded beyond 2^53): for sizes, durations, counters. */
  varLongNumber(): number {
    const v = this.varLong();
    return typeof v === "number" ? v : Number(v);
  }

  /** Skips a compressed integer without decoding it. */
  skipVarint(): void {
    const buf = this.buf;
    const end = this.end;
    let pos = this.pos;
    for (let i = 0; i < 9; i++) {
      if (pos >= end) {
        this.pos = pos;
        throw this.fail("truncated varint");
      }
      if (buf[pos++]! < 0x80 || i === 8) break;
    }
    this.pos = pos;
  }

  skip(n: number, what: string): void {
    this.need(n, what);
    this.pos += n;
  }

  utf8(n: number): string {
    this.need(n, "UTF-8 string");
    const s = utf8.decode(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }

  latin1(n: number): string {
    this.need(n, "Latin-1 string");
    const s = latin1.decode(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
}
