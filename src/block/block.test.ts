import assert from "node:assert/strict";
import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { DatasetMeta } from "../metastore/metastore.ts";
import { FsObjectStore } from "../objstore/fs-store.ts";
import type { ObjectInfo, ObjectStore } from "../objstore/object-store.ts";
import { openBlock, readProfiles, readSection, readSymbols } from "./block-reader.ts";
import { assembleBlock, type EncodedBlock, encodeBlock, footerChecksum } from "./block-writer.ts";
import { DatasetBuilder } from "./dataset-builder.ts";
import { BlockFormatError, SectionKind, TRAILER_BYTES } from "./format.ts";
import { resolveProfileSamples, sumValuesByProfileType } from "./inspect.ts";
import { formatUuid } from "./profiles-section.ts";
import { buildPprof, cpuType, normalize, webServerLocations } from "./test-fixtures.ts";

/** Wraps a real store and records every ranged read, to prove what a reader touches. */
class RecordingStore implements ObjectStore {
  readonly inner: ObjectStore;
  readonly ranges: { key: string; offset: number; length: number }[] = [];
  constructor(inner: ObjectStore) {
    this.inner = inner;
  }
  put(key: string, data: Uint8Array): Promise<void> {
    return this.inner.put(key, data);
  }
  get(key: string): Promise<Uint8Array> {
    throw new Error(`whole-object get of ${key}: block readers must use ranged reads`);
  }
  getRange(key: string, offset: number, length: number): Promise<Uint8Array> {
    this.ranges.push({ key, offset, length });
    return this.inner.getRange(key, offset, length);
  }
  size(key: string): Promise<number> {
    return this.inner.size(key);
  }
  list(prefix: string): Promise<ObjectInfo[]> {
    return this.inner.list(prefix);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

let folder: string;
let store: RecordingStore;
let keyCounter = 0;

before(async () => {
  folder = await fsp.mkdtemp(join(tmpdir(), "kiln-block-"));
  store = new RecordingStore(await FsObjectStore.open(join(folder, "objects")));
});

after(async () => {
  await store.close();
  await fsp.rm(folder, { recursive: true, force: true });
});

async function put(bytes: Uint8Array): Promise<string> {
  const key = `segments/test-${++keyCounter}/block.bin`;
  await store.put(key, bytes);
  return key;
}

// main → serve → handle (leaf); main → serve → parse (leaf); main → gc (leaf).
const locations = webServerLocations;

function webPprof(cpu: [number, number, number], timeNanos = 1_700_000_000_000_000_000n) {
  return buildPprof({
    sampleTypes: [
      ["samples", "count"],
      ["cpu", "nanoseconds"],
    ],
    locations,
    samples: [
      { stack: [2, 1, 0], values: [1, cpu[0]] },
      { stack: [3, 1, 0], values: [2, cpu[1]] },
      { stack: [4, 0], values: [3, cpu[2]] },
    ],
    timeNanos,
  });
}

const samplesType = { ...cpuType, sampleType: "samples", sampleUnit: "count" };

describe("round trip", () => {
  it("symbols, index and profiles come back exactly", async () => {
    const builder = new DatasetBuilder("tenant-a", "web");
    const pprof = webPprof([100, 200, 300]);
    // Appended out of time order, and the later series first: the block sorts them.
    const later = normalize(webPprof([7, 8, 9], 1_700_000_000_500_000_000n), {
      service: "web",
      typeIndex: 1,
      extraLabels: [["region", "eu"]],
    });
    const cpu = normalize(pprof, { service: "web", typeIndex: 1, extraLabels: [["region", "eu"]] });
    const samples = normalize(pprof, { service: "web", typeIndex: 0, profileType: samplesType });
    builder.append(later);
    builder.append(cpu);
    builder.append(samples);
    assert.equal(builder.profileCount, 3);
    assert.ok(builder.estimatedBytes() > 0);

    const encoded = encodeBlock([builder]);
    const key = await put(encoded.bytes);
    const block = await openBlock(store, key);
    assert.deepEqual(block.datasets, encoded.datasets);
    const [dataset] = block.datasets;
    assert.ok(dataset);
    assert.equal(dataset.minTimeMs, 1_700_000_000_000);
    assert.equal(dataset.maxTimeMs, 1_700_000_000_500);
    assert.deepEqual(dataset.profileTypes, [
      "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
      "process_cpu:samples:count:cpu:nanoseconds",
    ]);
    assert.deepEqual(dataset.labelNames, ["__name__", "__profile_type__", "region", "service_name"]);

    const symbols = await block.readSymbols(dataset);
    assert.equal(symbols.functionCount, 5);
    assert.equal(symbols.locationCount, 5);
    assert.equal(symbols.mappingCount, 1);
    assert.equal(symbols.strings[symbols.mappingFilenameStr[0]!], "/bin/app");
    assert.equal(symbols.strings[symbols.mappingBuildIdStr[0]!], "build-/bin/app");
    assert.deepEqual([...symbols.locationAddress], [0x401000, 0x402000, 0x403000, 0x404000, 0x405000]);
    assert.deepEqual([...symbols.locationLine], [10, 20, 30, 40, 50]);
    // root, main, serve, handle, parse, gc: the three stacks share main (and serve).
    assert.equal(symbols.stacks.nodeCount, 6);

    const index = await block.readIndex(dataset);
    assert.equal(index.seriesCount, 2);
    assert.deepEqual(index.seriesLabels, [cpu.seriesLabels, samples.seriesLabels]);
    assert.deepEqual(index.seriesProfileType, dataset.profileTypes);
    assert.deepEqual([...index.postings.get("region")!.get("eu")!], [0]);
    assert.deepEqual([...index.postings.get("service_name")!.get("web")!], [0, 1]);

    const profiles = await block.readProfiles(dataset);
    assert.equal(profiles.profileCount, 3);
    assert.deepEqual([...profiles.seriesIndex], [0, 0, 1]);
    assert.deepEqual([...profiles.timeNanos], [cpu.timeNanos, later.timeNanos, samples.timeNanos]);
    assert.deepEqual([...profiles.durationNanos], [10_000_000_000n, 10_000_000_000n, 10_000_000_000n]);
    const ids = [0, 1, 2].map((i) => formatUuid(profiles.profileIds.subarray(16 * i, 16 * i + 16)));
    assert.deepEqual(ids, [cpu.profileId, later.profileId, samples.profileId]);
    assert.deepEqual([...profiles.totals], [600n, 24n, 6n]);
    assert.equal(profiles.sampleSpanIds, undefined);
    assert.equal(profiles.sampleTraceIds, undefined);
    assert.deepEqual(resolveProfileSamples(symbols, profiles, 0), [
      { stack: ["main", "serve", "handle"], value: 100, spanId: 0n },
      { stack: ["main", "serve", "parse"], value: 200, spanId: 0n },
      { stack: ["main", "gc"], value: 300, spanId: 0n },
    ]);
    assert.deepEqual(
      await sumValuesByProfileType(block),
      new Map([
        ["process_cpu:cpu:nanoseconds:cpu:nanoseconds", 624n],
        ["process_cpu:samples:count:cpu:nanoseconds", 6n],
      ]),
    );
  });

  it("inlined lines become frames, innermost as the leaf", async () => {
    const pprof = buildPprof({
      sampleTypes: [["cpu", "nanoseconds"]],
      locations: [
        { address: 0x1000, lines: [{ fn: "main", line: 1 }] },
        // One pprof location: `inner` inlined into `middle` inlined into `outer`.
        {
          address: 0x2000,
          lines: [
            { fn: "inner", line: 3 },
            { fn: "middle", line: 2 },
            { fn: "outer", line: 1 },
          ],
        },
        { address: 0x3000, lines: [] },
      ],
      samples: [
        { stack: [1, 0], values: [5] },
        { stack: [2, 1, 0], values: [7] },
      ],
    });
    const builder = new DatasetBuilder("t", "inline");
    builder.append(normalize(pprof, { service: "inline" }));
    const block = await openBlock(store, await put(encodeBlock([builder]).bytes));
    const dataset = block.datasets[0]!;
    const symbols = await block.readSymbols(dataset);
    assert.equal(symbols.locationCount, 5);
    // The three frames of the inlined location share its address.
    assert.deepEqual([...symbols.locationAddress], [0x1000, 0x2000, 0x2000, 0x2000, 0x3000]);
    assert.deepEqual(resolveProfileSamples(symbols, await block.readProfiles(dataset), 0), [
      { stack: ["main", "outer", "middle", "inner"], value: 5, spanId: 0n },
      { stack: ["main", "outer", "middle", "inner", "0x3000"], value: 7, spanId: 0n },
    ]);
  });

  it("identical stacks across profiles and pprofs share nodes and symbols", async () => {
    const builder = new DatasetBuilder("t", "web");
    // Two distinct Pprof objects with the same content, as two pushes of one service produce.
    builder.append(normalize(webPprof([1, 2, 3]), { service: "web", typeIndex: 1 }));
    builder.append(normalize(webPprof([4, 5, 6], 2n), { service: "web", typeIndex: 1 }));
    const block = await openBlock(store, await put(encodeBlock([builder]).bytes));
    const dataset = block.datasets[0]!;
    const symbols = await block.readSymbols(dataset);
    assert.equal(symbols.functionCount, 5);
    assert.equal(symbols.locationCount, 5);
    assert.equal(symbols.mappingCount, 1);
    assert.equal(symbols.stacks.nodeCount, 6);
    const profiles = await block.readProfiles(dataset);
    const nodesOf = (i: number) => [
      ...profiles.sampleNodes.subarray(profiles.sampleOffsets[i]!, profiles.sampleOffsets[i + 1]!),
    ];
    assert.deepEqual(nodesOf(0), nodesOf(1));
  });

  it("samples that intern to the same node are summed; the nodes are sorted", async () => {
    const pprof = buildPprof({
      sampleTypes: [["cpu", "nanoseconds"]],
      locations,
      samples: [
        { stack: [4, 0], values: [3] },
        { stack: [2, 1, 0], values: [1] },
        { stack: [4, 0], values: [4] },
        { stack: [2, 1, 0], values: [-1] },
      ],
    });
    const builder = new DatasetBuilder("t", "web");
    builder.append(normalize(pprof, { service: "web" }));
    const block = await openBlock(store, await put(encodeBlock([builder]).bytes));
    const dataset = block.datasets[0]!;
    const profiles = await block.readProfiles(dataset);
    // 1 + -1 sums to 0 and is dropped; 3 + 4 merge.
    assert.deepEqual([...profiles.sampleValues], [7]);
    assert.deepEqual([...profiles.totals], [7n]);
    assert.deepEqual(resolveProfileSamples(await block.readSymbols(dataset), profiles, 0), [
      { stack: ["main", "gc"], value: 7, spanId: 0n },
    ]);
  });

  it("negative values and values beyond 2^32 survive; sums are exact bigints", async () => {
    const big = 2 ** 53 - 1;
    const pprof = buildPprof({
      sampleTypes: [["alloc_space", "bytes"]],
      locations,
      samples: [
        { stack: [2, 1, 0], values: [big] },
        { stack: [3, 1, 0], values: [big] },
        { stack: [4, 0], values: [-(2 ** 40)] },
      ],
    });
    const allocType = { ...cpuType, name: "memory", sampleType: "alloc_space", sampleUnit: "bytes" };
    const builder = new DatasetBuilder("t", "mem");
    builder.append(normalize(pprof, { service: "mem", profileType: allocType }));
    const block = await openBlock(store, await put(encodeBlock([builder]).bytes));
    const profiles = await block.readProfiles(block.datasets[0]!);
    assert.deepEqual([...profiles.sampleValues], [big, big, -(2 ** 40)]);
    const total = 2n * BigInt(big) - 2n ** 40n;
    assert.deepEqual([...profiles.totals], [total]);
    assert.deepEqual(
      await sumValuesByProfileType(block),
      new Map([["memory:alloc_space:bytes:cpu:nanoseconds", total]]),
    );
  });

  it("per-sample span and trace ids survive", async () => {
    const spanIds = [0xdeadbeefcafef00dn, 0n, 0x1n];
    const traceIds = ["0123456789abcdef0123456789abcdef", "", "ffffffffffffffffffffffffffffffff"];
    const builder = new DatasetBuilder("t", "web");
    builder.append(normalize(webPprof([1, 2, 3]), { service: "web", typeIndex: 1, spanIds, traceIds }));
    // A profile without ids in the same dataset gets zeros in the id columns.
    builder.append(normalize(webPprof([1, 2, 3], 5n), { service: "web", typeIndex: 1 }));
    const block = await openBlock(store, await put(encodeBlock([builder]).bytes));
    const dataset = block.datasets[0]!;
    const profiles = await block.readProfiles(dataset);
    assert.equal(profiles.profileCount, 2);
    // Profile 0 is the one at time 5ns.
    assert.deepEqual([...profiles.sampleSpanIds!], [0n, 0n, 0n, ...spanIds]);
    const traces = Buffer.from(profiles.sampleTraceIds!).toString("hex").match(/.{32}/g);
    assert.deepEqual(traces, [
      "0".repeat(32),
      "0".repeat(32),
      "0".repeat(32),
      traceIds[0],
      "0".repeat(32),
      traceIds[2],
    ]);
    const resolved = resolveProfileSamples(await block.readSymbols(dataset), profiles, 1);
    assert.deepEqual(
      resolved.map((sample) => sample.spanId),
      spanIds,
    );
  });

  it("the same stack with different span ids stays separate samples", async () => {
    const pprof = buildPprof({
      sampleTypes: [["cpu", "nanoseconds"]],
      locations,
      samples: [
        { stack: [4, 0], values: [1] },
        { stack: [4, 0], values: [2] },
      ],
    });
    const builder = new DatasetBuilder("t", "web");
    builder.append(normalize(pprof, { service: "web", spanIds: [9n, 8n] }));
    const block = await openBlock(store, await put(encodeBlock([builder]).bytes));
    const profiles = await block.readProfiles(block.datasets[0]!);
    assert.deepEqual([...profiles.sampleSpanIds!], [8n, 9n]);
    assert.deepEqual([...profiles.sampleValues], [2, 1]);
  });
});

describe("datasets", () => {
  it("each (tenant, service) gets its own dataset, sorted", async () => {
    const builders = [
      new DatasetBuilder("tenant-b", "api"),
      new DatasetBuilder("tenant-a", "web"),
      new DatasetBuilder("tenant-a", "api"),
    ];
    builders.forEach((builder, i) => {
      builder.append(
        normalize(webPprof([i + 1, 1, 1], BigInt(i) * 1_000_000n), {
          service: builder.service,
          typeIndex: 1,
        }),
      );
    });
    const encoded = encodeBlock(builders);
    assert.equal(encoded.minTimeMs, 0);
    assert.equal(encoded.maxTimeMs, 2);
    const block = await openBlock(store, await put(encoded.bytes));
    assert.deepEqual(
      block.datasets.map((d) => `${d.tenant}/${d.service}`),
      ["tenant-a/api", "tenant-a/web", "tenant-b/api"],
    );
    const totals = [];
    for (const dataset of block.datasets) totals.push((await block.readProfiles(dataset)).totals[0]);
    assert.deepEqual(totals, [5n, 4n, 3n]);
  });

  it("a dataset is refused when the same (tenant, service) appears twice", () => {
    const a = new DatasetBuilder("t", "web");
    const b = new DatasetBuilder("t", "web");
    for (const builder of [a, b])
      builder.append(normalize(webPprof([1, 1, 1]), { service: "web", typeIndex: 1 }));
    assert.throws(() => encodeBlock([a, b]), /dataset t\/web twice/);
  });

  it("append refuses a profile that breaks the NormalizedProfile contract", () => {
    const builder = new DatasetBuilder("t", "web");
    const profile = normalize(webPprof([1, 1, 1]), { service: "web", typeIndex: 1 });
    assert.throws(
      () => builder.append({ ...profile, seriesLabels: [...profile.seriesLabels].reverse() }),
      /series labels not sorted/,
    );
    assert.throws(() => builder.append({ ...profile, values: Float64Array.from([1, 0, 1]) }), /value 0/);
    assert.equal(builder.profileCount, 0);
  });
});

function oneDatasetBlock(): EncodedBlock {
  const builder = new DatasetBuilder("tenant-a", "web");
  builder.append(normalize(webPprof([1, 2, 3]), { service: "web", typeIndex: 1 }));
  return encodeBlock([builder]);
}

describe("integrity", () => {
  // The kinds every dataset has (rollups have their own tests in rollup-section.test.ts).
  const { symbols, index, profiles } = SectionKind;
  for (const [name, kind] of Object.entries({ symbols, index, profiles })) {
    it(`a corrupted byte in the ${name} section fails with its name`, async () => {
      const encoded = oneDatasetBlock();
      const ref = encoded.datasets[0]!.sections.find((s) => s.kind === kind)!;
      const bytes = encoded.bytes.slice();
      bytes[ref.offset + Math.floor(ref.sizeBytes / 2)]! ^= 0x40;
      const key = await put(bytes);
      const block = await openBlock(store, key);
      await assert.rejects(readSection(store, key, ref, "tenant-a/web"), (error: unknown) => {
        assert.ok(error instanceof BlockFormatError);
        assert.equal(error.code, "data_loss");
        assert.equal(error.reason, "block_checksum_mismatch");
        assert.match(
          error.message,
          new RegExp(
            `^block ${key}: section ${name} of dataset tenant-a/web at offset ${ref.offset}: checksum mismatch`,
          ),
        );
        return true;
      });
      const dataset = block.datasets[0]!;
      const readers: Record<string, (d: DatasetMeta) => Promise<unknown>> = {
        symbols: (d) => block.readSymbols(d),
        index: (d) => block.readIndex(d),
        profiles: (d) => block.readProfiles(d),
      };
      await assert.rejects(readers[name]!(dataset), /checksum mismatch/);
    });
  }

  it("a corrupted footer byte fails on open", async () => {
    const encoded = oneDatasetBlock();
    const bytes = encoded.bytes.slice();
    bytes[bytes.length - TRAILER_BYTES - 3]! ^= 0x01;
    const key = await put(bytes);
    await assert.rejects(
      openBlock(store, key),
      new RegExp(`^BlockFormatError: block ${key}: footer checksum mismatch`),
    );
  });

  it("an unknown format version is refused with a clear error", async () => {
    const bytes = oneDatasetBlock().bytes.slice();
    const view = new DataView(bytes.buffer);
    view.setUint32(bytes.length - 8, 2, true);
    const key = await put(bytes);
    await assert.rejects(openBlock(store, key), {
      name: "BlockFormatError",
      reason: "block_unknown_version",
      message: `block ${key}: unknown block format version 2 (this reader knows 1)`,
    });
  });

  it("an object that is not a block is refused", async () => {
    const key = await put(new TextEncoder().encode("definitely not a block, just some text"));
    await assert.rejects(openBlock(store, key), { message: `block ${key}: bad magic, not a Kiln block` });
  });

  it("the footer checksum covers the version field", () => {
    const bytes = oneDatasetBlock().bytes;
    const trailer = bytes.slice(bytes.length - TRAILER_BYTES);
    const footerBytes = new DataView(trailer.buffer).getUint32(0, true);
    const footer = bytes.subarray(bytes.length - TRAILER_BYTES - footerBytes, bytes.length - TRAILER_BYTES);
    const before = footerChecksum(footer, trailer);
    trailer[8] = 2;
    assert.notEqual(footerChecksum(footer, trailer), before);
  });
});

describe("versioning", () => {
  it("a section kind the reader does not know is listed and skipped", async () => {
    const builder = new DatasetBuilder("t", "web");
    builder.append(normalize(webPprof([1, 2, 3]), { service: "web", typeIndex: 1 }));
    const dataset = builder.encode();
    // A later version's rollup section, placed between known ones.
    dataset.sections.splice(1, 0, { kind: 42, payload: new TextEncoder().encode("rollup bytes") });
    const key = await put(assembleBlock([dataset]).bytes);
    const block = await openBlock(store, key);
    const meta = block.datasets[0]!;
    assert.deepEqual(
      meta.sections.map((s) => s.kind),
      [1, 42, 2, 3],
    );
    assert.equal((await block.readProfiles(meta)).totals[0], 6n);
    assert.equal((await block.readSymbols(meta)).functionCount, 5);
    await assert.rejects(readSection(store, key, meta.sections[1]!, "t/web"), {
      reason: "block_unknown_section",
      message: `block ${key}: section kind 42 of dataset t/web at offset ${meta.sections[1]!.offset}: this reader cannot decode this kind`,
    });
  });
});

describe("ranged reads", () => {
  it("open reads only the tail; each section read touches exactly its own range", async () => {
    const builders = [new DatasetBuilder("a", "one"), new DatasetBuilder("a", "two")];
    for (const builder of builders)
      builder.append(normalize(webPprof([1, 2, 3]), { service: builder.service, typeIndex: 1 }));
    const encoded = encodeBlock(builders);
    const key = await put(encoded.bytes);
    store.ranges.length = 0;
    const block = await openBlock(store, key);
    assert.equal(store.ranges.length, 1);
    assert.equal(store.ranges[0]!.offset + store.ranges[0]!.length, encoded.bytes.length);
    for (const dataset of block.datasets) {
      const reads: [number, (d: DatasetMeta) => Promise<unknown>][] = [
        [SectionKind.symbols, (d) => block.readSymbols(d)],
        [SectionKind.index, (d) => block.readIndex(d)],
        [SectionKind.profiles, (d) => block.readProfiles(d)],
      ];
      for (const [kind, read] of reads) {
        store.ranges.length = 0;
        await read(dataset);
        const ref = dataset.sections.find((s) => s.kind === kind)!;
        assert.deepEqual(store.ranges, [{ key, offset: ref.offset, length: ref.sizeBytes }]);
      }
    }
  });

  it("a section is readable from the metastore's DatasetMeta alone, without the footer", async () => {
    const encoded = oneDatasetBlock();
    const key = await put(encoded.bytes);
    // As the metastore stores and returns it: a plain JSON round trip.
    const meta = JSON.parse(JSON.stringify(encoded.datasets[0])) as DatasetMeta;
    store.ranges.length = 0;
    const profiles = await readProfiles(store, key, meta);
    const symbols = await readSymbols(store, key, meta);
    assert.equal(store.ranges.length, 2);
    assert.deepEqual(
      resolveProfileSamples(symbols, profiles, 0).map((s) => s.stack.join(";")),
      ["main;serve;handle", "main;serve;parse", "main;gc"],
    );
  });
});
