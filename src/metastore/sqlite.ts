/**
 * SqliteMetastore: the embedded default metastore, one SQLite file in the data folder
 * (`<data-dir>/metastore.sqlite`), through Node's built-in `node:sqlite`.
 *
 * - WAL mode, so readers never wait for the writer, and a second process (the compactor) can
 *   share the file; `busy_timeout` makes a writer wait for the other's write lock instead of
 *   failing at once.
 * - `synchronous=FULL`: every commit is fsynced before it returns. The segment writer
 *   acknowledges pushes once `addBlock` resolves, so a commit that a power loss could undo
 *   would lose acknowledged data (NORMAL, the usual WAL setting, allows exactly that).
 * - The schema (src/metastore/schema.ts) is portable SQL shared with the PostgreSQL store;
 *   missing migrations are applied at open in one transaction.
 *
 * `node:sqlite` is synchronous: each method does its work on the calling thread and returns a
 * settled Promise. The interface is async because PostgreSQL will be. A write waiting for
 * another process's lock blocks this thread up to `busyTimeoutMs`; writes are a few per second
 * (one per flush window), so that is acceptable for the embedded mode.
 *
 * `close` closes the database handle (finalizing the prepared statements); later calls reject.
 */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { DatabaseSync, type SQLInputValue, type SQLOutputValue, type StatementSync } from "node:sqlite";
import {
  BlockExistsError,
  type BlockMeta,
  type CompactionCommit,
  type CompactionFailure,
  type CompactionJob,
  type CompactionJobStatus,
  type CompactionStats,
  type DatasetHit,
  type DatasetMeta,
  type DatasetQuery,
  type LeasedCompactionJob,
  type LeaseRequest,
  type Metastore,
  type NewCompactionJob,
  type SectionRef,
  StaleCompactionJobError,
  type Tombstone,
  type TombstoneOptions,
} from "./metastore.ts";
import { CREATE_SCHEMA_VERSION_TABLE, MIGRATIONS, SCHEMA_VERSION } from "./schema.ts";
import {
  checkBlockFilter,
  checkBlockMeta,
  checkDatasetQuery,
  checkLeaseRequest,
  checkNewCompactionJob,
  InvalidMetastoreInputError,
} from "./validate.ts";

export interface SqliteMetastoreOptions {
  /** File name inside the data folder. */
  fileName?: string;
  /** How long a write waits for another process's lock before failing with SQLITE_BUSY. */
  busyTimeoutMs?: number;
}

export const DEFAULT_METASTORE_FILE = "metastore.sqlite";
const DEFAULT_BUSY_TIMEOUT_MS = 5000;

// SQLite extended result codes for constraint failures (sqlite3.h).
const SQLITE_CONSTRAINT_PRIMARYKEY = 1555;
const SQLITE_CONSTRAINT_UNIQUE = 2067;

type Row = Record<string, SQLOutputValue>;

const DATASET_COLUMNS =
  "d.block_id, d.idx, d.tenant, d.service, d.min_time_ms, d.max_time_ms, d.profile_types, d.label_names, d.sections";
const JOB_COLUMNS =
  "j.id, j.tenant, j.level, j.status, j.lease_owner, j.lease_expires_at_ms, j.fencing_token, j.failures, j.not_before_ms, j.last_error, j.created_at_ms, j.updated_at_ms";
const BLOCK_COLUMNS =
  "b.id, b.object_key, b.format_version, b.level, b.tenant, b.min_time_ms, b.max_time_ms, b.size_bytes, b.created_at_ms";

export class SqliteMetastore implements Metastore {
  readonly path: string;
  private readonly db: DatabaseSync;
  private closed = false;
  /** Prepared statements by SQL text: the query variants are few and fixed. */
  private readonly statements = new Map<string, StatementSync>();

  private constructor(path: string, db: DatabaseSync) {
    this.path = path;
    this.db = db;
  }

