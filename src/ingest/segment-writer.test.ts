import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { openBlock } from "../block/block-reader.ts";
import { resolveProfileSamples } from "../block/inspect.ts";
import { formatUuid } from "../block/profiles-section.ts";
import type { BlockMeta, Metastore } from "../metastore/metastore.ts";
import { SqliteMetastore } from "../metastore/sqlite.ts";
import { KilnError } from "../model/errors.ts";
import type { NormalizedProfile } from "../model/profile.ts";
import { FsObjectStore } from "../objstore/fs-store.ts";
import type { ObjectStore } from "../objstore/object-store.ts";
import { makeCpuPprof } from "../testing/fixtures.ts";
import { defaultIngestLimits } from "./normalize/limits.ts";
import { normalizePprof } from "./normalize/normalize.ts";
import { type FlushReport, SegmentWriter } from "./segment-writer.ts";

function profiles(service: string, tag?: string): NormalizedProfile[] {
  const pprof = makeCpuPprof({ timeNanos: BigInt(Date.now()) * 1_000_000n, ...(tag ? { tag } : {}) });
  return normalizePprof(pprof, {
    seriesLabels: [
      ["__name__", "process_cpu"],
      ["service_name", service],
    ],
    limits: defaultIngestLimits,
    nowMs: Date.now(),
  });
}

/** Every profile of every dataset of a block: "tenant/service id" → sorted "a;b;c=value" samples. */
async function readBlock(store: ObjectStore, block: BlockMeta): Promise<Map<string, string[]>> {
  const reader = await openBlock(store, block.objectKey);
  const out = new Map<string, string[]>();
  for (const dataset of reader.datasets) {
    const [symbols, profilesSection] = await Promise.all([
      reader.readSymbols(dataset),
      reader.readProfiles(dataset),
    ]);
    for (let p = 0; p < profilesSection.profileCount; p++) {
      const id = formatUuid(profilesSection.profileIds.subarray(16 * p, 16 * p + 16));
      const samples = resolveProfileSamples(symbols, profilesSection, p).map(
        (x) => `${x.stack.join(";")}=${x.value}`,
      );
      out.set(`${dataset.tenant}/${dataset.service} ${id}`, samples.sort());
    }
  }
  return out;
}

/** What a block must hold for `pushed` (profiles of one tenant): the same keys and samples. */
function expectedOf(tenant: string, pushed: readonly NormalizedProfile[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const profile of pushed) {
    const service = profile.seriesLabels.find(([name]) => name === "service_name")![1];
    const names = (location: number) => {
      const line = profile.symbols.locationLineOffsets[location]!;
      const fn = profile.symbols.lineFunctionPlus1[line]! - 1;
      return profile.symbols.strings[profile.symbols.functionNameStr[fn]!]!;
    };
    const samples: string[] = [];
    for (let i = 0; i < profile.sampleCount; i++) {
      const stack = [
        ...profile.stackLocations.subarray(profile.stackOffsets[i]!, profile.stackOffsets[i + 1]!),
      ];
      samples.push(`${stack.reverse().map(names).join(";")}=${profile.values[i]!}`);
    }
    out.set(`${tenant}/${service} ${profile.profileId}`, samples.sort());
  }
  return out;
}

/** The real filesystem store, with a switch that makes `put` fail (a full disk, an S3 outage). */
class FaultyStore implements ObjectStore {
  failPuts = false;
  readonly inner: ObjectStore;
  constructor(inner: ObjectStore) {
    this.inner = inner;
  }
  put(key: string, data: Uint8Array) {
    if (this.failPuts) return Promise.reject(new Error("injected: no space left on device"));
    return this.inner.put(key, data);
  }
  get(key: string) {
    return this.inner.get(key);
  }
  getRange(key: string, offset: number, length: number) {
    return this.inner.getRange(key, offset, length);
  }
  size(key: string) {
    return this.inner.size(key);
  }
  list(prefix: string) {
    return this.inner.list(prefix);
  }
  delete(key: string) {
    return this.inner.delete(key);
  }
  close() {
    return this.inner.close();
  }
}

