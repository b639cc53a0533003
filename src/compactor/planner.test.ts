import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { BlockMeta } from "../metastore/metastore.ts";
import { checkLevels, DEFAULT_LEVELS, type LevelPolicy, planLevel } from "./planner.ts";

const HOUR_MS = 3_600_000;
const T = 1_700_000_000_000;

function block(n: number, overrides: Partial<BlockMeta> = {}): BlockMeta {
  const id = `01J${String(n).padStart(23, "0")}`;
  return {
    id,
    objectKey: `segments/${id}/block.bin`,
    formatVersion: 1,
    level: 0,
    tenant: "",
    minTimeMs: T,
    maxTimeMs: T + 1000,
    sizeBytes: 1000,
    createdAtMs: T,
    datasets: [],
    ...overrides,
  };
}

const policy = (overrides: Partial<LevelPolicy> = {}): LevelPolicy => ({
  maxBlocks: 3,
  maxAgeMs: 60_000,
  timeWindowMs: HOUR_MS,
  maxBytes: 1_000_000,
  ...overrides,
});

const sources = (jobs: { sourceBlockIds: readonly string[] }[]) =>
  jobs.map((job) => job.sourceBlockIds.map((id) => Number(id.slice(3))));

describe("planLevel", () => {
  it("defaults follow Pyroscope's thresholds in 1 h windows, then merge each day's hours", () => {
    assert.deepEqual(
      DEFAULT_LEVELS.map((l) => [l.maxBlocks, l.maxAgeMs, l.timeWindowMs]),
      [
        [20, 36_000, 3_600_000],
        [10, 720_000, 3_600_000],
        [10, 10_800_000, 3_600_000],
        [24, 86_400_000, 86_400_000],
      ],
    );
    checkLevels(DEFAULT_LEVELS);
    assert.throws(() => checkLevels([policy({ maxBlocks: 0 })]), /maxBlocks/);
  });

  it("level 3 (default policy): a UTC day's 24 hourly blocks become one; a partial day waits a day", () => {
    const dayMs = 86_400_000;
    const day0 = Math.floor(T / dayMs) * dayMs;
    const hourly = (day: number, hour: number, n: number) =>
      block(n, {
        level: 3,
        tenant: "t1",
        minTimeMs: day0 + day * dayMs + hour * HOUR_MS,
        maxTimeMs: day0 + day * dayMs + hour * HOUR_MS + HOUR_MS - 1,
        createdAtMs: day0 + day * dayMs + hour * HOUR_MS + 4 * HOUR_MS,
      });
    const fullDay = Array.from({ length: 24 }, (_, h) => hourly(0, h, h + 1));
    const nextDay = [hourly(1, 0, 101), hourly(1, 1, 102)];
    const policyL3 = DEFAULT_LEVELS[3]!;
    const justAfter = day0 + dayMs + 2 * HOUR_MS + 4 * HOUR_MS;
    assert.deepEqual(sources(planLevel([...fullDay, ...nextDay], 3, policyL3, justAfter)), [
      fullDay.map((_, h) => h + 1),
    ]);
    // The next day's two hours merge only once the first of them is a day old.
    assert.deepEqual(sources(planLevel(nextDay, 3, policyL3, day0 + 2 * dayMs + 4 * HOUR_MS - 1)), []);
    assert.deepEqual(sources(planLevel(nextDay, 3, policyL3, day0 + 2 * dayMs + 4 * HOUR_MS)), [[101, 102]]);
  });

  it("level 0: full chunks at once, the rest once its oldest block is old enough", () => {
    const blocks = [1, 2, 3, 4, 5].map((n) => block(n, { tenant: n === 2 ? "t1" : "" }));
    const young = planLevel(blocks, 0, policy(), T + 59_999);
    assert.deepEqual(sources(young), [[1, 2, 3]]);
    assert.ok(young.every((job) => job.tenant === "" && job.level === 0));
    assert.deepEqual(sources(planLevel(blocks, 0, policy(), T + 60_000)), [
      [1, 2, 3],
      [4, 5],
    ]);
    // A single old segment still goes (it is split per tenant).
    assert.deepEqual(sources(planLevel([block(9)], 0, policy(), T + 60_000)), [[9]]);
  });

  it("level 1+: per tenant, never a job of one block", () => {
    const blocks = [
      block(1, { level: 1, tenant: "a" }),
      block(2, { level: 1, tenant: "b" }),
      block(3, { level: 1, tenant: "a" }),
      block(4, { level: 1, tenant: "b" }),
      block(5, { level: 1, tenant: "c" }),
      block(6, { level: 2, tenant: "c" }),
    ];
    const jobs = planLevel(blocks, 1, policy(), T + HOUR_MS);
    assert.deepEqual(
      jobs.map((j) => [j.tenant, ...j.sourceBlockIds.map((id) => Number(id.slice(3)))]),
      [
        ["a", 1, 3],
        ["b", 2, 4],
      ],
    );
  });

  it("groups by data time window and caps a job's bytes", () => {
    const blocks = [
      block(1, { minTimeMs: T }),
      block(2, { minTimeMs: T + HOUR_MS }),
      block(3, { minTimeMs: T + 10 }),
      block(4, { minTimeMs: T + HOUR_MS + 5 }),
    ];
    assert.deepEqual(sources(planLevel(blocks, 0, policy({ maxBlocks: 2 }), T)).sort(), [
      [1, 3],
      [2, 4],
    ]);
    const big = [1, 2, 3, 4, 5].map((n) => block(n, { sizeBytes: 400 }));
    assert.deepEqual(sources(planLevel(big, 0, policy({ maxBlocks: 10, maxBytes: 1000 }), T)), [
      [1, 2],
      [3, 4],
    ]);
  });
});
