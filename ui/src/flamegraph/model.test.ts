import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { changedMost, diffTable, nodeDiffSteps } from "./diff.ts";
import { diffGraph, recursiveGraph } from "./fixtures.ts";
import { fixturesSandwich } from "./model-test-helpers.ts";
import { sandwich } from "./sandwich.ts";
import { nameMatcher, searchTree } from "./search.ts";
import { sortTopRows, topTable } from "./top.ts";
import { decodeFlameGraph } from "./tree.ts";

describe("search", () => {
  const tree = decodeFlameGraph(recursiveGraph);

  it("matches substrings case-insensitively and never the root", () => {
    const result = searchTree(tree, "A");
    assert.equal(result.functionCount, 1);
    assert.equal(result.matchedNodeCount, 2);
    assert.deepEqual([...result.nodeMatches], [0, 1, 0, 0, 0, 1]);
    // The inner a (15) is inside the outer a (60): counted once.
    assert.equal(result.matchedTotal, 60);
    assert.equal(result.share, 0.6);
  });

  it("sums separate matches and accepts /regex/", () => {
    const result = searchTree(tree, "/^[bd]$/");
    assert.equal(result.functionCount, 2);
    assert.equal(result.matchedTotal, 70);
    assert.equal(result.share, 0.7);
  });

  it("reports an invalid regex and matches nothing", () => {
    const result = searchTree(tree, "/(/");
    assert.equal(result.matcher.valid, false);
    assert.equal(result.matchedNodeCount, 0);
    assert.equal(nameMatcher("").empty, true);
  });
});

describe("topTable", () => {
  it("sums self per name and counts a recursive function's total once per stack", () => {
    const rows = topTable(decodeFlameGraph(recursiveGraph));
    const byName = Object.fromEntries(rows.map((r) => [r.name, [r.self, r.total]]));
    assert.deepEqual(byName, { a: [25, 60], b: [30, 30], c: [5, 20], d: [40, 40] });
  });

  it("sorts by value descending with name ties, or by name", () => {
    const rows = topTable(decodeFlameGraph(recursiveGraph));
    assert.deepEqual(
      sortTopRows(rows, "self").map((r) => r.name),
      ["d", "b", "a", "c"],
    );
    assert.deepEqual(
      sortTopRows(rows, "total").map((r) => r.name),
      ["a", "d", "b", "c"],
    );
    assert.deepEqual(
      sortTopRows(rows, "name").map((r) => r.name),
      ["a", "b", "c", "d"],
    );
  });
});

describe("sandwich", () => {
  const tree = decodeFlameGraph(recursiveGraph);

  it("builds the callers (inverted) and callees trees of a function", () => {
    const { callers, callees } = fixturesSandwich(tree, "c");
    assert.deepEqual(callers, [
      ["c", 20, 0],
      ["c;a", 20, 20],
    ]);
    assert.deepEqual(callees, [
      ["c", 20, 5],
      ["c;a", 15, 15],
    ]);
  });

  it("starts at the outermost occurrence of a recursive function", () => {
    const { callers, callees } = fixturesSandwich(tree, "a");
    assert.deepEqual(callers, [["a", 60, 60]]);
    assert.deepEqual(callees, [
      ["a", 60, 10],
      ["a;b", 30, 30],
      ["a;c", 20, 5],
      ["a;c;a", 15, 15],
    ]);
  });

  it("gives trees whose root totals equal the function's top-table total", () => {
    const rows = topTable(tree);
    for (const row of rows) {
      const result = sandwich(tree, row.name);
      assert.equal(result.callers.total, row.total, `callers of ${row.name}`);
      assert.equal(result.callees.total, row.total, `callees of ${row.name}`);
    }
  });
});

describe("diff model", () => {
  const tree = decodeFlameGraph(diffGraph);

  it("colours each node by the relative change of its share", () => {
    // root unchanged; a −50%; b +50%; e left-only (−100%); f right-only (new).
    assert.deepEqual([...nodeDiffSteps(tree)], [0, -5, 5, -10, 10]);
  });

  it("lists the functions that changed most by absolute change in share", () => {
    const rows = changedMost(diffTable(tree));
    assert.deepEqual(
      rows.map((r) => r.name),
      ["f", "a", "e", "b"],
    );
    const f = rows[0]!;
    assert.equal(f.leftShare, 0);
    assert.equal(f.rightShare, 0.3);
    assert.equal(f.relative, Number.POSITIVE_INFINITY);
    const a = rows[1]!;
    assert.deepEqual(
      [a.leftTotal, a.rightTotal, a.leftShare, a.rightShare, a.relative],
      [50, 50, 0.5, 0.25, -0.5],
    );
  });
});
