import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import {
  type ExportProfilesServiceRequest,
  ExportProfilesServiceRequestSchema,
} from "../../gen/opentelemetry/proto/collector/profiles/v1development/profiles_service_pb.js";
import { KeyValueSchema } from "../../gen/opentelemetry/proto/common/v1/common_pb.js";
import { defaultIngestLimits, type IngestLimits } from "../../ingest/normalize/limits.ts";
import { IngestHttpError } from "../../ingest/receivers/ingest-http.ts";
import { KilnError } from "../../model/errors.ts";
import { getLabel, type Labels } from "../../model/labels.ts";
import type { NormalizedProfile } from "../../model/profile.ts";
import { profileTypeId } from "../../model/profile-type.ts";
import { testdata } from "../../testing/testdata.ts";
import { otlpToPprofs } from "./convert.ts";
import { decodeContentEncoding, decodeOtlpBinary, decodeOtlpJson, otlpEncodingOf } from "./decode.ts";
import { profilesFromOtlp } from "./ingest.ts";
import { detectLegacySampleLayout } from "./legacy-layout.ts";
import { otlpHttpStatusOf } from "./receiver.ts";
import {
  attr,
  cpuPeriod,
  legacyRequestBytes,
  richCommonLabels,
  richExpectedTotals,
  richRequest,
  spanIdHex,
  traceIdHex,
} from "./test-fixtures.ts";

const nowMs = Date.UTC(2026, 0, 1);
const nowNanos = BigInt(nowMs) * 1_000_000n;
const limits: IngestLimits = { ...defaultIngestLimits };
const protobuf = "application/x-protobuf";

function ingest(request: ExportProfilesServiceRequest): Promise<NormalizedProfile[]> {
  return profilesFromOtlp({
    body: toBinary(ExportProfilesServiceRequestSchema, request),
    contentType: protobuf,
    limits,
    nowMs,
  });
}

function totalsOf(profiles: readonly NormalizedProfile[]): Map<string, number> {
  const totals = new Map<string, number>();
  for (const p of profiles) {
    const key = `${getLabel(p.seriesLabels, "service_name")} ${profileTypeId(p.profileType)}`;
    totals.set(key, (totals.get(key) ?? 0) + p.values.reduce((a, b) => a + b, 0));
  }
  return totals;
}

function expectInvalid(err: unknown, pattern: RegExp, reason?: string): true {
  assert.ok(err instanceof KilnError, `expected a KilnError, got ${String(err)}`);
  assert.equal(err.code, "invalid_argument");
  if (reason !== undefined) assert.equal(err.reason, reason);
  assert.match(err.message, pattern);
  return true;
}

