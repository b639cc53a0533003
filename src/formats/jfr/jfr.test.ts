import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { KilnError } from "../../model/errors.ts";
import type { Pprof } from "../../model/pprof.ts";
import { testdata, testdataFile } from "../../testing/testdata.ts";
import { decodePprof } from "../pprof/decode.ts";
import { type JfrConversion, type JfrProfileKind, jfrToPprof } from "./convert.ts";
import { decodeLabelsSnapshot, type LabelsSnapshot } from "./labels-snapshot.ts";
import { parseJfr } from "./parser.ts";
import { mergeGeneratedSymbol } from "./symbols.ts";
import { sampleChunk, writeChunk, writeJfr } from "./test-jfr-writer.ts";

const jfrCorpus = testdata("jfr");
const goldenCorpus = testdata("golden");
const corpusSkip = jfrCorpus.skip || goldenCorpus.skip;

function readMaybeGzip(path: string): Uint8Array {
  const b = readFileSync(path);
  return b[0] === 0x1f && b[1] === 0x8b ? gunzipSync(b) : b;
}

function convert(bytes: Uint8Array, labels?: LabelsSnapshot): JfrConversion {
  return jfrToPprof(bytes, { sampleRate: 100, startNanos: 1n, endNanos: 2n, ...(labels ? { labels } : {}) });
}

/** Root-first frame names of sample s, joined with `;`. */
function stackText(p: Pprof, s: number): string {
  const frames: string[] = [];
  for (let k = p.sampleLocationOffsets[s + 1]! - 1; k >= p.sampleLocationOffsets[s]!; k--) {
    const loc = p.sampleLocations[k]!;
    for (let l = p.locationLineOffsets[loc + 1]! - 1; l >= p.locationLineOffsets[loc]!; l--) {
      const fn = p.lineFunctionPlus1[l]! - 1;
      frames.push(p.strings[p.functionNameStr[fn]!]!);
    }
  }
  return frames.join(";");
}

function sampleLabels(p: Pprof, s: number): string[] {
  const out: string[] = [];
  for (let k = p.sampleLabelOffsets[s]!; k < p.sampleLabelOffsets[s + 1]!; k++) {
    out.push(`${p.strings[p.labelKeyStr[k]!]}=${p.strings[p.labelValueStr[k]!]}`);
  }
  return out.sort();
}

/** stack → summed value of sample type t (labels ignored). */
function stacksOf(p: Pprof, t: number, scale = 1): Map<string, number> {
  const width = p.sampleTypeStr.length;
  const out = new Map<string, number>();
  for (let s = 0; s < p.sampleCount; s++) {
    const v = p.sampleValues[s * width + t]! / scale;
    if (v === 0) continue;
    const key = stackText(p, s);
    out.set(key, (out.get(key) ?? 0) + v);
  }
  return out;
}

function assertSameStacks(actual: Map<string, number>, expected: Map<string, number>, what: string): void {
  const diffs: string[] = [];
  for (const key of new Set([...actual.keys(), ...expected.keys()])) {
    const a = actual.get(key) ?? 0;
    const e = expected.get(key) ?? 0;
    if (a !== e) diffs.push(`${key}: got ${a}, want ${e}`);
  }
  assert.equal(
    diffs.length,
    0,
    `${what}: ${diffs.length} stacks differ, e.g.\n${diffs.slice(0, 3).join("\n")}`,
  );
}

function sum(m: Map<string, number>): number {
  let t = 0;
  for (const v of m.values()) t += v;
  return t;
}

function assertKilnError(fn: () => unknown, what: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof KilnError, `${what}: want KilnError, got ${String(err)}`);
    return true;
  });
}

