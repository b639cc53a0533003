/**
 * The query core on real data: corpus pprofs go through the real ingest path into a real block
 * on a filesystem object store, and flame graphs, tree bytes, diffs, merges and pprof output
 * read back from it are checked against MANIFEST.md (computed independently from the raw
 * pprofs with npm pprof-format).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Profile } from "pprof-format";
import { encodePprof } from "../formats/pprof/encode.ts";
import { testdata } from "../testing/testdata.ts";
import {
  decodeFlameGraph,
  type FlameGraph,
  flameGraph,
  flameGraphDiff,
  minTotal,
  prepareTree,
} from "./flamegraph.ts";
import { type DatasetSections, type MergeQuery, mergeDatasetInto, selectStackValues } from "./merge.ts";
import { PprofBuilder } from "./pprof-out.ts";
import { buildCorpusBlock, type LoadedDataset, readManifestTops } from "./test-helpers.ts";
import { type TopEntry, topTable } from "./top.ts";
import { NameTable, NameTree } from "./tree.ts";
import { decodeTreeBytes, encodeTreeBytes } from "./tree-bytes.ts";

const corpus = testdata("pprof");
const ALL_TIME = { startMs: 0, endMs: 8.64e15 };
const NO_LIMIT = 0;

/** The dataset's profile type ID whose sample type and unit are `typeUnit` ("cpu:nanoseconds"). */
function profileTypeFor(dataset: DatasetSections, typeUnit: string): string {
  return findProfileType(dataset, typeUnit) ?? assert.fail(`no profile type for ${typeUnit}`);
}

function findProfileType(dataset: DatasetSections, typeUnit: string): string | undefined {
  const found = dataset.index.seriesProfileType.find(
    (id) => id.split(":").slice(1, 3).join(":") === typeUnit,
  );
  return found;
}

function treeOf(datasets: readonly DatasetSections[], query: MergeQuery, names = new NameTable()): NameTree {
  const tree = new NameTree(names);
  for (const dataset of datasets) mergeDatasetInto(tree, dataset, query);
  return tree;
}

/** Rebuilds a name tree from a flame graph's levels (self per path), to check the encoding. */
function treeFromFlameGraph(graph: FlameGraph): NameTree {
  const tree = new NameTree();
  for (const node of decodeFlameGraph(graph))
    if (node.depth > 0 && node.self !== 0) tree.addStack(node.path, node.self);
  return tree;
}

function byName(entries: TopEntry[]): Map<string, TopEntry> {
  return new Map(entries.map((entry) => [entry.name, entry]));
}

function checkAgainstManifest(
  label: string,
  entries: TopEntry[],
  expected: ReturnType<typeof readManifestTops>,
  path: string,
  typeUnit: string,
): void {
  const tables = expected.get(path)!.bySampleType.get(typeUnit)!;
  const got = byName(entries);
  for (const [name, value] of tables.self) {
    assert.equal(BigInt(got.get(name)?.self ?? 0), value, `${label} ${path} ${typeUnit} self of ${name}`);
  }
  for (const [name, value] of tables.inclusive) {
    assert.equal(BigInt(got.get(name)?.total ?? 0), value, `${label} ${path} ${typeUnit} total of ${name}`);
  }
}