describe("OTLP profiles conversion", () => {
  it("converts every dictionary table into the pprof", () => {
    const converted = otlpToPprofs(richRequest(nowNanos), nowMs);
    // cpu: shop + checkout + cart; off_cpu; alloc_space.
    assert.equal(converted.length, 5);
    const { pprof } = converted[0]!;
    const s = pprof.strings;
    assert.equal(s[pprof.sampleTypeStr[0]!], "cpu");
    assert.equal(s[pprof.sampleUnitStr[0]!], "nanoseconds");
    assert.equal(s[pprof.defaultSampleTypeStr], "cpu");
    assert.ok(pprof.hasPeriodType);
    assert.equal(s[pprof.periodTypeStr], "cpu");
    assert.equal(s[pprof.periodUnitStr], "nanoseconds");
    assert.equal(pprof.period, Number(cpuPeriod));
    assert.equal(pprof.timeNanos, nowNanos);
    assert.equal(pprof.durationNanos, 10_000_000_000n, "duration 0 → 10 s");

    // Locations in first-use order: stack 1 = [L1, L2], stack 2 = [L3, L2].
    assert.equal(pprof.locationCount, 3);
    assert.deepEqual([...pprof.locationId], [1, 2, 3]);
    assert.deepEqual([...pprof.locationAddress], [0x1100, 0x1200, 0x5000]);
    assert.deepEqual([...pprof.locationMappingPlus1], [1, 1, 0]);
    assert.deepEqual([...pprof.locationLineOffsets], [0, 2, 3, 3]);
    const fnName = (line: number) => s[pprof.functionNameStr[pprof.lineFunctionPlus1[line]! - 1]!];
    assert.deepEqual([0, 1, 2].map(fnName), ["bar", "foo", "main"], "inlined callee first");
    assert.deepEqual([...pprof.lineNumber], [31, 22, 12]);
    assert.equal(pprof.functionCount, 3);
    assert.deepEqual([...pprof.functionId], [1, 2, 3]);
    assert.deepEqual(
      [...pprof.functionSystemNameStr].map((i) => s[i]),
      ["", "_foo", "_main"],
    );
    assert.deepEqual(
      [...pprof.functionFilenameStr].map((i) => s[i]),
      ["foo.go", "foo.go", "main.go"],
    );
    assert.deepEqual([...pprof.functionStartLine], [30, 20, 10]);
    assert.equal(pprof.mappingCount, 1);
    assert.equal(s[pprof.mappingFilenameStr[0]!], "libfoo.so");
    assert.equal(s[pprof.mappingBuildIdStr[0]!], "b00c1d");
    assert.deepEqual(
      [pprof.mappingStart[0], pprof.mappingLimit[0], pprof.mappingOffset[0]],
      [0x1000, 0x9000, 0x10],
    );
    assert.equal(pprof.mappingFlags[0], 1 | 2 | 4 | 8);

    // Samples (shop group): leaf first, values × period, timestamps-only → one per timestamp.
    assert.equal(pprof.sampleCount, 3);
    assert.deepEqual([...pprof.sampleLocations], [0, 1, 2, 1, 0, 1]);
    assert.deepEqual(
      [...pprof.sampleValues],
      [2, 4, 3].map((v) => v * Number(cpuPeriod)),
    );
  });

  it("turns string, int, strindex and one-element array attributes into sample labels", () => {
    const { pprof } = otlpToPprofs(richRequest(nowNanos), nowMs)[0]!;
    const labels = (sample: number) => {
      const out: [string, string][] = [];
      for (let l = pprof.sampleLabelOffsets[sample]!; l < pprof.sampleLabelOffsets[sample + 1]!; l++)
        out.push([pprof.strings[pprof.labelKeyStr[l]!]!, pprof.strings[pprof.labelValueStr[l]!]!]);
      return out;
    };
    // bool, double, multi-element array, bytes and kvlist are dropped.
    assert.deepEqual(labels(0), [
      ["thread.name", "worker-1"],
      ["thread.id", "42"],
      ["tags", "one"],
      ["via_strindex", "resolved-value"],
    ]);
    assert.deepEqual(labels(1), [
      ["thread.name", "worker-1"],
      ["span_id", spanIdHex],
      ["trace_id", traceIdHex],
    ]);
    assert.deepEqual(labels(2), []);
  });

  it("builds series labels from resource and scope attributes, with resolved key_strindex", () => {
    const converted = otlpToPprofs(richRequest(nowNanos), nowMs);
    const shop = new Map(converted[0]!.seriesLabels);
    assert.equal(shop.get("__delta__"), "false");
    assert.equal(shop.get("__otel__"), "true");
    assert.equal(shop.get("__name__"), "process_cpu");
    assert.equal(shop.get("service_name"), "shop");
    assert.equal(shop.get("service.name"), "shop");
    for (const [k, v] of richCommonLabels) assert.equal(shop.get(k), v, k);
    assert.equal(shop.has("host.cpu"), false, "double resource attribute dropped");
    assert.equal(shop.has("test-profiler"), false);
    const checkout = new Map(converted[1]!.seriesLabels);
    assert.equal(checkout.get("service_name"), "checkout");
    assert.equal(checkout.get("service.name"), "checkout");
    assert.equal(new Map(converted[2]!.seriesLabels).get("service_name"), "cart");
    assert.equal(new Map(converted[3]!.seriesLabels).get("__name__"), "off_cpu");
    assert.equal(
      new Map(converted[4]!.seriesLabels).get("__name__"),
      "space",
      "other types: the period type",
    );
    assert.equal(converted[4]!.pprof.timeNanos, nowNanos, "time 0 → now");
  });

  it("normalizes: totals per service and type, series split by sample labels, span ids", async () => {
    const profiles = await ingest(richRequest(nowNanos));
    assert.deepEqual(totalsOf(profiles), richExpectedTotals);
    const shopCpu = profiles.filter(
      (p) => getLabel(p.seriesLabels, "service_name") === "shop" && p.profileType.name === "process_cpu",
    );
    assert.equal(shopCpu.length, 3);
    const withSpan = shopCpu.find((p) => p.spanIds !== undefined)!;
    assert.deepEqual([...withSpan.spanIds!], [BigInt(`0x${spanIdHex}`)]);
    assert.deepEqual(withSpan.traceIds, [traceIdHex]);
    assert.equal(getLabel(withSpan.seriesLabels, "thread.name"), "worker-1");
    for (const p of profiles) {
      assert.equal(getLabel(p.seriesLabels, "__otel__"), undefined, "__otel__ is dropped before storage");
      assert.equal(getLabel(p.seriesLabels, "__delta__"), undefined);
    }
    const offCpu = profiles.find((p) => p.profileType.name === "off_cpu")!;
    assert.equal(getLabel(offCpu.seriesLabels, "__profile_type__"), "off_cpu:off_cpu:nanoseconds::");
    assert.equal(getLabel(offCpu.seriesLabels, "__period_type__"), undefined, "empty period type");
    assert.equal(offCpu.durationNanos, 5_000_000_000n);
  });

  it("names the service unknown_service, or unknown_service:<executable>", () => {
    const request = richRequest(nowNanos);
    const resource = request.resourceProfiles[0]!.resource!;
    resource.attributes = resource.attributes.filter((kv) => kv.key !== "service.name");
    assert.equal(getLabel(otlpToPprofs(request, nowMs)[0]!.seriesLabels, "service_name"), "unknown_service");
    resource.attributes.push(
      create(KeyValueSchema, {
        key: "process.executable.name",
        value: { value: { case: "stringValue", value: "containerd" } },
      }),
    );
    assert.equal(
      getLabel(otlpToPprofs(request, nowMs)[0]!.seriesLabels, "service_name"),
      "unknown_service:containerd",
    );
    // An int or one-element array service.name counts.
    resource.attributes.push(
      create(KeyValueSchema, {
        key: "service.name",
        value: {
          value: { case: "arrayValue", value: { values: [{ value: { case: "intValue", value: 9n } }] } },
        },
      }),
    );
    assert.equal(getLabel(otlpToPprofs(request, nowMs)[0]!.seriesLabels, "service_name"), "9");
  });

  it("rejects a profile type without a period (empty __name__) through label validation", async () => {
    const request = richRequest(nowNanos);
    const alloc = request.resourceProfiles[0]!.scopeProfiles[0]!.profiles[2]!;
    alloc.period = 0n;
    await assert.rejects(ingest(request), (err) => expectInvalid(err, /name/i));
  });

  it("skips profiles without samples", async () => {
    const request = richRequest(nowNanos);
    for (const p of request.resourceProfiles[0]!.scopeProfiles[0]!.profiles) p.samples = [];
    assert.deepEqual(await ingest(request), []);
  });

  it("refuses requests without a dictionary or without resource profiles", async () => {
    const noDictionary = richRequest(nowNanos);
    noDictionary.dictionary = undefined;
    await assert.rejects(ingest(noDictionary), (err) =>
      expectInvalid(err, /dictionary/, "missing_dictionary"),
    );
    const empty = create(ExportProfilesServiceRequestSchema, { dictionary: {} });
    await assert.rejects(ingest(empty), (err) => expectInvalid(err, /resource_profiles/));
    const noProfiles = create(ExportProfilesServiceRequestSchema, { dictionary: {} });
    noProfiles.dictionary = undefined;
    await assert.rejects(ingest(noProfiles), (err) => expectInvalid(err, /dictionary/));
  });

  describe("rejects out-of-range indices, naming the table and the index", () => {
    type Mutate = (r: ExportProfilesServiceRequest) => void;
    const profile = (r: ExportProfilesServiceRequest) =>
      r.resourceProfiles[0]!.scopeProfiles[0]!.profiles[0]!;
    const cases: [string, Mutate, RegExp][] = [
      [
        "stack_index",
        (r) => (profile(r).samples[0]!.stackIndex = 3),
        /samples\[0\]\.stack_index: stack_table index 3 out of range \(stack_table has 3 entries\)/,
      ],
      ["negative stack_index", (r) => (profile(r).samples[0]!.stackIndex = -1), /stack_table index -1/],
      [
        "sample attribute",
        (r) => profile(r).samples[1]!.attributeIndices.push(99),
        /samples\[1\]\.attribute_indices: attribute_table index 99/,
      ],
      [
        "link_index",
        (r) => (profile(r).samples[0]!.linkIndex = 2),
        /link_table index 2 out of range \(link_table has 2 entries\)/,
      ],
      [
        "profile attribute",
        (r) => profile(r).attributeIndices.push(14),
        /profiles\[0\]\.attribute_indices: attribute_table index 14/,
      ],
      [
        "sample type string",
        (r) => (profile(r).sampleType!.typeStrindex = 1000),
        /sample_type\.type_strindex: string_table index 1000/,
      ],
      [
        "stack location",
        (r) => r.dictionary!.stackTable[2]!.locationIndices.push(4),
        /stack_table\[2\]\.location_indices: location_table index 4/,
      ],
      [
        "location mapping",
        (r) => (r.dictionary!.locationTable[1]!.mappingIndex = 2),
        /location_table\[1\]\.mapping_index: mapping_table index 2/,
      ],
      [
        "line function",
        (r) => (r.dictionary!.locationTable[2]!.lines[0]!.functionIndex = 4),
        /location_table\[2\]\.lines\[0\]\.function_index: function_table index 4/,
      ],
      [
        "location attribute",
        (r) => r.dictionary!.locationTable[2]!.attributeIndices.push(-2),
        /location_table\[2\]\.attribute_indices: attribute_table index -2/,
      ],
      [
        "mapping attribute",
        (r) => r.dictionary!.mappingTable[1]!.attributeIndices.push(50),
        /mapping_table\[1\]\.attribute_indices: attribute_table index 50/,
      ],
      [
        "mapping filename",
        (r) => (r.dictionary!.mappingTable[1]!.filenameStrindex = 500),
        /mapping_table\[1\]\.filename_strindex: string_table index 500/,
      ],
      [
        "function name",
        (r) => (r.dictionary!.functionTable[1]!.nameStrindex = 500),
        /function_table\[1\]\.name_strindex: string_table index 500/,
      ],
      [
        "attribute key",
        (r) => (r.dictionary!.attributeTable[3]!.keyStrindex = 500),
        /attribute_table\[3\]\.key_strindex: string_table index 500/,
      ],
      [
        "attribute strindex value",
        (r) => {
          const v = r.dictionary!.attributeTable[attr.viaStrindex]!.value!;
          v.value = { case: "stringValueStrindex", value: 777 };
        },
        /attribute_table\[9\]\.value\.string_value_strindex: string_table index 777/,
      ],
      [
        "resource key_strindex",
        (r) => (r.resourceProfiles[0]!.resource!.attributes[1]!.keyStrindex = 600),
        /resource\.attributes\[1\]\.key_strindex: string_table index 600/,
      ],
    ];
    for (const [name, mutate, pattern] of cases) {
      it(name, async () => {
        const request = richRequest(nowNanos);
        mutate(request);
        await assert.rejects(ingest(request), (err) =>
          expectInvalid(err, pattern, "otlp_index_out_of_range"),
        );
      });
    }
  });

  it("refuses a sample with neither values nor timestamps", async () => {
    const request = richRequest(nowNanos);
    const sample = request.resourceProfiles[0]!.scopeProfiles[0]!.profiles[0]!.samples[0]!;
    sample.values = [];
    await assert.rejects(ingest(request), (err) => expectInvalid(err, /neither values nor timestamps/));
  });
});

