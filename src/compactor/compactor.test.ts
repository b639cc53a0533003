import assert from "node:assert/strict";
import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { encodeBlock } from "../block/block-writer.ts";
import { DatasetBuilder } from "../block/dataset-builder.ts";
import { buildPprof, normalize } from "../block/test-fixtures.ts";
import { SqliteMetastore } from "../metastore/sqlite.ts";
import { ulid } from "../model/ulid.ts";
import { FsObjectStore } from "../objstore/fs-store.ts";
import { Compactor, type JobReport } from "./compactor.ts";
import type { LevelPolicy } from "./planner.ts";

const LEVELS: LevelPolicy[] = [{ maxBlocks: 10, maxAgeMs: 0, timeWindowMs: 3_600_000, maxBytes: 1 << 30 }];

/** A level-0 segment with one profile for each of `tenants` (service "api"). */
async function addSegment(store: FsObjectStore, metastore: SqliteMetastore, tenants: string[], n: number) {
  const pprof = buildPprof({
    sampleTypes: [["cpu", "nanoseconds"]],
    locations: [
      { address: 1, lines: [{ fn: "main", line: 1 }] },
      { address: 2, lines: [{ fn: `work${n}`, line: 2 }] },
    ],
    samples: [{ stack: [1, 0], values: [100 + n] }],
  });
  const builders = tenants.map((tenant) => {
    const builder = new DatasetBuilder(tenant, "api");
    builder.append(normalize(pprof, { service: "api", timeNanos: 1_700_000_000_000_000_000n + BigInt(n) }));
    return builder;
  });
  const encoded = encodeBlock(builders);
  const id = ulid();
  const objectKey = `segments/${id}/block.bin`;
  await store.put(objectKey, encoded.bytes);
  await metastore.addBlock({
    id,
    objectKey,
    formatVersion: 1,
    level: 0,
    tenant: tenants.length === 1 ? tenants[0]! : "",
    minTimeMs: encoded.minTimeMs,
    maxTimeMs: encoded.maxTimeMs,
    sizeBytes: encoded.bytes.length,
    createdAtMs: Date.now(),
    datasets: encoded.datasets,
  });
  return objectKey;
}

describe("Compactor", () => {
  let dir: string;
  let store: FsObjectStore;
  let metastore: SqliteMetastore;
  beforeEach(async () => {
    dir = await fsp.mkdtemp(join(tmpdir(), "kiln-compactor-"));
    store = await FsObjectStore.open(join(dir, "objects"));
    metastore = await SqliteMetastore.open(dir);
  });
  afterEach(async () => {
    await store.close();
    await metastore.close();
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it("a worker whose lease was taken over is refused at commit and deletes its uploads", async () => {
    await addSegment(store, metastore, ["t1", "t2"], 1);
    await addSegment(store, metastore, ["t1"], 2);
    const reports: JobReport[] = [];
    let thiefToken = 0;
    const compactor = new Compactor({
      store,
      metastore,
      levels: LEVELS,
      owner: "slow",
      hooks: { onJob: (r) => reports.push(r) },
      async onPoint(point) {
        if (point !== "before-commit") return;
        // The worker stalled past its lease: another compactor takes the job over.
        const stolen = await metastore.acquireCompactionJob({
          owner: "thief",
          leaseMs: 60_000,
          nowMs: Date.now() + 10 * 60_000,
        });
        thiefToken = stolen!.job.fencingToken;
      },
    });
    await compactor.drain();
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.ok, false);
    assert.equal(reports[0]!.leaseLost, true);
    assert.ok(thiefToken > 0);
    // Nothing of the stale worker is visible or left behind.
    assert.deepEqual(await store.list("blocks/"), []);
    assert.equal((await metastore.listBlocks({ level: 0 })).length, 2);
    const [job] = await metastore.listCompactionJobs();
    assert.equal(job?.status, "running");
    assert.equal(job?.leaseOwner, "thief");
    assert.equal(job?.fencingToken, thiefToken);
  });

  it("a job over a damaged block fails, is retried after a back-off, and keeps the sources live", async () => {
    const key = await addSegment(store, metastore, ["t1"], 1);
    await addSegment(store, metastore, ["t1"], 2);
    await store.put(key, new Uint8Array(64));
    const reports: JobReport[] = [];
    let nowMs = Date.now();
    const compactor = new Compactor({
      store,
      metastore,
      levels: LEVELS,
      now: () => nowMs,
      retryBaseMs: 10_000,
      hooks: { onJob: (r) => reports.push(r) },
    });
    await compactor.drain();
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.ok, false);
    assert.match(String(reports[0]!.error), /section|block/);
    let [job] = await metastore.listCompactionJobs();
    assert.equal(job?.status, "pending");
    assert.equal(job?.failures, 1);
    assert.equal(job?.notBeforeMs, nowMs + 10_000);
    assert.equal((await metastore.listBlocks()).length, 2);
    assert.deepEqual(await store.list("blocks/"), []);
    // Not before the back-off; then once more, doubled.
    await compactor.drain();
    assert.equal(reports.length, 1);
    nowMs += 10_000;
    await compactor.drain();
    assert.equal(reports.length, 2);
    [job] = await metastore.listCompactionJobs();
    assert.equal(job?.failures, 2);
    assert.equal(job?.notBeforeMs, nowMs + 20_000);
  });

  it("runs passes on an interval, reports a snapshot for gauges, and stops cleanly", async () => {
    await addSegment(store, metastore, ["t1", "t2"], 1);
    const snapshots: number[] = [];
    const compactor = new Compactor({
      store,
      metastore,
      levels: LEVELS,
      intervalMs: 10,
      hooks: { onSnapshot: (s) => snapshots.push(s.level0LagMs) },
    });
    assert.equal((await compactor.refreshSnapshot()).levels[0]?.level, 0);
    assert.ok(compactor.snapshot.level0LagMs >= 0);
    compactor.start();
    for (let i = 0; i < 200 && (await metastore.listBlocks({ level: 0 })).length > 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await compactor.stop();
    assert.deepEqual(
      (await metastore.listBlocks()).map((b) => [b.tenant, b.level]),
      [
        ["t1", 1],
        ["t2", 1],
      ],
    );
    await compactor.refreshSnapshot();
    assert.equal(compactor.snapshot.level0LagMs, 0);
    assert.deepEqual(
      compactor.snapshot.levels.map((l) => [l.level, l.blocks]),
      [[1, 2]],
    );
  });
});
