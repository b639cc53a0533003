import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { acceptAnyTime, type InProcessKiln, startInProcess, tempDataDir } from "../../test/helpers/kiln.ts";
import { readStored } from "../../test/helpers/stored.ts";
import { testdata } from "../testing/testdata.ts";
import { detectFormat, parseLabels, parsePushArgs, pushRequest } from "./push.ts";

const mainTs = resolve(import.meta.dirname, "main.ts");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `kiln …` as a child process (asynchronously: the server may live in this process). */
function kiln(args: string[]): Promise<Run> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [mainTs, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.once("error", rej);
    child.once("close", (code) => res({ code, stdout, stderr }));
  });
}

const enc = (text: string) => new TextEncoder().encode(text);

describe("kiln push: format detection", () => {
  test("recognizes each format by content", () => {
    const jfr = new Uint8Array([0x46, 0x4c, 0x52, 0x00, 0, 2, 0, 0]);
    assert.equal(detectFormat(jfr), "jfr");
    assert.equal(detectFormat(gzipSync(jfr)), "jfr");
    assert.equal(detectFormat(gzipSync(new Uint8Array([0x0a, 0x04, 0x08, 0x01, 0x10, 0x02]))), "pprof");
    assert.equal(detectFormat(new Uint8Array([0x0a, 0x04, 0x08, 0x01, 0x10, 0x02, 0x00])), "pprof");
    assert.equal(
      detectFormat(enc('{"$schema": "https://www.speedscope.app/file-format-schema.json", "profiles": []}')),
      "speedscope",
    );
    assert.equal(detectFormat(enc('{"nodes": [], "startTime": 0}')), "cpuprofile");
    assert.equal(detectFormat(enc('  {"head": {"functionName": "(root)"}}')), "cpuprofile");
    assert.equal(detectFormat(enc('{"resourceProfiles": []}')), "otlp");
    assert.equal(
      detectFormat(
        enc("# header\nfoo 123 [001] 1234.567890:  1001001 cpu-clock:\n\t  6f1 main (/bin/foo)\n"),
      ),
      "perf-script",
    );
    assert.equal(detectFormat(enc("java 9/10 5.000001: cycles:u:\n\t  1 f (x)\n")), "perf-script");
    assert.equal(detectFormat(enc("main;foo;bar 12\nmain;baz 3\n")), "folded");
    assert.equal(detectFormat(enc('{"flamebearer": {}}')), "folded");
  });

  test("requests: /ingest with name{labels} and format; OTLP on its own path", () => {
    const options = {
      url: "http://h:1",
      service: "app",
      labels: parseLabels("env=prod, region=eu"),
      tenant: "t",
    };
    const pprof = pushRequest(options, "pprof", new Uint8Array());
    const url = new URL(pprof.url);
    assert.equal(url.pathname, "/ingest");
    assert.equal(url.searchParams.get("name"), "app{env=prod,region=eu}");
    assert.equal(url.searchParams.get("format"), "pprof");
    assert.equal(pprof.headers["X-Scope-OrgID"], "t");
    const folded = new URL(pushRequest(options, "folded", new Uint8Array()).url);
    assert.equal(folded.searchParams.get("format"), null);
    const otlpJson = pushRequest(options, "otlp", enc('{"resourceProfiles": []}'));
    assert.equal(otlpJson.url, "http://h:1/v1development/profiles");
    assert.equal(otlpJson.headers["Content-Type"], "application/json");
    const otlpGz = pushRequest(options, "otlp", gzipSync(new Uint8Array([0x0a, 0x00])));
    assert.equal(otlpGz.headers["Content-Type"], "application/x-protobuf");
    assert.equal(otlpGz.headers["Content-Encoding"], "gzip");
  });

  test("usage errors", () => {
    assert.throws(() => parsePushArgs(["a.pb"]), /--service is required/);
    assert.throws(() => parsePushArgs(["--service", "a"]), /no files/);
    assert.throws(() => parsePushArgs(["a.pb", "--service", "a", "--format", "xml"]), /--format "xml"/);
    assert.throws(() => parsePushArgs(["a.pb", "--service", "a", "--labels", "novalue"]), /not key=value/);
    assert.throws(() => parsePushArgs(["a.pb", "--service", "a", "--bogus"]), /bogus/);
    assert.equal(parsePushArgs(["-h"]), "help");
    const ok = parsePushArgs(["a", "b", "--format", "otlp", "--url", "http://x:1/"]);
    assert.ok(ok !== "help");
    assert.equal(ok.url, "http://x:1");
    assert.deepEqual(ok.files, ["a", "b"]);
  });
});