describe("OTLP request decoding", () => {
  it("accepts JSON with hex or base64 ids, and either field-name style", () => {
    const request = richRequest(nowNanos);
    request.resourceProfiles[0]!.scopeProfiles[0]!.profiles[0]!.profileId = Buffer.from(traceIdHex, "hex");
    const base64Json = toJsonString(ExportProfilesServiceRequestSchema, request);
    assert.match(base64Json, /"traceId":"AQIDBAUGBwgJCgsMDQ4PEA=="/);
    const hexJson = base64Json
      .replace('"traceId":"AQIDBAUGBwgJCgsMDQ4PEA=="', `"traceId":"${traceIdHex}"`)
      .replace(`"spanId":"${Buffer.from(spanIdHex, "hex").toString("base64")}"`, `"spanId":"${spanIdHex}"`)
      .replace('"profileId":"AQIDBAUGBwgJCgsMDQ4PEA=="', `"profileId":"${traceIdHex.toUpperCase()}"`);
    assert.notEqual(hexJson, base64Json);
    const expected = toBinary(ExportProfilesServiceRequestSchema, request);
    for (const json of [base64Json, hexJson]) {
      const decoded = decodeOtlpJson(new TextEncoder().encode(json));
      assert.deepEqual(toBinary(ExportProfilesServiceRequestSchema, decoded), expected);
    }
    // Unknown fields are ignored; proto field names are accepted.
    const snake = decodeOtlpJson(
      new TextEncoder().encode(
        JSON.stringify({
          resource_profiles: [{ scope_profiles: [] }],
          dictionary: { string_table: ["", "x"] },
          extra: 1,
        }),
      ),
    );
    assert.deepEqual(snake.dictionary?.stringTable, ["", "x"]);
  });

  it("refuses malformed JSON and protobuf as invalid_argument", () => {
    assert.throws(
      () => decodeOtlpJson(new TextEncoder().encode("{")),
      (err) => expectInvalid(err, /JSON/),
    );
    assert.throws(
      () => decodeOtlpJson(new TextEncoder().encode('{"resourceProfiles": 3}')),
      (err) => expectInvalid(err, /JSON/),
    );
    assert.throws(
      () => decodeOtlpBinary(Uint8Array.of(0x0a, 0x05, 1)),
      (err) => expectInvalid(err, /protobuf/),
    );
  });

  it("selects the encoding by Content-Type, 415 otherwise", () => {
    assert.equal(otlpEncodingOf("application/x-protobuf"), "protobuf");
    assert.equal(otlpEncodingOf("application/protobuf"), "protobuf");
    assert.equal(otlpEncodingOf("Application/JSON; charset=utf-8"), "json");
    for (const ct of [undefined, "text/plain", "application/grpc"]) {
      assert.throws(
        () => otlpEncodingOf(ct),
        (err) => err instanceof IngestHttpError && err.status === 415 && otlpHttpStatusOf(err) === 415,
      );
    }
  });

  it("gunzips a gzip Content-Encoding within the limit, 413 beyond it", async () => {
    const body = toBinary(ExportProfilesServiceRequestSchema, richRequest(nowNanos));
    const gz = gzipSync(body);
    assert.deepEqual(await decodeContentEncoding(gz, "gzip", body.length), body);
    assert.equal(await decodeContentEncoding(body, undefined, 1), body);
    await assert.rejects(
      decodeContentEncoding(gz, "gzip", body.length - 1),
      (err) => otlpHttpStatusOf(err) === 413,
    );
    await assert.rejects(decodeContentEncoding(body, "br", 1e9), (err) => otlpHttpStatusOf(err) === 415);
    await assert.rejects(decodeContentEncoding(body, "gzip", 1e9), (err) => expectInvalid(err, /gzip/));
  });

  it("ingests gzip bodies end to end", async () => {
    const body = gzipSync(toBinary(ExportProfilesServiceRequestSchema, richRequest(nowNanos)));
    const profiles = await profilesFromOtlp({
      body,
      contentType: protobuf,
      contentEncoding: "gzip",
      limits,
      nowMs,
    });
    assert.deepEqual(totalsOf(profiles), richExpectedTotals);
  });
});

