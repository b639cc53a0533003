/**
 * pprof id → array index resolution (wire reference §1.2: ids are arbitrary non-zero keys,
 * not positions).
 *
 * Fast path: almost every producer writes `id == index + 1`, checked with one array read.
 * Only when some id breaks that pattern is a Map built. Ids of 2^53 and above cannot be
 * represented exactly as numbers; the decoder passes those as decimal strings, kept in
 * `bigKeys` by entity index, so they resolve exactly too.
 */
import { malformedAt } from "./wire-reader.ts";

export type IdKey = number | string;

export class IdIndex {
  readonly what: string;
  readonly ids: Float64Array;
  /** Entity index → exact decimal id, only for ids >= 2^53. */
  bigKeys: Map<number, string> | undefined;
  private map: Map<IdKey, number> | undefined;
  private sequential = true;

  constructor(what: string, count: number) {
    this.what = what;
    this.ids = new Float64Array(count);
  }

  set(index: number, key: IdKey): void {
    if (typeof key === "string") {
      this.bigKeys ??= new Map();
      this.bigKeys.set(index, key);
      this.ids[index] = Number(key);
      this.sequential = false;
      return;
    }
    this.ids[index] = key;
    if (key !== index + 1) this.sequential = false;
  }

  /** Call once all ids are set. Throws on duplicate non-zero ids. */
  seal(): void {
    if (this.sequential) return;
    const map = new Map<IdKey, number>();
    const ids = this.ids;
    for (let i = 0; i < ids.length; i++) {
      const key: IdKey = this.bigKeys?.get(i) ?? ids[i]!;
      // Id 0 is "unset": such an entity cannot be referenced (pprof requires non-zero ids).
      if (key === 0) continue;
      if (map.has(key)) throw malformedAt(0, `duplicate ${this.what} id ${key}`);
      map.set(key, i);
    }
    this.map = map;
  }

  /** Index of the entity with this id, or -1. */
  find(key: IdKey): number {
    if (typeof key === "number") {
      const i = key - 1;
      if (i >= 0 && i < this.ids.length && this.ids[i] === key) return i;
    }
    if (this.map === undefined) return -1;
    return this.map.get(key) ?? -1;
  }

  /** Like find, but a missing id is a malformed profile. */
  resolve(key: IdKey, at: number): number {
    const i = this.find(key);
    if (i < 0) throw malformedAt(at, `reference to missing ${this.what} id ${key}`);
    return i;
  }
}
