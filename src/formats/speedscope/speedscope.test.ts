import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { KilnError } from "../../model/errors.ts";
import type { Pprof } from "../../model/pprof.ts";
import { testdata } from "../../testing/testdata.ts";
import { FrameStacks } from "./frame-stacks.ts";
import {
  parseSpeedscope,
  type SpeedscopeProfile,
  speedscopeSchema,
  speedscopeToPprofs,
} from "./speedscope.ts";

const limits = { maxDecodedBytes: 1 << 22, maxDistinctStacks: 16000, maxStackDepth: 1000 };
const corpus = testdata("speedscope");
const enc = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));
const frames = { frames: [{ name: "a" }, { name: "b" }, { name: "c" }, { name: "d", file: "d.js" }] };

function sampled(unit: string, weights = [1, 1, 4, 3, 5], name = "p") {
  return {
    type: "sampled",
    name,
    unit,
    startValue: 0,
    endValue: 14,
    samples: [
      [0, 1, 2],
      [0, 1, 2],
      [0, 1, 3],
      [0, 1, 2],
      [0, 1],
    ],
    weights,
  };
}
const file = (...profiles: unknown[]) => enc({ $schema: speedscopeSchema, shared: frames, profiles });

/** "a;b;c" → value, root first, from the pprof's samples (column 0). */
function folded(pprof: Pprof): Map<string, number> {
  const out = new Map<string, number>();
  for (let s = 0; s < pprof.sampleCount; s++) {
    const names: string[] = [];
    for (let i = pprof.sampleLocationOffsets[s]!; i < pprof.sampleLocationOffsets[s + 1]!; i++) {
      const loc = pprof.sampleLocations[i]!;
      const fn = pprof.lineFunctionPlus1[pprof.locationLineOffsets[loc]!]! - 1;
      names.unshift(pprof.strings[pprof.functionNameStr[fn]!]!);
    }
    const width = pprof.sampleTypeStr.length;
    out.set(names.join(";"), (out.get(names.join(";")) ?? 0) + pprof.sampleValues[s * width]!);
  }
  return out;
}
const typeOf = (p: Pprof) =>
  `${p.strings[p.sampleTypeStr[0]!]}/${p.strings[p.sampleUnitStr[0]!]} period ${p.hasPeriodType ? p.period : "-"}`;

function convert(body: Uint8Array, appName = "foo", sampleRate = 100) {
  return speedscopeToPprofs(parseSpeedscope(body, limits), { appName, sampleRate, timeNanos: 1n });
}

function assertMalformed(body: Uint8Array, message: RegExp) {
  assert.throws(
    () => parseSpeedscope(body, limits),
    (err: unknown) =>
      err instanceof KilnError && err.reason === "malformed_speedscope" && message.test(err.message),
  );
}

describe("speedscope: corpus files (MANIFEST totals)", { skip: corpus.skip }, () => {
  const read = (name: string) => readFileSync(join(corpus.dir ?? "", name));
  const total = (p: Pprof) => [...folded(p).values()].reduce((a, b) => a + b, 0);

  it("evented 'simple.txt' (unit none, endValue 14): 14 units × 100 at 10000 Hz = 0.14 s of process_cpu", () => {
    for (const name of ["pyroscope-simple.speedscope.json", "speedscope-simple-0.0.1.speedscope.json"]) {
      const [out, ...rest] = convert(read(name));
      assert.equal(rest.length, 0);
      assert.equal(out!.profileName, "simple.txt");
      assert.equal(out!.metricName, "process_cpu");
      assert.equal(typeOf(out!.pprof), "cpu/nanoseconds period 100000");
      // Pyroscope's own expectation: a;b 500, a;b;c 500, a;b;d 400 (×1e5 ns each).
      assert.deepEqual(Object.fromEntries(folded(out!.pprof)), {
        "a;b": 500 * 1e5,
        "a;b;c": 500 * 1e5,
        "a;b;d": 400 * 1e5,
      });
      assert.equal(total(out!.pprof), 14 * 1e7);
    }
  });

  it("sampled 0.1.2 (unit seconds, weights sum 14): 14 s", () => {
    const [out] = convert(read("speedscope-simple-sampled-0.1.2.speedscope.json"));
    assert.equal(out!.profileName, "simple.speedscope.json");
    assert.equal(out!.appName, "foo");
    assert.equal(total(out!.pprof), 14e9);
  });

  it("two sampled profiles (seconds): app name gets .seconds → wall, 14 s each", () => {
    for (const name of [
      "pyroscope-two-sampled.speedscope.json",
      "speedscope-two-sampled-0.6.0.speedscope.json",
    ]) {
      const out = convert(read(name));
      assert.deepEqual(
        out.map((o) => [o.appName, o.serviceName, o.metricName, o.profileName, total(o.pprof)]),
        [
          ["foo.seconds", "foo", "wall", "one", 14e9],
          ["foo.seconds", "foo", "wall", "two", 14e9],
        ],
      );
      assert.equal(typeOf(out[0]!.pprof), "wall/nanoseconds period 10000000");
    }
  });

  it("two sampled profiles (bytes): .bytes → memory samples/bytes, 14 bytes each, no period", () => {
    const out = convert(read("pyroscope-two-sampled-bytes.speedscope.json"));
    assert.deepEqual(
      out.map((o) => [o.appName, o.metricName, o.profileName, total(o.pprof), typeOf(o.pprof)]),
      [
        ["foo.bytes", "memory", "one", 14, "samples/bytes period -"],
        ["foo.bytes", "memory", "two", 14, "samples/bytes period -"],
      ],
    );
  });

  it("three profiles with equal (name, type, unit, startValue) merge into one (endValue ignored): 42 s", () => {
    const out = convert(read("pyroscope-duplicates.speedscope.json"));
    assert.equal(out.length, 1);
    // One profile left: no unit suffix, as upstream (foo{profile_name=one}).
    assert.equal(out[0]!.appName, "foo");
    assert.equal(out[0]!.profileName, "one");
    assert.deepEqual(Object.fromEntries(folded(out[0]!.pprof)), {
      "a;b": 15e9,
      "a;b;c": 15e9,
      "a;b;d": 12e9,
    });
  });

  it("the incomplete evented trace is rejected with a clear message", () => {
    assertMalformed(
      read("speedscope-invalid-incomplete-trace.json"),
      /profiles\[0\].*1 frame\(s\) still open/,
    );
  });
});

