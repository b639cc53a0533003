/**
 * Pyroscope's flame graph encodings (wire reference §4.4) from a name tree, node for node as
 * Pyroscope builds them (pkg/model/flamegraph.go, flamegraph_diff.go), so names order, level
 * order, `other` folding and `max_self` match its output exactly:
 *
 * - names[0] = "total"; other names in first-visit order of a depth-first walk that visits the
 *   last (by name) child first. Names are deduplicated by text.
 * - levels[d] = quadruples [x_delta, total, self, name] left to right; a node's self comes
 *   first on the x axis, then its children in name order, then a synthetic `other`.
 * - max_nodes: the threshold is the max_nodes-th largest node total (Pyroscope's minValue); a
 *   child with a smaller total (or named "other") is folded into its parent's `other` child
 *   (self = total = the folded totals' sum), which is emitted when that sum is not 0.
 *
 * Values are numbers; the wire layer converts them to int64.
 */
import { KilnError } from "../model/errors.ts";
import { type ChildIndex, childrenByName, type NameTable, NameTree, type NameTreeView } from "./tree.ts";

export const OTHER_NAME = "other";
const ROOT_NAME = "total";

export interface FlameGraph {
  names: string[];
  /** Per depth, flat [x_delta, total, self, name_index] quadruples. */
  levels: number[][];
  total: number;
  maxSelf: number;
}

export interface FlameGraphDiff {
  names: string[];
  /** Per depth, flat [x_delta_l, total_l, self_l, x_delta_r, total_r, self_r, name] 7-tuples. */
  levels: number[][];
  /** leftTicks + rightTicks. */
  total: number;
  maxSelf: number;
  leftTicks: number;
  rightTicks: number;
}

/** A name tree with its totals and name-ordered children, computed once per result. */
export interface PreparedTree {
  tree: NameTree;
  view: NameTreeView;
  totals: Float64Array;
  index: ChildIndex;
}

export function prepareTree(tree: NameTree): PreparedTree {
  const view = tree.view();
  return { tree, view, totals: tree.totals(), index: childrenByName(view, tree.names.ranks()) };
}

/**
 * The smallest total a node needs to be kept so that about `maxNodes` nodes remain: the
 * `maxNodes`-th largest total, 0 (keep all) when the tree (root excluded) has at most
 * `maxNodes` nodes or `maxNodes` < 1. Walks like Pyroscope's minValue (a min-heap of the
 * best totals, skipping subtrees that cannot enter), so negative totals give the same answer.
 */
export function minTotal(prepared: PreparedTree, maxNodes: number): number {
  const { view, totals, index } = prepared;
  const nodeCount = view.nodeCount;
  if (maxNodes < 1 || nodeCount - 1 <= maxNodes) return 0;
  const heap = new Float64Array(maxNodes);
  let heapSize = 0;
  // Each node is pushed at most once, so nodeCount bounds the stack.
  const stack = new Int32Array(nodeCount);
  let top = 0;
  const { offsets, children } = index;
  for (let c = offsets[0]!; c < offsets[1]!; c++) stack[top++] = children[c]!;
  while (top > 0) {
    const node = stack[--top]!;
    const total = totals[node]!;
    if (heapSize >= maxNodes) {
      if (!(total > heap[0]!)) continue;
      heap[0] = total;
      siftDown(heap, heapSize, 0);
    } else {
      heap[heapSize] = total;
      siftUp(heap, heapSize++);
    }
    for (let c = offsets[node]!; c < offsets[node + 1]!; c++) stack[top++] = children[c]!;
  }
  return heapSize < maxNodes ? 0 : heap[0]!;
}

function siftUp(heap: Float64Array, at: number): void {
  const value = heap[at]!;
  while (at > 0) {
    const up = (at - 1) >> 1;
    if (!(heap[up]! > value)) break;
    heap[at] = heap[up]!;
    at = up;
  }
  heap[at] = value;
}

function siftDown(heap: Float64Array, size: number, at: number): void {
  const value = heap[at]!;
  for (;;) {
    let child = 2 * at + 1;
    if (child >= size) break;
    if (child + 1 < size && heap[child + 1]! < heap[child]!) child++;
    if (!(heap[child]! < value)) break;
    heap[at] = heap[child]!;
    at = child;
  }
  heap[at] = value;
}

/** Output names, deduplicated by text, in first-visit order; "total" is the root's. */
class NameOutput {
  readonly names: string[] = [];
  readonly #byText = new Map<string, number>();
  readonly #byId: Int32Array;
  readonly #table: NameTable;

  constructor(table: NameTable) {
    this.#table = table;
    this.#byId = new Int32Array(table.count).fill(-1);
  }

  /**
   * Registers the root as names[0] = "total" under the lookup key `key`: the single flame
   * graph keys it as "total" (a function named "total" shares index 0), the diff as "".
   */
  root(key: string): void {
    this.names.push(ROOT_NAME);
    this.#byText.set(key, 0);
  }