  /** Opens (creating if needed) `<dataDir>/<fileName>` and migrates it to SCHEMA_VERSION. */
  static async open(dataDir: string, options: SqliteMetastoreOptions = {}): Promise<SqliteMetastore> {
    const dir = resolve(dataDir);
    mkdirSync(dir, { recursive: true });
    const path = join(dir, options.fileName ?? DEFAULT_METASTORE_FILE);
    const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
      throw new RangeError(`busyTimeoutMs ${busyTimeoutMs} is not a non-negative integer`);
    }
    const db = new DatabaseSync(path);
    try {
      // The busy timeout first: switching to WAL itself needs a lock another opener may hold.
      db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
      const mode = db.prepare("PRAGMA journal_mode = WAL").get()?.journal_mode;
      if (mode !== "wal")
        throw new Error(`metastore ${path}: could not enable WAL mode (journal_mode is ${String(mode)})`);
      db.exec("PRAGMA synchronous = FULL");
      db.exec("PRAGMA foreign_keys = ON");
      migrate(db, path);
    } catch (err) {
      db.close();
      throw err;
    }
    return new SqliteMetastore(path, db);
  }

  async addBlock(block: BlockMeta): Promise<void> {
    this.checkOpen();
    checkBlockMeta(block);
    this.write(() => this.insertBlock(block));
  }

  /** Inserts a checked block and its datasets; inside a write transaction. */
  private insertBlock(block: BlockMeta): void {
    try {
      this.stmt(
        `INSERT INTO blocks (id, object_key, format_version, level, tenant, min_time_ms, max_time_ms,
             size_bytes, created_at_ms, deleted_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
      ).run(
        block.id,
        block.objectKey,
        block.formatVersion,
        block.level,
        block.tenant,
        block.minTimeMs,
        block.maxTimeMs,
        block.sizeBytes,
        block.createdAtMs,
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw new BlockExistsError(block.id);
      throw err;
    }
    const insertDataset = this.stmt(
      `INSERT INTO datasets (block_id, idx, tenant, service, min_time_ms, max_time_ms, profile_types,
           label_names, sections) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insertType = this.stmt(
      "INSERT INTO dataset_profile_types (block_id, idx, profile_type) VALUES (?, ?, ?)",
    );
    block.datasets.forEach((d, idx) => {
      insertDataset.run(
        block.id,
        idx,
        d.tenant,
        d.service,
        d.minTimeMs,
        d.maxTimeMs,
        JSON.stringify(d.profileTypes),
        JSON.stringify(d.labelNames),
        JSON.stringify(d.sections.map((s) => ({ kind: s.kind, offset: s.offset, sizeBytes: s.sizeBytes }))),
      );
      for (const profileType of d.profileTypes) insertType.run(block.id, idx, profileType);
    });
  }

  /**
   * Runs `fn` in a write transaction. IMMEDIATE takes the write lock up front (waiting up to
   * the busy timeout), so the transaction cannot fail half-way for want of it, and reads inside
   * it see the latest commits of every process.
   */
  private write<T>(fn: () => T): T {
    this.db.exec("BEGIN IMMEDIATE");
    try {
      const result = fn();
      this.db.exec("COMMIT");
      return result;
    } catch (err) {
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      throw err;
    }
  }

  /** Runs `fn` in a read transaction: one snapshot for all its SELECTs. */
  private read<T>(fn: () => T): T {
    this.db.exec("BEGIN");
    try {
      const result = fn();
      this.db.exec("COMMIT");
      return result;
    } catch (err) {
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      throw err;
    }
  }

  async queryDatasets(query: DatasetQuery): Promise<DatasetHit[]> {
    this.checkOpen();
    checkDatasetQuery(query);
    // An empty range overlaps nothing; the SQL overlap test alone would match datasets around it.
    if (query.startMs > query.endMs) return [];
    const params: SQLInputValue[] = [query.tenant, query.startMs, query.endMs];
    let sql = `SELECT ${DATASET_COLUMNS}, b.object_key, b.format_version, b.level
      FROM datasets d JOIN blocks b ON b.id = d.block_id
      WHERE d.tenant = ? AND d.max_time_ms >= ? AND d.min_time_ms <= ? AND b.deleted_at_ms IS NULL
        AND NOT (b.tenant = '' AND EXISTS (SELECT 1 FROM tenant_deletions x
          WHERE x.tenant = d.tenant AND b.created_at_ms <= x.requested_at_ms))`;
    if (query.service !== undefined) {
      sql += " AND d.service = ?";
      params.push(query.service);
    }
    if (query.profileType !== undefined) {
      sql += ` AND EXISTS (SELECT 1 FROM dataset_profile_types p
        WHERE p.block_id = d.block_id AND p.idx = d.idx AND p.profile_type = ?)`;
      params.push(query.profileType);
    }
    sql += " ORDER BY d.block_id, d.idx";
    return this.stmt(sql)
      .all(...params)
      .map((row) => ({
        blockId: text(row, "block_id"),
        objectKey: text(row, "object_key"),
        formatVersion: int(row, "format_version"),
        level: int(row, "level"),
        dataset: toDataset(row),
      }));
  }

  async listBlocks(filter: { tenant?: string; level?: number } = {}): Promise<BlockMeta[]> {
    this.checkOpen();
    checkBlockFilter(filter);
    const conditions = ["b.deleted_at_ms IS NULL"];
    const params: SQLInputValue[] = [];
    if (filter.tenant !== undefined) {
      conditions.push("b.tenant = ?");
      params.push(filter.tenant);
    }
    if (filter.level !== undefined) {
      conditions.push("b.level = ?");
      params.push(filter.level);
    }
    return this.readBlocks(conditions.join(" AND "), params);
  }

  async getBlock(id: string): Promise<BlockMeta | undefined> {
    this.checkOpen();
    if (typeof id !== "string") throw new TypeError("block id is not a string");
    return (await this.readBlocks("b.id = ? AND b.deleted_at_ms IS NULL", [id]))[0];
  }

  async listCompactableBlocks(level: number, limit = Number.MAX_SAFE_INTEGER): Promise<BlockMeta[]> {
    this.checkOpen();
    checkBlockFilter({ level });
    if (!Number.isSafeInteger(limit) || limit < 0) throw new InvalidMetastoreInputError(`limit ${limit}`);
    return this.read(() => {
      const ids = this.stmt(
        `SELECT b.id FROM blocks b WHERE b.level = ? AND b.deleted_at_ms IS NULL
           AND NOT EXISTS (SELECT 1 FROM compaction_job_sources s WHERE s.block_id = b.id)
         ORDER BY b.id LIMIT ?`,
      )
        .all(level, limit)
        .map((row) => text(row, "id"));
      return this.blocksByIds(ids);
    });
  }

  async addCompactionJobs(jobs: readonly NewCompactionJob[], nowMs = Date.now()): Promise<string[]> {
    this.checkOpen();
    for (const job of jobs) checkNewCompactionJob(job);
    return this.write(() => {
      const created: string[] = [];
      const isFree = this.stmt(
        `SELECT 1 AS ok FROM blocks b WHERE b.id = ? AND b.deleted_at_ms IS NULL
           AND NOT EXISTS (SELECT 1 FROM compaction_job_sources s WHERE s.block_id = b.id)`,
      );
      const insertJob = this.stmt(
        `INSERT INTO compaction_jobs (id, tenant, level, status, lease_owner, lease_expires_at_ms,
           fencing_token, failures, not_before_ms, last_error, created_at_ms, updated_at_ms)
         VALUES (?, ?, ?, 'pending', '', 0, 0, 0, 0, '', ?, ?)`,
      );
      const insertSource = this.stmt("INSERT INTO compaction_job_sources (block_id, job_id) VALUES (?, ?)");
      for (const job of jobs) {
        const sources = [...new Set(job.sourceBlockIds)];
        if (!sources.every((id) => isFree.get(id) !== undefined)) continue;
        if (this.stmt("SELECT 1 AS ok FROM compaction_jobs WHERE id = ?").get(job.id) !== undefined) continue;
        insertJob.run(job.id, job.tenant, job.level, nowMs, nowMs);
        for (const id of sources) insertSource.run(id, job.id);
        created.push(job.id);
      }
      return created;
    });
  }

  async acquireCompactionJob(request: LeaseRequest): Promise<LeasedCompactionJob | undefined> {
    this.checkOpen();
    checkLeaseRequest(request);
    const nowMs = request.nowMs ?? Date.now();
    return this.write(() => {
      const candidate = this.stmt(
        `SELECT ${JOB_COLUMNS} FROM compaction_jobs j
         WHERE (j.status = 'pending' AND j.not_before_ms <= ?)
            OR (j.status = 'running' AND j.lease_expires_at_ms <= ?)
         ORDER BY j.level, CASE WHEN j.status = 'pending' THEN 0 ELSE 1 END, j.failures, j.id
         LIMIT 1`,
      ).get(nowMs, nowMs);
      if (candidate === undefined) return undefined;
      const job = toJob(candidate, []);
      const takenOver = job.status === "running" ? 1 : 0;
      // Compare-and-set on the token: the same statement is safe without the IMMEDIATE lock
      // (PostgreSQL at READ COMMITTED), where two workers may pick the same candidate.
      const changed = this.stmt(
        `UPDATE compaction_jobs SET status = 'running', lease_owner = ?, lease_expires_at_ms = ?,
           fencing_token = fencing_token + 1, failures = failures + ?, last_error = ?, updated_at_ms = ?
         WHERE id = ? AND fencing_token = ?`,
      ).run(
        request.owner,
        nowMs + request.leaseMs,
        takenOver,
        takenOver === 1 ? `lease of ${job.leaseOwner} expired` : job.lastError,
        nowMs,
        job.id,
        job.fencingToken,
      ).changes;
      if (Number(changed) !== 1) return undefined;
      const leased = this.jobById(job.id)!;
      return { job: leased, sources: this.blocksByIds(leased.sourceBlockIds) };
    });
  }

  async renewCompactionLease(jobId: string, fencingToken: number, request: LeaseRequest): Promise<boolean> {
    this.checkOpen();
    checkLeaseRequest(request);
    const nowMs = request.nowMs ?? Date.now();
    return this.write(() => {
      const changed = this.stmt(
        `UPDATE compaction_jobs SET lease_expires_at_ms = ?, updated_at_ms = ?
         WHERE id = ? AND fencing_token = ? AND status = 'running' AND lease_owner = ?`,
      ).run(nowMs + request.leaseMs, nowMs, jobId, fencingToken, request.owner).changes;
      return Number(changed) === 1;
    });
  }

  async commitCompactionJob(commit: CompactionCommit): Promise<void> {
    this.checkOpen();
    for (const output of commit.outputs) checkBlockMeta(output);
    const nowMs = commit.nowMs ?? Date.now();
    if (!Number.isSafeInteger(commit.deleteAfterMs)) {
      throw new InvalidMetastoreInputError(`deleteAfterMs ${commit.deleteAfterMs} is not a safe integer`);
    }
    this.write(() => {
      const job = this.jobById(commit.jobId);
      if (job === undefined) throw new StaleCompactionJobError(commit.jobId, "no such job");
      if (job.status !== "running") throw new StaleCompactionJobError(commit.jobId, `job is ${job.status}`);
      if (job.fencingToken !== commit.fencingToken) {
        throw new StaleCompactionJobError(
          commit.jobId,
          `fencing token ${commit.fencingToken} is stale (current ${job.fencingToken}, leased to ${job.leaseOwner})`,
        );
      }
      const tombstone = this.stmt(
        "UPDATE blocks SET deleted_at_ms = ? WHERE id = ? AND deleted_at_ms IS NULL",
      );
      const insertTombstone = this.stmt(
        `INSERT INTO tombstones (block_id, object_key, tombstoned_at_ms, delete_after_ms)
         SELECT id, object_key, ?, ? FROM blocks WHERE id = ?`,
      );
      for (const id of job.sourceBlockIds) {
        if (Number(tombstone.run(nowMs, id).changes) !== 1) {
          throw new StaleCompactionJobError(commit.jobId, `source block ${id} is no longer live`);
        }
        insertTombstone.run(nowMs, commit.deleteAfterMs, id);
      }
      // Outputs of a deleted tenant made from segments written before its deletion go at once.
      const oldestSegment = this.stmt(
        `SELECT MIN(b.created_at_ms) AS oldest FROM compaction_job_sources s
         JOIN blocks b ON b.id = s.block_id WHERE s.job_id = ? AND b.tenant = ''`,
      ).get(commit.jobId)?.oldest;
      const deletedSince = this.stmt("SELECT requested_at_ms FROM tenant_deletions WHERE tenant = ?");
      for (const output of commit.outputs) {
        this.insertBlock(output);
        const deletion = deletedSince.get(output.tenant);
        if (
          deletion !== undefined &&
          typeof oldestSegment === "number" &&
          oldestSegment <= int(deletion, "requested_at_ms")
        ) {
          this.tombstoneLive([output.id], commit.deleteAfterMs, nowMs);
        }
      }
      this.stmt(
        `UPDATE compaction_jobs SET status = 'done', lease_expires_at_ms = ?, updated_at_ms = ?
         WHERE id = ? AND fencing_token = ?`,
      ).run(nowMs, nowMs, commit.jobId, commit.fencingToken);
    });
  }

  async failCompactionJob(jobId: string, fencingToken: number, failure: CompactionFailure): Promise<boolean> {
    this.checkOpen();
    const nowMs = failure.nowMs ?? Date.now();
    if (!Number.isSafeInteger(failure.retryAtMs)) {
      throw new InvalidMetastoreInputError(`retryAtMs ${failure.retryAtMs} is not a safe integer`);
    }
    return this.write(() => {
      const changed = this.stmt(
        `UPDATE compaction_jobs SET status = 'pending', failures = failures + 1, not_before_ms = ?,
           last_error = ?, lease_expires_at_ms = ?, updated_at_ms = ?
         WHERE id = ? AND fencing_token = ? AND status = 'running'`,
      ).run(
        failure.retryAtMs,
        String(failure.error).slice(0, 4096),
        nowMs,
        nowMs,
        jobId,
        fencingToken,
      ).changes;
      return Number(changed) === 1;
    });
  }

  async listCompactionJobs(): Promise<CompactionJob[]> {
    this.checkOpen();
    return this.read(() => {
      const sources = this.sourcesByJob();
      return this.stmt(`SELECT ${JOB_COLUMNS} FROM compaction_jobs j ORDER BY j.id`)
        .all()
        .map((row) => toJob(row, sources.get(text(row, "id")) ?? []));
    });
  }

  async dueTombstones(nowMs: number, limit: number): Promise<Tombstone[]> {
    this.checkOpen();
    if (!Number.isSafeInteger(nowMs) || !Number.isSafeInteger(limit) || limit < 0) {
      throw new InvalidMetastoreInputError(`dueTombstones(${nowMs}, ${limit})`);
    }
    return this.stmt(
      `SELECT block_id, object_key, tombstoned_at_ms, delete_after_ms FROM tombstones
       WHERE delete_after_ms <= ? ORDER BY delete_after_ms, block_id LIMIT ?`,
    )
      .all(nowMs, limit)
      .map((row) => ({
        blockId: text(row, "block_id"),
        objectKey: text(row, "object_key"),
        tombstonedAtMs: int(row, "tombstoned_at_ms"),
        deleteAfterMs: int(row, "delete_after_ms"),
      }));
  }

  async purgeTombstones(blockIds: readonly string[]): Promise<void> {
    this.checkOpen();
    this.write(() => {
      const jobs = new Set<string>();
      for (const id of blockIds) {
        if (this.stmt("DELETE FROM tombstones WHERE block_id = ?").run(id).changes === 0) continue;
        this.stmt("DELETE FROM dataset_profile_types WHERE block_id = ?").run(id);
        this.stmt("DELETE FROM datasets WHERE block_id = ?").run(id);
        const job = this.stmt("SELECT job_id FROM compaction_job_sources WHERE block_id = ?").get(id);
        if (job !== undefined) jobs.add(text(job, "job_id"));
        this.stmt("DELETE FROM compaction_job_sources WHERE block_id = ?").run(id);
      }
      for (const jobId of jobs) {
        this.stmt(
          `DELETE FROM compaction_jobs WHERE id = ? AND status = 'done'
             AND NOT EXISTS (SELECT 1 FROM compaction_job_sources s WHERE s.job_id = ?)`,
        ).run(jobId, jobId);
      }
    });
  }

  async listBlocksEndingBefore(beforeMs: number, limit: number): Promise<BlockMeta[]> {
    this.checkOpen();
    if (!Number.isSafeInteger(beforeMs) || !Number.isSafeInteger(limit) || limit < 0) {
      throw new InvalidMetastoreInputError(`listBlocksEndingBefore(${beforeMs}, ${limit})`);
    }
    return this.read(() => {
      const ids = this.stmt(
        `SELECT b.id FROM blocks b WHERE b.deleted_at_ms IS NULL AND b.max_time_ms < ?
         ORDER BY b.id LIMIT ?`,
      )
        .all(beforeMs, limit)
        .map((row) => text(row, "id"));
      return this.blocksByIds(ids);
    });
  }

  async tombstoneBlocks(blockIds: readonly string[], options: TombstoneOptions): Promise<string[]> {
    this.checkOpen();
    const { deleteAfterMs, nowMs } = checkTombstoneOptions(options);
    if (!Array.isArray(blockIds) || !blockIds.every((id) => typeof id === "string")) {
      throw new InvalidMetastoreInputError("blockIds is not an array of strings");
    }
    return this.write(() => this.tombstoneLive(blockIds, deleteAfterMs, nowMs));
  }

  async deleteTenant(tenant: string, options: TombstoneOptions): Promise<string[]> {
    this.checkOpen();
    const { deleteAfterMs, nowMs } = checkTombstoneOptions(options);
    if (typeof tenant !== "string" || tenant === "") {
      throw new InvalidMetastoreInputError(`tenant ${JSON.stringify(tenant)} is not a tenant id`);
    }
    return this.write(() => {
      this.stmt(
        `INSERT INTO tenant_deletions (tenant, requested_at_ms) VALUES (?, ?)
         ON CONFLICT (tenant) DO UPDATE SET requested_at_ms = excluded.requested_at_ms`,
      ).run(tenant, nowMs);
      const ids = this.stmt("SELECT id FROM blocks WHERE tenant = ? AND deleted_at_ms IS NULL ORDER BY id")
        .all(tenant)
        .map((row) => text(row, "id"));
      return this.tombstoneLive(ids, deleteAfterMs, nowMs);
    });
  }

  async listTenantDeletions(): Promise<{ tenant: string; requestedAtMs: number }[]> {
    this.checkOpen();
    return this.stmt("SELECT tenant, requested_at_ms FROM tenant_deletions ORDER BY tenant")
      .all()
      .map((row) => ({ tenant: text(row, "tenant"), requestedAtMs: int(row, "requested_at_ms") }));
  }

  async purgeDeletedBlocks(deletedBeforeMs: number, limit: number): Promise<number> {
    this.checkOpen();
    if (!Number.isSafeInteger(deletedBeforeMs) || !Number.isSafeInteger(limit) || limit < 0) {
      throw new InvalidMetastoreInputError(`purgeDeletedBlocks(${deletedBeforeMs}, ${limit})`);
    }
    return this.write(() => {
      const ids = this.stmt(
        `SELECT b.id FROM blocks b WHERE b.deleted_at_ms IS NOT NULL AND b.deleted_at_ms < ?
           AND NOT EXISTS (SELECT 1 FROM tombstones t WHERE t.block_id = b.id)
         ORDER BY b.deleted_at_ms, b.id LIMIT ?`,
      )
        .all(deletedBeforeMs, limit)
        .map((row) => text(row, "id"));
      for (const id of ids) {
        // Normally gone with the tombstone already; rows tombstoned by schema 1 code may remain.
        this.stmt("DELETE FROM dataset_profile_types WHERE block_id = ?").run(id);
        this.stmt("DELETE FROM datasets WHERE block_id = ?").run(id);
        this.stmt("DELETE FROM compaction_job_sources WHERE block_id = ?").run(id);
        this.stmt("DELETE FROM blocks WHERE id = ?").run(id);
      }
      return ids.length;
    });
  }

  /**
   * Tombstones the live blocks among `ids` and cancels the unfinished jobs holding them;
   * returns the ids tombstoned, sorted. Inside a write transaction.
   */
  private tombstoneLive(ids: readonly string[], deleteAfterMs: number, nowMs: number): string[] {
    const done: string[] = [];
    const mark = this.stmt("UPDATE blocks SET deleted_at_ms = ? WHERE id = ? AND deleted_at_ms IS NULL");
    const insertTombstone = this.stmt(
      `INSERT INTO tombstones (block_id, object_key, tombstoned_at_ms, delete_after_ms)
       SELECT id, object_key, ?, ? FROM blocks WHERE id = ?`,
    );
    const openJob = this.stmt(
      `SELECT j.id FROM compaction_job_sources s JOIN compaction_jobs j ON j.id = s.job_id
       WHERE s.block_id = ? AND j.status <> 'done'`,
    );
    for (const id of [...new Set(ids)].sort()) {
      if (Number(mark.run(nowMs, id).changes) !== 1) continue;
      insertTombstone.run(nowMs, deleteAfterMs, id);
      const job = openJob.get(id);
      if (job !== undefined) {
        const jobId = text(job, "id");
        this.stmt("DELETE FROM compaction_job_sources WHERE job_id = ?").run(jobId);
        this.stmt("DELETE FROM compaction_jobs WHERE id = ?").run(jobId);
      }
      done.push(id);
    }
    return done;
  }

  async knownObjectKeys(objectKeys: readonly string[]): Promise<Set<string>> {
    this.checkOpen();
    const known = new Set<string>();
    const find = this.stmt("SELECT 1 AS ok FROM blocks WHERE object_key = ? LIMIT 1");
    this.read(() => {
      for (const key of objectKeys) if (find.get(key) !== undefined) known.add(key);
    });
    return known;
  }

  async compactionStats(): Promise<CompactionStats> {
    this.checkOpen();
    return this.read(() => {
      const levels = this.stmt(
        `SELECT level, COUNT(*) AS blocks, SUM(size_bytes) AS bytes FROM blocks
         WHERE deleted_at_ms IS NULL GROUP BY level ORDER BY level`,
      )
        .all()
        .map((row) => ({ level: int(row, "level"), blocks: int(row, "blocks"), bytes: int(row, "bytes") }));
      const oldest = this.stmt(
        "SELECT MIN(created_at_ms) AS oldest FROM blocks WHERE level = 0 AND deleted_at_ms IS NULL",
      ).get()?.oldest;
      const jobs: Record<CompactionJobStatus, number> = { pending: 0, running: 0, done: 0 };
      for (const row of this.stmt(
        "SELECT status, COUNT(*) AS n FROM compaction_jobs GROUP BY status",
      ).all()) {
        jobs[text(row, "status") as CompactionJobStatus] = int(row, "n");
      }
      const tombstones = int(this.stmt("SELECT COUNT(*) AS n FROM tombstones").get()!, "n");
      return {
        levels,
        oldestLevel0CreatedAtMs: typeof oldest === "number" ? oldest : undefined,
        jobs,
        tombstones,
      };
    });
  }

  private jobById(id: string): CompactionJob | undefined {
    const row = this.stmt(`SELECT ${JOB_COLUMNS} FROM compaction_jobs j WHERE j.id = ?`).get(id);
    if (row === undefined) return undefined;
    const sources = this.stmt(
      "SELECT block_id FROM compaction_job_sources WHERE job_id = ? ORDER BY block_id",
    )
      .all(id)
      .map((r) => text(r, "block_id"));
    return toJob(row, sources);
  }

  private sourcesByJob(): Map<string, string[]> {
    const byJob = new Map<string, string[]>();
    for (const row of this.stmt(
      "SELECT job_id, block_id FROM compaction_job_sources ORDER BY block_id",
    ).all()) {
      const jobId = text(row, "job_id");
      let list = byJob.get(jobId);
      if (list === undefined) {
        list = [];
        byJob.set(jobId, list);
      }
      list.push(text(row, "block_id"));
    }
    return byJob;
  }

  /** Blocks (live or not) with these ids and their datasets, sorted by id; call inside a transaction. */
  private blocksByIds(ids: readonly string[]): BlockMeta[] {
    const blockStmt = this.stmt(`SELECT ${BLOCK_COLUMNS} FROM blocks b WHERE b.id = ?`);
    const datasetStmt = this.stmt(
      `SELECT ${DATASET_COLUMNS} FROM datasets d WHERE d.block_id = ? ORDER BY d.idx`,
    );
    const blocks: BlockMeta[] = [];
    for (const id of [...ids].sort()) {
      const row = blockStmt.get(id);
      if (row === undefined) continue;
      const block = toBlock(row);
      for (const d of datasetStmt.all(id)) block.datasets.push(toDataset(d));
      blocks.push(block);
    }
    return blocks;
  }

  async schemaVersion(): Promise<number> {
    this.checkOpen();
    return readVersion(this.db);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.statements.clear();
    this.db.close();
  }

  /** Blocks matching `where` (over alias b) with their datasets, read in one snapshot. */
  private readBlocks(where: string, params: SQLInputValue[]): BlockMeta[] {
    // The two SELECTs share a read transaction, so a commit by another process between them
    // cannot pair a block with a partial list of datasets.
    this.db.exec("BEGIN");
    try {
      const blocks = this.stmt(`SELECT ${BLOCK_COLUMNS} FROM blocks b WHERE ${where} ORDER BY b.id`)
        .all(...params)
        .map(toBlock);
      const datasetRows = this.stmt(
        `SELECT ${DATASET_COLUMNS} FROM datasets d JOIN blocks b ON b.id = d.block_id
         WHERE ${where} ORDER BY d.block_id, d.idx`,
      ).all(...params);
      this.db.exec("COMMIT");
      const byId = new Map(blocks.map((b) => [b.id, b]));
      for (const row of datasetRows) byId.get(text(row, "block_id"))?.datasets.push(toDataset(row));
      return blocks;
    } catch (err) {
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      throw err;
    }
  }

  private stmt(sql: string): StatementSync {
    let s = this.statements.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  private checkOpen(): void {
    if (this.closed) throw new Error(`metastore ${this.path} is closed`);
  }
}

function checkTombstoneOptions(options: TombstoneOptions): { deleteAfterMs: number; nowMs: number } {
  const nowMs = options.nowMs ?? Date.now();
  if (!Number.isSafeInteger(options.deleteAfterMs) || !Number.isSafeInteger(nowMs)) {
    throw new InvalidMetastoreInputError(
      `tombstone times ${options.deleteAfterMs}, ${nowMs} are not safe integers`,
    );
  }
  return { deleteAfterMs: options.deleteAfterMs, nowMs };
}

function migrate(db: DatabaseSync, path: string): void {
  // IMMEDIATE: two processes opening a new file at once must not both apply migration 1.
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec(CREATE_SCHEMA_VERSION_TABLE);
    const current = readVersion(db);
    if (current > SCHEMA_VERSION) {
      throw new Error(
        `metastore ${path} has schema version ${current}, newer than this Kiln understands (${SCHEMA_VERSION}); upgrade Kiln`,
      );
    }
    const record = db.prepare("INSERT INTO schema_version (version, applied_at_ms) VALUES (?, ?)");
    for (let version = current + 1; version <= SCHEMA_VERSION; version++) {
      for (const statement of MIGRATIONS[version - 1]!) db.exec(statement);
      record.run(version, Date.now());
    }
    db.exec("COMMIT");
  } catch (err) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw err;
  }
}

