/**
 * The DOT call graph's pprof rules on a small hand-made tree: flat/cum per function (recursion
 * counted once), node cap by cum, residual edges over dropped frames, no self edges, and the
 * heatmap slot/bucket helpers.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { callGraph, dotOf, formatValue } from "../src/query/dot.ts";
import { rangeHeatmap, slotEdge, yBuckets } from "../src/query/heatmap.ts";
import { NameTree } from "../src/query/tree.ts";

function sample(): NameTree {
  const t = new NameTree();
  t.addStack(["main.main", "main.(*T).work", "runtime.mallocgc"], 300);
  t.addStack(["main.main", "main.(*T).work"], 500);
  t.addStack(["main.main", "main.rec", "main.rec", "main.leaf"], 200);
  return t;
}

describe("DOT call graph", () => {
  it("flat, cum, edges; recursion counted once and drawn without self edges", () => {
    const g = callGraph(sample(), 100);
    const byName = new Map(g.nodes.map((n) => [n.name, n]));
    assert.equal(g.total, 1000);
    assert.deepEqual(
      g.nodes.map((n) => [n.id, n.name, n.flat, n.cum]),
      [
        [1, "main.(*T).work", 500, 800],
        [2, "runtime.mallocgc", 300, 300],
        [3, "main.leaf", 200, 200],
        [4, "main.main", 0, 1000],
        [5, "main.rec", 0, 200],
      ],
    );
    const edge = (a: string, b: string) =>
      g.edges.find((e) => e.from === byName.get(a)!.id && e.to === byName.get(b)!.id);
    assert.equal(edge("main.main", "main.(*T).work")?.weight, 800);
    assert.equal(edge("main.main", "main.rec")?.weight, 200);
    assert.equal(edge("main.rec", "main.leaf")?.weight, 200);
    assert.equal(edge("main.rec", "main.rec"), undefined, "no self edge");
    assert.ok(g.edges.every((e) => !e.residual));
  });

  it("the node cap keeps the largest cum; edges over dropped frames are residual (dotted)", () => {
    const g = callGraph(sample(), 4);
    assert.deepEqual(
      g.nodes.map((n) => n.name),
      ["main.(*T).work", "runtime.mallocgc", "main.leaf", "main.main"],
    );
    const leaf = g.edges.find((e) => e.to === 3)!;
    assert.equal(leaf.from, 4);
    assert.equal(leaf.residual, true);
    const text = dotOf(sample(), { maxNodes: 4, profileType: "process_cpu:cpu:nanoseconds:cpu:nanoseconds" });
    assert.match(text, /^digraph "unnamed" \{\n/);
    assert.match(text, /N4 -> N3 \[.*style="dotted"\]/);
    assert.match(text, /N1 \[label="main\\n\(\*T\)\\nwork\\n500ns \(50.00%\)\\nof 800ns \(80.00%\)"/);
    assert.match(text, /Showing top 4 nodes out of 5\\l/);
    assert.equal(dotOf(new NameTree(), { maxNodes: 4, profileType: "a:b:c:d:e" }), "");
  });

  it("formats values like pprof labels", () => {
    assert.equal(formatValue(1_500_000_000, "nanoseconds"), "1.5s");
    assert.equal(formatValue(20_000_000, "nanoseconds"), "20ms");
    assert.equal(formatValue(3 * 1024 * 1024, "bytes"), "3MB");
    assert.equal(formatValue(42, "count"), "42");
  });
});

describe("heatmap buckets", () => {
  it("slot edges are right edges on the start grid, clamped", () => {
    assert.equal(slotEdge(1000, 1000, 5000, 1000), 1000);
    assert.equal(slotEdge(1001, 1000, 5000, 1000), 2000);
    assert.equal(slotEdge(500, 1000, 5000, 1000), 1000);
    assert.equal(slotEdge(9000, 1000, 5000, 1000), 5000);
  });

  it("20 y buckets over the global range; max in the last; limit by point count", () => {
    assert.deepEqual(yBuckets(0, 100).slice(0, 3), [0, 5, 10]);
    const labels: [string, string][] = [["pod", "a"]];
    const series = rangeHeatmap(
      [
        {
          labels,
          points: [
            {
              timeMs: 10,
              value: 0,
              profileId: "p1",
              spanId: "",
              labels: [
                ["pod", "a"],
                ["x", "1"],
              ],
            },
            {
              timeMs: 20,
              value: 100,
              profileId: "p2",
              spanId: "",
              labels: [
                ["pod", "a"],
                ["x", "2"],
              ],
            },
            {
              timeMs: 30,
              value: 99,
              profileId: "p3",
              spanId: "",
              labels: [
                ["pod", "a"],
                ["x", "3"],
              ],
            },
          ],
        },
        {
          labels: [["pod", "b"]],
          points: [{ timeMs: 10, value: 50, profileId: "p4", spanId: "", labels: [["pod", "b"]] }],
        },
      ],
      { startMs: 0, endMs: 100, stepMs: 100, groupBy: ["pod"], exemplars: true, limit: 1 },
    );
    assert.equal(series.length, 1);
    const slot = series[0]!.slots[0]!;
    assert.equal(slot.timestamp, 100);
    assert.equal(slot.counts[0], 1);
    assert.equal(slot.counts[19], 2, "99 and 100 share the last bucket");
    assert.deepEqual(
      slot.exemplars.map((e) => [e.profileId, e.value, e.labels]),
      [
        ["p1", 0, [["x", "1"]]],
        ["p2", 100, [["x", "2"]]],
      ],
    );
  });
});