describe("OTLP v1.9 Sample layout", () => {
  it("is refused when a sample has attributes (packed field 3)", () => {
    const bytes = legacyRequestBytes([{ stackIndex: 1, values: [5n], attributeIndices: [1] }]);
    assert.match(detectLegacySampleLayout(bytes) ?? "", /field 3/);
    assert.throws(
      () => decodeOtlpBinary(bytes),
      (err) => expectInvalid(err, /v1\.9 or older/, "unsupported_otlp_version"),
    );
  });

  it("is refused when a value does not fit an int32 attribute index", () => {
    const bytes = legacyRequestBytes([{ stackIndex: 1, values: [5_000_000_000n], attributeIndices: [] }]);
    assert.match(detectLegacySampleLayout(bytes) ?? "", /5000000000 in field 2/);
    assert.throws(
      () => decodeOtlpBinary(bytes),
      (err) => expectInvalid(err, /v1\.9/),
    );
  });

  it("small values without attributes: caught by the index or values checks, with a hint", async () => {
    const outOfRange = legacyRequestBytes([{ stackIndex: 1, values: [7n], attributeIndices: [] }]);
    assert.equal(detectLegacySampleLayout(outOfRange), undefined);
    await assert.rejects(
      profilesFromOtlp({ body: outOfRange, contentType: protobuf, limits, nowMs }),
      (err) => expectInvalid(err, /attribute_table index 7 .*v1\.9 or older/),
    );
    const inRange = legacyRequestBytes([{ stackIndex: 1, values: [1n], attributeIndices: [] }]);
    await assert.rejects(profilesFromOtlp({ body: inRange, contentType: protobuf, limits, nowMs }), (err) =>
      expectInvalid(err, /neither values nor timestamps.*v1\.9/),
    );
  });

  it("does not flag v1.10 requests (negative indices are valid int32 encodings)", () => {
    const request = richRequest(nowNanos);
    assert.equal(detectLegacySampleLayout(toBinary(ExportProfilesServiceRequestSchema, request)), undefined);
    request.resourceProfiles[0]!.scopeProfiles[0]!.profiles[0]!.samples[0]!.attributeIndices.push(-1);
    request.resourceProfiles[0]!.scopeProfiles[0]!.profiles[0]!.samples[0]!.linkIndex = 1;
    assert.equal(detectLegacySampleLayout(toBinary(ExportProfilesServiceRequestSchema, request)), undefined);
  });
});

