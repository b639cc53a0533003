/**
 * V8 / Chrome `.cpuprofile` JSON (`/ingest?format=cpuprofile`, a Kiln extension; Pyroscope
 * has no such format). Two layouts:
 * - current (Chrome ≥ 58, Node `--cpu-prof`, inspector `Profiler.stop`): `nodes[]` (id,
 *   callFrame {functionName, url, lineNumber, columnNumber}, `children` ids — or `parent`
 *   ids, as in trace-event ProfileChunks), `samples[]` node ids, `timeDeltas[]` µs,
 *   `startTime`/`endTime` µs;
 * - legacy (Node ≤ 10 `v8-profiler`): a `head` node tree with nested `children` objects,
 *   `samples[]` node ids and `timestamps[]` µs (the first may be the start time: when there
 *   is one more timestamp than samples, sample i is at `timestamps[i + 1]`).
 *
 * Every `samples[]` entry counts 1 (a file without `samples` falls back to each node's
 * `hitCount`). A frame is the node's `functionName` (`(anonymous)` when empty) in its `url`;
 * the V8 pseudo-nodes `(root)`, `(program)`, `(idle)`, `(garbage collector)` are kept as
 * frames, so `(root)` is the root of every stack.
 *
 * Stored as the app-name suffix says (§2.6; it must be a `process_cpu` or `wall` type, so
 * `myapp` and `myapp.cpu` → `process_cpu`, `myapp.wall` → `wall`), with two sample types
 * like a Go CPU pprof: `samples/count` (the sample counts above) and `cpu/nanoseconds` (or
 * `wall/nanoseconds`), period type `cpu/nanoseconds`. The duration of a sample is the time
 * until the next sample, as Chrome DevTools attributes it; the last sample runs until
 * `endTime` when that is later, else it gets the mean interval of the others. Negative
 * deltas (V8 reorders a few timestamps) count 0. Without any timestamps (or with `hitCount`
 * only) each sample is worth 1e9 / sampleRate ns (the request's `sampleRate`, default 100).
 * The period is the mean interval, rounded, at least 1 ns.
 *
 * Malformed input → KilnError invalid_argument "malformed_cpuprofile"; limits as in
 * frame-stacks.ts.
 */
import { KilnError } from "../../model/errors.ts";
import type { Pprof } from "../../model/pprof.ts";
import { appendValueColumn, FrameStacks, idStacksToPprof, internString } from "../speedscope/frame-stacks.ts";
import type { SuffixProfileType } from "../text/text-pprof.ts";

export interface CpuProfileLimits {
  maxDecodedBytes: number;
  maxDistinctStacks: number;
  maxStackDepth: number;
}

/** Column 0: sample counts; column 1: durations in nanoseconds (when `timed`). */
export interface CpuProfile {
  stacks: FrameStacks;
  samples: number;
  /** Whether durations come from timestamps; false → the sampleRate rule applies. */
  timed: boolean;
  layout: "nodes" | "head";
}

interface RawNode {
  id: number;
  name: string;
  url: string;
  parent: number | undefined;
  hitCount: number;
}

