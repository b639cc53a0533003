/**
 * The function-name call tree: the one shape every query result (flame graph, tree bytes,
 * diff, top table) is derived from. A node is (parent node, function name); stack-tree nodes
 * of a dataset whose frames have the same function name under the same parent merge, so
 * different lines or locations of one function collapse, as Pyroscope's flame graph does.
 *
 * Names live in a `NameTable` that several trees may share, so trees built from datasets with
 * different symbol tables (other blocks, other services) merge by name id, and name strings
 * are resolved once per dataset location, never per sample.
 *
 * Values are integer doubles. Every sum is exact while the sum of the magnitudes of all
 * values that went into the tree stays within 2^53 (`exact`); beyond it, sums are the nearest
 * doubles (relative error below 2^-52), where Pyroscope's int64 would wrap only at 2^63.
 */
import { basename } from "node:path";
import { STACK_DEPTH_MAX } from "../block/format.ts";
import type { SymbolNames } from "../block/symbols.ts";
import { StringInterner } from "../model/string-interner.ts";

/** Upper bound on name-tree nodes: a name tree never has more nodes than its stack trees. */
export const NAME_TREE_NODE_COUNT_MAX = 2 ** 26;
/** Upper bound on distinct names in one table (as the block's symbol tables). */
export const NAME_COUNT_MAX = 2 ** 26;

/** Interned function names; ids are dense and stable for the table's lifetime. */
export class NameTable extends StringInterner {
  constructor() {
    super({ countMax: NAME_COUNT_MAX });
  }

  get names(): string[] {
    return this.list;
  }

  /**
   * Rank of every name id in byte-wise UTF-8 order (Go's string order, which Pyroscope sorts
   * siblings by), so children can be ordered by integer compares.
   */
  ranks(): Uint32Array {
    const order = Array.from({ length: this.names.length }, (_, i) => i);
    const names = this.names;
    order.sort((a, b) => compareUtf8(names[a]!, names[b]!));
    const rank = new Uint32Array(names.length);
    for (let r = 0; r < order.length; r++) rank[order[r]!] = r;
    return rank;
  }
}

/**
 * Compares two strings in UTF-8 byte order. UTF-16 code-unit order differs from it only
 * where a surrogate (U+10000 and up) meets a unit in U+E000..U+FFFF; shifting the unit ranges
 * restores code point order, which UTF-8 byte order equals.
 */
export function compareUtf8(a: string, b: string): number {
  const shared = Math.min(a.length, b.length);
  for (let i = 0; i < shared; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x += x < 0xe000 ? 0x2000 : -0x800;
    if (y >= 0xd800) y += y < 0xe000 ? 0x2000 : -0x800;
    return x - y;
  }
  return a.length - b.length;
}

const INITIAL_NODE_CAPACITY = 1024;

/** A snapshot of the tree's arrays (subarrays: valid until the tree grows). */
export interface NameTreeView {
  nodeCount: number;
  /** Parent node id; -1 for the root (node 0). Always smaller than the node's own id. */
  parent: Int32Array;
  /** Name id in `names`; -1 for the root. */
  name: Int32Array;
  self: Float64Array;
}

/**
 * A mutable function-name tree. Node 0 is the root (no name, no self). Children are created
 * after their parent, so `parent[i] < i`, which lets totals and merges run as single passes.
 */
export class NameTree {
  readonly names: NameTable;
  #parent: Int32Array;
  #name: Int32Array;
  #self: Float64Array;
  #count = 1;
  /** Open addressing over (parent, name): node id + 1 per slot, 0 = empty; at most half full. */
  #slots: Int32Array;
  #magnitude = 0;

  /**
   * `nodesExpected`: a hint (e.g. the stack tree size of the dataset being resolved) so the
   * arrays and the hash table are sized once instead of grown and rehashed step by step.
   */
  constructor(names: NameTable = new NameTable(), nodesExpected = INITIAL_NODE_CAPACITY) {
    const capacity =
      2 ** Math.ceil(Math.log2(Math.min(Math.max(nodesExpected, INITIAL_NODE_CAPACITY), 1 << 24)));
    this.#parent = new Int32Array(capacity);
    this.#name = new Int32Array(capacity);
    this.#self = new Float64Array(capacity);
    this.#slots = new Int32Array(capacity * 2);
    this.names = names;
    this.#parent[0] = -1;
    this.#name[0] = -1;
  }

  get nodeCount(): number {
    return this.#count;
  }

  /** Sum of |value| over every value added: all sums are exact integers while it is ≤ 2^53. */
  get magnitude(): number {
    return this.#magnitude;
  }

  get exact(): boolean {
    return this.#magnitude <= Number.MAX_SAFE_INTEGER;
  }

  view(): NameTreeView {
    const n = this.#count;
    return {
      nodeCount: n,
      parent: this.#parent.subarray(0, n),
      name: this.#name.subarray(0, n),
      self: this.#self.subarray(0, n),
    };
  }

