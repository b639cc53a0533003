import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Pprof } from "../model/pprof.ts";
import { encodeBlock, encodeBlockAsync } from "./block-writer.ts";
import { DatasetBuilder, type EncodedDataset } from "./dataset-builder.ts";
import { DictionaryCache } from "./dictionary-cache.ts";
import { SectionKind } from "./format.ts";
import { resolveProfileSamples } from "./inspect.ts";
import { decodeProfiles, formatUuid } from "./profiles-section.ts";
import { decodeSymbols, SymbolsBuilder } from "./symbols.ts";
import { buildPprof, type FixtureLocation, normalize } from "./test-fixtures.ts";

/** `width` × `depth` distinct functions: stack s is f<s>_0 → … → f<s>_<depth-1> (root first). */
function widePprof(width: number, depth: number, seed: number, timeNanos: bigint): Pprof {
  const locations: FixtureLocation[] = [];
  const samples: { stack: number[]; values: number[] }[] = [];
  for (let s = 0; s < width; s++) {
    const stack: number[] = [];
    for (let d = 0; d < depth; d++) {
      stack.unshift(locations.length);
      locations.push({
        address: 0x1000 + locations.length,
        lines: [{ fn: `f${s}_${d}`, line: d + 1 }],
        mapping: "app",
      });
    }
    samples.push({ stack, values: [seed * 1000 + s + 1] });
  }
  return buildPprof({ sampleTypes: [["cpu", "nanoseconds"]], locations, samples, timeNanos });
}

/** A small pprof sharing the main → serve prefix with `webLike`, plus its own frames. */
function webLike(values: [number, number, number], extra: string, timeNanos: bigint): Pprof {
  const locations: FixtureLocation[] = [
    { address: 0x10, lines: [{ fn: "main", line: 1 }], mapping: "bin" },
    { address: 0x20, lines: [{ fn: "serve", line: 2 }], mapping: "bin" },
    // Inlined: parse (callee) inside handle.
    {
      address: 0x30,
      lines: [
        { fn: "parse", line: 7 },
        { fn: "handle", line: 3 },
      ],
      mapping: "bin",
    },
    { address: 0x40, lines: [{ fn: extra, line: 4 }], mapping: `lib-${extra}` },
    { address: 0x50, lines: [] },
  ];
  return buildPprof({
    sampleTypes: [["cpu", "nanoseconds"]],
    locations,
    samples: [
      { stack: [2, 1, 0], values: [values[0]] },
      { stack: [3, 1, 0], values: [values[1]] },
      { stack: [4, 3, 0], values: [values[2]] },
    ],
    timeNanos,
  });
}

/** Every profile of an encoded dataset: id and samples resolved to "a;b;c" = value. */
function readBack(encoded: EncodedDataset): Map<string, string[]> {
  const payload = (kind: number) => encoded.sections.find((s) => s.kind === kind)!.payload;
  const symbols = decodeSymbols(payload(SectionKind.symbols), "test");
  const profiles = decodeProfiles(payload(SectionKind.profiles), "test");
  const out = new Map<string, string[]>();
  for (let p = 0; p < profiles.profileCount; p++) {
    const samples = resolveProfileSamples(symbols, profiles, p).map((s) => `${s.stack.join(";")}=${s.value}`);
    out.set(formatUuid(profiles.profileIds.subarray(16 * p, 16 * p + 16)), samples.sort());
  }
  return out;
}

const T0 = 1_700_000_000_000_000_000n;
const SECOND = 1_000_000_000n;

