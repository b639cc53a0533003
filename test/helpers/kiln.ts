/**
 * Test harness: a real Kiln server, in this process (fast, for API tests) or as a child
 * process (for crash and signal tests), on a free port with a fresh data folder.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { type RunningKiln, startKiln } from "../../src/app.ts";
import { defaultConfig, type KilnConfig } from "../../src/cli/config.ts";
import { createLogger } from "../../src/observability/log.ts";

const repoRoot = resolve(import.meta.dirname, "../..");

/** Settings that let the old timestamps of the shared corpus in (they are years old). */
export const acceptAnyTime: Partial<KilnConfig> = {
  rejectOlderThanMs: 0,
  creationGracePeriodMs: 0,
};

export interface InProcessKiln {
  url: string;
  dataDir: string;
  kiln: RunningKiln;
  stop(): Promise<void>;
}

export function tempDataDir(prefix = "kiln-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startInProcess(overrides: Partial<KilnConfig> = {}): Promise<InProcessKiln> {
  const dataDir = overrides.dataDir ?? tempDataDir();
  const config: KilnConfig = {
    ...defaultConfig(),
    host: "127.0.0.1",
    port: 0,
    flushIntervalMs: 50,
    logLevel: "error",
    ...overrides,
    dataDir,
  };
  const kiln = await startKiln(config, createLogger({ level: config.logLevel }));
  await kiln.ready;
  let stopped = false;
  return {
    url: `http://127.0.0.1:${kiln.port}`,
    dataDir,
    kiln,
    async stop() {
      if (stopped) return;
      stopped = true;
      await kiln.shutdown("test done");
      if (overrides.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ChildKiln {
  url: string;
  port: number;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** stderr log lines seen so far (JSON logs). */
  logs: string[];
}

/** Starts `kiln server` as a child process and waits until its log says it is ready. */
export async function spawnKiln(dataDir: string, extraArgs: string[] = []): Promise<ChildKiln> {
  const child = spawn(
    process.execPath,
    [
      join(repoRoot, "src/cli/main.ts"),
      "server",
      "--port",
      "0",
      "--host",
      "127.0.0.1",
      "--data-dir",
      dataDir,
      "--log-level",
      "info",
      ...extraArgs,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.once("exit", (code, signal) => res({ code, signal })),
  );
  const logs: string[] = [];
  const port = await new Promise<number>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`kiln did not become ready:\n${logs.join("\n")}`)), 20_000);
    const lines = createInterface({ input: child.stderr! });
    lines.on("line", (line) => {
      logs.push(line);
      try {
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        if (entry.msg === "kiln ready" && typeof entry.port === "number") {
          clearTimeout(timer);
          res(entry.port);
        }
      } catch {
        // not a JSON line
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      rej(new Error(`kiln exited (code ${code}, signal ${signal}) before ready:\n${logs.join("\n")}`));
    });
  });
  return { url: `http://127.0.0.1:${port}`, port, child, exited, logs };
}
