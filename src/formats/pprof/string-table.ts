/**
 * Decoding of pprof string_table entries.
 *
 * Most entries are short ASCII symbols. Short ASCII runs are built in JS (no native call);
 * longer or non-ASCII ones go through Buffer's native UTF-8 decoder, which replaces invalid
 * sequences with U+FFFD. With `reject`, invalid UTF-8 is a malformed profile instead, which
 * is what Pyroscope's Push path answers (400 "invalid utf8 string").
 */
import { Buffer, isUtf8 } from "node:buffer";
import { malformedAt } from "./wire-reader.ts";

/** Up to this many bytes, an ASCII string is assembled with String.fromCharCode (measured faster than a native call). */
const shortAsciiMaxBytes = 24;

export class StringDecoder {
  private readonly bytes: Uint8Array;
  private readonly buffer: Buffer;
  private readonly rejectInvalidUtf8: boolean;

  constructor(bytes: Uint8Array, rejectInvalidUtf8: boolean) {
    this.bytes = bytes;
    this.buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.rejectInvalidUtf8 = rejectInvalidUtf8;
  }

  decode(start: number, end: number): string {
    const n = end - start;
    if (n === 0) return "";
    const b = this.bytes;
    if (n <= shortAsciiMaxBytes) {
      let ascii = true;
      for (let i = start; i < end; i++) {
        if (b[i]! >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (ascii) return String.fromCharCode.apply(null, b.subarray(start, end) as unknown as number[]);
    }
    if (this.rejectInvalidUtf8 && !isUtf8(b.subarray(start, end))) {
      throw malformedAt(start, "invalid UTF-8 in string_table entry");
    }
    return this.buffer.toString("utf8", start, end);
  }
}
