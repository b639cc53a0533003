import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { openBlock } from "../block/block-reader.ts";
import type { Metastore } from "../metastore/metastore.ts";
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

  test("an empty push resolves at once and writes nothing", async () => {
    const writer = makeWriter();
    await writer.push("t", []);
    await writer.close();
    assert.deepEqual(await metastore.listBlocks(), []);
  });
});
