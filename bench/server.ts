/**
 * The server under benchmark: `kiln server` as a child process, so that its own CPU and
 * memory (from /proc) are told apart from the load generator's.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

const repoRoot = resolve(import.meta.dirname, "..");

export interface BenchServer {
  url: string;
  pid: number;
  /** SIGTERM, then wait for the exit (the server flushes and answers what it holds). */
  stop(): Promise<void>;
}

export async function startBenchServer(opts: {
  port: number;
  dataDir: string;
  /** Extra `kiln server` flags. */
  args?: string[];
  /** Extra node flags (e.g. --cpu-prof). */
  nodeArgs?: string[];
}): Promise<BenchServer> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...(opts.nodeArgs ?? []),
      join(repoRoot, "src/cli/main.ts"),
      "server",
      "--port",
      String(opts.port),
      "--host",
      "127.0.0.1",
      "--data-dir",
      opts.dataDir,
      "--log-level",
      "warn",
      ...(opts.args ?? []),
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const exited = new Promise((r) => child.once("exit", r));
  const url = `http://127.0.0.1:${opts.port}`;
  try {
    await waitReady(url, 20_000);
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  return {
    url,
    pid: child.pid!,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

async function waitReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/ready`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server at ${url} not ready after ${timeoutMs} ms`);
}

/** CPU time (user + system) of a process so far, in ms. */
export function cpuMsOfPid(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / 100; // CLK_TCK is 100 on Linux
}

/** Peak resident memory (VmHWM) of a process, in MiB. */
export function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}
