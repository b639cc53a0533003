/**
 * Small hand-made flame graphs for the unit tests, written out in the wire encoding so that
 * decoding is tested against values worked out by hand.
 */
import type { FlameGraphData, FlameGraphDiffData } from "./types.ts";

/**
 * total(100) ─ a(60, self 10) ─ b(30, self 30)
 *                             └ c(20, self 5) ─ a(15, self 15)   (a recursion)
 *           └ d(40, self 40)
 * Node ids (level order): 0 total, 1 a, 2 d, 3 b, 4 c, 5 a.
 * x: a 0, d 60, b 10, c 40, inner a 45.
 */
export const recursiveGraph: FlameGraphData = {
  names: ["total", "a", "b", "c", "d"],
  levels: [
    [0, 100, 0, 0],
    [0, 60, 10, 1, 0, 40, 40, 4],
    [10, 30, 30, 2, 0, 20, 5, 3],
    [45, 15, 15, 1],
  ],
  total: 100,
  maxSelf: 40,
};

/**
 * Left (100 ticks): a 50, b 30, e 20. Right (200 ticks): a 50, b 90, f 60 (all self).
 * Shares left → right: a 0.5 → 0.25 (−50%), b 0.3 → 0.45 (+50%), e 0.2 → 0 (gone), f 0 → 0.3 (new).
 * Combined widths: a 100, b 120, e 20, f 60; x: 0, 100, 220, 240.
 */
export const diffGraph: FlameGraphDiffData = {
  names: ["total", "a", "b", "e", "f"],
  levels: [
    [0, 100, 0, 0, 200, 0, 0],
    [0, 50, 50, 0, 50, 50, 1, 0, 30, 30, 0, 90, 90, 2, 0, 20, 20, 0, 0, 0, 3, 0, 0, 0, 0, 60, 60, 4],
  ],
  total: 300,
  maxSelf: 90,
  leftTicks: 100,
  rightTicks: 200,
};
