/**
 * Fast standard normal deviates: Marsaglia & Tsang's ziggurat (J. Stat. Softw. 5(8), 2000) with 128 layers,
 * on top of the project's seeded uniform generator. About 4× faster than Box–Muller (no log/sqrt/sin/cos
 * on 98.8 % of draws), which makes Gaussian noise on a batch cheaper than copying it in and out of tensors.
 *
 * One 32-bit word per draw: bits 0–6 pick the layer, bit 7 the sign, bits 8–31 the position in the layer,
 * so the layer and the value come from disjoint bits (the original's known flaw).
 */
import type { Random } from '../util/random.js';

const LAYERS = 128;
/** Start of the tail and the common area of every layer, from the paper. */
const R = 3.442619855899;
const V = 9.91256303526217e-3;

const density = (x: number): number => Math.exp(-0.5 * x * x);

/** X[i]: right edge of layer i (X[0] = V/f(R) for the base strip plus tail, X[1] = R, …, X[128] = 0); F = f(X). */
const X = new Float64Array(LAYERS + 1);
const F = new Float64Array(LAYERS + 1);
X[0] = V / density(R);
X[1] = R;
for (let i = 1; i < LAYERS - 1; i++) X[i + 1] = Math.sqrt(-2 * Math.log(V / X[i] + density(X[i])));
X[LAYERS] = 0;
for (let i = 0; i <= LAYERS; i++) F[i] = density(X[i]);

const TWO_POW_32 = 4294967296;
const TWO_POW_M24 = 1 / 16777216;

/** A sampler of N(0, 1) deviates drawing its uniforms from `rng`. */
export function normalSampler(rng: Random): () => number {
  return () => {
    for (;;) {
      const word = rng.next() * TWO_POW_32; // the generator's 32-bit output, exactly
      const i = word & (LAYERS - 1);
      // ±1 from bit 7 by arithmetic: a 50/50 branch would be mispredicted half the time.
      const sign = 1 - ((word >>> 6) & 2);
      const z = (word >>> 8) * TWO_POW_M24 * X[i];
      if (z < X[i + 1]) return sign * z;
      if (i === 0) {
        // The tail beyond R (Marsaglia 1964).
        let a: number;
        let b: number;
        do {
          a = -Math.log(1 - rng.next()) / R;
          b = -Math.log(1 - rng.next());
        } while (b + b < a * a);
        return sign * (R + a);
      }
      // The wedge between the layer's inner rectangle and the curve.
      if (F[i] + rng.next() * (F[i + 1] - F[i]) < density(z)) return sign * z;
    }
  };
}
