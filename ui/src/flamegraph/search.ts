/**
 * Search: which function names match a query, which nodes carry them, and their share of the
 * total. A match nested under another match is not counted twice (its value is already in
 * the outer match's total).
 */
import type { FlameTree } from "./tree.ts";

export interface NameMatcher {
  /** False when the query is a /regex/ that does not compile (nothing matches then). */
  valid: boolean;
  /** True when the query is empty: nothing is highlighted or filtered. */
  empty: boolean;
  test(name: string): boolean;
}

/** Case-insensitive substring, or a regular expression when the query is "/…/". */
export function nameMatcher(query: string): NameMatcher {
  const trimmed = query.trim();
  if (trimmed === "") return { valid: true, empty: true, test: () => true };
  if (trimmed.length >= 2 && trimmed.startsWith("/") && trimmed.endsWith("/")) {
    let re: RegExp;
    try {
      re = new RegExp(trimmed.slice(1, -1), "i");
    } catch {
      return { valid: false, empty: false, test: () => false };
    }
    return { valid: true, empty: false, test: (name) => re.test(name) };
  }
  const needle = trimmed.toLowerCase();
  return { valid: true, empty: false, test: (name) => name.toLowerCase().includes(needle) };
}

export interface SearchResult {
  matcher: NameMatcher;
  /** 1 for each matching name index. */
  nameMatches: Uint8Array;
  /** 1 for each node whose name matches. */
  nodeMatches: Uint8Array;
  /** Distinct matching function names (the root is never a match). */
  functionCount: number;
  matchedNodeCount: number;
  /** Sum of the totals of matching nodes that have no matching ancestor. */
  matchedTotal: number;
  /** matchedTotal / root total (0 for an empty tree). */
  share: number;
}

export function searchTree(tree: FlameTree, query: string): SearchResult {
  const matcher = nameMatcher(query);
  const nameMatches = new Uint8Array(tree.names.length);
  const nodeMatches = new Uint8Array(tree.nodeCount);
  const result: SearchResult = {
    matcher,
    nameMatches,
    nodeMatches,
    functionCount: 0,
    matchedNodeCount: 0,
    matchedTotal: 0,
    share: 0,
  };
  if (matcher.empty || !matcher.valid) return result;
  const matchedTexts = new Set<string>();
  for (let i = 0; i < tree.names.length; i++) if (matcher.test(tree.names[i]!)) nameMatches[i] = 1;
  // Nodes are in level order, so a parent's "inside a match" flag is known before its children.
  const insideMatch = new Uint8Array(tree.nodeCount);
  for (let n = 1; n < tree.nodeCount; n++) {
    const parent = tree.parent[n]!;
    const parentInside = parent > 0 && (insideMatch[parent] === 1 || nodeMatches[parent] === 1);
    if (parentInside) insideMatch[n] = 1;
    if (nameMatches[tree.name[n]!] === 1) {
      nodeMatches[n] = 1;
      result.matchedNodeCount++;
      matchedTexts.add(tree.names[tree.name[n]!]!);
      if (!parentInside) result.matchedTotal += tree.total[n]!;
    }
  }
  result.functionCount = matchedTexts.size;
  result.share = tree.rootTotal > 0 ? result.matchedTotal / tree.rootTotal : 0;
  return result;
}
