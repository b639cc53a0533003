/**
 * Repair of Go stacks truncated by the runtime's depth limit (64 frames for CPU before Go 1.23,
 * 32 for heap), following the heuristic of Pyroscope's pkg/pprof/fix_go_truncated.go so that
 * Kiln stores the same stacks Pyroscope would.
 *
 * Stacks of at least `suffixLen` frames are grouped by their root-most `suffixLen` frames. Each
 * group's suffix is cut into `tokens` overlapping windows of `tokenLen` frames; a window seen at
 * a distance j from the root in some group means that group knows j more root-side frames. A
 * group whose root-most window appears further from the root elsewhere is considered truncated,
 * and the missing root-side frames are copied from that group (following chains of such
 * references, at most `maxRecursiveDepth` long). Groups are visited in the order of their
 * suffixes compared as little-endian uint64 location ids, exactly as upstream, because that
 * order decides ties and which already-extended stacks later groups copy from.
 */
import type { Pprof } from "../../model/pprof.ts";

const tokens = 8;
const tokenLen = 16;
const suffixLen = tokens + tokenLen;
/** Reference chains longer than this stop the repair (deeply recursive profiles are left alone). */
const maxRecursiveDepth = 56;

export interface Stacks {
  offsets: Uint32Array;
  locations: Uint32Array;
}

function hasSampleType(p: Pprof, names: readonly string[]): boolean {
  for (const t of p.sampleTypeStr) if (names.includes(p.strings[t] ?? "")) return true;
  return false;
}

/** Whether a profile's stack depths say some of its stacks may have been truncated. */
export function mayHaveGoTruncatedStacks(p: Pprof, stacks: Stacks): boolean {
  let minDepth: number;
  let maxDepth = 0;
  if (hasSampleType(p, ["alloc_objects", "alloc_space", "inuse_objects", "inuse_space"])) {
    minDepth = 32;
    // Go 1.23+ heap profiles allow 128 frames: deeper stacks mean no truncation to repair.
    maxDepth = 33;
  } else if (hasSampleType(p, ["cpu"])) {
    minDepth = 64;
  } else {
    return false;
  }
  // Some truncated heap stacks are a few frames shorter than the limit (runtime/mprof.go).
  minDepth -= 4;
  let deepEnough = false;
  for (let s = 0; s < p.sampleCount; s++) {
    const depth = stacks.offsets[s + 1]! - stacks.offsets[s]!;
    if (depth >= minDepth) deepEnough = true;
    if (maxDepth !== 0 && depth >= maxDepth) return false;
  }
  return deepEnough;
}

/** Compares two uint64 ids by their little-endian bytes (Go's bytes.Compare on the raw slice). */
function compareIdBytes(a: number, b: number): number {
  if (a === b) return 0;
  let x = (a >>> 0) ^ (b >>> 0);
  let shiftA = a >>> 0;
  let shiftB = b >>> 0;
  if (x === 0) {
    shiftA = Math.floor(a / 4294967296) >>> 0;
    shiftB = Math.floor(b / 4294967296) >>> 0;
    x = shiftA ^ shiftB;
  }
  const lowestBit = 31 - Math.clz32(x & -x);
  const byteShift = lowestBit & ~7;
  return ((shiftA >>> byteShift) & 0xff) - ((shiftB >>> byteShift) & 0xff);
}

interface Ref {
  gid: number;
  off: number;
}

/**
 * Returns repaired stacks, or undefined when nothing changed. `stacks` is not modified.
 * Location indices are compared through `p.locationId` for ordering only.
 */
