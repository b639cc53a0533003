/**
 * The compactor as a process of its own, sharing a data folder (SQLite WAL metastore and
 * filesystem object store) with a running server or with other compactors:
 *
 *   node src/compactor/main.ts --data-dir ./data [--once] [--owner NAME] [--levels JSON]
 *                              [--interval-ms N] [--concurrency N] [--no-plan]
 *
 * `--once` plans and runs jobs until none is left, deletes due tombstones, prints a JSON
 * summary of the jobs it ran on stdout and exits; otherwise it runs until SIGTERM/SIGINT.
 * `--levels` is a JSON array of level policies (src/compactor/planner.ts `LevelPolicy`).
 *
 * Fault injection for crash tests: with `KILN_COMPACTOR_FAULT=<point>` (one of
 * `FAULT_POINTS`) the process SIGKILLs itself when a job reaches that point, the first time.
 * `kiln compactor …` (src/cli/main.ts) runs the same through `runCompactorCli`, which adds
 * `--help` and exits 2 on usage errors.
 */

import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { checkRollupBuckets } from "../block/rollup-section.ts";
import { SqliteMetastore } from "../metastore/sqlite.ts";
import { FsObjectStore } from "../objstore/fs-store.ts";
import { Compactor, FAULT_POINTS, type FaultPoint, type JobReport } from "./compactor.ts";
import { DEFAULT_ROLLUPS, type RollupPolicy } from "./merge.ts";
import { checkLevels, type LevelPolicy } from "./planner.ts";

class UsageError extends Error {}

export const COMPACTOR_HELP = `Usage: kiln compactor --data-dir DIR [options]

Runs the compactor as a process of its own on a data folder (SQLite metastore and object
store under DIR), beside a running server (start it with --compaction=false) or other
compactors: it merges level-0 segments into per-tenant blocks, deletes tombstoned objects,
and applies tenant deletions.

Options:
  --data-dir DIR       The data folder (required).
  --once               Plan and run jobs until none is left, delete due tombstones, print a
                       JSON summary of the jobs on stdout and exit (1 if a job failed).
                       Without it, runs until SIGTERM/SIGINT.
  --owner NAME         Owner name recorded on leased jobs (default: HOST:PID:RANDOM).
  --levels JSON        JSON array of level policies, one per input level:
                       [{"maxBlocks":20,"maxAgeMs":36000,"timeWindowMs":3600000,"maxBytes":268435456},…]
  --interval-ms N      Planning/polling interval when not --once (default 5000).
  --concurrency N      Jobs run at a time (default 2).
  --no-plan            Only run jobs others planned; do not plan new ones.
  --rollups-ms LIST    Rollup widths in ms, fine first, comma-separated (default 60000,3600000;
                       "" = no rollups).
  --rollups-from-level N  Outputs of this level and above carry rollups (default 2).
  -h, --help           Show this help.
`;

/** The `kiln compactor` command: `--help`, usage errors (exit 2), else `runCompactorProcess`. */
export async function runCompactorCli(argv: readonly string[], env = process.env): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(COMPACTOR_HELP);
    return 0;
  }
  try {
    return await runCompactorProcess(argv, env);
  } catch (err) {
    if (
      err instanceof UsageError ||
      (err as { code?: unknown }).code?.toString().startsWith("ERR_PARSE_ARGS")
    ) {
      process.stderr.write(
        `kiln compactor: ${(err as Error).message}; run 'kiln compactor --help' for usage\n`,
      );
      return 2;
    }
    throw err;
  }
}

function positiveInt(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n <= 0) {
    throw new UsageError(`--${flag} must be a positive integer, got "${text}"`);
  }
  return n;
}

