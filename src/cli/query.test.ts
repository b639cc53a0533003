/**
 * `kiln query` end to end: corpus pprofs pushed through /ingest into a real in-process server,
 * then the CLI run as its own process (`node src/cli/main.ts query …`) against the server's
 * URL (Connect binary, Connect JSON, gRPC) and against its data folder. Answers are checked
 * against the query engine reading the same data, and the export is decoded with the
 * independent pprof-format decoder.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { Profile } from "pprof-format";
import { acceptAnyTime, type InProcessKiln, startInProcess } from "../../test/helpers/kiln.ts";
import { SqliteMetastore } from "../metastore/sqlite.ts";
import { FsObjectStore } from "../objstore/fs-store.ts";
import { QueryEngine } from "../query/engine.ts";
import { topBy, topTable } from "../query/top.ts";
import type { NameTree } from "../query/tree.ts";
import { testdata, testdataRoot } from "../testing/testdata.ts";
import { autoStepMs, formatFolded, parseDurationMs, parseQueryArgs, UsageError } from "./query.ts";

const corpus = testdata("pprof");
const run = promisify(execFile);
const mainTs = resolve(import.meta.dirname, "main.ts");
const CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
const FILE = "pprof/pyroscope-go-cpu-truncated.pb.gz";
const OTHER_FILE = "pprof/pyroscope-go-cpu-labels.pb.gz";
// The corpus files' own timestamps (2022 and 2024): the range covers both.
const FROM = "1654798000";
const UNTIL = "1717749000";
const SERVICE = "cli-svc";

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function kilnQuery(args: string[], encoding: "utf8" | "buffer" = "utf8"): Promise<Result> {
  try {
    const { stdout, stderr } = await run(process.execPath, [mainTs, "query", ...args], {
      encoding: encoding === "utf8" ? "utf8" : "latin1",
      maxBuffer: 256 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== "number") throw err;
    return { code: e.code, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

/** The top table's rows as [self, total, name] (after the total line and the header). */
function parseTop(text: string): { total: number; rows: { self: number; total: number; name: string }[] } {
  const lines = text.trimEnd().split("\n");
  const total = Number(/^total (\d+) /.exec(lines[0]!)![1]);
  assert.match(lines[1]!, /^\s*self\s+self%\s+total\s+total%\s+function$/);
  const rows = lines.slice(2).map((line) => {
    const m = /^\s*(-?\d+)\s+(\S+)\s+(-?\d+)\s+(\S+)\s{2}(.*)$/.exec(line);
    assert.ok(m, `top row: ${line}`);
    return { self: Number(m[1]), total: Number(m[3]), name: m[5]! };
  });
  return { total, rows };
}