describe("JFR parser on a synthetic recording", () => {
  const labels: LabelsSnapshot = {
    contexts: new Map([["7", [["1", "2"]]]]),
    strings: new Map([
      ["1", "request"],
      ["2", "checkout"],
    ]),
  };

  it("converts every event kind with the documented values, names and labels", () => {
    const conv = convert(writeJfr([sampleChunk({ event: "cpu" })]), labels);
    assert.equal(conv.event, "cpu");
    assert.deepEqual(
      conv.profiles.map((p) => p.kind),
      [
        "cpu",
        "wall",
        "alloc_in_new_tlab",
        "alloc_outside_tlab",
        "alloc_sample",
        "live",
        "malloc",
        "lock",
        "thread_park",
      ],
    );
    const byKind = new Map(conv.profiles.map((p) => [p.kind, p]));
    const cpu = byKind.get("cpu")!;
    assert.equal(cpu.metricName, "process_cpu");
    assert.deepEqual(
      Object.fromEntries(stacksOf(cpu.pprof, 0)),
      {
        "com/example/Main.main;com/example/Worker.work": 2e7,
        "com/example/Main.main;com/example/Worker$$Lambda_.run;libc.so.6.memcpy": 1e7,
        "com/example/Main.main": 1e7,
      },
      "sleeping samples are not CPU; unknown methods and stacks are dropped; lambdas merged",
    );
    assert.equal(cpu.pprof.period, 1e7);
    assert.equal(cpu.pprof.timeNanos, 1n);
    assert.equal(cpu.pprof.durationNanos, 1n);
    const labelled = [...Array(cpu.pprof.sampleCount).keys()].map((s) =>
      sampleLabels(cpu.pprof, s).join(","),
    );
    assert.ok(labelled.includes("profile_id=fedcba9876543210,request=checkout"), labelled.join("|"));
    // Only profiler.WallClockSample feeds wall when the event setting is not "wall".
    assert.deepEqual(Object.fromEntries(stacksOf(byKind.get("wall")!.pprof, 0)), {
      "com/example/Main.main;com/example/Worker.work": 3e7,
    });
    const tlab = byKind.get("alloc_in_new_tlab")!;
    assert.deepEqual(
      [...Array(tlab.pprof.sampleCount).keys()].map((s) => [
        [...tlab.pprof.sampleValues.subarray(s * 2, s * 2 + 2)],
        sampleLabels(tlab.pprof, s),
      ]),
      [
        [[1, 4096], ["request=checkout"]],
        [[1, 1024], []],
      ],
    );
    const expectTwo = (kind: JfrProfileKind, values: number[]) =>
      assert.deepEqual([...byKind.get(kind)!.pprof.sampleValues], values, kind);
    expectTwo("alloc_outside_tlab", [1, 100000]);
    expectTwo("alloc_sample", [1, 512]);
    expectTwo("malloc", [1, 64]);
    expectTwo("lock", [1, 2_000_000]);
    expectTwo("thread_park", [1, 5_000_000]);
    expectTwo("live", [1]);
    const lines = byKind.get("cpu")!.pprof.lineNumber;
    assert.ok([...lines].includes(42));
  });

  it("event=wall also counts ExecutionSamples (sleeping ones included) as wall; chunks are independent", () => {
    const conv = convert(writeJfr([sampleChunk({ event: "wall" }), sampleChunk({ event: "wall" })]));
    assert.equal(conv.event, "wall");
    const wall = conv.profiles.find((p) => p.kind === "wall")!;
    assert.equal(sum(stacksOf(wall.pprof, 0)), 2 * (5 + 3) * 1e7);
    const cpu = conv.profiles.find((p) => p.kind === "cpu")!;
    assert.equal(sum(stacksOf(cpu.pprof, 0)), 2 * 4 * 1e7);
  });

  it("sampleRate sets the CPU period; 0 gives zero values as upstream", () => {
    const bytes = writeJfr([sampleChunk()]);
    const at20 = jfrToPprof(bytes, { sampleRate: 20, startNanos: 0n, endNanos: 0n });
    assert.equal(sum(stacksOf(at20.profiles[0]!.pprof, 0)), 4 * 5e7);
    const at0 = jfrToPprof(bytes, { sampleRate: 0, startNanos: 0n, endNanos: 0n });
    assert.equal(sum(stacksOf(at0.profiles[0]!.pprof, 0)), 0);
  });

  it("every truncation either parses or throws KilnError", () => {
    const bytes = writeJfr([sampleChunk({ event: "itimer" })]);
    for (let n = 0; n < bytes.length; n++) {
      try {
        convert(bytes.subarray(0, n));
      } catch (err) {
        assert.ok(err instanceof KilnError, `truncated at ${n}: ${String(err)}`);
      }
    }
  });

  it("single-byte corruptions never escape as anything but KilnError", () => {
    const bytes = writeJfr([sampleChunk({ event: "itimer" })]);
    for (let i = 68; i < bytes.length; i++) {
      for (const v of [0x00, 0x7f, 0xff]) {
        const copy = bytes.slice();
        copy[i] = v;
        try {
          convert(copy);
        } catch (err) {
          assert.ok(err instanceof KilnError, `byte ${i} = ${v}: ${String(err)}`);
        }
      }
    }
  });

  it("random bytes → KilnError", () => {
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed & 0xff;
    };
    for (let i = 0; i < 200; i++) {
      const b = Uint8Array.from({ length: 1 + ((i * 37) % 4000) }, rnd);
      if (i % 2 === 0 && b.length >= 4) b.set([0x46, 0x4c, 0x52, 0x00]);
      assertKilnError(() => convert(b), `random input ${i}`);
    }
    assertKilnError(() => convert(new Uint8Array(0)), "empty");
    assertKilnError(
      () => convert(new TextEncoder().encode("not a JFR recording at all, just text......................")),
      "text",
    );
  });

  it("huge declared sizes are rejected without allocating them", () => {
    const good = writeJfr([sampleChunk()]);
    const view = new DataView(good.buffer);
    const hugeChunk = good.slice();
    new DataView(hugeChunk.buffer).setBigInt64(8, 1n << 60n);
    assert.throws(() => convert(hugeChunk), /chunk size \d+ outside/);
    const badMeta = good.slice();
    new DataView(badMeta.buffer).setBigInt64(24, BigInt(view.getBigInt64(8)) + 5n);
    assertKilnError(() => convert(badMeta), "metadata offset past the chunk");

    // A constant pool claiming 2^31-1 entries, an array of 2^31-1 frames, a 2^31-1 byte string.
    const chunkWith = (pools: Parameters<typeof writeChunk>[0]["pools"]) =>
      Uint8Array.from(writeChunk({ ...sampleChunk(), pools }));
    const hugePool = chunkWith([[26, [[1, (w) => w.u8(0).varint(0x7fffffff)]]]]);
    assert.throws(() => convert(hugePool), /array length of jdk.types.StackTrace.frames 2147483647 exceeds/);
    const hugeString = chunkWith([[30, [[1, (w) => w.u8(3).varint(0x7fffffff)]]]]);
    assert.throws(() => convert(hugeString), /string length 2147483647 exceeds/);
    const hugeCount = Uint8Array.from(writeChunk({ ...sampleChunk(), poolCount: 0x7fffffff }));
    assert.throws(() => convert(hugeCount), /constant pool count 2147483647 exceeds/);
    const tooDeep = chunkWith([]);
    assert.doesNotThrow(() => convert(tooDeep));
    assertKilnError(
      () =>
        parseJfr(
          good,
          { poolClasses: new Set(), beginChunk: () => new Set(), event: () => {} },
          { maxBytes: 100 },
        ),
      "maxBytes",
    );
    assertKilnError(
      () =>
        parseJfr(
          writeJfr([sampleChunk(), sampleChunk(), sampleChunk()]),
          { poolClasses: new Set(), beginChunk: () => new Set(), event: () => {} },
          { maxChunks: 2 },
        ),
      "maxChunks",
    );
  });

  it("a class that contains itself inline fails instead of recursing forever", () => {
    const chunk = sampleChunk();
    const bytes = writeChunk({
      ...chunk,
      classes: [
        ...chunk.classes,
        { id: 400, name: "test.Loop", superType: "jdk.jfr.Event", fields: [["self", 400]] },
      ],
      pools: [[400, [[1, (w) => w.u8(1)]]]],
    });
    assertKilnError(() => convert(Uint8Array.from(bytes)), "inline cycle");
  });
});

