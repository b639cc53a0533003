/**
 * Diff model: each node's share of its side's total, its relative change, its colour step,
 * and the table of functions whose share changed most.
 */
import { diffStep, relativeChange } from "./colors.ts";
import { topTable } from "./top.ts";
import type { DiffSides, FlameTree } from "./tree.ts";

export interface DiffRow {
  name: string;
  leftSelf: number;
  rightSelf: number;
  leftTotal: number;
  rightTotal: number;
  /** Total as a share of each side's total. */
  leftShare: number;
  rightShare: number;
  /** rightShare − leftShare, in share points (fractions). */
  shareChange: number;
  /** (rightShare − leftShare) / leftShare; +Infinity for new functions. */
  relative: number;
}

function share(value: number, ticks: number): number {
  return ticks > 0 ? value / ticks : 0;
}

/** The sides of a diff tree; throws for a single flame graph (a programming error). */
export function sidesOf(tree: FlameTree): DiffSides {
  if (!tree.diff) throw new Error("not a diff flame graph");
  return tree.diff;
}

/** Per node, the relative change of its total's share. */
export function nodeChanges(tree: FlameTree): Float64Array {
  const sides = sidesOf(tree);
  const out = new Float64Array(tree.nodeCount);
  for (let n = 0; n < tree.nodeCount; n++) {
    out[n] = relativeChange(
      share(sides.leftTotal[n]!, sides.leftTicks),
      share(sides.rightTotal[n]!, sides.rightTicks),
    );
  }
  return out;
}

/** Per node, its colour step on the diff scale (see colors.ts). */
export function nodeDiffSteps(tree: FlameTree): Int8Array {
  const changes = nodeChanges(tree);
  const out = new Int8Array(tree.nodeCount);
  for (let n = 0; n < tree.nodeCount; n++) out[n] = diffStep(changes[n]!);
  return out;
}

/** Per function: both sides' self and total (once per stack), shares and changes. */
export function diffTable(tree: FlameTree): DiffRow[] {
  const sides = sidesOf(tree);
  const left = topTable(tree, sides.leftSelf, sides.leftTotal);
  const right = topTable(tree, sides.rightSelf, sides.rightTotal);
  // Both tables come from the same nodes, so rows are in the same order.
  return left.map((l, i) => {
    const r = right[i]!;
    const leftShare = share(l.total, sides.leftTicks);
    const rightShare = share(r.total, sides.rightTicks);
    return {
      name: l.name,
      leftSelf: l.self,
      rightSelf: r.self,
      leftTotal: l.total,
      rightTotal: r.total,
      leftShare,
      rightShare,
      shareChange: rightShare - leftShare,
      relative: relativeChange(leftShare, rightShare),
    };
  });
}

/** Largest absolute change in share first (ties by name). */
export function changedMost(rows: readonly DiffRow[]): DiffRow[] {
  return [...rows].sort(
    (a, b) =>
      Math.abs(b.shareChange) - Math.abs(a.shareChange) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
}
