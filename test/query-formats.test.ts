/**
 * The query API's extra formats and RPCs end to end on a real in-process server: DOT
 * (SelectMergeStacktraces format=DOT and /pyroscope/render?format=dot), SelectHeatmap,
 * SelectSeries exemplars, AnalyzeQuery, and `go tool pprof -top` on a SelectMergeProfile
 * answer.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { toBinary } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ProfileSchema } from "../src/gen/google/v1/profile_pb.js";
import {
  type FlameGraph as FlameGraphMessage,
  HeatmapQueryType,
  ProfileFormat,
  QuerierService,
} from "../src/gen/querier/v1/querier_pb.js";
import { ExemplarType } from "../src/gen/types/v1/types_pb.js";
import { SqliteMetastore } from "../src/metastore/sqlite.ts";
import { decodeFlameGraph, type FlameGraph } from "../src/query/flamegraph.ts";
import { yBuckets } from "../src/query/heatmap.ts";
import { topBy, topTable } from "../src/query/top.ts";
import { NameTree } from "../src/query/tree.ts";
import { testdata, testdataRoot } from "../src/testing/testdata.ts";
import { acceptAnyTime, type InProcessKiln, startInProcess } from "./helpers/kiln.ts";

const corpus = testdata("pprof");
const CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
const JAVA = "pprof/pyroscope-java-asyncprofiler-cpu.pb.gz";
const GO_LABELS = "pprof/pyroscope-go-cpu-labels.pb.gz";
const GO_SPANS = "pprof/pyroscope-go-cpu-span-id.pb.gz";

export async function pushFile(url: string, path: string, name: string, fromS?: number): Promise<void> {
  const query = new URLSearchParams({ name, format: "pprof", spyName: "rawspy" });
  if (fromS !== undefined) query.set("from", String(fromS));
  const res = await fetch(`${url}/ingest?${query}`, {
    method: "POST",
    body: readFileSync(join(testdataRoot, path)),
    headers: { "content-type": "application/octet-stream" },
  });
  assert.equal(res.status, 200, `${path}: ${await res.text()}`);
}

export function treeOf(message: FlameGraphMessage | undefined): NameTree {
  assert.ok(message, "flamegraph present");
  const graph: FlameGraph = {
    names: message.names,
    levels: message.levels.map((l) => l.values.map(Number)),
    total: Number(message.total),
    maxSelf: Number(message.maxSelf),
  };
  const tree = new NameTree();
  for (const node of decodeFlameGraph(graph))
    if (node.depth > 0 && node.self !== 0) tree.addStack(node.path, node.self);
  return tree;
}

interface ParsedDot {
  name: string;
  nodes: Map<number, { name: string; attrs: string }>;
  edges: { from: number; to: number; attrs: string }[];
}

/** A structural DOT check: one digraph, balanced braces outside strings, node and edge lines. */
export function parseDot(text: string): ParsedDot {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === "{") depth++;
    else if (c === "}") {
      depth--;
      assert.ok(depth >= 0, "braces balanced");
    }
  }
  assert.equal(inString, false, "strings closed");
  assert.equal(depth, 0, "braces balanced");
  const lines = text.trimEnd().split("\n");
  const head = /^digraph "((?:[^"\\]|\\.)*)" \{$/.exec(lines[0]!);
  assert.ok(head, `first line is a digraph: ${lines[0]}`);
  assert.equal(lines.at(-1), "}");
  const out: ParsedDot = { name: head[1]!, nodes: new Map(), edges: [] };
  const str = '"(?:[^"\\\\]|\\\\.)*"';
  const attrList = new RegExp(`^\\[(?:\\w+=(?:${str}|[\\w.#-]+) ?)+\\]$`);
  for (const line of lines.slice(1, -1)) {
    const edge = /^N(\d+) -> N(\d+) (\[.*\])$/.exec(line);
    const node = edge === null ? /^N(\d+) (\[.*\])$/.exec(line) : null;
    if (edge !== null) {
      assert.match(edge[3]!, attrList, line);
      out.edges.push({ from: Number(edge[1]), to: Number(edge[2]), attrs: edge[3]! });
    } else if (node !== null) {
      assert.match(node[2]!, attrList, line);
      const tooltip = /tooltip="((?:[^"\\]|\\.)*) \([^()]*\)"/.exec(node[2]!);
      assert.ok(tooltip, `node tooltip: ${line}`);
      out.nodes.set(Number(node[1]), { name: tooltip[1]!.replace(/\\(.)/g, "$1"), attrs: node[2]! });
    } else if (/^node \[.*\]$/.test(line) || /^subgraph cluster_L \{ ".*" \[.*\] \}$/.test(line)) {
      // graph attributes, legend
    } else {
      assert.fail(`unexpected DOT line: ${line}`);
    }
  }
  for (const e of out.edges) assert.ok(out.nodes.has(e.from) && out.nodes.has(e.to), "edges join nodes");
  return out;
}

