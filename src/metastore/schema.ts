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
 * Compaction jobs with leases are a later migration.
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
];

/** The schema version this code writes and understands. */
export const SCHEMA_VERSION: number = MIGRATIONS.length;

/** Created before anything else, so that the version can be read on an empty database. */
export const CREATE_SCHEMA_VERSION_TABLE = `CREATE TABLE IF NOT EXISTS schema_version (
  version INTEGER NOT NULL PRIMARY KEY,
  applied_at_ms BIGINT NOT NULL
)`;
