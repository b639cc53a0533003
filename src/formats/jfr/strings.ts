/**
 * JFR string encoding: one encoding byte, then
 * - 0: null;
 * - 1: the empty string;
 * - 2: a reference (compressed long) into the chunk's `java.lang.String` constant pool;
 * - 3: UTF-8: compressed int byte length, bytes;
 * - 4: char array: compressed int length, that many compressed chars (UTF-16 code units);
 * - 5: Latin-1: compressed int byte length, bytes.
 */
import type { JfrLong, JfrReader } from "./reader.ts";

/** A string still to be looked up in the `java.lang.String` constant pool. */
export interface StringRef {
  readonly stringRef: JfrLong;
}

export type JfrString = string | null | StringRef;

/** Default longest string accepted, in bytes (UTF-8/Latin-1) or UTF-16 units (char array). */
export const defaultMaxStringLength = 1 << 20;

export function readJfrString(r: JfrReader, maxLength = defaultMaxStringLength): JfrString {
  const at = r.pos;
  const encoding = r.u8();
  switch (encoding) {
    case 0:
      return null;
    case 1:
      return "";
    case 2:
      return { stringRef: r.varLong() };
    case 3:
      return r.utf8(checkedLength(r, maxLength));
    case 4: {
      const n = checkedLength(r, maxLength);
      const units = new Uint16Array(n);
      for (let i = 0; i < n; i++) units[i] = r.varChar();
      return decodeUtf16(units);
    }
    case 5:
      return r.latin1(checkedLength(r, maxLength));
    default:
      throw r.fail(`unknown string encoding ${encoding} (string starting at byte ${at})`);
  }
}

/** Skips a string without decoding it. */
export function skipJfrString(r: JfrReader): void {
  const encoding = r.u8();
  switch (encoding) {
    case 0:
    case 1:
      return;
    case 2:
      r.skipVarint();
      return;
    case 3:
    case 5:
      r.skip(r.count("string length"), "string");
      return;
    case 4: {
      const n = r.count("string length");
      for (let i = 0; i < n; i++) r.skipVarint();
      return;
    }
    default:
      throw r.fail(`unknown string encoding ${encoding}`);
  }
}

function checkedLength(r: JfrReader, maxLength: number): number {
  const at = r.pos;
  const n = r.count("string length");
  if (n > maxLength) {
    throw r.fail(`string of ${n} bytes at byte ${at} exceeds the limit of ${maxLength}`);
  }
  return n;
}

function decodeUtf16(units: Uint16Array): string {
  let s = "";
  const step = 8192;
  for (let i = 0; i < units.length; i += step) {
    s += String.fromCharCode(...units.subarray(i, i + step));
  }
  return s;
}

export function isStringRef(v: unknown): v is StringRef {
  return typeof v === "object" && v !== null && "stringRef" in v;
}