describe("query core on the real corpus", { skip: corpus.skip }, () => {
  it("flame graph and tree bytes reproduce the manifest's top-10 self/total per sample type", async () => {
    const tops = readManifestTops();
    const pprofPaths = [...tops.keys()].filter((path) => path.startsWith("pprof/"));
    assert.equal(pprofPaths.length, 5, "the manifest has top tables for five pprof files");
    let checkedTypes = 0;
    let emptyTypes = 0;
    for (const path of pprofPaths) {
      // The manifest describes the raw pprof stacks; a Go spy would switch on Pyroscope's repair
      // of truncated Go stacks at ingest, which rightly changes inclusive totals.
      const [dataset] = await buildCorpusBlock([{ path, service: "svc", spyName: "rawspy" }]);
      for (const [typeUnit, tables] of tops.get(path)!.bySampleType) {
        const profileType = findProfileType(dataset!, typeUnit);
        if (profileType === undefined) {
          // Ingest drops zero values, so a sample type that sums to nothing stores no profile.
          assert.equal(tables.total, 0n, `${path} ${typeUnit} stored nothing`);
          assert.ok([...tables.self, ...tables.inclusive].every(([, value]) => value === 0n));
          emptyTypes++;
          continue;
        }
        const tree = treeOf([dataset!], { profileType, ...ALL_TIME });
        assert.ok(tree.exact);
        const direct = topTable(tree);
        checkAgainstManifest("name tree", direct, tops, path, typeUnit);

        const graph = flameGraph(tree, NO_LIMIT);
        assert.equal(BigInt(graph.total), tables.total, `${path} ${typeUnit} flame graph total`);
        assert.equal(graph.names[0], "total");
        checkAgainstManifest("flame graph", topTable(treeFromFlameGraph(graph)), tops, path, typeUnit);

        const bytes = encodeTreeBytes(tree, NO_LIMIT);
        const decoded = decodeTreeBytes(bytes);
        assert.equal(BigInt(decoded.totals()[0]!), tables.total, `${path} ${typeUnit} tree bytes total`);
        checkAgainstManifest("tree bytes", topTable(decoded), tops, path, typeUnit);
        checkedTypes++;
      }
    }
    const tableCount = pprofPaths.reduce((n, path) => n + tops.get(path)!.bySampleType.size, 0);
    assert.equal(checkedTypes + emptyTypes, tableCount);
    assert.ok(checkedTypes >= 10, `checked ${checkedTypes} sample types`);
  });

  it("max_nodes folds into `other` and keeps the root total", async () => {
    const path = "pprof/pyroscope-go-heap.pb.gz";
    const [dataset] = await buildCorpusBlock([{ path, service: "svc", metricName: "memory" }]);
    const tree = treeOf([dataset!], {
      profileType: profileTypeFor(dataset!, "alloc_space:bytes"),
      ...ALL_TIME,
    });
    const full = flameGraph(tree, NO_LIMIT);
    for (const maxNodes of [1, 16, 100, 1000]) {
      const graph = flameGraph(tree, maxNodes);
      assert.equal(graph.total, full.total, `root total at max_nodes ${maxNodes}`);
      const nodes = decodeFlameGraph(graph);
      assert.equal(nodes[0]!.total, full.total);
      const others = nodes.filter((node) => node.name === "other");
      assert.ok(others.length > 0, `other nodes at max_nodes ${maxNodes}`);
      for (const other of others) assert.equal(other.self, other.total);
      // Folding moves value, never loses it: the selves still sum to the root total.
      assert.equal(
        nodes.reduce((sum, node) => sum + node.self, 0),
        full.total,
      );
      // Kept: nodes whose total reaches the max_nodes-th largest total (ties all stay).
      const threshold = minTotal(prepareTree(tree), maxNodes);
      const kept = nodes.filter((node) => node.depth > 0 && node.name !== "other");
      assert.ok(kept.every((node) => node.total >= threshold));
      const above = kept.filter((node) => node.total > threshold).length;
      assert.ok(above < maxNodes, `kept ${above} nodes above the threshold for max_nodes ${maxNodes}`);
      const bytes = decodeTreeBytes(encodeTreeBytes(tree, maxNodes));
      assert.equal(bytes.totals()[0], full.total, `tree bytes total at max_nodes ${maxNodes}`);
      assert.ok(bytes.names.find("other") >= 0);
    }
  });

  it("merging datasets and blocks sums exactly; the time range is inclusive", async () => {
    const cpuA = "pprof/pyroscope-go-cpu-labels.pb.gz";
    const cpuB = "pprof/pyroscope-go-cpu-truncated.pb.gz";
    const t0 = 1_700_000_000_000_000_000n;
    const datasets = await buildCorpusBlock([
      { path: cpuA, service: "a", timeNanos: t0 },
      { path: cpuB, service: "b", timeNanos: t0 },
      { path: cpuA, service: "a", timeNanos: t0 + 10_000_000_000n },
    ]);
    assert.equal(datasets.length, 2);
    const byService = new Map(datasets.map((d) => [d.service, d] as [string, LoadedDataset]));
    const a = byService.get("a")!;
    const b = byService.get("b")!;
    const profileType = profileTypeFor(a, "cpu:nanoseconds");
    const query = { profileType, ...ALL_TIME };
    const totalA = 8730000000; // manifest totals
    const totalB = 7560000000;
    const merged = treeOf([a, b], query);
    assert.equal(merged.totals()[0], 2 * totalA + totalB);
    // Trees built separately with their own name tables merge to the same result.
    const separate = treeOf([a], query);
    separate.merge(treeOf([b], query));
    const left = byName(topTable(merged));
    for (const entry of topTable(separate)) {
      assert.equal(left.get(entry.name)?.self, entry.self, entry.name);
      assert.equal(left.get(entry.name)?.total, entry.total, entry.name);
    }
    // Inclusive ms range: [t0, t0] selects the first push of `a` only; the second is 10 s later.
    const t0Ms = Number(t0 / 1_000_000n);
    const first = selectStackValues(a, { profileType, startMs: t0Ms, endMs: t0Ms });
    assert.equal(
      first.values.reduce((s, v) => s + v, 0),
      totalA,
    );
    const both = selectStackValues(a, { profileType, startMs: t0Ms, endMs: t0Ms + 10_000 });
    assert.equal(both.profileCount, 2 * first.profileCount);
    assert.equal(
      both.values.reduce((s, v) => s + v, 0),
      2 * totalA,
    );
    const none = selectStackValues(a, { profileType, startMs: t0Ms + 1, endMs: t0Ms + 9_999 });
    assert.equal(none.profileCount, 0);
    // Label equality through the postings, and a predicate.
    const foo = selectStackValues(a, { profileType, labelEquals: [["foo", "bar"]], ...ALL_TIME });
    const notFoo = selectStackValues(a, {
      profileType,
      match: (labels) => !labels.some(([n, v]) => n === "foo" && v === "bar"),
      ...ALL_TIME,
    });
    const sum = (v: Float64Array) => v.reduce((s, x) => s + x, 0);
    assert.ok(foo.profileCount > 0);
    assert.equal(sum(foo.values) + sum(notFoo.values), 2 * totalA);
  });

  it("span selector keeps only the samples of the given spans", async () => {
    const [dataset] = await buildCorpusBlock([
      { path: "pprof/pyroscope-go-cpu-span-id.pb.gz", service: "s" },
    ]);
    const profileType = profileTypeFor(dataset!, "cpu:nanoseconds");
    const spans = dataset!.profiles.sampleSpanIds;
    assert.ok(spans);
    const some = spans.find((span) => span !== 0n)!;
    let expected = 0;
    const { profiles, index } = dataset!;
    for (let row = 0; row < profiles.profileCount; row++) {
      if (index.seriesProfileType[profiles.seriesIndex[row]!] !== profileType) continue;
      for (let i = profiles.sampleOffsets[row]!; i < profiles.sampleOffsets[row + 1]!; i++) {
        if (spans[i] === some) expected += profiles.sampleValues[i]!;
      }
    }
    const selected = selectStackValues(dataset!, { profileType, spanIds: new Set([some]), ...ALL_TIME });
    assert.equal(
      selected.values.reduce((s, v) => s + v, 0),
      expected,
    );
    assert.ok(expected > 0 && expected < 1320000000);
  });

  it("diff of a profile against itself has no change", async () => {
    const path = "pprof/pyroscope-java-asyncprofiler-cpu.pb.gz";
    const [dataset] = await buildCorpusBlock([{ path, service: "j" }]);
    const query = { profileType: profileTypeFor(dataset!, "cpu:nanoseconds"), ...ALL_TIME };
    const left = treeOf([dataset!], query);
    const right = treeOf([dataset!], query, new NameTable());
    const total = left.totals()[0]!;
    for (const maxNodes of [NO_LIMIT, 64]) {
      const diff = flameGraphDiff(left, right, maxNodes);
      assert.ok(diff.levels.flat().length > 0);
      assert.equal(diff.leftTicks, total);
      assert.equal(diff.rightTicks, total);
      assert.equal(diff.total, 2 * total);
      assert.equal(diff.names[0], "total");
      for (const level of diff.levels) {
        for (let i = 0; i < level.length; i += 7) {
          assert.deepEqual(level.slice(i, i + 3), level.slice(i + 3, i + 6));
        }
      }
      // Unfolded, the left half is exactly the single flame graph of the same tree. (Folded, the
      // two differ as in Pyroscope: the diff's threshold also counts the root.)
      if (maxNodes !== NO_LIMIT) continue;
      const single = flameGraph(left, maxNodes);
      assert.equal(diff.levels.length, single.levels.length);
      diff.levels.forEach((level, d) => {
        const quads: number[] = [];
        for (let i = 0; i < level.length; i += 7)
          quads.push(level[i]!, level[i + 1]!, level[i + 2]!, level[i + 6]!);
        const names = (values: number[], all: string[]) => values.map((v, i) => (i % 4 === 3 ? all[v] : v));
        assert.deepEqual(names(quads, diff.names), names(single.levels[d]!, single.names), `level ${d}`);
      });
    }
  });

  it("pprof output decodes with pprof-format and keeps the total", async () => {
    const path = "pprof/pyroscope-go-heap.pb.gz";
    const [dataset] = await buildCorpusBlock([{ path, service: "svc", metricName: "memory" }]);
    const tops = readManifestTops().get(path)!;
    for (const typeUnit of ["alloc_objects:count", "inuse_space:bytes"]) {
      const profileType = profileTypeFor(dataset!, typeUnit);
      const sums = selectStackValues(dataset!, { profileType, ...ALL_TIME });
      const builder = new PprofBuilder();
      builder.add(dataset!.symbols, sums.values);
      builder.add(dataset!.symbols, sums.values); // a second dataset with the same stacks merges
      const out = builder.build({ profileType, timeNanos: 1n, durationNanos: 10n });
      const decoded = Profile.decode(encodePprof(out));
      const strings = decoded.stringTable.strings;
      assert.equal(decoded.sampleType.length, 1);
      assert.equal(
        `${strings[Number(decoded.sampleType[0]!.type)]}:${strings[Number(decoded.sampleType[0]!.unit)]}`,
        typeUnit,
      );
      let total = 0n;
      for (const sample of decoded.sample) total += BigInt(sample.value[0]!);
      assert.equal(total, 2n * tops.bySampleType.get(typeUnit)!.total);
      const distinctStacks = sums.values.reduce((n, v) => n + (v !== 0 ? 1 : 0), 0);
      assert.equal(decoded.sample.length, distinctStacks);
    }
  });

  it("timing: flame graph of the largest corpus profile", async (t) => {
    const path = "pprof/gpprof-large-cpu.pb.gz";
    const [dataset] = await buildCorpusBlock([{ path, service: "big" }]);
    const typeUnit = dataset!.index.seriesProfileType[0]!.split(":").slice(1, 3).join(":");
    const query = { profileType: profileTypeFor(dataset!, typeUnit), ...ALL_TIME };
    let best = Number.POSITIVE_INFINITY;
    let graph: FlameGraph | undefined;
    for (let run = 0; run < 5; run++) {
      const started = performance.now();
      graph = flameGraph(treeOf([dataset!], query), 8192);
      best = Math.min(best, performance.now() - started);
    }
    const samples = dataset!.profiles.sampleNodes.length;
    t.diagnostic(
      `${path}: ${dataset!.symbols.stacks.nodeCount} stack nodes, ${samples} stored samples (all types), ` +
        `${graph!.names.length} names, ${graph!.levels.length} levels; select+merge+resolve+flamegraph(8192) best of 5: ${best.toFixed(1)} ms`,
    );
    assert.ok(graph!.total > 0);
  });
});

