import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { ConfigError, defaultConfig, helpText, loadConfig, OPTIONS, unknownEnvVars } from "./config.ts";

function configFile(contents: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), "kiln-config-")), "kiln.json");
  writeFileSync(path, typeof contents === "string" ? contents : JSON.stringify(contents));
  return path;
}

describe("loadConfig", () => {
  test("defaults, including Pyroscope's ingest limits", () => {
    const config = loadConfig([], {});
    assert.deepEqual(config, defaultConfig());
    assert.equal(config.port, 4040);
    assert.equal(config.host, "0.0.0.0");
    assert.equal(config.multitenancy, false);
    assert.equal(config.flushIntervalMs, 500);
    assert.equal(config.maxProfileSizeBytes, 4_194_304);
    assert.equal(config.maxProfileSamples, 16_000);
    assert.equal(config.maxLabelNamesPerSeries, 30);
    assert.equal(config.maxLabelNameLength, 1024);
    assert.equal(config.maxLabelValueLength, 2048);
    assert.equal(config.maxSampleLabels, 100);
    assert.equal(config.maxStackDepth, 1000);
    assert.equal(config.maxSymbolLength, 65_535);
    assert.equal(config.rejectOlderThanMs, 3_600_000);
    assert.equal(config.creationGracePeriodMs, 600_000);
    assert.equal(config.sanitizeLabelNames, false);
  });

  test("precedence: flags > env > file > defaults", () => {
    const file = configFile({ port: 1001, host: "10.0.0.1", dataDir: "/file", logLevel: "warn" });
    const env = { KILN_CONFIG: file, KILN_PORT: "1002", KILN_HOST: "10.0.0.2" };
    const config = loadConfig(["--port", "1003"], env);
    assert.equal(config.port, 1003); // flag
    assert.equal(config.host, "10.0.0.2"); // env
    assert.equal(config.dataDir, "/file"); // file
    assert.equal(config.logLevel, "warn"); // file
    assert.equal(config.flushIntervalMs, 500); // default
    // --config on the command line beats KILN_CONFIG.
    const other = configFile({ dataDir: "/other" });
    assert.equal(loadConfig([`--config=${other}`], env).dataDir, "/other");
  });

  test("flag forms: --x=v, --x v, booleans", () => {
    assert.equal(loadConfig(["--data-dir=/a"], {}).dataDir, "/a");
    assert.equal(loadConfig(["--data-dir", "/b"], {}).dataDir, "/b");
    assert.equal(loadConfig(["--multitenancy"], {}).multitenancy, true);
    assert.equal(loadConfig(["--multitenancy", "false"], {}).multitenancy, false);
    assert.equal(loadConfig(["--multitenancy=false"], {}).multitenancy, false);
    assert.equal(loadConfig(["--no-multitenancy"], { KILN_MULTITENANCY: "true" }).multitenancy, false);
    const c = loadConfig(["--sanitize-label-names", "--port", "0"], {});
    assert.equal(c.sanitizeLabelNames, true);
    assert.equal(c.port, 0);
  });

  test("clear errors for unknown flags, keys and bad values", () => {
    const fails = (argv: string[], env: Record<string, string>, message: string) =>
      assert.throws(
        () => loadConfig(argv, env),
        (err: unknown) => err instanceof ConfigError && err.exitCode === 2 && err.message === message,
      );
    fails(["--prot", "1"], {}, "unknown flag --prot (see kiln server --help)");
    fails(["server"], {}, 'unexpected argument "server" (options start with --; see kiln server --help)');
    fails(["--port"], {}, "flag --port needs a value");
    fails(["--port", "x"], {}, 'flag --port: "x" is not an integer');
    fails(["--port=70000"], {}, "flag --port: 70000 is out of range 0..65535");
    fails(
      [],
      { KILN_LOG_LEVEL: "loud" },
      'environment variable KILN_LOG_LEVEL: "loud" is not one of debug, info, warn, error',
    );
    fails(
      [],
      { KILN_MULTITENANCY: "yes" },
      'environment variable KILN_MULTITENANCY: "yes" is not a boolean (true, false, 1 or 0)',
    );
    const typo = configFile({ maxBodyByte: 1 });
    fails(
      ["--config", typo],
      {},
      `unknown key "maxBodyByte" in config file ${typo} (see kiln server --help)`,
    );
    const wrongType = configFile({ port: "4040" });
    fails(["--config", wrongType], {}, `key "port" in ${wrongType}: expected a number, got "4040"`);
    const notJson = configFile("{port: 1}");
    assert.throws(() => loadConfig(["--config", notJson], {}), /is not valid JSON/);
  });

  test("unknown KILN_ env vars are reported, not fatal", () => {
    assert.deepEqual(unknownEnvVars({ KILN_PORT: "1", KILN_PROT: "2", HOME: "/" }), ["KILN_PROT"]);
  });
});

