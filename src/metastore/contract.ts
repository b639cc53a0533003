/**
 * The Metastore contract as a node:test suite, run by every implementation (SQLite now,
 * PostgreSQL later) from its own test file:
 *
 *   metastoreContract("SqliteMetastore", async () => ({ store, reopen, cleanup }));
 *
 * `make` gives each test a fresh, empty metastore. `reopen` closes nothing itself: the suite
 * closes the store, then asks for a new one over the same data to check persistence. `cleanup`
 * runs after the last store of the test is closed.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { BlockExistsError, type BlockMeta, type DatasetMeta, type Metastore } from "./metastore.ts";

export interface MetastoreFixture {
  store: Metastore;
  /** A new store over the same data as `store` (which the suite has closed). */
  reopen(): Promise<Metastore>;
  cleanup(): Promise<void>;
}

const CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
const ALLOC = "memory:alloc_space:bytes:space:bytes";

/** A dataset with plausible section refs; fields can be overridden. */
export function dataset(overrides: Partial<DatasetMeta> = {}): DatasetMeta {
  return {
    tenant: "t1",
    service: "api",
    minTimeMs: 1_000,
    maxTimeMs: 2_000,
    profileTypes: [CPU],
    labelNames: ["__name__", "pod", "service_name"],
    sections: [
      { kind: 1, offset: 0, sizeBytes: 100 },
      { kind: 2, offset: 100, sizeBytes: 50 },
      { kind: 3, offset: 150, sizeBytes: 1000 },
    ],
    ...overrides,
  };
}

/** A block spanning its datasets' times; ids sort like ULIDs when given as increasing numbers. */
export function block(n: number, overrides: Partial<BlockMeta> = {}): BlockMeta {
  const datasets = overrides.datasets ?? [dataset()];
  const id = `01J${String(n).padStart(23, "0")}`;
  return {
    id,
    objectKey: `segments/${id}/block.bin`,
    formatVersion: 1,
    level: 0,
    tenant: "t1",
    minTimeMs: Math.min(...datasets.map((d) => d.minTimeMs), Number.MAX_SAFE_INTEGER),
    maxTimeMs: Math.max(...datasets.map((d) => d.maxTimeMs), 0),
    sizeBytes: 4096,
    createdAtMs: 1_700_000_000_000 + n,
    ...overrides,
    datasets,
  };
}

