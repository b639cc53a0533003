/**
 * Interns strings into dense ids in first-seen order: `list[id]` is the string. The string
 * tables of pprof output, block index sections, text-format conversion and query name trees
 * all have this shape. Bounded: past `countMax` distinct strings `id` throws a RangeError.
 */
export class StringInterner {
  readonly list: string[] = [];
  readonly #ids = new Map<string, number>();
  readonly #countMax: number;

  /** `initial` strings take ids 0, 1, … (pprof string tables start with ""). */
  constructor(options: { initial?: readonly string[]; countMax?: number } = {}) {
    this.#countMax = options.countMax ?? 2 ** 31 - 1;
    for (const text of options.initial ?? []) this.id(text);
  }

  get count(): number {
    return this.list.length;
  }

  id(text: string): number {
    let id = this.#ids.get(text);
    if (id === undefined) {
      id = this.list.length;
      if (!(id < this.#countMax)) throw new RangeError(`string table exceeds ${this.#countMax} strings`);
      this.list.push(text);
      this.#ids.set(text, id);
    }
    return id;
  }

  /** The id of `text` if interned, else -1 (lookups that must not grow the table). */
  find(text: string): number {
    return this.#ids.get(text) ?? -1;
  }
}
