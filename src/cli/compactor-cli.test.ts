import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const main = fileURLToPath(new URL("./main.ts", import.meta.url));
const kiln = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: "utf8" });

test("kiln compactor: help, usage errors, and one pass over a data folder", () => {
  const help = kiln("compactor", "--help");
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /--data-dir/);
  assert.match(help.stdout, /--once/);

  const missing = kiln("compactor", "--once");
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /data-dir/);
  assert.equal(kiln("compactor", "--data-dir", "/tmp/x", "--bogus").status, 2);

  const dir = mkdtempSync(join(tmpdir(), "kiln-compactor-cli-"));
  try {
    const once = kiln("compactor", "--data-dir", dir, "--once");
    assert.equal(once.status, 0, once.stderr);
    const report = JSON.parse(once.stdout) as { jobs: unknown[] };
    assert.deepEqual(report.jobs, [], "an empty folder has nothing to compact");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
