/**
 * Sorting and merging of one profile's samples once their stacks are node ids: the profiles
 * section stores samples sorted by node, with duplicates summed.
 */
import { assert, ID_BYTES } from "./format.ts";

export interface MergedSamples {
  nodes: Uint32Array;
  values: Float64Array;
  /** Present only when some kept sample has a non-zero span id. */
  spanIds: BigUint64Array | undefined;
  /** 16 bytes per sample; present only when some kept sample has a non-zero trace id. */
  traceIds: Uint8Array | undefined;
  total: bigint;
}

/** Sample indices below this pack with the node into one exact double sort key (2^53 / 2^32). */
const PACKED_SAMPLE_COUNT_MAX = 2 ** 21;

/**
 * Sorts samples by (node, span id, trace id) and sums those equal in all three. A sum of 0 is
 * dropped (it contributes nothing); a sum that would leave the safe-integer range starts a new
 * sample with the same key instead, so no value is ever rounded.
 */
export function mergeSamples(
  nodes: Uint32Array,
  values: Float64Array,
  spanIds: BigUint64Array | undefined,
  traceIds: Uint8Array | undefined,
): MergedSamples {
  const count = nodes.length;
  assert(values.length === count, "mergeSamples: values length");
  const order = sortOrder(nodes, spanIds, traceIds);
  const outNodes = new Uint32Array(count);
  const outValues = new Float64Array(count);
  const outSource = new Uint32Array(count);
  let outCount = 0;
  for (let i = 0; i < count; i++) {
    const sample = order[i]!;
    const last = outCount - 1;
    if (
      last >= 0 &&
      outNodes[last] === nodes[sample] &&
      sameIds(outSource[last]!, sample, spanIds, traceIds) &&
      Number.isSafeInteger(outValues[last]! + values[sample]!)
    ) {
      outValues[last]! += values[sample]!;
      continue;
    }
    outNodes[outCount] = nodes[sample]!;
    outValues[outCount] = values[sample]!;
    outSource[outCount] = sample;
    outCount++;
  }
  return compact(outNodes, outValues, outSource, outCount, spanIds, traceIds);
}

function sortOrder(
  nodes: Uint32Array,
  spanIds: BigUint64Array | undefined,
  traceIds: Uint8Array | undefined,
): Uint32Array {
  const count = nodes.length;
  if (spanIds === undefined && traceIds === undefined && count < PACKED_SAMPLE_COUNT_MAX) {
    // Native numeric sort of packed keys is several times faster than a comparator sort.
    const keys = new Float64Array(count);
    for (let i = 0; i < count; i++) keys[i] = nodes[i]! * PACKED_SAMPLE_COUNT_MAX + i;
    keys.sort();
    const order = new Uint32Array(count);
    for (let i = 0; i < count; i++) order[i] = keys[i]! % PACKED_SAMPLE_COUNT_MAX;
    return order;
  }
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  return order.sort((a, b) => {
    if (nodes[a] !== nodes[b]) return nodes[a]! - nodes[b]!;
    if (spanIds !== undefined && spanIds[a] !== spanIds[b]) return spanIds[a]! < spanIds[b]! ? -1 : 1;
    if (traceIds !== undefined) {
      const order = Buffer.compare(traceIdAt(traceIds, a), traceIdAt(traceIds, b));
      if (order !== 0) return order;
    }
    return a - b;
  });
}

function traceIdAt(traceIds: Uint8Array, sample: number): Uint8Array {
  return traceIds.subarray(ID_BYTES * sample, ID_BYTES * sample + ID_BYTES);
}

function sameIds(
  a: number,
  b: number,
  spanIds: BigUint64Array | undefined,
  traceIds: Uint8Array | undefined,
): boolean {
  if (spanIds !== undefined && spanIds[a] !== spanIds[b]) return false;
  if (traceIds !== undefined && Buffer.compare(traceIdAt(traceIds, a), traceIdAt(traceIds, b)) !== 0) {
    return false;
  }
  return true;
}

/** Drops zero sums, gathers the id columns, and computes the exact total. */
function compact(
  nodes: Uint32Array,
  values: Float64Array,
  source: Uint32Array,
  count: number,
  spanIds: BigUint64Array | undefined,
  traceIds: Uint8Array | undefined,
): MergedSamples {
  const keep: number[] = [];
  for (let i = 0; i < count; i++) if (values[i] !== 0) keep.push(i);
  const keptNodes = new Uint32Array(keep.length);
  const keptValues = new Float64Array(keep.length);
  let totalNumber = 0;
  let totalExact = true;
  keep.forEach((from, to) => {
    keptNodes[to] = nodes[from]!;
    keptValues[to] = values[from]!;
    totalNumber += values[from]!;
    totalExact &&= Number.isSafeInteger(totalNumber);
  });
  // A double sum is exact while every partial sum stays safe; otherwise redo it in bigint.
  let total = totalExact ? BigInt(totalNumber) : 0n;
  if (!totalExact) for (const value of keptValues) total += BigInt(value);
  let keptSpans: BigUint64Array | undefined;
  if (spanIds !== undefined && keep.some((from) => spanIds[source[from]!] !== 0n)) {
    keptSpans = BigUint64Array.from(keep, (from) => spanIds[source[from]!]!);
  }
  let keptTraces: Uint8Array | undefined;
  if (
    traceIds !== undefined &&
    keep.some((from) => traceIdAt(traceIds, source[from]!).some((b) => b !== 0))
  ) {
    keptTraces = new Uint8Array(ID_BYTES * keep.length);
    keep.forEach((from, to) => {
      keptTraces!.set(traceIdAt(traceIds, source[from]!), ID_BYTES * to);
    });
  }
  return { nodes: keptNodes, values: keptValues, spanIds: keptSpans, traceIds: keptTraces, total };
}