/** Goroutine-count profiles of service "hm" at known times (s after T0) with known totals. */
const T0 = 1_700_000_040; // a multiple of 60 s
const GOROUTINES = "goroutine:goroutines:count::";
const HEATMAP_PROFILES = [
  { pod: "a", atS: 0, total: 10 },
  { pod: "a", atS: 10, total: 20 },
  { pod: "a", atS: 50, total: 25 },
  { pod: "a", atS: 70, total: 30 },
  { pod: "b", atS: 130, total: 1000 },
  { pod: "b", atS: 175, total: 500 },
];

async function pushFolded(url: string, p: { pod: string; atS: number; total: number }): Promise<void> {
  const body = `main;serve;handle ${p.total - 1}\nmain;idle 1\n`;
  const query = new URLSearchParams({
    name: `hm.goroutines{pod=${p.pod}}`,
    format: "folded",
    from: String(T0 + p.atS),
  });
  const res = await fetch(`${url}/ingest?${query}`, { method: "POST", body });
  assert.equal(res.status, 200, await res.text());
}

describe("query formats and extra RPCs", { skip: corpus.skip }, () => {
  let kiln: InProcessKiln;
  let client: Client<typeof QuerierService>;
  let endMs: number;

  before(async () => {
    kiln = await startInProcess({ ...acceptAnyTime });
    await pushFile(kiln.url, JAVA, "java-svc{env=prod}");
    await pushFile(kiln.url, GO_LABELS, "go-svc{env=prod}");
    await pushFile(kiln.url, GO_SPANS, "span-svc{env=dev}");
    for (const p of HEATMAP_PROFILES) await pushFolded(kiln.url, p);
    endMs = Date.now() + 24 * 3600 * 1000;
    client = createClient(QuerierService, createConnectTransport({ baseUrl: kiln.url, httpVersion: "1.1" }));
  });
  after(async () => kiln?.stop());

  const range = () => ({ start: 1n, end: BigInt(endMs) });

  it("DOT: a valid digraph whose top nodes are the flame graph's top self functions", async () => {
    const request = { profileTypeID: CPU, labelSelector: '{service_name="java-svc"}', ...range() };
    const fg = await client.selectMergeStacktraces({ ...request, maxNodes: 1_048_576n });
    const top = topTable(treeOf(fg.flamegraph));
    const selfOf = new Map(top.map((e) => [e.name, e.self]));
    const res = await client.selectMergeStacktraces({ ...request, format: ProfileFormat.DOT });
    assert.equal(res.flamegraph, undefined);
    const dot = parseDot(res.dot);
    assert.equal(dot.name, "unnamed");
    assert.ok(dot.nodes.size > 5 && dot.nodes.size <= 100, `${dot.nodes.size} nodes (default cap 100)`);
    assert.ok(dot.edges.length > 0);
    const expected = topBy(top, "self", 5).map((e) => e.self);
    const got = [1, 2, 3, 4, 5].map((i) => selfOf.get(dot.nodes.get(i)!.name));
    assert.deepEqual(got, expected, "N1..N5 are the top self functions");
    assert.match(res.dot, /Type: cpu\\l/);

    const small = await client.selectMergeStacktraces({
      ...request,
      format: ProfileFormat.DOT,
      maxNodes: 7n,
    });
    const smallDot = parseDot(small.dot);
    assert.equal(smallDot.nodes.size, 7);
    assert.match(small.dot, /Showing top 7 nodes out of \d+/);

    const params = new URLSearchParams({
      query: `${CPU}{service_name="java-svc"}`,
      from: "1",
      until: String(endMs),
      format: "dot",
    });
    const http = await fetch(`${kiln.url}/pyroscope/render?${params}`);
    assert.equal(http.status, 200);
    assert.match(http.headers.get("content-type") ?? "", /^text\/plain/);
    const rendered = parseDot(await http.text());
    assert.equal(rendered.nodes.size, dot.nodes.size);
    params.set("max-nodes", "12");
    assert.equal(
      parseDot(await (await fetch(`${kiln.url}/pyroscope/render?${params}`)).text()).nodes.size,
      12,
    );
    params.set("query", `${CPU}{service_name="nothing-here"}`);
    const empty = await fetch(`${kiln.url}/pyroscope/render?${params}`);
    assert.equal(empty.status, 200);
    assert.equal(await empty.text(), "", "no data: empty body");
  });

  it("go tool pprof -top names the same top functions as the flame graph", async (t) => {
    const hasGo = spawnSync("go", ["version"], { stdio: "ignore" }).status === 0;
    if (!hasGo) {
      if (process.env.CI) assert.fail("go is not installed but CI is set: .ci/run installs golang-go");
      t.skip("go not installed (CI unset): apt-get install golang-go to run this check");
      return;
    }
    const request = { profileTypeID: CPU, labelSelector: '{service_name="java-svc"}', ...range() };
    const fg = await client.selectMergeStacktraces({ ...request, maxNodes: 1_048_576n });
    const expected = topBy(topTable(treeOf(fg.flamegraph)), "self", 5);
    const profile = await client.selectMergeProfile(request);
    const dir = mkdtempSync(join(tmpdir(), "kiln-pprof-"));
    try {
      const file = join(dir, "merged.pb");
      writeFileSync(file, toBinary(ProfileSchema, profile));
      const text = execFileSync("go", ["tool", "pprof", "-top", "-nodecount=5", file], {
        encoding: "utf8",
        env: { ...process.env, HOME: dir, PPROF_TMPDIR: dir, GOFLAGS: "", GOTOOLCHAIN: "local" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      // Rows: flat flat% sum% cum cum% name
      const rows = text
        .split("\n")
        .map((line) => /^\s*\S+\s+[\d.]+%\s+[\d.]+%\s+\S+\s+[\d.]+%\s+(.+)$/.exec(line)?.[1]?.trim())
        .filter((name): name is string => name !== undefined);
      assert.equal(rows.length, 5, text);
      const selfOf = new Map(topTable(treeOf(fg.flamegraph)).map((e) => [e.name, e.self]));
      assert.deepEqual(
        rows.map((name) => selfOf.get(name)),
        expected.map((e) => e.self),
        `pprof -top:\n${text}`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("SelectHeatmap INDIVIDUAL: slots, y buckets, counts, exemplars, group_by, limit", async () => {
    const request = {
      profileTypeID: GOROUTINES,
      labelSelector: '{service_name="hm"}',
      start: BigInt(T0 * 1000),
      end: BigInt((T0 + 180) * 1000),
      step: 60,
      groupBy: ["pod"],
      queryType: HeatmapQueryType.INDIVIDUAL,
      exemplarType: ExemplarType.INDIVIDUAL,
    };
    const res = await client.selectHeatmap(request);
    assert.deepEqual(
      res.series.map((s) => s.labels.map((l) => [l.name, l.value])),
      [[["pod", "a"]], [["pod", "b"]]],
    );
    const mins = yBuckets(10, 1000);
    const bucket = (v: number) => {
      for (let i = mins.length - 1; i >= 0; i--) if (v >= mins[i]!) return i;
      return -1;
    };
    for (const series of res.series) {
      const pod = series.labels[0]!.value;
      const expected = new Map<number, number[]>();
      for (const p of HEATMAP_PROFILES.filter((x) => x.pod === pod)) {
        const edge = (T0 + Math.ceil(p.atS / 60) * 60) * 1000;
        const counts = expected.get(edge) ?? new Array(20).fill(0);
        counts[bucket(p.total)]++;
        expected.set(edge, counts);
      }
      assert.deepEqual(
        series.slots.map((s) => Number(s.timestamp)),
        [...expected.keys()].sort((a, b) => a - b),
        `pod ${pod} slot edges`,
      );
      for (const slot of series.slots) {
        assert.deepEqual(slot.yMin, mins);
        assert.deepEqual(slot.counts, expected.get(Number(slot.timestamp)));
        assert.equal(slot.exemplars.length, slot.counts.filter((c) => c > 0).length, "one exemplar per cell");
        for (const e of slot.exemplars) {
          assert.match(e.profileId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
          assert.ok(e.timestamp <= slot.timestamp && e.timestamp > slot.timestamp - 60_000n);
          const labels = Object.fromEntries(e.labels.map((l) => [l.name, l.value]));
          assert.equal(labels.pod, undefined, "group-by label not repeated");
          assert.equal(labels.service_name, "hm");
          const one = await client.selectMergeStacktraces({
            profileTypeID: GOROUTINES,
            labelSelector: "{}",
            start: 1n,
            end: BigInt(endMs),
            profileIdSelector: [e.profileId],
          });
          assert.equal(one.flamegraph!.total, e.value, "exemplar value is its profile's total");
        }
      }
    }
    // The largest profile is the only one in the last bucket.
    const b = res.series[1]!.slots.find((s) => s.counts[19] === 1)!;
    assert.equal(b.exemplars.at(-1)!.value, 1000n);

    const top = await client.selectHeatmap({ ...request, limit: 1n, exemplarType: ExemplarType.NONE });
    assert.equal(top.series.length, 1);
    assert.equal(top.series[0]!.labels[0]!.value, "a", "pod a has the most points");
    assert.ok(top.series[0]!.slots.every((s) => s.exemplars.length === 0));
    const all = await client.selectHeatmap({ ...request, groupBy: [] });
    assert.equal(all.series.length, 1);
    assert.deepEqual(all.series[0]!.labels, []);
    const points = all.series[0]!.slots.reduce((n, s) => n + s.counts.reduce((a, c) => a + c, 0), 0);
    assert.equal(points, HEATMAP_PROFILES.length);

    for (const bad of [
      { ...request, step: 0 },
      { ...request, queryType: HeatmapQueryType.UNSPECIFIED },
      { ...request, exemplarType: ExemplarType.SPAN },
      { ...request, limit: -1n },
    ]) {
      await assert.rejects(client.selectHeatmap(bad), (err: unknown) => {
        assert.ok(err instanceof ConnectError);
        assert.equal(err.code, Code.InvalidArgument);
        return true;
      });
    }
  });

  it("SelectHeatmap SPAN: one point per span; exemplar span ids select the span", async () => {
    const res = await client.selectHeatmap({
      profileTypeID: CPU,
      labelSelector: '{service_name="span-svc"}',
      start: 1n,
      end: BigInt(endMs),
      step: 3600,
      queryType: HeatmapQueryType.SPAN,
      exemplarType: ExemplarType.SPAN,
    });
    assert.equal(res.series.length, 1);
    const exemplars = res.series[0]!.slots.flatMap((s) => s.exemplars);
    assert.ok(exemplars.length > 0);
    const counted = res.series[0]!.slots.reduce((n, s) => n + s.counts.reduce((a, c) => a + c, 0), 0);
    assert.ok(counted >= exemplars.length);
    for (const e of exemplars.slice(0, 5)) {
      assert.match(e.spanId, /^[0-9a-f]{16}$/);
      assert.equal(e.profileId, "");
      const span = await client.selectMergeSpanProfile({
        profileTypeID: CPU,
        labelSelector: '{service_name="span-svc"}',
        spanSelector: [e.spanId],
        start: 1n,
        end: BigInt(endMs),
      });
      assert.equal(span.flamegraph!.total, e.value, `span ${e.spanId}`);
    }
    const none = await client.selectHeatmap({
      profileTypeID: CPU,
      labelSelector: '{service_name="java-svc"}',
      start: 1n,
      end: BigInt(endMs),
      step: 3600,
      queryType: HeatmapQueryType.SPAN,
    });
    assert.deepEqual(none.series, [], "no span ids, no points");
  });

  it("SelectSeries exemplars: INDIVIDUAL top profile per point, SPAN top span per point", async () => {
    const request = {
      profileTypeID: GOROUTINES,
      labelSelector: '{service_name="hm"}',
      start: BigInt(T0 * 1000),
      end: BigInt((T0 + 180) * 1000),
      step: 60,
      groupBy: ["pod"],
    };
    const plain = await client.selectSeries(request);
    assert.ok(plain.series.every((s) => s.points.every((p) => p.exemplars.length === 0)));
    const res = await client.selectSeries({ ...request, exemplarType: ExemplarType.INDIVIDUAL });
    assert.deepEqual(
      res.series.map((s) => s.points.map((p) => p.value)),
      plain.series.map((s) => s.points.map((p) => p.value)),
      "exemplars do not change values",
    );
    for (const series of res.series) {
      const pod = series.labels[0]!.value;
      for (const point of series.points) {
        assert.equal(point.exemplars.length, 1);
        const e = point.exemplars[0]!;
        const inStep = HEATMAP_PROFILES.filter(
          (p) =>
            p.pod === pod &&
            (T0 + p.atS) * 1000 <= Number(point.timestamp) &&
            (T0 + p.atS) * 1000 > Number(point.timestamp) - 60_000,
        );
        const best = inStep.sort((x, y) => y.total - x.total)[0]!;
        assert.equal(e.value, BigInt(best.total));
        assert.equal(e.timestamp, BigInt((T0 + best.atS) * 1000));
        assert.match(e.profileId, /^[0-9a-f-]{36}$/);
        assert.ok(!e.labels.some((l) => l.name === "pod"));
        assert.ok(e.labels.some((l) => l.name === "service_name" && l.value === "hm"));
      }
    }
    const spans = await client.selectSeries({
      profileTypeID: CPU,
      labelSelector: '{service_name="span-svc"}',
      start: 1n,
      end: BigInt(endMs),
      step: 3600,
      exemplarType: ExemplarType.SPAN,
    });
    const point = spans.series[0]!.points.find((p) => p.exemplars.length > 0)!;
    const e = point.exemplars[0]!;
    assert.match(e.spanId, /^[0-9a-f]{16}$/);
    const span = await client.selectMergeSpanProfile({
      profileTypeID: CPU,
      labelSelector: '{service_name="span-svc"}',
      spanSelector: [e.spanId],
      start: 1n,
      end: BigInt(endMs),
    });
    assert.equal(span.flamegraph!.total, e.value);
    const heat = await client.selectHeatmap({
      profileTypeID: CPU,
      labelSelector: '{service_name="span-svc"}',
      start: 1n,
      end: BigInt(endMs),
      step: 3600,
      queryType: HeatmapQueryType.SPAN,
      exemplarType: ExemplarType.SPAN,
    });
    let largest = 0n;
    for (const x of heat.series[0]!.slots.flatMap((slot) => slot.exemplars))
      if (x.value > largest) largest = x.value;
    assert.equal(e.value, largest, "the series exemplar is the largest span");
  });

  it("AnalyzeQuery: blocks, series, profiles, samples and section bytes in range", async () => {
    const range = { start: BigInt(T0 * 1000), end: BigInt((T0 + 180) * 1000) };
    const res = await client.analyzeQuery({ query: `${GOROUTINES}{service_name="hm"}`, ...range });
    assert.ok(res.queryScopes.length >= 1);
    const sum = (key: "blockCount" | "seriesCount" | "profileCount" | "sampleCount") =>
      res.queryScopes.reduce((n, s) => n + s[key], 0n);
    assert.equal(sum("profileCount"), BigInt(HEATMAP_PROFILES.length));
    assert.equal(sum("sampleCount"), BigInt(2 * HEATMAP_PROFILES.length), "two stacks per folded profile");
    assert.ok(sum("seriesCount") >= 2n && sum("seriesCount") <= BigInt(HEATMAP_PROFILES.length));
    assert.ok(sum("blockCount") >= 1n);
    for (const scope of res.queryScopes) {
      assert.ok(["segments", "compacted blocks"].includes(scope.componentType));
      assert.equal(scope.componentCount, 1n);
      assert.ok(scope.indexBytes > 0n && scope.profileBytes > 0n && scope.symbolBytes > 0n);
    }
    const bytes = res.queryScopes.reduce((n, s) => n + s.indexBytes + s.profileBytes + s.symbolBytes, 0n);
    assert.equal(res.queryImpact!.totalBytesInTimeRange, bytes);
    assert.equal(res.queryImpact!.totalQueriedSeries, sum("seriesCount"));
    assert.equal(res.queryImpact!.deduplicationNeeded, false);
    // The bytes are the stored sizes of the sections of the datasets holding matches.
    const metastore = await SqliteMetastore.open(kiln.dataDir);
    try {
      const hits = await metastore.queryDatasets({
        tenant: "anonymous",
        service: "hm",
        startMs: T0 * 1000,
        endMs: (T0 + 180) * 1000,
      });
      const stored = hits.reduce((n, h) => n + h.dataset.sections.reduce((m, r) => m + r.sizeBytes, 0), 0);
      assert.equal(bytes, BigInt(stored));
    } finally {
      await metastore.close();
    }

    const podA = await client.analyzeQuery({ query: `${GOROUTINES}{service_name="hm",pod="a"}`, ...range });
    assert.equal(
      podA.queryScopes.reduce((n, s) => n + s.profileCount, 0n),
      BigInt(HEATMAP_PROFILES.filter((p) => p.pod === "a").length),
    );
    const nothing = await client.analyzeQuery({ query: `${GOROUTINES}{service_name="none"}`, ...range });
    assert.deepEqual(nothing.queryScopes, []);
    assert.equal(nothing.queryImpact!.totalBytesInTimeRange, 0n);
    await assert.rejects(client.analyzeQuery({ query: '{service_name="hm"}', ...range }), (err: unknown) => {
      assert.ok(err instanceof ConnectError);
      assert.equal(err.code, Code.InvalidArgument);
      return true;
    });
  });
});
