/**
 * OTLP profiles ingest against the real server (wire reference §7): OTLP/HTTP with protobuf,
 * JSON and gzip bodies, and gRPC over h2c, each checked by reading the stored blocks back.
 * The real OpenTelemetry eBPF profiler request must store exactly what Pyroscope's golden
 * conversion holds for service `unknown_service`.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { fromBinary, toBinary, toJsonString } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { openBlock } from "../src/block/block-reader.ts";
import { resolveProfileSamples } from "../src/block/inspect.ts";
import { richExpectedTotals, richRequest, spanIdHex } from "../src/formats/otlp/test-fixtures.ts";
import {
  ExportProfilesServiceRequestSchema,
  ProfilesService,
} from "../src/gen/opentelemetry/proto/collector/profiles/v1development/profiles_service_pb.js";
import { SqliteMetastore } from "../src/metastore/sqlite.ts";
import { getLabel } from "../src/model/labels.ts";
import { FsObjectStore } from "../src/objstore/fs-store.ts";
import { testdata } from "../src/testing/testdata.ts";
import { acceptAnyTime, type InProcessKiln, startInProcess } from "./helpers/kiln.ts";
import { readStored } from "./helpers/stored.ts";

const otlpPath = "/v1development/profiles";
const corpus = testdata("otlp");
const golden = testdata("golden");

/** Stack (root;…;leaf function names) → summed value, for one service and profile type. */
async function storedStacks(
  dataDir: string,
  service: string,
  profileType: string,
): Promise<Map<string, number>> {
  const metastore = await SqliteMetastore.open(dataDir);
  const store = await FsObjectStore.open(join(dataDir, "objects"));
  const stacks = new Map<string, number>();
  try {
    for (const meta of await metastore.listBlocks()) {
      const block = await openBlock(store, meta.objectKey);
      for (const ds of block.datasets) {
        if (ds.service !== service) continue;
        const [index, profiles, symbols] = await Promise.all([
          block.readIndex(ds),
          block.readProfiles(ds),
          block.readSymbols(ds),
        ]);
        for (let p = 0; p < profiles.profileCount; p++) {
          if (index.seriesProfileType[profiles.seriesIndex[p]!] !== profileType) continue;
          for (const s of resolveProfileSamples(symbols, profiles, p)) {
            const key = s.stack.join(";");
            stacks.set(key, (stacks.get(key) ?? 0) + s.value);
          }
        }
      }
    }
  } finally {
    await store.close();
    await metastore.close();
  }
  return stacks;
}

interface GoldenProfile {
  samples: { locations: { lines: string[] }[]; values: string }[];
}

/** A golden file's samples as stack (root first; function names) → summed value, and its total. */
function goldenStacks(file: string): { stacks: Map<string, number>; total: bigint } {
  const profile = JSON.parse(readFileSync(join(golden.dir!, file), "utf8")) as GoldenProfile;
  const stacks = new Map<string, number>();
  let total = 0n;
  for (const sample of profile.samples) {
    // Locations are leaf first; a line reads `name[system name]@file:line`.
    const names = sample.locations
      .flatMap((loc) => loc.lines.map((line) => line.slice(0, line.indexOf("["))))
      .reverse();
    const key = names.join(";");
    stacks.set(key, (stacks.get(key) ?? 0) + Number(sample.values));
    total += BigInt(sample.values);
  }
  return { stacks, total };
}

const cpuType = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
const offCpuType = "off_cpu:off_cpu:nanoseconds::";

async function post(
  kiln: InProcessKiln,
  body: Uint8Array | string,
  headers: Record<string, string>,
): Promise<{ status: number; contentType: string | null; body: Uint8Array }> {
  const res = await fetch(`${kiln.url}${otlpPath}`, { method: "POST", body, headers });
  return {
    status: res.status,
    contentType: res.headers.get("content-type"),
    body: new Uint8Array(await res.arrayBuffer()),
  };
}