describe("long-lived dictionaries", () => {
  it("segments interning into one dictionary read back exactly as with fresh builders", () => {
    const dictionary = new SymbolsBuilder();
    const pushes: Pprof[][] = [
      [webLike([1, 2, 3], "db", T0), widePprof(20, 6, 1, T0)],
      [webLike([4, 5, 6], "cache", T0 + SECOND), webLike([7, 8, 9], "db", T0 + SECOND)],
      [widePprof(20, 6, 2, T0 + 2n * SECOND)],
      [webLike([10, 11, 12], "queue", T0 + 3n * SECOND), widePprof(3, 2, 3, T0 + 3n * SECOND)],
    ];
    for (const segment of pushes) {
      const shared = new DatasetBuilder("t", "web", dictionary);
      const fresh = new DatasetBuilder("t", "web");
      for (const pprof of segment) {
        const profile = normalize(pprof, { service: "web" });
        shared.append(profile);
        fresh.append(profile);
      }
      const a = shared.encode();
      const b = fresh.encode();
      assert.deepEqual(readBack(a), readBack(b));
      // The same symbols and nodes, no more (ids may be in another order: the dictionary's).
      const [sa, sb] = [a, b].map((e) => decodeSymbols(e.sections[0]!.payload, "test"));
      assert.deepEqual([...sa!.strings].sort(), [...sb!.strings].sort());
      for (const count of ["mappingCount", "functionCount", "locationCount"] as const) {
        assert.equal(sa![count], sb![count], count);
      }
      assert.equal(sa!.stacks.nodeCount, sb!.stacks.nodeCount);
    }
  });

  it("keeps only the referenced symbols: a small profile after a large one makes a small block", () => {
    const dictionary = new SymbolsBuilder();
    const large = new DatasetBuilder("t", "web", dictionary);
    large.append(normalize(widePprof(200, 20, 1, T0), { service: "web" }));
    const largeBytes = large.encode().sections[0]!.payload.length;

    const small = new DatasetBuilder("t", "web", dictionary);
    const profile = normalize(webLike([1, 2, 3], "db", T0 + SECOND), { service: "web" });
    small.append(profile);
    const encoded = small.encode();
    const symbols = decodeSymbols(encoded.sections[0]!.payload, "test");
    assert.ok(dictionary.stacks.nodeCount > 4000, "the dictionary holds the large profile");
    // root, main, serve, handle, parse, serve→db, main→db, main→db→0x50
    assert.equal(symbols.stacks.nodeCount, 8);
    assert.equal(symbols.locationCount, 6);
    assert.equal(symbols.functionCount, 5);
    assert.equal(symbols.mappingCount, 2);
    assert.deepEqual(symbols.strings.slice().sort(), [
      "",
      "bin",
      "build-bin",
      "build-lib-db",
      "db",
      "db.go",
      "handle",
      "handle.go",
      "lib-db",
      "main",
      "main.go",
      "parse",
      "parse.go",
      "serve",
      "serve.go",
    ]);
    assert.ok(encoded.sections[0]!.payload.length * 50 < largeBytes);
    const fresh = new DatasetBuilder("t", "web");
    fresh.append(profile);
    assert.deepEqual(readBack(encoded), readBack(fresh.encode()));
  });

  it("a repeat push is all cache hits: the dictionary does not grow", () => {
    const dictionary = new SymbolsBuilder();
    const first = new DatasetBuilder("t", "web", dictionary);
    first.append(normalize(widePprof(50, 10, 1, T0), { service: "web" }));
    first.encode();
    const nodes = dictionary.stacks.nodeCount;
    const stacks = dictionary.stackCache.count;
    const second = new DatasetBuilder("t", "web", dictionary);
    // A fresh Pprof object (as a new push decodes), same content, other values.
    second.append(normalize(widePprof(50, 10, 2, T0 + SECOND), { service: "web" }));
    assert.equal(dictionary.stacks.nodeCount, nodes);
    assert.equal(dictionary.stackCache.count, stacks);
    assert.equal(second.estimatedBytes() > 0, true);
    const read = readBack(second.encode());
    assert.equal([...read.values()][0]!.length, 50);
  });

  it("a block is not changed by appends to its dictionary after encodeBlockAsync returns", async () => {
    const dictionary = new SymbolsBuilder();
    const builder = new DatasetBuilder("t", "web", dictionary);
    builder.append(normalize(webLike([1, 2, 3], "db", T0), { service: "web" }));
    const expected = encodeBlock([builder]).bytes;
    const pending = encodeBlockAsync([builder]);
    // The next segment interns into the same dictionary while zstd runs.
    const next = new DatasetBuilder("t", "web", dictionary);
    next.append(normalize(widePprof(100, 10, 1, T0 + SECOND), { service: "web" }));
    assert.deepEqual((await pending).bytes, expected);
  });
});

