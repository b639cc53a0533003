/**
 * Reusable scratch arrays for the decoder's variable-length columns (sample stacks, values,
 * labels, location lines), whose final sizes are only known after decoding.
 *
 * Why: sizing each column by its upper bound (one entry per input byte) and copying out the
 * used prefix is far cheaper than growing arrays, but allocating zeroed upper-bound arrays on
 * every call would dominate small decodes. Decoding is synchronous, so one set per thread is
 * safe. The arrays only grow to the largest profile seen, itself bounded by
 * max_profile_size_bytes; `maxRetainedEntries` keeps an outsized one from being pinned forever.
 */

/** Above this many entries (16 MiB of Float64) a scratch array is dropped after use. */
const maxRetainedEntries = 2 * 1024 * 1024;

/** Number of Uint32 scratch slots: sample stacks plus the three string columns of labels. */
export const scratchU32Slots = 4;

const u32: Uint32Array[] = Array.from({ length: scratchU32Slots }, () => new Uint32Array(0));
let f64 = new Float64Array(0);

function capacity(n: number): number {
  // Round up to a power of two so that a stream of similar profiles reuses one allocation.
  let c = 1024;
  while (c < n) c *= 2;
  return c;
}

export function scratchU32(slot: number, minEntries: number): Uint32Array {
  let a = u32[slot]!;
  if (a.length < minEntries) {
    a = new Uint32Array(capacity(minEntries));
    u32[slot] = a;
  }
  return a;
}

export function scratchF64(minEntries: number): Float64Array {
  if (f64.length < minEntries) f64 = new Float64Array(capacity(minEntries));
  return f64;
}

/** Releases scratch arrays that grew beyond the retention bound. */
export function trimScratch(): void {
  for (let i = 0; i < scratchU32Slots; i++)
    if (u32[i]!.length > maxRetainedEntries) u32[i] = new Uint32Array(0);
  if (f64.length > maxRetainedEntries) f64 = new Float64Array(0);
}
