/**
 * Issue 4: query answers are identical before and after compaction, for every valid file of
 * the shared corpus. Each pprof file (and a few collapsed ones) goes through the real server's
 * /ingest under a service of its own, some twice (a client's retry); the flame graph and the
 * SelectSeries answer of every service and profile type are recorded; the server stops, the
 * compactor runs to completion on its data folder (every level, age thresholds at 0), the
 * server restarts on the same folder and every answer is asked again. Services pushed once
 * answer exactly as before; a retried push counts once after compaction (the merge drops
 * profiles of the same series, time and content), so those answer exactly half of before.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { JobReport } from "../src/compactor/compactor.ts";
import { SqliteMetastore } from "../src/metastore/sqlite.ts";
import { FsObjectStore } from "../src/objstore/fs-store.ts";
import { compactToCompletion } from "../src/testing/compaction.ts";
import { spyNameFor, testdata } from "../src/testing/testdata.ts";
import { acceptAnyTime, type InProcessKiln, startInProcess, tempDataDir } from "./helpers/kiln.ts";

const pprofData = testdata("pprof");
const collapsedData = testdata("collapsed");

/** Files the server refuses (test/ingest-corpus.test.ts checks the refusals). */
const REFUSED = new Set([
  "pprof/pyroscope-invalid-utf8.pb.gz",
  "pprof/parca-go-no-sampletype-names.pb.gz",
  "collapsed/speedscope-simple-with-invalids.txt",
]);
/** Collapsed files pushed too (besides every pprof file). */
const COLLAPSED_COUNT = 4;
/** Every RETRY_EVERY-th pushed file is pushed twice. */
const RETRY_EVERY = 4;
/** One fixed `from` for every push: profiles without a time of their own get this one. */
const FROM_S = Math.floor(Date.now() / 1000) - 3600;
/** The query range: everything (the corpus's times are years old, some unset). */
const RANGE = { start: "1", end: String(Date.now() + 24 * 3_600_000) };
const SETTINGS = { ...acceptAnyTime, compaction: false, maxProfileSamples: 32_000 };

interface Pushed {
  path: string;
  service: string;
  retried: boolean;
}

interface Answer {
  flamegraph: FlameGraphJson;
  series: unknown;
  seriesTotal: number;
}

interface FlameGraphJson {
  names: string[];
  levels: { values: string[] }[];
  total: string;
  maxSelf: string;
}

function serviceFor(path: string): string {
  return `cc-${path.replace(/[^A-Za-z0-9_\-/]/g, "_")}`;
}

