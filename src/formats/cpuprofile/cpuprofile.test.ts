import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { KilnError } from "../../model/errors.ts";
import type { Pprof } from "../../model/pprof.ts";
import { testdata } from "../../testing/testdata.ts";
import { suffixProfileType } from "../text/text-pprof.ts";
import { cpuProfileToPprof, parseCpuProfile } from "./cpuprofile.ts";

const limits = { maxDecodedBytes: 1 << 22, maxDistinctStacks: 16000, maxStackDepth: 1000 };
const corpus = testdata("chrome-cpuprofile");
const enc = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));

function toPprof(body: Uint8Array, appName = "app", sampleRate = 100): Pprof {
  return cpuProfileToPprof(parseCpuProfile(body, limits), {
    type: suffixProfileType(appName),
    sampleRate,
    timeNanos: 1n,
  });
}

/** Per function name: self and total (once per sample) of value column `column`. */
function byFunction(p: Pprof, column: number) {
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const width = p.sampleTypeStr.length;
  for (let s = 0; s < p.sampleCount; s++) {
    const v = p.sampleValues[s * width + column]!;
    const seen = new Set<string>();
    for (let i = p.sampleLocationOffsets[s]!; i < p.sampleLocationOffsets[s + 1]!; i++) {
      const loc = p.sampleLocations[i]!;
      const name = p.strings[p.functionNameStr[p.lineFunctionPlus1[p.locationLineOffsets[loc]!]! - 1]!]!;
      if (i === p.sampleLocationOffsets[s]) self.set(name, (self.get(name) ?? 0) + v);
      if (!seen.has(name)) total.set(name, (total.get(name) ?? 0) + v);
      seen.add(name);
    }
  }
  return { self: Object.fromEntries(self), total: Object.fromEntries(total) };
}
const types = (p: Pprof) =>
  [...p.sampleTypeStr].map((t, i) => `${p.strings[t]}/${p.strings[p.sampleUnitStr[i]!]}`).join(",") +
  ` period ${p.strings[p.periodTypeStr]}/${p.strings[p.periodUnitStr]}`;
const sum = (p: Pprof, column: number) => {
  let s = 0;
  for (let i = 0; i < p.sampleCount; i++) s += p.sampleValues[i * p.sampleTypeStr.length + column]!;
  return s;
};

describe("cpuprofile: corpus (MANIFEST sample counts)", { skip: corpus.skip }, () => {
  const read = (name: string) => readFileSync(join(corpus.dir ?? "", name));
  // MANIFEST top-10 for speedscope-node-example.cpuprofile (sample COUNTs).
  const manifestSelf = { d: 28, "(anonymous)": 1 };
  const manifestTotal = { "(anonymous)": 29, "(root)": 29, a: 28, d: 28, b: 14, c: 14 };

  it("node-example (legacy head layout): 29 samples, self/total per function as MANIFEST", () => {
    const parsed = parseCpuProfile(read("speedscope-node-example.cpuprofile"), limits);
    assert.equal(parsed.layout, "head");
    assert.equal(parsed.samples, 29);
    const p = toPprof(read("speedscope-node-example.cpuprofile"));
    assert.equal(types(p), "samples/count,cpu/nanoseconds period cpu/nanoseconds");
    assert.equal(sum(p, 0), 29);
    const counts = byFunction(p, 0);
    assert.deepEqual(counts.self, manifestSelf);
    assert.deepEqual(counts.total, manifestTotal);
    // Durations from timestamps[1..] (timestamps[0] is the start): 28 gaps + the mean for the last.
    const gaps = 163140645206 - 163140610861;
    assert.equal(sum(p, 1), Math.round((gaps + gaps / 28) * 1000));
  });

  it("chrome65-simple (nodes layout) is the same profile: same counts, durations from timeDeltas", () => {
    const p = toPprof(read("speedscope-chrome65-simple.cpuprofile"));
    assert.equal(sum(p, 0), 29);
    assert.deepEqual(byFunction(p, 0).self, manifestSelf);
    assert.deepEqual(byFunction(p, 0).total, manifestTotal);
    // sum(timeDeltas) 45920 µs minus the first (start → first sample, 11575) plus endTime's tail (1972).
    assert.equal(sum(p, 1), (45920 - 11575 + 1972) * 1000);
  });

  it("chrome65-sucrase: 3493 nodes, 17138 samples; durations cover endTime − first sample", () => {
    const body = read("speedscope-chrome65-sucrase.cpuprofile");
    const json = JSON.parse(body.toString()) as { timeDeltas: number[]; startTime: number; endTime: number };
    const p = toPprof(body);
    assert.equal(sum(p, 0), 17138);
    assert.equal(byFunction(p, 0).total["(root)"], 17138);
    // Negative deltas count 0, so the durations are at least endTime − first sample.
    assert.ok(sum(p, 1) >= (json.endTime - json.startTime - json.timeDeltas[0]!) * 1000);
    assert.ok(sum(p, 1) <= 22012290 * 1000);
  });
});

