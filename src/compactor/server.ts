/**
 * The compactor inside the all-in-one server: its own store and metastore handles on the data
 * folder, its hooks wired to the server's metrics registry and logger. The merges themselves
 * run in a pool of worker threads (merge-pool.ts, one per concurrent job), so a big merge
 * never stalls the event loop that answers queries; planning, leases (renewed from this
 * thread, which stays responsive), uploads and fenced commits run here.
 *
 * Metrics: `kiln_compaction_jobs_total{level,outcome}`, `kiln_compaction_job_duration_seconds`,
 * `kiln_compaction_profiles_deduplicated_total`, `kiln_retention_blocks_deleted_total`, `kiln_compaction_objects_deleted_total{reason}`
 * (tombstone, orphan), and from each pass's snapshot `kiln_blocks{level}`,
 * `kiln_block_bytes{level}`, `kiln_compaction_lag_seconds` (age of the oldest live level-0
 * block), `kiln_compaction_jobs{status}` and `kiln_compaction_tombstones`.
 */
import { join } from "node:path";
import { ROLLUP_BUCKET_MS_MIN } from "../block/rollup-section.ts";
import { SqliteMetastore } from "../metastore/sqlite.ts";
import { FsObjectStore } from "../objstore/fs-store.ts";
import type { Logger } from "../observability/log.ts";
import { DURATION_BUCKETS_SECONDS, type Registry } from "../observability/metrics.ts";
import { Compactor, type CompactorOptions } from "./compactor.ts";
import type { RollupPolicy } from "./merge.ts";
import { MergeWorkerPool } from "./merge-pool.ts";
import { DEFAULT_LEVELS, type LevelPolicy } from "./planner.ts";

/** The server options that shape the compactor (a subset of KilnConfig). */
export interface ServerCompactionConfig {
  compactionIntervalMs: number;
  compactionConcurrency: number;
  compactionDeleteDelayMs: number;
  compactionL0MaxBlocks: number;
  compactionL0MaxAgeMs: number;
  compactionL1MaxBlocks: number;
  compactionL1MaxAgeMs: number;
  compactionL2MaxBlocks: number;
  compactionL2MaxAgeMs: number;
  compactionL3MaxBlocks: number;
  compactionL3MaxAgeMs: number;
  compactionRollupFineMs: number;
  compactionRollupCoarseMs: number;
  compactionRollupFromLevel: number;
  retentionPeriodMs: number;
  retentionPeriodMsByTenant: Readonly<Record<string, number>>;
}

export function levelsOf(config: ServerCompactionConfig): LevelPolicy[] {
  const overrides = [
    [config.compactionL0MaxBlocks, config.compactionL0MaxAgeMs],
    [config.compactionL1MaxBlocks, config.compactionL1MaxAgeMs],
    [config.compactionL2MaxBlocks, config.compactionL2MaxAgeMs],
    [config.compactionL3MaxBlocks, config.compactionL3MaxAgeMs],
  ] as const;
  return DEFAULT_LEVELS.map((policy, level) => ({
    ...policy,
    maxBlocks: overrides[level]![0],
    maxAgeMs: overrides[level]![1],
  }));
}

/** The rollup policy of the options: the non-zero widths, fine first. */
export function rollupsOf(config: ServerCompactionConfig): RollupPolicy {
  const fine = config.compactionRollupFineMs;
  const coarse = config.compactionRollupCoarseMs;
  if (fine === 0 && coarse !== 0)
    throw new RangeError(
      "--compaction-rollup-coarse-ms needs --compaction-rollup-fine-ms (or set both to 0)",
    );
  for (const [flag, ms] of [
    ["--compaction-rollup-fine-ms", fine],
    ["--compaction-rollup-coarse-ms", coarse],
  ] as const) {
    if (ms !== 0 && ms < ROLLUP_BUCKET_MS_MIN)
      throw new RangeError(`${flag} ${ms}: want 0 (no rollups) or at least ${ROLLUP_BUCKET_MS_MIN} ms`);
  }
  if (fine !== 0 && coarse !== 0 && !(coarse > fine && coarse % fine === 0))
    throw new RangeError(
      `--compaction-rollup-coarse-ms ${coarse} must be a larger multiple of --compaction-rollup-fine-ms ${fine}`,
    );
  return {
    bucketsMs: [fine, coarse].filter((ms) => ms > 0),
    fromLevel: config.compactionRollupFromLevel,
  };
}

export interface RunningCompactor {
  compactor: Compactor;
  /** The worker threads the merges run in. */
  mergePool: MergeWorkerPool;
  stop(): Promise<void>;
}

