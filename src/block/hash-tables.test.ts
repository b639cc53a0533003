/**
 * The ingest-path hash tables (symbol rows, whole-stack cache, stack tree reserve) and the
 * bulk varint/string-column writers: exact interning, including under full 32-bit hash
 * collisions, and bytes identical to the one-value-at-a-time writers.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { decodePprof } from "../formats/pprof/decode.ts";
import { testdata } from "../testing/testdata.ts";
import { DatasetBuilder } from "./dataset-builder.ts";
import { ByteReader, ByteWriter, readStringColumn, writeStringColumn } from "./encoding.ts";
import { RowTable, rowHash } from "./row-table.ts";
import { StackCache, sequenceHash } from "./stack-cache.ts";
import { StackTreeBuilder } from "./stack-tree.ts";
import { buildPprof, normalize } from "./test-fixtures.ts";

function xorshift(seed: number): () => number {
  let state = seed | 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
}

/** Two different integer tuples of `width` with the same `hash` (birthday search, seeded). */
function collidingTuples(width: number, hash: (tuple: number[]) => number): [number[], number[]] {
  const random = xorshift(12345 + width);
  const seen = new Map<number, number[]>();
  for (let i = 0; i < 1_000_000; i++) {
    const tuple = Array.from({ length: width }, () => random() % 100_000);
    const h = hash(tuple);
    const other = seen.get(h);
    if (other !== undefined && other.join() !== tuple.join()) return [other, tuple];
    seen.set(h, tuple);
  }
  throw new Error("no collision found");
}

function internRow(table: RowTable, row: readonly number[]): number {
  table.row.set(row);
  return table.intern();
}

describe("RowTable", () => {
  it("interns rows by exact content, across growth and rehashing", () => {
    const table = new RowTable(4, "test rows", 1 << 20);
    const reference = new Map<string, number>();
    const random = xorshift(7);
    const special = [0, -0, 1, -1, 2 ** 31, 2 ** 32, 2 ** 32 + 1, 2 ** 53, 2 ** 53 + 2, 2 ** 64, -(2 ** 40)];
    for (let i = 0; i < 20_000; i++) {
      const row =
        i % 10 === 0
          ? Array.from({ length: 4 }, () => special[random() % special.length]!)
          : Array.from({ length: 4 }, () => random() % 64);
      // String keys of the old implementation: -0 and 0 are the same key, as `===` says.
      const key = row.map((v) => String(v === 0 ? 0 : v)).join(",");
      const id = internRow(table, row);
      const expected = reference.get(key);
      if (expected === undefined) {
        assert.equal(id, reference.size, "a new row gets the next id");
        reference.set(key, id);
      } else {
        assert.equal(id, expected, `row ${key}`);
      }
    }
    assert.equal(table.count, reference.size);
    for (const [key, id] of reference) {
      const row = key.split(",").map(Number);
      // The first-seen of 0 and -0 is stored; both encode as 0.
      for (let c = 0; c < 4; c++) assert.ok(table.value(id, c) === row[c], `${key} column ${c}`);
    }
    assert.deepEqual(
      Array.from(table.column(1), (v) => (v === 0 ? 0 : v)),
      [...reference.keys()].map((key) => Number(key.split(",")[1])),
    );
  });

  it("keeps rows apart whose hashes collide", () => {
    const [a, b] = collidingTuples(4, (tuple) => rowHash(tuple, 4));
    assert.equal(rowHash(a, 4), rowHash(b, 4));
    assert.notDeepEqual(a, b);
    const table = new RowTable(4, "test rows", 100);
    const idA = internRow(table, a);
    const idB = internRow(table, b);
    assert.notEqual(idA, idB);
    assert.equal(internRow(table, b), idB);
    assert.equal(internRow(table, a), idA);
    assert.equal(table.count, 2);
  });

  it("refuses to exceed its row limit", () => {
    const table = new RowTable(1, "tiny", 2);
    internRow(table, [1]);
    internRow(table, [2]);
    assert.equal(internRow(table, [1]), 0);
    assert.throws(() => internRow(table, [3]), /symbol tiny exceed 2/);
  });
});

describe("StackCache", () => {
  it("finds exactly the sequences added, including prefixes and extensions of each other", () => {
    const cache = new StackCache();
    const reference = new Map<string, number>();
    const random = xorshift(99);
    const sequence = new Uint32Array(64);
    for (let i = 0; i < 30_000; i++) {
      const length = random() % 12;
      for (let j = 0; j < length; j++) sequence[j] = random() % 4;
      const key = Array.from(sequence.subarray(0, length)).join(",");
      const hash = sequenceHash(sequence, length);
      const node = cache.find(sequence, length, hash);
      const expected = reference.get(key);
      if (expected === undefined) {
        assert.equal(node, -1, `sequence [${key}] was never added`);
        cache.add(sequence, length, hash, i);
        reference.set(key, i);
      } else {
        assert.equal(node, expected, `sequence [${key}]`);
      }
    }
    assert.equal(cache.count, reference.size);
  });

  it("keeps sequences apart whose hashes collide", () => {
    const [a, b] = collidingTuples(3, (tuple) => sequenceHash(tuple, 3));
    const cache = new StackCache();
    const seqA = Uint32Array.from(a);
    const seqB = Uint32Array.from(b);
    const hash = sequenceHash(seqA, 3);
    assert.equal(sequenceHash(seqB, 3), hash);
    assert.equal(cache.find(seqA, 3, hash), -1);
    cache.add(seqA, 3, hash, 11);
    assert.equal(cache.find(seqB, 3, hash), -1);
    cache.add(seqB, 3, hash, 22);
    assert.equal(cache.find(seqA, 3, hash), 11);
    assert.equal(cache.find(seqB, 3, hash), 22);
  });

  it("reserve keeps the entries, and add needs a missed find", () => {
    const cache = new StackCache();
    const sequence = Uint32Array.of(5, 6, 7);
    const hash = sequenceHash(sequence, 3);
    cache.find(sequence, 3, hash);
    cache.add(sequence, 3, hash, 42);
    cache.reserve(100_000, 1_000_000);
    assert.equal(cache.find(sequence, 3, hash), 42);
    assert.throws(() => cache.add(sequence, 3, hash, 43), /without a missed find/);
  });
});