describe("flame graph encoding", () => {
  it("matches the wire reference example", () => {
    const tree = new NameTree();
    tree.addStack(["main"], 10);
    tree.addStack(["main", "work"], 90);
    const graph = flameGraph(tree, 8192);
    assert.deepEqual(graph, {
      names: ["total", "main", "work"],
      levels: [
        [0, 100, 0, 0],
        [0, 100, 10, 1],
        [10, 90, 90, 2],
      ],
      total: 100,
      maxSelf: 90,
    });
  });

  it("orders siblings by name, names by last-child-first visit, and x deltas per level", () => {
    const tree = new NameTree();
    tree.addStack(["b"], 5);
    tree.addStack(["a", "x"], 3);
    tree.addStack(["a", "y"], 2);
    tree.addStack(["b", "x"], 1);
    const graph = flameGraph(tree, 0);
    // Visit: total, b (last child first), b/x, a, a/y, a/x.
    assert.deepEqual(graph.names, ["total", "b", "x", "a", "y"]);
    assert.deepEqual(graph.levels, [
      [0, 11, 0, 0],
      [0, 5, 0, 3, 0, 6, 5, 1],
      // a/x at 0, a/y at 3, b/x at 5 + 5 (b's self first) = 10.
      [0, 3, 3, 2, 0, 2, 2, 4, 5, 1, 1, 2],
    ]);
    const folded = flameGraph(tree, 2);
    // Threshold = 2nd largest total (b = 6, a = 5): only a and b stay; each parent's children fold.
    assert.deepEqual(folded.names, ["total", "b", "other", "a"]);
    assert.deepEqual(folded.levels[2], [0, 5, 5, 2, 5, 1, 1, 2]);
  });

  it("tree bytes round trip and Pyroscope's record order", () => {
    const tree = new NameTree();
    tree.addStack(["a", "b"], 3);
    tree.addStack(["a"], 1);
    const bytes = encodeTreeBytes(tree, 0);
    // virtual root(0 name, self 0, 1 child) → a(self 1, 1 child) → b(self 3, 0 children)
    assert.deepEqual([...bytes], [0, 0, 1, 1, 97, 1, 1, 1, 98, 3, 0]);
    const back = decodeTreeBytes(bytes);
    assert.deepEqual(
      topTable(back).map((e) => [e.name, e.self, e.total]),
      [
        ["a", 1, 4],
        ["b", 3, 3],
      ],
    );
    assert.equal(encodeTreeBytes(new NameTree(), 0).length, 0);
    assert.throws(() => decodeTreeBytes(Uint8Array.of(0, 0, 200)), RangeError);
  });

  it("top table counts a recursive function once per stack", () => {
    const tree = new NameTree();
    tree.addStack(["f", "g", "f"], 4);
    tree.addStack(["f"], 1);
    const top = byName(topTable(tree));
    assert.deepEqual(top.get("f"), { name: "f", self: 5, total: 5 });
    assert.deepEqual(top.get("g"), { name: "g", self: 0, total: 4 });
  });
});
