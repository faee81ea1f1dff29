/**
 * Deterministic pseudo-random numbers (xorshift32), so that test data and benchmark mailboxes are the
 * same on every run and a failure can be reproduced from its seed.
 */

/** Unsigned 32-bit integers. Seeds that differ in a few bits are mixed first (murmur3's finalizer). */
export function seededIntegers(seed: number): () => number {
  let x = seed >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  const next = seededIntegers(seed);
  return () => next() / 2 ** 32;
}
