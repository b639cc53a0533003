import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { decodePprof } from "../../formats/pprof/decode.ts";
import { encodePprof } from "../../formats/pprof/encode.ts";
import { KilnError } from "../../model/errors.ts";
import { getLabel, type Label } from "../../model/labels.ts";
import type { Pprof } from "../../model/pprof.ts";
import type { NormalizedProfile } from "../../model/profile.ts";
import { profileTypeId } from "../../model/profile-type.ts";
import { readManifest } from "../../testing/manifest.ts";
import { testdata } from "../../testing/testdata.ts";
import { defaultIngestLimits, type IngestLimits } from "./limits.ts";
import { pprofMetricName } from "./metric-name.ts";
import { type NormalizeInput, normalizePprof } from "./normalize.ts";

const corpus = testdata("pprof");
const maxDecompressedBytes = 32 * 1024 * 1024;
/** History-friendly limits: fixture timestamps are years old, and one fixture has 20k samples. */
const openLimits: IngestLimits = {
  ...defaultIngestLimits,
  rejectOlderThanMs: 0,
  creationGracePeriodMs: 0,
  maxProfileSamples: 0,
};
const nowMs = Date.UTC(2026, 10, 1);

function load(file: string): Pprof {
  return decodePprof(new Uint8Array(readFileSync(join(corpus.dir!, file))), { maxDecompressedBytes });
}

function run(
  p: Pprof,
  overrides: Partial<NormalizeInput> = {},
  labels: Label[] = [
    ["__name__", "process_cpu"],
    ["service_name", "svc"],
  ],
) {
  return normalizePprof(p, {
    seriesLabels: labels,
    limits: openLimits,
    nowMs,
    dashedSampleTypes: "replace",
    ...overrides,
  });
}

function sum(values: Float64Array): bigint {
  let s = 0n;
  for (const v of values) s += BigInt(v);
  return s;
}

function assertInvariants(out: NormalizedProfile[]): void {
  for (const p of out) {
    const names = p.seriesLabels.map(([n]) => n);
    assert.deepEqual(names, [...names].sort(), "labels sorted");
    assert.equal(new Set(names).size, names.length, "label names unique");
    for (const n of [
      "__name__",
      "service_name",
      "__profile_type__",
      "__type__",
      "__unit__",
      "__service_name__",
    ])
      assert.ok(names.includes(n), n);
    for (const n of ["__delta__", "__otel__", "__order__"]) assert.ok(!names.includes(n), n);
    assert.equal(getLabel(p.seriesLabels, "__profile_type__"), profileTypeId(p.profileType));
    assert.ok(
      p.values.every((v) => v !== 0),
      "no zero values",
    );
    const keys = new Set<string>();
    for (let s = 0; s < p.sampleCount; s++) {
      const key = `${p.stackLocations.subarray(p.stackOffsets[s]!, p.stackOffsets[s + 1]!).join(",")}|${p.spanIds?.[s] ?? ""}|${p.traceIds?.[s] ?? ""}`;
      assert.ok(!keys.has(key), "no duplicate (stack, span, trace)");
      keys.add(key);
    }
    assert.equal(p.stackOffsets.length, p.sampleCount + 1);
  }
}

