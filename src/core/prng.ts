/**
 * A seeded pseudo-random generator (xoshiro128**, seeded through splitmix32). Actor
 * logic and the simulator take randomness only from here, so a seed replays a run.
 */
export interface Prng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [minInclusive, maxExclusive). */
  int(minInclusive: number, maxExclusive: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** A new generator whose sequence is independent of this one's future draws. */
  fork(): Prng;
}

function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Creates a generator from a 32-bit seed. The same seed always gives the same sequence. */
export function createPrng(seed: number): Prng {
  const init = splitmix32(seed);
  const s = [init(), init(), init(), init()] as [number, number, number, number];
  const nextU32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] = (s[2] ^ s[0]) >>> 0;
    s[3] = (s[3] ^ s[1]) >>> 0;
    s[1] = (s[1] ^ s[2]) >>> 0;
    s[0] = (s[0] ^ s[3]) >>> 0;
    s[2] = (s[2] ^ t) >>> 0;
    s[3] = rotl(s[3], 11);
    return result;
  };
  const prng: Prng = {
    next: () => nextU32() / 0x1_0000_0000,
    int(minInclusive, maxExclusive) {
      if (!(maxExclusive > minInclusive)) {
        throw new Error(`prng.int: empty range [${minInclusive}, ${maxExclusive})`);
      }
      return minInclusive + Math.floor(prng.next() * (maxExclusive - minInclusive));
    },
    chance: (p) => prng.next() < p,
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new Error('prng.pick: empty array');
      return items[prng.int(0, items.length)] as T;
    },
    fork: () => createPrng(nextU32()),
  };
  return prng;
}
