/**
 * The metastore schema as ordered migrations of plain SQL that runs unchanged on SQLite and
 * PostgreSQL: only TEXT, INTEGER and BIGINT columns, JSON kept as TEXT, standard constraints,
 * and `IF NOT EXISTS` (which both accept). Migration N (1-based) brings the schema from version
 * N-1 to N; each implementation applies the missing ones at open inside one transaction and
 * records each in `schema_version`. Never edit a released migration: append a new one.
 *
 * Tables (version 1):
 * - `blocks`: one row per block object. `level` is 0 for flushed segments and raised by
 *   compaction; `deleted_at_ms` is NULL for live blocks and will hold the tombstone time once
 *   compaction lands (readers already ignore non-NULL rows).
 * - `datasets`: one row per (tenant, service) dataset of a block, `idx` being its position in
 *   the block. `profile_types`, `label_names` and `sections` are JSON arrays (the table of
 *   contents the query planner needs without reading the object).
 * - `dataset_profile_types`: the profile types of each dataset again, one row each, so the
 *   profile-type filter is an indexed lookup rather than a scan of JSON text. Its primary key
 *   also rejects a dataset that lists a profile type twice.
 *
 * Tables added by version 2 (compaction):
 * - `compaction_jobs`: one row per job. `status` is pending, running or done; a running job
 *   has a lease (`lease_owner` until `lease_expires_at_ms`), and `fencing_token` is raised by
 *   every lease, so a worker whose lease was taken over is refused at commit. `not_before_ms`
 *   delays the retry of a failed job.
 * - `compaction_job_sources`: the source blocks of each job. The primary key on `block_id`
 *   alone is what keeps a block in at most one job, even with planners racing.
 * - `tombstones`: the compacted sources whose objects are to be deleted once
 *   `delete_after_ms` has passed (the grace period lets queries already planned finish). The
 *   block row itself gets `deleted_at_ms` in the same transaction, which hides it from reads.
 * - `blocks_object_key` lets the orphan sweep ask which listed objects some row names;
 *   `blocks_level_live` serves the planner's per-level scan.
 *
 * Added by version 3 (retention and tenant deletion):
 * - `tenant_deletions`: one row per tenant whose data an operator deleted (`kiln admin
 *   delete-tenant`), with the time of the (last) request. The tenant's datasets in level-0
 *   segments created at or before that time are hidden from queries, and compaction outputs
 *   of that tenant made from such segments are tombstoned at commit, so a multi-tenant
 *   segment (which holds other tenants too and cannot be deleted) never brings the data back.
 * - `blocks_live_max_time` serves the retention scan (live blocks ending before a time) and
 *   `blocks_deleted_at` the purge of old tombstoned block rows.
 */

export const MIGRATIONS: readonly (readonly string[])[] = [
  // Version 1: blocks and their datasets.
  [
    `CREATE TABLE blocks (
      id TEXT NOT NULL PRIMARY KEY,
      object_key TEXT NOT NULL,
      format_version INTEGER NOT NULL,
      level INTEGER NOT NULL,
      tenant TEXT NOT NULL,
      min_time_ms BIGINT NOT NULL,
      max_time_ms BIGINT NOT NULL,
      size_bytes BIGINT NOT NULL,
      created_at_ms BIGINT NOT NULL,
      deleted_at_ms BIGINT NULL
    )`,
    // Compaction planning and listBlocks select by tenant and level.
    "CREATE INDEX blocks_tenant_level ON blocks (tenant, level)",
    `CREATE TABLE datasets (
      block_id TEXT NOT NULL REFERENCES blocks (id),
      idx INTEGER NOT NULL,
      tenant TEXT NOT NULL,
      service TEXT NOT NULL,
      min_time_ms BIGINT NOT NULL,
      max_time_ms BIGINT NOT NULL,
      profile_types TEXT NOT NULL,
      label_names TEXT NOT NULL,
      sections TEXT NOT NULL,
      PRIMARY KEY (block_id, idx)
    )`,
    // Queries mostly ask for recent data, so the range condition on max_time_ms (>= start)
    // selects few rows whereas min_time_ms (<= end) would match the whole history.
    "CREATE INDEX datasets_tenant_service_max_time ON datasets (tenant, service, max_time_ms)",
    "CREATE INDEX datasets_tenant_max_time ON datasets (tenant, max_time_ms)",
    `CREATE TABLE dataset_profile_types (
      block_id TEXT NOT NULL,
      idx INTEGER NOT NULL,
      profile_type TEXT NOT NULL,
      PRIMARY KEY (block_id, idx, profile_type),
      FOREIGN KEY (block_id, idx) REFERENCES datasets (block_id, idx)
    )`,
  ],
  // Version 2: compaction jobs with leases, and tombstones.
  [
    `CREATE TABLE compaction_jobs (
      id TEXT NOT NULL PRIMARY KEY,
      tenant TEXT NOT NULL,
      level INTEGER NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done')),
      lease_owner TEXT NOT NULL,
      lease_expires_at_ms BIGINT NOT NULL,
      fencing_token BIGINT NOT NULL,
      failures INTEGER NOT NULL,
      not_before_ms BIGINT NOT NULL,
      last_error TEXT NOT NULL,
      created_at_ms BIGINT NOT NULL,
      updated_at_ms BIGINT NOT NULL
    )`,
    "CREATE INDEX compaction_jobs_status_level ON compaction_jobs (status, level)",
    `CREATE TABLE compaction_job_sources (
      block_id TEXT NOT NULL PRIMARY KEY REFERENCES blocks (id),
      job_id TEXT NOT NULL REFERENCES compaction_jobs (id)
    )`,
    "CREATE INDEX compaction_job_sources_job ON compaction_job_sources (job_id)",
    `CREATE TABLE tombstones (
      block_id TEXT NOT NULL PRIMARY KEY REFERENCES blocks (id),
      object_key TEXT NOT NULL,
      tombstoned_at_ms BIGINT NOT NULL,
      delete_after_ms BIGINT NOT NULL
    )`,
    "CREATE INDEX tombstones_delete_after ON tombstones (delete_after_ms)",
    "CREATE INDEX blocks_object_key ON blocks (object_key)",
    "CREATE INDEX blocks_level_live ON blocks (level, deleted_at_ms)",
  ],
  // Version 3: retention and tenant deletion.
  [
    `CREATE TABLE tenant_deletions (
      tenant TEXT NOT NULL PRIMARY KEY,
      requested_at_ms BIGINT NOT NULL
    )`,
    "CREATE INDEX blocks_live_max_time ON blocks (deleted_at_ms, max_time_ms)",
    "CREATE INDEX blocks_deleted_at ON blocks (deleted_at_ms)",
  ],
];

/** The schema version this code writes and understands. */
export const SCHEMA_VERSION: number = MIGRATIONS.length;

/** Created before anything else, so that the version can be read on an empty database. */
export const CREATE_SCHEMA_VERSION_TABLE = `CREATE TABLE IF NOT EXISTS schema_version (
  version INTEGER NOT NULL PRIMARY KEY,
  applied_at_ms BIGINT NOT NULL
)`;
