/**
 * Compaction planning: which live blocks to merge together, as jobs in the metastore.
 *
 * Blocks are grouped by level and, from level 1 on, by tenant; within a group, by the data
 * time window their earliest profile falls in (so a late straggler does not stretch a block
 * over days). Level-0 segments hold many tenants: a level-0 job takes whole segments,
 * whatever tenants they hold, and emits one level-1 block per tenant (the segment is then
 * tombstoned as a whole, so a segment is never half compacted).
 *
 * Within a group, blocks are taken oldest first (block ids are ULIDs): every `maxBlocks`
 * blocks (or fewer when `maxBytes` is reached) make a job; the rest waits until its oldest
 * block is `maxAgeMs` old, then goes as a smaller job. Above level 0 a job needs two blocks
 * (re-encoding one block alone buys nothing). Blocks at level `levels.length` and above are
 * final. Levels 0–2 follow Pyroscope v2's thresholds (L0: 20 blocks or 36 s; L1: 10 blocks or
 * 12 min; L2: 10 blocks or 3 h), all within 1 h windows. Kiln adds a daily level, as
 * Prometheus' TSDB grows its block ranges with age: the hourly level-3 blocks of one UTC day
 * become one level-4 block once the day has its 24 (or a day after the first of them), so
 * a 30-day query reads about 30 datasets instead of 720 (each block costs a symbols section
 * to decode and its stacks to resolve, whatever its size). Level 4 is final.
 *
 * Planners may run in several processes at once: `addCompactionJobs` creates a job only if
 * none of its blocks is in another job, so a race only loses jobs, never duplicates them.
 */
import type { BlockMeta, Metastore, NewCompactionJob } from "../metastore/metastore.ts";
import { ulid } from "../model/ulid.ts";

/** The planning policy of one input level. */
export interface LevelPolicy {
  /** Most blocks in one job. */
  maxBlocks: number;
  /** A group with fewer blocks is compacted anyway once its oldest block is this old. */
  maxAgeMs: number;
  /** Blocks are grouped by `floor(minTimeMs / timeWindowMs)`. */
  timeWindowMs: number;
  /** Most source bytes in one job (the merge holds a job's data in memory). */
  maxBytes: number;
}

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
const MiB = 1024 * 1024;

/** Index = input level. Blocks at level `DEFAULT_LEVELS.length` (4) are final. */
export const DEFAULT_LEVELS: readonly LevelPolicy[] = Object.freeze([
  { maxBlocks: 20, maxAgeMs: 36_000, timeWindowMs: HOUR_MS, maxBytes: 256 * MiB },
  { maxBlocks: 10, maxAgeMs: 12 * 60_000, timeWindowMs: HOUR_MS, maxBytes: 512 * MiB },
  { maxBlocks: 10, maxAgeMs: 3 * HOUR_MS, timeWindowMs: HOUR_MS, maxBytes: 1024 * MiB },
  // Sources of a daily merge stay well under the 512 MiB section payload limit once decoded
  // (zstd shrinks profiles about 4×); a bigger day becomes several daily blocks.
  { maxBlocks: 24, maxAgeMs: DAY_MS, timeWindowMs: DAY_MS, maxBytes: 128 * MiB },
]);

export function checkLevels(levels: readonly LevelPolicy[]): void {
  levels.forEach((policy, level) => {
    for (const key of ["maxBlocks", "maxAgeMs", "timeWindowMs", "maxBytes"] as const) {
      const value = policy[key];
      if (!Number.isSafeInteger(value) || value < (key === "maxAgeMs" ? 0 : 1)) {
        throw new RangeError(`compaction level ${level}: ${key} ${value} is out of range`);
      }
    }
  });
}

export interface PlanOptions {
  levels?: readonly LevelPolicy[];
  nowMs?: number;
  /** Most candidate blocks read per level and pass (oldest first). */
  candidatesMax?: number;
}

/** The jobs to create from `blocks` (all of `level`, none in a job), without touching the metastore. */
export function planLevel(
  blocks: readonly BlockMeta[],
  level: number,
  policy: LevelPolicy,
  nowMs: number,
): NewCompactionJob[] {
  const groups = new Map<string, BlockMeta[]>();
  for (const block of blocks) {
    if (block.level !== level) continue;
    const window = Math.floor(block.minTimeMs / policy.timeWindowMs);
    // Level 0: whole segments, every tenant together.
    const tenant = level === 0 ? "" : block.tenant;
    const key = `${tenant}\u0000${window}`;
    let group = groups.get(key);
    if (group === undefined) {
      group = [];
      groups.set(key, group);
    }
    group.push(block);
  }
  const jobs: NewCompactionJob[] = [];
  const minBlocks = level === 0 ? 1 : 2;
  for (const group of groups.values()) {
    group.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const tenant = level === 0 ? "" : group[0]!.tenant;
    let chunk: BlockMeta[] = [];
    let chunkBytes = 0;
    const emit = () => {
      jobs.push({ id: ulid(nowMs), tenant, level, sourceBlockIds: chunk.map((b) => b.id) });
      chunk = [];
      chunkBytes = 0;
    };
    for (const block of group) {
      if (chunk.length > 0 && chunkBytes + block.sizeBytes > policy.maxBytes) {
        if (chunk.length >= minBlocks) emit();
        else {
          // A single block above the byte budget: it stays as it is.
          chunk = [];
          chunkBytes = 0;
        }
      }
      chunk.push(block);
      chunkBytes += block.sizeBytes;
      if (chunk.length >= policy.maxBlocks) emit();
    }
    if (chunk.length >= minBlocks) {
      const oldest = Math.min(...chunk.map((b) => b.createdAtMs));
      if (nowMs - oldest >= policy.maxAgeMs) emit();
    }
  }
  return jobs;
}

/** Plans every non-final level and creates the jobs; returns the ids of the jobs created. */
export async function planCompaction(metastore: Metastore, options: PlanOptions = {}): Promise<string[]> {
  const levels = options.levels ?? DEFAULT_LEVELS;
  const nowMs = options.nowMs ?? Date.now();
  const created: string[] = [];
  for (let level = 0; level < levels.length; level++) {
    const blocks = await metastore.listCompactableBlocks(level, options.candidatesMax ?? 10_000);
    const jobs = planLevel(blocks, level, levels[level]!, nowMs);
    if (jobs.length > 0) created.push(...(await metastore.addCompactionJobs(jobs, nowMs)));
  }
  return created;
}
