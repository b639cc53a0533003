/**
 * Content interning of fixed-width rows of integer doubles (symbol tables: mappings, functions,
 * locations) with an open-addressing hash table on typed arrays: no string keys and no
 * allocation per lookup. Equality is exact (`===` per column, so 0 and -0 are one value).
 */
import { fail } from "./format.ts";

const INITIAL_ROW_CAPACITY = 256;
const TWO_POW_32 = 2 ** 32;

/**
 * Hash of one integer double, combined into `h`. Equal doubles give equal results: `v | 0` and
 * `(v / 2^32) | 0` are deterministic functions of the value (and 0, -0 agree).
 */
export function mixNumber(h: number, v: number): number {
  h = Math.imul(h ^ (v | 0), 0xcc9e2d51);
  h = (h << 15) | (h >>> 17);
  h = Math.imul(h ^ ((v / TWO_POW_32) | 0), 0x1b873593);
  return (h << 13) | (h >>> 19);
}

/** Final avalanche (murmur3 fmix32). */
export function finishHash(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** The hash `RowTable` uses for a row (exported for tests that need colliding rows). */
export function rowHash(row: ArrayLike<number>, width: number): number {
  let h = width;
  for (let c = 0; c < width; c++) h = mixNumber(h, row[c]!);
  return finishHash(h);
}

export class RowTable {
  readonly width: number;
  /** Scratch row: the caller fills `row[0..width)` and calls `intern()`. */
  readonly row: Float64Array;
  readonly #what: string;
  readonly #countMax: number;
  /** Row-major values, `width` per row. */
  #values: Float64Array;
  #hashes: Int32Array;
  #count = 0;
  /** Row id + 1 per slot, 0 = empty. Power of two, at least twice the row count. */
  #slots: Int32Array;

  constructor(width: number, what: string, countMax: number) {
    this.width = width;
    this.row = new Float64Array(width);
    this.#what = what;
    this.#countMax = countMax;
    this.#values = new Float64Array(INITIAL_ROW_CAPACITY * width);
    this.#hashes = new Int32Array(INITIAL_ROW_CAPACITY);
    this.#slots = new Int32Array(INITIAL_ROW_CAPACITY * 2);
  }

  get count(): number {
    return this.#count;
  }

  /** Bytes held by the table's typed arrays (capacity, not just the rows in use). */
  get memoryBytes(): number {
    return this.#values.byteLength + this.#hashes.byteLength + this.#slots.byteLength;
  }

  value(id: number, column: number): number {
    return this.#values[id * this.width + column]!;
  }

  /** A copy of one column of every row, in id order. */
  column(column: number): Float64Array {
    const out = new Float64Array(this.#count);
    const values = this.#values;
    const width = this.width;
    for (let id = 0; id < out.length; id++) out[id] = values[id * width + column]!;
    return out;
  }

  /** Returns the id of the row equal to `row`, adding it when new. */
  intern(): number {
    const row = this.row;
    const width = this.width;
    const hash = rowHash(row, width);
    const slots = this.#slots;
    const mask = slots.length - 1;
    const values = this.#values;
    const hashes = this.#hashes;
    let slot = hash & mask;
    // Bounded: the table is at most half full, so a probe meets an empty slot within its length.
    for (let probe = 0; probe <= mask; probe++) {
      const entry = slots[slot]!;
      if (entry === 0) return this.#insert(slot, hash);
      const id = entry - 1;
      if (hashes[id] === hash) {
        let at = id * width;
        let c = 0;
        while (c < width && values[at] === row[c]) {
          at++;
          c++;
        }
        if (c === width) return id;
      }
      slot = (slot + 1) & mask;
    }
    throw new Error(`${this.#what}: hash table full (load factor invariant broken)`);
  }

  #insert(slot: number, hash: number): number {
    const id = this.#count;
    if (!(id < this.#countMax)) fail(`symbol ${this.#what} exceed ${this.#countMax}`);
    if (id === this.#hashes.length) this.#grow();
    this.#values.set(this.row, id * this.width);
    this.#hashes[id] = hash;
    this.#slots[slot] = id + 1;
    this.#count = id + 1;
    if (this.#count * 2 > this.#slots.length) this.#rehash();
    return id;
  }

  #grow(): void {
    const capacity = this.#hashes.length * 2;
    const values = new Float64Array(capacity * this.width);
    values.set(this.#values);
    this.#values = values;
    const hashes = new Int32Array(capacity);
    hashes.set(this.#hashes);
    this.#hashes = hashes;
  }

  #rehash(): void {
    const slots = new Int32Array(this.#slots.length * 2);
    const mask = slots.length - 1;
    for (let id = 0; id < this.#count; id++) {
      let slot = this.#hashes[id]! & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = id + 1;
    }
    this.#slots = slots;
  }
}
