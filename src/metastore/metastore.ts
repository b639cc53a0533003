/**
 * The metastore indexes blocks: which objects exist, what tenants, services, time ranges and
 * profile types they hold, and where each dataset's sections are, so that planning a query
 * needs no read of any object. Implementations: SQLite (src/metastore/sqlite.ts, default)
 * and PostgreSQL (a later issue); both must pass src/metastore/contract.ts.
 *
 * Contract:
 * - `addBlock` is atomic: the block and all its datasets become visible together or not at
 *   all, and once it resolves the row survives a crash. Adding an existing block id rejects
 *   with `BlockExistsError` and changes nothing; a malformed BlockMeta rejects and changes nothing.
 * - Times are milliseconds since the Unix epoch; ranges are inclusive on both ends.
 * - `queryDatasets` never returns another tenant's datasets, nor datasets of tombstoned blocks.
 *
 * Compaction (schema version 2):
 * - A block belongs to at most one compaction job, ever: `addCompactionJobs` skips a job any of
 *   whose sources is tombstoned, unknown or already in a job, atomically per job, so two
 *   planners racing over the same blocks create each job once.
 * - A job is leased to one owner at a time. Each lease (`acquireCompactionJob`) raises the
 *   job's fencing token; renewing, failing and committing name the token and are refused
 *   once another lease was granted. An expired lease may be taken over (that counts as a
 *   failure of the job).
 * - `commitCompactionJob` is one transaction: the output blocks are added, the sources are
 *   tombstoned (hidden from every read at once), and the job is done, or nothing happens.
 * - Tombstoned blocks' objects are listed by `dueTombstones` only once their grace period is
 *   over (queries planned before the commit may still read them until then); `purgeTombstones`
 *   forgets them once the objects are deleted.
 *
 * Retention and tenant deletion (schema version 3):
 * - `tombstoneBlocks` tombstones live blocks outside of a compaction (retention, deletion):
 *   hidden from reads at once, objects deleted after the grace period like compacted
 *   sources. A job not yet done that holds one of them is cancelled (removed, its other
 *   sources freed for planning), so its worker's renewal and commit are refused.
 * - `deleteTenant` tombstones every live block of the tenant and records the deletion: the
 *   tenant's datasets of level-0 segments created up to then are hidden from queries, and a
 *   compaction output of the tenant from such segments is tombstoned in its commit.
 * - `purgeDeletedBlocks` drops the rows of blocks tombstoned long ago whose objects are gone
 *   (until then, a retried `addBlock` of the id is refused).
 */
export interface Metastore {
  addBlock(block: BlockMeta): Promise<void>;
  /**
   * Datasets overlapping [startMs, endMs] for one tenant, optionally one service and one profile
   * type, of live blocks only; sorted by block id, then by the dataset's position in its block.
   */
  queryDatasets(query: DatasetQuery): Promise<DatasetHit[]>;
  /**
   * All live blocks with their datasets, sorted by id, optionally only those whose block tenant
   * equals `tenant` (so `tenant: ""` selects the multi-tenant segments) and/or of one level.
   */
  listBlocks(filter?: { tenant?: string; level?: number }): Promise<BlockMeta[]>;
  /** The live block with this id, or undefined when there is none (or it is tombstoned). */
  getBlock(id: string): Promise<BlockMeta | undefined>;
  /**
   * Live blocks of `level` that no compaction job holds, sorted by id (with their datasets).
   * `limit` caps how many are returned (oldest first).
   */
  listCompactableBlocks(level: number, limit?: number): Promise<BlockMeta[]>;
  /** Creates the jobs whose sources are all live and free; returns the ids of those created. */
  addCompactionJobs(jobs: readonly NewCompactionJob[], nowMs?: number): Promise<string[]>;
  /**
   * Leases the most urgent job that is pending (and past its retry time) or whose lease has
   * expired: lowest level first, then pending before taken over, fewest failures, oldest.
   */
  acquireCompactionJob(request: LeaseRequest): Promise<LeasedCompactionJob | undefined>;
  /** Extends a lease; false when the lease was lost (another lease granted, or the job ended). */
  renewCompactionLease(jobId: string, fencingToken: number, request: LeaseRequest): Promise<boolean>;
  /**
   * Adds `outputs`, tombstones the job's sources and marks the job done, in one transaction.
   * Rejects with `StaleCompactionJobError` (changing nothing) when the token is not the job's
   * current one or the job is not running, or a source is no longer live.
   */
  commitCompactionJob(commit: CompactionCommit): Promise<void>;
  /**
   * Gives a leased job back after a failure: it becomes pending again, not before
   * `retryAtMs`, with one more failure. False when the lease was already lost.
   */
  failCompactionJob(jobId: string, fencingToken: number, failure: CompactionFailure): Promise<boolean>;
  /** Every job not yet purged, sorted by id (for operators and tests). */
  listCompactionJobs(): Promise<CompactionJob[]>;
  /** Tombstones whose grace period is over at `nowMs`, oldest first. */
  dueTombstones(nowMs: number, limit: number): Promise<Tombstone[]>;
  /**
   * Forgets tombstones whose objects were deleted: their dataset rows go, and done jobs left
   * without sources are purged. The block rows stay (a retried add of the id is still refused).
   */
  purgeTombstones(blockIds: readonly string[]): Promise<void>;
  /**
   * Live blocks whose data ends before `beforeMs` (max time < beforeMs), with their datasets,
   * sorted by id; at most `limit` (retention candidates).
   */
  listBlocksEndingBefore(beforeMs: number, limit: number): Promise<BlockMeta[]>;
  /**
   * Tombstones the live blocks among `blockIds` (the others are skipped) and cancels jobs not
   * done that hold one; returns the ids tombstoned, sorted.
   */
  tombstoneBlocks(blockIds: readonly string[], options: TombstoneOptions): Promise<string[]>;
  /**
   * Tombstones every live block whose tenant is `tenant` (not "") and records the deletion
   * (see above), in one transaction; returns the ids tombstoned, sorted.
   */
  deleteTenant(tenant: string, options: TombstoneOptions): Promise<string[]>;
  /** Tenants deleted, with the time of the request, sorted by tenant. */
  listTenantDeletions(): Promise<{ tenant: string; requestedAtMs: number }[]>;
  /**
   * Deletes the rows of blocks tombstoned before `deletedBeforeMs` whose tombstone was purged
   * (objects deleted); at most `limit`. Returns how many went.
   */
  purgeDeletedBlocks(deletedBeforeMs: number, limit: number): Promise<number>;
  /** Which of `objectKeys` some block row (live or tombstoned) names: the others are orphans. */
  knownObjectKeys(objectKeys: readonly string[]): Promise<Set<string>>;
  /** Live blocks and bytes per level, the oldest live level-0 block, jobs and tombstones. */
  compactionStats(): Promise<CompactionStats>;
  /** Schema version of the store, for migrations. */
  schemaVersion(): Promise<number>;
  /** Releases the connection; idempotent. Any other call after it rejects. */
  close(): Promise<void>;
}

