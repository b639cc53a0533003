/**
 * The stack tree: every distinct stack of a dataset is a node (parent node, location), so a
 * stack is one integer and shared prefixes are stored once. Node 0 is the root (the empty
 * stack); its parent and location are -1. A child is always created after its parent, so
 * `parent[i] < i` for every i > 0: the tree is acyclic by construction, and the reader checks it.
 */
import { fail, STACK_NODE_COUNT_MAX } from "./format.ts";

/** Read side: parallel arrays indexed by node id. */
export interface StackTree {
  nodeCount: number;
  /** Parent node id; -1 for the root. */
  parent: Int32Array;
  /** Stored location id (one frame); -1 for the root. */
  location: Int32Array;
}

const INITIAL_NODE_CAPACITY = 1024;

/**
 * Write side: interns (parent, location) pairs with an open-addressing hash table on typed
 * arrays, so the ingest path allocates nothing per frame. Load factor stays at most 1/2.
 */
export class StackTreeBuilder {
  #parent = new Int32Array(INITIAL_NODE_CAPACITY);
  #location = new Int32Array(INITIAL_NODE_CAPACITY);
  #nodeCount = 1;
  /** Node id + 1 per slot, 0 = empty. Capacity is a power of two, at least 2 × node capacity. */
  #slots = new Int32Array(INITIAL_NODE_CAPACITY * 2);

  constructor() {
    this.#parent[0] = -1;
    this.#location[0] = -1;
  }

  get nodeCount(): number {
    return this.#nodeCount;
  }

  /** Bytes held by the tree's typed arrays (capacity, not just the nodes in use). */
  get memoryBytes(): number {
    return this.#parent.byteLength + this.#location.byteLength + this.#slots.byteLength;
  }

  /** Returns the node for `location` called from the stack `parent`, creating it when new. */
  intern(parent: number, location: number): number {
    if (!(parent >= 0 && parent < this.#nodeCount)) fail(`stack tree: parent ${parent} out of range`);
    if (!(location >= 0)) fail(`stack tree: negative location ${location}`);
    const slots = this.#slots;
    const mask = slots.length - 1;
    let slot = hashPair(parent, location) & mask;
    // Bounded: the table is at most half full, so a probe meets an empty slot within its length.
    for (let probe = 0; probe <= mask; probe++) {
      const entry = slots[slot]!;
      if (entry === 0) return this.#insert(slot, parent, location);
      const node = entry - 1;
      if (this.#parent[node] === parent && this.#location[node] === location) return node;
      slot = (slot + 1) & mask;
    }
    throw new Error("stack tree: hash table full (load factor invariant broken)");
  }

  #insert(slot: number, parent: number, location: number): number {
    if (!(this.#nodeCount < STACK_NODE_COUNT_MAX)) fail(`stack tree exceeds ${STACK_NODE_COUNT_MAX} nodes`);
    const node = this.#nodeCount++;
    if (node === this.#parent.length) this.#growNodes();
    this.#parent[node] = parent;
    this.#location[node] = location;
    this.#slots[slot] = node + 1;
    if (this.#nodeCount * 2 > this.#slots.length) this.#rehash();
    return node;
  }

  #growNodes(): void {
    const capacity = this.#parent.length * 2;
    const parent = new Int32Array(capacity);
    parent.set(this.#parent);
    const location = new Int32Array(capacity);
    location.set(this.#location);
    this.#parent = parent;
    this.#location = location;
  }

  #rehash(slotCount = this.#slots.length * 2): void {
    const slots = new Int32Array(slotCount);
    const mask = slots.length - 1;
    for (let node = 1; node < this.#nodeCount; node++) {
      let slot = hashPair(this.#parent[node]!, this.#location[node]!) & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = node + 1;
    }
    this.#slots = slots;
  }

  /**
   * Makes room for `nodeCount` nodes up front (a hint: the tree still grows past it), so a
   * large first profile does not rehash the table again and again.
   */
  reserve(nodeCount: number): void {
    if (!(nodeCount <= STACK_NODE_COUNT_MAX)) nodeCount = STACK_NODE_COUNT_MAX;
    if (nodeCount <= this.#parent.length) return;
    let capacity = this.#parent.length;
    while (capacity < nodeCount) capacity *= 2;
    const parent = new Int32Array(capacity);
    parent.set(this.#parent.subarray(0, this.#nodeCount));
    const location = new Int32Array(capacity);
    location.set(this.#location.subarray(0, this.#nodeCount));
    this.#parent = parent;
    this.#location = location;
    if (this.#slots.length < capacity * 2) this.#rehash(capacity * 2);
  }

  /** The tree without copying: valid only until the next `intern` or `reserve`. */
  view(): StackTree {
    return {
      nodeCount: this.#nodeCount,
      parent: this.#parent.subarray(0, this.#nodeCount),
      location: this.#location.subarray(0, this.#nodeCount),
    };
  }

  /** A snapshot of the tree (copies, so the builder may keep growing). */
  snapshot(): StackTree {
    return {
      nodeCount: this.#nodeCount,
      parent: this.#parent.slice(0, this.#nodeCount),
      location: this.#location.slice(0, this.#nodeCount),
    };
  }
}

function hashPair(parent: number, location: number): number {
  let h = Math.imul(parent, 0x9e3779b1) ^ Math.imul(location + 0x7f4a7c15, 0x85ebca77);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 12);
}

/**
 * Resolves a node to its stored locations, leaf first (the order of `NormalizedProfile`).
 * Iterative and bounded by `depthMax`, so a corrupt tree cannot loop or blow the call stack.
 */
export function stackLocations(tree: StackTree, node: number, depthMax: number): number[] {
  if (!(node >= 0 && node < tree.nodeCount)) fail(`stack node ${node} out of range ${tree.nodeCount}`);
  const frames: number[] = [];
  let at = node;
  while (at > 0) {
    if (!(frames.length < depthMax)) fail(`stack of node ${node} deeper than ${depthMax}`);
    frames.push(tree.location[at]!);
    at = tree.parent[at]!;
  }
  return frames;
}