export function parseCpuProfile(body: Uint8Array, limits: CpuProfileLimits): CpuProfile {
  if (body.length > limits.maxDecodedBytes) {
    throw new KilnError(
      "invalid_argument",
      "profile_too_large",
      `cpuprofile of ${body.length} bytes exceeds ${limits.maxDecodedBytes} bytes (max_profile_size_bytes)`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch (err) {
    throw bad(`not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!isObject(json)) throw bad("want a JSON object");
  let nodes: Map<number, RawNode>;
  let layout: CpuProfile["layout"];
  if (Array.isArray(json.nodes)) {
    nodes = flatNodes(json.nodes);
    layout = "nodes";
  } else if (isObject(json.head)) {
    nodes = headNodes(json.head);
    layout = "head";
  } else {
    throw bad("want `nodes` (Chrome/Node) or `head` (legacy Node) call tree");
  }

  const stacks = new FrameStacks(limits, 2);
  const trieNode = trieNodes(nodes, stacks);
  const rawSamples = json.samples;
  if (rawSamples === undefined || rawSamples === null) {
    // No sample list: the per-node hit counts are all there is.
    let samples = 0;
    for (const node of nodes.values()) {
      stacks.add(trieNode.get(node.id)!, node.hitCount);
      samples += node.hitCount;
    }
    return { stacks, samples, timed: false, layout };
  }
  if (!Array.isArray(rawSamples)) throw bad("samples: want an array of node ids");
  const n = rawSamples.length;
  const times = sampleTimes(json, n, layout);
  const durations = times ? sampleDurations(times, endTimeMicros(json, layout)) : undefined;
  for (let i = 0; i < n; i++) {
    const id = rawSamples[i];
    const node = typeof id === "number" ? trieNode.get(id) : undefined;
    if (node === undefined) throw bad(`samples[${i}]: unknown node id ${JSON.stringify(id ?? null)}`);
    stacks.add(node, 1, 0);
    if (durations) stacks.add(node, durations[i]! * 1000, 1);
  }
  return { stacks, samples: n, timed: durations !== undefined, layout };
}

export interface CpuProfilePprofInput {
  type: SuffixProfileType;
  /** Hz; only used when the profile has no timestamps. */
  sampleRate: number;
  timeNanos: bigint;
}

export function cpuProfileToPprof(profile: CpuProfile, input: CpuProfilePprofInput): Pprof {
  const { type } = input;
  if (type.metricName !== "process_cpu" && type.metricName !== "wall") {
    throw new KilnError(
      "invalid_argument",
      "unknown_profile_type",
      `a cpuprofile holds CPU samples: profile type ${type.suffix} does not apply (use cpu or wall)`,
    );
  }
  const rateNanos = input.sampleRate > 0 ? 1e9 / input.sampleRate : 0;
  const ids = profile.stacks.idStacks(
    (v, column) => (column === 0 ? v : Math.round(v)),
    profile.timed ? [0, 1] : [0],
  );
  const counts = ids.values[0]!;
  const nanos = profile.timed ? ids.values[1]! : counts.map((c) => Math.round(c * rateNanos));
  const pprof = idStacksToPprof(profile.stacks, ids.stacks, counts, {
    type: { ...type, sampleType: "samples", sampleUnit: "count" },
    sampleRate: 0,
    timeNanos: input.timeNanos,
  });
  appendValueColumn(pprof, type.metricName === "wall" ? "wall" : "cpu", "nanoseconds", nanos);
  let totalCount = 0;
  let totalNanos = 0;
  for (let s = 0; s < counts.length; s++) {
    totalCount += counts[s]!;
    totalNanos += nanos[s]!;
  }
  pprof.hasPeriodType = true;
  pprof.periodTypeStr = internString(pprof, "cpu");
  pprof.periodUnitStr = internString(pprof, "nanoseconds");
  pprof.period = Math.max(1, Math.round(totalCount > 0 ? totalNanos / totalCount : rateNanos));
  pprof.durationNanos = BigInt(Math.round(totalNanos));
  return pprof;
}

function flatNodes(raw: unknown[]): Map<number, RawNode> {
  const nodes = new Map<number, RawNode>();
  const parentOf = new Map<number, number>();
  raw.forEach((value, i) => {
    if (!isObject(value)) throw bad(`nodes[${i}]: want an object`);
    const node = rawNode(value, `nodes[${i}]`, value.callFrame);
    if (nodes.has(node.id)) throw bad(`nodes[${i}]: duplicate node id ${node.id}`);
    nodes.set(node.id, node);
    if (value.parent !== undefined && value.parent !== null) {
      if (!isId(value.parent)) throw bad(`nodes[${i}].parent: want a node id`);
      parentOf.set(node.id, value.parent);
    }
    const children = value.children ?? [];
    if (!Array.isArray(children)) throw bad(`nodes[${i}].children: want an array of node ids`);
    for (const child of children) {
      if (!isId(child)) throw bad(`nodes[${i}].children: want node ids`);
      if (parentOf.has(child) && parentOf.get(child) !== node.id) {
        throw bad(`node ${child} has two parents`);
      }
      parentOf.set(child, node.id);
    }
  });
  for (const [child, parent] of parentOf) {
    const node = nodes.get(child);
    if (!node) throw bad(`node ${parent} has unknown child ${child}`);
    if (!nodes.has(parent)) throw bad(`node ${child} has unknown parent ${parent}`);
    node.parent = parent;
  }
  return nodes;
}

/** The legacy nested tree, flattened without recursion. */
function headNodes(head: Record<string, unknown>): Map<number, RawNode> {
  const nodes = new Map<number, RawNode>();
  const todo: [Record<string, unknown>, number | undefined, string][] = [[head, undefined, "head"]];
  while (todo.length > 0) {
    const [value, parent, where] = todo.pop()!;
    const node = rawNode(value, where, value);
    if (nodes.has(node.id)) throw bad(`${where}: duplicate node id ${node.id}`);
    node.parent = parent;
    nodes.set(node.id, node);
    const children = value.children ?? [];
    if (!Array.isArray(children)) throw bad(`${where}.children: want an array of nodes`);
    children.forEach((child, i) => {
      if (!isObject(child)) throw bad(`${where}.children[${i}]: want an object`);
      todo.push([child, node.id, `${where}.children[${i}]`]);
    });
  }
  return nodes;
}

function rawNode(value: Record<string, unknown>, where: string, frame: unknown): RawNode {
  if (!isId(value.id)) throw bad(`${where}.id: want an integer`);
  if (!isObject(frame)) throw bad(`${where}: missing callFrame`);
  const name = frame.functionName ?? "";
  const url = frame.url ?? "";
  if (typeof name !== "string") throw bad(`${where}.functionName: want a string`);
  if (typeof url !== "string") throw bad(`${where}.url: want a string`);
  const hitCount = value.hitCount ?? 0;
  if (typeof hitCount !== "number" || !Number.isInteger(hitCount) || hitCount < 0) {
    throw bad(`${where}.hitCount: want a non-negative integer`);
  }
  return { id: value.id, name: name === "" ? "(anonymous)" : name, url, parent: undefined, hitCount };
}

/** Node id → FrameStacks node (root first), each computed once; cycles are rejected. */
function trieNodes(nodes: Map<number, RawNode>, stacks: FrameStacks): Map<number, number> {
  const done = new Map<number, number>();
  const path: RawNode[] = [];
  for (const start of nodes.values()) {
    if (done.has(start.id)) continue;
    path.length = 0;
    let at: RawNode | undefined = start;
    while (at && !done.has(at.id)) {
      path.push(at);
      if (path.length > nodes.size) throw bad(`node ${start.id}: parent links form a cycle`);
      at = at.parent === undefined ? undefined : nodes.get(at.parent);
    }
    let trie = at ? done.get(at.id)! : 0;
    for (let i = path.length - 1; i >= 0; i--) {
      const node = path[i]!;
      trie = stacks.child(trie, stacks.frame(node.name, node.url));
      done.set(node.id, trie);
    }
  }
  return done;
}

/** Sample times in µs, or undefined when the file has none. */
function sampleTimes(
  json: Record<string, unknown>,
  n: number,
  layout: CpuProfile["layout"],
): number[] | undefined {
  if (layout === "nodes") {
    const deltas = json.timeDeltas;
    if (deltas === undefined || deltas === null) return undefined;
    if (!Array.isArray(deltas) || deltas.length !== n)
      throw bad(`timeDeltas: want ${n} numbers, one per sample`);
    const start = json.startTime ?? 0;
    if (!isFiniteNumber(start)) throw bad("startTime: want a number");
    const times = new Array<number>(n);
    let t = start;
    for (let i = 0; i < n; i++) {
      const d = deltas[i];
      if (!isFiniteNumber(d)) throw bad(`timeDeltas[${i}]: want a number`);
      t += d;
      times[i] = t;
    }
    return times;
  }
  const stamps = json.timestamps;
  if (stamps === undefined || stamps === null) return undefined;
  if (!Array.isArray(stamps) || (stamps.length !== n && stamps.length !== n + 1)) {
    throw bad(`timestamps: want ${n} or ${n + 1} numbers for ${n} samples`);
  }
  const skip = stamps.length - n;
  const times = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const t = stamps[i + skip];
    if (!isFiniteNumber(t)) throw bad(`timestamps[${i + skip}]: want a number`);
    times[i] = t;
  }
  return times;
}

/** endTime in µs when it is usable (the legacy layout's start/end are in seconds: unusable). */
function endTimeMicros(json: Record<string, unknown>, layout: CpuProfile["layout"]): number | undefined {
  if (layout !== "nodes") return undefined;
  return isFiniteNumber(json.endTime) ? json.endTime : undefined;
}

/** µs per sample: until the next sample; the last until `end`, else the mean of the others. */
function sampleDurations(times: number[], end: number | undefined): number[] {
  const n = times.length;
  const out = new Array<number>(n);
  let sum = 0;
  for (let i = 0; i + 1 < n; i++) {
    out[i] = Math.max(0, times[i + 1]! - times[i]!);
    sum += out[i]!;
  }
  if (n > 0) {
    const last = times[n - 1]!;
    out[n - 1] = end !== undefined && end >= last ? end - last : n > 1 ? sum / (n - 1) : 0;
  }
  return out;
}

function bad(message: string): KilnError {
  return new KilnError("invalid_argument", "malformed_cpuprofile", `cpuprofile: ${message}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

function isId(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v);
}
