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

/** Final avalanche of a 32-bit hash (murmur3's fmix32), as an int32. */
function finishHash(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Hash of `locations[from, to)`: multiply-rotate per entry, then a final avalanche. */
function hashLocations(locations: Uint32Array, from: number, to: number): number {
  let h = to - from;
  for (let i = from; i < to; i++) h = Math.imul((h << 5) | (h >>> 27), 0x9e3779b1) ^ locations[i]!;
  return finishHash(h);
}

/** Base of the rolling window hash, and its power tokenLen - 1 (mod 2^32). */
const rollPrime = 0x01000193;
const rollPrimeTop = (() => {
  let p = 1;
  for (let k = 1; k < tokenLen; k++) p = Math.imul(p, rollPrime);
  return p;
})();

function sameLocations(locations: Uint32Array, a: number, b: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (locations[a + i] !== locations[b + i]) return false;
  return true;
}

/** Smallest power of two >= 2n (and >= 16): open-addressing tables stay at most half full. */
function tableSize(n: number): number {
  let size = 16;
  while (size < 2 * n) size *= 2;
  return size;
}

/**
 * Returns repaired stacks, or undefined when nothing changed. `stacks` is not modified.
 * Location indices are compared through `p.locationId` for ordering only.
 *
 * Works on the flat arrays: groups are found by hashing each deep stack's suffix (location
 * indices) into an open-addressing table, only the groups' first samples are sorted, and the
 * root-side frames a group gains are kept once per group and appended when the output is
 * written. Results match the per-stack formulation: samples of a group are in ascending sample
 * order (the order a stable sort of the samples gives), so a group's first sample is its
 * lowest-numbered one.
 */
export function repairGoTruncatedStacks(p: Pprof, stacks: Stacks): Stacks | undefined {
  const { offsets, locations } = stacks;
  const sampleCount = p.sampleCount;

  // 1. Group the stacks of at least suffixLen frames by their suffix (root-most frames).
  let selectedCount = 0;
  for (let s = 0; s < sampleCount; s++) if (offsets[s + 1]! - offsets[s]! >= suffixLen) selectedCount++;
  if (selectedCount === 0) return undefined;
  const groupOf = new Int32Array(sampleCount).fill(-1);
  /** First (lowest-numbered) sample of each group, in discovery order. */
  const firstSample: number[] = [];
  {
    const size = tableSize(selectedCount);
    const mask = size - 1;
    const slots = new Int32Array(size); // group + 1; 0 = empty
    const slotHash = new Int32Array(size);
    for (let s = 0; s < sampleCount; s++) {
      const end = offsets[s + 1]!;
      if (end - offsets[s]! < suffixLen) continue;
      const from = end - suffixLen;
      const h = hashLocations(locations, from, end);
      let slot = h & mask;
      let g = -1;
      for (;;) {
        const entry = slots[slot]!;
        if (entry === 0) break;
        if (
          slotHash[slot] === h &&
          sameLocations(locations, offsets[firstSample[entry - 1]! + 1]! - suffixLen, from, suffixLen)
        ) {
          g = entry - 1;
          break;
        }
        slot = (slot + 1) & mask;
      }
      if (g < 0) {
        g = firstSample.length;
        firstSample.push(s);
        slots[slot] = g + 1;
        slotHash[slot] = h;
      }
      groupOf[s] = g;
    }
  }

  // 2. Order the groups by suffix, as little-endian uint64 ids (Go's bytes.Compare). Byte-swapped
  // 32-bit halves of each id compare as unsigned integers in that order.
  const ids = p.locationId;
  const idKeyLo = new Uint32Array(p.locationCount);
  const idKeyHi = new Uint32Array(p.locationCount);
  for (let l = 0; l < ids.length; l++) {
    const id = ids[l]!;
    idKeyLo[l] = byteSwap(id >>> 0);
    idKeyHi[l] = byteSwap(Math.floor(id / 4294967296) >>> 0);
  }
  const compareSuffix = (a: number, b: number): number => {
    const ea = offsets[a + 1]! - suffixLen;
    const eb = offsets[b + 1]! - suffixLen;
    for (let i = 0; i < suffixLen; i++) {
      const la = locations[ea + i]!;
      const lb = locations[eb + i]!;
      if (la === lb) continue;
      const ka = idKeyLo[la]!;
      const kb = idKeyLo[lb]!;
      if (ka !== kb) return ka < kb ? -1 : 1;
      const ha = idKeyHi[la]!;
      const hb = idKeyHi[lb]!;
      if (ha !== hb) return ha < hb ? -1 : 1;
    }
    return 0;
  };
  const order = sortGroups(
    firstSample,
    (a, b) => compareSuffix(firstSample[a]!, firstSample[b]!) || a - b,
    (g) => {
      return idKeyLo[locations[offsets[firstSample[g]! + 1]! - suffixLen]!]!;
    },
  );

  // Groups of distinct location indices but equal ids (ids past 2^53 that round alike) are one
  // group by id comparison: merge such neighbours (the merged group starts at its lowest sample).
  /** Sorted group → its discovery-order groups (usually one). */
  let merged: number[][] | undefined;
  for (let i = 1; i < order.length; i++) {
    if (compareSuffix(firstSample[order[i - 1]!]!, firstSample[order[i]!]!) !== 0) continue;
    merged = [];
    for (let k = 0; k < order.length; k++) {
      const g = order[k]!;
      if (k > 0 && compareSuffix(firstSample[order[k - 1]!]!, firstSample[g]!) === 0) merged.at(-1)!.push(g);
      else merged.push([g]);
    }
    break;
  }
  /** Per sorted group: its first sample. */
  const groupCount = merged ? merged.length : order.length;
  const reps = new Int32Array(groupCount);
  /** Discovery-order group → sorted group. */
  const sortedOf = new Int32Array(firstSample.length);
  for (let i = 0; i < groupCount; i++) {
    const members = merged ? merged[i]! : [order[i]!];
    let rep = Number.POSITIVE_INFINITY;
    for (const g of members) {
      sortedOf[g] = i;
      rep = Math.min(rep, firstSample[g]!);
    }
    reps[i] = rep;
  }

  // 3. Token (window of tokenLen frames) → the group where it sits furthest from the root
  // (first group wins ties). Window hashes are rolled along each group's suffix: the
  // tokens + 1 windows of a group (j = 0 is the root-most) cost one pass over its suffix.
  const windowHashes = new Int32Array(groupCount * (tokens + 1));
  for (let i = 0; i < groupCount; i++) {
    const end = offsets[reps[i]! + 1]!;
    // Window starting at `from`: sum of locations[from + k] * P^k, rolled one frame leafwards.
    let from = end - tokenLen;
    let h = 0;
    for (let k = end - 1; k >= from; k--) h = (Math.imul(h, rollPrime) + locations[k]!) | 0;
    const at = i * (tokens + 1);
    windowHashes[at] = finishHash(h);
    for (let j = 1; j <= tokens; j++) {
      h = (h - Math.imul(locations[from + tokenLen - 1]!, rollPrimeTop)) | 0;
      from--;
      h = (Math.imul(h, rollPrime) + locations[from]!) | 0;
      windowHashes[at + j] = finishHash(h);
    }
  }
  // Open addressing, one slot = [gid (sorted group + 1, 0 = empty), off, window start, hash].
  // At most 2/3 full: the slots stay few enough for the cache (16 bytes each).
  let size = 16;
  while (size * 2 < groupCount * tokens * 3) size *= 2;
  const mask = size - 1;
  const table = new Int32Array(size * 4);
  const findToken = (from: number, h: number): number => {
    let slot = h & mask;
    for (;;) {
      const e = slot * 4;
      if (table[e] === 0) return e;
      if (table[e + 3] === h && sameLocations(locations, table[e + 2]!, from, tokenLen)) return e;
      slot = (slot + 1) & mask;
    }
  };
  for (let i = 0; i < groupCount; i++) {
    const end = offsets[reps[i]! + 1]!;
    for (let j = 1; j <= tokens; j++) {
      const from = end - tokenLen - j;
      const h = windowHashes[i * (tokens + 1) + j]!;
      const e = findToken(from, h);
      if (table[e] === 0) {
        table[e] = i + 1;
        table[e + 1] = j;
        table[e + 2] = from;
        table[e + 3] = h;
      } else if (j > table[e + 1]!) {
        table[e] = i + 1;
        table[e + 1] = j;
      }
    }
  }

  const depGid = new Int32Array(groupCount);
  const depOff = new Int32Array(groupCount);
  for (let i = 0; i < groupCount; i++) {
    const from = offsets[reps[i]! + 1]! - tokenLen;
    const e = findToken(from, windowHashes[i * (tokens + 1)]!);
    const gid = table[e]!;
    if (gid === 0 || gid - 1 === i) continue;
    depGid[i] = gid;
    depOff[i] = table[e + 1]!;
  }

  // 4. Follow the references; a group's missing frames are the root-most `off` frames of its
  // reference's first stack, as that stack stands when the group is reached (groups earlier in
  // the order may have been extended already).
  const extension: (Uint32Array | undefined)[] = new Array(groupCount);
  let changed = false;
  groupLoop: for (let i = 0; i < groupCount; i++) {
    let cGid = depGid[i]!;
    let cOff = depOff[i]!;
    let off = 0;
    let hops = 0;
    while (cGid > 0 && cOff > 0) {
      off += cOff;
      const nextGid = depGid[cGid - 1]!;
      if (nextGid === 0 || cOff === 0) break;
      cOff = depOff[cGid - 1]!;
      cGid = nextGid;
      hops++;
      if (hops === maxRecursiveDepth) break groupLoop;
    }
    if (off === 0) continue;
    const r = cGid - 1;
    const rep = reps[r]!;
    const refStart = offsets[rep]!;
    const refOwn = offsets[rep + 1]! - refStart;
    const refExt = extension[r];
    const refLength = refOwn + (refExt ? refExt.length : 0);
    // The reference may not hold the part sought; upstream leaves such groups alone.
    if (off >= refLength) continue;
    const missing = new Uint32Array(off);
    const skip = refLength - off;
    for (let k = 0; k < off; k++) {
      const at = skip + k;
      missing[k] = at < refOwn ? locations[refStart + at]! : refExt![at - refOwn]!;
    }
    extension[i] = missing;
    changed = true;
  }
  if (!changed) return undefined;

  // 5. Write the repaired stacks.
  const outOffsets = new Uint32Array(sampleCount + 1);
  let total = 0;
  for (let s = 0; s < sampleCount; s++) {
    total += offsets[s + 1]! - offsets[s]!;
    const g = groupOf[s]!;
    if (g >= 0) total += extension[sortedOf[g]!]?.length ?? 0;
    outOffsets[s + 1] = total;
  }
  const outLocations = new Uint32Array(total);
  let n = 0;
  for (let s = 0; s < sampleCount; s++) {
    const end = offsets[s + 1]!;
    for (let k = offsets[s]!; k < end; k++) outLocations[n++] = locations[k]!;
    const g = groupOf[s]!;
    if (g < 0) continue;
    const ext = extension[sortedOf[g]!];
    if (ext === undefined) continue;
    outLocations.set(ext, n);
    n += ext.length;
  }
  return { offsets: outOffsets, locations: outLocations };
}

/**
 * Group indices sorted by `compare` (a total order), given `primary`, a uint32 consistent with
 * it (primary(a) < primary(b) implies a before b). A radix sort orders the groups by primary;
 * only runs of equal primary then go through `compare`.
 */
function sortGroups(
  firstSample: readonly number[],
  compare: (a: number, b: number) => number,
  primary: (g: number) => number,
): number[] {
  const count = firstSample.length;
  const order = Array.from({ length: count }, (_, g) => g);
  // LSD radix sort of the primaries, 11 bits a pass; stable, so ties stay in index order.
  let keys = new Uint32Array(count);
  for (let g = 0; g < count; g++) keys[g] = primary(g);
  let idx = Int32Array.from(order);
  let keysOut = new Uint32Array(count);
  let idxOut = new Int32Array(count);
  const buckets = new Int32Array(2048);
  for (let shift = 0; shift < 32; shift += 11) {
    buckets.fill(0);
    for (let k = 0; k < count; k++) buckets[(keys[k]! >>> shift) & 2047]!++;
    let sum = 0;
    for (let b = 0; b < 2048; b++) {
      const c = buckets[b]!;
      buckets[b] = sum;
      sum += c;
    }
    for (let k = 0; k < count; k++) {
      const at = buckets[(keys[k]! >>> shift) & 2047]!++;
      keysOut[at] = keys[k]!;
      idxOut[at] = idx[k]!;
    }
    [keys, keysOut] = [keysOut, keys];
    [idx, idxOut] = [idxOut, idx];
  }
  for (let k = 0; k < count; k++) order[k] = idx[k]!;
  for (let from = 0; from < count; ) {
    const p = keys[from]!;
    let to = from + 1;
    while (to < count && keys[to] === p) to++;
    if (to - from > 1) {
      const run = order.slice(from, to).sort(compare);
      for (let k = from; k < to; k++) order[k] = run[k - from]!;
    }
    from = to;
  }
  return order;
}

function byteSwap(x: number): number {
  return (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
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
