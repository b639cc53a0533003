import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { getLabel } from "../../model/labels.ts";
import type { NormalizedProfile } from "../../model/profile.ts";
import { profileTypeId } from "../../model/profile-type.ts";
import { readManifest } from "../../testing/manifest.ts";
import { testdata, testdataFile } from "../../testing/testdata.ts";
import { defaultIngestLimits, type IngestLimits } from "../normalize/limits.ts";
import {
  IngestHttpError,
  type IngestHttpRequest,
  parseIngestRequest,
  selectIngestFormat,
} from "./ingest-http.ts";

// Fixture timestamps are years old: widen the accepted window (wire reference §2.8).
const limits: IngestLimits = { ...defaultIngestLimits, rejectOlderThanMs: 0, creationGracePeriodMs: 0 };
const nowMs = Date.UTC(2026, 7, 1);
const text = (s: string) => new TextEncoder().encode(s);
const pprofCorpus = testdata("pprof");

async function ingest(
  query: string,
  body: Uint8Array,
  contentType?: string,
  extra: Partial<IngestHttpRequest> = {},
) {
  return (
    await parseIngestRequest({
      query: new URLSearchParams(query),
      contentType,
      body,
      limits,
      nowMs,
      ...extra,
    })
  ).profiles;
}

async function assertStatus(
  fn: () => Promise<unknown>,
  status: number,
  message: RegExp,
  code?: string,
): Promise<void> {
  await assert.rejects(fn, (err: unknown) => {
    assert.ok(err instanceof IngestHttpError, `want IngestHttpError, got ${String(err)}`);
    assert.equal(err.status, status, err.message);
    assert.match(err.message, message);
    if (code) assert.equal(err.code, code);
    return true;
  });
}

/** Sum of values per profile type ID over all profiles (series split by sample labels). */
function totalsByType(profiles: NormalizedProfile[]): Map<string, number> {
  const totals = new Map<string, number>();
  for (const p of profiles) {
    const id = profileTypeId(p.profileType);
    let sum = 0;
    for (const v of p.values) sum += v;
    totals.set(id, (totals.get(id) ?? 0) + sum);
  }
  return totals;
}