describe("cpuprofile: layouts and rules", () => {
  const frame = (functionName: string, url = "") => ({
    functionName,
    url,
    scriptId: "1",
    lineNumber: 0,
    columnNumber: 0,
  });
  const nodesLayout = {
    nodes: [
      { id: 1, callFrame: frame("(root)"), children: [2, 4] },
      { id: 2, callFrame: frame("main", "a.js"), children: [3] },
      { id: 3, callFrame: frame("", "a.js") },
      { id: 4, callFrame: frame("(idle)") },
    ],
    startTime: 1000,
    endTime: 1100,
    samples: [3, 3, 4, 2],
    timeDeltas: [10, 20, 30, 15],
  };

  it("nodes + children: counts, forward durations, last sample until endTime", () => {
    const p = toPprof(enc(nodesLayout));
    const counts = byFunction(p, 0);
    assert.deepEqual(counts.self, { "(anonymous)": 2, "(idle)": 1, main: 1 });
    const nanos = byFunction(p, 1);
    // times 1010, 1030, 1060, 1075; end 1100.
    assert.deepEqual(nanos.self, { "(anonymous)": 50_000, "(idle)": 15_000, main: 25_000 });
    assert.equal(p.period, 22_500);
  });

  it("nodes with parent links (trace-event ProfileChunk style) give the same stacks", () => {
    const withParents = {
      ...nodesLayout,
      nodes: nodesLayout.nodes.map(({ children: _c, ...n }) => ({
        ...n,
        ...(n.id === 1 ? {} : { parent: n.id === 3 ? 2 : 1 }),
      })),
    };
    assert.deepEqual(byFunction(toPprof(enc(withParents)), 0), byFunction(toPprof(enc(nodesLayout)), 0));
  });

  it("legacy head tree with as many timestamps as samples", () => {
    const body = {
      head: {
        functionName: "(root)",
        id: 1,
        children: [
          { functionName: "f", url: "x.js", id: 2, children: [{ functionName: "g", id: 3, children: [] }] },
        ],
      },
      samples: [3, 2, 3],
      timestamps: [100, 110, 130],
    };
    const p = toPprof(enc(body));
    assert.deepEqual(byFunction(p, 0).self, { g: 2, f: 1 });
    // 10, 20, then the mean (15) for the last.
    assert.deepEqual(byFunction(p, 1).self, { g: 25_000, f: 20_000 });
  });

  it("no timestamps: the sampleRate rule; hitCount-only files use hit counts", () => {
    const { timeDeltas: _t, ...noTimes } = nodesLayout;
    assert.equal(sum(toPprof(enc(noTimes)), 1), 4 * 1e7);
    assert.equal(sum(toPprof(enc(noTimes), "app", 1000), 1), 4 * 1e6);
    const hits = {
      nodes: [
        { id: 1, callFrame: frame("(root)"), children: [2], hitCount: 0 },
        { id: 2, callFrame: frame("f"), hitCount: 7 },
      ],
    };
    const p = toPprof(enc(hits));
    assert.equal(sum(p, 0), 7);
    assert.equal(sum(p, 1), 7e7);
  });

  it("the app-name suffix: wall works, memory types do not", () => {
    assert.equal(
      types(toPprof(enc(nodesLayout), "app.wall")),
      "samples/count,wall/nanoseconds period cpu/nanoseconds",
    );
    assert.throws(() => toPprof(enc(nodesLayout), "app.alloc_space"), /does not apply/);
  });

  const malformed: [string, unknown, RegExp][] = [
    ["not JSON", "[", /not JSON/],
    ["no tree", { samples: [] }, /want `nodes`/],
    ["unknown sample node", { ...nodesLayout, samples: [9, 3, 3, 3] }, /samples\[0\]: unknown node id 9/],
    ["timeDeltas length", { ...nodesLayout, timeDeltas: [1] }, /timeDeltas: want 4/],
    [
      "duplicate ids",
      { ...nodesLayout, nodes: [...nodesLayout.nodes, { id: 2, callFrame: frame("x") }] },
      /duplicate node id 2/,
    ],
    [
      "cycle",
      {
        nodes: [
          { id: 1, callFrame: frame("a"), children: [2] },
          { id: 2, callFrame: frame("b"), children: [1] },
        ],
        samples: [1],
      },
      /cycle/,
    ],
    [
      "unknown child",
      { nodes: [{ id: 1, callFrame: frame("a"), children: [5] }], samples: [1] },
      /unknown child 5/,
    ],
  ];
  for (const [what, body, message] of malformed) {
    it(`malformed: ${what}`, () => {
      assert.throws(
        () => parseCpuProfile(enc(body), limits),
        (err: unknown) =>
          err instanceof KilnError && err.reason === "malformed_cpuprofile" && message.test(err.message),
      );
    });
  }

  it("limits: body size and distinct stacks", () => {
    assert.throws(
      () => parseCpuProfile(enc(nodesLayout), { ...limits, maxDecodedBytes: 5 }),
      /max_profile_size_bytes/,
    );
    assert.throws(
      () => parseCpuProfile(enc(nodesLayout), { ...limits, maxDistinctStacks: 2 }),
      /distinct stacks/,
    );
  });
});
