/**
 * Deterministic synthetic flame graphs for the render bench: a seeded random call tree with
 * realistic shape (deep chains, wide fan-outs, names repeating across the tree, Go-like
 * package paths so colours vary by package, heavy-tailed self values), encoded by the same
 * builder the sandwich view uses.
 */
import { CallTreeBuilder } from "../flamegraph/sandwich.ts";
import type { FlameGraphData } from "../flamegraph/types.ts";

/** mulberry32: a tiny seeded PRNG, so every run draws the same graph. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DEPTH_MAX = 64;

/** A flame graph of exactly `nodeCount` nodes (root included). */
export function syntheticFlameGraph(nodeCount: number, seed = 1): FlameGraphData {
  const random = seededRandom(seed);
  const packages = Array.from({ length: 60 }, (_, i) => `github.com/org${i % 7}/service/pkg${i}`);
  const functionCount = Math.max(8, Math.floor(nodeCount / 4));
  const functions = Array.from(
    { length: functionCount },
    (_, i) => `${packages[i % packages.length]}.(*Type${i % 13}).Method${i}`,
  );
  const builder = new CallTreeBuilder("total");
  const depth: number[] = [0];
  // Growing mostly from recent nodes makes deep stacks; sometimes from anywhere makes fan-out.
  let guard = nodeCount * 20;
  while (builder.nodeCount < nodeCount && guard-- > 0) {
    const recent = random() < 0.75;
    const span = Math.min(builder.nodeCount, 40);
    const parent = recent
      ? builder.nodeCount - 1 - Math.floor(random() * span)
      : Math.floor(random() ** 2 * builder.nodeCount);
    if (depth[parent]! >= DEPTH_MAX) continue;
    const before = builder.nodeCount;
    const child = builder.child(parent, functions[Math.floor(random() * functionCount)]!);
    if (builder.nodeCount === before) continue;
    depth[child] = depth[parent]! + 1;
    builder.addSelf(child, Math.floor(random() ** 3 * 10_000_000) + 10_000);
  }
  return builder.encode();
}
