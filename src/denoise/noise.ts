/** Synthetic noise and the quality measure used to train and evaluate the denoiser (0–255 scale). */
import type { Random } from '../util/random.js';

/** clip(x + σ·n, 0, 255) with n standard normal from `rng` (the clipped AWGN model of the anchors). */
export function addNoise(clean: Float32Array, sigma: number, rng: Random): Float32Array {
  const out = new Float32Array(clean.length);
  for (let i = 0; i < clean.length; i++) {
    const v = clean[i] + sigma * rng.normal();
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return out;
}

/** PSNR in dB for the 0–255 range; Infinity for identical inputs. */
export function psnr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length === 0) throw new Error(`psnr: sizes differ or empty (${a.length} vs ${b.length})`);
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return 10 * Math.log10((255 * 255) / (s / a.length));
}
