import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NameDecoder, NameSender } from "./name-dictionary.ts";

/** Interns `names` into the sender's table and returns their ids, as a worker task does. */
function intern(sender: NameSender, names: readonly string[]): Int32Array {
  const table = sender.table();
  return Int32Array.from(names.map((name) => table.id(name)));
}

describe("name dictionary", () => {
  it("sends each text once and rebuilds every list, in order", () => {
    const sender = new NameSender();
    const decoder = new NameDecoder();
    const first = sender.encode(intern(sender, ["main", "work", "gc"]));
    assert.deepEqual(first.added, ["main", "work", "gc"]);
    assert.deepEqual(decoder.decode(first), ["main", "work", "gc"]);
    const second = sender.encode(intern(sender, ["gc", "main", "io"]));
    assert.deepEqual(second.added, ["io"]);
    assert.deepEqual([...second.ids], [2, 0, 3]);
    assert.deepEqual(decoder.decode(second), ["gc", "main", "io"]);
  });

  it("starts a new generation when full or reset, and the decoder follows", () => {
    const sender = new NameSender(3);
    const decoder = new NameDecoder();
    assert.deepEqual(decoder.decode(sender.encode(intern(sender, ["a", "b", "c"]))), ["a", "b", "c"]);
    // The table is full: the next message starts generation 1 with its own texts.
    const next = sender.encode(intern(sender, ["c", "d"]));
    assert.equal(next.generation, 1);
    assert.deepEqual(next.added, ["c", "d"]);
    assert.deepEqual(decoder.decode(next), ["c", "d"]);
    // A message lost after interning (the worker resets): the next one still decodes.
    intern(sender, ["e"]);
    sender.reset();
    assert.deepEqual(decoder.decode(sender.encode(intern(sender, ["e", "c"]))), ["e", "c"]);
  });

  it("refuses ids outside the table, and ids the decoder was never sent", () => {
    const sender = new NameSender();
    assert.throws(() => sender.encode(Int32Array.of(0)), /not in the table/);
    const decoder = new NameDecoder();
    sender.encode(intern(sender, ["lost"]));
    assert.throws(() => decoder.decode(sender.encode(intern(sender, ["x"]))), /unknown to the decoder/);
  });
});
