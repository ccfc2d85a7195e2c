/**
 * Seeded pseudo-random numbers, so that attacks, stochastic defences, splits and training are reproducible.
 *
 * Generator: xoshiro128** (Blackman & Vigna; period 2^128 − 1), state filled by SplitMix32
 * from a 32-bit seed. Normal deviates: Box–Muller (both values of each pair are used).
 */

export interface Random {
  /** Uniform in [0, 1), 32 bits of resolution. */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Normal deviate with the given mean and standard deviation. */
  normal(mean?: number, std?: number): number;
  /** Fill `out` with normal deviates; returns `out`. */
  fillNormal<T extends Float32Array | Float64Array>(out: T, mean?: number, std?: number): T;
  /** Fisher–Yates shuffle in place; returns `arr`. */
  shuffle<T>(arr: T[]): T[];
  /** An independent generator derived from this one's seed and `label` (does not advance this one). */
  fork(label: string | number): Random;
}

/** FNV-1a over the parts' text: turns names and numbers into a 32-bit seed, stable across runs and hosts. */
export function hashSeed(...parts: (string | number)[]): number {
  let h = 0x811c9dc5;
  const text = parts.map(String).join('\u0000');
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** A generator seeded by an integer (any integer; reduced to 32 bits) or a string. */
export function createRandom(seed: number | string): Random {
  if (typeof seed === 'number' && !Number.isInteger(seed)) throw new Error(`seed: expected an integer, got ${seed}`);
  const seed32 = typeof seed === 'string' ? hashSeed(seed) : seed >>> 0;
  const init = splitmix32(seed32);
  const s = new Uint32Array([init(), init(), init(), init()]);
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1; // the all-zero state is a fixed point

  const nextU32 = xoshiro128ss(s);

  let spare: number | undefined;
  const rng: Random = {
    next: () => nextU32() / 0x100000000,
    int(n) {
      if (!Number.isInteger(n) || n <= 0) throw new Error(`int: expected a positive integer bound, got ${n}`);
      // Rejection sampling avoids the modulo bias for bounds that do not divide 2^32.
      const limit = 0x100000000 - (0x100000000 % n);
      let x: number;
      do x = nextU32();
      while (x >= limit);
      return x % n;
    },
    normal(mean = 0, std = 1) {
      if (spare !== undefined) {
        const z = spare;
        spare = undefined;
        return mean + std * z;
      }
      const u1 = 1 - rng.next(); // (0, 1]: log(0) would be -Infinity
      const u2 = rng.next();
      const r = Math.sqrt(-2 * Math.log(u1));
      spare = r * Math.sin(2 * Math.PI * u2);
      return mean + std * r * Math.cos(2 * Math.PI * u2);
    },
    fillNormal(out, mean = 0, std = 1) {
      for (let i = 0; i < out.length; i++) out[i] = rng.normal(mean, std);
      return out;
    },
    shuffle(arr) {
      for (let i = arr.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [arr[i], arr[j]] = [arr[j], arr[i]];
      }
      return arr;
    },
    fork: (label) => createRandom(hashSeed(seed32, label)),
  };
  return rng;
}

/** The raw xoshiro128** step over a 4-word state (mutated in place); exported for known-answer tests. */
export function xoshiro128ss(s: Uint32Array): () => number {
  return () => {
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
