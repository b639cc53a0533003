/**
 * Function names crossing from a query worker to the main thread once, not once per dataset.
 * Every dataset's partial tree names the same few thousand functions (long, for Go and Java)
 * for every block of a long range: cloning them per message cost more than summing the
 * samples, and interning them twice (per dataset, then for the message) cost as much again.
 *
 * So a worker interns every dataset's names into one table that outlives its tasks
 * (`NameSender.table`), sends each result's names as ids into that table, and sends the text
 * of a name only in the first message after it was interned. The main thread keeps the texts
 * per worker (`NameDecoder`) and rebuilds each list from the ids: the same string objects
 * every time, so interning them there is cheap too.
 *
 * Bounded: past `namesMax` names the worker starts a new table (a new generation), and the
 * main thread drops its copy when it sees one.
 */
import { NameTable } from "./tree.ts";

/** Names of one message, encoded. */
export interface EncodedNames {
  generation: number;
  /** Texts interned since the previous message of this generation, in id order. */
  added: string[];
  /** The message's names, as ids into the generation's table. */
  ids: Int32Array;
}

export const NAMES_MAX_DEFAULT = 1 << 20;

export class NameSender {
  readonly #namesMax: number;
  #table = new NameTable();
  #sent = 0;
  #generation = 0;

  constructor(namesMax = NAMES_MAX_DEFAULT) {
    if (!(Number.isInteger(namesMax) && namesMax >= 1)) throw new RangeError(`namesMax ${namesMax}`);
    this.#namesMax = namesMax;
  }

  get generation(): number {
    return this.#generation;
  }

  /** The table to intern the next message's names into (a fresh one once past the bound). */
  table(): NameTable {
    if (this.#table.count >= this.#namesMax) this.reset();
    return this.#table;
  }

  /** Forgets every name: the next message starts a new generation. */
  reset(): void {
    this.#table = new NameTable();
    this.#sent = 0;
    this.#generation++;
  }

  /** The message for `ids` (ids into `table()`): with the texts interned since the last one. */
  encode(ids: Int32Array): EncodedNames {
    const names = this.#table.names;
    for (const id of ids) {
      if (!(id >= 0 && id < names.length)) throw new RangeError(`name id ${id} not in the table`);
    }
    const added = names.slice(this.#sent);
    this.#sent = names.length;
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
