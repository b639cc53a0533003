/**
 * PROFILE_FORMAT_DOT and `/pyroscope/render?format=dot`: a Graphviz call graph in the shape
 * of `go tool pprof -dot` (which Pyroscope runs on the merged profile): one box per function
 * with its flat and cum values, caller → callee edges weighted by the value flowing through
 * them, a legend box, at most `maxNodes` function nodes.
 *
 * Semantics follow pprof's graph building, per stack (here: per name-tree path):
 * - cum of a function counts a stack once even when the function recurses; flat is the value
 *   of stacks whose leaf it is;
 * - functions with |cum| below 0.5 % of the total are dropped first (pprof's node fraction),
 *   then the `maxNodes` functions with the largest cum are kept;
 * - dropped frames are skipped: an edge that jumps over them is "residual" (drawn dotted), a
 *   stack whose leaf was dropped adds no flat, self-recursion draws no edge, and an edge
 *   counts a stack once;
 * - edges below 0.1 % of the total are dropped (pprof's edge fraction).
 * Nodes are numbered N1, N2, … by flat descending (then cum, then name), so N1 is the
 * function with the most self value.
 */
import { STACK_DEPTH_MAX } from "../block/format.ts";
import { parseProfileTypeId } from "../model/profile-type.ts";
import { childrenByName, type NameTree } from "./tree.ts";

/** Default node cap of `/pyroscope/render?format=dot` and of DOT requests without max_nodes. */
export const DOT_DEFAULT_MAX_NODES = 100;
const NODE_FRACTION = 0.005;
const EDGE_FRACTION = 0.001;

export interface DotOptions {
  maxNodes: number;
  /** Profile type ID: gives the sample type and unit for the legend and value formatting. */
  profileType: string;
  /** Graph name; default "unnamed" (as pprof without a file name). */
  title?: string;
}

export interface DotNode {
  id: number;
  name: string;
  flat: number;
  cum: number;
}

export interface DotEdge {
  from: number;
  to: number;
  weight: number;
  residual: boolean;
}

export interface CallGraph {
  total: number;
  nodes: DotNode[];
  edges: DotEdge[];
  /** Functions before trimming, and how many were dropped for the node fraction. */
  functionCount: number;
  droppedByFraction: number;
  nodeCutoff: number;
}

/** The trimmed function call graph of `tree` (see the module comment). */
export function callGraph(tree: NameTree, maxNodes: number): CallGraph {
  const view = tree.view();
  const totals = tree.totals();
  const total = totals[0]!;
  const nameCount = tree.names.count;
  const names = tree.names.names;
  const { offsets, children } = childrenByName(view, new Uint32Array(nameCount));

  // Pass 1: flat and cum of every function over the whole tree.
  const flat0 = new Float64Array(nameCount);
  const cum0 = new Float64Array(nameCount);
  const present = new Uint8Array(nameCount);
  walk(view.nodeCount, offsets, children, view.name, (node, name, onPath) => {
    present[name] = 1;
    flat0[name]! += view.self[node]!;
    if (onPath[name] === 0) cum0[name]! += totals[node]!;
  });
  const nodeCutoff = Math.abs(total) * NODE_FRACTION;
  let functionCount = 0;
  const candidates: number[] = [];
  for (let id = 0; id < nameCount; id++) {
    if (present[id] === 0) continue;
    functionCount++;
    if (Math.abs(cum0[id]!) >= nodeCutoff && !(cum0[id] === 0 && flat0[id] === 0)) candidates.push(id);
  }
  const byCum = (a: number, b: number) =>
    Math.abs(cum0[b]!) - Math.abs(cum0[a]!) ||
    Math.abs(flat0[b]!) - Math.abs(flat0[a]!) ||
    compareText(names[a]!, names[b]!);
  candidates.sort(byCum);
  const kept = candidates.slice(0, Math.max(0, maxNodes));
  const keptIndex = new Int32Array(nameCount).fill(-1);
  kept.forEach((id, i) => {
    keptIndex[id] = i;
  });

  // Pass 2: values over kept functions only, with pprof's residual-edge rules.
  const flat = new Float64Array(kept.length);
  const cum = new Float64Array(kept.length);
  const edgeWeight = new Map<number, number>();
  const edgeResidual = new Set<number>();
  const edgesOnPath = new Map<number, number>();
  const k = kept.length;
  // Per tree node: the nearest kept ancestor function (index, -1 = none) and whether frames
  // were skipped since it.
  const lastKept = new Int32Array(view.nodeCount).fill(-1);
  const skipped = new Uint8Array(view.nodeCount);
  const edgeOf = new Float64Array(view.nodeCount).fill(-1);
  walk(
    view.nodeCount,
    offsets,
    children,
    view.name,
    (node, name, onPath) => {
      const parent = view.parent[node]!;
      const above = parent > 0 ? lastKept[parent]! : -1;
      const gap = parent > 0 ? skipped[parent]! : 0;
      const index = keptIndex[name]!;
      if (index < 0) {
        lastKept[node] = above;
        skipped[node] = 1;
        return;
      }
      lastKept[node] = index;
      skipped[node] = 0;
      flat[index]! += view.self[node]!;
      if (onPath[name] === 0) cum[index]! += totals[node]!;
      if (above >= 0 && above !== index) {
        const key = above * k + index;
        const seen = edgesOnPath.get(key) ?? 0;
        if (seen === 0) edgeWeight.set(key, (edgeWeight.get(key) ?? 0) + totals[node]!);
        if (gap) edgeResidual.add(key);
        edgesOnPath.set(key, seen + 1);
        edgeOf[node] = key;
      }
    },
    (node) => {
      const key = edgeOf[node]!;
      if (key >= 0) edgesOnPath.set(key, edgesOnPath.get(key)! - 1);
    },
  );

  // Number nodes by flat (then cum, then name).
  const order = kept.map((_, i) => i);
  order.sort(
    (a, b) =>
      Math.abs(flat[b]!) - Math.abs(flat[a]!) ||
      Math.abs(cum[b]!) - Math.abs(cum[a]!) ||
      compareText(names[kept[a]!]!, names[kept[b]!]!),
  );
  const idOf = new Int32Array(k);
  const nodes: DotNode[] = order.map((i, n) => {
    idOf[i] = n + 1;
    return { id: n + 1, name: names[kept[i]!]!, flat: flat[i]!, cum: cum[i]! };
  });
  const edgeCutoff = Math.abs(total) * EDGE_FRACTION;
  const edges: DotEdge[] = [];
  for (const [key, weight] of edgeWeight) {
    if (Math.abs(weight) < edgeCutoff || weight === 0) continue;
    const from = idOf[Math.floor(key / k)]!;
    const to = idOf[key % k]!;
    edges.push({ from, to, weight, residual: edgeResidual.has(key) });
  }
  edges.sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight) || a.from - b.from || a.to - b.to);
  return {
    total,
    nodes,
    edges,
    functionCount,
    droppedByFraction: functionCount - candidates.length,
    nodeCutoff,
  };
}