describe("OTLP eBPF profiler request", { skip: corpus.skip || golden.skip }, () => {
  const bin = () => readFileSync(join(corpus.dir!, "pyroscope-otel-ebpf-profile.pb.bin"));
  const json = () => readFileSync(join(corpus.dir!, "pyroscope-otel-ebpf-profile.pb.json"));

  const variants: [string, (kiln: InProcessKiln) => Promise<void>][] = [
    [
      "OTLP/HTTP protobuf",
      async (kiln) => {
        const res = await post(kiln, bin(), { "content-type": "application/x-protobuf" });
        assert.equal(res.status, 200, new TextDecoder().decode(res.body));
        assert.equal(res.contentType, "application/x-protobuf");
        assert.equal(res.body.byteLength, 0, "empty ExportProfilesServiceResponse");
      },
    ],
    [
      "OTLP/HTTP JSON",
      async (kiln) => {
        const res = await post(kiln, json(), { "content-type": "application/json" });
        assert.equal(res.status, 200, new TextDecoder().decode(res.body));
        assert.equal(res.contentType, "application/x-protobuf", "protobuf answer even for JSON");
        assert.equal(res.body.byteLength, 0);
      },
    ],
    [
      "OTLP/HTTP gzip protobuf",
      async (kiln) => {
        const res = await post(kiln, gzipSync(bin()), {
          "content-type": "application/protobuf",
          "content-encoding": "gzip",
        });
        assert.equal(res.status, 200, new TextDecoder().decode(res.body));
      },
    ],
    [
      "gRPC (h2c)",
      async (kiln) => {
        const client = createClient(ProfilesService, createGrpcTransport({ baseUrl: kiln.url }));
        const response = await client.export(fromBinary(ExportProfilesServiceRequestSchema, bin()));
        assert.equal(response.partialSuccess, undefined);
      },
    ],
  ];

  for (const [name, send] of variants) {
    test(name, async () => {
      const kiln = await startInProcess({ ...acceptAnyTime });
      try {
        await send(kiln);
        const stored = await readStored(kiln.dataDir, { service: "unknown_service" });
        const cpu = goldenStacks("pyroscope-otel-ebpf-cpu.expected.json");
        const offCpu = goldenStacks("pyroscope-otel-ebpf-offcpu.expected.json");
        assert.equal(stored.totals.get(cpuType), cpu.total);
        assert.equal(stored.totals.get(offCpuType), offCpu.total);
        assert.deepEqual(await storedStacks(kiln.dataDir, "unknown_service", cpuType), cpu.stacks);
        assert.deepEqual(await storedStacks(kiln.dataDir, "unknown_service", offCpuType), offCpu.stacks);
        // Resource and (resolved key_strindex) sample attributes are series labels.
        const series = stored.series.find((s) => getLabel(s, "__profile_type__") === offCpuType)!;
        assert.ok(getLabel(series, "process.pid"));
        assert.ok(getLabel(series, "thread.name"));
        assert.equal(getLabel(series, "__otel__"), undefined);
        // Processes with an executable name are their own service.
        const containerd = await readStored(kiln.dataDir, { service: "unknown_service:containerd" });
        assert.ok(containerd.profiles > 0);
      } finally {
        await kiln.stop();
      }
    });
  }
});

