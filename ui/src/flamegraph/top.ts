/**
 * The top table of a decoded flame graph: per function name, self (sum of the selves of its
 * nodes) and total (sum of the totals of its nodes that have no ancestor of the same name, so
 * a recursive function counts once per stack), like `go tool pprof -top` keyed by name.
 * Works on any per-node value arrays, so a diff gets a table per side.
 */
import type { FlameTree } from "./tree.ts";

export interface TopRow {
  name: string;
  self: number;
  total: number;
}

export type TopSort = "self" | "total" | "name";

/** One row per distinct function name (the root excluded), in first-seen order. */
export function topTable(
  tree: FlameTree,
  self: Float64Array = tree.self,
  total: Float64Array = tree.total,
): TopRow[] {
  // Names may repeat in the wire's table (the diff keeps "total" for the root and for a
  // function of that name apart); rows are keyed by text.
  const rowOfName = new Int32Array(tree.names.length).fill(-1);
  const rowByText = new Map<string, number>();
  const rows: TopRow[] = [];
  for (let n = 1; n < tree.nodeCount; n++) {
    const nameIndex = tree.name[n]!;
    if (rowOfName[nameIndex] !== -1) continue;
    const text = tree.names[nameIndex] ?? "";
    let row = rowByText.get(text);
    if (row === undefined) {
      row = rows.length;
      rows.push({ name: text, self: 0, total: 0 });
      rowByText.set(text, row);
    }
    rowOfName[nameIndex] = row;
  }
  const selfSum = new Float64Array(rows.length);
  const totalSum = new Float64Array(rows.length);
  const onPath = new Int32Array(rows.length);
  // Depth-first with a per-row count of ancestors on the current path; ~node marks leaving.
  const stack = new Int32Array(2 * tree.nodeCount + 1);
  let top = 0;
  const rootFirst = tree.firstChild[0]!;
  for (let c = rootFirst + tree.childCount[0]! - 1; c >= rootFirst; c--) stack[top++] = c;
  while (top > 0) {
    const entry = stack[--top]!;
    if (entry < 0) {
      onPath[rowOfName[tree.name[~entry]!]!]!--;
      continue;
    }
    const row = rowOfName[tree.name[entry]!]!;
    selfSum[row]! += self[entry]!;
    if (onPath[row] === 0) totalSum[row]! += total[entry]!;
    onPath[row]!++;
    stack[top++] = ~entry;
    const first = tree.firstChild[entry]!;
    for (let c = first + tree.childCount[entry]! - 1; c >= first; c--) stack[top++] = c;
  }
  for (let r = 0; r < rows.length; r++) {
    rows[r]!.self = selfSum[r]!;
    rows[r]!.total = totalSum[r]!;
  }
  return rows;
}

/** Sorted copy: values descending (ties by name), or names ascending. */
export function sortTopRows<T extends TopRow>(rows: readonly T[], by: TopSort): T[] {
  const byName = (a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  if (by === "name") return [...rows].sort(byName);
  return [...rows].sort((a, b) => b[by] - a[by] || byName(a, b));
}
