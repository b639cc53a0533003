/**
 * The compactor: plans jobs, leases them from the metastore, merges their blocks, uploads the
 * outputs, and commits; it also deletes the objects of tombstoned blocks once their grace
 * period is over, and sweeps orphans (objects no block row names). It runs inside the
 * all-in-one server (`start`) or as a process of its own (src/compactor/main.ts); any number
 * of compactors may share one metastore and object store.
 *
 * Crash safety, step by step (a process may die anywhere):
 * - merge: nothing written yet; the lease expires and another compactor takes the job over.
 * - upload: the outputs are objects no block row names (orphans); queries never see them,
 *   because queries find objects through the metastore only. The orphan sweep deletes them
 *   once they are older than `orphanGraceMs`.
 * - commit: one metastore transaction adds the outputs, tombstones the sources and ends the
 *   job, so a query sees either the sources or the outputs, never both or neither.
 * - after the commit: the sources' objects stay until `deleteDelayMs` has passed (queries
 *   planned before the commit may still read them), then any compactor deletes them.
 * A worker that lost its lease (paused past its expiry while another took the job over) is
 * refused at commit by the fencing token, and deletes its own uploads.
 *
 * Retention (`retention`): each pass first tombstones the blocks past their tenant's period,
 * cancelling jobs that held them; their objects then go like compacted sources, after
 * `deleteDelayMs`. Rows of deleted blocks are purged `deletedBlockRowsKeepMs` later. Tenant
 * deletion (`kiln admin delete-tenant`) tombstones through the metastore; this loop deletes
 * the objects the same way.
 */

import { hostname } from "node:os";
import { checkRollupBuckets } from "../block/rollup-section.ts";
import type { BlockMeta, LeasedCompactionJob, Metastore } from "../metastore/metastore.ts";
import { StaleCompactionJobError } from "../metastore/metastore.ts";
import { ulidTimeMs } from "../model/ulid.ts";
import type { ObjectStore } from "../objstore/object-store.ts";
import {
  type CompactionOutput,
  type CompactionStats,
  compactBlocks,
  DEFAULT_ROLLUPS,
  type RollupPolicy,
} from "./merge.ts";
import { checkLevels, DEFAULT_LEVELS, type LevelPolicy, planCompaction } from "./planner.ts";

/** Named points of a job, for fault injection in crash tests (see `CompactorOptions.onPoint`). */
export const FAULT_POINTS = [
  "job-start",
  "before-upload",
  "after-first-upload",
  "before-commit",
  "after-commit",
] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

export interface JobReport {
  jobId: string;
  tenant: string;
  level: number;
  ok: boolean;
  durationMs: number;
  /** Present when the merge finished. */
  stats?: CompactionStats;
  outputBlockIds: string[];
  error?: unknown;
  /** The lease was lost to another compactor: the job is theirs now, nothing was committed. */
  leaseLost?: boolean;
}

/** A snapshot of the state the compactor works on, for gauges. */
export interface CompactorSnapshot {
  levels: { level: number; blocks: number; bytes: number }[];
  /** Age of the oldest live level-0 block, ms (0 when there is none). */
  level0LagMs: number;
  jobs: { pending: number; running: number; done: number };
  tombstones: number;
}

/** Callbacks for metrics and logs; all optional. */
export interface CompactorHooks {
  onJob?(report: JobReport): void;
  /** Objects of tombstoned blocks deleted after their grace period. */
  onTombstonesDeleted?(count: number): void;
  /** Orphaned objects deleted by the sweep. */
  onOrphansDeleted?(keys: readonly string[]): void;
  /** After each pass, the state seen by this compactor. */
  onSnapshot?(snapshot: CompactorSnapshot): void;
  /** Blocks tombstoned by retention (their objects go after the grace period). */
  onRetention?(blocks: readonly BlockMeta[]): void;
  /** A pass or cleanup failed (jobs report through `onJob`). */
  onError?(what: string, error: unknown): void;
}

