/**
 * Function names crossing from a query worker to the main thread once, not once per dataset.
 * Every dataset's partial tree carries its own name list, and the same few thousand names
 * (long, for Go and Java) come back for every block of a long range: cloning them per message
 * cost more than summing the samples. The worker gives each name it sends a number and sends
 * the text only the first time; the main thread keeps the texts per worker and rebuilds each
 * list from the numbers — the same string objects every time, so interning them is cheap too.
 *
 * The dictionary is bounded: past `namesMax` names the worker starts a new generation, and
 * the main thread drops its copy when it sees one.
 */

/** Names of one message, encoded. */
export interface EncodedNames {
  generation: number;
  /** Texts new in this generation, numbered from the receiver's current count on. */
  added: string[];
  ids: Int32Array;
}

export const NAMES_MAX_DEFAULT = 1 << 20;

export class NameEncoder {
  readonly #ids = new Map<string, number>();
  readonly #namesMax: number;
  #generation = 0;

  constructor(namesMax = NAMES_MAX_DEFAULT) {
    if (!(Number.isInteger(namesMax) && namesMax >= 1)) throw new RangeError(`namesMax ${namesMax}`);
    this.#namesMax = namesMax;
  }

  get generation(): number {
    return this.#generation;
  }

  /** Forgets every name: the next message starts a new generation. */
  reset(): void {
    this.#ids.clear();
    this.#generation++;
  }

  encode(names: readonly string[]): EncodedNames {
    if (this.#ids.size + names.length > this.#namesMax) this.reset();
    const added: string[] = [];
    const ids = new Int32Array(names.length);
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      let id = this.#ids.get(name);
      if (id === undefined) {
        id = this.#ids.size;
        this.#ids.set(name, id);
        added.push(name);
      }
      ids[i] = id;
    }
    return { generation: this.#generation, added, ids };
  }
}

export class NameDecoder {
  #names: string[] = [];
  #generation = 0;

  decode(encoded: EncodedNames): string[] {
    if (encoded.generation !== this.#generation) {
      this.#names = [];
      this.#generation = encoded.generation;
    }
    for (const name of encoded.added) this.#names.push(name);
    const out = new Array<string>(encoded.ids.length);
    for (let i = 0; i < encoded.ids.length; i++) {
      const name = this.#names[encoded.ids[i]!];
      if (name === undefined) throw new Error(`name ${encoded.ids[i]} unknown to the decoder`);
      out[i] = name;
    }
    return out;
  }
}
