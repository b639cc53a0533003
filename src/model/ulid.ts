/**
 * ULIDs (https://github.com/ulid/spec): 48-bit millisecond time + 80 random bits, 26 chars of
 * Crockford base32. Block ids are ULIDs so that object keys sort by creation time.
 * Monotonic within a process: ids made in the same millisecond still sort in creation order.
 */
import { randomBytes } from "node:crypto";

const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const maxTimeMs = 2 ** 48 - 1;

let lastTimeMs = -1;
let lastRandom: Uint8Array = new Uint8Array(10);

export function ulid(nowMs: number = Date.now()): string {
  if (!Number.isInteger(nowMs) || nowMs < 0 || nowMs > maxTimeMs) {
    throw new RangeError(`ulid: time ${nowMs} out of range`);
  }
  let random: Uint8Array;
  if (nowMs <= lastTimeMs) {
    // Same (or an earlier, after a clock step back) millisecond: increment the previous random
    // part so ids stay strictly increasing.
    random = incremented(lastRandom);
    nowMs = lastTimeMs;
  } else {
    random = randomBytes(10);
  }
  lastTimeMs = nowMs;
  lastRandom = random;
  return encodeTime(nowMs) + encodeRandom(random);
}

/** The creation time of a ULID, in ms. */
export function ulidTimeMs(id: string): number {
  if (id.length !== 26) throw new Error(`invalid ULID ${JSON.stringify(id)}`);
  let t = 0;
  for (let i = 0; i < 10; i++) {
    const v = alphabet.indexOf(id[i]!.toUpperCase());
    if (v < 0) throw new Error(`invalid ULID ${JSON.stringify(id)}`);
    t = t * 32 + v;
  }
  return t;
}

function encodeTime(ms: number): string {
  let out = "";
  for (let i = 0; i < 10; i++) {
    out = alphabet[ms % 32]! + out;
    ms = Math.floor(ms / 32);
  }
  return out;
}

function encodeRandom(bytes: Uint8Array): string {
  // 80 bits = 16 base32 digits; walk the bits 5 at a time.
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const b of bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += alphabet[(buffer >> bits) & 31];
    }
    buffer &= (1 << bits) - 1;
  }
  return out;
}

function incremented(bytes: Uint8Array): Uint8Array {
  const next = bytes.slice();
  for (let i = next.length - 1; i >= 0; i--) {
    if (next[i] === 255) {
      next[i] = 0;
    } else {
      next[i]! += 1;
      return next;
    }
  }
  throw new Error("ulid: random part overflow within one millisecond");
}