describe("SegmentWriter", () => {
  let dir: string;
  let store: FaultyStore;
  let metastore: Metastore;
  let reports: FlushReport[];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "kiln-sw-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(async () => {
    const sub = mkdtempSync(join(dir, "t-"));
    store = new FaultyStore(await FsObjectStore.open(join(sub, "objects")));
    metastore = await SqliteMetastore.open(sub);
    reports = [];
  });

  const makeWriter = (opts: Partial<ConstructorParameters<typeof SegmentWriter>[0]> = {}) =>
    new SegmentWriter({
      store,
      metastore,
      flushIntervalMs: 20,
      segmentBytesMax: 64 << 20,
      onFlush: (r) => reports.push(r),
      ...opts,
    });

  test("pushes of one window share one block; a push resolves only once it is registered", async () => {
    const writer = makeWriter({ flushIntervalMs: 200 });
    const pushes = [
      writer.push("tenant-a", profiles("svc-1")),
      writer.push("tenant-a", profiles("svc-2")),
      writer.push("tenant-b", profiles("svc-1")),
    ];
    await Promise.all(pushes);
    const blocks = await metastore.listBlocks();
    assert.equal(blocks.length, 1, "one block object per flush window");
    const block = blocks[0]!;
    assert.equal(block.level, 0);
    assert.equal(block.tenant, "", "a multi-tenant segment");
    assert.deepEqual(
      block.datasets.map((d) => `${d.tenant}/${d.service}`),
      ["tenant-a/svc-1", "tenant-a/svc-2", "tenant-b/svc-1"],
    );
    const reader = await openBlock(store, block.objectKey);
    assert.equal(reader.datasets.length, 3);
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.pushes, 3);
    assert.equal(reports[0]!.profiles, 6, "two sample types per push");
    await writer.close();
  });

  test("a failed upload fails every push of its window with unavailable, and registers nothing", async () => {
    const writer = makeWriter();
    store.failPuts = true;
    const results = await Promise.allSettled([
      writer.push("t", profiles("svc")),
      writer.push("t", profiles("svc", "other")),
    ]);
    for (const r of results) {
      assert.equal(r.status, "rejected");
      const err = (r as PromiseRejectedResult).reason;
      assert.ok(err instanceof KilnError);
      assert.equal(err.code, "unavailable");
      assert.match(err.message, /retry/);
    }
    assert.deepEqual(await metastore.listBlocks(), []);
    assert.equal(reports.at(-1)!.ok, false);
    // The writer recovers once the store does.
    store.failPuts = false;
    await writer.push("t", profiles("svc"));
    assert.equal((await metastore.listBlocks()).length, 1);
    await writer.close();
  });

  test("a failed metastore registration fails the window's pushes", async () => {
    const writer = makeWriter();
    await metastore.close(); // every addBlock now rejects
    await assert.rejects(writer.push("t", profiles("svc")), (err: unknown) => {
      assert.ok(err instanceof KilnError);
      assert.equal(err.code, "unavailable");
      return true;
    });
    await writer.close();
  });

  test("a segment reaching segmentBytesMax flushes before the window ends", async () => {
    const writer = makeWriter({ flushIntervalMs: 60_000, segmentBytesMax: 1 });
    const started = Date.now();
    await writer.push("t", profiles("svc"));
    assert.ok(Date.now() - started < 30_000, "did not wait for the 60 s window");
    assert.equal((await metastore.listBlocks()).length, 1);
    await writer.close();
  });

  test("close flushes the open segment and answers its pushes; later pushes are refused", async () => {
    const writer = makeWriter({ flushIntervalMs: 60_000 });
    const pending = writer.push("t", profiles("svc"));
    assert.equal(writer.pendingProfiles, 2);
    await writer.close();
    await pending;
    assert.equal((await metastore.listBlocks()).length, 1);
    await assert.rejects(writer.push("t", profiles("svc")), /shutting down/);
  });

  test("dictionaries are kept across segments; every block reads back exactly its own profiles", async () => {
    const writer = makeWriter({ flushIntervalMs: 60_000, segmentBytesMax: 1 });
    const rounds = [profiles("svc"), profiles("svc", "extra"), profiles("svc")];
    for (const pushed of rounds) await writer.push("t", pushed);
    const stats = writer.dictionaryStats();
    assert.equal(stats.dictionaries, 1, "one dictionary for t/svc, reused");
    assert.equal(stats.evictions, 0);
    const blocks = await metastore.listBlocks();
    assert.equal(blocks.length, 3);
    for (let i = 0; i < rounds.length; i++) {
      assert.deepEqual(await readBlock(store, blocks[i]!), expectedOf("t", rounds[i]!));
    }
    // The third segment references none of the second's "extra" frame.
    const reader = await openBlock(store, blocks[2]!.objectKey);
    const symbols = await reader.readSymbols(reader.datasets[0]!);
    assert.ok(!symbols.strings.includes("extra"));
    await writer.close();
  });

  test("with a tiny dictionary budget every segment starts over, and blocks stay correct", async () => {
    const writer = makeWriter({ flushIntervalMs: 60_000, segmentBytesMax: 1, dictionaryBytesMax: 1 });
    const rounds = [profiles("svc"), profiles("svc", "extra"), profiles("svc")];
    for (const pushed of rounds) await writer.push("t", pushed);
    assert.equal(writer.dictionaryStats().dictionaries, 0);
    assert.ok(writer.dictionaryStats().evictions >= 2);
    const blocks = await metastore.listBlocks();
    for (let i = 0; i < rounds.length; i++) {
      assert.deepEqual(await readBlock(store, blocks[i]!), expectedOf("t", rounds[i]!));
    }
    await writer.close();
  });

  test("the dictionary budget evicts the least recently used dataset", async () => {
    const probe = makeWriter({ flushIntervalMs: 60_000, segmentBytesMax: 1 });
    await probe.push("t", profiles("a"));
    const one = probe.dictionaryStats().bytes;
    await probe.close();
    const writer = makeWriter({
      flushIntervalMs: 60_000,
      segmentBytesMax: 1,
      dictionaryBytesMax: Math.floor(one * 2.5),
    });
    for (const service of ["a", "b", "a", "c"]) await writer.push("t", profiles(service));
    const stats = writer.dictionaryStats();
    assert.equal(stats.dictionaries, 2, "a and c kept, b (least recently used) evicted");
    assert.equal(stats.evictions, 1);
    assert.ok(stats.bytes <= one * 2.5);
    await writer.close();
  });

  test("pushes arriving while a segment is flushing land in the next segment", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const puts: string[] = [];
    const inner = store.inner;
    const slowStore: ObjectStore = Object.assign(Object.create(store) as FaultyStore, {
      async put(key: string, data: Uint8Array) {
        puts.push(key);
        if (puts.length === 1) await gate;
        return inner.put(key, data);
      },
    });
    const writer = makeWriter({ store: slowStore, flushIntervalMs: 60_000, segmentBytesMax: 1 });
    const first = profiles("svc");
    const firstDone = writer.push("t", first); // full at once: its flush starts now
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(puts.length, 1, "the first segment is being uploaded");
    assert.equal(writer.pendingProfiles, 0);
    // Interns into the same dictionary while the first block is in flight.
    const second = profiles("svc", "later");
    const secondDone = writer.push("t", second);
    assert.equal(writer.pendingProfiles, 0, "the second push started its own segment's flush");
    release();
    await Promise.all([firstDone, secondDone]);
    const blocks = await metastore.listBlocks();
    assert.equal(blocks.length, 2);
    const byKey = new Map(blocks.map((b) => [b.objectKey, b]));
    assert.deepEqual(await readBlock(store, byKey.get(puts[0]!)!), expectedOf("t", first));
    assert.deepEqual(await readBlock(store, byKey.get(puts[1]!)!), expectedOf("t", second));
    await writer.close();
  });

  test("an empty push resolves at once and writes nothing", async () => {
    const writer = makeWriter();
    await writer.push("t", []);
    await writer.close();
    assert.deepEqual(await metastore.listBlocks(), []);
  });
});
