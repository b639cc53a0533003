/**
 * A small deterministic PRNG (mulberry32) for tests and benchmark generators: the same seed
 * gives the same sequence everywhere, so a failing randomized case reproduces.
 */

/** Uniform numbers in [0, 1) from `seed`. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A whole number in [from, to], both inclusive. */
export function randomInt(random: () => number, from: number, to: number): number {
  return from + Math.floor(random() * (to - from + 1));
}