function goMultipart(boundary: string, parts: ReadonlyArray<readonly [string, string, Uint8Array]>) {
  const chunks: Buffer[] = [];
  parts.forEach(([field, filename, data], i) => {
    chunks.push(Buffer.from(`${i === 0 ? "" : "\r\n"}--${boundary}\r\n`));
    chunks.push(Buffer.from(`Content-Disposition: form-data; name="${field}"; filename="${filename}"\r\n`));
    chunks.push(Buffer.from("Content-Type: application/octet-stream\r\n\r\n"), Buffer.from(data));
  });
  chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  return {
    body: new Uint8Array(Buffer.concat(chunks)),
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}

describe("selectIngestFormat (§2.3 order)", () => {
  it("picks the first matching rule", async () => {
    assert.equal(selectIngestFormat("pprof", "binary/octet-stream+trie"), "trie");
    assert.equal(selectIngestFormat(null, "binary/octet-stream+tree"), "tree");
    assert.equal(selectIngestFormat("pprof", "multipart/form-data; boundary=x"), "pprof");
    assert.equal(selectIngestFormat(null, "multipart/form-data; boundary=x"), "multipart");
    assert.equal(selectIngestFormat("collapsed", undefined), "folded");
    assert.equal(selectIngestFormat("lines", "multipart/form-data"), "lines");
  });
});

describe("parseIngestRequest: real client shapes", () => {
  it("raw gzipped pprof with format=pprof (@pyroscope/nodejs)", { skip: pprofCorpus.skip }, async () => {
    const body = readFileSync(testdataFile("pprof/pyroscope-nodejs-wall.pb.gz"));
    const from = Math.floor(nowMs / 1000) - 10;
    const profiles = await ingest(
      `name=demo-app{region=eu}&spyName=nodespy&from=${from}&until=${from + 10}&format=pprof`,
      body,
      "application/octet-stream",
    );
    assert.ok(profiles.length >= 2);
    for (const p of profiles) {
      assert.equal(getLabel(p.seriesLabels, "service_name"), "demo-app");
      assert.equal(getLabel(p.seriesLabels, "__name__"), "wall");
      assert.equal(getLabel(p.seriesLabels, "pyroscope_spy"), "nodespy");
      assert.equal(getLabel(p.seriesLabels, "region"), "eu");
      assert.equal(getLabel(p.seriesLabels, "__delta__"), undefined);
      // The pprof has its own time_nanos (2022), which wins over `from`.
      assert.equal(p.timeNanos, 1652179630803000064n);
    }
    const manifest = readManifest().get("pprof/pyroscope-nodejs-wall.pb.gz")!;
    const totals = totalsByType(profiles);
    assert.equal(
      totals.get("wall:samples:count:wall:microseconds"),
      Number(manifest.totals.get("samples:count")),
    );
    assert.equal(
      totals.get("wall:wall:microseconds:wall:microseconds"),
      Number(manifest.totals.get("wall:microseconds")),
    );
    assert.equal(
      getLabel(profiles[0]!.seriesLabels, "__profile_type__")?.startsWith("wall:"),
      true,
      "private labels are derived at normalization",
    );
  });

  it("multipart without format, as the Go SDK sends it, with sample_type_config and ns times", {
    skip: pprofCorpus.skip,
  }, async () => {
    const pprof = readFileSync(testdataFile("pprof/pyroscope-go-cpu-labels.pb.gz"));
    const config = text('{"samples":{"units":"samples","display-name":"cpu","sampled":true}}');
    const { body, contentType } = goMultipart(
      "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f",
      [
        ["profile", "profile.pprof", pprof],
        ["sample_type_config", "sample_type_config.json", config],
      ],
    );
    const profiles = await ingest(
      "name=go-app.cpu{env=prod,__session_id__=abc,__secret__=x}&from=1654798932062349000&until=1654798942062349000&spyName=gospy",
      body,
      contentType,
    );
    assert.ok(profiles.length > 0);
    for (const p of profiles) {
      // pprof path: service_name is the whole app name, suffix included.
      assert.equal(getLabel(p.seriesLabels, "service_name"), "go-app.cpu");
      assert.equal(getLabel(p.seriesLabels, "__name__"), "process_cpu");
      assert.equal(getLabel(p.seriesLabels, "pyroscope_spy"), "gospy");
      assert.equal(getLabel(p.seriesLabels, "env"), "prod");
      assert.equal(getLabel(p.seriesLabels, "__session_id__"), "abc");
      assert.equal(getLabel(p.seriesLabels, "__secret__"), undefined);
    }
    const manifest = readManifest().get("pprof/pyroscope-go-cpu-labels.pb.gz")!;
    const totals = totalsByType(profiles);
    assert.equal(
      totals.get("process_cpu:cpu:nanoseconds:cpu:nanoseconds"),
      Number(manifest.totals.get("cpu:nanoseconds")),
    );
    assert.equal(
      totals.get("process_cpu:samples:count:cpu:nanoseconds"),
      Number(manifest.totals.get("samples:count")),
    );
  });

  it("folded by default: suffix → profile type, sampleRate → nanoseconds, from in ms", async () => {
    const from = nowMs - 5_000;
    const profiles = await ingest(
      `name=shop.api.cpu{env=staging}&from=${from}&sampleRate=100&spyName=perf`,
      text("main;a 3\nmain;b 2\nmain;a 1\n"),
      "text/plain",
    );
    assert.equal(profiles.length, 1);
    const p = profiles[0]!;
    assert.equal(profileTypeId(p.profileType), "process_cpu:cpu:nanoseconds:cpu:nanoseconds");
    assert.equal(getLabel(p.seriesLabels, "service_name"), "shop.api");
    assert.equal(getLabel(p.seriesLabels, "__name__"), "process_cpu");
    assert.equal(getLabel(p.seriesLabels, "pyroscope_spy"), "perf");
    assert.equal(getLabel(p.seriesLabels, "env"), "staging");
    assert.equal(p.timeNanos, BigInt(from) * 1_000_000n);
    assert.deepEqual(
      totalsByType(profiles),
      new Map([["process_cpu:cpu:nanoseconds:cpu:nanoseconds", 60_000_000]]),
    );
  });

  it("folded with a service_name tag moves the app name to app_name", async () => {
    const [p] = await ingest("name=legacy.alloc_space{service_name=svc}", text("a;b 10\n"));
    assert.equal(getLabel(p!.seriesLabels, "service_name"), "svc");
    assert.equal(getLabel(p!.seriesLabels, "app_name"), "legacy");
    assert.equal(profileTypeId(p!.profileType), "memory:alloc_space:bytes::");
    assert.equal(getLabel(p!.seriesLabels, "pyroscope_spy"), "unknown");
  });

  it("lines format counts identical lines; ns `from` keeps its precision", async () => {
    const fromNanos = BigInt(nowMs) * 1_000_000n + 123_456n;
    const profiles = await ingest(
      `name=app.goroutines&format=lines&from=${fromNanos}`,
      text("a;b\na;b\na;c\n\n"),
    );
    assert.equal(profiles.length, 1);
    assert.equal(profiles[0]!.timeNanos, fromNanos);
    assert.deepEqual(totalsByType(profiles), new Map([["goroutine:goroutines:count::", 3]]));
  });

  it("pyspy/rbspy function names are rewritten with their file name", {
    skip: pprofCorpus.skip,
  }, async () => {
    const body = readFileSync(testdataFile("pprof/pyroscope-python-pyspy.pb"));
    const [p] = await ingest("name=py&format=pprof&spyName=rbspy", body);
    const names = p!.symbols.strings;
    assert.ok(
      names.some((s) => / /.test(s) && /\.py /.test(s)),
      "some `<file> <function>` names",
    );
  });

  it("accepts empty bodies and multipart without a profile part, storing nothing", async () => {
    assert.deepEqual(await ingest("name=a&format=pprof", new Uint8Array(0)), []);
    assert.deepEqual(await ingest("name=a", new Uint8Array(0)), []);
    const { body, contentType } = goMultipart("b", [["other", "x", text("1")]]);
    assert.deepEqual(await ingest("name=a", body, contentType), []);
    // Legacy exemplar upload with profile_id: dropped silently.
    assert.deepEqual(await ingest("name=a.cpu{profile_id=123}", text("a 1\n")), []);
  });
});

describe("parseIngestRequest: errors (§2.7)", () => {
  it("unparsable name → 400", async () => {
    await assertStatus(
      () => ingest("name=bad%20name", text("a 1")),
      400,
      /^name: invalid service name/,
      "invalid_argument",
    );
    await assertStatus(() => ingest("", text("a 1")), 400, /service name is required/);
  });

  it("unknown suffix on text formats → 400; the parse runs first", async () => {
    await assertStatus(
      () => ingest("name=my.app", text("a 1\n")),
      400,
      /^unknown profile type: app$/,
      "invalid_argument",
    );
    await assertStatus(
      () => ingest("name=my.app", text("a x y\n")),
      422,
      /not a non-negative integer/,
      "unknown",
    );
  });

  it("bad folded count → 422", async () => {
    await assertStatus(
      () => ingest("name=app", text("# comment line\na 1\n")),
      422,
      /folded line 1/,
      "unknown",
    );
  });

  it("format=pprof with a multipart body → 422 (fed whole to the pprof decoder)", async () => {
    const { body, contentType } = goMultipart("zz", [["profile", "profile.pprof", text("x")]]);
    await assertStatus(() => ingest("name=a&format=pprof", body, contentType), 422, /./, "unknown");
  });

  it("prev_profile, malformed multipart and bad sample_type_config → 422", async () => {
    const withPrev = goMultipart("b1", [
      ["profile", "profile.pprof", text("x")],
      ["prev_profile", "profile.pprof", text("y")],
    ]);
    await assertStatus(
      () => ingest("name=a", withPrev.body, withPrev.contentType),
      422,
      /unsupported client version/,
    );
    await assertStatus(
      () => ingest("name=a", text("--b2\r\nno end"), "multipart/form-data; boundary=b2"),
      422,
      /multipart/,
    );
    const badConfig = goMultipart("b3", [
      ["profile", "profile.pprof", text("x")],
      ["sample_type_config", "c.json", text("{not json")],
    ]);
    await assertStatus(
      () => ingest("name=a", badConfig.body, badConfig.contentType),
      422,
      /sample_type_config/,
    );
  });

  it("garbage pprof → 422; pprof validation failure → 422", { skip: pprofCorpus.skip }, async () => {
    await assertStatus(() => ingest("name=a&format=pprof", text("not a pprof at all")), 422, /./, "unknown");
    const body = readFileSync(testdataFile("pprof/pyroscope-nodejs-wall.pb.gz"));
    // Default window (1h): a 2022 profile is too old.
    await assertStatus(
      () => ingest("name=a&format=pprof", body, undefined, { limits: defaultIngestLimits }),
      422,
      /./,
      "unknown",
    );
  });

  it("text-path limits keep their code's status", async () => {
    const tight = { ...limits, maxProfileSamples: 1 };
    await assertStatus(
      () => ingest("name=a", text("a 1\nb 1\n"), undefined, { limits: tight }),
      400,
      /max_profile_samples/,
    );
  });

  it("body over max_body_bytes → 413", async () => {
    await assertStatus(
      () => ingest("name=a", text("a 1\n"), undefined, { limits: { ...limits, maxBodyBytes: 2 } }),
      413,
      /^request body too large/,
    );
  });

  it("formats not implemented yet → 422 with a clear message", async () => {
    await assertStatus(
      () => ingest("name=a", text("x"), "binary/octet-stream+trie"),
      422,
      /trie is not supported yet/,
    );
  });
});

const jfrCorpus = testdata("jfr");

describe("parseIngestRequest: JFR (§2.4.3)", () => {
  const from = Math.floor(nowMs / 1000) - 10;

  it("raw gzipped async-profiler JFR → one series per event kind, labelled per §2.2", {
    skip: jfrCorpus.skip,
  }, async () => {
    const body = readFileSync(testdataFile("jfr/pyroscope-kafka-cpu-lock0-alloc0.jfr.gz"));
    const profiles = await ingest(
      `name=kafka{env=prod,__secret=x}&format=jfr&spyName=javaspy&from=${from}&until=${from + 10}`,
      body,
      "application/octet-stream",
    );
    const totals = totalsByType(profiles);
    assert.deepEqual(Object.fromEntries([...totals].sort()), {
      "block:contentions:count:block:count": 435,
      "block:delay:nanoseconds:block:count": 100900692,
      "memory:alloc_in_new_tlab_bytes:bytes:space:bytes": 1598335640,
      "memory:alloc_in_new_tlab_objects:count:space:bytes": 7972,
      "memory:alloc_outside_tlab_bytes:bytes:space:bytes": 43715768,
      "memory:alloc_outside_tlab_objects:count:space:bytes": 2238,
      "mutex:contentions:count:mutex:count": 1773,
      "mutex:delay:nanoseconds:mutex:count": 3908034578,
      "process_cpu:cpu:nanoseconds:cpu:nanoseconds": 5820000000,
    });
    for (const p of profiles) {
      assert.equal(getLabel(p.seriesLabels, "service_name"), "kafka");
      assert.equal(getLabel(p.seriesLabels, "app_name"), undefined);
      assert.equal(getLabel(p.seriesLabels, "env"), "prod");
      assert.equal(getLabel(p.seriesLabels, "__secret"), undefined);
      assert.equal(getLabel(p.seriesLabels, "jfr_event"), "cpu");
      assert.equal(getLabel(p.seriesLabels, "pyroscope_spy"), "javaspy");
      assert.equal(getLabel(p.seriesLabels, "__delta__"), undefined);
      assert.equal(p.timeNanos, BigInt(from) * 1_000_000_000n);
      assert.equal(p.durationNanos, 10_000_000_000n);
    }
  });

  it("multipart jfr + labels parts: context labels split series; service_name tag moves the app name to app_name", {
    skip: jfrCorpus.skip,
  }, async () => {
    const jfr = readFileSync(testdataFile("jfr/pyroscope-dump1.jfr.gz"));
    const labels = readFileSync(testdataFile("jfr/pyroscope-dump1.labels.pb.gz"));
    const { body, contentType } = goMultipart("jfrboundary", [
      ["jfr", "jfr", jfr],
      ["labels", "labels", labels],
    ]);
    const profiles = await ingest(
      `name=app{service_name=svc}&format=jfr&sampleRate=50&from=${from}`,
      body,
      contentType,
    );
    const threads = new Set(profiles.map((p) => getLabel(p.seriesLabels, "thread_name") ?? ""));
    assert.deepEqual([...threads].sort(), [
      "",
      "pool-2-thread-1",
      "pool-2-thread-3",
      "pool-2-thread-5",
      "pool-2-thread-7",
    ]);
    for (const p of profiles) {
      assert.equal(getLabel(p.seriesLabels, "service_name"), "svc");
      assert.equal(getLabel(p.seriesLabels, "app_name"), "app");
      assert.equal(getLabel(p.seriesLabels, "jfr_event"), "itimer");
      assert.equal(getLabel(p.seriesLabels, "__name__"), "process_cpu");
    }
    // 2188 samples at sampleRate=50 → 20 ms each.
    assert.deepEqual(
      [...totalsByType(profiles)],
      [["process_cpu:cpu:nanoseconds:cpu:nanoseconds", 2188 * 2e7]],
    );

    // Without the labels part, the same samples land in one series.
    const bare = goMultipart("jfrboundary", [["jfr", "jfr", jfr]]);
    const unlabelled = await ingest(`name=app&format=jfr&from=${from}`, bare.body, bare.contentType);
    assert.equal(unlabelled.length, 1);
    assert.equal(getLabel(unlabelled[0]!.seriesLabels, "service_name"), "app");
  });

  it("bad JFR, a missing jfr part, bad gzip or bad labels → 422", async () => {
    await assertStatus(() => ingest("name=a&format=jfr", text("x")), 422, /too short/, "unknown");
    await assertStatus(
      () =>
        ingest(
          "name=a&format=jfr",
          text("definitely not a flight recording, but long enough to hold a chunk header."),
        ),
      422,
      /malformed JFR.*bad magic/,
      "unknown",
    );
    await assertStatus(() => ingest("name=a&format=jfr", new Uint8Array(0)), 422, /too short/);
    const noJfr = goMultipart("b", [["labels", "labels", text("xx")]]);
    await assertStatus(
      () => ingest("name=a&format=jfr", noJfr.body, noJfr.contentType),
      422,
      /jfr field is required/,
    );
    const badGzip = goMultipart("b", [["jfr", "jfr", Uint8Array.from([0x1f, 0x8b, 1, 2, 3])]]);
    await assertStatus(() => ingest("name=a&format=jfr", badGzip.body, badGzip.contentType), 422, /gzip/);
    const badLabels = goMultipart("b", [
      ["jfr", "jfr", text("FLR\0 not really")],
      ["labels", "labels", Uint8Array.from([0x0a, 0x7f])],
    ]);
    await assertStatus(
      () => ingest("name=a&format=jfr", badLabels.body, badLabels.contentType),
      422,
      /labels form field/,
    );
    await assertStatus(
      () => ingest("name=a&format=jfr", text("--x\r\n"), "multipart/form-data; boundary=x"),
      422,
      /./,
    );
  });
});

describe("speedscope, cpuprofile and perf-script uploads", () => {
  const schema = "https://www.speedscope.app/file-format-schema.json";
  const speedscope = (profiles: unknown[]) =>
    text(JSON.stringify({ $schema: schema, shared: { frames: [{ name: "a" }, { name: "b" }] }, profiles }));
  const sampled = (name: string, unit: string) => ({
    type: "sampled",
    name,
    unit,
    samples: [[0, 1], [0]],
    weights: [2, 1],
  });

  it("format selection: speedscope is rule 6, cpuprofile and perf-script are explicit only", () => {
    assert.equal(selectIngestFormat("speedscope", "multipart/form-data; boundary=x"), "speedscope");
    assert.equal(selectIngestFormat("cpuprofile", undefined), "cpuprofile");
    assert.equal(selectIngestFormat("perf-script", "multipart/form-data; boundary=x"), "perf-script");
    assert.equal(selectIngestFormat("jfr", undefined), "jfr");
    assert.equal(selectIngestFormat(null, "application/json"), "folded");
  });

  it("speedscope: labels as the text path plus profile_name; several profiles get the unit suffix", async () => {
    const profiles = await ingest(
      "name=svc{env=prod}&format=speedscope&spyName=rbspy&from=1700000000",
      speedscope([sampled("t", "milliseconds"), sampled("m", "bytes")]),
    );
    const seen = profiles.map((p) => [
      getLabel(p.seriesLabels, "__name__"),
      getLabel(p.seriesLabels, "service_name"),
      getLabel(p.seriesLabels, "profile_name"),
      getLabel(p.seriesLabels, "env"),
      getLabel(p.seriesLabels, "pyroscope_spy"),
      profileTypeId(p.profileType),
    ]);
    assert.deepEqual(seen, [
      ["wall", "svc", "t", "prod", "rbspy", "wall:wall:nanoseconds:cpu:nanoseconds"],
      ["memory", "svc", "m", "prod", "rbspy", "memory:samples:bytes::"],
    ]);
    assert.deepEqual(Object.fromEntries(totalsByType(profiles)), {
      "wall:wall:nanoseconds:cpu:nanoseconds": 3e6,
      "memory:samples:bytes::": 3,
    });
  });

  it("speedscope: every failure is 422, including an unknown suffix", async () => {
    await assertStatus(
      () => ingest("name=svc&format=speedscope", text("{")),
      422,
      /speedscope: not JSON/,
      "unknown",
    );
    await assertStatus(
      () => ingest("name=svc&format=speedscope", text(JSON.stringify({ $schema: "x" }))),
      422,
      /unknown schema/,
    );
    await assertStatus(
      () => ingest("name=my.app&format=speedscope", speedscope([sampled("t", "none")])),
      422,
      /unknown profile type: app/,
    );
    await assertStatus(
      () => ingest("name=&format=speedscope", text("{}")),
      400,
      /name: service name is required/,
    );
  });

  it("speedscope corpus: the invalid trace answers 422", { skip: testdata("speedscope").skip }, async () => {
    const body = readFileSync(testdataFile("speedscope/speedscope-invalid-incomplete-trace.json"));
    await assertStatus(() => ingest("name=svc&format=speedscope", body), 422, /still open/);
  });

  it("cpuprofile: process_cpu samples/count and cpu/nanoseconds, labels as the text path", async () => {
    const body = text(
      JSON.stringify({
        nodes: [
          { id: 1, callFrame: { functionName: "(root)" }, children: [2] },
          { id: 2, callFrame: { functionName: "f", url: "f.js" } },
        ],
        startTime: 0,
        endTime: 30,
        samples: [2, 2],
        timeDeltas: [0, 10],
      }),
    );
    const profiles = await ingest("name=node-app.cpu{env=x}&format=cpuprofile", body);
    assert.deepEqual(Object.fromEntries(totalsByType(profiles)), {
      "process_cpu:samples:count:cpu:nanoseconds": 2,
      "process_cpu:cpu:nanoseconds:cpu:nanoseconds": 30_000,
    });
    assert.equal(getLabel(profiles[0]!.seriesLabels, "service_name"), "node-app");
    await assertStatus(() => ingest("name=a&format=cpuprofile", text("{}")), 422, /cpuprofile: want `nodes`/);
    await assertStatus(() => ingest("name=a.alloc_space&format=cpuprofile", body), 400, /does not apply/);
  });

  it("perf-script: 1 per sample, the sampleRate rule; no samples → 422; unknown suffix → 400", async () => {
    const body = text("prog 1 1.0: cpu-clock:\n\t1 f (/p)\n\nprog 1 2.0: cpu-clock:\n\t1 f (/p)\n\n");
    const profiles = await ingest("name=prog&format=perf-script&sampleRate=1000", body);
    assert.deepEqual(Object.fromEntries(totalsByType(profiles)), {
      "process_cpu:cpu:nanoseconds:cpu:nanoseconds": 2e6,
    });
    await assertStatus(() => ingest("name=a&format=perf-script", text("# x\n")), 422, /no sample header/);
    await assertStatus(() => ingest("name=a.b&format=perf-script", body), 400, /unknown profile type: b/);
  });
});