export interface BlockMeta {
  /** ULID: 26 chars, lexically sortable by creation time. */
  id: string;
  objectKey: string;
  /** Block format version (src/block). */
  formatVersion: number;
  /** 0 for segments written by the segment writer; compaction raises it. */
  level: number;
  /** The tenant when the block holds one tenant's data, "" for a multi-tenant segment. */
  tenant: string;
  minTimeMs: number;
  maxTimeMs: number;
  sizeBytes: number;
  createdAtMs: number;
  datasets: DatasetMeta[];
}

export interface DatasetMeta {
  tenant: string;
  service: string;
  minTimeMs: number;
  maxTimeMs: number;
  /** Profile type IDs present in the dataset, sorted. */
  profileTypes: string[];
  /** Label names present in the dataset, sorted. */
  labelNames: string[];
  /** Byte ranges of the dataset's sections inside the block object. */
  sections: SectionRef[];
}

export interface SectionRef {
  /** Section kind (src/block/format.ts SectionKind). */
  kind: number;
  offset: number;
  sizeBytes: number;
}

export interface DatasetQuery {
  tenant: string;
  startMs: number;
  endMs: number;
  service?: string;
  profileType?: string;
}

export interface DatasetHit {
  blockId: string;
  objectKey: string;
  formatVersion: number;
  level: number;
  dataset: DatasetMeta;
}

/** `addBlock` of an id that is already registered (e.g. a compaction job retried after its commit). */
export class BlockExistsError extends Error {
  readonly blockId: string;
  constructor(blockId: string) {
    super(`block already exists: ${blockId}`);
    this.name = "BlockExistsError";
    this.blockId = blockId;
  }
}

/** A job the planner proposes. */
export interface NewCompactionJob {
  id: string;
  /** The tenant of the sources, "" for a job over (multi-tenant) level-0 segments. */
  tenant: string;
  /** The level of the sources (the outputs are one level higher). */
  level: number;
  sourceBlockIds: readonly string[];
}

export type CompactionJobStatus = "pending" | "running" | "done";

export interface CompactionJob {
  id: string;
  tenant: string;
  level: number;
  status: CompactionJobStatus;
  sourceBlockIds: string[];
  /** Owner of the current (or last) lease; "" when never leased. */
  leaseOwner: string;
  /** Expiry of the current lease; 0 when never leased. */
  leaseExpiresAtMs: number;
  /** Raised by every lease; 0 when never leased. */
  fencingToken: number;
  failures: number;
  /** A pending job is not leased before this time (retry back-off). */
  notBeforeMs: number;
  lastError: string;
  createdAtMs: number;
  updatedAtMs: number;
}

export interface LeaseRequest {
  owner: string;
  leaseMs: number;
  nowMs?: number;
}

export interface LeasedCompactionJob {
  job: CompactionJob;
  /** The source blocks with their datasets, sorted by id. */
  sources: BlockMeta[];
}

export interface CompactionCommit {
  jobId: string;
  fencingToken: number;
  outputs: readonly BlockMeta[];
  /** Sources' objects may be deleted from this time on (commit time + grace period). */
  deleteAfterMs: number;
  nowMs?: number;
}

export interface CompactionFailure {
  error: string;
  retryAtMs: number;
  nowMs?: number;
}

export interface TombstoneOptions {
  /** The objects may be deleted from this time on (now + grace period). */
  deleteAfterMs: number;
  nowMs?: number;
}

export interface Tombstone {
  blockId: string;
  objectKey: string;
  tombstonedAtMs: number;
  deleteAfterMs: number;
}

export interface CompactionStats {
  /** Live blocks per level, ascending by level. */
  levels: { level: number; blocks: number; bytes: number }[];
  /** Creation time of the oldest live level-0 block (the compaction lag's start), if any. */
  oldestLevel0CreatedAtMs: number | undefined;
  jobs: Record<CompactionJobStatus, number>;
  tombstones: number;
}

/** A commit, renewal or failure report whose lease is no longer current. */
export class StaleCompactionJobError extends Error {
  readonly jobId: string;
  constructor(jobId: string, why: string) {
    super(`compaction job ${jobId}: ${why}`);
    this.name = "StaleCompactionJobError";
    this.jobId = jobId;
  }
}