/**
 * Depth-first walk of the name tree (root excluded). `enter` sees each node with `onPath`,
 * the count of each name among the node's ancestors; `leave` runs after its subtree.
 */
function walk(
  nodeCount: number,
  offsets: Uint32Array,
  children: Int32Array,
  nameOf: Int32Array,
  enter: (node: number, name: number, onPath: Uint32Array) => void,
  leave?: (node: number) => void,
): void {
  let maxName = 0;
  for (let i = 1; i < nodeCount; i++) if (nameOf[i]! > maxName) maxName = nameOf[i]!;
  const onPath = new Uint32Array(maxName + 1);
  const stack = new Int32Array(nodeCount * 2);
  let top = 0;
  for (let c = offsets[0]!; c < offsets[1]!; c++) stack[top++] = children[c]!;
  while (top > 0) {
    const entry = stack[--top]!;
    if (entry < 0) {
      const node = ~entry;
      onPath[nameOf[node]!]!--;
      leave?.(node);
      continue;
    }
    const name = nameOf[entry]!;
    enter(entry, name, onPath);
    onPath[name]!++;
    if (onPath[name]! > STACK_DEPTH_MAX) throw new RangeError(`name tree deeper than ${STACK_DEPTH_MAX}`);
    stack[top++] = ~entry;
    for (let c = offsets[entry]!; c < offsets[entry + 1]!; c++) stack[top++] = children[c]!;
  }
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The DOT text of `tree`; "" when the tree holds no value. */
export function dotOf(tree: NameTree, options: DotOptions): string {
  const graph = callGraph(tree, options.maxNodes);
  if (graph.total === 0 && graph.nodes.length === 0) return "";
  const type = parseProfileTypeId(options.profileType);
  const format = (v: number) => formatValue(v, type.sampleUnit);
  const pct = (v: number) => (graph.total === 0 ? "0%" : `${((100 * v) / graph.total).toFixed(2)}%`);
  const title = options.title ?? "unnamed";
  const shownFlat = graph.nodes.reduce((sum, n) => sum + n.flat, 0);
  const legend = [
    `Type: ${type.sampleType}`,
    `Showing nodes accounting for ${format(shownFlat)}, ${pct(shownFlat)} of ${format(graph.total)} total`,
  ];
  if (graph.droppedByFraction > 0) {
    legend.push(`Dropped ${graph.droppedByFraction} nodes (cum <= ${format(graph.nodeCutoff)})`);
  }
  const candidates = graph.functionCount - graph.droppedByFraction;
  if (graph.nodes.length < candidates) {
    legend.push(`Showing top ${graph.nodes.length} nodes out of ${candidates}`);
  }
  const lines: string[] = [];
  lines.push(`digraph ${quote(title)} {`);
  lines.push(`node [style=filled fillcolor="#f8f8f8"]`);
  const legendLabel = `${legend.map(escapeText).join("\\l")}\\l`;
  lines.push(
    `subgraph cluster_L { "${escapeText(legend[0]!)}" [shape=box fontsize=16 label="${legendLabel}" tooltip=${quote(title)}] }`,
  );
  let maxFlat = 0;
  for (const n of graph.nodes) maxFlat = Math.max(maxFlat, Math.abs(n.flat));
  for (const n of graph.nodes) {
    let label = `${multiline(escapeText(n.name))}\\n`;
    label += n.flat !== 0 ? `${format(n.flat)} (${pct(n.flat)})` : "0";
    if (n.cum !== n.flat) label += `${n.flat !== 0 ? "\\n" : " "}of ${format(n.cum)} (${pct(n.cum)})`;
    const fontSize =
      maxFlat > 0 && n.flat !== 0 ? 8 + Math.ceil(16 * Math.sqrt(Math.abs(n.flat) / maxFlat)) : 8;
    const share = graph.total === 0 ? 0 : Math.abs(n.cum / graph.total);
    lines.push(
      `N${n.id} [label="${label}" id="node${n.id}" fontsize=${fontSize} shape=box tooltip="${escapeText(n.name)} (${format(n.cum)})" color="${heat(share, false)}" fillcolor="${heat(share, true)}"]`,
    );
  }
  let maxEdge = 0;
  for (const e of graph.edges) maxEdge = Math.max(maxEdge, Math.abs(e.weight));
  const nameOfId = new Map(graph.nodes.map((n) => [n.id, n.name]));
  for (const e of graph.edges) {
    const share = graph.total === 0 ? 0 : Math.abs(e.weight / graph.total);
    const weight = 1 + Math.min(100, Math.floor(100 * share));
    const penwidth = 1 + Math.min(5, Math.floor((5 * Math.abs(e.weight)) / maxEdge));
    const tip = escapeText(`${nameOfId.get(e.from)} -> ${nameOfId.get(e.to)} (${format(e.weight)})`);
    const style = e.residual ? ` style="dotted"` : "";
    lines.push(
      `N${e.from} -> N${e.to} [label=" ${format(e.weight)}" weight=${weight} penwidth=${penwidth} color="${heat(share, false)}" tooltip="${tip}" labeltooltip="${tip}"${style}]`,
    );
  }
  lines.push("}");
  return `${lines.join("\n")}\n`;
}

/** A function name on several label lines: breaks at `.` and `::` outside parentheses (linear). */
function multiline(name: string): string {
  let out = "";
  let depth = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    if (c === "(") depth++;
    else if (c === ")" && depth > 0) depth--;
    if (depth === 0 && c === "." && i > 0 && i < name.length - 1) {
      out += "\\n";
    } else if (depth === 0 && c === ":" && name[i + 1] === ":" && i > 0) {
      out += "\\n";
      i++;
    } else {
      out += c;
    }
  }
  return out;
}

