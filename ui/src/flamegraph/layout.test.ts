import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { recursiveGraph } from "./fixtures.ts";
import { FlameLayout } from "./layout.ts";
import { decodeFlameGraph } from "./tree.ts";

function entries(layout: FlameLayout): [number, number, number, number][] {
  const out: [number, number, number, number][] = [];
  for (let e = 0; e < layout.count; e++) {
    const r = layout.rectOf(e);
    out.push([layout.node[e]!, r.x, r.w, r.y]);
  }
  return out;
}

describe("FlameLayout", () => {
  const tree = decodeFlameGraph(recursiveGraph);

  it("places every node by its ticks at the root focus (icicle: root on top)", () => {
    const layout = new FlameLayout(tree);
    layout.compute({ focus: 0, widthPx: 1000, orientation: "icicle", rowHeightPx: 20 });
    assert.equal(layout.rowCount, 4);
    assert.equal(layout.heightPx, 80);
    assert.deepEqual(entries(layout), [
      [0, 0, 1000, 0],
      [1, 0, 600, 20],
      [2, 600, 400, 20],
      [3, 100, 300, 40],
      [4, 400, 200, 40],
      [5, 450, 150, 60],
    ]);
  });

  it("puts the root at the bottom in flame orientation", () => {
    const layout = new FlameLayout(tree);
    layout.compute({ focus: 0, widthPx: 1000, orientation: "flame", rowHeightPx: 20 });
    assert.deepEqual(layout.rectOf(0), { x: 0, y: 60, w: 1000, h: 20 });
    assert.deepEqual(layout.rectOf(5), { x: 450, y: 0, w: 150, h: 20 });
  });

  it("spreads the focused node over the width, ancestors collapsed above, other branches hidden", () => {
    const layout = new FlameLayout(tree);
    layout.compute({ focus: 4, widthPx: 1000, orientation: "icicle", rowHeightPx: 20 });
    assert.equal(layout.focusDepth, 2);
    assert.deepEqual(entries(layout), [
      [0, 0, 1000, 0],
      [1, 0, 1000, 20],
      [4, 0, 1000, 40],
      [5, 250, 750, 60],
    ]);
    // The height stays that of the whole tree; a leaf focus leaves the rows below it empty.
    layout.compute({ focus: 2, widthPx: 1000, orientation: "icicle", rowHeightPx: 20 });
    assert.equal(layout.rowCount, 4);
    assert.equal(layout.rowStart[2], layout.rowStart[4]);
    assert.deepEqual(
      entries(layout).map((e) => e[0]),
      [0, 2],
    );
  });

  it("skips nodes narrower than the minimum width, with their subtrees", () => {
    const layout = new FlameLayout(tree);
    // 0.1 px per tick: a 6, d 4, b 3, c 2, inner a 1.5.
    layout.compute({ focus: 0, widthPx: 10, orientation: "icicle", minWidthPx: 2 });
    assert.deepEqual(
      entries(layout).map((e) => e[0]),
      [0, 1, 2, 3, 4],
    );
    layout.compute({ focus: 0, widthPx: 10, orientation: "icicle", minWidthPx: 3.5 });
    assert.deepEqual(
      entries(layout).map((e) => e[0]),
      [0, 1, 2],
    );
  });

  it("hit-tests points to nodes in both orientations", () => {
    const layout = new FlameLayout(tree);
    layout.compute({ focus: 0, widthPx: 1000, orientation: "icicle", rowHeightPx: 20 });
    assert.equal(layout.hitTest(460, 61), 5);
    assert.equal(layout.hitTest(599, 21), 1);
    assert.equal(layout.hitTest(600, 21), 2);
    assert.equal(layout.hitTest(50, 41), -1, "a's self: no child there");
    assert.equal(layout.hitTest(10, 85), -1, "below the last row");
    layout.compute({ focus: 0, widthPx: 1000, orientation: "flame", rowHeightPx: 20 });
    assert.equal(layout.hitTest(460, 1), 5);
    assert.equal(layout.hitTest(460, 79), 0);
  });
});
