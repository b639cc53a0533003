import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NameDecoder, NameEncoder } from "./name-dictionary.ts";

describe("name dictionary", () => {
  it("sends each text once and rebuilds every list, in order", () => {
    const encoder = new NameEncoder();
    const decoder = new NameDecoder();
    const first = encoder.encode(["main", "work", "gc"]);
    assert.deepEqual(first.added, ["main", "work", "gc"]);
    assert.deepEqual(decoder.decode(first), ["main", "work", "gc"]);
    const second = encoder.encode(["gc", "main", "io"]);
    assert.deepEqual(second.added, ["io"]);
    assert.deepEqual([...second.ids], [2, 0, 3]);
    assert.deepEqual(decoder.decode(second), ["gc", "main", "io"]);
  });

  it("starts a new generation when full or reset, and the decoder follows", () => {
    const encoder = new NameEncoder(3);
    const decoder = new NameDecoder();
    assert.deepEqual(decoder.decode(encoder.encode(["a", "b"])), ["a", "b"]);
    const full = encoder.encode(["c", "d"]);
    assert.equal(full.generation, 1);
    assert.deepEqual(full.added, ["c", "d"]);
    assert.deepEqual(decoder.decode(full), ["c", "d"]);
    // A message lost after encoding (the worker resets): the next one still decodes.
    encoder.encode(["e"]);
    encoder.reset();
    assert.deepEqual(decoder.decode(encoder.encode(["e", "c"])), ["e", "c"]);
  });

  it("refuses an id it was never sent", () => {
    const encoder = new NameEncoder();
    const decoder = new NameDecoder();
    encoder.encode(["lost"]);
    assert.throws(() => decoder.decode(encoder.encode(["x"])), /unknown to the decoder/);
  });
});