export function repairGoTruncatedStacks(p: Pprof, stacks: Stacks): Stacks | undefined {
  const ids = p.locationId;
  const all: number[][] = [];
  for (let s = 0; s < p.sampleCount; s++)
    all.push(Array.from(stacks.locations.subarray(stacks.offsets[s]!, stacks.offsets[s + 1]!)));

  const selected: number[] = [];
  for (let s = 0; s < all.length; s++) if (all[s]!.length >= suffixLen) selected.push(s);
  if (selected.length === 0) return undefined;
  const compareSuffix = (a: number[], b: number[]): number => {
    for (let i = 0; i < suffixLen; i++) {
      const c = compareIdBytes(ids[a[a.length - suffixLen + i]!]!, ids[b[b.length - suffixLen + i]!]!);
      if (c !== 0) return c;
    }
    return 0;
  };
  selected.sort((a, b) => compareSuffix(all[a]!, all[b]!));
  const samples = selected.map((s) => all[s]!);

  const groups: number[] = [];
  for (let i = 0; i < samples.length; i++) {
    if (i === 0 || compareSuffix(samples[i]!, samples[i - 1]!) !== 0) groups.push(i);
  }
  const keyOf = (stack: number[], from: number, to: number): string => stack.slice(from, to).join(",");

  // Token → the group where it sits furthest from the root (first group wins ties).
  const best = new Map<string, Ref>();
  for (let i = 0; i < groups.length; i++) {
    const stack = samples[groups[i]!]!;
    const base = stack.length - suffixLen;
    for (let j = 1; j <= tokens; j++) {
      const key = keyOf(stack, base + tokens - j, base + suffixLen - j);
      const c = best.get(key);
      if (c === undefined || j > c.off) best.set(key, { gid: i + 1, off: j });
    }
  }

  const deps: Ref[] = groups.map(() => ({ gid: 0, off: 0 }));
  for (let i = 0; i < groups.length; i++) {
    const stack = samples[groups[i]!]!;
    const c = best.get(keyOf(stack, stack.length - tokenLen, stack.length));
    if (c === undefined || c.gid - 1 === i) continue;
    deps[i] = c;
  }

  let changed = false;
  groupLoop: for (let i = 0; i < groups.length; i++) {
    let c = deps[i]!;
    let off = 0;
    let hops = 0;
    while (c.gid > 0 && c.off > 0) {
      off += c.off;
      const next = deps[c.gid - 1]!;
      if (next.gid === 0 || c.off === 0) break;
      c = next;
      hops++;
      if (hops === maxRecursiveDepth) break groupLoop;
    }
    if (off === 0) continue;
    const reference = samples[groups[c.gid - 1]!]!;
    // The reference may not hold the part sought; upstream leaves such groups alone.
    if (off >= reference.length) continue;
    const missing = reference.slice(reference.length - off);
    const groupEnd = i + 1 < groups.length ? groups[i + 1]! : samples.length;
    for (let k = groups[i]!; k < groupEnd; k++) samples[k]!.push(...missing);
    changed = true;
  }
  if (!changed) return undefined;

  const offsets = new Uint32Array(all.length + 1);
  let total = 0;
  for (let s = 0; s < all.length; s++) {
    total += all[s]!.length;
    offsets[s + 1] = total;
  }
  const locations = new Uint32Array(total);
  for (let s = 0; s < all.length; s++) locations.set(all[s]!, offsets[s]!);
  return { offsets, locations };
}

/**
 * Whether a pprof comes from the Go runtime: the SDK says so (`pyroscope_spy` gospy), or its
 * symbols look like Go (a `runtime.` function defined in a `.go` file). Pyroscope decides by
 * its language detection; this approximates it from the same evidence.
 */
export function isGoProfile(p: Pprof, spyName: string | undefined): boolean {
  if (spyName !== undefined && spyName !== "") return spyName === "gospy" || spyName === "go";
  for (let f = 0; f < p.functionCount; f++) {
    const name = p.strings[p.functionNameStr[f]!] ?? "";
    if (name.startsWith("runtime.") && (p.strings[p.functionFilenameStr[f]!] ?? "").endsWith(".go"))
      return true;
  }
  return false;
}

/** Go 1.21+ type-parameter instances, e.g. `[go.shape.string,go.shape.int]` (greedy, as upstream). */
const goShapeTypeParameters = /\[go\.shape\..*\]/g;

/**
 * Go 1.21+ names generic functions after an arbitrary type instance (golang/go#64528), so the
 * same code appears under many names. Like Pyroscope's DropGoTypeParameters, every string with
 * `[go.shape.…]` gets `[...]` instead. Returns a new table, or undefined when nothing changed.
 */
export function dropGoTypeParameters(strings: readonly string[]): string[] | undefined {
  let out: string[] | undefined;
  for (let i = 0; i < strings.length; i++) {
    const s = strings[i]!;
    if (!s.includes("[go.shape.")) continue;
    out ??= [...strings];
    out[i] = s.replace(goShapeTypeParameters, "[...]");
  }
  return out;
}