export function metastoreContract(name: string, make: () => Promise<MetastoreFixture>): void {
  describe(`Metastore contract: ${name}`, () => {
    let fixture: MetastoreFixture;
    let store: Metastore;
    beforeEach(async () => {
      fixture = await make();
      store = fixture.store;
    });
    afterEach(async () => {
      await store.close();
      await fixture.cleanup();
    });

    const ids = (hits: { blockId: string }[]) => hits.map((h) => h.blockId);

    it("starts at schema version 1 and empty", async () => {
      assert.equal(await store.schemaVersion(), 1);
      assert.deepEqual(await store.listBlocks(), []);
      assert.deepEqual(
        await store.queryDatasets({ tenant: "t1", startMs: 0, endMs: Number.MAX_SAFE_INTEGER }),
        [],
      );
    });

    it("adds a block and reads it back whole", async () => {
      const b = block(1, {
        tenant: "",
        datasets: [
          dataset({ tenant: "t1", service: "api", profileTypes: [ALLOC, CPU] }),
          dataset({ tenant: "t2", service: "web", minTimeMs: 1_500, maxTimeMs: 2_500, labelNames: [] }),
        ],
      });
      await store.addBlock(b);
      assert.deepEqual(await store.getBlock(b.id), b);
      assert.deepEqual(await store.listBlocks(), [b]);
      const hits = await store.queryDatasets({ tenant: "t2", startMs: 0, endMs: 10_000 });
      assert.deepEqual(hits, [
        { blockId: b.id, objectKey: b.objectKey, formatVersion: 1, level: 0, dataset: b.datasets[1] },
      ]);
    });

    it("keeps large times and sizes exact", async () => {
      const d = dataset({ minTimeMs: 4_102_444_800_000, maxTimeMs: 4_102_444_800_999 });
      const b = block(1, { datasets: [d], sizeBytes: 2 ** 40 + 3, createdAtMs: 4_102_444_801_000 });
      await store.addBlock(b);
      assert.deepEqual(await store.getBlock(b.id), b);
    });

    it("getBlock of a missing id is undefined", async () => {
      await store.addBlock(block(1));
      assert.equal(await store.getBlock(block(2).id), undefined);
      assert.equal(await store.getBlock(""), undefined);
    });

    it("adding an existing block id rejects with BlockExistsError and changes nothing", async () => {
      const original = block(1);
      await store.addBlock(original);
      const again = block(1, { objectKey: "elsewhere", datasets: [dataset({ service: "other" })] });
      await assert.rejects(
        store.addBlock(again),
        (err: unknown) => err instanceof BlockExistsError && err.blockId === original.id,
      );
      assert.deepEqual(await store.listBlocks(), [original]);
      assert.deepEqual(
        await store.queryDatasets({ tenant: "t1", startMs: 0, endMs: 10_000, service: "other" }),
        [],
      );
    });

    it("a block whose later dataset fails to insert is not added at all", async () => {
      // The second dataset lists a profile type twice: the database refuses that row after the
      // block row and the first dataset were written, so the whole transaction must roll back.
      const bad = block(1, {
        datasets: [dataset({ service: "first" }), dataset({ service: "second", profileTypes: [CPU, CPU] })],
      });
      await assert.rejects(store.addBlock(bad));
      assert.equal(await store.getBlock(bad.id), undefined);
      assert.deepEqual(await store.listBlocks(), []);
      assert.deepEqual(await store.queryDatasets({ tenant: "t1", startMs: 0, endMs: 10_000 }), []);
      // Nothing half-written blocks a corrected retry with the same id.
      const good = block(1, { datasets: [dataset({ service: "first" }), dataset({ service: "second" })] });
      await store.addBlock(good);
      assert.deepEqual(await store.getBlock(good.id), good);
    });

    it("rejects malformed blocks without writing anything", async () => {
      const malformed: BlockMeta[] = [
        block(1, { id: "" }),
        block(1, { minTimeMs: 5, maxTimeMs: 4, datasets: [] }),
        block(1, { sizeBytes: -1 }),
        block(1, { level: 1.5 }),
        block(1, { createdAtMs: Number.NaN }),
        block(1, { objectKey: 7 as unknown as string }),
        // A single-tenant block holding another tenant's data.
        block(1, { tenant: "t1", datasets: [dataset({ tenant: "t2" })] }),
        // A dataset outside its block's time range.
        block(1, { minTimeMs: 1_000, maxTimeMs: 1_500, datasets: [dataset({ maxTimeMs: 2_000 })] }),
        block(1, { datasets: [dataset({ profileTypes: "cpu" as unknown as string[] })] }),
        block(1, { datasets: [dataset({ sections: [{ kind: 1, offset: -5, sizeBytes: 1 }] })] }),
        block(1, { datasets: [dataset({ tenant: "" })] }),
      ];
      for (const b of malformed) await assert.rejects(store.addBlock(b), `accepted ${JSON.stringify(b)}`);
      assert.deepEqual(await store.listBlocks(), []);
      await store.addBlock(block(1));
    });

    it("a block with no datasets is stored and listed", async () => {
      const b = block(1, { datasets: [], minTimeMs: 10, maxTimeMs: 20 });
      await store.addBlock(b);
      assert.deepEqual(await store.listBlocks(), [b]);
    });

    it("queryDatasets never returns another tenant's datasets", async () => {
      await store.addBlock(
        block(1, {
          tenant: "",
          datasets: [dataset({ tenant: "t1" }), dataset({ tenant: "t2" }), dataset({ tenant: "t10" })],
        }),
      );
      await store.addBlock(block(2, { tenant: "t2", datasets: [dataset({ tenant: "t2" })] }));
      const all = { startMs: 0, endMs: 10_000 };
      const t1 = await store.queryDatasets({ tenant: "t1", ...all });
      assert.deepEqual(
        t1.map((h) => h.dataset.tenant),
        ["t1"],
      );
      const t2 = await store.queryDatasets({ tenant: "t2", ...all });
      assert.deepEqual(
        t2.map((h) => [h.blockId, h.dataset.tenant]),
        [
          [block(1).id, "t2"],
          [block(2).id, "t2"],
        ],
      );
      assert.deepEqual(await store.queryDatasets({ tenant: "t", ...all }), []);
      assert.deepEqual(await store.queryDatasets({ tenant: "", ...all }), []);
      assert.deepEqual(await store.queryDatasets({ tenant: "T1", ...all }), []);
    });

    it("time overlap is inclusive at both ends", async () => {
      await store.addBlock(block(1, { datasets: [dataset({ minTimeMs: 1_000, maxTimeMs: 2_000 })] }));
      const q = async (startMs: number, endMs: number) =>
        ids(await store.queryDatasets({ tenant: "t1", startMs, endMs }));
      const hit = [block(1).id];
      assert.deepEqual(await q(0, 999), []);
      assert.deepEqual(await q(0, 1_000), hit);
      assert.deepEqual(await q(2_000, 3_000), hit);
      assert.deepEqual(await q(2_001, 3_000), []);
      assert.deepEqual(await q(1_200, 1_300), hit); // inside
      assert.deepEqual(await q(0, 5_000), hit); // around
      assert.deepEqual(await q(1_000, 1_000), hit);
      assert.deepEqual(await q(2_000, 2_000), hit);
      assert.deepEqual(await q(1_500, 1_400), []); // empty range
    });

    it("filters by service and profile type, alone and together", async () => {
      await store.addBlock(
        block(1, {
          datasets: [
            dataset({ service: "api", profileTypes: [ALLOC, CPU] }),
            dataset({ service: "web", profileTypes: [CPU] }),
            dataset({ service: "db", profileTypes: [ALLOC] }),
          ],
        }),
      );
      const base = { tenant: "t1", startMs: 0, endMs: 10_000 };
      const services = async (q: { service?: string; profileType?: string }) =>
        (await store.queryDatasets({ ...base, ...q })).map((h) => h.dataset.service);
      assert.deepEqual(await services({}), ["api", "web", "db"]);
      assert.deepEqual(await services({ service: "web" }), ["web"]);
      assert.deepEqual(await services({ service: "nope" }), []);
      assert.deepEqual(await services({ profileType: CPU }), ["api", "web"]);
      assert.deepEqual(await services({ profileType: ALLOC }), ["api", "db"]);
      assert.deepEqual(await services({ profileType: "process_cpu" }), []); // no prefix matching
      assert.deepEqual(await services({ service: "db", profileType: CPU }), []);
      assert.deepEqual(await services({ service: "api", profileType: ALLOC }), ["api"]);
    });

    it("queryDatasets sorts by block id, then dataset position", async () => {
      await store.addBlock(block(3, { datasets: [dataset({ service: "b" }), dataset({ service: "a" })] }));
      await store.addBlock(block(1, { datasets: [dataset({ service: "z" })] }));
      const hits = await store.queryDatasets({ tenant: "t1", startMs: 0, endMs: 10_000 });
      assert.deepEqual(
        hits.map((h) => [h.blockId, h.dataset.service]),
        [
          [block(1).id, "z"],
          [block(3).id, "b"],
          [block(3).id, "a"],
        ],
      );
    });

    it('listBlocks filters by tenant ("" is the multi-tenant segments) and level', async () => {
      const seg = block(1, { tenant: "", datasets: [dataset({ tenant: "t1" }), dataset({ tenant: "t2" })] });
      const t1l1 = block(2, { tenant: "t1", level: 1 });
      const t1l2 = block(3, { tenant: "t1", level: 2 });
      const t2l1 = block(4, { tenant: "t2", level: 1, datasets: [dataset({ tenant: "t2" })] });
      for (const b of [t2l1, seg, t1l2, t1l1]) await store.addBlock(b);
      const list = async (filter?: { tenant?: string; level?: number }) =>
        (await store.listBlocks(filter)).map((b) => b.id);
      assert.deepEqual(await list(), [seg.id, t1l1.id, t1l2.id, t2l1.id]);
      assert.deepEqual(await list({}), [seg.id, t1l1.id, t1l2.id, t2l1.id]);
      assert.deepEqual(await list({ tenant: "" }), [seg.id]);
      assert.deepEqual(await list({ tenant: "t1" }), [t1l1.id, t1l2.id]);
      assert.deepEqual(await list({ level: 1 }), [t1l1.id, t2l1.id]);
      assert.deepEqual(await list({ level: 0 }), [seg.id]);
      assert.deepEqual(await list({ tenant: "t2", level: 1 }), [t2l1.id]);
      assert.deepEqual(await list({ tenant: "t3" }), []);
      assert.deepEqual((await store.listBlocks({ tenant: "" }))[0], seg);
    });

    it("data survives close and reopen", async () => {
      const blocks = [
        block(1),
        block(2, { tenant: "", datasets: [dataset({ tenant: "t9", profileTypes: [ALLOC] })] }),
      ];
      for (const b of blocks) await store.addBlock(b);
      await store.close();
      store = await fixture.reopen();
      assert.equal(await store.schemaVersion(), 1);
      assert.deepEqual(await store.listBlocks(), blocks);
      assert.deepEqual(
        ids(await store.queryDatasets({ tenant: "t9", startMs: 0, endMs: 10_000, profileType: ALLOC })),
        [blocks[1]!.id],
      );
      // And it is still writable.
      await store.addBlock(block(3));
      assert.equal((await store.listBlocks()).length, 3);
    });

    it("close is idempotent and later calls reject", async () => {
      await store.close();
      await store.close();
      await assert.rejects(store.listBlocks());
      await assert.rejects(store.addBlock(block(1)));
      await assert.rejects(store.queryDatasets({ tenant: "t1", startMs: 0, endMs: 1 }));
    });
  });
}