describe("DictionaryCache", () => {
  const grow = (dictionary: SymbolsBuilder, seed: number) => {
    const builder = new DatasetBuilder("t", "svc", dictionary);
    builder.append(normalize(widePprof(100, 20, seed, T0), { service: "svc" }));
  };

  it("returns the same dictionary per dataset, and a new one per other dataset", () => {
    const cache = new DictionaryCache({ bytesMax: 1 << 30, datasetBytesMax: 1 << 30 });
    const a = cache.get("t", "a");
    assert.equal(cache.get("t", "a"), a);
    assert.notEqual(cache.get("t", "b"), a);
    assert.notEqual(cache.get("u", "a"), a);
    assert.equal(cache.stats().dictionaries, 3);
  });

  it("evicts least recently used dictionaries past the total budget", () => {
    const probe = new SymbolsBuilder();
    grow(probe, 1);
    const one = probe.memoryBytes;
    const cache = new DictionaryCache({ bytesMax: Math.floor(one * 2.5), datasetBytesMax: 1 << 30 });
    const a = cache.get("t", "a");
    grow(a, 1);
    const b = cache.get("t", "b");
    grow(b, 2);
    const c = cache.get("t", "c");
    grow(c, 3);
    assert.equal(cache.get("t", "a"), a, "a is now the most recently used");
    cache.enforceBudget();
    const stats = cache.stats();
    assert.equal(stats.dictionaries, 2);
    assert.equal(stats.evictions, 1);
    assert.ok(stats.bytes <= one * 2.5);
    assert.equal(cache.get("t", "a"), a);
    assert.equal(cache.get("t", "c"), c);
    assert.notEqual(cache.get("t", "b"), b, "b was the least recently used: evicted");
  });

  it("replaces a dictionary past the per-dataset cap", () => {
    const cache = new DictionaryCache({ bytesMax: 1 << 30, datasetBytesMax: 64 * 1024 });
    const a = cache.get("t", "a");
    grow(a, 1);
    assert.ok(a.memoryBytes > 64 * 1024);
    const next = cache.get("t", "a");
    assert.notEqual(next, a);
    assert.equal(next.stacks.nodeCount, 1);
    assert.equal(cache.stats().evictions, 1);
    grow(next, 2);
    cache.enforceBudget();
    assert.equal(cache.stats().dictionaries, 0);
  });

  it("with a budget of 0 keeps nothing", () => {
    const cache = new DictionaryCache({ bytesMax: 0, datasetBytesMax: 0 });
    assert.notEqual(cache.get("t", "a"), cache.get("t", "a"));
    assert.equal(cache.stats().dictionaries, 0);
  });

  it("blocks of a segment after eviction are still correct", () => {
    const cache = new DictionaryCache({ bytesMax: 1, datasetBytesMax: 1 << 30 });
    const read: Map<string, string[]>[] = [];
    const expected: Map<string, string[]>[] = [];
    for (let segment = 0; segment < 3; segment++) {
      const builder = new DatasetBuilder("t", "web", cache.get("t", "web"));
      const fresh = new DatasetBuilder("t", "web");
      const profile = normalize(webLike([1, 2, segment + 1], "db", T0 + BigInt(segment) * SECOND), {
        service: "web",
      });
      builder.append(profile);
      fresh.append(profile);
      read.push(readBack(builder.encode()));
      expected.push(readBack(fresh.encode()));
      cache.enforceBudget(); // evicts every time: the budget is 1 byte
    }
    assert.equal(cache.stats().evictions, 3);
    assert.deepEqual(read, expected);
  });
});