/** A DOT string literal. */
function quote(text: string): string {
  return `"${escapeText(text)}"`;
}

/** Text inside a DOT quoted string: backslash and quote escaped, newlines flattened. */
function escapeText(text: string): string {
  return text
    .replace(/\\/g, "\\\\")
    .replace(/"/g, '\\"')
    .replace(/[\r\n]+/g, " ");
}

/** Grey for ~0 %, deepening to red for 100 %; the fill is a pale version of the line color. */
function heat(share: number, fill: boolean): string {
  const s = Math.min(1, Math.max(0, Math.sqrt(share)));
  const hex = (v: number) =>
    Math.round(Math.min(255, Math.max(0, v)))
      .toString(16)
      .padStart(2, "0");
  const r = 178;
  const g = 178 * (1 - s);
  const b = 178 * (1 - s);
  if (!fill) return `#${hex(r)}${hex(g)}${hex(b)}`;
  const pale = (v: number) => 238 + (v - 178) * 0.1;
  return `#${hex(pale(r))}${hex(pale(g))}${hex(pale(b))}`;
}

/** A value in the sample unit, scaled like pprof's labels (`1.50s`, `20ms`, `3.20MB`, `42`). */
export function formatValue(value: number, unit: string): string {
  const sign = value < 0 ? "-" : "";
  const v = Math.abs(value);
  const scaled = (steps: [number, string][]) => {
    for (const [size, suffix] of steps) {
      if (v >= size) return `${sign}${trim(v / size)}${suffix}`;
    }
    return `${sign}${trim(v)}${steps[steps.length - 1]![1]}`;
  };
  switch (unit) {
    case "nanoseconds":
      return scaled([
        [3600e9, "hrs"],
        [60e9, "mins"],
        [1e9, "s"],
        [1e6, "ms"],
        [1e3, "us"],
        [1, "ns"],
      ]);
    case "microseconds":
      return formatValue(value * 1e3, "nanoseconds");
    case "milliseconds":
      return formatValue(value * 1e6, "nanoseconds");
    case "seconds":
      return formatValue(value * 1e9, "nanoseconds");
    case "bytes":
      return scaled([
        [1024 ** 4, "TB"],
        [1024 ** 3, "GB"],
        [1024 ** 2, "MB"],
        [1024, "kB"],
        [1, "B"],
      ]);
    default:
      return `${sign}${trim(v)}`;
  }
}

function trim(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return v.toFixed(2).replace(/\.?0+$/, "");
}
