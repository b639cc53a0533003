/**
 * Decodes Pyroscope's level encodings (wire reference §4.4) into a flat node table of typed
 * arrays, computed once per data set so that layout, search and tables never touch the wire
 * form again.
 *
 * Nodes are numbered level by level, left to right (node 0 is the root). Within a level the
 * nodes are ordered by x and parents' ranges do not overlap, so the children of a node are a
 * contiguous run of the next level: `firstChild[i] .. firstChild[i] + childCount[i]`.
 *
 * A diff (7-tuples) is laid out on the combined ticks of both sides, as Pyroscope draws it:
 * a node's width is total_left + total_right and its x is x_left + x_right (both sides place
 * self first, then the children in the same order, so the sums nest the same way).
 */
import type { FlameGraphData, FlameGraphDiffData } from "./types.ts";
import { isDiffData } from "./types.ts";

/** Per-node values of each side of a diff. */
export interface DiffSides {
  leftTotal: Float64Array;
  leftSelf: Float64Array;
  rightTotal: Float64Array;
  rightSelf: Float64Array;
  leftTicks: number;
  rightTicks: number;
}

export interface FlameTree {
  names: readonly string[];
  nodeCount: number;
  depth: Int32Array;
  /** Absolute start in ticks. */
  x: Float64Array;
  total: Float64Array;
  self: Float64Array;
  /** Index into `names`. */
  name: Int32Array;
  /** -1 for the root. */
  parent: Int32Array;
  firstChild: Int32Array;
  childCount: Int32Array;
  /** levelStart[d] = first node of depth d; levelStart[levelCount] = nodeCount. */
  levelStart: Int32Array;
  levelCount: number;
  /** Deepest depth found in each node's subtree (the node's own depth when it is a leaf). */
  subtreeMaxDepth: Int32Array;
  /** Root total (for a diff: left + right ticks). */
  rootTotal: number;
  diff: DiffSides | null;
}

const SINGLE_WIDTH = 4;
const DIFF_WIDTH = 7;

/** Decodes a FlameGraph or FlameGraphDiff. Empty input gives a one-node tree of total 0. */
export function decodeFlameGraph(data: FlameGraphData | FlameGraphDiffData): FlameTree {
  const diff = isDiffData(data);
  const width = diff ? DIFF_WIDTH : SINGLE_WIDTH;
  let nodeCount = 0;
  for (const level of data.levels) nodeCount += Math.floor(level.length / width);
  const empty = nodeCount === 0;
  if (empty) nodeCount = 1;

  const depth = new Int32Array(nodeCount);
  const x = new Float64Array(nodeCount);
  const total = new Float64Array(nodeCount);
  const self = new Float64Array(nodeCount);
  const name = new Int32Array(nodeCount);
  const parent = new Int32Array(nodeCount).fill(-1);
  const firstChild = new Int32Array(nodeCount);
  const childCount = new Int32Array(nodeCount);
  const levelCount = empty ? 1 : data.levels.length;
  const levelStart = new Int32Array(levelCount + 1);
  const sides: DiffSides | null = diff
    ? {
        leftTotal: new Float64Array(nodeCount),
        leftSelf: new Float64Array(nodeCount),
        rightTotal: new Float64Array(nodeCount),
        rightSelf: new Float64Array(nodeCount),
        leftTicks: data.leftTicks,
        rightTicks: data.rightTicks,
      }
    : null;

  let node = 0;
  if (!empty) {
    for (let d = 0; d < levelCount; d++) {
      const level = data.levels[d]!;
      levelStart[d] = node;
      let endLeft = 0;
      let endRight = 0;
      for (let i = 0; i + width <= level.length; i += width) {
        depth[node] = d;
        if (sides) {
          const xl = endLeft + level[i]!;
          const tl = level[i + 1]!;
          const xr = endRight + level[i + 3]!;
          const tr = level[i + 4]!;
          endLeft = xl + tl;
          endRight = xr + tr;
          sides.leftTotal[node] = tl;
          sides.leftSelf[node] = level[i + 2]!;
          sides.rightTotal[node] = tr;
          sides.rightSelf[node] = level[i + 5]!;
          x[node] = xl + xr;
          total[node] = tl + tr;
          self[node] = level[i + 2]! + level[i + 5]!;
          name[node] = level[i + 6]!;
        } else {
          const start = endLeft + level[i]!;
          x[node] = start;
          total[node] = level[i + 1]!;
          self[node] = level[i + 2]!;
          name[node] = level[i + 3]!;
          endLeft = start + level[i + 1]!;
        }
        node++;
      }
    }
  }
  levelStart[levelCount] = nodeCount;
  linkParents(levelStart, levelCount, x, parent, firstChild, childCount);

  const subtreeMaxDepth = Int32Array.from(depth);
  for (let i = nodeCount - 1; i > 0; i--) {
    const p = parent[i]!;
    if (p >= 0 && subtreeMaxDepth[i]! > subtreeMaxDepth[p]!) subtreeMaxDepth[p] = subtreeMaxDepth[i]!;
  }
  const rootTotal = empty ? 0 : total[0]!;
  return {
    names: data.names.length > 0 ? data.names : ["total"],
    nodeCount,
    depth,
    x,
    total,
    self,
    name,
    parent,
    firstChild,
    childCount,
    levelStart,
    levelCount,
    subtreeMaxDepth,
    rootTotal,
    diff: sides,
  };
}

/**
 * The parent of a node is the last node of the level above that starts at or before it (the
 * encoding places children inside their parent's range, after its self). One pass per level
 * with a moving pointer, so linear in the node count.
 */
function linkParents(
  levelStart: Int32Array,
  levelCount: number,
  x: Float64Array,
  parent: Int32Array,
  firstChild: Int32Array,
  childCount: Int32Array,
): void {
  for (let d = 1; d < levelCount; d++) {
    const parentsStart = levelStart[d - 1]!;
    const parentsEnd = levelStart[d]!;
    let p = parentsStart;
    for (let i = levelStart[d]!; i < levelStart[d + 1]!; i++) {
      while (p + 1 < parentsEnd && x[p + 1]! <= x[i]!) p++;
      parent[i] = p;
      if (childCount[p] === 0) firstChild[p] = i;
      childCount[p]!++;
    }
  }
}

/** The node's frame names from the root's child down to the node itself. */
export function pathOf(tree: FlameTree, node: number): string[] {
  const out: string[] = [];
  for (let n = node; n > 0; n = tree.parent[n]!) out.push(tree.names[tree.name[n]!]!);
  return out.reverse();
}

/**
 * The node reached by following `path` (frame names below the root) from the root, or the
 * deepest node reached when the path no longer matches (null path: the root).
 */
export function nodeAtPath(tree: FlameTree, path: readonly string[] | null): number {
  let node = 0;
  if (!path) return node;
  for (const frame of path) {
    const start = tree.firstChild[node]!;
    const end = start + tree.childCount[node]!;
    let next = -1;
    for (let c = start; c < end; c++) {
      if (tree.names[tree.name[c]!] === frame) {
        next = c;
        break;
      }
    }
    if (next < 0) break;
    node = next;
  }
  return node;
}

/** Index of each name text (the first index when the wire repeats a name). */
export function nameIndexByText(tree: FlameTree): Map<string, number> {
  const out = new Map<string, number>();
  tree.names.forEach((text, index) => {
    if (!out.has(text)) out.set(text, index);
  });
  return out;
}
