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
  type DatasetHit,
  type DatasetMeta,
  type DatasetQuery,
  type Metastore,
  type SectionRef,
} from "./metastore.ts";
import { CREATE_SCHEMA_VERSION_TABLE, MIGRATIONS, SCHEMA_VERSION } from "./schema.ts";
import { checkBlockFilter, checkBlockMeta, checkDatasetQuery } from "./validate.ts";

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
    // IMMEDIATE takes the write lock up front (waiting up to the busy timeout), so the
    // transaction cannot fail half-way for want of it.
    this.db.exec("BEGIN IMMEDIATE");
    try {
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
      this.db.exec("COMMIT");
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
      WHERE d.tenant = ? AND d.max_time_ms >= ? AND d.min_time_ms <= ? AND b.deleted_at_ms IS NULL`;
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