describe("JFR symbols", () => {
  it("merges JVM-generated and randomly named symbols", () => {
    assert.equal(
      mergeGeneratedSymbol("jdk/internal/reflect/GeneratedMethodAccessor31"),
      "jdk/internal/reflect/GeneratedMethodAccessor_",
    );
    assert.equal(
      mergeGeneratedSymbol("org/example/rideshare/OrderService$$Lambda$669/0x0000000800fd7318"),
      "org/example/rideshare/OrderService$$Lambda_",
    );
    assert.equal(mergeGeneratedSymbol("Fib$$Lambda.0x00007ffa600c4da0"), "Fib$$Lambda_");
    assert.equal(mergeGeneratedSymbol("Fib$$Lambda$12"), "Fib$$Lambda$12", "needs a /address");
    assert.equal(mergeGeneratedSymbol("libzstd-jni-1.5.1-16931311898282279136.so"), "libzstd-jni-_.so");
    assert.equal(
      mergeGeneratedSymbol(
        "./tmp/amazonCorrettoCryptoProviderNativeLibraries.7382c2f79097f415/libcrypto.so (deleted)",
      ),
      "libamazonCorrettoCryptoProvider_.so",
    );
    assert.equal(
      mergeGeneratedSymbol("/tmp/libasyncProfiler-linux-x64-17b9a1d8156277a98ccc871afa9a8f69215f92.so"),
      "libasyncProfiler-_.so",
    );
    assert.equal(mergeGeneratedSymbol("java/lang/String"), "java/lang/String");
  });
});

