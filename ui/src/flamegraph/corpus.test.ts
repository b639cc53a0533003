/**
 * The flame graph model on a real profile: a corpus pprof goes through the server's ingest
 * and query code (a real block, the name tree, Pyroscope's level encoding), is sent through
 * JSON as the API client receives it, then decoded here; the top table must reproduce
 * MANIFEST.md's top-10 self and total values, computed independently from the raw pprof.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { flameGraph } from "../../../src/query/flamegraph.ts";
import { mergeDatasetInto } from "../../../src/query/merge.ts";
import { buildCorpusBlock, readManifestTops } from "../../../src/query/test-helpers.ts";
import { NameTree } from "../../../src/query/tree.ts";
import { testdata } from "../../../src/testing/testdata.ts";
import { searchTree } from "./search.ts";
import { topTable } from "./top.ts";
import { decodeFlameGraph } from "./tree.ts";
import type { FlameGraphData } from "./types.ts";

const corpus = testdata("pprof");
const PATH = "pprof/pyroscope-java-asyncprofiler-cpu.pb.gz";
const TYPE_UNIT = "cpu:nanoseconds";

describe("flame graph model on a corpus profile", { skip: corpus.skip }, () => {
  it("decodes the server's flame graph and reproduces the manifest's top functions", async () => {
    const [dataset] = await buildCorpusBlock([{ path: PATH, service: "svc", spyName: "rawspy" }]);
    const profileType = dataset!.index.seriesProfileType.find(
      (id) => id.split(":").slice(1, 3).join(":") === TYPE_UNIT,
    )!;
    const tree = new NameTree();
    mergeDatasetInto(tree, dataset!, { profileType, startMs: 0, endMs: 8.64e15 });
    const wire = flameGraph(tree, 0);
    // As the browser gets it: JSON, int64 values as strings, converted back to numbers.
    const json = JSON.parse(
      JSON.stringify({ ...wire, levels: wire.levels.map((values) => ({ values: values.map(String) })) }),
    ) as { names: string[]; levels: { values: string[] }[]; total: number; maxSelf: number };
    const data: FlameGraphData = {
      names: json.names,
      levels: json.levels.map((level) => level.values.map(Number)),
      total: json.total,
      maxSelf: json.maxSelf,
    };

    const decoded = decodeFlameGraph(data);
    const expected = readManifestTops().get(PATH)!.bySampleType.get(TYPE_UNIT)!;
    assert.equal(BigInt(decoded.rootTotal), expected.total);
    const rows = new Map(topTable(decoded).map((row) => [row.name, row]));
    assert.equal(expected.self.length, 10);
    for (const [name, value] of expected.self) assert.equal(BigInt(rows.get(name)?.self ?? -1), value, name);
    for (const [name, value] of expected.inclusive) {
      assert.equal(BigInt(rows.get(name)?.total ?? -1), value, name);
    }
    // Search share of one function equals its total share.
    const [topName, topTotal] = expected.inclusive[0]!;
    const search = searchTree(decoded, `/^${topName.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}$/`);
    assert.equal(search.matchedTotal, Number(topTotal));
  });
});