describe("speedscope: units and the sampleRate rule", () => {
  const cases: [unit: string, weights: number[], metric: string, type: string, total: number][] = [
    ["none", [1, 1, 4, 3, 5], "process_cpu", "cpu/nanoseconds period 100000", 14 * 1e7],
    ["nanoseconds", [100, 100, 400, 300, 500], "process_cpu", "cpu/nanoseconds period 1", 1400],
    ["microseconds", [1, 1, 4, 3, 5.5], "process_cpu", "cpu/nanoseconds period 10", 14_500],
    ["milliseconds", [1, 1, 4, 3, 5], "process_cpu", "cpu/nanoseconds period 10000", 14e6],
    ["seconds", [0.25, 1, 4, 3, 5], "process_cpu", "cpu/nanoseconds period 10000000", 13.25e9],
    ["bytes", [1, 1, 4, 3, 5], "process_cpu", "samples/count period -", 14],
  ];
  for (const [unit, weights, metric, type, want] of cases) {
    it(`${unit}`, () => {
      const [out] = convert(file(sampled(unit, weights)));
      assert.equal(out!.metricName, metric);
      assert.equal(typeOf(out!.pprof), type);
      assert.equal(
        [...folded(out!.pprof).values()].reduce((a, b) => a + b, 0),
        want,
      );
    });
  }

  it("a sampleRate other than 100 is kept: values × 100 at that rate", () => {
    const [out] = convert(file(sampled("none")), "foo", 1000);
    assert.equal(typeOf(out!.pprof), "cpu/nanoseconds period 1000000");
    assert.equal(
      [...folded(out!.pprof).values()].reduce((a, b) => a + b, 0),
      1400 * 1e6,
    );
  });

  it("several units: each profile is stored under <name>.<unit>", () => {
    const out = convert(
      file(sampled("milliseconds", undefined, "t"), sampled("bytes", undefined, "m")),
      "svc.cpu",
    );
    assert.deepEqual(
      out.map((o) => [o.appName, o.serviceName, o.metricName]),
      [
        ["svc.cpu.milliseconds", "svc.cpu", "wall"],
        ["svc.cpu.bytes", "svc.cpu", "memory"],
      ],
    );
  });

  it("an unknown suffix fails like the folded path", () => {
    assert.throws(() => convert(file(sampled("none")), "my.app"), /unknown profile type: app/);
  });

  it("evented: time goes to the stack open during it, nested and sequential", () => {
    const events = [
      { type: "O", frame: 0, at: 10 },
      { type: "O", frame: 1, at: 11 },
      { type: "C", frame: 1, at: 13.5 },
      { type: "O", frame: 3, at: 14 },
      { type: "C", frame: 3, at: 15 },
      { type: "C", frame: 0, at: 20 },
      { type: "O", frame: 2, at: 30 },
      { type: "C", frame: 2, at: 31 },
    ];
    const body = file({
      type: "evented",
      name: "e",
      unit: "milliseconds",
      startValue: 10,
      endValue: 31,
      events,
    });
    const [out] = convert(body);
    assert.deepEqual(Object.fromEntries(folded(out!.pprof)), {
      a: (1 + 0.5 + 5) * 1e6,
      "a;b": 2.5e6,
      "a;d": 1e6,
      c: 1e6,
    });
    // The frame file becomes the function's filename.
    const d = [...Array(out!.pprof.functionCount).keys()].find(
      (f) => out!.pprof.strings[out!.pprof.functionNameStr[f]!] === "d",
    )!;
    assert.equal(out!.pprof.strings[out!.pprof.functionFilenameStr[d]!], "d.js");
  });

  it("frame names with ';' stay whole", () => {
    const body = enc({
      $schema: speedscopeSchema,
      shared: { frames: [{ name: "Lcom/x;.run" }, { name: "b" }] },
      profiles: [{ type: "sampled", unit: "none", name: "p", samples: [[0, 1]], weights: [2] }],
    });
    const [out] = convert(body);
    assert.deepEqual([...folded(out!.pprof).keys()], ["Lcom/x;.run;b"]);
    assert.equal(out!.pprof.functionCount, 2);
  });

  it("a file without profiles stores nothing", () => {
    assert.deepEqual(convert(enc({ $schema: speedscopeSchema })), []);
  });
});

