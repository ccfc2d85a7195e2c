/**
 * ART's GaussianAugmentation at prediction time (augmentation=False, apply_predict=True): independent
 * N(0, sigma²) noise on every value, then clipped to [0,255]; not rounded. sigma is the standard deviation on
 * the 0–255 scale.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { createRandom } from '../util/random.js';
import { normalSampler } from './normal.js';
import { type ApplyContext, clip255, IdentityGradientDefence, imageSeeds, mapImages, type ImagesPart, type ParamSpecs, D, paramSpecs } from './preprocessor.js';

/**
 * `gauss`'s parameters: sigma, the noise std on 0–255.
 *
 * @example
 * ```ts
 * import { GAUSS_PARAMS, describeDefenceParams } from 'robustify/defences';
 * console.log(describeDefenceParams(GAUSS_PARAMS).join('\n')); // {@link GaussianAugmentation}'s parameters
 * ```
 */
export const GAUSS_PARAMS: ParamSpecs = paramSpecs({
  sigma: D.number(1, 0, 255, 'noise standard deviation on 0–255'),
});

/**
 * Gaussian noise (ART's GaussianAugmentation at inference): N(0, `sigma`²) added to every value, clipped to 0–255 (seeded by `seed` or the call's context).
 *
 * @example
 * ```ts
 * import { tf, initEngine, GaussianAugmentation } from 'robustify';
 * await initEngine();
 * const y = await new GaussianAugmentation({ sigma: 8 }).apply(tf.fill([1, 8, 8, 3], 128) as tf.Tensor4D, { seed: 1 });
 * console.log(y.shape); // N(0, 8²) noise added, clipped to 0–255
 * ```
 */
export class GaussianAugmentation extends IdentityGradientDefence<{ sigma: number }> {
  // ART passes the gradient through (its estimate_gradient returns grad); so do we. The exact derivative
  // (1 where the noisy value was not clipped) would need this call's noise draw, which
  // estimateGradient(x, grad) does not receive.
  private readonly seed: number | undefined;

  /** `seed` fixes the noise of every call that brings no seed of its own. */
  constructor(opts: { sigma?: number; seed?: number } = {}) {
    const { seed, ...params } = opts;
    super('gauss', GAUSS_PARAMS, params);
    this.seed = seed;
  }

  apply(x: tf.Tensor4D, ctx?: ApplyContext): Promise<tf.Tensor4D> {
    const seeds = imageSeeds(this.name, ctx, this.seed, x.shape[0]);
    const sigma = this.params.sigma;
    return mapImages(this.name, x, GAUSS_PART, addNoise, (a, b) => ({ sigma, seeds: seeds.slice(a, b) }));
  }
}

/** Pool task: N(0, σ²) noise from each image's own seed added, clipped (in place). */
export function addNoise({ data, shape, params: { sigma, seeds } }: ImagesPart<{ sigma: number; seeds: number[] }>): Float32Array {
  const size = shape[1] * shape[2] * shape[3];
  seeds.forEach((seed, k) => {
    const normal = normalSampler(createRandom(seed));
    for (let i = k * size; i < (k + 1) * size; i++) data[i] = clip255(data[i] + sigma * normal());
  });
  return data;
}

const GAUSS_PART = { module: import.meta.url, name: 'addNoise' };
