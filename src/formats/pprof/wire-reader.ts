/**
 * Minimal protobuf wire-format reader for the hand-written pprof decoder.
 *
 * Only what pprof needs: varints (as exact numbers up to 2^53, flagged beyond), signed int64,
 * length-delimited spans and skipping of unknown fields. Every read is bounds-checked against
 * `end`, and every failure is a KilnError("invalid_argument", "malformed_pprof") that names the
 * byte offset, so a truncated or hostile message can never loop or throw another error type.
 */
import { KilnError } from "../../model/errors.ts";

export const WireType = {
  varint: 0,
  fixed64: 1,
  bytes: 2,
  startGroup: 3,
  endGroup: 4,
  fixed32: 5,
} as const;

/** 2^32 as a double, used to combine the high and low halves of a 64-bit varint. */
const twoPow32 = 4294967296;

export function malformedAt(offset: number, what: string): KilnError {
  return new KilnError("invalid_argument", "malformed_pprof", `malformed pprof at byte ${offset}: ${what}`);
}

export class WireReader {
  readonly buf: Uint8Array;
  pos: number;
  end: number;
  /**
   * Set by `varint()` when the value read was >= 2^53 and therefore not exact as a number.
   * Callers that need exactness (entity ids) check and clear it; value columns accept the
   * rounding, as the model documents.
   */
  lossy = false;

  constructor(buf: Uint8Array, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  /** Unsigned varint as a number (exact below 2^53). */
  varint(): number {
    const buf = this.buf;
    let pos = this.pos;
    if (pos >= this.end) throw malformedAt(pos, "truncated varint");
    let b = buf[pos++]!;
    if (b < 0x80) {
      this.pos = pos;
      return b;
    }
    // Low 28 bits with 32-bit integer arithmetic; the rest with doubles.
    let lo = b & 0x7f;
    let shift = 7;
    while (shift < 28) {
      if (pos >= this.end) throw malformedAt(pos, "truncated varint");
      b = buf[pos++]!;
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return lo >>> 0;
      }
      shift += 7;
    }
    // Bytes 5..10 contribute bits 28..63.
    let hi = 0;
    let mul = 1;
    for (let i = 0; i < 6; i++) {
      if (pos >= this.end) throw malformedAt(pos, "truncated varint");
      b = buf[pos++]!;
      hi += (b & 0x7f) * mul;
      if (b < 0x80) {
        this.pos = pos;
        // hi holds bits 28.. ; value = lo + hi * 2^28.
        if (hi >= 0x2000000) this.lossy = true; // >= 2^53
        return (lo >>> 0) + hi * 268435456;
      }
      mul *= 128;
    }
    throw malformedAt(pos, "varint longer than 10 bytes");
  }

  /**
   * int64 varint interpreted as two's complement (negative values are 10-byte varints).
   * Reads the raw bytes again only for the rare values beyond 2^53.
   */
  int64(): number {
    const start = this.pos;
    const v = this.varint();
    if (!this.lossy) return v;
    // Beyond 2^53: values accept rounding, but the sign must come from the exact top bit.
    this.lossy = false;
    const [lo, hi] = this.halvesAt(start);
    if (hi < 0x80000000) return v;
    // Two's complement negate: -(~hi * 2^32 + ~lo + 1).
    return -((~hi >>> 0) * twoPow32 + (~lo >>> 0) + 1);
  }

  /** int64 varint as an exact bigint (for timestamps, which exceed 2^53 in nanoseconds). */
  int64Big(): bigint {
    const start = this.pos;
    this.varint();
    this.lossy = false;
    const [lo, hi] = this.halvesAt(start);
    return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
  }

  /** The low and high 32-bit halves of the varint starting at `start` (already validated). */
  halvesAt(start: number): [number, number] {
    const buf = this.buf;
    let lo = 0;
    let hi = 0;
    let pos = start;
    for (let shift = 0; shift < 28; shift += 7) {
      const b = buf[pos++]!;
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) return [lo >>> 0, 0];
    }
    let b = buf[pos++]!;
    lo |= (b & 0x0f) << 28;
    hi = (b & 0x7f) >> 4;
    if (b < 0x80) return [lo >>> 0, hi >>> 0];
    for (let shift = 3; shift < 32; shift += 7) {
      b = buf[pos++]!;
      hi |= (b & 0x7f) << shift;
      if (b < 0x80) break;
    }
    return [lo >>> 0, hi >>> 0];
  }

  /** Exact decimal text of the unsigned varint at `start`, for ids beyond 2^53. */
  exactKeyAt(start: number): string {
    const [lo, hi] = this.halvesAt(start);
    return ((BigInt(hi) << 32n) | BigInt(lo)).toString();
  }

  /** Field tag; returns field number * 8 + wire type, as on the wire. */
  tag(): number {
    return this.varint();
  }

  /** Length prefix of a length-delimited field; returns the end offset, bounds-checked. */
  lengthEnd(): number {
    const at = this.pos;
    const len = this.varint();
    const end = this.pos + len;
    if (end > this.end) throw malformedAt(at, `length ${len} runs past the end of its message (${this.end})`);
    return end;
  }

  /** Skips one field of the given wire type (the tag has been read). Groups are rejected. */
  skip(wireType: number, tagOffset: number): void {
    switch (wireType) {
      case WireType.varint:
        this.varint();
        this.lossy = false;
        return;
      case WireType.fixed64:
        this.advance(8, tagOffset);
        return;
      case WireType.bytes:
        this.pos = this.lengthEnd();
        return;
      case WireType.fixed32:
        this.advance(4, tagOffset);
        return;
      default:
        // Groups (3, 4) are deprecated and never used by pprof; 6 and 7 do not exist.
        throw malformedAt(tagOffset, `unsupported wire type ${wireType}`);
    }
  }

  private advance(n: number, tagOffset: number): void {
    if (this.pos + n > this.end) throw malformedAt(tagOffset, "truncated fixed-width field");
    this.pos += n;
  }
}
