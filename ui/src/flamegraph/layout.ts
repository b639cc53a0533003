/**
 * Viewport layout: which nodes are visible for a focus node and a width, and where.
 *
 * The focused node spans the full width; its ancestors are shown above it (below it in flame
 * orientation) collapsed to the full width too, like Pyroscope and speedscope. Descendants
 * are walked level by level from the visible nodes only, and a node narrower than
 * `minWidthPx` is skipped with its whole subtree (its children are narrower still), so the
 * work per layout is proportional to what is drawn, not to the tree size.
 *
 * Buffers are allocated once per tree and reused for every layout.
 */
import type { FlameTree } from "./tree.ts";

export type Orientation = "icicle" | "flame";

/** Nodes narrower than this are not laid out (about one device pixel at DPR 2). */
export const MIN_NODE_WIDTH_PX = 0.5;
export const ROW_HEIGHT_PX = 18;

export interface LayoutParams {
  focus: number;
  widthPx: number;
  orientation: Orientation;
  rowHeightPx?: number;
  minWidthPx?: number;
}

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export class FlameLayout {
  readonly tree: FlameTree;
  /** Laid-out entries, row by row (depth ascending), left to right within a row. */
  count = 0;
  readonly node: Int32Array;
  readonly xPx: Float64Array;
  readonly widthPx: Float64Array;
  /** rowStart[d] .. rowStart[d + 1] are the entries of depth d (length rowCount + 1). */
  rowStart: Int32Array = new Int32Array(1);
  rowCount = 0;
  focus = 0;
  focusDepth = 0;
  orientation: Orientation = "icicle";
  rowHeightPx = ROW_HEIGHT_PX;
  viewWidthPx = 0;

  constructor(tree: FlameTree) {
    this.tree = tree;
    this.node = new Int32Array(tree.nodeCount);
    this.xPx = new Float64Array(tree.nodeCount);
    this.widthPx = new Float64Array(tree.nodeCount);
  }

  get heightPx(): number {
    return this.rowCount * this.rowHeightPx;
  }

  compute(params: LayoutParams): void {
    const tree = this.tree;
    const focus = params.focus >= 0 && params.focus < tree.nodeCount ? params.focus : 0;
    const widthPx = Math.max(0, params.widthPx);
    const minWidthPx = params.minWidthPx ?? MIN_NODE_WIDTH_PX;
    this.focus = focus;
    this.focusDepth = tree.depth[focus]!;
    this.orientation = params.orientation;
    this.rowHeightPx = params.rowHeightPx ?? ROW_HEIGHT_PX;
    this.viewWidthPx = widthPx;
    // Every depth keeps its row whatever the focus, so zooming never changes the graph's
    // height: the page does not jump and the canvas is not reallocated.
    this.rowCount = tree.levelCount;
    if (this.rowStart.length < this.rowCount + 1) this.rowStart = new Int32Array(this.rowCount + 1);
    const rowStart = this.rowStart;

    // Ancestors, root first, each collapsed to the full width.
    let count = 0;
    const ancestors: number[] = [];
    for (let n = focus; n >= 0; n = tree.parent[n]!) ancestors.push(n);
    for (let d = 0; d < ancestors.length; d++) {
      rowStart[d] = count;
      this.node[count] = ancestors[ancestors.length - 1 - d]!;
      this.xPx[count] = 0;
      this.widthPx[count] = widthPx;
      count++;
    }

    const focusTotal = tree.total[focus]!;
    const scale = focusTotal > 0 ? widthPx / focusTotal : 0;
    const originTicks = tree.x[focus]!;
    // Level by level: the previous row's entries are the parents of this row's.
    let previousStart = count - 1;
    let previousEnd = count;
    const deepest = tree.subtreeMaxDepth[focus]!;
    for (let d = this.focusDepth + 1; d < this.rowCount; d++) {
      rowStart[d] = count;
      for (let e = previousStart; e < previousEnd; e++) {
        const parent = this.node[e]!;
        const first = tree.firstChild[parent]!;
        const last = first + tree.childCount[parent]!;
        for (let c = first; c < last; c++) {
          const w = tree.total[c]! * scale;
          if (!(w >= minWidthPx)) continue;
          this.node[count] = c;
          this.xPx[count] = (tree.x[c]! - originTicks) * scale;
          this.widthPx[count] = w;
          count++;
        }
      }
      previousStart = rowStart[d]!;
      previousEnd = count;
      if (previousStart === previousEnd || d >= deepest) {
        // Nothing visible this deep: the remaining rows are empty.
        for (let rest = d + 1; rest < this.rowCount; rest++) rowStart[rest] = count;
        break;
      }
    }
    rowStart[this.rowCount] = count;
    this.count = count;
  }

  /** Top of the row of depth `depth`, in CSS pixels. */
  rowY(depth: number): number {
    const row = this.orientation === "icicle" ? depth : this.rowCount - 1 - depth;
    return row * this.rowHeightPx;
  }

  /** Depth of the row at `yPx`, or -1 outside. */
  depthAtY(yPx: number): number {
    if (yPx < 0) return -1;
    const row = Math.floor(yPx / this.rowHeightPx);
    if (row >= this.rowCount) return -1;
    return this.orientation === "icicle" ? row : this.rowCount - 1 - row;
  }

  /** The laid-out entry under the point, or -1 (binary search within the row). */
  entryAt(xPx: number, yPx: number): number {
    const depth = this.depthAtY(yPx);
    if (depth < 0) return -1;
    let lo = this.rowStart[depth]!;
    let hi = this.rowStart[depth + 1]! - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const left = this.xPx[mid]!;
      // Drawn rectangles are at least 1 px wide, so hit them as such.
      const right = left + Math.max(this.widthPx[mid]!, 1);
      if (xPx < left) hi = mid - 1;
      else if (xPx >= right) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  /** The node under the point, or -1. */
  hitTest(xPx: number, yPx: number): number {
    const entry = this.entryAt(xPx, yPx);
    return entry < 0 ? -1 : this.node[entry]!;
  }

  /** The laid-out entry of `node`, or -1 when it is not visible. */
  entryOf(node: number): number {
    const depth = this.tree.depth[node]!;
    if (depth >= this.rowCount) return -1;
    for (let e = this.rowStart[depth]!; e < this.rowStart[depth + 1]!; e++)
      if (this.node[e] === node) return e;
    return -1;
  }

  rectOf(entry: number): Rect {
    const depth = this.tree.depth[this.node[entry]!]!;
    return { x: this.xPx[entry]!, y: this.rowY(depth), w: this.widthPx[entry]!, h: this.rowHeightPx };
  }
}