describe("LabelsSnapshot", () => {
  it("decodes contexts and strings, tolerating unknown fields", () => {
    // contexts {1: {labels {10: 11}}}, strings {10: "k", 11: "v"}, unknown field 9.
    const labelsEntry = [0x08, 10, 0x10, 11];
    const contextMsg = [0x0a, labelsEntry.length, ...labelsEntry];
    const bytes = Uint8Array.from([
      0x0a,
      ...[contextMsg.length + 4, 0x08, 1, 0x12, contextMsg.length, ...contextMsg],
      0x12,
      ...[5, 0x08, 10, 0x12, 1, 0x6b],
      0x12,
      ...[5, 0x08, 11, 0x12, 1, 0x76],
      0x48,
      1,
    ]);
    const snap = decodeLabelsSnapshot(bytes);
    assert.deepEqual([...snap.contexts], [["1", [["10", "11"]]]]);
    assert.deepEqual(
      [...snap.strings],
      [
        ["10", "k"],
        ["11", "v"],
      ],
    );
    assertKilnError(() => decodeLabelsSnapshot(Uint8Array.from([0x0a, 0x7f, 0x00])), "truncated");
    assertKilnError(() => decodeLabelsSnapshot(Uint8Array.from([0x0b])), "group wire type");
  });

  it("decodes pyroscope-java's dump files", { skip: jfrCorpus.skip }, () => {
    const snap = decodeLabelsSnapshot(readMaybeGzip(testdataFile("jfr/pyroscope-dump2.labels.pb.gz")));
    assert.ok(snap.contexts.size > 0);
    assert.ok([...snap.strings.values()].includes("thread_name"));
  });
});

/** Series key of the golden collapsed files: `kafka.app.<suffix>{k=v,…}` (old-server names). */
const collapsedSuffixes: Record<JfrProfileKind, string[]> = {
  cpu: ["cpu"],
  wall: ["wall"],
  alloc_in_new_tlab: ["alloc_in_new_tlab_objects", "alloc_in_new_tlab_bytes"],
  alloc_outside_tlab: ["alloc_outside_tlab_objects", "alloc_outside_tlab_bytes"],
  alloc_sample: ["alloc_sample_objects", "alloc_sample_bytes"],
  live: ["live"],
  malloc: ["malloc_objects", "malloc_bytes"],
  lock: ["lock_count", "lock_duration"],
  thread_park: ["thread_park_count", "thread_park_duration"],
};

