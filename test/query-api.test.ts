/**
 * The query API end to end: corpus pprofs pushed through /ingest into a real in-process server
 * (multi-tenancy on), then read back through querier.v1 over Connect JSON, Connect binary and
 * gRPC, the render API, settings/version/capabilities. Flame graph, tree and render answers
 * are checked against MANIFEST.md's top-10 tables (computed independently from the raw pprofs).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { create, type DescMessage, type MessageShape, toBinary, toJson } from "@bufbuild/protobuf";
import {
  type Client,
  Code,
  ConnectError,
  createClient,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Profile } from "pprof-format";
import { FeatureFlagsService } from "../src/gen/capabilities/v1/capabilities_pb.js";
import { ProfileSchema } from "../src/gen/google/v1/profile_pb.js";
import {
  AnalyzeQueryResponseSchema,
  DiffResponseSchema,
  type FlameGraph as FlameGraphMessage,
  HeatmapQueryType,
  ProfileFormat,
  ProfileTypesResponseSchema,
  QuerierService,
  SelectHeatmapResponseSchema,
  SelectMergeStacktracesRequestSchema,
  SelectMergeStacktracesResponseSchema,
  SelectSeriesResponseSchema,
  SeriesResponseSchema,
} from "../src/gen/querier/v1/querier_pb.js";
import { SettingsService } from "../src/gen/settings/v1/setting_pb.js";
import {
  ExemplarType,
  GetProfileStatsResponseSchema,
  LabelNamesResponseSchema,
  LabelValuesResponseSchema,
  TimeSeriesAggregationType,
} from "../src/gen/types/v1/types_pb.js";
import { Version } from "../src/gen/version/v1/version_pb.js";
import { decodeFlameGraph, type FlameGraph } from "../src/query/flamegraph.ts";
import { readManifestTops } from "../src/query/test-helpers.ts";
import { type TopEntry, topTable } from "../src/query/top.ts";
import { NameTree } from "../src/query/tree.ts";
import { decodeTreeBytes } from "../src/query/tree-bytes.ts";
import { testdata, testdataRoot } from "../src/testing/testdata.ts";
import { acceptAnyTime, type InProcessKiln, startInProcess } from "./helpers/kiln.ts";

const corpus = testdata("pprof");
const TENANT = "tenant-a";
const OTHER_TENANT = "tenant-b";
const START = 1;
const MAX_NODES = 1_048_576n;

function orgId(tenant: string): Interceptor {
  return (next) => async (req) => {
    req.header.set("X-Scope-OrgID", tenant);
    return next(req);
  };
}

function transports(url: string, tenant: string): Record<string, Transport> {
  const interceptors = [orgId(tenant)];
  return {
    "Connect JSON": createConnectTransport({
      baseUrl: url,
      httpVersion: "1.1",
      useBinaryFormat: false,
      interceptors,
    }),
    "Connect binary": createConnectTransport({
      baseUrl: url,
      httpVersion: "1.1",
      useBinaryFormat: true,
      interceptors,
    }),
    gRPC: createGrpcTransport({ baseUrl: url, interceptors }),
  };
}

function toFlameGraph(message: FlameGraphMessage | undefined): FlameGraph {
  assert.ok(message, "flamegraph present");
  return {
    names: message.names,
    levels: message.levels.map((l) => l.values.map(Number)),
    total: Number(message.total),
    maxSelf: Number(message.maxSelf),
  };
}

function treeFromFlameGraph(graph: FlameGraph): NameTree {
  const tree = new NameTree();
  for (const node of decodeFlameGraph(graph))
    if (node.depth > 0 && node.self !== 0) tree.addStack(node.path, node.self);
  return tree;
}

type Tables = { total: bigint; self: [string, bigint][]; inclusive: [string, bigint][] };

function checkTop(label: string, entries: TopEntry[], tables: Tables): void {
  const got = new Map(entries.map((e) => [e.name, e]));
  for (const [name, value] of tables.self) {
    assert.equal(BigInt(got.get(name)?.self ?? 0), value, `${label}: self of ${name}`);
  }
  for (const [name, value] of tables.inclusive) {
    assert.equal(BigInt(got.get(name)?.total ?? 0), value, `${label}: total of ${name}`);
  }
}

describe("query API", { skip: corpus.skip }, () => {
  let kiln: InProcessKiln;
  let client: Client<typeof QuerierService>;
  let endMs: number;
  const tops = readManifestTops();
  const manifestFiles = [...tops.keys()].filter((p) => p.startsWith("pprof/"));
  const serviceOf = (path: string) => `svc-${path.replace(/^pprof\//, "").replace(/[^a-z0-9]+/gi, "-")}`;

  async function push(tenant: string, path: string, name: string): Promise<void> {
    const query = new URLSearchParams({ name, format: "pprof", spyName: "rawspy" });
    const res = await fetch(`${kiln.url}/ingest?${query}`, {
      method: "POST",
      body: readFileSync(join(testdataRoot, path)),
      headers: { "content-type": "application/octet-stream", "X-Scope-OrgID": tenant },
    });
    assert.equal(res.status, 200, `${path}: ${await res.text()}`);
  }

  async function profileTypesOf(service: string): Promise<string[]> {
    const res = await client.series({
      matchers: [`{service_name="${service}"}`],
      labelNames: ["__profile_type__"],
      start: BigInt(START),
      end: BigInt(endMs),
    });
    return res.labelsSet.map((s) => s.labels[0]!.value);
  }

  const typeFor = (types: string[], typeUnit: string) =>
    types.find((id) => id.split(":").slice(1, 3).join(":") === typeUnit);

  before(async () => {
    kiln = await startInProcess({ ...acceptAnyTime, multitenancy: true });
    assert.equal(manifestFiles.length, 5);
    for (const path of manifestFiles) await push(TENANT, path, serviceOf(path));
    await push(TENANT, "pprof/pyroscope-java-asyncprofiler-cpu.pb.gz", "java-copy{env=dev}");
    await push(OTHER_TENANT, "pprof/pyroscope-go-cpu-labels.pb.gz", "other-tenant-svc");
    await push(TENANT, "pprof/pyroscope-go-cpu-span-id.pb.gz", "span-svc");
    endMs = Date.now() + 24 * 3600 * 1000;
    client = createClient(QuerierService, transports(kiln.url, TENANT)["Connect binary"]!);
  });
  after(async () => kiln?.stop());

  it("flame graph, tree bytes and render reproduce the manifest's top-10 tables", async () => {
    let checked = 0;
    for (const path of manifestFiles) {
      const service = serviceOf(path);
      const types = await profileTypesOf(service);
      for (const [typeUnit, tables] of tops.get(path)!.bySampleType) {
        const profileTypeID = typeFor(types, typeUnit);
        if (profileTypeID === undefined) {
          assert.equal(tables.total, 0n, `${path} ${typeUnit}: only empty sample types are missing`);
          continue;
        }
        const request = {
          profileTypeID,
          labelSelector: `{service_name="${service}"}`,
          start: BigInt(START),
          end: BigInt(endMs),
          maxNodes: MAX_NODES,
        };
        const label = `${path} ${typeUnit}`;
        const fg = toFlameGraph((await client.selectMergeStacktraces(request)).flamegraph);
        assert.equal(BigInt(fg.total), tables.total, `${label}: flame graph total`);
        checkTop(`${label} flamegraph`, topTable(treeFromFlameGraph(fg)), tables);

        const treeRes = await client.selectMergeStacktraces({ ...request, format: ProfileFormat.TREE });
        const tree = decodeTreeBytes(treeRes.tree);
        assert.equal(BigInt(tree.totals()[0]!), tables.total, `${label}: tree total`);
        checkTop(`${label} tree`, topTable(tree), tables);

        const params = new URLSearchParams({
          query: `${profileTypeID}{service_name="${service}"}`,
          from: String(START).padStart(13, "0"),
          until: String(endMs),
          maxNodes: String(MAX_NODES),
        });
        const res = await fetch(`${kiln.url}/pyroscope/render?${params}`, {
          headers: { "X-Scope-OrgID": TENANT },
        });
        assert.equal(res.status, 200, await res.clone().text());
        const body = (await res.json()) as {
          version: number;
          flamebearer: { names: string[]; levels: number[][]; numTicks: number; maxSelf: number };
          metadata: { format: string; name: string };
          timeline: { samples: number[]; durationDelta: number; startTime: number };
        };
        assert.equal(body.version, 1);
        assert.equal(body.metadata.format, "single");
        assert.equal(body.metadata.name, typeUnit.split(":")[0]);
        assert.equal(BigInt(body.flamebearer.numTicks), tables.total, `${label}: render numTicks`);
        const rendered: FlameGraph = {
          names: body.flamebearer.names,
          levels: body.flamebearer.levels,
          total: body.flamebearer.numTicks,
          maxSelf: body.flamebearer.maxSelf,
        };
        checkTop(`${label} render`, topTable(treeFromFlameGraph(rendered)), tables);
        assert.ok(body.timeline.durationDelta >= 15);
        // The timeline covers the same profiles as the flame graph, the newest step included.
        const timelineSum = body.timeline.samples.reduce((a, b) => a + b, 0);
        assert.ok(
          Math.abs(timelineSum - body.flamebearer.numTicks) <= body.timeline.samples.length,
          `${label}: timeline`,
        );
        checked++;
      }
    }
    assert.ok(checked >= 10, `checked ${checked} sample types`);
  });

  it("every RPC answers the same through Connect JSON, Connect binary and gRPC", async () => {
    const [javaType] = await profileTypesOf(serviceOf("pprof/pyroscope-java-asyncprofiler-cpu.pb.gz"));
    assert.ok(javaType);
    const range = { start: BigInt(START), end: BigInt(endMs) };
    const stack = {
      profileTypeID: javaType,
      labelSelector: `{service_name=~"svc-.*|java-copy"}`,
      ...range,
      maxNodes: 1024n,
    };
    const calls: [string, DescMessage, (c: Client<typeof QuerierService>) => Promise<unknown>][] = [
      ["ProfileTypes", ProfileTypesResponseSchema, (c) => c.profileTypes(range)],
      [
        "LabelNames",
        LabelNamesResponseSchema,
        (c) => c.labelNames({ matchers: ['{service_name="java-copy"}'], ...range }),
      ],
      ["LabelValues", LabelValuesResponseSchema, (c) => c.labelValues({ name: "service_name", ...range })],
      [
        "Series",
        SeriesResponseSchema,
        (c) => c.series({ matchers: [], labelNames: ["service_name", "__profile_type__"], ...range }),
      ],
      [
        "SelectMergeStacktraces",
        SelectMergeStacktracesResponseSchema,
        (c) => c.selectMergeStacktraces(stack),
      ],
      [
        "SelectMergeStacktraces TREE",
        SelectMergeStacktracesResponseSchema,
        (c) => c.selectMergeStacktraces({ ...stack, format: ProfileFormat.TREE }),
      ],
      [
        "SelectMergeStacktraces PPROF",
        SelectMergeStacktracesResponseSchema,
        (c) => c.selectMergeStacktraces({ ...stack, format: ProfileFormat.PPROF }),
      ],
      ["SelectMergeProfile", ProfileSchema, (c) => c.selectMergeProfile(stack)],
      [
        "SelectSeries",
        SelectSeriesResponseSchema,
        (c) => c.selectSeries({ ...stack, step: 3600, groupBy: ["service_name"] }),
      ],
      [
        "Diff",
        DiffResponseSchema,
        (c) => c.diff({ left: stack, right: { ...stack, labelSelector: '{service_name="java-copy"}' } }),
      ],
      ["GetProfileStats", GetProfileStatsResponseSchema, (c) => c.getProfileStats({})],
      [
        "SelectMergeStacktraces DOT",
        SelectMergeStacktracesResponseSchema,
        (c) => c.selectMergeStacktraces({ ...stack, format: ProfileFormat.DOT }),
      ],
      [
        "SelectSeries exemplars",
        SelectSeriesResponseSchema,
        (c) => c.selectSeries({ ...stack, step: 3600, exemplarType: ExemplarType.INDIVIDUAL }),
      ],
      [
        "SelectHeatmap",
        SelectHeatmapResponseSchema,
        (c) =>
          c.selectHeatmap({
            ...stack,
            step: 3600,
            groupBy: ["service_name"],
            queryType: HeatmapQueryType.INDIVIDUAL,
            exemplarType: ExemplarType.INDIVIDUAL,
          }),
      ],
      [
        "AnalyzeQuery",
        AnalyzeQueryResponseSchema,
        (c) => c.analyzeQuery({ query: `${javaType}{service_name=~"svc-.*|java-copy"}`, ...range }),
      ],
    ];
    const clients = Object.entries(transports(kiln.url, TENANT)).map(
      ([name, t]) => [name, createClient(QuerierService, t)] as const,
    );
    for (const [rpc, schema, call] of calls) {
      const answers = [];
      for (const [name, c] of clients) {
        const res = (await call(c)) as MessageShape<typeof schema>;
        answers.push([name, toJson(schema, res)] as const);
      }
      for (const [name, json] of answers.slice(1)) {
        assert.deepEqual(json, answers[0]![1], `${rpc}: ${name} vs ${answers[0]![0]}`);
      }
      assert.notDeepEqual(answers[0]![1], {}, `${rpc} answered something`);
    }
  });

  it("SelectSeries points sum to the flame graph total; group_by and limit", async () => {
    const [javaType] = await profileTypesOf("java-copy");
    assert.ok(javaType);
    const range = { start: BigInt(START), end: BigInt(endMs) };
    const totals = new Map<string, number>();
    for (const service of await client.labelValues({ name: "service_name", ...range }).then((r) => r.names)) {
      const fg = await client.selectMergeStacktraces({
        profileTypeID: javaType,
        labelSelector: `{service_name="${service}"}`,
        ...range,
      });
      if (Number(fg.flamegraph!.total) !== 0) totals.set(service, Number(fg.flamegraph!.total));
    }
    assert.ok(totals.size >= 3, `services with ${javaType}: ${[...totals.keys()]}`);
    const grouped = await client.selectSeries({
      profileTypeID: javaType,
      labelSelector: "{}",
      ...range,
      step: 60,
      groupBy: ["service_name"],
    });
    assert.equal(grouped.series.length, totals.size);
    for (const s of grouped.series) {
      assert.equal(s.labels.length, 1);
      assert.equal(s.labels[0]!.name, "service_name");
      const sum = s.points.reduce((acc, p) => acc + p.value, 0);
      assert.equal(sum, totals.get(s.labels[0]!.value), `series of ${s.labels[0]!.value}`);
      for (const p of s.points)
        assert.equal(Number(p.timestamp - BigInt(START)) % 60_000, 0, "aligned to step");
    }
    const all = await client.selectSeries({
      profileTypeID: javaType,
      labelSelector: "{}",
      ...range,
      step: 60,
    });
    assert.equal(all.series.length, 1);
    assert.deepEqual(all.series[0]!.labels, []);
    const fgAll = await client.selectMergeStacktraces({
      profileTypeID: javaType,
      labelSelector: "{}",
      ...range,
    });
    assert.equal(
      all.series[0]!.points.reduce((acc, p) => acc + p.value, 0),
      Number(fgAll.flamegraph!.total),
    );
    const top = await client.selectSeries({
      profileTypeID: javaType,
      labelSelector: "{}",
      ...range,
      step: 60,
      groupBy: ["service_name"],
      limit: 1n,
    });
    assert.equal(top.series.length, 1);
    const best = [...totals.entries()].sort((a, b) => b[1] - a[1])[0]![0];
    assert.equal(top.series[0]!.labels[0]!.value, best);
    const avg = await client.selectSeries({
      profileTypeID: javaType,
      labelSelector: '{service_name="java-copy"}',
      ...range,
      step: 60,
      aggregation: TimeSeriesAggregationType.AVERAGE,
    });
    assert.equal(
      avg.series[0]!.points.reduce((acc, p) => acc + p.value, 0),
      totals.get("java-copy"),
    );
  });

  it("stack trace (call site) and span selectors", async () => {
    const [javaType] = await profileTypesOf("java-copy");
    const base = {
      profileTypeID: javaType!,
      labelSelector: '{service_name="java-copy"}',
      start: BigInt(START),
      end: BigInt(endMs),
      maxNodes: MAX_NODES,
    };
    const whole = toFlameGraph((await client.selectMergeStacktraces(base)).flamegraph);
    const nodes = decodeFlameGraph(whole);
    // A depth-2 node: its root-first path is the call site.
    const target = nodes.filter((n) => n.depth === 2).sort((a, b) => b.total - a.total)[0]!;
    const callSite = target.path.map((name) => ({ name }));
    const selected = toFlameGraph(
      (await client.selectMergeStacktraces({ ...base, stackTraceSelector: { callSite } })).flamegraph,
    );
    assert.equal(selected.total, target.total);
    for (const node of decodeFlameGraph(selected)) {
      if (node.depth === 0) continue;
      const prefix = target.path.slice(0, Math.min(node.path.length, target.path.length));
      assert.deepEqual(
        node.path.slice(0, prefix.length),
        prefix,
        `${node.path.join(";")} is under the call site`,
      );
    }
    const series = await client.selectSeries({ ...base, step: 3600, stackTraceSelector: { callSite } });
    assert.equal(
      series.series.reduce((acc, s) => acc + s.points.reduce((a, p) => a + p.value, 0), 0),
      target.total,
    );

    const spanType = typeFor(await profileTypesOf("span-svc"), "cpu:nanoseconds")!;
    const span = await client.selectMergeSpanProfile({
      profileTypeID: spanType,
      labelSelector: '{service_name="span-svc"}',
      spanSelector: ["0000000000000239"],
      start: BigInt(START),
      end: BigInt(endMs),
    });
    assert.equal(span.flamegraph!.total, 710_000_000n);
    const viaStacktraces = await client.selectMergeStacktraces({
      profileTypeID: spanType,
      labelSelector: '{service_name="span-svc"}',
      spanSelector: ["0000000000000239"],
      start: BigInt(START),
      end: BigInt(endMs),
      format: ProfileFormat.TREE,
    });
    assert.equal(decodeTreeBytes(viaStacktraces.tree).totals()[0], 710_000_000);
    const none = await client.selectMergeSpanProfile({
      profileTypeID: spanType,
      labelSelector: '{service_name="span-svc"}',
      spanSelector: ["00000000000000ff"],
      start: BigInt(START),
      end: BigInt(endMs),
    });
    assert.equal(none.flamegraph!.total, 0n);
  });

  it("Diff of a selection against itself has no change; ticks are each side's total", async () => {
    const [javaType] = await profileTypesOf("java-copy");
    const side = create(SelectMergeStacktracesRequestSchema, {
      profileTypeID: javaType!,
      labelSelector: '{service_name="java-copy"}',
      start: BigInt(START),
      end: BigInt(endMs),
      maxNodes: 512n,
    });
    const res = await client.diff({ left: side, right: side });
    const fg = res.flamegraph!;
    const total = BigInt(
      tops.get("pprof/pyroscope-java-asyncprofiler-cpu.pb.gz")!.bySampleType.get("cpu:nanoseconds")!.total,
    );
    assert.equal(fg.leftTicks, total);
    assert.equal(fg.rightTicks, total);
    assert.equal(fg.total, 2n * total);
    assert.equal(fg.names[0], "total");
    for (const level of fg.levels) {
      for (let i = 0; i < level.values.length; i += 7) {
        const v = level.values;
        assert.equal(v[i], v[i + 3]);
        assert.equal(v[i + 1], v[i + 4]);
        assert.equal(v[i + 2], v[i + 5]);
      }
    }
    const params = new URLSearchParams({
      leftQuery: `${javaType}{service_name="java-copy"}`,
      rightQuery: `${javaType}{service_name="java-copy"}`,
      leftFrom: "1",
      leftUntil: String(endMs),
      rightFrom: "1",
      rightUntil: String(endMs),
      "max-nodes": "512",
    });
    const http = await fetch(`${kiln.url}/pyroscope/render-diff?${params}`, {
      headers: { "X-Scope-OrgID": TENANT },
    });
    assert.equal(http.status, 200);
    const body = (await http.json()) as {
      metadata: { format: string };
      leftTicks: number;
      rightTicks: number;
      flamebearer: { numTicks: number };
      timeline: null;
    };
    assert.equal(body.metadata.format, "double");
    assert.equal(BigInt(body.leftTicks), total);
    assert.equal(BigInt(body.rightTicks), total);
    assert.equal(body.timeline, null);
    const mismatch = new URLSearchParams({
      leftQuery: `${javaType}{}`,
      rightQuery: "memory:alloc_space:bytes:space:bytes{}",
    });
    const bad = await fetch(`${kiln.url}/pyroscope/render-diff?${mismatch}`, {
      headers: { "X-Scope-OrgID": TENANT },
    });
    assert.equal(bad.status, 400);
  });

  it("SelectMergeProfile is a plain pprof that pprof-format decodes", async () => {
    const path = "pprof/pyroscope-go-heap.pb.gz";
    const types = await profileTypesOf(serviceOf(path));
    const profileTypeID = typeFor(types, "inuse_space:bytes")!;
    const res = await client.selectMergeProfile({
      profileTypeID,
      labelSelector: `{service_name="${serviceOf(path)}"}`,
      start: BigInt(START),
      end: BigInt(endMs),
    });
    const profile = Profile.decode(toBinary(ProfileSchema, res));
    const strings = profile.stringTable.strings;
    assert.equal(profile.sampleType.length, 1);
    assert.equal(strings[Number(profile.sampleType[0]!.type)], "inuse_space");
    assert.equal(strings[Number(profile.sampleType[0]!.unit)], "bytes");
    let total = 0n;
    for (const sample of profile.sample) total += BigInt(sample.value[0]!);
    assert.equal(total, tops.get(path)!.bySampleType.get("inuse_space:bytes")!.total);
  });

  it("label names, values, series and profile types list what was pushed", async () => {
    const range = { start: BigInt(START), end: BigInt(endMs) };
    const names = (await client.labelNames(range)).names;
    for (const name of ["__name__", "__profile_type__", "service_name", "pyroscope_spy"])
      assert.ok(names.includes(name), name);
    const javaNames = (await client.labelNames({ matchers: ['{service_name="java-copy"}'], ...range })).names;
    assert.ok(javaNames.includes("env"));
    const services = (await client.labelValues({ name: "service_name", ...range })).names;
    for (const path of manifestFiles) assert.ok(services.includes(serviceOf(path)), path);
    assert.ok(services.includes("java-copy"));
    assert.ok(!services.includes("other-tenant-svc"), "other tenant's service is invisible");
    const envs = (
      await client.labelValues({ name: "env", matchers: ['{service_name="java-copy"}'], ...range })
    ).names;
    assert.deepEqual(envs, ["dev"]);
    const types = (await client.profileTypes(range)).profileTypes;
    const ids = types.map((t) => t.ID);
    assert.ok(ids.includes("memory:inuse_space:bytes:space:bytes"));
    const java = types.find((t) => t.ID === "process_cpu:cpu:nanoseconds:cpu:nanoseconds")!;
    assert.equal(java.name, "process_cpu");
    assert.equal(java.sampleType, "cpu");
    assert.equal(java.sampleUnit, "nanoseconds");
    const series = await client.series({
      matchers: ['{service_name="java-copy"}'],
      labelNames: [],
      ...range,
    });
    assert.equal(series.labelsSet.length, 1);
    const labels = Object.fromEntries(series.labelsSet[0]!.labels.map((l) => [l.name, l.value]));
    assert.equal(labels.env, "dev");
    assert.equal(labels.__profile_type__, "process_cpu:cpu:nanoseconds:cpu:nanoseconds");
    const labelValues = await fetch(
      `${kiln.url}/pyroscope/label-values?label=__name__&from=1&until=${endMs}`,
      {
        headers: { "X-Scope-OrgID": TENANT },
      },
    );
    assert.deepEqual(await labelValues.json(), ids);
    const missing = await fetch(`${kiln.url}/pyroscope/label-values`, {
      headers: { "X-Scope-OrgID": TENANT },
    });
    assert.equal(missing.status, 400);
    const stats = await client.getProfileStats({});
    assert.equal(stats.dataIngested, true);
    assert.ok(stats.oldestProfileTime > 0n && stats.oldestProfileTime <= stats.newestProfileTime);
  });

  it("a malformed selector is invalid_argument naming the column, on RPCs and render", async () => {
    await assert.rejects(
      client.selectMergeStacktraces({
        profileTypeID: "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
        labelSelector: '{service_name="a", foo=}',
      }),
      (err: unknown) => {
        assert.ok(err instanceof ConnectError);
        assert.equal(err.code, Code.InvalidArgument);
        assert.match(err.rawMessage, /column 24/);
        return true;
      },
    );
    await assert.rejects(client.labelNames({ matchers: ["{a=~"] }), (err: unknown) => {
      assert.ok(err instanceof ConnectError && err.code === Code.InvalidArgument);
      return true;
    });
    await assert.rejects(
      client.selectMergeStacktraces({ profileTypeID: "nope", labelSelector: "{}" }),
      (err: unknown) => {
        assert.ok(err instanceof ConnectError && err.code === Code.InvalidArgument);
        return true;
      },
    );
    const dot = client.selectMergeStacktraces({
      profileTypeID: "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
      labelSelector: "{a=}",
      format: ProfileFormat.DOT,
    });
    await assert.rejects(
      dot,
      (err: unknown) => err instanceof ConnectError && err.code === Code.InvalidArgument,
    );
    const res = await fetch(
      `${kiln.url}/pyroscope/render?${new URLSearchParams({ query: "process_cpu:cpu:nanoseconds:cpu:nanoseconds{a=}" })}`,
      { headers: { "X-Scope-OrgID": TENANT } },
    );
    assert.equal(res.status, 400);
    const body = (await res.json()) as { code: string; message: string };
    assert.equal(body.code, "invalid_argument");
    assert.match(body.message, /column/);
  });

  it("tenants are isolated", async () => {
    const other = createClient(QuerierService, transports(kiln.url, OTHER_TENANT)["Connect JSON"]!);
    const range = { start: BigInt(START), end: BigInt(endMs) };
    assert.deepEqual((await other.labelValues({ name: "service_name", ...range })).names, [
      "other-tenant-svc",
    ]);
    const fg = await other.selectMergeStacktraces({
      profileTypeID: "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
      labelSelector: '{service_name="java-copy"}',
      ...range,
    });
    assert.equal(fg.flamegraph!.total, 0n);
    const nobody = createClient(QuerierService, transports(kiln.url, "tenant-c").gRPC!);
    assert.equal((await nobody.profileTypes(range)).profileTypes.length, 0);
    assert.equal((await nobody.getProfileStats({})).dataIngested, false);
    const anonymous = createClient(
      QuerierService,
      createConnectTransport({ baseUrl: kiln.url, httpVersion: "1.1" }),
    );
    await assert.rejects(anonymous.profileTypes(range), (err: unknown) => {
      assert.ok(err instanceof ConnectError && err.code === Code.Unauthenticated);
      return true;
    });
  });

  it("settings, version and feature flags", async () => {
    const t = transports(kiln.url, TENANT)["Connect JSON"]!;
    const settings = createClient(SettingsService, t);
    assert.deepEqual((await settings.get({})).settings, []);
    const set = await settings.set({ setting: { name: "pluginSettings", value: '{"a":1}', modifiedAt: 0n } });
    assert.equal(set.setting!.name, "pluginSettings");
    assert.ok(set.setting!.modifiedAt > 0n);
    const got = await settings.get({});
    assert.equal(got.settings.length, 1);
    assert.equal(got.settings[0]!.value, '{"a":1}');
    await assert.rejects(
      settings.set({ setting: { name: "pluginSettings", value: "old", modifiedAt: 1n } }),
      (err: unknown) => err instanceof ConnectError && err.code === Code.FailedPrecondition,
    );
    const otherSettings = createClient(SettingsService, transports(kiln.url, OTHER_TENANT).gRPC!);
    assert.deepEqual((await otherSettings.get({})).settings, []);
    await settings.delete({ name: "pluginSettings" });
    assert.deepEqual((await settings.get({})).settings, []);
    const version = await createClient(Version, t).version({});
    assert.equal(version.QuerierAPI, 1n);
    const flags = await createClient(FeatureFlagsService, t).getFeatureFlags({});
    assert.ok(flags.featureFlags.length > 0);
  });
});
