/**
 * Sandwich view of one function: its callers (an inverted tree: the function at the root,
 * each level one caller further out) and its callees (every subtree rooted at the function,
 * merged). Both come back as FlameGraphData so the same renderer draws them.
 *
 * Only the outermost occurrence of the function in each stack is used (a node named like the
 * function with no ancestor of that name): a recursive function then counts once per stack,
 * and both trees' root totals equal the function's total in the top table.
 */
import type { FlameTree } from "./tree.ts";
import type { FlameGraphData } from "./types.ts";

/** A mutable call tree keyed by name, encoded to the level format when done. */
export class CallTreeBuilder {
  readonly names: string[] = [];
  readonly #nameIndex = new Map<string, number>();
  readonly #name: number[] = [];
  readonly #self: number[] = [];
  readonly #children: Map<number, number>[] = [];

  /** The root is node 0, named `rootName`. */
  constructor(rootName: string) {
    this.#addNode(this.#intern(rootName));
  }

  get nodeCount(): number {
    return this.#name.length;
  }

  #intern(text: string): number {
    let index = this.#nameIndex.get(text);
    if (index === undefined) {
      index = this.names.length;
      this.names.push(text);
      this.#nameIndex.set(text, index);
    }
    return index;
  }

  #addNode(name: number): number {
    this.#name.push(name);
    this.#self.push(0);
    this.#children.push(new Map());
    return this.#name.length - 1;
  }

  /** The child of `parent` named `text`, created when missing. */
  child(parent: number, text: string): number {
    const name = this.#intern(text);
    const children = this.#children[parent]!;
    let node = children.get(name);
    if (node === undefined) {
      node = this.#addNode(name);
      children.set(name, node);
    }
    return node;
  }

  addSelf(node: number, value: number): void {
    this.#self[node]! += value;
  }

  /** Level encoding: self first on the x axis, then children in name order. */
  encode(): FlameGraphData {
    const count = this.nodeCount;
    const total = Float64Array.from(this.#self);
    // Children always have larger ids than their parents: sum totals bottom-up by id.
    const parent = new Int32Array(count).fill(-1);
    for (let n = 0; n < count; n++) for (const c of this.#children[n]!.values()) parent[c] = n;
    for (let n = count - 1; n > 0; n--) total[parent[n]!]! += total[n]!;
    const levels: number[][] = [];
    let maxSelf = 0;
    let current: { node: number; x: number }[] = [{ node: 0, x: 0 }];
    while (current.length > 0) {
      const level: number[] = [];
      const next: { node: number; x: number }[] = [];
      let previousEnd = 0;
      for (const { node, x } of current) {
        const self = this.#self[node]!;
        if (self > maxSelf) maxSelf = self;
        level.push(x - previousEnd, total[node]!, self, this.#name[node]!);
        previousEnd = x + total[node]!;
        const children = [...this.#children[node]!.values()].sort((a, b) => {
          const na = this.names[this.#name[a]!]!;
          const nb = this.names[this.#name[b]!]!;
          return na < nb ? -1 : na > nb ? 1 : 0;
        });
        let childX = x + self;
        for (const c of children) {
          next.push({ node: c, x: childX });
          childX += total[c]!;
        }
      }
      levels.push(level);
      current = next;
    }
    return { names: this.names, levels, total: total[0]!, maxSelf };
  }
}

export interface Sandwich {
  callers: FlameGraphData;
  callees: FlameGraphData;
}

/** The sandwich of the function named `functionName` (both trees empty when absent). */
export function sandwich(tree: FlameTree, functionName: string): Sandwich {
  const callers = new CallTreeBuilder(functionName);
  const callees = new CallTreeBuilder(functionName);
  const isTarget = new Uint8Array(tree.names.length);
  tree.names.forEach((text, i) => {
    if (text === functionName) isTarget[i] = 1;
  });
  // Level order: a node's "has a target ancestor" flag is known from its parent's.
  const underTarget = new Uint8Array(tree.nodeCount);
  for (let n = 1; n < tree.nodeCount; n++) {
    const p = tree.parent[n]!;
    const parentUnder = p > 0 && (underTarget[p] === 1 || isTarget[tree.name[p]!] === 1);
    if (parentUnder) underTarget[n] = 1;
    if (isTarget[tree.name[n]!] !== 1 || parentUnder) continue;
    addCallers(tree, n, callers);
    addCallees(tree, n, callees);
  }
  return { callers: callers.encode(), callees: callees.encode() };
}

/** The stack from `node` outwards to the root's child, weighted by the node's total. */
function addCallers(tree: FlameTree, node: number, out: CallTreeBuilder): void {
  let at = 0;
  for (let n = tree.parent[node]!; n > 0; n = tree.parent[n]!) at = out.child(at, tree.names[tree.name[n]!]!);
  out.addSelf(at, tree.total[node]!);
}

/** The subtree of `node`, merged by name under the builder's root. */
function addCallees(tree: FlameTree, node: number, out: CallTreeBuilder): void {
  out.addSelf(0, tree.self[node]!);
  const stack: [number, number][] = [[node, 0]];
  while (stack.length > 0) {
    const [n, at] = stack.pop()!;
    const first = tree.firstChild[n]!;
    for (let c = first; c < first + tree.childCount[n]!; c++) {
      const child = out.child(at, tree.names[tree.name[c]!]!);
      out.addSelf(child, tree.self[c]!);
      stack.push([c, child]);
    }
  }
}
