/**
 * Checks of what callers hand to a metastore, shared by every implementation so that a bad
 * BlockMeta is refused the same way everywhere, before any SQL runs. SQLite in particular
 * stores whatever it is given (a string in a BIGINT column), so the check cannot be left to
 * column types. Uniqueness (block ids, profile types within a dataset) is left to the
 * database's constraints, which see concurrent writers too.
 */
import type { BlockMeta, DatasetMeta, DatasetQuery, LeaseRequest, NewCompactionJob } from "./metastore.ts";

/** Block ids are ULIDs (26 chars); the cap only stops absurd input from reaching the database. */
const MAX_ID_CHARS = 128;
const MAX_TEXT_CHARS = 4096;

export class InvalidMetastoreInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidMetastoreInputError";
  }
}

export function checkBlockMeta(block: BlockMeta): void {
  const where = `block ${typeof block?.id === "string" ? JSON.stringify(block.id) : "?"}`;
  if (typeof block !== "object" || block === null)
    throw new InvalidMetastoreInputError("block is not an object");
  checkText(where, "id", block.id, MAX_ID_CHARS, false);
  checkText(where, "objectKey", block.objectKey, MAX_TEXT_CHARS, false);
  checkText(where, "tenant", block.tenant, MAX_TEXT_CHARS, true);
  checkCount(where, "formatVersion", block.formatVersion);
  checkCount(where, "level", block.level);
  checkCount(where, "sizeBytes", block.sizeBytes);
  checkTimeRange(where, block.minTimeMs, block.maxTimeMs);
  checkInteger(where, "createdAtMs", block.createdAtMs);
  if (!Array.isArray(block.datasets))
    throw new InvalidMetastoreInputError(`${where}: datasets is not an array`);
  block.datasets.forEach((dataset, idx) => {
    checkDataset(`${where} dataset ${idx}`, dataset, block);
  });
}

function checkDataset(where: string, d: DatasetMeta, block: BlockMeta): void {
  if (typeof d !== "object" || d === null) throw new InvalidMetastoreInputError(`${where}: not an object`);
  checkText(where, "tenant", d.tenant, MAX_TEXT_CHARS, false);
  checkText(where, "service", d.service, MAX_TEXT_CHARS, true);
  // A single-tenant block holding another tenant's dataset would leak it to the wrong tenant.
  if (block.tenant !== "" && d.tenant !== block.tenant) {
    throw new InvalidMetastoreInputError(
      `${where}: tenant ${JSON.stringify(d.tenant)} in a block of tenant ${JSON.stringify(block.tenant)}`,
    );
  }
  checkTimeRange(where, d.minTimeMs, d.maxTimeMs);
  // Blocks are found by their datasets' times; a dataset outside its block's range means the
  // block's range is wrong and compaction planning would miss it.
  if (d.minTimeMs < block.minTimeMs || d.maxTimeMs > block.maxTimeMs) {
    throw new InvalidMetastoreInputError(
      `${where}: time range [${d.minTimeMs}, ${d.maxTimeMs}] is outside the block's [${block.minTimeMs}, ${block.maxTimeMs}]`,
    );
  }
  checkStringArray(where, "profileTypes", d.profileTypes);
  checkStringArray(where, "labelNames", d.labelNames);
  if (!Array.isArray(d.sections)) throw new InvalidMetastoreInputError(`${where}: sections is not an array`);
  d.sections.forEach((s, i) => {
    if (typeof s !== "object" || s === null)
      throw new InvalidMetastoreInputError(`${where}: section ${i} is not an object`);
    checkCount(`${where} section ${i}`, "kind", s.kind);
    checkCount(`${where} section ${i}`, "offset", s.offset);
    checkCount(`${where} section ${i}`, "sizeBytes", s.sizeBytes);
  });
}

export function checkDatasetQuery(q: DatasetQuery): void {
  if (typeof q !== "object" || q === null) throw new InvalidMetastoreInputError("query is not an object");
  checkText("query", "tenant", q.tenant, MAX_TEXT_CHARS, true);
  checkInteger("query", "startMs", q.startMs);
  checkInteger("query", "endMs", q.endMs);
  if (q.service !== undefined) checkText("query", "service", q.service, MAX_TEXT_CHARS, true);
  if (q.profileType !== undefined) checkText("query", "profileType", q.profileType, MAX_TEXT_CHARS, true);
}

export function checkBlockFilter(filter: { tenant?: string; level?: number }): void {
  if (typeof filter !== "object" || filter === null)
    throw new InvalidMetastoreInputError("filter is not an object");
  if (filter.tenant !== undefined) checkText("filter", "tenant", filter.tenant, MAX_TEXT_CHARS, true);
  if (filter.level !== undefined) checkCount("filter", "level", filter.level);
}

export function checkNewCompactionJob(job: NewCompactionJob): void {
  if (typeof job !== "object" || job === null) throw new InvalidMetastoreInputError("job is not an object");
  const where = `compaction job ${typeof job.id === "string" ? JSON.stringify(job.id) : "?"}`;
  checkText(where, "id", job.id, MAX_ID_CHARS, false);
  checkText(where, "tenant", job.tenant, MAX_TEXT_CHARS, true);
  checkCount(where, "level", job.level);
  if (!Array.isArray(job.sourceBlockIds) || job.sourceBlockIds.length === 0) {
    throw new InvalidMetastoreInputError(`${where}: sourceBlockIds is not a non-empty array`);
  }
  for (const id of job.sourceBlockIds) checkText(where, "source block id", id, MAX_ID_CHARS, false);
}

export function checkLeaseRequest(request: LeaseRequest): void {
  if (typeof request !== "object" || request === null)
    throw new InvalidMetastoreInputError("lease request is not an object");
  checkText("lease request", "owner", request.owner, MAX_TEXT_CHARS, false);
  checkCount("lease request", "leaseMs", request.leaseMs);
  if (request.nowMs !== undefined) checkInteger("lease request", "nowMs", request.nowMs);
}

function checkText(
  where: string,
  field: string,
  value: unknown,
  maxChars: number,
  allowEmpty: boolean,
): void {
  if (typeof value !== "string") throw new InvalidMetastoreInputError(`${where}: ${field} is not a string`);
  if (!allowEmpty && value.length === 0) throw new InvalidMetastoreInputError(`${where}: ${field} is empty`);
  if (value.length > maxChars) {
    throw new InvalidMetastoreInputError(`${where}: ${field} is longer than ${maxChars} characters`);
  }
}

function checkInteger(where: string, field: string, value: unknown): void {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new InvalidMetastoreInputError(`${where}: ${field} ${String(value)} is not a safe integer`);
  }
}

function checkCount(where: string, field: string, value: unknown): void {
  checkInteger(where, field, value);
  if ((value as number) < 0)
    throw new InvalidMetastoreInputError(`${where}: ${field} ${String(value)} is negative`);
}

function checkTimeRange(where: string, minTimeMs: unknown, maxTimeMs: unknown): void {
  checkInteger(where, "minTimeMs", minTimeMs);
  checkInteger(where, "maxTimeMs", maxTimeMs);
  if ((minTimeMs as number) > (maxTimeMs as number)) {
    throw new InvalidMetastoreInputError(`${where}: minTimeMs ${minTimeMs} is after maxTimeMs ${maxTimeMs}`);
  }
}

function checkStringArray(where: string, field: string, value: unknown): void {
  if (!Array.isArray(value)) throw new InvalidMetastoreInputError(`${where}: ${field} is not an array`);
  for (const item of value) checkText(where, `${field} item`, item, MAX_TEXT_CHARS, false);
}