describe("speedscope: malformed input", () => {
  const evented = (events: unknown[]) =>
    file({ type: "evented", name: "e", unit: "none", startValue: 0, endValue: 9, events });
  const cases: [string, Uint8Array, RegExp][] = [
    ["not JSON", enc("{"), /not JSON/],
    ["wrong schema", enc({ $schema: "https://example.com/x.json", profiles: [] }), /unknown schema/],
    ["no schema", enc({ profiles: [] }), /unknown schema null/],
    [
      "unknown profile type",
      file({ ...sampled("none"), type: "bogus" }),
      /profile type "bogus" not supported/,
    ],
    ["unknown unit", file(sampled("furlongs")), /unknown unit "furlongs"/],
    ["unequal samples/weights", file({ ...sampled("none"), weights: [1] }), /unequal lengths/],
    ["negative weight", file(sampled("none", [1, 1, -4, 3, 5])), /weights\[2\].*non-negative/],
    [
      "frame out of range",
      file({ ...sampled("none"), samples: [[0], [4], [0], [0], [0]] }),
      /invalid frame 4/,
    ],
    [
      "fractional frame",
      file({ ...sampled("none"), samples: [[0.5], [0], [0], [0], [0]] }),
      /invalid frame 0.5/,
    ],
    [
      "events out of order",
      evented([
        { type: "O", frame: 0, at: 5 },
        { type: "C", frame: 0, at: 4 },
      ]),
      /out of order/,
    ],
    ["close without open", evented([{ type: "C", frame: 0, at: 1 }]), /no open frame/],
    [
      "close of another frame",
      evented([
        { type: "O", frame: 0, at: 1 },
        { type: "O", frame: 1, at: 1 },
        { type: "C", frame: 0, at: 2 },
      ]),
      /not the innermost open frame/,
    ],
    ["unknown event", evented([{ type: "X", frame: 0, at: 1 }]), /unknown event type "X"/],
    ["unclosed frames", evented([{ type: "O", frame: 0, at: 1 }]), /still open/],
    [
      "frames not an array",
      enc({ $schema: speedscopeSchema, shared: { frames: 3 } }),
      /shared.frames: wrong JSON type/,
    ],
  ];
  for (const [what, body, message] of cases) it(what, () => assertMalformed(body, message));

  it("oversized body and too many distinct stacks hit the limits", () => {
    assert.throws(
      () => parseSpeedscope(file(sampled("none")), { ...limits, maxDecodedBytes: 10 }),
      /max_profile_size_bytes/,
    );
    assert.throws(
      () => parseSpeedscope(file(sampled("none")), { ...limits, maxDistinctStacks: 2 }),
      /more than 2 distinct stacks/,
    );
  });

  it("stack depth is cut to max_stack_depth, keeping the root-most frames", () => {
    const [profile] = parseSpeedscope(file(sampled("none")), { ...limits, maxStackDepth: 2 }) as [
      SpeedscopeProfile,
    ];
    assert.deepEqual([...profile.stacks.entries()], [[["a", "b"], 1400]]);
  });
});

describe("FrameStacks", () => {
  it("bounds depth even when the limit is 0", () => {
    const stacks = new FrameStacks({ maxDistinctStacks: 0, maxStackDepth: 0 });
    let node = 0;
    const f = stacks.frame("x");
    for (let i = 0; i < 20_000; i++) node = stacks.child(node, f);
    stacks.add(node, 1);
    const [[frames]] = [...stacks.entries()] as [[string[], number]];
    assert.equal(frames.length, 16_384);
  });
});