async function connect<T>(url: string, method: string, body: unknown): Promise<T> {
  const res = await fetch(`${url}/querier.v1.QuerierService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `${method}: ${text}`);
  return JSON.parse(text) as T;
}

async function profileTypesOf(url: string, service: string): Promise<string[]> {
  const res = await connect<{ labelsSet?: { labels?: { name: string; value: string }[] }[] }>(url, "Series", {
    matchers: [`{service_name="${service}"}`],
    labelNames: ["__profile_type__"],
    ...RANGE,
  });
  const types = new Set<string>();
  for (const set of res.labelsSet ?? []) {
    for (const label of set.labels ?? []) if (label.name === "__profile_type__") types.add(label.value);
  }
  return [...types].sort();
}

/** Every answer of the server, by `service|profile type`. */
async function answers(url: string, pushed: readonly Pushed[]): Promise<Map<string, Answer>> {
  const out = new Map<string, Answer>();
  for (const { service } of pushed) {
    const types = await profileTypesOf(url, service);
    assert.ok(types.length > 0, `${service}: no profile types`);
    for (const profileTypeID of types) {
      const selector = { profileTypeID, labelSelector: `{service_name="${service}"}`, ...RANGE };
      const merged = await connect<{ flamegraph: FlameGraphJson }>(url, "SelectMergeStacktraces", {
        ...selector,
        maxNodes: "1000000",
      });
      const series = await connect<{ series?: { points?: { value?: number }[] }[] }>(url, "SelectSeries", {
        ...selector,
        step: 24 * 3600,
      });
      let seriesTotal = 0;
      for (const s of series.series ?? []) for (const p of s.points ?? []) seriesTotal += p.value ?? 0;
      out.set(`${service}|${profileTypeID}`, { flamegraph: merged.flamegraph, series, seriesTotal });
    }
  }
  return out;
}

/** The flame graph of half the profiles: every value halved (a retry doubled each exactly). */
function halved(fg: FlameGraphJson): FlameGraphJson {
  const half = (v: string): string => {
    const n = BigInt(v);
    assert.equal(n % 2n, 0n, `odd value ${v} in a doubled flame graph`);
    return String(n / 2n);
  };
  return {
    ...fg,
    levels: fg.levels.map((level) => ({
      ...level,
      values: level.values.map((v, i) => (i % 4 === 3 ? v : half(v))),
    })),
    total: half(fg.total),
    maxSelf: half(fg.maxSelf),
  };
}

/** The compactor to completion, one level after the other (as bench/compaction.ts drives it). */
async function compactAll(dataDir: string): Promise<JobReport[]> {
  const store = await FsObjectStore.open(join(dataDir, "objects"));
  const metastore = await SqliteMetastore.open(dataDir);
  try {
    const reports = await compactToCompletion(store, metastore);
    assert.deepEqual(await metastore.listBlocks({ level: 0 }), [], "level-0 segments left after compaction");
    return reports;
  } finally {
    await store.close();
    await metastore.close();
  }
}

describe("query answers before and after compaction, whole corpus", {
  skip: pprofData.skip || collapsedData.skip,
}, () => {
  const dataDir = tempDataDir("kiln-compaction-corpus-");
  const pushed: Pushed[] = [];
  let server: InProcessKiln | undefined;
  let beforeAnswers: Map<string, Answer>;

  before(async () => {
    server = await startInProcess({ ...SETTINGS, dataDir });
  });
  after(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("push every valid pprof file and some collapsed ones, some twice", async () => {
    const pprofFiles = readdirSync(pprofData.dir!)
      .filter((f) => /\.pb(\.gz)?$/.test(f))
      .sort()
      .map((f) => `pprof/${f}`);
    const collapsedFiles = readdirSync(collapsedData.dir!)
      .sort()
      .map((f) => `collapsed/${f}`)
      .filter((p) => !REFUSED.has(p))
      .slice(0, COLLAPSED_COUNT);
    const files = [...pprofFiles.filter((p) => !REFUSED.has(p)), ...collapsedFiles];
    assert.ok(files.length > 20, `only ${files.length} corpus files`);
    for (const [i, path] of files.entries()) {
      const service = serviceFor(path);
      const retried = i % RETRY_EVERY === 1;
      const body = readFileSync(join(pprofData.dir!, "..", path));
      const query = new URLSearchParams({ name: service, from: String(FROM_S) });
      if (path.startsWith("pprof/")) {
        query.set("format", "pprof");
        query.set("spyName", spyNameFor(path));
      }
      for (let attempt = 0; attempt < (retried ? 2 : 1); attempt++) {
        const res = await fetch(`${server!.url}/ingest?${query}`, { method: "POST", body });
        const text = await res.text();
        assert.equal(res.status, 200, `${path}: ${text}`);
      }
      pushed.push({ path, service, retried });
    }
    assert.ok(pushed.some((p) => p.retried && p.path.startsWith("collapsed/")));
  });

  test("record the answers, compact to completion, restart: answers unchanged", async () => {
    beforeAnswers = await answers(server!.url, pushed);
    await server!.stop();
    server = undefined;

    const reports = await compactAll(dataDir);
    assert.ok(reports.length > 0, "no compaction job ran");
    assert.deepEqual(
      reports.filter((r) => !r.ok).map((r) => String(r.error)),
      [],
      "failed compaction jobs",
    );

    server = await startInProcess({ ...SETTINGS, dataDir });
    const afterAnswers = await answers(server.url, pushed);
    assert.deepEqual(
      [...afterAnswers.keys()].sort(),
      [...beforeAnswers.keys()].sort(),
      "services × profile types",
    );
    let checked = 0;
    let retriedChecked = 0;
    for (const { service, retried, path } of pushed) {
      for (const [key, afterAnswer] of afterAnswers) {
        if (!key.startsWith(`${service}|`)) continue;
        const beforeAnswer = beforeAnswers.get(key)!;
        assert.ok(BigInt(beforeAnswer.flamegraph.total) > 0n, `${path} ${key}: empty flame graph`);
        if (!retried) {
          assert.deepEqual(afterAnswer.flamegraph, beforeAnswer.flamegraph, `${path} ${key}: flame graph`);
          assert.deepEqual(afterAnswer.series, beforeAnswer.series, `${path} ${key}: series`);
        } else {
          assert.deepEqual(
            afterAnswer.flamegraph,
            halved(beforeAnswer.flamegraph),
            `${path} ${key}: flame graph`,
          );
          assert.equal(afterAnswer.seriesTotal * 2, beforeAnswer.seriesTotal, `${path} ${key}: series total`);
          retriedChecked++;
        }
        assert.equal(
          afterAnswer.seriesTotal,
          Number(afterAnswer.flamegraph.total),
          `${path} ${key}: series total = flame graph total`,
        );
        checked++;
      }
    }
    assert.ok(checked >= pushed.length, `only ${checked} answers compared`);
    assert.ok(retriedChecked > 0, "no retried service compared");
  });
});