describe("kiln query", { skip: corpus.skip }, () => {
  let kiln: InProcessKiln;
  let engine: QueryEngine;
  let closeEngine: () => Promise<void>;
  let outDir: string;
  const range = { startMs: Number(FROM) * 1000, endMs: Number(UNTIL) * 1000 };
  const selector = `{service_name="${SERVICE}"}`;
  const remote = () => ["--url", kiln.url, "--from", FROM, "--until", UNTIL];

  async function push(path: string, name: string): Promise<void> {
    const query = new URLSearchParams({ name, format: "pprof", spyName: "rawspy" });
    const res = await fetch(`${kiln.url}/ingest?${query}`, {
      method: "POST",
      body: readFileSync(join(testdataRoot, path)),
      headers: { "content-type": "application/octet-stream" },
    });
    assert.equal(res.status, 200, `${path}: ${await res.text()}`);
  }

  function engineTree(): Promise<NameTree> {
    return engine.mergeTree({ tenant: "anonymous", profileType: CPU, selector, ...range });
  }

  before(async () => {
    kiln = await startInProcess(acceptAnyTime);
    await push(FILE, `${SERVICE}{pod=a}`);
    await push(FILE, `${SERVICE}{pod=b}`);
    await push(OTHER_FILE, `cli-other{pod=c}`);
    const store = await FsObjectStore.open(join(kiln.dataDir, "objects"));
    const metastore = await SqliteMetastore.open(kiln.dataDir);
    engine = new QueryEngine({ store, metastore });
    closeEngine = async () => {
      await metastore.close();
      await store.close();
    };
    outDir = mkdtempSync(join(tmpdir(), "kiln-query-test-"));
  });

  after(async () => {
    await closeEngine?.();
    await kiln?.stop();
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  it("top: the table matches the engine's, over Connect binary, Connect JSON and gRPC", async () => {
    const tree = await engineTree();
    const total = tree.totals()[0]!;
    assert.ok(total > 0);
    const want = topBy(topTable(tree), "self", 10);
    for (const protocol of ["connect", "connect-json", "grpc"]) {
      const res = await kilnQuery([
        "top",
        ...remote(),
        "--protocol",
        protocol,
        "--query",
        `${CPU}${selector}`,
        "--limit",
        "10",
      ]);
      assert.equal(res.code, 0, res.stderr);
      const got = parseTop(res.stdout);
      assert.equal(got.total, total, `${protocol}: total`);
      assert.deepEqual(
        got.rows,
        want.map((e) => ({ self: e.self, total: e.total, name: e.name })),
        `${protocol}: rows`,
      );
    }
  });

  it("top --sort total, and from the data folder", async () => {
    const tree = await engineTree();
    const want = topBy(topTable(tree), "total", 5).map((e) => ({
      self: e.self,
      total: e.total,
      name: e.name,
    }));
    const viaUrl = await kilnQuery([
      "top",
      ...remote(),
      "--query",
      selector,
      "--sort",
      "total",
      "--limit",
      "5",
    ]);
    assert.equal(viaUrl.code, 0, viaUrl.stderr);
    assert.deepEqual(parseTop(viaUrl.stdout).rows, want);
    const viaDir = await kilnQuery([
      "top",
      "--data-dir",
      kiln.dataDir,
      "--from",
      FROM,
      "--until",
      UNTIL,
      "--query",
      selector,
      "--sort=total",
      "--limit=5",
    ]);
    assert.equal(viaDir.code, 0, viaDir.stderr);
    assert.equal(viaDir.stdout, viaUrl.stdout);
  });

  it("folded: one line per stack, summing to the total", async () => {
    const tree = await engineTree();
    const res = await kilnQuery(["folded", ...remote(), "--query", selector]);
    assert.equal(res.code, 0, res.stderr);
    const want = formatFolded(tree);
    if (res.stdout !== want) {
      // Report the first differing line, not megabytes of stacks.
      const got = res.stdout.split("\n");
      const exp = want.split("\n");
      const at = got.findIndex((line, i) => line !== exp[i]);
      assert.fail(`folded differs at line ${at}: got ${got[at]?.slice(-200)}, want ${exp[at]?.slice(-200)}`);
    }
    let sum = 0;
    for (const line of res.stdout.trimEnd().split("\n")) {
      const m = /^(.+) (-?\d+)$/.exec(line);
      assert.ok(m, `folded line: ${line}`);
      sum += Number(m[2]);
    }
    assert.equal(sum, tree.totals()[0]);
  });

  it("export: a gzipped pprof that pprof-format decodes, with the engine's total", async () => {
    const out = join(outDir, "cpu.pb.gz");
    const res = await kilnQuery(["export", ...remote(), "--query", `${CPU}${selector}`, "--out", out]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /wrote .*cpu\.pb\.gz/);
    const profile = Profile.decode(gunzipSync(readFileSync(out)));
    const strings = profile.stringTable.strings;
    assert.equal(profile.sampleType.length, 1);
    assert.equal(strings[Number(profile.sampleType[0]!.type)], "cpu");
    assert.equal(strings[Number(profile.sampleType[0]!.unit)], "nanoseconds");
    let total = 0;
    for (const sample of profile.sample) total += Number(sample.value[0]);
    assert.equal(total, (await engineTree()).totals()[0]);
    // Twice the file's cpu total (8730000000 is the other file's; this one's is 7560000000).
    assert.equal(total, 2 * 7_560_000_000);
  });

  it("series: one series per pod, points summing to each pod's total", async () => {
    const res = await kilnQuery([
      "series",
      ...remote(),
      "--query",
      selector,
      "--group-by",
      "pod",
      "--step",
      "1h",
    ]);
    assert.equal(res.code, 0, res.stderr);
    const headers = res.stdout.split("\n").filter((l) => l.startsWith("{"));
    assert.deepEqual(
      headers.map((h) => /^(\{.*\})/.exec(h)![1]),
      ['{pod="a"}', '{pod="b"}'],
    );
    for (const h of headers) assert.match(h, /step 3600s, 1 points, total 7560000000$/);
    const points = res.stdout.split("\n").filter((l) => l.startsWith("  "));
    assert.equal(points.length, 2);
    for (const p of points) assert.match(p, /^ {2}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z {2}7560000000$/);
  });

  it("labels, label-values and profile-types", async () => {
    const names = await kilnQuery(["labels", ...remote(), "--query", selector]);
    assert.equal(names.code, 0, names.stderr);
    const nameList = names.stdout.trimEnd().split("\n");
    assert.ok(nameList.includes("pod") && nameList.includes("service_name"), names.stdout);

    const pods = await kilnQuery(["label-values", "pod", ...remote()]);
    assert.equal(pods.code, 0, pods.stderr);
    assert.equal(pods.stdout, "a\nb\nc\n");
    const podsOfService = await kilnQuery(["label-values", "pod", ...remote(), "--query", selector]);
    assert.equal(podsOfService.stdout, "a\nb\n");
    const services = await kilnQuery(["label-values", "service_name", ...remote(), "--query", CPU]);
    assert.equal(services.stdout, "cli-other\ncli-svc\n");

    const types = await kilnQuery(["profile-types", ...remote()]);
    assert.equal(types.code, 0, types.stderr);
    const typeList = types.stdout.trimEnd().split("\n");
    assert.ok(typeList.includes(CPU), types.stdout);
    assert.deepEqual(typeList, await engine.profileTypes("anonymous", range));
  });

  it("an empty range answers an empty table; a bad server or folder exits 1", async () => {
    const empty = await kilnQuery([
      "top",
      "--url",
      kiln.url,
      "--from",
      "1000000000",
      "--until",
      "1000000100",
    ]);
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stdout, /^total 0 /);

    const unreachable = await kilnQuery(["labels", "--url", "http://127.0.0.1:1"]);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /kiln query: http:\/\/127\.0\.0\.1:1: \[unavailable\]/);

    const noFolder = await kilnQuery(["labels", "--data-dir", join(outDir, "missing")]);
    assert.equal(noFolder.code, 1);
    assert.match(noFolder.stderr, /not a Kiln data folder/);

    const badQuery = await kilnQuery(["top", ...remote(), "--query", "{service_name="]);
    assert.equal(badQuery.code, 2);
    assert.match(badQuery.stderr, /--query/);
  });

  it("--help documents every subcommand; usage errors exit 2", async () => {
    const help = await kilnQuery(["--help"]);
    assert.equal(help.code, 0);
    for (const sub of ["top", "folded", "series", "labels", "label-values", "profile-types", "export"]) {
      assert.match(help.stdout, new RegExp(`^ {2}${sub} `, "m"));
    }
    const unknown = await kilnQuery(["flame"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown subcommand "flame"/);
    const misplaced = await kilnQuery(["labels", "--out", "x"]);
    assert.equal(misplaced.code, 2);
    assert.match(misplaced.stderr, /--out does not apply to "labels"/);
  });
});

describe("kiln query arguments", () => {
  const now = Date.UTC(2026, 0, 2, 12, 0, 0);

  it("defaults: last hour, the CPU profile type for stack commands, no selector", () => {
    const o = parseQueryArgs(["top"], now);
    assert.deepEqual(o.range, { startMs: now - 3_600_000, endMs: now });
    assert.equal(o.profileType, CPU);
    assert.equal(o.selector, "{}");
    assert.equal(o.url, "http://localhost:4040");
    assert.equal(o.protocol, "connect");
    assert.equal(parseQueryArgs(["labels"], now).profileType, undefined);
  });

  it("splits --query into profile type and selector; reads time forms", () => {
    const o = parseQueryArgs(
      [
        "series",
        "--query",
        `memory:alloc_space:bytes:space:bytes{service_name="x", pod=~"a.*"}`,
        "--from",
        "now-6h",
        "--until",
        "now-30m",
        "--group-by",
        "pod,region",
        "--group-by",
        "zone",
      ],
      now,
    );
    assert.equal(o.profileType, "memory:alloc_space:bytes:space:bytes");
    assert.equal(o.selector, '{service_name="x", pod=~"a.*"}');
    assert.deepEqual(o.range, { startMs: now - 6 * 3_600_000, endMs: now - 1_800_000 });
    assert.deepEqual(o.groupBy, ["pod", "region", "zone"]);
  });

  it("rejects what cannot be meant", () => {
    for (const args of [
      [],
      ["top", "--url", "x", "--data-dir", "y"],
      ["top", "--sort", "name"],
      ["top", "--limit", "-1"],
      ["series", "--step", "0"],
      ["export"],
      ["label-values"],
      ["top", "--from", "now", "--until", "now-1h"],
      ["top", "--query", "bad{"],
      ["top", "--limit", "1", "--limit", "2"],
    ]) {
      assert.throws(() => parseQueryArgs(args, now), UsageError, args.join(" "));
    }
  });

  it("durations and the automatic step", () => {
    assert.equal(parseDurationMs("15", "x"), 15_000);
    assert.equal(parseDurationMs("1m", "x"), 60_000);
    assert.equal(parseDurationMs("250ms", "x"), 250);
    assert.equal(autoStepMs({ startMs: 0, endMs: 3_600_000 }), 36_000);
    assert.equal(autoStepMs({ startMs: 0, endMs: 60_000 }), 10_000);
  });
});
