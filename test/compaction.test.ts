/**
 * Compaction end to end on real corpus profiles pushed through the real segment writer:
 * exactness (what queries see is the same before and after, minus a retried push), the split
 * of multi-tenant segments, tombstone deletion after the grace period, two compactor
 * processes racing on one data folder, and compactor processes SIGKILLed at every step.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Compactor, FAULT_POINTS, type JobReport } from "../src/compactor/compactor.ts";
import type { LevelPolicy } from "../src/compactor/planner.ts";
import {
  BASE_TIME_MS,
  type CorpusPush,
  pushSegments,
  type TenantView,
  tenantView,
  viewTotal,
} from "../src/compactor/test-support.ts";
import { SqliteMetastore } from "../src/metastore/sqlite.ts";
import { FsObjectStore } from "../src/objstore/fs-store.ts";
import { testdata } from "../src/testing/testdata.ts";

const corpus = testdata("pprof");
const MAIN = new URL("../src/compactor/main.ts", import.meta.url).pathname;
const TENANTS = ["t1", "t2"];
const HOUR_MS = 3_600_000;

const FILES = [
  "pprof/pyroscope-go-cpu-labels.pb.gz",
  "pprof/pyroscope-go-heap.pb.gz",
  "pprof/pyroscope-dotnet-labels.pb",
  "pprof/parca-go-alloc-space-delta.pb.gz",
  "pprof/pyroscope-go-cpu-span-id.pb.gz",
  "pprof/parca-go-fib-cpu.pb.gz",
];

/**
 * Small thresholds so a handful of segments goes all the way to level 2, deterministically:
 * level 0 goes at once in jobs of 4 segments; level 1 waits for 4 blocks of a tenant (never
 * for age), so 14 segments make 4 level-1 blocks per tenant, then one level-2 block each.
 */
const NEVER_MS = 10 * 365 * 24 * HOUR_MS;
const GiB = 1024 * 1024 * 1024;
const LEVELS: LevelPolicy[] = [
  { maxBlocks: 4, maxAgeMs: 0, timeWindowMs: HOUR_MS, maxBytes: GiB },
  { maxBlocks: 4, maxAgeMs: NEVER_MS, timeWindowMs: HOUR_MS, maxBytes: GiB },
  { maxBlocks: 4, maxAgeMs: NEVER_MS, timeWindowMs: HOUR_MS, maxBytes: GiB },
];

/** Segment i: t1/api and t2/web together (multi-tenant); every third one also t1/db alone. */
function corpusSegments(count: number, files = FILES): CorpusPush[][] {
  const segments: CorpusPush[][] = [];
  for (let i = 0; i < count; i++) {
    const timeMs = BASE_TIME_MS + i * 10_000;
    segments.push([
      {
        tenant: "t1",
        service: "api",
        path: files[i % files.length]!,
        timeMs,
        extraLabels: [["pod", `p${i % 2}`]],
      },
      { tenant: "t2", service: "web", path: files[(i + 1) % files.length]!, timeMs },
    ]);
    if (i % 3 === 2)
      segments.push([{ tenant: "t1", service: "db", path: files[(i + 2) % files.length]!, timeMs }]);
  }
  return segments;
}

interface DataFolder {
  dir: string;
  store: FsObjectStore;
  metastore: SqliteMetastore;
  close(): Promise<void>;
}

async function openFolder(dir: string): Promise<DataFolder> {
  const store = await FsObjectStore.open(join(dir, "objects"));
  const metastore = await SqliteMetastore.open(dir);
  return {
    dir,
    store,
    metastore,
    async close() {
      await store.close();
      await metastore.close();
    },
  };
}

async function views(folder: DataFolder): Promise<Map<string, TenantView>> {
  const out = new Map<string, TenantView>();
  for (const tenant of TENANTS) out.set(tenant, await tenantView(folder.store, folder.metastore, tenant));
  return out;
}

function assertSameViews(actual: Map<string, TenantView>, expected: Map<string, TenantView>): void {
  for (const tenant of TENANTS) {
    const a = actual.get(tenant)!;
    const e = expected.get(tenant)!;
    assert.deepEqual([...a.flameGraphs.keys()], [...e.flameGraphs.keys()], `${tenant}: flame graph keys`);
    for (const [key, graph] of e.flameGraphs) {
      assert.deepEqual(a.flameGraphs.get(key), graph, `${tenant} ${key}: flame graph`);
    }
    assert.deepEqual(a.series, e.series, `${tenant}: series`);
  }
}

