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
import {
  BlockExistsError,
  type BlockMeta,
  type DatasetMeta,
  type Metastore,
  StaleCompactionJobError,
} from "./metastore.ts";
import { SCHEMA_VERSION } from "./schema.ts";

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

    it("starts at the current schema version and empty", async () => {
      assert.equal(SCHEMA_VERSION, 3);
      assert.equal(await store.schemaVersion(), SCHEMA_VERSION);
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
      assert.equal(await store.schemaVersion(), SCHEMA_VERSION);
      assert.deepEqual(await store.listBlocks(), blocks);
      assert.deepEqual(
        ids(await store.queryDatasets({ tenant: "t9", startMs: 0, endMs: 10_000, profileType: ALLOC })),
        [blocks[1]!.id],
      );
      // And it is still writable.
      await store.addBlock(block(3));
      assert.equal((await store.listBlocks()).length, 3);
    });

    describe("compaction", () => {
      const lease = (owner: string, nowMs: number, leaseMs = 15_000) => ({ owner, nowMs, leaseMs });
      const t1Blocks = () => [1, 2, 3].map((n) => block(n, { level: 1 }));
      const output = (n: number, overrides: Partial<BlockMeta> = {}) =>
        block(n, {
          level: 2,
          objectKey: `blocks/t1/${block(n).id}/block.bin`,
          datasets: [dataset({ service: "merged" })],
          ...overrides,
        });

      it("lists compactable blocks per level, oldest first, without those in a job", async () => {
        for (const b of [...t1Blocks(), block(4, { level: 0 }), block(5, { level: 1 })])
          await store.addBlock(b);
        const ids = async (level: number, limit?: number) =>
          (await store.listCompactableBlocks(level, limit)).map((b) => b.id);
        assert.deepEqual(
          await ids(1),
          [1, 2, 3, 5].map((n) => block(n).id),
        );
        assert.deepEqual(
          await ids(1, 2),
          [1, 2].map((n) => block(n).id),
        );
        assert.deepEqual(await ids(0), [block(4).id]);
        assert.deepEqual((await store.listCompactableBlocks(0))[0], block(4, { level: 0 }));
        await store.addCompactionJobs([
          { id: "job-a", tenant: "t1", level: 1, sourceBlockIds: [block(2).id] },
        ]);
        assert.deepEqual(
          await ids(1),
          [1, 3, 5].map((n) => block(n).id),
        );
      });

      it("a block joins at most one job; jobs over unknown blocks are skipped", async () => {
        for (const b of t1Blocks()) await store.addBlock(b);
        const [b1, b2, b3] = t1Blocks().map((b) => b.id);
        const created = await store.addCompactionJobs(
          [
            { id: "job-a", tenant: "t1", level: 1, sourceBlockIds: [b1!, b2!] },
            { id: "job-b", tenant: "t1", level: 1, sourceBlockIds: [b2!, b3!] }, // b2 taken
            { id: "job-c", tenant: "t1", level: 1, sourceBlockIds: [b3!, "01JNOPE0000000000000000000"] },
            { id: "job-a", tenant: "t1", level: 1, sourceBlockIds: [b3!] }, // id taken
          ],
          1_000,
        );
        assert.deepEqual(created, ["job-a"]);
        assert.deepEqual(
          await store.addCompactionJobs([{ id: "job-b", tenant: "t1", level: 1, sourceBlockIds: [b1!] }]),
          [],
        );
        const jobs = await store.listCompactionJobs();
        assert.equal(jobs.length, 1);
        assert.deepEqual(jobs[0], {
          id: "job-a",
          tenant: "t1",
          level: 1,
          status: "pending",
          sourceBlockIds: [b1, b2],
          leaseOwner: "",
          leaseExpiresAtMs: 0,
          fencingToken: 0,
          failures: 0,
          notBeforeMs: 0,
          lastError: "",
          createdAtMs: 1_000,
          updatedAtMs: 1_000,
        });
        await assert.rejects(
          store.addCompactionJobs([{ id: "", tenant: "t1", level: 1, sourceBlockIds: [b3!] }]),
        );
        await assert.rejects(
          store.addCompactionJobs([{ id: "x", tenant: "t1", level: 1, sourceBlockIds: [] }]),
        );
      });

      it("leases one job at a time, lowest level first, with the sources' metadata", async () => {
        await store.addBlock(block(1, { level: 1 }));
        await store.addBlock(
          block(2, { level: 0, tenant: "", datasets: [dataset(), dataset({ tenant: "t2" })] }),
        );
        await store.addCompactionJobs([
          { id: "job-l1", tenant: "t1", level: 1, sourceBlockIds: [block(1).id] },
          { id: "job-l0", tenant: "", level: 0, sourceBlockIds: [block(2).id] },
        ]);
        const first = await store.acquireCompactionJob(lease("w1", 10_000));
        assert.equal(first?.job.id, "job-l0");
        assert.equal(first?.job.status, "running");
        assert.equal(first?.job.leaseOwner, "w1");
        assert.equal(first?.job.leaseExpiresAtMs, 25_000);
        assert.equal(first?.job.fencingToken, 1);
        assert.deepEqual(first?.sources, [
          block(2, { level: 0, tenant: "", datasets: [dataset(), dataset({ tenant: "t2" })] }),
        ]);
        assert.equal((await store.acquireCompactionJob(lease("w2", 10_001)))?.job.id, "job-l1");
        assert.equal(await store.acquireCompactionJob(lease("w3", 10_002)), undefined);
      });

      it("commit adds the outputs, hides and tombstones the sources, and ends the job, at once", async () => {
        for (const b of t1Blocks()) await store.addBlock(b);
        const sources = t1Blocks().map((b) => b.id);
        await store.addCompactionJobs([{ id: "job", tenant: "t1", level: 1, sourceBlockIds: sources }]);
        const leased = (await store.acquireCompactionJob(lease("w1", 10_000)))!;
        const out = output(10);
        await store.commitCompactionJob({
          jobId: "job",
          fencingToken: leased.job.fencingToken,
          outputs: [out],
          deleteAfterMs: 20_000,
          nowMs: 11_000,
        });
        assert.deepEqual(await store.listBlocks(), [out]);
        for (const id of sources) assert.equal(await store.getBlock(id), undefined);
        const hits = await store.queryDatasets({ tenant: "t1", startMs: 0, endMs: 10_000 });
        assert.deepEqual(
          hits.map((h) => h.blockId),
          [out.id],
        );
        assert.equal((await store.listCompactionJobs())[0]?.status, "done");
        assert.deepEqual(await store.dueTombstones(19_999, 100), []);
        const due = await store.dueTombstones(20_000, 100);
        assert.deepEqual(
          due.map((t) => [t.blockId, t.objectKey, t.tombstonedAtMs, t.deleteAfterMs]),
          t1Blocks().map((b) => [b.id, b.objectKey, 11_000, 20_000]),
        );
        assert.equal((await store.dueTombstones(20_000, 2)).length, 2);
        // Re-adding a compacted source (a retried segment registration) is refused.
        await assert.rejects(store.addBlock(t1Blocks()[0]!), BlockExistsError);
        // A second commit of the same job is refused and changes nothing.
        await assert.rejects(
          store.commitCompactionJob({
            jobId: "job",
            fencingToken: leased.job.fencingToken,
            outputs: [output(11)],
            deleteAfterMs: 20_000,
          }),
          StaleCompactionJobError,
        );
        assert.deepEqual(await store.listBlocks(), [out]);
        const stats = await store.compactionStats();
        assert.deepEqual(stats.levels, [{ level: 2, blocks: 1, bytes: out.sizeBytes }]);
        assert.equal(stats.oldestLevel0CreatedAtMs, undefined);
        assert.deepEqual(stats.jobs, { pending: 0, running: 0, done: 1 });
        assert.equal(stats.tombstones, 3);
        // Once the objects are deleted, the tombstones and the done job go; the ids stay taken.
        await store.purgeTombstones(due.map((t) => t.blockId));
        assert.deepEqual(await store.dueTombstones(Number.MAX_SAFE_INTEGER, 100), []);
        assert.deepEqual(await store.listCompactionJobs(), []);
        await assert.rejects(store.addBlock(t1Blocks()[0]!), BlockExistsError);
        assert.deepEqual(
          await store.knownObjectKeys([
            t1Blocks()[0]!.objectKey,
            out.objectKey,
            "blocks/t1/orphan/block.bin",
          ]),
          new Set([t1Blocks()[0]!.objectKey, out.objectKey]),
        );
      });

      it("an expired lease is taken over; the old owner can neither renew, fail nor commit", async () => {
        for (const b of t1Blocks()) await store.addBlock(b);
        await store.addCompactionJobs([{ id: "job", tenant: "t1", level: 1, sourceBlockIds: [block(1).id] }]);
        const a = (await store.acquireCompactionJob(lease("a", 1_000, 10_000)))!;
        assert.equal(
          await store.renewCompactionLease("job", a.job.fencingToken, lease("a", 5_000, 10_000)),
          true,
        );
        // Renewed until 15 000: not yet expired at 14 999.
        assert.equal(await store.acquireCompactionJob(lease("b", 14_999)), undefined);
        const b = (await store.acquireCompactionJob(lease("b", 15_000)))!;
        assert.equal(b.job.id, "job");
        assert.ok(b.job.fencingToken > a.job.fencingToken);
        assert.equal(b.job.failures, 1);
        assert.equal(await store.renewCompactionLease("job", a.job.fencingToken, lease("a", 15_001)), false);
        assert.equal(
          await store.failCompactionJob("job", a.job.fencingToken, { error: "x", retryAtMs: 0 }),
          false,
        );
        await assert.rejects(
          store.commitCompactionJob({
            jobId: "job",
            fencingToken: a.job.fencingToken,
            outputs: [output(10)],
            deleteAfterMs: 0,
          }),
          (err: unknown) => err instanceof StaleCompactionJobError && /stale/.test(err.message),
        );
        assert.equal(await store.getBlock(output(10).id), undefined);
        assert.ok((await store.getBlock(block(1).id)) !== undefined);
        await store.commitCompactionJob({
          jobId: "job",
          fencingToken: b.job.fencingToken,
          outputs: [output(10)],
          deleteAfterMs: 0,
        });
        assert.equal(await store.getBlock(block(1).id), undefined);
        assert.deepEqual(await store.getBlock(output(10).id), output(10));
      });

      it("a failed job is retried after its back-off, with its failures counted", async () => {
        for (const b of t1Blocks()) await store.addBlock(b);
        await store.addCompactionJobs([{ id: "job", tenant: "t1", level: 1, sourceBlockIds: [block(1).id] }]);
        const a = (await store.acquireCompactionJob(lease("a", 1_000)))!;
        assert.equal(
          await store.failCompactionJob("job", a.job.fencingToken, {
            error: "boom",
            retryAtMs: 5_000,
            nowMs: 2_000,
          }),
          true,
        );
        const [job] = await store.listCompactionJobs();
        assert.equal(job?.status, "pending");
        assert.equal(job?.failures, 1);
        assert.equal(job?.lastError, "boom");
        assert.equal(await store.acquireCompactionJob(lease("b", 4_999)), undefined);
        const b = (await store.acquireCompactionJob(lease("b", 5_000)))!;
        assert.equal(b.job.failures, 1);
        assert.ok(b.job.fencingToken > a.job.fencingToken);
      });

      it("a commit that fails half-way changes nothing", async () => {
        for (const b of t1Blocks()) await store.addBlock(b);
        await store.addBlock(output(10));
        const sources = t1Blocks().map((b) => b.id);
        await store.addCompactionJobs([{ id: "job", tenant: "t1", level: 1, sourceBlockIds: sources }]);
        const a = (await store.acquireCompactionJob(lease("a", 1_000)))!;
        // The second output's id already exists: refused after the sources were tombstoned.
        await assert.rejects(
          store.commitCompactionJob({
            jobId: "job",
            fencingToken: a.job.fencingToken,
            outputs: [output(11), output(10)],
            deleteAfterMs: 0,
          }),
          BlockExistsError,
        );
        assert.deepEqual(
          (await store.listBlocks()).map((b) => b.id),
          [...sources, output(10).id],
        );
        assert.deepEqual(await store.dueTombstones(Number.MAX_SAFE_INTEGER, 10), []);
        assert.equal((await store.listCompactionJobs())[0]?.status, "running");
        // A malformed output is refused before anything runs.
        await assert.rejects(
          store.commitCompactionJob({
            jobId: "job",
            fencingToken: a.job.fencingToken,
            outputs: [output(12, { sizeBytes: -1 })],
            deleteAfterMs: 0,
          }),
        );
        await store.commitCompactionJob({
          jobId: "job",
          fencingToken: a.job.fencingToken,
          outputs: [output(11)],
          deleteAfterMs: 0,
        });
        assert.deepEqual(
          (await store.listBlocks()).map((b) => b.id),
          [output(10).id, output(11).id],
        );
      });

      it("compaction stats count live blocks per level and the oldest level-0 block", async () => {
        await store.addBlock(block(1, { level: 0, createdAtMs: 500, sizeBytes: 10 }));
        await store.addBlock(block(2, { level: 0, createdAtMs: 400, sizeBytes: 20 }));
        await store.addBlock(block(3, { level: 1, sizeBytes: 5 }));
        const stats = await store.compactionStats();
        assert.deepEqual(stats.levels, [
          { level: 0, blocks: 2, bytes: 30 },
          { level: 1, blocks: 1, bytes: 5 },
        ]);
        assert.equal(stats.oldestLevel0CreatedAtMs, 400);
        assert.deepEqual(stats.jobs, { pending: 0, running: 0, done: 0 });
        assert.equal(stats.tombstones, 0);
      });
    });

    describe("retention and tenant deletion", () => {
      const segment = (n: number, createdAtMs: number) =>
        block(n, {
          tenant: "",
          createdAtMs,
          datasets: [
            dataset({ tenant: "t1", minTimeMs: 100, maxTimeMs: 200 }),
            dataset({ tenant: "t2", minTimeMs: 100, maxTimeMs: 900 }),
          ],
        });

      it("lists blocks ending before a time and tombstones them, cancelling their jobs", async () => {
        await store.addBlock(block(1, { level: 1, datasets: [dataset({ minTimeMs: 10, maxTimeMs: 50 })] }));
        await store.addBlock(block(2, { level: 1, datasets: [dataset({ minTimeMs: 10, maxTimeMs: 60 })] }));
        await store.addBlock(block(3, { level: 1, datasets: [dataset({ minTimeMs: 10, maxTimeMs: 500 })] }));
        const ending = await store.listBlocksEndingBefore(100, 10);
        assert.deepEqual(
          ending.map((b) => b.id),
          [block(1).id, block(2).id],
        );
        assert.equal(ending[0]!.datasets.length, 1);
        assert.equal((await store.listBlocksEndingBefore(100, 1)).length, 1);
        await store.addCompactionJobs([
          { id: "job", tenant: "t1", level: 1, sourceBlockIds: [block(2).id, block(3).id] },
        ]);
        const leased = (await store.acquireCompactionJob({ owner: "w", leaseMs: 10_000, nowMs: 1_000 }))!;
        assert.deepEqual(
          await store.tombstoneBlocks([block(2).id, "unknown"], { deleteAfterMs: 5_000, nowMs: 2_000 }),
          [block(2).id],
        );
        // Again: already tombstoned, nothing to do.
        assert.deepEqual(await store.tombstoneBlocks([block(2).id], { deleteAfterMs: 5_000 }), []);
        assert.equal(await store.getBlock(block(2).id), undefined);
        // The job is gone: its worker can neither renew nor commit, and block 3 is free again.
        assert.deepEqual(await store.listCompactionJobs(), []);
        assert.equal(
          await store.renewCompactionLease("job", leased.job.fencingToken, {
            owner: "w",
            leaseMs: 1,
            nowMs: 2_001,
          }),
          false,
        );
        await assert.rejects(
          store.commitCompactionJob({
            jobId: "job",
            fencingToken: leased.job.fencingToken,
            outputs: [],
            deleteAfterMs: 0,
          }),
          StaleCompactionJobError,
        );
        assert.deepEqual(
          (await store.listCompactableBlocks(1)).map((b) => b.id),
          [block(1).id, block(3).id],
        );
        const due = await store.dueTombstones(5_000, 10);
        assert.deepEqual(
          due.map((t) => [t.blockId, t.tombstonedAtMs]),
          [[block(2).id, 2_000]],
        );
        // Rows of deleted blocks go once their tombstone is purged and they are old enough.
        assert.equal(await store.purgeDeletedBlocks(3_000, 10), 0, "the tombstone is still there");
        await store.purgeTombstones([block(2).id]);
        assert.equal(await store.purgeDeletedBlocks(2_000, 10), 0, "not old enough");
        assert.equal(await store.purgeDeletedBlocks(3_000, 10), 1);
        assert.deepEqual(await store.knownObjectKeys([block(2).objectKey]), new Set());
        await store.addBlock(block(2, { level: 1 }));
        assert.ok(await store.getBlock(block(2).id), "a purged id may be added again");
      });

      it("deleting a tenant tombstones its blocks and hides its data in older segments", async () => {
        await store.addBlock(segment(1, 1_000));
        await store.addBlock(block(2, { level: 1 }));
        await store.addBlock(block(3, { level: 1, tenant: "t2", datasets: [dataset({ tenant: "t2" })] }));
        assert.deepEqual(await store.deleteTenant("t1", { deleteAfterMs: 9_000, nowMs: 2_000 }), [
          block(2).id,
        ]);
        assert.deepEqual(await store.listTenantDeletions(), [{ tenant: "t1", requestedAtMs: 2_000 }]);
        await assert.rejects(store.deleteTenant("", { deleteAfterMs: 0 }));
        const all = { startMs: 0, endMs: Number.MAX_SAFE_INTEGER };
        assert.deepEqual(ids(await store.queryDatasets({ tenant: "t1", ...all })), []);
        assert.deepEqual(ids(await store.queryDatasets({ tenant: "t2", ...all })), [
          block(1).id,
          block(3).id,
        ]);
        // A segment written after the deletion shows the tenant's new data.
        await store.addBlock(segment(4, 3_000));
        assert.deepEqual(ids(await store.queryDatasets({ tenant: "t1", ...all })), [block(4).id]);
        // Compacting the old segment: the deleted tenant's output is tombstoned in the commit.
        await store.addCompactionJobs([{ id: "job", tenant: "", level: 0, sourceBlockIds: [block(1).id] }]);
        const leased = (await store.acquireCompactionJob({ owner: "w", leaseMs: 10_000, nowMs: 4_000 }))!;
        const out = (n: number, tenant: string) =>
          block(n, {
            level: 1,
            tenant,
            objectKey: `blocks/${tenant}/${block(n).id}/block.bin`,
            datasets: [dataset({ tenant })],
          });
        await store.commitCompactionJob({
          jobId: "job",
          fencingToken: leased.job.fencingToken,
          outputs: [out(10, "t1"), out(11, "t2")],
          deleteAfterMs: 9_500,
          nowMs: 4_000,
        });
        assert.deepEqual(
          (await store.listBlocks({ level: 1 })).map((b) => b.id),
          [block(3).id, block(11).id],
        );
        assert.deepEqual(
          (await store.dueTombstones(Number.MAX_SAFE_INTEGER, 10)).map((t) => t.blockId),
          [block(2).id, block(1).id, block(10).id],
        );
      });
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
