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
 * order decides ties and which already-extended stacks later groups copy from; each group is
 * represented by the sample Go's unstable sort puts first (see repairGoTruncatedStacks).
 *
 * Pyroscope's ingest (distributor → pprof.FixGoProfile) runs the repair once, with today's
 * rules: that is the default here. Its golden fixture (testdata/gotruncatefix/
 * cpu_go_truncated_1.pb.gz.fixed) was written by an older revision, whose FixGoProfile already
 * repaired and whose fixture updater then repaired again (two passes, the second over the
 * first's sample order), and whose tokenization skipped single-sample groups: the options of
 * repairGoTruncatedStacks reproduce that for the test.
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

export interface RepairOptions {
  /**
   * Groups with fewer samples than this contribute no tokens (they are still repaired from
   * others). Upstream today tokenizes every group: 1, the default. The revision that wrote
   * Pyroscope's cpu_go_truncated_1 fixture skipped single-sample groups: 2.
   */
  minGroupSize?: number;
  /**
   * The samples in the order Go's `p.Sample` holds them (default: as decoded). Upstream sorts
   * `p.Sample` in place with an unstable sort, and the resulting order decides which sample
   * represents each group; `order` is permuted the same way, so that a second pass over the
   * output starts from the order the first pass left.
   */
  order?: Int32Array;
}

/**
 * Returns repaired stacks, or undefined when nothing changed. `stacks` is not modified; the
 * output keeps the samples in their own order (only `options.order` is permuted).
 * Location indices are compared through `p.locationId` for ordering only.
 *
 * Upstream (RepairGoTruncatedStacktraces) sorts the samples by suffix with Go's pdqsort
 * (slices.SortFunc), cuts them into groups of equal suffix and takes each group's first
 * sample as its representative: tokens come from it, missing frames are copied from it (as it
 * stands then, possibly extended already), and the whole group gets the same frames appended.
 * The sort is not stable, so the representative is not necessarily the group's lowest-numbered
 * sample, and it matters when the copied part reaches past what the reference group's samples
 * have in common. The suffixes are ranked first (hashing into groups, sorting only the groups);
 * only when a representative matters (or `options.order` is given) are the samples put through
 * a faithful copy of Go's pdqsort with that rank as key, to pick the same samples.
 *
 * Two upstream quirks are kept: the last group's end is taken as the number of groups instead
 * of the number of samples, so the last group (in suffix order) is neither tokenized nor
 * repaired, except its first sample when all other groups are single samples; and a reference
 * chain reaching maxRecursiveDepth stops the whole repair, keeping what was done so far.
 */
export function repairGoTruncatedStacks(
  p: Pprof,
  stacks: Stacks,
  options: RepairOptions = {},
): Stacks | undefined {
  const { offsets, locations } = stacks;
  const sampleCount = p.sampleCount;
  const minGroupSize = options.minGroupSize ?? 1;

  // 1. Group the stacks of at least suffixLen frames by their suffix (root-most frames).
  let selectedCount = 0;
  for (let s = 0; s < sampleCount; s++) if (offsets[s + 1]! - offsets[s]! >= suffixLen) selectedCount++;
  if (selectedCount === 0 && options.order === undefined) return undefined;
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

  // 2. Rank the groups by suffix, as little-endian uint64 ids (Go's bytes.Compare). Byte-swapped
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
  const sorted = sortGroups(
    firstSample,
    (a, b) => compareSuffix(firstSample[a]!, firstSample[b]!) || a - b,
    (g) => idKeyLo[locations[offsets[firstSample[g]! + 1]! - suffixLen]!]!,
  );
  // Sort key of each sample: its group's rank, -1 for stacks shorter than suffixLen. Groups of
  // distinct location indices but equal ids (ids past 2^53 that round alike) compare equal, so
  // they share a rank.
  const rankOf = new Int32Array(firstSample.length);
  for (let i = 0, rank = -1; i < sorted.length; i++) {
    if (i === 0 || compareSuffix(firstSample[sorted[i - 1]!]!, firstSample[sorted[i]!]!) !== 0) rank++;
    rankOf[sorted[i]!] = rank;
  }
  const key = new Int32Array(sampleCount);
  for (let s = 0; s < sampleCount; s++) {
    const g = groupOf[s]!;
    key[s] = g < 0 ? -1 : rankOf[g]!;
  }

  // 3. Upstream's groups: sorted by suffix, runs of equal key past the short stacks (Go's sort
  // keeps short and deep stacks apart, the short ones first). Ranks are dense, so group i is
  // rank i. `runStart` is relative to the first deep stack, like upstream's group indices.
  const groupCount = firstSample.length === 0 ? 0 : rankOf[sorted.at(-1)!]! + 1;
  const runStart = new Int32Array(groupCount + 1);
  for (let s = 0; s < sampleCount; s++) if (key[s]! >= 0) runStart[key[s]! + 1]!++;
  for (let i = 0; i < groupCount; i++) runStart[i + 1]! += runStart[i]!;
  /** Upstream's group end: the next group's start, or the number of groups for the last one. */
  const runEnd = (i: number): number => (i + 1 < groupCount ? runStart[i + 1]! : groupCount);
  const groupSize = (i: number): number => runStart[i + 1]! - runStart[i]!;
  /** Position of the first deep stack in Go's order (sort.Search). */
  const o = sampleCount - selectedCount;
  // Each group's representative: the sample Go's sort puts first. It only matters when frames
  // beyond a multi-sample group's shared suffix are copied, or for the last group (below), so
  // Go's sort is run only then, or when the caller wants the order. Until then, any member.
  let order = options.order;
  const reps = new Int32Array(groupCount);
  const sortLikeGo = (): boolean => {
    if (order === undefined) {
      order = new Int32Array(sampleCount);
      for (let s = 0; s < sampleCount; s++) order[s] = s;
    }
    // The caller's order is exact throughout; ours only needs the deep stacks in place.
    goSortSamples(order, key, options.order === undefined);
    // Upstream would panic on a short stack past o: a guard, the sort keeps them apart.
    for (let k = 0; k < sampleCount; k++) if (key[order[k]!]! < 0 !== k < o) return false;
    for (let i = 0; i < groupCount; i++) reps[i] = order[o + runStart[i]!]!;
    return true;
  };
  if (order !== undefined) {
    if (!sortLikeGo()) return undefined;
  } else {
    for (let g = 0; g < firstSample.length; g++) reps[rankOf[g]!] = firstSample[g]!;
  }
  let exact = order !== undefined;
  if (groupCount === 0) return undefined;

  // 4. Token (window of tokenLen frames) → the group where it sits furthest from the root
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
  // Open addressing, one slot = [gid (group + 1, 0 = empty), off, window start, hash].
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
    if (runEnd(i) - runStart[i]! < minGroupSize) continue;
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

  // 5. Follow the references; a group's missing frames are the root-most `off` frames of its
  // reference's representative, as that stack stands when the group is reached (groups earlier
  // in the order may have been extended already). Returns undefined when the representatives
  // matter and are not known yet.
  const extend = (): (Uint32Array | undefined)[] | undefined => {
    /** Frames appended to each group's samples; set only once its representative has them. */
    const extension: (Uint32Array | undefined)[] = new Array(groupCount);
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
      const refExt = extension[r];
      const extLength = refExt ? refExt.length : 0;
      // Unless frames are taken from beyond what r's members have in common, the copied frames
      // and the check below are the same whichever member represents r.
      if (!exact && off >= suffixLen + extLength && groupSize(r) > 1 && !sameForAnyRep(r, off - extLength))
        return undefined;
      const rep = reps[r]!;
      const refStart = offsets[rep]!;
      const refOwn = offsets[rep + 1]! - refStart;
      const refLength = refOwn + extLength;
      // The reference may not hold the part sought; upstream leaves such groups alone.
      if (off >= refLength) continue;
      // The last group's range may be empty (see above): nothing to extend. Or it holds one
      // sample, the one Go's sort put first.
      if (runEnd(i) <= runStart[i]!) continue;
      if (!exact && runEnd(i) - runStart[i]! < groupSize(i)) return undefined;
      const missing = new Uint32Array(off);
      const skip = refLength - off;
      for (let k = 0; k < off; k++) {
        const at = skip + k;
        missing[k] = at < refOwn ? locations[refStart + at]! : refExt![at - refOwn]!;
      }
      extension[i] = missing;
    }
    return extension;
  };
  let members: Int32Array | undefined;
  /** Whether every member of group r has at least `own + 1` frames, the root-most `own` alike. */
  const sameForAnyRep = (r: number, own: number): boolean => {
    if (members === undefined) {
      // Deep samples bucketed by group (a counting sort on the key).
      members = new Int32Array(selectedCount);
      const next = runStart.slice(0, groupCount);
      for (let s = 0; s < sampleCount; s++) if (key[s]! >= 0) members[next[key[s]!]!++] = s;
    }
    const first = members[runStart[r]!]!;
    const firstEnd = offsets[first + 1]!;
    if (firstEnd - offsets[first]! <= own) return false;
    for (let k = runStart[r]! + 1; k < runStart[r + 1]!; k++) {
      const s = members[k]!;
      const end = offsets[s + 1]!;
      if (end - offsets[s]! <= own) return false;
      for (let i = suffixLen + 1; i <= own; i++)
        if (locations[end - i] !== locations[firstEnd - i]) return false;
    }
    return true;
  };
  let extension = extend();
  if (extension === undefined) {
    if (!sortLikeGo()) return undefined;
    exact = true;
    extension = extend()!;
  }

  // 6. Write the repaired stacks, in sample order.
  const extOf = new Int32Array(sampleCount).fill(-1);
  let changed = false;
  for (let i = 0; i < groupCount; i++) {
    if (extension[i] === undefined) continue;
    changed = true;
    if (order === undefined) continue;
    const to = o + runEnd(i);
    for (let k = o + runStart[i]!; k < to; k++) extOf[order[k]!] = i;
  }
  if (!changed) return undefined;
  if (order === undefined) {
    // Every member of an extended group is (the last group's range, if any, is its only sample).
    for (let s = 0; s < sampleCount; s++) {
      const g = key[s]!;
      if (g >= 0 && extension[g] !== undefined) extOf[s] = g;
    }
  }
  const outOffsets = new Uint32Array(sampleCount + 1);
  let total = 0;
  for (let s = 0; s < sampleCount; s++) {
    total += offsets[s + 1]! - offsets[s]!;
    const g = extOf[s]!;
    if (g >= 0) total += extension[g]!.length;
    outOffsets[s + 1] = total;
  }
  const outLocations = new Uint32Array(total);
  let n = 0;
  for (let s = 0; s < sampleCount; s++) {
    const end = offsets[s + 1]!;
    for (let k = offsets[s]!; k < end; k++) outLocations[n++] = locations[k]!;
    const g = extOf[s]!;
    if (g < 0) continue;
    const ext = extension[g]!;
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

// Go's slices.SortFunc (pattern-defeating quicksort, not stable), step for step, so that equal
// elements end up in the same order as upstream's. Specialized to upstream's comparator over
// sample keys: a stack shorter than suffixLen (key < 0) is "less" than anything, even another
// short one (upstream's comparator returns -1 for it before looking at the other), otherwise
// keys compare as numbers. Go only ever asks cmp(a, b) < 0, hence a `less`.

let sortKey: Int32Array = new Int32Array(0);
/** Swaps counted by the pivot choice (Go passes a pointer). */
let pivotSwaps = 0;

function sampleLess(a: number, b: number): boolean {
  const ka = sortKey[a]!;
  if (ka < 0) return true;
  const kb = sortKey[b]!;
  return kb >= 0 && ka < kb;
}

/** Whether pdqsort may leave ranges of short stacks alone (see goSortSamples). */
let skipShortRanges = false;

/**
 * Sorts `data` (sample indices) as Go's slices.SortFunc with upstream's comparator would.
 *
 * With `deepOnly`, only the positions of deep stacks are guaranteed: a range holding nothing
 * but short stacks is left as it is. Short stacks are interchangeable for the comparator (it
 * only looks at whether a stack is short), so how they are permuted among themselves changes no
 * later comparison, and the deep stacks end up exactly where Go puts them. That saves most of
 * the work when short stacks abound: they make Go's sort degenerate (each partition of them is
 * maximally unbalanced, then heapsort).
 */
export function goSortSamples(data: Int32Array, key: Int32Array, deepOnly = false): void {
  sortKey = key;
  skipShortRanges = deepOnly;
  pdqsort(data, 0, data.length, bitLength(data.length));
  sortKey = new Int32Array(0);
}

function bitLength(n: number): number {
  return n === 0 ? 0 : 32 - Math.clz32(n);
}

function swap(d: Int32Array, i: number, j: number): void {
  const t = d[i]!;
  d[i] = d[j]!;
  d[j] = t;
}

function insertionSort(d: Int32Array, a: number, b: number): void {
  for (let i = a + 1; i < b; i++) {
    for (let j = i; j > a && sampleLess(d[j]!, d[j - 1]!); j--) swap(d, j, j - 1);
  }
}

function siftDown(d: Int32Array, lo: number, hi: number, first: number): void {
  let root = lo;
  for (;;) {
    let child = 2 * root + 1;
    if (child >= hi) return;
    if (child + 1 < hi && sampleLess(d[first + child]!, d[first + child + 1]!)) child++;
    if (!sampleLess(d[first + root]!, d[first + child]!)) return;
    swap(d, first + root, first + child);
    root = child;
  }
}

function heapSort(d: Int32Array, a: number, b: number): void {
  const hi = b - a;
  for (let i = ((hi - 1) / 2) | 0; i >= 0; i--) siftDown(d, i, hi, a);
  for (let i = hi - 1; i >= 0; i--) {
    swap(d, a, a + i);
    siftDown(d, 0, i, a);
  }
}

const unknownHint = 0;
const increasingHint = 1;
const decreasingHint = 2;

function pdqsort(d: Int32Array, a: number, b: number, limit: number): void {
  const maxInsertion = 12;
  let wasBalanced = true;
  let wasPartitioned = true;
  for (;;) {
    if (skipShortRanges) {
      // Deep stacks tend to sit at the end of a range: look from there.
      let k = b - 1;
      while (k >= a && sortKey[d[k]!]! < 0) k--;
      if (k < a) return;
    }
    const length = b - a;
    if (length <= maxInsertion) {
      insertionSort(d, a, b);
      return;
    }
    if (limit === 0) {
      heapSort(d, a, b);
      return;
    }
    if (!wasBalanced) {
      breakPatterns(d, a, b);
      limit--;
    }
    let pivot = choosePivot(d, a, b);
    let hint = pivotSwaps === 0 ? increasingHint : pivotSwaps === 12 ? decreasingHint : unknownHint;
    if (hint === decreasingHint) {
      for (let i = a, j = b - 1; i < j; i++, j--) swap(d, i, j);
      pivot = b - 1 - (pivot - a);
      hint = increasingHint;
    }
    if (wasBalanced && wasPartitioned && hint === increasingHint && partialInsertionSort(d, a, b)) return;
    if (a > 0 && !sampleLess(d[a - 1]!, d[pivot]!)) {
      a = partitionEqual(d, a, b, pivot);
      continue;
    }
    const mid = partition(d, a, b, pivot);
    wasPartitioned = partitionedAlready;
    const leftLen = mid - a;
    const rightLen = b - mid;
    const balanceThreshold = (length / 8) | 0;
    if (leftLen < rightLen) {
      wasBalanced = leftLen >= balanceThreshold;
      pdqsort(d, a, mid, limit);
      a = mid + 1;
    } else {
      wasBalanced = rightLen >= balanceThreshold;
      pdqsort(d, mid + 1, b, limit);
      b = mid;
    }
  }
}

/** Second result of partition (Go returns two values). */
let partitionedAlready = false;

function partition(d: Int32Array, a: number, b: number, pivot: number): number {
  swap(d, a, pivot);
  // sampleLess(x, pivot) and its negation, inlined (this loop is most of the sort).
  const key = sortKey;
  const kp = key[d[a]!]!;
  const less = (x: number): boolean => {
    const kx = key[x]!;
    return kx < 0 || (kp >= 0 && kx < kp);
  };
  let i = a + 1;
  let j = b - 1;
  while (i <= j && less(d[i]!)) i++;
  while (i <= j && !less(d[j]!)) j--;
  if (i > j) {
    swap(d, j, a);
    partitionedAlready = true;
    return j;
  }
  swap(d, i, j);
  i++;
  j--;
  for (;;) {
    while (i <= j && less(d[i]!)) i++;
    while (i <= j && !less(d[j]!)) j--;
    if (i > j) break;
    swap(d, i, j);
    i++;
    j--;
  }
  swap(d, j, a);
  partitionedAlready = false;
  return j;
}

function partitionEqual(d: Int32Array, a: number, b: number, pivot: number): number {
  swap(d, a, pivot);
  let i = a + 1;
  let j = b - 1;
  for (;;) {
    while (i <= j && !sampleLess(d[a]!, d[i]!)) i++;
    while (i <= j && sampleLess(d[a]!, d[j]!)) j--;
    if (i > j) return i;
    swap(d, i, j);
    i++;
    j--;
  }
}

function partialInsertionSort(d: Int32Array, a: number, b: number): boolean {
  const maxSteps = 5;
  const shortestShifting = 50;
  let i = a + 1;
  for (let step = 0; step < maxSteps; step++) {
    while (i < b && !sampleLess(d[i]!, d[i - 1]!)) i++;
    if (i === b) return true;
    if (b - a < shortestShifting) return false;
    swap(d, i, i - 1);
    // Go shifts down to index 1 (not a + 1) here; kept as is.
    if (i - a >= 2) {
      for (let j = i - 1; j >= 1; j--) {
        if (!sampleLess(d[j]!, d[j - 1]!)) break;
        swap(d, j, j - 1);
      }
    }
    if (b - i >= 2) {
      for (let j = i + 1; j < b; j++) {
        if (!sampleLess(d[j]!, d[j - 1]!)) break;
        swap(d, j, j - 1);
      }
    }
  }
  return false;
}

function breakPatterns(d: Int32Array, a: number, b: number): void {
  const length = b - a;
  if (length < 8) return;
  // xorshift64 seeded with the length (deterministic), as in Go's slices package.
  let r = BigInt(length);
  const mask = BigInt(nextPowerOfTwo(length) - 1);
  const base = a + ((length / 4) | 0) * 2;
  for (let idx = base - 1; idx <= base + 1; idx++) {
    r = BigInt.asUintN(64, r ^ (r << 13n));
    r ^= r >> 17n;
    r = BigInt.asUintN(64, r ^ (r << 5n));
    let other = Number(r & mask);
    if (other >= length) other -= length;
    swap(d, idx, a + other);
  }
}

function nextPowerOfTwo(n: number): number {
  return 2 ** bitLength(n);
}

/** Go's choosePivot: returns the pivot, leaves the number of swaps in pivotSwaps. */
function choosePivot(d: Int32Array, a: number, b: number): number {
  const shortestNinther = 50;
  const l = b - a;
  const quarter = (l / 4) | 0;
  pivotSwaps = 0;
  let i = a + quarter;
  let j = a + quarter * 2;
  let k = a + quarter * 3;
  if (l >= 8) {
    if (l >= shortestNinther) {
      i = median(d, i - 1, i, i + 1);
      j = median(d, j - 1, j, j + 1);
      k = median(d, k - 1, k, k + 1);
    }
    j = median(d, i, j, k);
  }
  return j;
}

/** Index of the median of d[a], d[b], d[c] (Go's medianCmpFunc, counting swaps). */
function median(d: Int32Array, a: number, b: number, c: number): number {
  if (sampleLess(d[b]!, d[a]!)) {
    pivotSwaps++;
    const t = a;
    a = b;
    b = t;
  }
  if (sampleLess(d[c]!, d[b]!)) {
    pivotSwaps++;
    const t = b;
    b = c;
    c = t;
  }
  if (sampleLess(d[b]!, d[a]!)) {
    pivotSwaps++;
    b = a;
  }
  return b;
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