function readVersion(db: DatabaseSync): number {
  const v = db.prepare("SELECT MAX(version) AS version FROM schema_version").get()?.version;
  return typeof v === "number" ? v : 0;
}

function isUniqueViolation(err: unknown): boolean {
  if (typeof err !== "object" || err === null || !("errcode" in err)) return false;
  return err.errcode === SQLITE_CONSTRAINT_PRIMARYKEY || err.errcode === SQLITE_CONSTRAINT_UNIQUE;
}

function toBlock(row: Row): BlockMeta {
  return {
    id: text(row, "id"),
    objectKey: text(row, "object_key"),
    formatVersion: int(row, "format_version"),
    level: int(row, "level"),
    tenant: text(row, "tenant"),
    minTimeMs: int(row, "min_time_ms"),
    maxTimeMs: int(row, "max_time_ms"),
    sizeBytes: int(row, "size_bytes"),
    createdAtMs: int(row, "created_at_ms"),
    datasets: [],
  };
}

function toJob(row: Row, sourceBlockIds: string[]): CompactionJob {
  return {
    id: text(row, "id"),
    tenant: text(row, "tenant"),
    level: int(row, "level"),
    status: text(row, "status") as CompactionJobStatus,
    sourceBlockIds,
    leaseOwner: text(row, "lease_owner"),
    leaseExpiresAtMs: int(row, "lease_expires_at_ms"),
    fencingToken: int(row, "fencing_token"),
    failures: int(row, "failures"),
    notBeforeMs: int(row, "not_before_ms"),
    lastError: text(row, "last_error"),
    createdAtMs: int(row, "created_at_ms"),
    updatedAtMs: int(row, "updated_at_ms"),
  };
}

function toDataset(row: Row): DatasetMeta {
  return {
    tenant: text(row, "tenant"),
    service: text(row, "service"),
    minTimeMs: int(row, "min_time_ms"),
    maxTimeMs: int(row, "max_time_ms"),
    profileTypes: JSON.parse(text(row, "profile_types")) as string[],
    labelNames: JSON.parse(text(row, "label_names")) as string[],
    sections: JSON.parse(text(row, "sections")) as SectionRef[],
  };
}

function text(row: Row, column: string): string {
  const v = row[column];
  if (typeof v !== "string") throw new Error(`metastore column ${column}: expected text, found ${typeof v}`);
  return v;
}

function int(row: Row, column: string): number {
  const v = row[column];
  if (typeof v !== "number" || !Number.isSafeInteger(v)) {
    throw new Error(`metastore column ${column}: expected an integer, found ${String(v)}`);
  }
  return v;
}