/** Every object in the store is the object of a live block (no orphans, no leftovers). */
async function assertOnlyLiveObjects(folder: DataFolder): Promise<void> {
  const live = new Set((await folder.metastore.listBlocks()).map((b) => b.objectKey));
  const objects = (await folder.store.list("")).map((o) => o.key);
  assert.deepEqual(objects.sort(), [...live].sort());
}

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runCompactorChild(
  dir: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [MAIN, "--data-dir", dir, "--once", "--levels", JSON.stringify(LEVELS), ...args],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe("compaction on real corpus data", { skip: corpus.skip }, () => {
  let root: string;
  /** A seeded data folder (closed) and what queries saw before any compaction. */
  let template: string;
  let expected: Map<string, TenantView>;
  let segmentCount: number;

  before(async () => {
    root = await fsp.mkdtemp(join(tmpdir(), "kiln-compaction-"));
    template = join(root, "template");
    const folder = await openFolder(template);
    const segments = corpusSegments(10);
    await pushSegments(folder.store, folder.metastore, segments);
    expected = await views(folder);
    // A client retry of segment 1's t1 push (same series, time and content; new profile ids).
    await pushSegments(folder.store, folder.metastore, [[segments[1]![0]!]]);
    segmentCount = (await folder.metastore.listBlocks()).length;
    assert.equal(segmentCount, 14);
    const withRetry = await views(folder);
    assert.ok(
      viewTotal(withRetry.get("t1")!) > viewTotal(expected.get("t1")!),
      "the retry is visible before compaction",
    );
    await folder.close();
  });

  after(async () => {
    await fsp.rm(root, { recursive: true, force: true });
  });

  async function copyTemplate(name: string): Promise<string> {
    const dir = join(root, name);
    await fsp.cp(template, dir, { recursive: true });
    return dir;
  }

  it("compacts segments up to level 2: same flame graphs and series, the retried push once", async () => {
    const folder = await openFolder(await copyTemplate("exact"));
    let nowMs = Date.now();
    const reports: JobReport[] = [];
    const compactor = new Compactor({
      store: folder.store,
      metastore: folder.metastore,
      levels: LEVELS,
      now: () => nowMs,
      hooks: { onJob: (report) => reports.push(report) },
    });
    const segments = await folder.metastore.listBlocks({ level: 0 });
    assert.equal(segments.length, segmentCount);
    assert.ok(
      segments.some((b) => b.tenant === ""),
      "some segments are multi-tenant",
    );
    await compactor.drain();

    assert.ok(reports.length > 0 && reports.every((r) => r.ok), JSON.stringify(reports.map((r) => r.error)));
    const duplicates = reports.reduce((sum, r) => sum + (r.stats?.duplicateProfiles ?? 0), 0);
    assert.ok(duplicates > 0, "the retried push's profiles were dropped");
    assertSameViews(await views(folder), expected);

    // 14 segments → 4 level-0 jobs → 4 level-1 blocks per tenant → one level-2 block each.
    const live = await folder.metastore.listBlocks();
    assert.deepEqual(live.map((b) => [b.tenant, b.level]).sort(), [
      ["t1", 2],
      ["t2", 2],
    ]);
    for (const block of live) {
      assert.equal(block.objectKey, `blocks/${block.tenant}/${block.id}/block.bin`);
      assert.ok(block.datasets.every((d) => d.tenant === block.tenant));
    }
    assert.deepEqual(
      live.find((b) => b.tenant === "t1")!.datasets.map((d) => d.service),
      ["api", "db"],
    );
    // Sources are hidden at once but their objects stay for the grace period.
    const stats = await folder.metastore.compactionStats();
    assert.equal(stats.oldestLevel0CreatedAtMs, undefined);
    assert.equal(stats.tombstones, segmentCount + 8);
    assert.equal((await folder.store.list("segments/")).length, segmentCount);
    assert.equal(await compactor.deleteDueTombstones(), 0);
    nowMs += 15 * 60_000 + 1;
    assert.equal(await compactor.deleteDueTombstones(), segmentCount + 8);
    await assertOnlyLiveObjects(folder);
    assertSameViews(await views(folder), expected);
    const snapshot = await compactor.refreshSnapshot();
    assert.deepEqual(
      snapshot.levels.map((l) => [l.level, l.blocks]),
      [[2, 2]],
    );
    assert.equal(snapshot.level0LagMs, 0);
    assert.equal(snapshot.tombstones, 0);
    await folder.close();
  });

  it("two compactor processes racing on one data folder commit every job exactly once", async () => {
    const dir = await copyTemplate("race");
    const [a, b] = await Promise.all([
      runCompactorChild(dir, ["--owner", "a"]),
      runCompactorChild(dir, ["--owner", "b"]),
    ]);
    for (const result of [a, b]) assert.equal(result.code, 0, result.stderr);
    const jobsOf = (result: ChildResult) =>
      (JSON.parse(result.stdout) as { jobs: { jobId: string; ok: boolean; outputBlockIds: string[] }[] })
        .jobs;
    const committedA = jobsOf(a).filter((j) => j.ok);
    const committedB = jobsOf(b).filter((j) => j.ok);
    const idsA = new Set(committedA.map((j) => j.jobId));
    assert.ok(
      committedB.every((j) => !idsA.has(j.jobId)),
      "a job committed by both",
    );
    const folder = await openFolder(dir);
    const jobs = await folder.metastore.listCompactionJobs();
    assert.ok(jobs.length > 0 && jobs.every((j) => j.status === "done"));
    assert.deepEqual(jobs.map((j) => j.id).sort(), [...committedA, ...committedB].map((j) => j.jobId).sort());
    // Outputs: every committed output is live or was compacted further; none twice.
    const outputs = [...committedA, ...committedB].flatMap((j) => j.outputBlockIds);
    assert.equal(new Set(outputs).size, outputs.length);
    assertSameViews(await views(folder), expected);
    await folder.close();
  });

  for (const point of FAULT_POINTS) {
    it(`a compactor SIGKILLed at ${point} leaves every profile queryable exactly once`, async () => {
      const dir = await copyTemplate(`crash-${point}`);
      // One job at a time, so no other job's uploads are in flight when the process dies.
      const killed = await runCompactorChild(dir, ["--owner", "doomed", "--concurrency", "1"], {
        KILN_COMPACTOR_FAULT: point,
      });
      assert.equal(killed.signal, "SIGKILL", killed.stderr);
      const folder = await openFolder(dir);
      // Right after the crash: exactly the data, whatever was or was not committed (a commit
      // also drops the retried push, so before it the retry is still counted once more).
      const afterCrash = await views(folder);
      const jobsAfterCrash = await folder.metastore.listCompactionJobs();
      if (point === "after-commit") {
        assert.ok(jobsAfterCrash.some((j) => j.status === "done"));
      } else {
        assert.ok(jobsAfterCrash.some((j) => j.status === "running" && j.leaseOwner === "doomed"));
        assert.equal(viewTotal(afterCrash.get("t2")!), viewTotal(expected.get("t2")!));
      }
      if (point === "after-first-upload" || point === "before-commit") {
        assert.ok((await folder.store.list("blocks/")).length > 0, "an uncommitted upload is left behind");
      }
      // Another compactor, two hours later: takes the job over, finishes, deletes what is due.
      let nowMs = Date.now() + 2 * HOUR_MS;
      const reports: JobReport[] = [];
      const compactor = new Compactor({
        store: folder.store,
        metastore: folder.metastore,
        levels: LEVELS,
        now: () => nowMs,
        hooks: { onJob: (r) => reports.push(r) },
      });
      await compactor.drain();
      assert.ok(
        reports.every((r) => r.ok),
        JSON.stringify(reports.map((r) => String(r.error))),
      );
      const orphans = await compactor.sweepOrphans();
      if (point === "after-first-upload" || point === "before-commit") assert.ok(orphans.length > 0);
      else assert.deepEqual(orphans, []);
      // Past the grace period of the tombstones written by the commits above.
      nowMs += 15 * 60_000;
      await compactor.deleteDueTombstones();
      assertSameViews(await views(folder), expected);
      await assertOnlyLiveObjects(folder);
      assert.ok((await folder.metastore.listBlocks()).every((b) => b.level === 2));
      await folder.close();
    });
  }
});