describe("help", () => {
  test("lists every option with its flag, default, env var and file key", () => {
    const help = helpText();
    for (const { key, flag, env } of OPTIONS) {
      const at = help.indexOf(`  ${flag} `);
      assert.ok(at >= 0, `${flag} missing`);
      const [, description, details] = help.slice(at).split("\n");
      assert.ok((description ?? "").trim().length > 0, `${flag}: help`);
      assert.match(details ?? "", new RegExp(`^ {6}default \\S.*, env ${env}, file key ${key}$`), flag);
    }
    assert.match(help, /--config <file>\n.*\n +default none, env KILN_CONFIG/);
    assert.match(
      help,
      /default 4194304 \(4 MiB\), env KILN_MAX_PROFILE_SIZE_BYTES, file key maxProfileSizeBytes/,
    );
    assert.match(help, /--segment-bytes-max <int>\n.*\n +default 67108864 \(64 MiB\),/);
    assert.match(
      help,
      /--multitenancy \[=true\|false\]\n.*X-Scope-OrgID.*\n +default false, env KILN_MULTITENANCY/,
    );
  });

  test("the kiln command: --help, usage errors exit 2", () => {
    const main = fileURLToPath(new URL("./main.ts", import.meta.url));
    const run = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: "utf8" });
    const help = run("--help");
    assert.equal(help.status, 0);
    assert.equal(help.stdout, helpText());
    const serverHelp = run("server", "--help");
    assert.equal(serverHelp.status, 0);
    assert.equal(serverHelp.stdout, helpText());
    const bad = run("server", "--bogus");
    assert.equal(bad.status, 2);
    assert.equal(bad.stderr, "kiln: unknown flag --bogus (see kiln server --help)\n");
    const unknownCommand = run("serve");
    assert.equal(unknownCommand.status, 2);
    assert.match(unknownCommand.stderr, /unknown command "serve"/);
  });
});

describe("bin/kiln.js", () => {
  const bin = fileURLToPath(new URL("../../bin/kiln.js", import.meta.url));
  // The machines' own Node (20) cannot run TypeScript: the shim must bring in Node 24.
  const systemNode = ["/usr/bin/node", "/usr/local/bin/node"].find((p) => {
    const v = spawnSync(p, ["--version"], { encoding: "utf8" });
    return v.status === 0 && Number(/^v(\d+)/.exec(v.stdout)?.[1]) < 24;
  });

  test("runs the CLI on Node 24", () => {
    const out = spawnSync(process.execPath, [bin, "--version"], { encoding: "utf8" });
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /^kiln \d+\.\d+\.\d+\n$/);
  });

  test("re-launches itself with the project's Node 24 from an older Node", {
    skip: systemNode === undefined && "no Node older than 24 on this machine",
  }, () => {
    const out = spawnSync(systemNode!, [bin, "--help"], { encoding: "utf8" });
    assert.equal(out.status, 0, out.stderr);
    assert.equal(out.stdout, helpText());
  });
});