  /** The child of `parent` named `nameId`, created when absent. */
  child(parent: number, nameId: number): number {
    const slots = this.#slots;
    const mask = slots.length - 1;
    let slot = hashPair(parent, nameId) & mask;
    // Bounded: the table is at most half full, so a probe meets an empty slot within its length.
    for (let probe = 0; probe <= mask; probe++) {
      const entry = slots[slot]!;
      if (entry === 0) return this.#insert(slot, parent, nameId);
      const node = entry - 1;
      if (this.#parent[node] === parent && this.#name[node] === nameId) return node;
      slot = (slot + 1) & mask;
    }
    throw new Error("name tree: hash table full (load factor invariant broken)");
  }

  /** The child of `parent` named `nameId`, or -1. */
  findChild(parent: number, nameId: number): number {
    const slots = this.#slots;
    const mask = slots.length - 1;
    let slot = hashPair(parent, nameId) & mask;
    for (let probe = 0; probe <= mask; probe++) {
      const entry = slots[slot]!;
      if (entry === 0) return -1;
      const node = entry - 1;
      if (this.#parent[node] === parent && this.#name[node] === nameId) return node;
      slot = (slot + 1) & mask;
    }
    return -1;
  }

  addSelf(node: number, value: number): void {
    this.#self[node]! += value;
    this.#magnitude += Math.abs(value);
  }

  /**
   * Adds `value` without counting its magnitude, for callers that account for the magnitude
   * of the samples the value was summed from (`addMagnitude`), which bounds it.
   */
  addSelfCounted(node: number, value: number): void {
    this.#self[node]! += value;
  }

  addMagnitude(magnitude: number): void {
    this.#magnitude += magnitude;
  }

  /** Follows (creating) the path of `stack` names, root first, and adds `value` to its leaf. */
  addStack(stack: readonly string[], value: number): void {
    let node = 0;
    for (const name of stack) node = this.child(node, this.names.id(name));
    this.addSelf(node, value);
  }

  /**
   * Node totals (self plus all descendants), indexed by node; `[0]` is the tree total. One
   * backward pass, valid because a parent always precedes its children.
   */
  totals(): Float64Array {
    const n = this.#count;
    const total = this.#self.slice(0, n);
    const parent = this.#parent;
    for (let i = n - 1; i > 0; i--) total[parent[i]!]! += total[i]!;
    return total;
  }

  /**
   * Adds `other` into this tree (names matched by text when the tables differ). Returns the
   * node of this tree that each node of `other` landed on. With `addValues` false only the
   * shape is merged (used to align two trees).
   */
  merge(other: NameTree, addValues = true): Int32Array {
    const src = other.view();
    const sameTable = other.names === this.names;
    const nameMap = sameTable ? undefined : new Int32Array(other.names.count).fill(-1);
    const mapped = new Int32Array(src.nodeCount);
    for (let i = 1; i < src.nodeCount; i++) {
      const srcName = src.name[i]!;
      let name = srcName;
      if (nameMap !== undefined) {
        name = nameMap[srcName]!;
        if (name < 0) {
          name = this.names.id(other.names.names[srcName]!);
          nameMap[srcName] = name;
        }
      }
      const node = this.child(mapped[src.parent[i]!]!, name);
      mapped[i] = node;
      if (addValues && src.self[i] !== 0) this.#self[node]! += src.self[i]!;
    }
    if (addValues) this.#magnitude += other.#magnitude;
    return mapped;
  }

  #insert(slot: number, parent: number, nameId: number): number {
    if (!(parent >= 0 && parent < this.#count))
      throw new RangeError(`name tree: parent ${parent} out of range`);
    if (!(this.#count < NAME_TREE_NODE_COUNT_MAX)) {
      throw new RangeError(`name tree exceeds ${NAME_TREE_NODE_COUNT_MAX} nodes`);
    }
    const node = this.#count++;
    if (node === this.#parent.length) this.#grow();
    this.#parent[node] = parent;
    this.#name[node] = nameId;
    this.#slots[slot] = node + 1;
    if (this.#count * 2 > this.#slots.length) this.#rehash();
    return node;
  }

  #grow(): void {
    const capacity = this.#parent.length * 2;
    const parent = new Int32Array(capacity);
    parent.set(this.#parent);
    const name = new Int32Array(capacity);
    name.set(this.#name);
    const self = new Float64Array(capacity);
    self.set(this.#self);
    this.#parent = parent;
    this.#name = name;
    this.#self = self;
  }

  #rehash(): void {
    const slots = new Int32Array(this.#slots.length * 2);
    const mask = slots.length - 1;
    for (let node = 1; node < this.#count; node++) {
      let slot = hashPair(this.#parent[node]!, this.#name[node]!) & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = node + 1;
    }
    this.#slots = slots;
  }
}

function hashPair(parent: number, name: number): number {
  let h = Math.imul(parent, 0x9e3779b1) ^ Math.imul(name + 0x7f4a7c15, 0x85ebca77);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 12);
}

/**
 * The display name of a stored location (one frame): its function's name, or for a frame
 * without a function `<mapping file basename>+0x<address>` (pprof's convention for
 * unsymbolized frames), `0x<address>` when it has no mapping file either.
 */
export function frameName(symbols: SymbolNames, location: number): string {
  const functionPlus1 = symbols.locationFunctionPlus1[location]!;
  if (functionPlus1 !== 0) return symbols.strings[symbols.functionNameStr[functionPlus1 - 1]!]!;
  const address = `0x${symbols.locationAddress[location]!.toString(16)}`;
  const mappingPlus1 = symbols.locationMappingPlus1[location]!;
  const file = mappingPlus1 === 0 ? "" : symbols.strings[symbols.mappingFilenameStr[mappingPlus1 - 1]!]!;
  return file === "" ? address : `${basename(file)}+${address}`;
}

/**
 * Adds one dataset's per-stack-node sums (`nodeValues[node]`, indexed like
 * `symbols.stacks`) into `tree`. Only nodes with a value and their ancestors are visited, and
 * each location's name is resolved once. `sampleMagnitude` is the sum of |value| of the
 * samples behind `nodeValues` (StackValues.magnitude), so `tree.exact` stays truthful.
 */
export function addStackValues(
  tree: NameTree,
  symbols: SymbolNames,
  nodeValues: Float64Array,
  sampleMagnitude?: number,
): void {
  const { nodeCount, parent, location } = symbols.stacks;
  if (nodeValues.length < nodeCount)
    throw new RangeError("addStackValues: nodeValues shorter than the stack tree");
  // Backward pass: mark the nodes on a path to a value (a parent precedes its children).
  const needed = new Uint8Array(nodeCount);
  for (let i = nodeCount - 1; i > 0; i--) {
    if (needed[i] !== 0 || nodeValues[i] !== 0) needed[parent[i]!] = 1;
  }
  const locationName = new Int32Array(symbols.locationCount).fill(-1);
  // Strings are unique by text within a section: a function name string is interned once,
  // however many locations (lines) and functions (files) share it.
  const stringName = new Int32Array(symbols.strings.length).fill(-1);
  const mapped = new Int32Array(nodeCount);
  const names = tree.names;
  for (let i = 1; i < nodeCount; i++) {
    const value = nodeValues[i]!;
    if (needed[i] === 0 && value === 0) continue;
    const loc = location[i]!;
    let name = locationName[loc]!;
    if (name < 0) {
      const functionPlus1 = symbols.locationFunctionPlus1[loc]!;
      if (functionPlus1 !== 0) {
        const str = symbols.functionNameStr[functionPlus1 - 1]!;
        name = stringName[str]!;
        if (name < 0) {
          name = names.id(symbols.strings[str]!);
          stringName[str] = name;
        }
      } else {
        name = names.id(frameName(symbols, loc));
      }
      locationName[loc] = name;
    }
    const node = tree.child(mapped[parent[i]!]!, name);
    mapped[i] = node;
    if (value !== 0) tree.addSelfCounted(node, value);
  }
  // The samples' magnitude bounds every partial sum; without it, the node sums' own.
  if (sampleMagnitude !== undefined) tree.addMagnitude(sampleMagnitude);
  else for (let i = 1; i < nodeCount; i++) tree.addMagnitude(Math.abs(nodeValues[i]!));
}

/** Children of every node ordered by name (UTF-8 bytes), as flat CSR arrays. */
export interface ChildIndex {
  /** Children of node n are `children[offsets[n] .. offsets[n + 1])`. Length nodeCount + 1. */
  offsets: Uint32Array;
  children: Int32Array;
}

/**
 * Orders every node's children by name in O(nodes + names): a counting sort by name rank,
 * then a stable counting sort by parent.
 */
export function childrenByName(view: NameTreeView, rank: Uint32Array): ChildIndex {
  const n = view.nodeCount;
  const rankCount = rank.length;
  const byRank = new Int32Array(Math.max(0, n - 1));
  const rankStart = new Uint32Array(rankCount + 1);
  for (let i = 1; i < n; i++) rankStart[rank[view.name[i]!]! + 1]!++;
  for (let r = 0; r < rankCount; r++) rankStart[r + 1]! += rankStart[r]!;
  for (let i = 1; i < n; i++) byRank[rankStart[rank[view.name[i]!]!]!++] = i;
  const offsets = new Uint32Array(n + 1);
  for (let i = 1; i < n; i++) offsets[view.parent[i]! + 1]!++;
  for (let i = 0; i < n; i++) offsets[i + 1]! += offsets[i]!;
  const fill = offsets.slice(0, n);
  const children = new Int32Array(Math.max(0, n - 1));
  for (const node of byRank) children[fill[view.parent[node]!]!++] = node;
  return { offsets, children };
}

/** Names of node `node`'s path, root first (for tests and tools). */
export function pathOf(tree: NameTree, node: number): string[] {
  const view = tree.view();
  const path: string[] = [];
  for (let at = node; at > 0; at = view.parent[at]!) {
    if (!(path.length < STACK_DEPTH_MAX))
      throw new RangeError(`name tree path deeper than ${STACK_DEPTH_MAX}`);
    path.push(tree.names.names[view.name[at]!]!);
  }
  return path.reverse();
}