export interface CompactorOptions {
  store: ObjectStore;
  metastore: Metastore;
  /** Lease owner name; unique per compactor. Default `<host>:<pid>:<random>`. */
  owner?: string;
  levels?: readonly LevelPolicy[];
  /** Pass interval of `start`. Default 5 s. */
  intervalMs?: number;
  /** Jobs run at once by this compactor. Default 2. */
  concurrency?: number;
  /** Lease length; renewed every third of it while the job runs. Default 30 s. */
  leaseMs?: number;
  /** Grace period before a compacted source's object is deleted. Default 15 min. */
  deleteDelayMs?: number;
  /** Objects no block row names are deleted once their ULID is this old. Default 1 h. */
  orphanGraceMs?: number;
  /** Interval of the orphan sweep (it lists every object). Default 10 min; 0 = never. */
  orphanSweepIntervalMs?: number;
  /** First retry delay of a failed job, doubled per failure up to `retryMaxMs`. Default 10 s. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /**
   * Retention: blocks whose data ends more than the tenant's period ago are tombstoned (and
   * their objects deleted after `deleteDelayMs`). Default: keep everything.
   */
  retention?: RetentionPolicy;
  /**
   * Rows of deleted blocks are kept this long after their tombstoning (so a retried
   * registration of the id is still refused), then purged. Default 1 day.
   */
  deletedBlockRowsKeepMs?: number;
  /** Plan jobs in this compactor (default true). */
  plan?: boolean;
  now?: () => number;
  hooks?: CompactorHooks;
  /**
   * Runs the merge of a job (default: `compactBlocks` on this thread). The server passes a
   * worker-thread pool (merge-pool.ts) so the merge's CPU work never blocks its event loop;
   * leases, uploads and the fenced commit stay here either way.
   */
  merge?: MergeFunction;
  /** Rollup sections of the outputs. Default DEFAULT_ROLLUPS (1 min and 1 h from level 2). */
  rollups?: RollupPolicy;
  /** Called at each named point of a job, awaited (tests kill the process there). */
  onPoint?: (point: FaultPoint, jobId: string) => void | Promise<void>;
}

/**
 * How long each tenant's data is kept, in ms; 0 keeps it forever. Enforced on whole blocks: a
 * tenant's block goes once its newest profile is older than the tenant's period; a
 * multi-tenant level-0 segment goes only once every dataset in it is past its tenant's
 * period (so a tenant kept forever keeps the segments it shares).
 */
export interface RetentionPolicy {
  defaultMs: number;
  byTenant?: Readonly<Record<string, number>>;
}

/** The retention period of `tenant` under `policy` (0 = forever). */
export function retentionPeriodOf(policy: RetentionPolicy, tenant: string): number {
  return policy.byTenant !== undefined && Object.hasOwn(policy.byTenant, tenant)
    ? policy.byTenant[tenant]!
    : policy.defaultMs;
}

/** Whether `block` is entirely past retention at `nowMs`. */
export function isPastRetention(policy: RetentionPolicy, block: BlockMeta, nowMs: number): boolean {
  const past = (tenant: string, maxTimeMs: number) => {
    const period = retentionPeriodOf(policy, tenant);
    return period > 0 && maxTimeMs < nowMs - period;
  };
  if (block.tenant !== "") return past(block.tenant, block.maxTimeMs);
  return block.datasets.length > 0 && block.datasets.every((d) => past(d.tenant, d.maxTimeMs));
}

/** Retention candidates read per pass. */
const RETENTION_BATCH = 100_000;

/** The shape of `compactBlocks` without the store (the merge reads the sources itself). */
export type MergeFunction = (
  sources: readonly BlockMeta[],
  options: { nowMs: number; rollups: RollupPolicy },
) => Promise<{ outputs: CompactionOutput[]; stats: CompactionStats }>;

const DEFAULTS = {
  intervalMs: 5_000,
  concurrency: 2,
  leaseMs: 30_000,
  deleteDelayMs: 15 * 60_000,
  orphanGraceMs: 60 * 60_000,
  orphanSweepIntervalMs: 10 * 60_000,
  retryBaseMs: 10_000,
  retryMaxMs: 10 * 60_000,
  deletedBlockRowsKeepMs: 24 * 60 * 60_000,
};

/** Tombstoned objects deleted per pass. */
const DELETE_BATCH = 1000;

