/**
 * The `kiln` command. `kiln server [options]` runs the all-in-one server; `kiln --help`
 * lists every option (see config.ts, which owns the option table). `kiln query <subcommand>`
 * queries a running server or a data folder (see query.ts and `kiln query --help`);
 * `kiln admin <subcommand>` lists blocks and deletes tenants (admin.ts, `kiln admin --help`);
 * `kiln push FILE...` sends profile files to a running server (push.ts, `kiln push --help`);
 * `kiln compactor --data-dir DIR` runs the standalone compactor (src/compactor/main.ts,
 * `kiln compactor --help`).
 *
 * Exit status: 0 after a clean shutdown or --help, 1 when startup or shutdown fails or
 * times out, 2 for usage errors (unknown command, flag or config key; invalid value).
 *
 * Run directly (`node src/cli/main.ts server`, as `npm start` does) or through
 * bin/kiln.js, which calls `runCli`.
 */

import { readFileSync } from "node:fs";
import { createLogger, type Logger } from "../observability/log.ts";
import { ConfigError, helpText, type KilnConfig, loadConfig, unknownEnvVars } from "./config.ts";

type Env = Readonly<Record<string, string | undefined>>;

/** What startKiln (src/app.ts) returns; restated so the contract is visible here. */
interface RunningKiln {
  ready: Promise<void>;
  shutdown(reason: string): Promise<void>;
}

/** Runs the CLI and resolves with the process exit status. */
export async function runCli(argv: readonly string[], env: Env = process.env): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    process.stderr.write(helpText());
    return 2;
  }
  if (command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(helpText());
    return 0;
  }
  if (command === "--version") {
    process.stdout.write(`kiln ${packageVersion()}\n`);
    return 0;
  }
  if (command === "query") {
    const { runQueryCli } = await import("./query.ts");
    return runQueryCli(rest);
  }
  if (command === "admin") {
    const { runAdminCli } = await import("./admin.ts");
    return runAdminCli(rest);
  }
  if (command === "push") {
    const { runPushCli } = await import("./push.ts");
    return runPushCli(rest);
  }
  if (command === "compactor") {
    const { runCompactorCli } = await import("../compactor/main.ts");
    return runCompactorCli(rest);
  }
  if (command !== "server") {
    process.stderr.write(`kiln: unknown command "${command}"; run 'kiln --help' for usage\n`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(helpText());
    return 0;
  }
  let config: KilnConfig;
  try {
    config = loadConfig(rest, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`kiln: ${err.message}\n`);
    return err.exitCode;
  }
  const logger = createLogger({ level: config.logLevel });
  // The effective configuration, so "which limit was in force" is answerable from the logs.
  logger.info("starting kiln", { config });
  for (const name of unknownEnvVars(env)) logger.warn("unknown KILN_ environment variable ignored", { name });
  return runServer(config, logger);
}

/**
 * Starts Kiln and resolves with the exit status once it has shut down: on the first
 * SIGTERM/SIGINT (0 if shutdown succeeds in time), or when startup fails or does not reach
 * ready within readyTimeoutMs (1). A second signal exits at once with status 1, for the
 * operator who does not want to wait for the graceful path.
 */
async function runServer(config: KilnConfig, logger: Logger): Promise<number> {
  let exitWith: (status: number) => void = () => {};
  const exited = new Promise<number>((resolve) => {
    exitWith = resolve;
  });
  let kiln: RunningKiln | undefined;
  let stopping: string | undefined;

  const stop = (reason: string, status: number): void => {
    if (stopping !== undefined) return;
    stopping = reason;
    logger.info("shutting down", { reason, shutdown_timeout_ms: config.shutdownTimeoutMs });
    const timer = setTimeout(() => {
      logger.error("shutdown did not finish in time; exiting", {
        shutdown_timeout_ms: config.shutdownTimeoutMs,
      });
      exitWith(1);
    }, config.shutdownTimeoutMs);
    const done = kiln === undefined ? Promise.resolve() : kiln.shutdown(reason);
    done.then(
      () => {
        clearTimeout(timer);
        logger.info("shut down", { reason });
        exitWith(status);
      },
      (err: unknown) => {
        clearTimeout(timer);
        logger.error("shutdown failed", { err });
        exitWith(1);
      },
    );
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping !== undefined) {
      logger.warn("second signal; exiting without waiting", { signal });
      process.exit(1);
    }
    // Before startKiln resolves there is nothing to shut down yet; it is stopped right after.
    if (kiln !== undefined) stop(signal, 0);
    else stopping = signal;
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  let running: RunningKiln;
  try {
    const { startKiln } = await import("../app.ts");
    running = await startKiln(config, logger);
    kiln = running;
  } catch (err) {
    logger.error("startup failed", { err });
    return 1;
  }
  if (stopping !== undefined) {
    const signal = stopping;
    stopping = undefined;
    stop(signal, 0);
    return exited;
  }

  const readyTimer = setTimeout(() => {
    logger.error("not ready in time", { ready_timeout_ms: config.readyTimeoutMs });
    stop("ready timeout", 1);
  }, config.readyTimeoutMs);
  running.ready.then(
    () => {
      clearTimeout(readyTimer);
      if (stopping === undefined) logger.info("ready", { host: config.host, port: config.port });
    },
    (err: unknown) => {
      clearTimeout(readyTimer);
      logger.error("startup failed before ready", { err });
      stop("startup failed", 1);
    },
  );
  return exited;
}

function packageVersion(): string {
  try {
    const text = readFileSync(new URL("../../package.json", import.meta.url), "utf8");
    return String((JSON.parse(text) as { version?: unknown }).version ?? "unknown");
  } catch {
    return "unknown";
  }
}

if (import.meta.main) {
  process.exit(await runCli(process.argv.slice(2)));
}
