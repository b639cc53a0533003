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
