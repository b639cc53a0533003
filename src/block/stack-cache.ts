/**
 * Whole-stack cache of one dataset: stored-location sequence (root first) → stack node. The
 * stack tree interns a stack one frame at a time, one hash probe per frame into a table that
 * outgrows the CPU caches; agents resend the same stacks in every push (and every sample type
 * of a pprof repeats them), so a stack seen before costs one sequential hash, one probe and one
 * sequential comparison instead. Exact: an entry matches only when the whole sequence is equal.
 */
import { finishHash } from "./row-table.ts";

const INITIAL_ENTRY_CAPACITY = 1024;
const INITIAL_POOL_CAPACITY = 16 * 1024;

/** Hash of `values[0..length)` (exported for tests that need colliding sequences). */
export function sequenceHash(values: ArrayLike<number>, length: number): number {
  let h = length;
  for (let i = 0; i < length; i++) h = Math.imul(((h << 5) | (h >>> 27)) ^ values[i]!, 0x9e3779b1);
  return finishHash(h);
}

export class StackCache {
  /** Entry id + 1 per slot, 0 = empty; power of two, at least twice the entry count. */
  #slots = new Int32Array(INITIAL_ENTRY_CAPACITY * 2);
  #hash = new Int32Array(INITIAL_ENTRY_CAPACITY);
  /** Entry i's sequence is `#pool[#start[i]..#start[i] + #length[i])`. */
  #start = new Int32Array(INITIAL_ENTRY_CAPACITY);
  #length = new Int32Array(INITIAL_ENTRY_CAPACITY);
  #node = new Int32Array(INITIAL_ENTRY_CAPACITY);
  #count = 0;
  #pool = new Uint32Array(INITIAL_POOL_CAPACITY);
  #poolLength = 0;
  /** Slot where the last missed `find` would insert. */
  #missSlot = -1;

  get count(): number {
    return this.#count;
  }

  /** Bytes held by the cache's typed arrays (capacity, not just the entries in use). */
  get memoryBytes(): number {
    const entries = this.#hash.byteLength + this.#start.byteLength + this.#length.byteLength;
    return entries + this.#node.byteLength + this.#slots.byteLength + this.#pool.byteLength;
  }

  /**
   * The node cached for `sequence[0..length)` with hash `hash` (`sequenceHash`), or -1. After a
   * miss, `add` with the same arguments (and no other call in between) inserts the entry.
   */
  find(sequence: Uint32Array, length: number, hash: number): number {
    if ((this.#count + 1) * 2 > this.#slots.length) this.#rehash();
    const slots = this.#slots;
    const mask = slots.length - 1;
    const pool = this.#pool;
    let slot = hash & mask;
    for (;;) {
      const entry = slots[slot]!;
      if (entry === 0) {
        this.#missSlot = slot;
        return -1;
      }
      const id = entry - 1;
      if (this.#hash[id] === hash && this.#length[id] === length) {
        let at = this.#start[id]!;
        let i = 0;
        while (i < length && pool[at] === sequence[i]) {
          at++;
          i++;
        }
        if (i === length) return this.#node[id]!;
      }
      slot = (slot + 1) & mask;
    }
  }

  /** Inserts `sequence[0..length)` → `node` where the preceding `find` missed. */
  add(sequence: Uint32Array, length: number, hash: number, node: number): void {
    const slot = this.#missSlot;
    if (!(slot >= 0 && this.#slots[slot] === 0)) throw new Error("StackCache.add without a missed find");
    this.#missSlot = -1;
    const id = this.#count;
    if (id === this.#hash.length) this.#growEntries();
    if (this.#poolLength + length > this.#pool.length) this.#growPool(this.#poolLength + length);
    const pool = this.#pool;
    let at = this.#poolLength;
    for (let i = 0; i < length; i++) pool[at++] = sequence[i]!;
    this.#hash[id] = hash;
    this.#start[id] = this.#poolLength;
    this.#length[id] = length;
    this.#node[id] = node;
    this.#poolLength += length;
    this.#slots[slot] = id + 1;
    this.#count = id + 1;
  }

  /** Makes room for `entries` entries and `poolValues` frames in all up front (a hint). */
  reserve(entries: number, poolValues: number): void {
    if (poolValues > this.#pool.length) this.#growPool(poolValues);
    if (entries > this.#hash.length) {
      let capacity = this.#hash.length;
      while (capacity < entries) capacity *= 2;
      this.#growEntries(capacity);
    }
    if (entries * 2 > this.#slots.length) this.#rehash(entries * 2);
  }

  #growEntries(capacity = this.#hash.length * 2): void {
    const grow = (old: Int32Array): Int32Array<ArrayBuffer> => {
      const next = new Int32Array(capacity);
      next.set(old);
      return next;
    };
    this.#hash = grow(this.#hash);
    this.#start = grow(this.#start);
    this.#length = grow(this.#length);
    this.#node = grow(this.#node);
  }

  #growPool(needed: number): void {
    const pool = new Uint32Array(Math.max(needed, this.#pool.length * 2));
    pool.set(this.#pool.subarray(0, this.#poolLength));
    this.#pool = pool;
  }

  /** Rebuilds the slots with at least `slotCount` of them (rounded up to a power of two). */
  #rehash(slotCount = this.#slots.length * 2): void {
    let size = this.#slots.length;
    while (size < slotCount) size *= 2;
    const slots = new Int32Array(size);
    const mask = slots.length - 1;
    for (let id = 0; id < this.#count; id++) {
      let slot = this.#hash[id]! & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = id + 1;
    }
    this.#slots = slots;
    this.#missSlot = -1;
  }
}