describe("normalizePprof on the shared corpus", { skip: corpus.skip }, () => {
  const manifest = corpus.dir ? readManifest() : new Map();
  const files = corpus.dir ? readdirSync(corpus.dir).filter((f) => /\.pb(\.gz)?$/.test(f)) : [];
  for (const file of files) {
    it(`${file}: per-type sums over all outputs equal the MANIFEST totals`, () => {
      const p = load(file);
      const name = pprofMetricName(p) || "unnamed";
      const original = p.strings;
      const out = run(p, {}, [
        ["__name__", name],
        ["service_name", "svc"],
        ["__delta__", "false"],
      ]);
      assert.equal(p.strings, original, "input pprof not mutated");
      assertInvariants(out);
      const expected = [...manifest.get(`pprof/${file}`)!.totals.values()];
      for (let t = 0; t < p.sampleTypeStr.length; t++) {
        const type = out[0]?.symbols.strings[p.sampleTypeStr[t]!];
        const got = out
          .filter((o) => o.profileType.sampleType === type)
          .reduce((a, o) => a + sum(o.values), 0n);
        assert.equal(got, expected[t], `sample type ${type}`);
      }
    });
  }

  it("outputs of one series keeping the same samples share their stack arrays", () => {
    const out = run(load("pyroscope-go-cpu-labels.pb.gz"));
    for (const o of out) {
      const twin = out.find(
        (x) =>
          x !== o &&
          x.seriesLabels.some(([n, v]) => n === "foo" && v === getLabel(o.seriesLabels, "foo")) &&
          getLabel(x.seriesLabels, "function") === getLabel(o.seriesLabels, "function"),
      );
      assert.ok(twin);
      // samples/count and nanoseconds are both non-zero on every sample of this profile
      assert.equal(twin.stackOffsets, o.stackOffsets);
      assert.equal(twin.stackLocations, o.stackLocations);
      assert.equal(twin.spanIds, o.spanIds);
      assert.notEqual(twin.values, o.values);
    }
  });

  it("splits pyroscope-go-cpu-labels by foo/function and keeps profile_id as a per-sample span_id", () => {
    const out = run(load("pyroscope-go-cpu-labels.pb.gz"));
    assert.equal(out.length, 6); // 3 label sets × 2 sample types
    const seen = new Set(
      out.map((o) => `${getLabel(o.seriesLabels, "foo")}/${getLabel(o.seriesLabels, "function") ?? "-"}`),
    );
    assert.deepEqual([...seen].sort(), ["bar/-", "bar/fast", "bar/slow"]);
    for (const o of out) {
      assert.equal(getLabel(o.seriesLabels, "profile_id"), undefined);
      assert.equal(getLabel(o.seriesLabels, "span_id"), undefined);
      if (getLabel(o.seriesLabels, "function")) {
        assert.ok(o.spanIds, "span ids kept per sample");
        assert.ok([...o.spanIds].every((id) => id !== 0n));
      } else {
        assert.equal(o.spanIds, undefined);
      }
    }
    const cpu = out.filter((o) => o.profileType.sampleType === "cpu");
    assert.equal(
      cpu.reduce((a, o) => a + sum(o.values), 0n),
      8730000000n,
    );
  });

  it("pyroscope-go-cpu-span-id: one series, span ids only on the samples that carry one", () => {
    const out = run(load("pyroscope-go-cpu-span-id.pb.gz"));
    assert.equal(out.length, 2);
    for (const o of out) {
      assert.equal(getLabel(o.seriesLabels, "asdasd"), "zxczxc");
      assert.equal(getLabel(o.seriesLabels, "qwe"), "asd");
      assert.ok(o.spanIds);
      const withSpan = [...o.spanIds].filter((id) => id !== 0n).length;
      assert.ok(withSpan > 0 && withSpan < o.sampleCount);
    }
  });

  it("a sample label does not override a series label of the same name", () => {
    const out = run(load("pyroscope-go-cpu-labels.pb.gz"), {}, [
      ["__name__", "process_cpu"],
      ["service_name", "svc"],
      ["foo", "series"],
    ]);
    assert.ok(out.every((o) => getLabel(o.seriesLabels, "foo") === "series"));
  });

  it("derives private labels, period labels only with a period type", () => {
    const [heap] = run(load("pyroscope-go-heap.pb.gz"), {}, [["__name__", "memory"]]);
    assert.equal(getLabel(heap!.seriesLabels, "__profile_type__"), "memory:alloc_objects:count:space:bytes");
    assert.equal(getLabel(heap!.seriesLabels, "__period_type__"), "space");
    assert.equal(getLabel(heap!.seriesLabels, "service_name"), "unknown_service");
    assert.equal(getLabel(heap!.seriesLabels, "__service_name__"), "unknown_service");
    const p = load("pyroscope-go-heap.pb.gz");
    const noPeriod = decodePprof(
      encodePprof({ ...p, hasPeriodType: false, periodTypeStr: 0, periodUnitStr: 0 }),
      { maxDecompressedBytes },
    );
    const [o] = run(noPeriod, {}, [["__name__", "memory"]]);
    assert.equal(getLabel(o!.seriesLabels, "__period_type__"), undefined);
    assert.equal(o!.profileType.periodType, "");
    assert.equal(getLabel(o!.seriesLabels, "__profile_type__"), "memory:alloc_objects:count::");
  });

  it("uses fallbackTimeNanos for time_nanos in 1970 and now for an unset time", () => {
    const pyspy = load("pyroscope-python-pyspy.pb"); // time_nanos holds milliseconds
    const [a] = run(pyspy, { fallbackTimeNanos: 1_700_000_000_000_000_000n });
    assert.equal(a!.timeNanos, 1_700_000_000_000_000_000n);
    const dotnet = load("pyroscope-dotnet-labels.pb"); // time_nanos 0
    const [b] = run(dotnet);
    assert.equal(b!.timeNanos, BigInt(nowMs) * 1_000_000n);
  });

  it("truncates stacks deeper than maxStackDepth, keeping the root-most frames", () => {
    const p = load("gpprof-large-cpu.pb.gz");
    const out = run(p, { limits: { ...openLimits, maxStackDepth: 5 } });
    for (const o of out) {
      for (let s = 0; s < o.sampleCount; s++) assert.ok(o.stackOffsets[s + 1]! - o.stackOffsets[s]! <= 5);
    }
    // The root (last location) of the first sample survives.
    const rootOf = (offsets: Uint32Array, locs: Uint32Array, s: number) => locs[offsets[s + 1]! - 1];
    const roots = new Set<number>();
    for (let s = 0; s < p.sampleCount; s++) roots.add(rootOf(p.sampleLocationOffsets, p.sampleLocations, s)!);
    for (let s = 0; s < out[0]!.sampleCount; s++)
      assert.ok(roots.has(rootOf(out[0]!.stackOffsets, out[0]!.stackLocations, s)!));
  });

  it("assigns ids from profileIdFor, else random UUIDs", () => {
    let n = 0;
    const out = run(load("pyroscope-go-mutex.pb.gz"), { profileIdFor: () => `id-${n++}` });
    assert.deepEqual(
      out.map((o) => o.profileId),
      out.map((_, i) => `id-${i}`),
    );
    const [r] = run(load("pyroscope-go-mutex.pb.gz"));
    assert.match(r!.profileId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });
});

describe("normalizePprof limits", { skip: corpus.skip }, () => {
  const cases: {
    name: string;
    reason: string;
    message: RegExp;
    input: () => Partial<NormalizeInput>;
    labels?: Label[];
    file?: string;
  }[] = [
    {
      name: "too many labels",
      reason: "too_many_labels",
      file: "pyroscope-go-mutex.pb.gz",
      message: /has 4 labels, limit 3 \(max_label_names_per_series\)/,
      input: () => ({ limits: { ...openLimits, maxLabelNamesPerSeries: 3 } }),
      labels: [
        ["__name__", "process_cpu"],
        ["service_name", "svc"],
        ["a", "1"],
        ["b", "2"],
      ],
    },
    {
      name: "label name too long",
      reason: "label_name_too_long",
      file: "pyroscope-go-mutex.pb.gz",
      message: /is 20 bytes, limit 15 \(max_label_name_length\)/,
      input: () => ({ limits: { ...openLimits, maxLabelNameLength: 15 } }),
      labels: [
        ["__name__", "process_cpu"],
        ["service_name", "svc"],
        ["x".repeat(20), "1"],
      ],
    },
    {
      name: "label value too long",
      reason: "label_value_too_long",
      file: "pyroscope-go-mutex.pb.gz",
      message: /"service_name" is 30 bytes, limit 12 \(max_label_value_length\)/,
      input: () => ({ limits: { ...openLimits, maxLabelValueLength: 12 } }),
      labels: [
        ["__name__", "process_cpu"],
        ["service_name", "s".repeat(30)],
      ],
    },
    {
      name: "invalid label name under sanitization",
      reason: "invalid_label_name",
      file: "pyroscope-go-mutex.pb.gz",
      message: /invalid label name "a-b"/,
      input: () => ({ limits: { ...openLimits, sanitizeLabelNames: true } }),
      labels: [
        ["__name__", "process_cpu"],
        ["service_name", "svc"],
        ["a-b", "1"],
      ],
    },
    {
      name: "sanitized names colliding with another value",
      reason: "duplicate_label_names",
      file: "pyroscope-go-mutex.pb.gz",
      message: /sanitizes to "a_b", which already has a different value/,
      input: () => ({ limits: { ...openLimits, sanitizeLabelNames: true } }),
      labels: [
        ["__name__", "process_cpu"],
        ["service_name", "svc"],
        ["a.b", "1"],
        ["a_b", "2"],
      ],
    },
    {
      name: "duplicate label names",
      reason: "duplicate_label_names",
      file: "pyroscope-go-mutex.pb.gz",
      message: /"a" appears twice/,
      input: () => ({}),
      labels: [
        ["__name__", "process_cpu"],
        ["service_name", "svc"],
        ["a", "1"],
        ["a", "2"],
      ],
    },
    {
      name: "missing metric name",
      reason: "missing_metric_name",
      file: "pyroscope-go-mutex.pb.gz",
      message: /no valid __name__/,
      input: () => ({}),
      labels: [["service_name", "svc"]],
    },
    {
      name: "empty service name",
      reason: "invalid_service_name",
      file: "pyroscope-go-mutex.pb.gz",
      message: /empty service_name/,
      input: () => ({}),
      labels: [
        ["__name__", "process_cpu"],
        ["service_name", ""],
      ],
    },
    {
      name: "too many samples",
      reason: "too_many_samples",
      message: /has 480 samples, limit 100 \(max_profile_samples\)/,
      input: () => ({ limits: { ...openLimits, maxProfileSamples: 100 } }),
    },
    {
      name: "too many sample labels",
      reason: "too_many_sample_labels",
      message: /has 3 labels, limit 2 \(max_sample_labels\)/,
      input: () => ({ limits: { ...openLimits, maxSampleLabels: 2 } }),
    },
    {
      name: "profile too old",
      reason: "profile_too_old",
      message: /2022-06-09T18:22:12\.062Z, older than 3600000 ms before now \(reject_older_than_ms\)/,
      input: () => ({ limits: { ...openLimits, rejectOlderThanMs: 3_600_000 } }),
    },
    {
      name: "profile too new",
      reason: "profile_too_new",
      message: /more than 600000 ms after now \(creation_grace_period_ms\)/,
      input: () => ({
        nowMs: Date.UTC(2022, 0, 1),
        limits: { ...openLimits, creationGracePeriodMs: 600_000 },
      }),
    },
    {
      name: "dashed sample types on the push path",
      reason: "malformed_pprof",
      message: /sample type "alloc-samples" contains "-"/,
      input: () => ({ dashedSampleTypes: "reject" }),
      file: "pyroscope-dotnet-3.pb",
    },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.reason}`, () => {
      const p = load(c.file ?? "pyroscope-go-cpu-labels.pb.gz");
      try {
        run(p, c.input(), c.labels);
        assert.fail("expected a KilnError");
      } catch (err) {
        assert.ok(err instanceof KilnError, String(err));
        assert.equal(err.code, "invalid_argument");
        assert.equal(err.reason, c.reason);
        assert.match(err.message, c.message);
      }
    });
  }

  it("accepts a profile inside the default window and UTF-8 label names with dots", () => {
    const p = load("pyroscope-go-mutex.pb.gz");
    const atMs = Number(p.timeNanos / 1_000_000n);
    const out = normalizePprof(p, {
      seriesLabels: [
        ["service.name", "x"],
        ["__name__", "mutex"],
      ],
      limits: defaultIngestLimits,
      nowMs: atMs + 60_000,
    });
    assert.equal(out.length, 2);
    assert.equal(getLabel(out[0]!.seriesLabels, "service.name"), "x");
  });

  it("truncates symbols longer than maxSymbolLength from the front, without touching the input", () => {
    const p = load("pyroscope-go-mutex.pb.gz");
    const [o] = run(p, { limits: { ...openLimits, maxSymbolLength: 8 } });
    assert.notEqual(o!.symbols, p);
    const longest = p.strings.reduce((a, s) => (s.length > a.length ? s : a), "");
    assert.ok(longest.length > 8);
    assert.equal(o!.symbols.strings[p.strings.indexOf(longest)], longest.slice(-8));
    assert.ok(p.strings.includes(longest), "input strings unchanged");
  });
});