function parseRollups(text: string | undefined, fromLevel: number | undefined): RollupPolicy {
  const bucketsMs =
    text === undefined
      ? DEFAULT_ROLLUPS.bucketsMs
      : text === ""
        ? []
        : text.split(",").map((part) => positiveInt("rollups-ms", part.trim())!);
  try {
    checkRollupBuckets(bucketsMs);
  } catch (err) {
    throw new UsageError(`--rollups-ms: ${(err as Error).message}`);
  }
  return { bucketsMs, fromLevel: fromLevel ?? DEFAULT_ROLLUPS.fromLevel };
}

function parseLevels(text: string | undefined): LevelPolicy[] | undefined {
  if (text === undefined) return undefined;
  let levels: unknown;
  try {
    levels = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--levels is not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(levels) || levels.length === 0)
    throw new UsageError("--levels must be a non-empty JSON array");
  try {
    checkLevels(levels as LevelPolicy[]);
  } catch (err) {
    throw new UsageError(`--levels: ${(err as Error).message}`);
  }
  return levels as LevelPolicy[];
}

export async function runCompactorProcess(argv: readonly string[], env = process.env): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      "data-dir": { type: "string" },
      once: { type: "boolean", default: false },
      owner: { type: "string" },
      levels: { type: "string" },
      "interval-ms": { type: "string" },
      concurrency: { type: "string" },
      "no-plan": { type: "boolean", default: false },
      "rollups-ms": { type: "string" },
      "rollups-from-level": { type: "string" },
    },
    strict: true,
  });
  const dataDir = values["data-dir"];
  if (dataDir === undefined) {
    throw new UsageError("--data-dir is required");
  }
  const fault = env.KILN_COMPACTOR_FAULT;
  if (fault !== undefined && !(FAULT_POINTS as readonly string[]).includes(fault)) {
    process.stderr.write(`kiln compactor: unknown KILN_COMPACTOR_FAULT ${fault}\n`);
    return 2;
  }
  const levels = parseLevels(values.levels);
  const intervalMs = positiveInt("interval-ms", values["interval-ms"]);
  const concurrency = positiveInt("concurrency", values.concurrency);
  const rollups = parseRollups(
    values["rollups-ms"],
    positiveInt("rollups-from-level", values["rollups-from-level"]),
  );
  const dir = resolve(dataDir);
  const metastore = await SqliteMetastore.open(dir);
  const store = await FsObjectStore.open(join(dir, "objects"));
  const reports: JobReport[] = [];
  const compactor = new Compactor({
    store,
    metastore,
    ...(values.owner === undefined ? {} : { owner: values.owner }),
    ...(levels === undefined ? {} : { levels }),
    ...(intervalMs === undefined ? {} : { intervalMs }),
    ...(concurrency === undefined ? {} : { concurrency }),
    plan: !values["no-plan"],
    rollups,
    hooks: {
      onJob: (report) => reports.push(report),
      onError: (what, error) => process.stderr.write(`kiln compactor: ${what}: ${String(error)}\n`),
    },
    onPoint: (point: FaultPoint) => {
      if (point === fault) process.kill(process.pid, "SIGKILL");
    },
  });
  try {
    if (values.once) {
      await compactor.drain();
    } else {
      compactor.start();
      await new Promise<void>((resolveSignal) => {
        process.once("SIGTERM", () => resolveSignal());
        process.once("SIGINT", () => resolveSignal());
      });
      await compactor.stop();
    }
  } finally {
    await compactor.stop();
    await store.close();
    await metastore.close();
  }
  const summary = reports.map((r) => ({
    jobId: r.jobId,
    ok: r.ok,
    leaseLost: r.leaseLost ?? false,
    outputBlockIds: r.outputBlockIds,
    error: r.error === undefined ? undefined : String(r.error),
  }));
  process.stdout.write(`${JSON.stringify({ owner: compactor.owner, jobs: summary })}\n`);
  return summary.some((job) => !job.ok && !job.leaseLost) ? 1 : 0;
}

if (import.meta.main) {
  process.exitCode = await runCompactorCli(process.argv.slice(2));
}
