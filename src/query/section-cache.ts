/**
 * A byte-bounded LRU cache of decoded block sections, shared by all queries of one engine.
 * Blocks are immutable, so a section is keyed by (object key, offset) and never goes stale;
 * a deleted block's entries simply age out.
 *
 * Entries are promises, so concurrent queries wanting the same section share one ranged read
 * and one decode. A failed read is not kept (the next query retries). Sizes are estimates of
 * the decoded heap footprint (typed arrays exactly, strings and maps approximately), counted
 * once the decode resolves; an entry larger than the whole budget is returned but not kept.
 */

import type { IndexSection } from "../block/index-section.ts";
import type { ProfilesSection } from "../block/profiles-section.ts";
import type { RollupSection } from "../block/rollup-section.ts";
import type { SymbolsSection } from "../block/symbols.ts";

/** Heap bytes per string beyond its characters (header, array slot, map entry). */
const STRING_OVERHEAD_BYTES = 48;

interface Entry<T> {
  value: Promise<T>;
  bytes: number;
}

export class SectionCache {
  readonly maxBytes: number;
  /** Map iteration order is insertion order: the first entry is the least recently used. */
  readonly #entries = new Map<string, Entry<unknown>>();
  #bytes = 0;
  #hits = 0;
  #misses = 0;

  constructor(maxBytes: number) {
    if (!(maxBytes >= 0)) throw new RangeError(`section cache size ${maxBytes} invalid`);
    this.maxBytes = maxBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  get stats(): { hits: number; misses: number; bytes: number; entries: number } {
    return { hits: this.#hits, misses: this.#misses, bytes: this.#bytes, entries: this.#entries.size };
  }

  /** The cached value for `key`, or `load()`'s, cached with the size `sizeOf` gives it. */
  get<T>(key: string, load: () => Promise<T>, sizeOf: (value: T) => number): Promise<T> {
    const found = this.#entries.get(key) as Entry<T> | undefined;
    if (found !== undefined) {
      this.#hits++;
      this.#entries.delete(key);
      this.#entries.set(key, found);
      return found.value;
    }
    this.#misses++;
    if (this.maxBytes === 0) return load();
    const entry: Entry<T> = { value: load(), bytes: 0 };
    this.#entries.set(key, entry as Entry<unknown>);
    entry.value.then(
      (value) => {
        if (this.#entries.get(key) !== entry) return;
        const bytes = sizeOf(value);
        if (bytes > this.maxBytes) {
          this.#entries.delete(key);
          return;
        }
        entry.bytes = bytes;
        this.#bytes += bytes;
        this.#evict();
      },
      () => {
        if (this.#entries.get(key) === entry) this.#entries.delete(key);
      },
    );
    return entry.value;
  }

  /** Whether `key` is cached (or loading); does not touch the LRU order or the counters. */
  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** The cached value for `key` (marked recently used), or undefined. */
  lookup<T>(key: string): Promise<T> | undefined {
    const found = this.#entries.get(key) as Entry<T> | undefined;
    if (found === undefined) return undefined;
    this.#hits++;
    this.#entries.delete(key);
    this.#entries.set(key, found);
    return found.value;
  }

  /** Caches an already computed `value` under `key` unless present (then a no-op). */
  put<T>(key: string, value: T, bytes: number): void {
    if (this.#entries.has(key) || this.maxBytes === 0 || bytes > this.maxBytes) return;
    this.#entries.set(key, { value: Promise.resolve(value), bytes } as Entry<unknown>);
    this.#bytes += bytes;
    this.#evict();
  }

  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }

  #evict(): void {
    for (const [key, entry] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.#entries.delete(key);
      this.#bytes -= entry.bytes;
    }
  }
}

function stringBytes(s: string): number {
  return STRING_OVERHEAD_BYTES + 2 * s.length;
}

export function symbolsBytes(s: SymbolsSection): number {
  let bytes = 0;
  for (const text of s.strings) bytes += stringBytes(text);
  for (const value of Object.values(s)) if (ArrayBuffer.isView(value)) bytes += value.byteLength;
  bytes += s.stacks.parent.byteLength + s.stacks.location.byteLength;
  return bytes;
}

export function indexBytes(index: IndexSection): number {
  let bytes = 0;
  for (const labels of index.seriesLabels) {
    bytes += 32;
    for (const [name, value] of labels) bytes += 32 + stringBytes(name) + stringBytes(value);
  }
  for (const type of index.seriesProfileType) bytes += 8 + type.length * 2;
  for (const [name, values] of index.postings) {
    bytes += stringBytes(name);
    for (const [value, series] of values) bytes += stringBytes(value) + series.byteLength + 32;
  }
  return bytes;
}

export function profilesBytes(p: ProfilesSection): number {
  let bytes = 0;
  for (const value of Object.values(p)) if (ArrayBuffer.isView(value)) bytes += value.byteLength;
  return bytes;
}

export function rollupBytes(r: RollupSection): number {
  return profilesBytes(r.rows) + r.profileCounts.byteLength;
}
