/**
 * Reads the query API's flame graphs the way the wire reference (§4.4) defines them, written
 * apart from the UI's decoder so the e2e tests check what the page shows against an
 * independent reading of the API's answer: nodes with their parents, per-function totals
 * (counted once per stack) and each function's change in share in a diff.
 */

export interface ApiFlameGraph {
  names?: string[];
  levels?: { values?: (string | number)[] }[];
  total?: string;
  leftTicks?: string;
  rightTicks?: string;
}

export interface ApiNode {
  name: string;
  /** Index of the parent in the node list; -1 for the root. */
  parent: number;
  /** Single graph: both sides hold the node's total. Diff: each side's total. */
  leftTotal: number;
  rightTotal: number;
}

/**
 * All nodes, level by level. Single graphs are quadruples [x_delta, total, self, name]; diffs
 * are 7-tuples [x_delta_left, total_left, self_left, x_delta_right, total_right, self_right,
 * name]. A child lies inside its parent's span on each side, so also on the summed
 * coordinates, where no node has zero width.
 */
export function apiNodes(graph: ApiFlameGraph, kind: "single" | "diff"): ApiNode[] {
  const width = kind === "single" ? 4 : 7;
  const names = graph.names ?? [];
  const nodes: ApiNode[] = [];
  let previous: { index: number; x: number; span: number }[] = [];
  for (const level of graph.levels ?? []) {
    const values = (level.values ?? []).map(Number);
    const current: typeof previous = [];
    let endLeft = 0;
    let endRight = 0;
    let cursor = 0;
    for (let i = 0; i + width - 1 < values.length; i += width) {
      const leftTotal = values[i + 1]!;
      const rightTotal = kind === "single" ? leftTotal : values[i + 4]!;
      const xLeft = endLeft + values[i]!;
      const xRight = kind === "single" ? xLeft : endRight + values[i + 3]!;
      endLeft = xLeft + leftTotal;
      endRight = xRight + rightTotal;
      const x = kind === "single" ? xLeft : xLeft + xRight;
      const span = kind === "single" ? leftTotal : leftTotal + rightTotal;
      while (cursor < previous.length && previous[cursor]!.x + previous[cursor]!.span <= x) cursor++;
      const parent = previous.length === 0 ? -1 : (previous[cursor]?.index ?? -1);
      if (previous.length > 0 && parent < 0) throw new Error(`node at x=${x} has no parent`);
      current.push({ index: nodes.length, x, span });
      nodes.push({ name: names[values[i + width - 1]!] ?? "", parent, leftTotal, rightTotal });
    }
    previous = current;
  }
  return nodes;
}

/** Each function's total on each side, counted once per stack (not again under itself). */
export function functionTotals(nodes: readonly ApiNode[]): Map<string, { left: number; right: number }> {
  const totals = new Map<string, { left: number; right: number }>();
  nodes.forEach((node, index) => {
    for (let a = nodes[index]!.parent; a >= 0; a = nodes[a]!.parent) if (nodes[a]!.name === node.name) return;
    const sum = totals.get(node.name) ?? { left: 0, right: 0 };
    sum.left += node.leftTotal;
    sum.right += node.rightTotal;
    totals.set(node.name, sum);
  });
  return totals;
}

/** (right − left) / left of two shares; +Infinity when new. */
export function relativeShareChange(leftShare: number, rightShare: number): number {
  if (leftShare === 0) return rightShare === 0 ? 0 : Number.POSITIVE_INFINITY;
  return (rightShare - leftShare) / leftShare;
}

export interface ShareChange {
  name: string;
  leftShare: number;
  rightShare: number;
  /** rightShare − leftShare. */
  change: number;
}

/** Functions by the absolute change of their share of each side's total, largest first. */
export function changedMost(graph: ApiFlameGraph): ShareChange[] {
  const leftTicks = Number(graph.leftTicks);
  const rightTicks = Number(graph.rightTicks);
  const rows = [...functionTotals(apiNodes(graph, "diff"))].map(([name, { left, right }]) => {
    const leftShare = left / leftTicks;
    const rightShare = right / rightTicks;
    return { name, leftShare, rightShare, change: rightShare - leftShare };
  });
  return rows.sort(
    (a, b) => Math.abs(b.change) - Math.abs(a.change) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
}