describe("OTLP profiles built in the test", () => {
  let kiln: InProcessKiln;
  before(async () => {
    kiln = await startInProcess({ ...acceptAnyTime, multitenancy: true });
  });
  after(async () => kiln?.stop());

  const nowNanos = () => BigInt(Date.now()) * 1_000_000n;

  async function totalsOf(tenant: string): Promise<Map<string, number>> {
    const totals = new Map<string, number>();
    for (const service of ["shop", "checkout", "cart"]) {
      const stored = await readStored(kiln.dataDir, { tenant, service });
      for (const [type, total] of stored.totals) totals.set(`${service} ${type}`, Number(total));
    }
    return totals;
  }

  test("every table, attribute type, link and the service split, over HTTP and gRPC", async () => {
    const body = toBinary(ExportProfilesServiceRequestSchema, richRequest(nowNanos()));
    const res = await post(kiln, body, { "content-type": "application/x-protobuf", "x-scope-orgid": "http" });
    assert.equal(res.status, 200, new TextDecoder().decode(res.body));
    assert.deepEqual(await totalsOf("http"), richExpectedTotals);

    const client = createClient(ProfilesService, createGrpcTransport({ baseUrl: kiln.url }));
    await client.export(richRequest(nowNanos()), { headers: { "x-scope-orgid": "grpc" } });
    assert.deepEqual(await totalsOf("grpc"), richExpectedTotals);

    const shop = await readStored(kiln.dataDir, { tenant: "http", service: "shop" });
    const cpuSeries = shop.series.filter((s) => getLabel(s, "__name__") === "process_cpu");
    assert.equal(cpuSeries.length, 3, "split by the sample labels");
    const labelled = cpuSeries.find((s) => getLabel(s, "thread.id") === "42")!;
    assert.equal(getLabel(labelled, "via_strindex"), "resolved-value");
    assert.equal(getLabel(labelled, "tags"), "one");
    assert.equal(getLabel(labelled, "team"), "platform");
    assert.equal(getLabel(labelled, "flag"), undefined);
    for (const s of cpuSeries)
      assert.equal(getLabel(s, "span_id"), undefined, "span ids are not series labels");

    // The span id went to the span column.
    const metastore = await SqliteMetastore.open(kiln.dataDir);
    const store = await FsObjectStore.open(join(kiln.dataDir, "objects"));
    try {
      const spans: bigint[] = [];
      for (const meta of await metastore.listBlocks()) {
        const block = await openBlock(store, meta.objectKey);
        for (const ds of block.datasets) {
          if (ds.tenant !== "http" || ds.service !== "shop") continue;
          const [profiles, symbols] = await Promise.all([block.readProfiles(ds), block.readSymbols(ds)]);
          for (let p = 0; p < profiles.profileCount; p++)
            for (const s of resolveProfileSamples(symbols, profiles, p))
              if (s.spanId !== 0n) spans.push(s.spanId);
        }
      }
      assert.deepEqual(spans, [BigInt(`0x${spanIdHex}`)]);
    } finally {
      await store.close();
      await metastore.close();
    }
  });

  test("JSON with hex ids", async () => {
    const jsonText = toJsonString(ExportProfilesServiceRequestSchema, richRequest(nowNanos())).replace(
      /"spanId":"[^"]+"/,
      `"spanId":"${spanIdHex}"`,
    );
    const res = await post(kiln, jsonText, { "content-type": "application/json", "x-scope-orgid": "json" });
    assert.equal(res.status, 200, new TextDecoder().decode(res.body));
    assert.deepEqual(await totalsOf("json"), richExpectedTotals);
  });

  test("out-of-range indices → 400 over HTTP, InvalidArgument over gRPC; nothing stored", async () => {
    const request = richRequest(nowNanos());
    request.resourceProfiles[0]!.scopeProfiles[0]!.profiles[0]!.samples[0]!.stackIndex = 42;
    const res = await post(kiln, toBinary(ExportProfilesServiceRequestSchema, request), {
      "content-type": "application/x-protobuf",
      "x-scope-orgid": "bad",
    });
    assert.equal(res.status, 400);
    assert.match(res.contentType ?? "", /^text\/plain/);
    assert.match(new TextDecoder().decode(res.body), /stack_table index 42 out of range/);

    const client = createClient(ProfilesService, createGrpcTransport({ baseUrl: kiln.url }));
    await assert.rejects(
      client.export(request, { headers: { "x-scope-orgid": "bad" } }),
      (err) =>
        err instanceof ConnectError && err.code === Code.InvalidArgument && /stack_table/.test(err.message),
    );
    assert.equal((await readStored(kiln.dataDir, { tenant: "bad" })).profiles, 0);
  });

  test("HTTP statuses: 415, 401, 413 and a request without a dictionary", async () => {
    const body = toBinary(ExportProfilesServiceRequestSchema, richRequest(nowNanos()));
    const text = (r: { body: Uint8Array }) => new TextDecoder().decode(r.body);
    const unsupported = await post(kiln, body, { "content-type": "text/plain", "x-scope-orgid": "t" });
    assert.equal(unsupported.status, 415, text(unsupported));
    const badEncoding = await post(kiln, body, {
      "content-type": "application/x-protobuf",
      "content-encoding": "br",
      "x-scope-orgid": "t",
    });
    assert.equal(badEncoding.status, 415, text(badEncoding));
    const noTenant = await post(kiln, body, { "content-type": "application/x-protobuf" });
    assert.equal(noTenant.status, 401, text(noTenant));
    const noDictionary = richRequest(nowNanos());
    noDictionary.dictionary = undefined;
    const missing = await post(kiln, toBinary(ExportProfilesServiceRequestSchema, noDictionary), {
      "content-type": "application/x-protobuf",
      "x-scope-orgid": "t",
    });
    assert.equal(missing.status, 400);
    assert.match(text(missing), /dictionary/);
    const garbage = await post(kiln, "{not json", {
      "content-type": "application/json",
      "x-scope-orgid": "t",
    });
    assert.equal(garbage.status, 400);
  });

  test("413 for a gzip body that inflates past max_body_bytes", async () => {
    const small = await startInProcess({ ...acceptAnyTime, maxBodyBytes: 4096 });
    try {
      const bomb = gzipSync(new Uint8Array(1024 * 1024));
      const res = await post(small, bomb, {
        "content-type": "application/x-protobuf",
        "content-encoding": "gzip",
      });
      assert.equal(res.status, 413, new TextDecoder().decode(res.body));
      const large = await post(small, new Uint8Array(8192), { "content-type": "application/x-protobuf" });
      assert.equal(large.status, 413);
    } finally {
      await small.stop();
    }
  });
});
