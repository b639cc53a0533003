/**
 * Long-lived per-dataset dictionaries (`SymbolsBuilder`: strings, mappings, functions,
 * locations, stack tree, whole-stack cache), kept from one segment to the next so that a
 * resent stack costs a cache hit instead of a fresh intern. Bounded by a total byte budget,
 * least recently used first out, and by a per-dataset cap.
 *
 * Eviction only drops the cache's reference: a segment that already interned into a dictionary
 * keeps it (its `DatasetBuilder` holds it) until the segment is encoded, and the next segment
 * of that dataset starts a new one. So eviction costs speed, never correctness: blocks only
 * ever contain what their own profiles reference (`encodeSymbolsSubset`).
 */
import { assert } from "./format.ts";
import { SymbolsBuilder } from "./symbols.ts";

export interface DictionaryCacheOptions {
  /** Budget for all dictionaries together (`SymbolsBuilder.memoryBytes`); 0 disables reuse. */
  bytesMax: number;
  /** A dictionary past this size is replaced by a new one before its next segment. */
  datasetBytesMax: number;
}

export interface DictionaryCacheStats {
  dictionaries: number;
  bytes: number;
  /** Dictionaries dropped for the total budget or the per-dataset cap, since creation. */
  evictions: number;
}

export class DictionaryCache {
  readonly #bytesMax: number;
  readonly #datasetBytesMax: number;
  /** Insertion order is recency order: `get` moves an entry to the end. */
  readonly #dictionaries = new Map<string, SymbolsBuilder>();
  #evictions = 0;

  constructor(options: DictionaryCacheOptions) {
    assert(options.bytesMax >= 0 && options.datasetBytesMax >= 0, "DictionaryCache: byte limits >= 0");
    this.#bytesMax = options.bytesMax;
    this.#datasetBytesMax = options.datasetBytesMax;
  }

  /**
   * The dictionary of (tenant, service), marked most recently used; a new one if there is none
   * or the existing one passed the per-dataset cap. With a budget of 0, always a new one.
   */
  get(tenant: string, service: string): SymbolsBuilder {
    if (this.#bytesMax === 0) return new SymbolsBuilder();
    const key = `${tenant}\u0000${service}`;
    let dictionary = this.#dictionaries.get(key);
    if (dictionary !== undefined) {
      this.#dictionaries.delete(key);
      if (dictionary.memoryBytes > this.#datasetBytesMax) {
        dictionary = undefined;
        this.#evictions++;
      }
    }
    dictionary ??= new SymbolsBuilder();
    this.#dictionaries.set(key, dictionary);
    return dictionary;
  }

  /**
   * Evicts least recently used dictionaries until the total fits the budget, and any past the
   * per-dataset cap. Dictionaries grow while profiles are appended, so call this between
   * segments. O(dictionaries).
   */
  enforceBudget(): void {
    let total = 0;
    for (const [key, dictionary] of this.#dictionaries) {
      const bytes = dictionary.memoryBytes;
      if (bytes > this.#datasetBytesMax) {
        this.#dictionaries.delete(key);
        this.#evictions++;
      } else {
        total += bytes;
      }
    }
    for (const [key, dictionary] of this.#dictionaries) {
      if (total <= this.#bytesMax) break;
      total -= dictionary.memoryBytes;
      this.#dictionaries.delete(key);
      this.#evictions++;
    }
  }

  stats(): DictionaryCacheStats {
    let bytes = 0;
    for (const dictionary of this.#dictionaries.values()) bytes += dictionary.memoryBytes;
    return { dictionaries: this.#dictionaries.size, bytes, evictions: this.#evictions };
  }
}