const corpus = testdata("otlp");

describe("OTLP eBPF profiler request", { skip: corpus.skip }, () => {
  const dir = corpus.dir ?? "";
  const anyTime: IngestLimits = { ...limits, rejectOlderThanMs: 0, creationGracePeriodMs: 0 };

  it("decodes the same from protobuf and JSON", () => {
    const binary = decodeOtlpBinary(readFileSync(join(dir, "pyroscope-otel-ebpf-profile.pb.bin")));
    const json = decodeOtlpJson(readFileSync(join(dir, "pyroscope-otel-ebpf-profile.pb.json")));
    assert.deepEqual(
      toBinary(ExportProfilesServiceRequestSchema, json),
      toBinary(ExportProfilesServiceRequestSchema, binary),
    );
    assert.equal(
      detectLegacySampleLayout(readFileSync(join(dir, "pyroscope-otel-ebpf-profile.pb.bin"))),
      undefined,
    );
  });

  it("converts to the expected totals and series", async () => {
    const profiles = await profilesFromOtlp({
      body: readFileSync(join(dir, "pyroscope-otel-ebpf-profile.pb.bin")),
      contentType: protobuf,
      limits: anyTime,
      nowMs,
    });
    const totals = totalsOf(profiles);
    assert.equal(totals.get("unknown_service process_cpu:cpu:nanoseconds:cpu:nanoseconds"), 500_000_000);
    assert.equal(totals.get("unknown_service off_cpu:off_cpu:nanoseconds::"), 250_725_419_905);
    assert.ok([...totals.keys()].some((k) => k.startsWith("unknown_service:containerd ")));
    const series: Labels = profiles[0]!.seriesLabels;
    assert.equal(getLabel(series, "process.pid"), "66");
    assert.equal(getLabel(series, "thread.name"), "migration/10", "key_strindex attribute keys resolved");
  });
});
