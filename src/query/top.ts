/**
 * The top table: per function name, self (values of stacks whose leaf frame it is) and total
 * (values of stacks it appears in, counted once per stack even when it recurses), like
 * `go tool pprof -top` flat/cum keyed by function name.
 */
import { STACK_DEPTH_MAX } from "../block/format.ts";
import { childrenByName, type NameTree } from "./tree.ts";

export interface TopEntry {
  name: string;
  self: number;
  total: number;
}

/** Every function of `tree` with its self and total, in name-id order (sort as needed). */
export function topTable(tree: NameTree): TopEntry[] {
  const view = tree.view();
  const totals = tree.totals();
  const nameCount = tree.names.count;
  const self = new Float64Array(nameCount);
  const total = new Float64Array(nameCount);
  const present = new Uint8Array(nameCount);
  for (let i = 1; i < view.nodeCount; i++) {
    self[view.name[i]!]! += view.self[i]!;
    present[view.name[i]!] = 1;
  }
  // Depth-first with a per-name count of ancestors on the current path: a node adds its total
  // only when its name is not already on the path, so recursion counts once per stack.
  const { offsets, children } = childrenByName(view, new Uint32Array(nameCount));
  const onPath = new Uint32Array(nameCount);
  const stack = new Int32Array(view.nodeCount * 2);
  let top = 0;
  for (let c = offsets[0]!; c < offsets[1]!; c++) stack[top++] = children[c]!;
  // An entry ~node (negative) means "leaving node": its name leaves the path.
  while (top > 0) {
    const entry = stack[--top]!;
    if (entry < 0) {
      onPath[view.name[~entry]!]!--;
      continue;
    }
    const name = view.name[entry]!;
    if (onPath[name] === 0) total[name]! += totals[entry]!;
    onPath[name]!++;
    if (onPath[name]! > STACK_DEPTH_MAX) throw new RangeError(`name tree deeper than ${STACK_DEPTH_MAX}`);
    stack[top++] = ~entry;
    for (let c = offsets[entry]!; c < offsets[entry + 1]!; c++) stack[top++] = children[c]!;
  }
  const out: TopEntry[] = [];
  for (let id = 0; id < nameCount; id++) {
    if (present[id] !== 0) out.push({ name: tree.names.names[id]!, self: self[id]!, total: total[id]! });
  }
  return out;
}

/** The `limit` largest entries by `key`, ties by name ascending (the manifest's order). */
export function topBy(entries: readonly TopEntry[], key: "self" | "total", limit: number): TopEntry[] {
  return [...entries]
    .sort((a, b) => b[key] - a[key] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .slice(0, limit);
}