describe("kiln push: command line", () => {
  test("--help exits 0; usage errors exit 2", async () => {
    const help = await kiln(["push", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: kiln push FILE\.\.\. --service NAME/);
    const noService = await kiln(["push", mainTs]);
    assert.equal(noService.code, 2);
    assert.match(noService.stderr, /--service is required/);
    const missing = await kiln(["push", "/nonexistent/file.pb.gz", "--service", "a"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read \/nonexistent\/file\.pb\.gz: ENOENT/);
  });

  test("a server that is not there: exit 1, not sent", async () => {
    const dir = tempDataDir("kiln-push-");
    const file = join(dir, "x.folded");
    writeFileSync(file, "a;b 1\n");
    const run = await kiln(["push", file, "--service", "a", "--url", "http://127.0.0.1:1"]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /x\.folded: failed \(folded\): not sent: /);
  });
});

const corpus = testdata();

describe("kiln push: against a server", { skip: corpus.skip }, () => {
  let server: InProcessKiln;
  before(async () => {
    server = await startInProcess({ ...acceptAnyTime, multitenancy: true });
  });
  after(async () => server?.stop());

  /** One corpus file of each format, with the query a well-behaved client would send. */
  const files: [string, Record<string, string>][] = [
    ["pprof/pyroscope-go-cpu-labels.pb.gz", { format: "pprof" }],
    ["pprof/pyroscope-python-pyspy.pb", { format: "pprof" }],
    ["jfr/pyroscope-kafka-cpu.jfr.gz", { format: "jfr" }],
    ["collapsed/asprof-sample1.collapsed", {}],
    ["speedscope/pyroscope-two-sampled.speedscope.json", { format: "speedscope" }],
    ["chrome-cpuprofile/speedscope-node-example.cpuprofile", { format: "cpuprofile" }],
    ["perf-script/speedscope-forks.linux-perf.txt", { format: "perf-script" }],
  ];
  const path = (file: string) => join(corpus.dir!, file);

  test("detects and stores several formats; totals match direct /ingest pushes", async () => {
    const run = await kiln([
      "push",
      ...files.map(([file]) => path(file)),
      "--service",
      "pushed",
      "--labels",
      "env=test,team=kiln",
      "--url",
      server.url,
      "--tenant",
      "cli",
      "--concurrency",
      "3",
    ]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stderr.trim().split("\n");
    assert.equal(lines.length, files.length, run.stderr);
    for (const [file, query] of files) {
      const format = query.format ?? "folded";
      assert.ok(
        lines.some((l) => /^\[\d\/7\] /.test(l) && l.includes(`${file}: stored (${format}, `)),
        `${file}: ${run.stderr}`,
      );
    }
    assert.match(run.stdout, /pushed 7 files to .*: 7 stored \(\d+ bytes\), 0 refused/);

    for (const [file, query] of files) {
      const params = new URLSearchParams({ name: "pushed{env=test,team=kiln}", ...query });
      const res = await fetch(`${server.url}/ingest?${params}`, {
        method: "POST",
        headers: { "X-Scope-OrgID": "direct" },
        body: readFileSync(path(file)),
      });
      assert.equal(res.status, 200, `${file}: ${await res.text()}`);
    }
    const cli = await readStored(server.dataDir, { tenant: "cli", service: "pushed" });
    const direct = await readStored(server.dataDir, { tenant: "direct", service: "pushed" });
    assert.ok(cli.profiles > files.length);
    assert.deepEqual(cli.totals, direct.totals);
    assert.equal(cli.profiles, direct.profiles);
    for (const labels of cli.series) {
      const map = new Map(labels.map((l) => [l[0], l[1]] as const));
      assert.equal(map.get("env"), "test");
      assert.equal(map.get("team"), "kiln");
    }
  });

  test("OTLP JSON goes to /v1development/profiles; binary OTLP with --format otlp", async () => {
    const json = await kiln([
      "push",
      path("otlp/pyroscope-otel-ebpf-profile.pb.json"),
      "--url",
      server.url,
      "--tenant",
      "otlp-json",
      "--service",
      "ignored",
    ]);
    assert.equal(json.code, 0, json.stderr);
    assert.match(json.stderr, /pyroscope-otel-ebpf-profile\.pb\.json: stored \(otlp, /);
    const bin = await kiln([
      "push",
      path("otlp/pyroscope-otel-ebpf-profile.pb.bin"),
      "--format",
      "otlp",
      "--url",
      server.url,
      "--tenant",
      "otlp-bin",
    ]);
    assert.equal(bin.code, 0, bin.stderr);
    const fromJson = await readStored(server.dataDir, { tenant: "otlp-json" });
    const fromBin = await readStored(server.dataDir, { tenant: "otlp-bin" });
    assert.ok(fromJson.profiles > 0);
    assert.deepEqual(fromJson.totals, fromBin.totals);
  });

  test("a refused file: exit 1 with the server's message; the others are still stored", async () => {
    const run = await kiln([
      "push",
      path("speedscope/speedscope-invalid-incomplete-trace.json"),
      path("collapsed/speedscope-simple.txt"),
      "--service",
      "mixed",
      "--url",
      server.url,
      "--tenant",
      "refused",
    ]);
    assert.equal(run.code, 1, run.stderr);
    const direct = await fetch(`${server.url}/ingest?name=mixed&format=speedscope`, {
      method: "POST",
      headers: { "X-Scope-OrgID": "refused-direct" },
      body: readFileSync(path("speedscope/speedscope-invalid-incomplete-trace.json")),
    });
    const body = await direct.text();
    assert.equal(direct.status, 422, body);
    // The server's own message (the error body's `message`), on the file's line.
    const line = run.stderr.split("\n").find((l) => l.includes("speedscope-invalid-incomplete-trace.json"));
    const shown = /: refused \(422, speedscope\): (.+)$/.exec(line ?? "")?.[1];
    assert.ok(shown !== undefined && shown.length > 0, run.stderr);
    assert.match(shown, /incomplete trace/);
    assert.ok(body.includes(JSON.stringify(shown).slice(1, -1)), `${shown} not in ${body}`);
    assert.match(run.stderr, /speedscope-simple\.txt: stored \(folded, /);
    assert.match(run.stdout, /pushed 2 files .*: 1 stored .*, 1 refused/);
    const stored = await readStored(server.dataDir, { tenant: "refused", service: "mixed" });
    assert.ok(stored.profiles > 0);
  });
});