export class Compactor {
  readonly owner: string;
  readonly #store: ObjectStore;
  readonly #metastore: Metastore;
  readonly #levels: readonly LevelPolicy[];
  readonly #opts: typeof DEFAULTS & { plan: boolean };
  readonly #now: () => number;
  readonly #hooks: CompactorHooks;
  readonly #onPoint: CompactorOptions["onPoint"];
  readonly #merge: MergeFunction;
  readonly #retention: RetentionPolicy;
  readonly #rollups: RollupPolicy;
  readonly #running = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<void> | undefined;
  #lastSweepMs = Number.NEGATIVE_INFINITY;
  #stopped = false;
  #snapshot: CompactorSnapshot = {
    levels: [],
    level0LagMs: 0,
    jobs: { pending: 0, running: 0, done: 0 },
    tombstones: 0,
  };

  constructor(options: CompactorOptions) {
    this.#store = options.store;
    this.#metastore = options.metastore;
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
    this.#levels = options.levels ?? DEFAULT_LEVELS;
    checkLevels(this.#levels);
    const opts = { ...DEFAULTS, plan: true };
    for (const key of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
      const value = options[key];
      if (value === undefined) continue;
      if (!Number.isSafeInteger(value) || value < 0)
        throw new RangeError(`compactor ${key} ${value} is out of range`);
      opts[key] = value;
    }
    if (options.plan !== undefined) opts.plan = options.plan;
    if (opts.concurrency < 1) throw new RangeError("compactor concurrency must be >= 1");
    if (opts.leaseMs < 3) throw new RangeError("compactor leaseMs must be >= 3");
    this.#opts = opts;
    this.#now = options.now ?? Date.now;
    this.#hooks = options.hooks ?? {};
    this.#onPoint = options.onPoint;
    const retention = options.retention ?? { defaultMs: 0 };
    for (const [tenant, period] of [
      ["(default)", retention.defaultMs],
      ...Object.entries(retention.byTenant ?? {}),
    ] as const) {
      if (!Number.isSafeInteger(period) || period < 0)
        throw new RangeError(`retention period of ${tenant} ${period} is out of range`);
    }
    this.#retention = retention;
    this.#rollups = options.rollups ?? DEFAULT_ROLLUPS;
    checkRollupBuckets(this.#rollups.bucketsMs);
    if (!(Number.isInteger(this.#rollups.fromLevel) && this.#rollups.fromLevel >= 1))
      throw new RangeError(`rollups from level ${this.#rollups.fromLevel}: want a level ≥ 1`);
    const store = this.#store;
    this.#merge = options.merge ?? ((sources, mergeOptions) => compactBlocks(store, sources, mergeOptions));
  }

  /** The last snapshot (refreshed by every pass); synchronous, for gauges. */
  get snapshot(): CompactorSnapshot {
    return this.#snapshot;
  }

  /** Runs a pass now and then every `intervalMs` until `stop`. */
  start(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    this.#timer = setInterval(() => void this.#tick(), this.#opts.intervalMs);
    this.#timer.unref();
    void this.#tick();
  }

  /** Stops the loop and waits for the pass and the jobs in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#pass;
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  /**
   * One pass: plan, start jobs up to the concurrency, delete due tombstones, sweep orphans
   * when due, refresh the snapshot. Jobs started continue after it resolves.
   */
  async runPass(): Promise<void> {
    await this.applyRetention();
    if (this.#opts.plan) await planCompaction(this.#metastore, { levels: this.#levels, nowMs: this.#now() });
    await this.#startJobs();
    await this.deleteDueTombstones();
    const sweep = this.#opts.orphanSweepIntervalMs;
    if (sweep > 0 && this.#now() - this.#lastSweepMs >= sweep) {
      this.#lastSweepMs = this.#now();
      await this.sweepOrphans();
    }
    await this.refreshSnapshot();
  }

  /**
   * Plans and runs jobs until none is left to lease and none runs (what `kiln compactor
   * --once` and tests use). Jobs of other compactors are not waited for.
   */
  async drain(): Promise<void> {
    await this.applyRetention();
    for (;;) {
      if (this.#opts.plan)
        await planCompaction(this.#metastore, { levels: this.#levels, nowMs: this.#now() });
      const started = await this.#startJobs();
      if (started === 0 && this.#running.size === 0) break;
      if (this.#running.size > 0) await Promise.race([...this.#running]);
    }
    await this.deleteDueTombstones();
    await this.refreshSnapshot();
  }

  #tick(): Promise<void> {
    if (this.#pass !== undefined || this.#stopped) return this.#pass ?? Promise.resolve();
    this.#pass = this.runPass()
      .catch((error: unknown) => this.#hooks.onError?.("compaction pass", error))
      .finally(() => {
        this.#pass = undefined;
      });
    return this.#pass;
  }

  /** Leases and starts jobs while slots are free; returns how many started. */
  async #startJobs(): Promise<number> {
    let started = 0;
    while (!this.#stopped && this.#running.size < this.#opts.concurrency) {
      const leased = await this.#metastore.acquireCompactionJob({
        owner: this.owner,
        leaseMs: this.#opts.leaseMs,
        nowMs: this.#now(),
      });
      if (leased === undefined) break;
      const run: Promise<void> = this.#runJob(leased).finally(() => {
        this.#running.delete(run);
        // A freed slot: look for more work without waiting for the next interval.
        if (this.#timer !== undefined && !this.#stopped) void this.#tick();
      });
      this.#running.add(run);
      started++;
    }
    return started;
  }

  async #runJob(leased: LeasedCompactionJob): Promise<void> {
    const { job } = leased;
    const token = job.fencingToken;
    const started = this.#now();
    const report: JobReport = {
      jobId: job.id,
      tenant: job.tenant,
      level: job.level,
      ok: false,
      durationMs: 0,
      outputBlockIds: [],
    };
    let leaseLost = false;
    const renew = setInterval(
      () => {
        this.#metastore
          .renewCompactionLease(job.id, token, {
            owner: this.owner,
            leaseMs: this.#opts.leaseMs,
            nowMs: this.#now(),
          })
          .then((ok) => {
            if (!ok) leaseLost = true;
          })
          .catch((error: unknown) => this.#hooks.onError?.(`lease renewal of job ${job.id}`, error));
      },
      Math.floor(this.#opts.leaseMs / 3),
    );
    renew.unref();
    const uploaded: string[] = [];
    const checkLease = () => {
      if (leaseLost) throw new StaleCompactionJobError(job.id, "lease lost while running");
    };
    try {
      await this.#point("job-start", job.id);
      const { outputs, stats } = await this.#merge(leased.sources, {
        nowMs: this.#now(),
        rollups: this.#rollups,
      });
      report.stats = stats;
      checkLease();
      await this.#point("before-upload", job.id);
      for (const output of outputs) {
        await this.#store.put(output.meta.objectKey, output.bytes);
        uploaded.push(output.meta.objectKey);
        if (uploaded.length === 1) await this.#point("after-first-upload", job.id);
      }
      checkLease();
      await this.#point("before-commit", job.id);
      const nowMs = this.#now();
      await this.#metastore.commitCompactionJob({
        jobId: job.id,
        fencingToken: token,
        outputs: outputs.map((output) => output.meta),
        deleteAfterMs: nowMs + this.#opts.deleteDelayMs,
        nowMs,
      });
      report.ok = true;
      report.outputBlockIds = outputs.map((output) => output.meta.id);
      await this.#point("after-commit", job.id);
    } catch (error) {
      report.error = error;
      report.leaseLost = error instanceof StaleCompactionJobError;
      await this.#discard(uploaded);
      if (!report.leaseLost) {
        const backoff = Math.min(
          this.#opts.retryMaxMs,
          this.#opts.retryBaseMs * 2 ** Math.min(job.failures, 20),
        );
        const nowMs = this.#now();
        await this.#metastore
          .failCompactionJob(job.id, token, { error: errorText(error), retryAtMs: nowMs + backoff, nowMs })
          .catch((failError: unknown) => this.#hooks.onError?.(`failure report of job ${job.id}`, failError));
      }
    } finally {
      clearInterval(renew);
    }
    report.durationMs = this.#now() - started;
    try {
      this.#hooks.onJob?.(report);
    } catch (error) {
      this.#hooks.onError?.("onJob hook", error);
    }
  }

  /** Deletes uploads of a job that did not commit; keys some block row names are kept. */
  async #discard(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    try {
      // A commit whose outcome is unknown (a lost connection) may have landed: ask first.
      const known = await this.#metastore.knownObjectKeys(keys);
      for (const key of keys) if (!known.has(key)) await this.#store.delete(key);
    } catch (error) {
      // The orphan sweep gets them later.
      this.#hooks.onError?.("discarding uncommitted uploads", error);
    }
  }

  async #point(point: FaultPoint, jobId: string): Promise<void> {
    if (this.#onPoint !== undefined) await this.#onPoint(point, jobId);
  }

  /**
   * Tombstones the blocks past retention (see `RetentionPolicy`); blocks in a compaction job
   * are taken too (the job is cancelled). Returns the blocks tombstoned.
   */
  async applyRetention(): Promise<BlockMeta[]> {
    const policy = this.#retention;
    const periods = [policy.defaultMs, ...Object.values(policy.byTenant ?? {})].filter((p) => p > 0);
    if (periods.length === 0) return [];
    const nowMs = this.#now();
    const candidates = await this.#metastore.listBlocksEndingBefore(
      nowMs - Math.min(...periods),
      RETENTION_BATCH,
    );
    const expired = candidates.filter((block) => isPastRetention(policy, block, nowMs));
    if (expired.length === 0) return [];
    const done = new Set(
      await this.#metastore.tombstoneBlocks(
        expired.map((b) => b.id),
        { deleteAfterMs: nowMs + this.#opts.deleteDelayMs, nowMs },
      ),
    );
    const tombstoned = expired.filter((b) => done.has(b.id));
    if (tombstoned.length > 0) this.#hooks.onRetention?.(tombstoned);
    return tombstoned;
  }

  /** Deletes the objects of tombstones past their grace period, then forgets the tombstones. */
  async deleteDueTombstones(): Promise<number> {
    let deleted = 0;
    for (;;) {
      const due = await this.#metastore.dueTombstones(this.#now(), DELETE_BATCH);
      if (due.length === 0) break;
      for (const tombstone of due) await this.#store.delete(tombstone.objectKey);
      await this.#metastore.purgeTombstones(due.map((t) => t.blockId));
      deleted += due.length;
      if (due.length < DELETE_BATCH) break;
    }
    if (deleted > 0) this.#hooks.onTombstonesDeleted?.(deleted);
    // The rows of blocks deleted long enough ago go too (the index would grow forever).
    const keepAfter = this.#now() - this.#opts.deletedBlockRowsKeepMs;
    while ((await this.#metastore.purgeDeletedBlocks(keepAfter, DELETE_BATCH)) === DELETE_BATCH);
    return deleted;
  }

  /**
   * Deletes block objects that no block row names and whose ULID is older than
   * `orphanGraceMs`: uploads of compactions that died before their commit, and segments
   * whose registration failed. Returns the keys deleted.
   */
  async sweepOrphans(): Promise<string[]> {
    const cutoff = this.#now() - this.#opts.orphanGraceMs;
    const deleted: string[] = [];
    for (const prefix of ["segments/", "blocks/"]) {
      const candidates = (await this.#store.list(prefix))
        .map((info) => info.key)
        .filter((key) => {
          const parts = key.split("/");
          if (parts[parts.length - 1] !== "block.bin" || parts.length < 3) return false;
          const createdMs = blockIdTimeMs(parts[parts.length - 2]!);
          return createdMs !== undefined && createdMs < cutoff;
        });
      for (let at = 0; at < candidates.length; at += 500) {
        const batch = candidates.slice(at, at + 500);
        const known = await this.#metastore.knownObjectKeys(batch);
        for (const key of batch) {
          if (known.has(key)) continue;
          await this.#store.delete(key);
          deleted.push(key);
        }
      }
    }
    if (deleted.length > 0) this.#hooks.onOrphansDeleted?.(deleted);
    return deleted;
  }

  /** Reads the metastore's compaction statistics into `snapshot` (and `onSnapshot`). */
  async refreshSnapshot(): Promise<CompactorSnapshot> {
    const stats = await this.#metastore.compactionStats();
    const oldest = stats.oldestLevel0CreatedAtMs;
    this.#snapshot = {
      levels: stats.levels,
      level0LagMs: oldest === undefined ? 0 : Math.max(0, this.#now() - oldest),
      jobs: stats.jobs,
      tombstones: stats.tombstones,
    };
    this.#hooks.onSnapshot?.(this.#snapshot);
    return this.#snapshot;
  }
}

function blockIdTimeMs(id: string): number | undefined {
  try {
    return ulidTimeMs(id);
  } catch {
    return undefined;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
