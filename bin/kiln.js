#!/usr/bin/env node
// The `kiln` command shim. Kiln's sources are TypeScript run by Node's built-in type
// stripping, which needs Node 24. The package depends on the registry's `node` package, so
// when an older system Node starts this file, it runs itself again with that Node 24.
// Plain JavaScript on purpose: this file must at least parse on old Node versions.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const NODE_MAJOR_MIN = 24;
const self = fileURLToPath(import.meta.url);
const packageRoot = dirname(dirname(self));
const args = process.argv.slice(2);

if (Number(process.versions.node.split(".")[0]) >= NODE_MAJOR_MIN) {
  const { runCli } = await import("../src/cli/main.ts");
  process.exit(await runCli(args));
} else {
  const node = findNode24();
  if (node === undefined) {
    process.stderr.write(
      `kiln: needs Node ${NODE_MAJOR_MIN} or newer (this is ${process.version}) and found none in ` +
        `${join(packageRoot, "node_modules")}; run "npm ci" in ${packageRoot}\n`,
    );
    process.exit(1);
  }
  reexec(node);
}

function findNode24() {
  const candidates = [
    join(packageRoot, "node_modules", "node", "bin", "node"),
    join(packageRoot, "node_modules", ".bin", "node"),
  ];
  try {
    // When kiln is itself a dependency, npm may hoist `node` next to it.
    const pkg = createRequire(join(packageRoot, "package.json")).resolve("node/package.json");
    candidates.push(join(dirname(pkg), "bin", "node"));
  } catch {
    // not installed where require looks; the fixed paths above are the fallback
  }
  return candidates.find((path) => existsSync(path));
}

function reexec(node) {
  if (typeof process.execve === "function") {
    // Node >= 22.15 replaces this process: same pid, signals reach the server directly.
    process.execve(node, [node, self, ...args], process.env);
  }
  const child = spawn(node, [self, ...args], { stdio: "inherit" });
  // SIGTERM and SIGHUP are usually sent to this pid only, so pass them on. SIGINT from a
  // terminal already reaches the whole foreground process group, child included; passing
  // it on as well would count as a second signal, which forces an immediate exit.
  for (const signal of ["SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
  process.on("SIGINT", () => {});
  child.on("exit", (code, signal) =>
    process.exit(code ?? (signal === null ? 1 : 128 + signalNumber(signal))),
  );
  child.on("error", (err) => {
    process.stderr.write(`kiln: cannot start ${node}: ${err.message}\n`);
    process.exit(1);
  });
}

function signalNumber(signal) {
  return { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }[signal] ?? 0;
}