  text(name: string): number {
    let index = this.#byText.get(name);
    if (index === undefined) {
      index = this.names.length;
      this.names.push(name);
      this.#byText.set(name, index);
    }
    return index;
  }

  id(nameId: number): number {
    let index = this.#byId[nameId]!;
    if (index < 0) {
      index = this.text(this.#table.names[nameId]!);
      this.#byId[nameId] = index;
    }
    return index;
  }
}

/** Reverses the tuples of every level (they were collected right to left) and delta-encodes x. */
function finishLevels(levels: number[][], width: number, xFields: readonly number[]): void {
  for (const level of levels) {
    const tuples = level.length / width;
    for (let i = 0, j = tuples - 1; i < j; i++, j--) {
      for (let f = 0; f < width; f++) {
        const a = i * width + f;
        const b = j * width + f;
        const t = level[a]!;
        level[a] = level[b]!;
        level[b] = t;
      }
    }
    for (const x of xFields) {
      let previousEnd = 0;
      for (let i = x; i < level.length; i += width) {
        const start = level[i]!;
        level[i] = start - previousEnd;
        previousEnd = start + level[i + 1]!;
      }
    }
  }
}

/** Encodes `tree` as a FlameGraph, folding into `other` beyond `maxNodes` (< 1: no limit). */
export function flameGraph(tree: NameTree | PreparedTree, maxNodes: number): FlameGraph {
  const prepared = tree instanceof NameTree ? prepareTree(tree) : tree;
  const { view, totals, index } = prepared;
  const { offsets, children } = index;
  const threshold = minTotal(prepared, maxNodes);
  const out = new NameOutput(prepared.tree.names);
  const otherName = prepared.tree.names.find(OTHER_NAME);
  const levels: number[][] = [];
  let maxSelf = 0;
  // Depth-first, last child first; the stack holds node ids, or -1 - k for the k-th `other`.
  const capacity = 2 * view.nodeCount;
  const stackNode = new Int32Array(capacity);
  const stackX = new Float64Array(capacity);
  const stackDepth = new Int32Array(capacity);
  const otherValues: number[] = [];
  let top = 0;
  stackNode[top] = 0;
  stackX[top] = 0;
  stackDepth[top++] = 0;
  out.root(ROOT_NAME);
  while (top > 0) {
    top--;
    const node = stackNode[top]!;
    let x = stackX[top]!;
    const depth = stackDepth[top]!;
    let total: number;
    let self: number;
    let nameIndex: number;
    if (node < 0) {
      total = self = otherValues[-1 - node]!;
      nameIndex = out.text(OTHER_NAME);
    } else {
      total = totals[node]!;
      self = view.self[node]!;
      nameIndex = node === 0 ? 0 : out.id(view.name[node]!);
    }
    if (self > maxSelf) maxSelf = self;
    if (depth === levels.length) levels.push([]);
    levels[depth]!.push(x, total, self, nameIndex);
    if (node < 0) continue;
    x += self;
    let other = 0;
    for (let c = offsets[node]!; c < offsets[node + 1]!; c++) {
      const child = children[c]!;
      const childTotal = totals[child]!;
      if (childTotal >= threshold && view.name[child] !== otherName) {
        stackNode[top] = child;
        stackX[top] = x;
        stackDepth[top++] = depth + 1;
        x += childTotal;
      } else {
        other += childTotal;
      }
    }
    if (other !== 0) {
      otherValues.push(other);
      stackNode[top] = -otherValues.length;
      stackX[top] = x;
      stackDepth[top++] = depth + 1;
    }
  }
  finishLevels(levels, 4, [0]);
  return { names: out.names, levels, total: totals[0]!, maxSelf };
}

/**
 * Encodes the difference of two trees as a FlameGraphDiff: both trees are aligned on one
 * shape (a node missing on one side has 0 there); a node is kept when either side's total
 * reaches the threshold, the `maxNodes`-th largest of max(left, right) over the aligned nodes
 * (root included, as Pyroscope counts it). Rejects trees with a negative self, as Pyroscope.
 */
export function flameGraphDiff(left: NameTree, right: NameTree, maxNodes: number): FlameGraphDiff {
  const aligned = new NameTree(left.names);
  const leftMap = aligned.merge(left, false);
  const rightMap = aligned.merge(right, false);
  const view = aligned.view();
  const n = view.nodeCount;
  const leftSelf = new Float64Array(n);
  const rightSelf = new Float64Array(n);
  scatterSelf(left, leftMap, leftSelf, "left");
  scatterSelf(right, rightMap, rightSelf, "right");
  const leftTotal = totalsOf(view, leftSelf);
  const rightTotal = totalsOf(view, rightSelf);
  const { offsets, children } = childrenByName(view, aligned.names.ranks());

  let threshold = 0;
  if (maxNodes >= 1 && n > maxNodes) {
    const larger = new Float64Array(n);
    for (let i = 0; i < n; i++) larger[i] = Math.max(leftTotal[i]!, rightTotal[i]!);
    larger.sort();
    threshold = larger[n - maxNodes]!;
  }

  const out = new NameOutput(aligned.names);
  const otherName = aligned.names.find(OTHER_NAME);
  const levels: number[][] = [];
  let maxSelf = 0;
  const capacity = 2 * n;
  const stackNode = new Int32Array(capacity);
  const stackXL = new Float64Array(capacity);
  const stackXR = new Float64Array(capacity);
  const stackDepth = new Int32Array(capacity);
  const otherLeft: number[] = [];
  const otherRight: number[] = [];
  let top = 0;
  stackNode[top] = 0;
  stackDepth[top++] = 0;
  out.root("");
  while (top > 0) {
    top--;
    const node = stackNode[top]!;
    let xl = stackXL[top]!;
    let xr = stackXR[top]!;
    const depth = stackDepth[top]!;
    let tl: number;
    let sl: number;
    let tr: number;
    let sr: number;
    let nameIndex: number;
    let isOther: boolean;
    if (node < 0) {
      tl = sl = otherLeft[-1 - node]!;
      tr = sr = otherRight[-1 - node]!;
      nameIndex = out.text(OTHER_NAME);
      isOther = true;
    } else {
      tl = leftTotal[node]!;
      sl = leftSelf[node]!;
      tr = rightTotal[node]!;
      sr = rightSelf[node]!;
      isOther = node !== 0 && view.name[node] === otherName;
      nameIndex = node === 0 ? 0 : out.id(view.name[node]!);
    }
    if (!(tl >= threshold || tr >= threshold || isOther)) continue;
    if (sl > maxSelf) maxSelf = sl;
    if (sr > maxSelf) maxSelf = sr;
    if (depth === levels.length) levels.push([]);
    levels[depth]!.push(xl, tl, sl, xr, tr, sr, nameIndex);
    if (node < 0) continue;
    xl += sl;
    xr += sr;
    let foldedLeft = 0;
    let foldedRight = 0;
    for (let c = offsets[node]!; c < offsets[node + 1]!; c++) {
      const child = children[c]!;
      const cl = leftTotal[child]!;
      const cr = rightTotal[child]!;
      if (cl >= threshold || cr >= threshold) {
        stackNode[top] = child;
        stackXL[top] = xl;
        stackXR[top] = xr;
        stackDepth[top++] = depth + 1;
        xl += cl;
        xr += cr;
      } else {
        foldedLeft += cl;
        foldedRight += cr;
      }
    }
    if (foldedLeft !== 0 || foldedRight !== 0) {
      otherLeft.push(foldedLeft);
      otherRight.push(foldedRight);
      stackNode[top] = -otherLeft.length;
      stackXL[top] = xl;
      stackXR[top] = xr;
      stackDepth[top++] = depth + 1;
    }
  }
  finishLevels(levels, 7, [0, 3]);
  const leftTicks = leftTotal[0]!;
  const rightTicks = rightTotal[0]!;
  return { names: out.names, levels, total: leftTicks + rightTicks, maxSelf, leftTicks, rightTicks };
}

function scatterSelf(tree: NameTree, map: Int32Array, into: Float64Array, side: string): void {
  const self = tree.view().self;
  for (let i = 1; i < map.length; i++) {
    const value = self[i]!;
    if (value < 0) {
      throw new KilnError(
        "invalid_argument",
        "negative_diff_values",
        `diff: the ${side} tree has a negative self value (${value}); diffs need non-negative profiles`,
      );
    }
    into[map[i]!]! += value;
  }
}

function totalsOf(view: NameTreeView, self: Float64Array): Float64Array {
  const total = self.slice();
  for (let i = view.nodeCount - 1; i > 0; i--) total[view.parent[i]!]! += total[i]!;
  return total;
}

/** One decoded flame graph node (for tests, tools and the merge of encoded partial results). */
export interface FlameGraphNode {
  depth: number;
  x: number;
  total: number;
  self: number;
  name: string;
  /** Names root-most first, excluding "total". */
  path: string[];
}

/**
 * Decodes the levels back to nodes with absolute x and their paths (the parent of a node is
 * the node one level up whose [x, x + total) contains it). Bounded by the input size.
 */
export function decodeFlameGraph(graph: FlameGraph): FlameGraphNode[] {
  const out: FlameGraphNode[] = [];
  let previous: FlameGraphNode[] = [];
  graph.levels.forEach((level, depth) => {
    const current: FlameGraphNode[] = [];
    let end = 0;
    let parentAt = 0;
    for (let i = 0; i < level.length; i += 4) {
      const x = end + level[i]!;
      const total = level[i + 1]!;
      end = x + total;
      const name = graph.names[level[i + 3]!]!;
      while (parentAt + 1 < previous.length && previous[parentAt + 1]!.x <= x) parentAt++;
      const parent = previous[parentAt];
      const path = depth === 0 ? [] : [...(parent?.path ?? []), name];
      const node = { depth, x, total, self: level[i + 2]!, name, path };
      current.push(node);
      out.push(node);
    }
    previous = current;
  });
  return out;
}