function collapsedSeries(conv: JfrConversion): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const { kind, pprof } of conv.profiles) {
    const width = pprof.sampleTypeStr.length;
    for (let t = 0; t < width; t++) {
      let suffix = collapsedSuffixes[kind][t]!;
      if (kind === "cpu" && conv.event === "itimer") suffix = "itimer";
      // The old server counted CPU/wall in samples, not nanoseconds.
      const scale = kind === "cpu" || kind === "wall" ? 1e7 : 1;
      for (let s = 0; s < pprof.sampleCount; s++) {
        const key = `kafka.app.${suffix}{${sampleLabels(pprof, s).join(",")}}`;
        const m = out.get(key) ?? new Map<string, number>();
        out.set(key, m);
        const stack = stackText(pprof, s);
        m.set(stack, (m.get(stack) ?? 0) + pprof.sampleValues[s * width + t]! / scale);
      }
    }
  }
  return out;
}

/**
 * The golden collapsed files come from the old Pyroscope converter. Two of its behaviours are
 * not Pyroscope's current ones and are undone here: lambda classes were named `$$Lambda$_`
 * (now `$$Lambda_`), and samples carrying a `profile_id` were stored twice, as the exemplar
 * series and once more in the series without `profile_id` (checked to be exactly the sum).
 */
function goldenCollapsed(file: string): Map<string, Map<string, number>> {
  const json = JSON.parse(new TextDecoder().decode(readMaybeGzip(file))) as Record<string, string>;
  const series = new Map<string, Map<string, number>>();
  for (const [key, text] of Object.entries(json)) {
    const m = new Map<string, number>();
    for (const line of text.split("\n")) {
      if (line === "") continue;
      const i = line.lastIndexOf(" ");
      const stack = line.slice(0, i).replace(/\$\$Lambda\$_/g, () => "$$Lambda_");
      m.set(stack, (m.get(stack) ?? 0) + Number(line.slice(i + 1)));
    }
    series.set(key, m);
  }
  const exemplarSums = new Map<string, Map<string, number>>();
  for (const [key, m] of series) {
    if (!key.includes("profile_id=")) continue;
    const base = key.replace(/profile_id=[0-9a-f]+,?/, "").replace(",}", "}");
    const agg = exemplarSums.get(base) ?? new Map<string, number>();
    exemplarSums.set(base, agg);
    for (const [s, v] of m) agg.set(s, (agg.get(s) ?? 0) + v);
  }
  for (const [base, agg] of exemplarSums) {
    const m = series.get(base);
    assert.ok(m, `golden has no aggregate series ${base}`);
    assertSameStacks(m, agg, `golden aggregate ${base}`);
    series.delete(base);
  }
  return series;
}

const corpusCases: [name: string, withLabels: boolean][] = [
  ["kafka-cpu", false],
  ["kafka-cpu-lock-alloc", false],
  ["kafka-cpu-lock0-alloc0", false],
  ["dump1", true],
  ["dump2", true],
];

describe("JFR corpus against Pyroscope's golden collapsed output", { skip: corpusSkip }, () => {
  for (const [name, withLabels] of corpusCases) {
    it(`pyroscope-${name}: same series, stacks and values`, () => {
      const labels = withLabels
        ? decodeLabelsSnapshot(readMaybeGzip(testdataFile(`jfr/pyroscope-${name}.labels.pb.gz`)))
        : undefined;
      const conv = convert(readMaybeGzip(testdataFile(`jfr/pyroscope-${name}.jfr.gz`)), labels);
      const mine = collapsedSeries(conv);
      const golden = goldenCollapsed(testdataFile(`golden/pyroscope-${name}.expected-collapsed.json.gz`));
      assert.deepEqual([...mine.keys()].sort(), [...golden.keys()].sort());
      for (const [key, want] of golden) assertSameStacks(mine.get(key)!, want, key);
    });
  }
});

