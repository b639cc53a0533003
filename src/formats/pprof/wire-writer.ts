/**
 * Minimal protobuf wire-format writer for encodePprof. Grows by doubling; nested messages
 * are written into a child writer and copied in with their length prefix, which keeps the
 * code simple (encoding is not on the ingest hot path).
 */
const textEncoder = new TextEncoder();
const twoPow32 = 4294967296;

export class WireWriter {
  private buf = new Uint8Array(256);
  private len = 0;

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + extra) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  /** Unsigned varint of a non-negative integer up to 2^64 (exact up to 2^53). */
  uvarint(v: number): void {
    this.ensure(10);
    let hi = Math.floor(v / twoPow32);
    let lo = v >>> 0;
    while (hi > 0 || lo > 0x7f) {
      this.buf[this.len++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | ((hi & 0x7f) << 25)) >>> 0;
      hi = Math.floor(hi / 128);
    }
    this.buf[this.len++] = lo;
  }

  /** Signed int64 varint: negative values take 10 bytes (two's complement). */
  int64(v: number): void {
    if (v >= 0) {
      this.uvarint(v);
      return;
    }
    this.int64Big(BigInt(v));
  }

  int64Big(v: bigint): void {
    let u = BigInt.asUintN(64, v);
    this.ensure(10);
    while (u > 0x7fn) {
      this.buf[this.len++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.buf[this.len++] = Number(u);
  }

  tag(field: number, wireType: number): void {
    this.uvarint(field * 8 + wireType);
  }

  /** Varint field, omitted when zero (proto3 default). */
  varintField(field: number, v: number): void {
    if (v === 0) return;
    this.tag(field, 0);
    this.int64(v);
  }

  bytesField(field: number, bytes: Uint8Array): void {
    this.tag(field, 2);
    this.uvarint(bytes.length);
    this.ensure(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  stringField(field: number, s: string): void {
    this.bytesField(field, textEncoder.encode(s));
  }

  messageField(field: number, m: WireWriter): void {
    this.bytesField(field, m.finish());
  }

  /** Packed repeated varints; nothing is written for an empty list. */
  packedField(field: number, values: ArrayLike<number>, start = 0, end = values.length): void {
    if (end <= start) return;
    const inner = new WireWriter();
    for (let i = start; i < end; i++) inner.int64(values[i]!);
    this.messageField(field, inner);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}
