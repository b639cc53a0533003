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
 * (A `kiln compactor` subcommand can wrap this; src/cli is not wired yet.)
 */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { SqliteMetastore } from "../metastore/sqlite.ts";
import { FsObjectStore } from "../objstore/fs-store.ts";
import { Compactor, FAULT_POINTS, type FaultPoint, type JobReport } from "./compactor.ts";
import type { LevelPolicy } from "./planner.ts";

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
    },
    strict: true,
  });
  const dataDir = values["data-dir"];
  if (dataDir === undefined) {
    process.stderr.write("kiln compactor: --data-dir is required\n");
    return 2;
  }
  const fault = env.KILN_COMPACTOR_FAULT;
  if (fault !== undefined && !(FAULT_POINTS as readonly string[]).includes(fault)) {
    process.stderr.write(`kiln compactor: unknown KILN_COMPACTOR_FAULT ${fault}\n`);
    return 2;
  }
  const dir = resolve(dataDir);
  const metastore = await SqliteMetastore.open(dir);
  const store = await FsObjectStore.open(join(dir, "objects"));
  const reports: JobReport[] = [];
  const compactor = new Compactor({
    store,
    metastore,
    ...(values.owner === undefined ? {} : { owner: values.owner }),
    ...(values.levels === undefined ? {} : { levels: JSON.parse(values.levels) as LevelPolicy[] }),
    ...(values["interval-ms"] === undefined ? {} : { intervalMs: Number(values["interval-ms"]) }),
    ...(values.concurrency === undefined ? {} : { concurrency: Number(values.concurrency) }),
    plan: !values["no-plan"],
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
  process.exitCode = await runCompactorProcess(process.argv.slice(2));
}
