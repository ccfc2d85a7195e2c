/**
 * ART's FeatureSqueezing: reduce each value to `bit_depth` bits of the 0–255 range.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { clip255, IdentityGradientDefence, mapBatch, type ParamSpecs, D, paramSpecs } from './preprocessor.js';

/**
 * `squeeze`'s parameters: bit_depth.
 *
 * @example
 * ```ts
 * import { SQUEEZE_PARAMS, describeDefenceParams } from 'robustify/defences';
 * console.log(describeDefenceParams(SQUEEZE_PARAMS).join('\n')); // {@link FeatureSqueezing}'s parameters
 * ```
 */
export const SQUEEZE_PARAMS: ParamSpecs = paramSpecs({
  bit_depth: D.integer(8, 1, 32, 'bits kept per value'),
});

const f32 = Math.fround;

/** 1.5·2^52: adding and subtracting it rounds a double to an integer in the FPU's ties-to-even mode. */
const RINT_MAGIC = 6755399441055744;

/** numpy's rint (round half to even) for |v| < 2^51; ~3× faster than Math.round plus a tie fix-up in V8. */
export function rintHalfEven(v: number): number {
  return v + RINT_MAGIC - RINT_MAGIC;
}

/**
 * Squeeze in place. Every step is rounded to float32 as numpy does on float32 arrays, so results equal ART's
 * bit for bit; then clipped to [0,255] (ART does not clip; identical on in-range input).
 */
export function squeezeValues(data: Float32Array, bitDepth: number): Float32Array {
  const maxValue = f32(2 ** bitDepth - 1);
  for (let i = 0; i < data.length; i++) {
    const normalised = f32(data[i] / 255);
    const q = f32(rintHalfEven(f32(normalised * maxValue)) / maxValue);
    data[i] = clip255(f32(q * 255));
  }
  return data;
}

/**
 * Feature squeezing (ART's FeatureSqueezing): colour depth reduced to `bit_depth` bits per channel.
 *
 * @example
 * ```ts
 * import { tf, initEngine, FeatureSqueezing } from 'robustify';
 * await initEngine();
 * const y = await new FeatureSqueezing({ bit_depth: 1 }).apply(tf.tensor4d([10, 100, 200, 250], [1, 2, 2, 1]).tile([1, 1, 1, 3]) as tf.Tensor4D);
 * console.log(y.dataSync()); // every value 0 or 255
 * ```
 */
export class FeatureSqueezing extends IdentityGradientDefence<{ bit_depth: number }> {
  constructor(opts: { bit_depth?: number } = {}) {
    super('squeeze', SQUEEZE_PARAMS, opts);
  }

  apply(x: tf.Tensor4D): Promise<tf.Tensor4D> {
    return mapBatch(this.name, x, (data) => squeezeValues(data, this.params.bit_depth));
  }
}