/** Golden pprof suffix → (kind, sample type index). */
const goldenPprofs: [file: string, jfr: string, kind: JfrProfileKind, type: number][] = [
  ["kafka-cpu.expected.process_cpu", "kafka-cpu", "cpu", 0],
  ["kafka-cpu-lock-alloc.expected.process_cpu", "kafka-cpu-lock-alloc", "cpu", 0],
  ["kafka-cpu-lock-alloc.expected.alloc_in_new_tlab_objects", "kafka-cpu-lock-alloc", "alloc_in_new_tlab", 0],
  ["kafka-cpu-lock-alloc.expected.alloc_in_new_tlab_bytes", "kafka-cpu-lock-alloc", "alloc_in_new_tlab", 1],
  ["kafka-cpu-lock0-alloc0.expected.mutex_contentions", "kafka-cpu-lock0-alloc0", "lock", 0],
  ["kafka-cpu-lock0-alloc0.expected.mutex_delay", "kafka-cpu-lock0-alloc0", "lock", 1],
  ["kafka-cpu-lock0-alloc0.expected.block_contentions", "kafka-cpu-lock0-alloc0", "thread_park", 0],
  ["dump2.expected.wall", "dump2", "wall", 0],
  ["dump2.expected.memory_live", "dump2", "live", 0],
];

describe("JFR corpus against Pyroscope's golden pprofs", { skip: corpusSkip }, () => {
  for (const [file, jfr, kind, type] of goldenPprofs) {
    it(`pyroscope-${file}: sample type, totals and stacks`, () => {
      const golden = decodePprof(readFileSync(testdataFile(`golden/pyroscope-${file}.pb.gz`)), {
        maxDecompressedBytes: 1 << 28,
      });
      const conv = convert(readMaybeGzip(testdataFile(`jfr/pyroscope-${jfr}.jfr.gz`)));
      const mine = conv.profiles.find((p) => p.kind === kind)!.pprof;
      const g = golden.sampleTypeStr.length - 1;
      assert.equal(mine.strings[mine.sampleTypeStr[type]!], golden.strings[golden.sampleTypeStr[g]!]);
      assert.equal(mine.strings[mine.sampleUnitStr[type]!], golden.strings[golden.sampleUnitStr[g]!]);
      assert.equal(mine.strings[mine.periodTypeStr], golden.strings[golden.periodTypeStr]);
      assert.equal(mine.strings[mine.periodUnitStr], golden.strings[golden.periodUnitStr]);
      const want = stacksOf(golden, g);
      const got = stacksOf(mine, type);
      assert.equal(sum(got), sum(want));
      assertSameStacks(got, want, file);
    });
  }
});

describe("plain JDK Flight Recorder file", { skip: jfrCorpus.skip }, () => {
  it("speedscope-heavy.jfr parses with CPU samples and sane totals", () => {
    const conv = convert(readMaybeGzip(testdataFile("jfr/speedscope-heavy.jfr")));
    assert.equal(conv.event, "");
    const cpu = conv.profiles.find((p) => p.kind === "cpu");
    assert.ok(cpu, `kinds: ${conv.profiles.map((p) => p.kind).join(",")}`);
    const stacks = stacksOf(cpu.pprof, 0);
    const total = sum(stacks);
    assert.ok(total > 0 && total % 1e7 === 0, `total ${total}`);
    assert.ok(total / 1e7 <= 100_000);
    const names = new Set<string>();
    for (let f = 0; f < cpu.pprof.functionCount; f++)
      names.add(cpu.pprof.strings[cpu.pprof.functionNameStr[f]!]!);
    assert.ok(
      [...names].some((n) => /^java\/[a-z]+\/[A-Za-z$]+\.[A-Za-z<]/.test(n)),
      [...names].slice(0, 5).join(","),
    );
    for (const p of conv.profiles) {
      for (let s = 0; s < p.pprof.sampleCount; s++) {
        assert.ok(p.pprof.sampleLocationOffsets[s + 1]! >= p.pprof.sampleLocationOffsets[s]!);
      }
    }
  });
});