export async function startServerCompactor(options: {
  dataDir: string;
  config: ServerCompactionConfig;
  metrics: Registry;
  logger: Logger;
  /** Extra Compactor options (tests). */
  overrides?: Partial<CompactorOptions>;
}): Promise<RunningCompactor> {
  const { dataDir, config, metrics, logger } = options;
  const store = await FsObjectStore.open(join(dataDir, "objects"));
  // Merges run in worker threads: their CPU work must not stall queries and pushes.
  const mergePool = new MergeWorkerPool({
    objectsDir: join(dataDir, "objects"),
    size: config.compactionConcurrency,
  });
  const metastore = await SqliteMetastore.open(dataDir);
  const log = logger.child({ component: "compactor" });
  const jobs = metrics.counter({
    name: "kiln_compaction_jobs_total",
    help: "Compaction jobs run by this process, by input level and outcome (success, failure, lease_lost).",
    labelNames: ["level", "outcome"],
  });
  const jobDuration = metrics.histogram({
    name: "kiln_compaction_job_duration_seconds",
    help: "Time to merge, upload and commit one compaction job.",
    labelNames: ["level"],
    buckets: DURATION_BUCKETS_SECONDS,
  });
  const deduplicated = metrics.counter({
    name: "kiln_compaction_profiles_deduplicated_total",
    help: "Profiles dropped by compaction as exact duplicates (retried pushes).",
  });
  const deleted = metrics.counter({
    name: "kiln_compaction_objects_deleted_total",
    help: "Block objects deleted: compacted sources after their grace period (tombstone), or uploads no block names (orphan).",
    labelNames: ["reason"],
  });
  const retained = metrics.counter({
    name: "kiln_retention_blocks_deleted_total",
    help: "Blocks tombstoned because their data is past the tenant's retention period.",
  });
  const blocks = metrics.gauge({ name: "kiln_blocks", help: "Live blocks by level.", labelNames: ["level"] });
  const blockBytes = metrics.gauge({
    name: "kiln_block_bytes",
    help: "Bytes of live blocks by level.",
    labelNames: ["level"],
  });
  const jobCounts = metrics.gauge({
    name: "kiln_compaction_jobs",
    help: "Compaction jobs in the metastore by status.",
    labelNames: ["status"],
  });
  const tombstones = metrics.gauge({
    name: "kiln_compaction_tombstones",
    help: "Compacted blocks whose objects await deletion.",
  });
  let lagMs = 0;
  metrics.gauge({
    name: "kiln_compaction_lag_seconds",
    help: "Age of the oldest live (not yet compacted) level-0 segment.",
    collect: () => lagMs / 1000,
  });
  const seenLevels = new Set<number>();
  const compactor = new Compactor({
    store,
    metastore,
    levels: levelsOf(config),
    intervalMs: config.compactionIntervalMs,
    concurrency: config.compactionConcurrency,
    deleteDelayMs: config.compactionDeleteDelayMs,
    merge: (sources, mergeOptions) => mergePool.merge(sources, mergeOptions),
    rollups: rollupsOf(config),
    retention: { defaultMs: config.retentionPeriodMs, byTenant: config.retentionPeriodMsByTenant },
    hooks: {
      onJob(report) {
        const level = String(report.level);
        const outcome = report.ok ? "success" : report.leaseLost ? "lease_lost" : "failure";
        jobs.inc({ level, outcome });
        jobDuration.observe({ level }, report.durationMs / 1000);
        if (report.stats !== undefined) deduplicated.inc(undefined, report.stats.duplicateProfiles);
        if (report.ok)
          log.debug("compaction job done", { jobId: report.jobId, level: report.level, ...report.stats });
        else if (report.leaseLost)
          log.warn("compaction job lease lost", { jobId: report.jobId, err: report.error });
        else
          log.error("compaction job failed", { jobId: report.jobId, level: report.level, err: report.error });
      },
      onRetention(expired) {
        retained.inc(undefined, expired.length);
        log.info("blocks past retention tombstoned", {
          count: expired.length,
          tenants: [...new Set(expired.map((b) => b.tenant))],
        });
      },
      onTombstonesDeleted: (count) => deleted.inc({ reason: "tombstone" }, count),
      onOrphansDeleted(keys) {
        deleted.inc({ reason: "orphan" }, keys.length);
        log.info("deleted orphaned block objects", { count: keys.length });
      },
      onSnapshot(snapshot) {
        lagMs = snapshot.level0LagMs;
        const present = new Set(snapshot.levels.map((l) => l.level));
        for (const level of seenLevels) {
          if (present.has(level)) continue;
          blocks.set({ level: String(level) }, 0);
          blockBytes.set({ level: String(level) }, 0);
        }
        for (const { level, blocks: count, bytes } of snapshot.levels) {
          seenLevels.add(level);
          blocks.set({ level: String(level) }, count);
          blockBytes.set({ level: String(level) }, bytes);
        }
        for (const [status, count] of Object.entries(snapshot.jobs)) jobCounts.set({ status }, count);
        tombstones.set(undefined, snapshot.tombstones);
      },
      onError: (what, err) => log.error(`compactor: ${what}`, { err }),
    },
    ...options.overrides,
  });
  compactor.start();
  return {
    compactor,
    mergePool,
    async stop() {
      await compactor.stop();
      await mergePool.close();
      await store.close();
      await metastore.close();
    },
  };
}
