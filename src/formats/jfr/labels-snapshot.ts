/**
 * pyroscope-java's `LabelsSnapshot`, the optional `labels` part of a JFR upload
 * (wire reference §2.4.3), decoded by hand:
 *
 *     message LabelsSnapshot {
 *       map<int64, Context> contexts = 1;  // context id (stamped on JFR samples) → labels
 *       map<int64, string> strings = 2;    // string id → text
 *     }
 *     message Context { map<int64, int64> labels = 1; }  // key string id → value string id
 *
 * Map entries are messages with the key at #1 and the value at #2; unknown fields are
 * skipped, a repeated key keeps the last entry (protobuf map semantics). Context ids and
 * string ids are kept as exact decimal strings, so any int64 works as a key.
 */
import { KilnError } from "../../model/errors.ts";

export interface LabelsSnapshot {
  /** Context id (decimal) → list of [key string id, value string id] (decimal). */
  contexts: Map<string, [string, string][]>;
  /** String id (decimal) → string. */
  strings: Map<string, string>;
}

export function emptyLabelsSnapshot(): LabelsSnapshot {
  return { contexts: new Map(), strings: new Map() };
}

function malformedLabels(message: string, offset: number): KilnError {
  return new KilnError(
    "invalid_argument",
    "malformed_jfr_labels",
    `failed to parse labels form field at byte ${offset}: ${message}`,
  );
}

class ProtoReader {
  readonly buf: Uint8Array;
  pos: number;
  readonly end: number;
  constructor(buf: Uint8Array, pos: number, end: number) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  /** Varint as a two's-complement int64, exact. */
  varint(): bigint {
    let result = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw malformedLabels("truncated varint", this.pos);
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << BigInt(7 * i);
      if (b < 0x80) return BigInt.asIntN(64, result);
    }
    throw malformedLabels("varint longer than 10 bytes", this.pos);
  }

  /** Small varint (tags, lengths) as a number. */
  small(): number {
    const at = this.pos;
    const v = this.varint();
    if (v < 0n || v > 0x7fffffffn) throw malformedLabels(`value ${v} out of range`, at);
    return Number(v);
  }

  bytes(): ProtoReader {
    const at = this.pos;
    const n = this.small();
    if (n > this.end - this.pos) throw malformedLabels(`length ${n} past the end`, at);
    const sub = new ProtoReader(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return sub;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.advance(8);
        return;
      case 2:
        this.bytes();
        return;
      case 5:
        this.advance(4);
        return;
      default:
        throw malformedLabels(`unsupported wire type ${wireType}`, this.pos);
    }
  }

  private advance(n: number): void {
    if (this.end - this.pos < n) throw malformedLabels("truncated field", this.pos);
    this.pos += n;
  }
}

const utf8 = new TextDecoder("utf-8");

export function decodeLabelsSnapshot(bytes: Uint8Array): LabelsSnapshot {
  const out = emptyLabelsSnapshot();
  const r = new ProtoReader(bytes, 0, bytes.length);
  while (r.pos < r.end) {
    const tag = r.small();
    const fieldNo = tag >>> 3;
    const wire = tag & 7;
    if ((fieldNo === 1 || fieldNo === 2) && wire === 2) {
      const entry = r.bytes();
      let key = 0n;
      if (fieldNo === 1) {
        let labels: [string, string][] = [];
        while (entry.pos < entry.end) {
          const t = entry.small();
          if (t === 1 << 3 /* key, varint */) key = entry.varint();
          else if (t === ((2 << 3) | 2)) labels = decodeContext(entry.bytes());
          else entry.skip(t & 7);
        }
        out.contexts.set(key.toString(), labels);
      } else {
        let value = "";
        while (entry.pos < entry.end) {
          const t = entry.small();
          if (t === 1 << 3) key = entry.varint();
          else if (t === ((2 << 3) | 2)) {
            const s = entry.bytes();
            value = utf8.decode(s.buf.subarray(s.pos, s.end));
          } else entry.skip(t & 7);
        }
        out.strings.set(key.toString(), value);
      }
    } else {
      r.skip(wire);
    }
  }
  return out;
}

function decodeContext(r: ProtoReader): [string, string][] {
  const byKey = new Map<string, string>();
  while (r.pos < r.end) {
    const tag = r.small();
    if (tag === ((1 << 3) | 2)) {
      const entry = r.bytes();
      let key = 0n;
      let value = 0n;
      while (entry.pos < entry.end) {
        const t = entry.small();
        if (t === 1 << 3) key = entry.varint();
        else if (t === 2 << 3) value = entry.varint();
        else entry.skip(t & 7);
      }
      byKey.set(key.toString(), value.toString());
    } else {
      r.skip(tag & 7);
    }
  }
  return [...byKey];
}