describe("StackTreeBuilder.reserve", () => {
  it("keeps every node and its id", () => {
    const tree = new StackTreeBuilder();
    const random = xorshift(3);
    const pairs: [number, number, number][] = [];
    for (let i = 0; i < 5000; i++) {
      const parent = random() % tree.nodeCount;
      const location = random() % 50;
      pairs.push([parent, location, tree.intern(parent, location)]);
    }
    const before = tree.snapshot();
    tree.reserve(1_000_000);
    for (const [parent, location, node] of pairs) assert.equal(tree.intern(parent, location), node);
    assert.deepEqual(tree.snapshot(), before);
  });
});

describe("bulk writers", () => {
  it("uvarints and varints write the bytes of uvarint and varint", () => {
    const unsigned = [0, 1, 127, 128, 300, 2 ** 30, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 + 2, 2 ** 64];
    const signed = [0, -1, 1, 2 ** 30 - 1, 2 ** 30, -(2 ** 30), 2 ** 31, -(2 ** 53), 2 ** 53 + 2, -0];
    const one = new ByteWriter(1, 4096);
    for (const v of unsigned) one.uvarint(v);
    for (const v of signed) one.varint(v);
    const bulk = new ByteWriter(1, 4096);
    bulk.uvarints(Float64Array.from(unsigned));
    bulk.varints(Float64Array.from(signed));
    assert.deepEqual(bulk.finish(), one.finish());
  });

  it("string columns are per-string UTF-8, also for lone surrogates next to each other", () => {
    for (const strings of [
      ["", "main", "runtime.mallocgc", "a".repeat(300)],
      ["", "héllo", "日本語", "\uD800", "\uDC00", "x\uD83D", "\uDE00y", "😀"],
    ]) {
      const writer = new ByteWriter(1, 4096);
      writeStringColumn(writer, strings);
      const expected = new ByteWriter(1, 4096);
      const encoded = strings.map((text) => Buffer.from(text, "utf8"));
      for (const bytes of encoded) expected.uvarint(bytes.length);
      for (const bytes of encoded) expected.bytes(bytes);
      assert.deepEqual(writer.finish(), expected.finish());
      const reader = new ByteReader(writer.finish(), "test");
      const back = readStringColumn(reader, strings.length);
      reader.end();
      assert.deepEqual(
        back,
        encoded.map((bytes) => bytes.toString("utf8")),
      );
    }
  });
});

describe("DatasetBuilder stack interning", () => {
  it("a second push of the same content (a new Pprof) adds no symbols and reuses every node", () => {
    const make = () =>
      buildPprof({
        sampleTypes: [["cpu", "nanoseconds"]],
        locations: [
          { address: 0x10, lines: [{ fn: "main", line: 1 }] },
          {
            address: 0x20,
            lines: [
              { fn: "inlined", line: 7 },
              { fn: "caller", line: 3 },
            ],
          },
          { address: 0x30, lines: [], mapping: "libc.so" },
        ],
        samples: [
          { stack: [1, 0], values: [5] },
          { stack: [2, 1, 0], values: [7] },
          { stack: [0], values: [1] },
        ],
      });
    const once = new DatasetBuilder("t", "svc");
    once.append(normalize(make(), { service: "svc" }));
    const twice = new DatasetBuilder("t", "svc");
    twice.append(normalize(make(), { service: "svc" }));
    twice.append(normalize(make(), { service: "svc", timeNanos: 2n }));
    const symbolsOf = (builder: DatasetBuilder) => builder.encode().sections[0]!.payload;
    assert.deepEqual(symbolsOf(twice), symbolsOf(once));
  });

  const corpus = testdata("pprof");
  it("real pprof: repeated pushes leave the symbols section unchanged", { skip: corpus.skip }, () => {
    const bytes = readFileSync(join(corpus.dir ?? "", "pyroscope-go-heap.pb.gz"));
    const push = (builder: DatasetBuilder, time: bigint) => {
      const pprof = decodePprof(bytes, { maxDecompressedBytes: 64 << 20 });
      for (let t = 0; t < pprof.sampleTypeStr.length; t++) {
        builder.append(normalize(pprof, { service: "svc", typeIndex: t, timeNanos: time }));
      }
    };
    const once = new DatasetBuilder("t", "svc");
    push(once, 1n);
    const thrice = new DatasetBuilder("t", "svc");
    for (let i = 1n; i <= 3n; i++) push(thrice, i);
    assert.deepEqual(thrice.encode().sections[0]!.payload, once.encode().sections[0]!.payload);
  });
});
