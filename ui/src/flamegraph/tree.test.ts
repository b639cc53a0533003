import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { diffGraph, recursiveGraph } from "./fixtures.ts";
import { decodeFlameGraph, nodeAtPath, pathOf } from "./tree.ts";

describe("decodeFlameGraph", () => {
  it("decodes quadruples into absolute x, parents and contiguous children", () => {
    const tree = decodeFlameGraph(recursiveGraph);
    assert.equal(tree.nodeCount, 6);
    assert.deepEqual([...tree.x], [0, 0, 60, 10, 40, 45]);
    assert.deepEqual([...tree.total], [100, 60, 40, 30, 20, 15]);
    assert.deepEqual([...tree.self], [0, 10, 40, 30, 5, 15]);
    assert.deepEqual([...tree.depth], [0, 1, 1, 2, 2, 3]);
    assert.deepEqual([...tree.parent], [-1, 0, 0, 1, 1, 4]);
    assert.deepEqual([...tree.firstChild.slice(0, 2)], [1, 3]);
    assert.deepEqual([...tree.childCount], [2, 2, 0, 0, 1, 0]);
    assert.deepEqual([...tree.levelStart], [0, 1, 3, 5, 6]);
    assert.deepEqual([...tree.subtreeMaxDepth], [3, 3, 1, 2, 3, 3]);
    assert.equal(tree.rootTotal, 100);
    assert.equal(tree.diff, null);
  });

  it("lays a diff out on the combined ticks and keeps each side", () => {
    const tree = decodeFlameGraph(diffGraph);
    assert.deepEqual([...tree.x], [0, 0, 100, 220, 240]);
    assert.deepEqual([...tree.total], [300, 100, 120, 20, 60]);
    assert.deepEqual([...tree.parent], [-1, 0, 0, 0, 0]);
    assert.deepEqual([...tree.diff!.leftTotal], [100, 50, 30, 20, 0]);
    assert.deepEqual([...tree.diff!.rightTotal], [200, 50, 90, 0, 60]);
    assert.equal(tree.diff!.leftTicks, 100);
    assert.equal(tree.diff!.rightTicks, 200);
  });

  it("gives a one-node tree for an empty flame graph", () => {
    const tree = decodeFlameGraph({ names: [], levels: [], total: 0, maxSelf: 0 });
    assert.equal(tree.nodeCount, 1);
    assert.equal(tree.rootTotal, 0);
    assert.equal(tree.childCount[0], 0);
  });

  it("maps nodes to focus paths and back", () => {
    const tree = decodeFlameGraph(recursiveGraph);
    assert.deepEqual(pathOf(tree, 5), ["a", "c", "a"]);
    assert.equal(nodeAtPath(tree, ["a", "c", "a"]), 5);
    assert.equal(nodeAtPath(tree, null), 0);
    // A path that no longer matches stops at the deepest node it reached.
    assert.equal(nodeAtPath(tree, ["a", "zzz"]), 1);
  });
});
