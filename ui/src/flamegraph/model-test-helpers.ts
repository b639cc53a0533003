/** Test support: flame graph data flattened to [path, total, self] rows, easy to compare. */
import { sandwich } from "./sandwich.ts";
import { decodeFlameGraph, type FlameTree, pathOf } from "./tree.ts";
import type { FlameGraphData } from "./types.ts";

export type PathRow = [string, number, number];

/** Every node as ["root;child;…", total, self], in level order. */
export function pathRows(data: FlameGraphData): PathRow[] {
  const tree = decodeFlameGraph(data);
  const rootName = tree.names[tree.name[0]!]!;
  const rows: PathRow[] = [];
  for (let n = 0; n < tree.nodeCount; n++) {
    rows.push([[rootName, ...pathOf(tree, n)].join(";"), tree.total[n]!, tree.self[n]!]);
  }
  return rows;
}

export function fixturesSandwich(tree: FlameTree, name: string): { callers: PathRow[]; callees: PathRow[] } {
  const result = sandwich(tree, name);
  return { callers: pathRows(result.callers), callees: pathRows(result.callees) };
}
