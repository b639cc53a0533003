import assert from "node:assert/strict";
import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { block, dataset } from "../metastore/contract.ts";
import type { BlockMeta } from "../metastore/metastore.ts";
import { SqliteMetastore } from "../metastore/sqlite.ts";
import { FsObjectStore } from "../objstore/fs-store.ts";
import { Compactor, isPastRetention, type RetentionPolicy, retentionPeriodOf } from "./compactor.ts";

const DAY_MS = 86_400_000;

describe("retention", () => {
  const policy: RetentionPolicy = { defaultMs: 1_000, byTenant: { keep: 0, short: 100 } };

  it("periods: per-tenant overrides, 0 keeps forever; segments go only when every dataset is past", () => {
    assert.equal(retentionPeriodOf(policy, "t1"), 1_000);
    assert.equal(retentionPeriodOf(policy, "short"), 100);
    assert.equal(retentionPeriodOf(policy, "keep"), 0);
    assert.equal(retentionPeriodOf(policy, "toString"), 1_000);
    const tenantBlock = (tenant: string, maxTimeMs: number) =>
      block(1, { tenant, datasets: [dataset({ tenant, minTimeMs: 0, maxTimeMs })] });
    assert.equal(isPastRetention(policy, tenantBlock("t1", 8_999), 10_000), true);
    assert.equal(isPastRetention(policy, tenantBlock("t1", 9_000), 10_000), false);
    assert.equal(isPastRetention(policy, tenantBlock("keep", 0), 10_000), false);
    assert.equal(isPastRetention({ defaultMs: 0 }, tenantBlock("t1", 0), 10_000), false);
    const segment = (...datasets: [string, number][]) =>
      block(1, {
        tenant: "",
        datasets: datasets.map(([tenant, maxTimeMs]) => dataset({ tenant, minTimeMs: 0, maxTimeMs })),
      });
    assert.equal(isPastRetention(policy, segment(["t1", 8_000], ["short", 9_800]), 10_000), true);
    assert.equal(isPastRetention(policy, segment(["t1", 8_000], ["short", 9_950]), 10_000), false);
    assert.equal(isPastRetention(policy, segment(["t1", 8_000], ["keep", 1]), 10_000), false);
  });

  it("the compactor tombstones expired blocks, deletes their objects after the grace period, then purges the rows", async () => {
    const dir = await fsp.mkdtemp(join(tmpdir(), "kiln-retention-"));
    const store = await FsObjectStore.open(join(dir, "objects"));
    const metastore = await SqliteMetastore.open(dir);
    try {
      const add = async (n: number, tenant: string, datasets: [string, number][], level = 1) => {
        const b: BlockMeta = block(n, {
          tenant,
          level,
          objectKey:
            tenant === "" ? `segments/${block(n).id}/block.bin` : `blocks/${tenant}/${block(n).id}/block.bin`,
          datasets: datasets.map(([t, maxTimeMs]) => dataset({ tenant: t, minTimeMs: 0, maxTimeMs })),
        });
        await store.put(b.objectKey, new Uint8Array([n]));
        await metastore.addBlock(b);
        return b;
      };
      const expiredT1 = await add(1, "t1", [["t1", 8_500]]);
      const liveT1 = await add(2, "t1", [["t1", 9_500]]);
      const kept = await add(3, "keep", [["keep", 0]]);
      const expiredShort = await add(4, "short", [["short", 9_850]]);
      const sharedWithKeep = await add(
        5,
        "",
        [
          ["t1", 8_000],
          ["keep", 100],
        ],
        0,
      );
      const expiredSegment = await add(
        6,
        "",
        [
          ["t1", 8_000],
          ["short", 9_000],
        ],
        0,
      );
      // A job holding an expired block and a live one: cancelled, the live one freed.
      await metastore.addCompactionJobs([
        { id: "job", tenant: "t1", level: 1, sourceBlockIds: [expiredT1.id, liveT1.id] },
      ]);
      let nowMs = 10_000;
      const reported: string[] = [];
      const compactor = new Compactor({
        store,
        metastore,
        now: () => nowMs,
        plan: false,
        deleteDelayMs: 500,
        orphanSweepIntervalMs: 0,
        retention: policy,
        hooks: { onRetention: (blocks) => reported.push(...blocks.map((b) => b.id)) },
      });
      await compactor.runPass();
      const expired = [expiredT1, expiredShort, expiredSegment].map((b) => b.id);
      assert.deepEqual(reported, expired);
      assert.deepEqual(
        (await metastore.listBlocks()).map((b) => b.id),
        [liveT1, kept, sharedWithKeep].map((b) => b.id),
      );
      assert.deepEqual(await metastore.listCompactionJobs(), []);
      assert.deepEqual(
        (await metastore.listCompactableBlocks(1)).map((b) => b.id),
        [liveT1.id, kept.id],
      );
      // Nothing more to do on the next pass; objects stay during the grace period.
      assert.deepEqual(await compactor.applyRetention(), []);
      assert.equal((await store.list("")).length, 6);
      nowMs = 10_500;
      assert.equal(await compactor.deleteDueTombstones(), 3);
      assert.deepEqual(
        (await store.list("")).map((o) => o.key).sort(),
        [liveT1, kept, sharedWithKeep].map((b) => b.objectKey).sort(),
      );
      // The rows of the deleted blocks stay a day (a retried registration is refused), then go.
      const expiredKeys = [expiredT1, expiredShort, expiredSegment].map((b) => b.objectKey);
      assert.equal((await metastore.knownObjectKeys(expiredKeys)).size, 3);
      nowMs = 10_001 + DAY_MS;
      await compactor.deleteDueTombstones();
      assert.equal((await metastore.knownObjectKeys(expiredKeys)).size, 0);
      assert.equal((await metastore.listBlocks()).length, 3);
    } finally {
      await store.close();
      await metastore.close();
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it("keeps everything by default", async () => {
    const dir = await fsp.mkdtemp(join(tmpdir(), "kiln-retention-"));
    const store = await FsObjectStore.open(join(dir, "objects"));
    const metastore = await SqliteMetastore.open(dir);
    try {
      await metastore.addBlock(block(1, { level: 1, datasets: [dataset({ minTimeMs: 0, maxTimeMs: 1 })] }));
      const compactor = new Compactor({ store, metastore, plan: false, orphanSweepIntervalMs: 0 });
      assert.deepEqual(await compactor.applyRetention(), []);
      assert.equal((await metastore.listBlocks()).length, 1);
      assert.throws(
        () => new Compactor({ store, metastore, retention: { defaultMs: 0, byTenant: { t: -1 } } }),
        /retention period of t -1/,
      );
    } finally {
      await store.close();
      await metastore.close();
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
