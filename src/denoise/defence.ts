/**
 * BMCNN as a preprocessing defence: pipeline token `bmcnn:SIGMA` (the seed paper uses σ = 20). Its gradient
 * is exact: the vector-Jacobian product through pilot and CNN with the block-matched positions of the input
 * held fixed (matching itself is piecewise constant). The defence registry lists it among the built-ins.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { checkBatch, formatToken, type ParamSpecs, D, paramSpecs, type Preprocessor } from '../defences/preprocessor.js';
import { nativeRuntime } from '../engine/onnx/runtime.js';
import { Bmcnn, SIGMA_LIMITS } from './model.js';

export const BMCNN_PARAMS: ParamSpecs = paramSpecs({
  sigma: D.number(20, SIGMA_LIMITS[0], SIGMA_LIMITS[1], 'noise level to remove, std on 0–255'),
  ensemble: D.integer(0, 0, 1, '1: flip self-ensemble (twice the time), 0: one pass'),
});

export class BmcnnDefence implements Preprocessor {
  readonly name = 'bmcnn';
  readonly gradient = 'exact' as const;

  constructor(readonly params: Readonly<Record<string, number>>, private readonly model: Bmcnn) {}

  apply(x: tf.Tensor4D): Promise<tf.Tensor4D> {
    checkBatch(this.name, x);
    return this.model.denoise(x, this.params.sigma, { ensemble: this.params.ensemble === 1 });
  }

  estimateGradient(x: tf.Tensor4D, grad: tf.Tensor4D): Promise<tf.Tensor4D> {
    checkBatch(this.name, x);
    return this.model.vjp(x, this.params.sigma, grad, { ensemble: this.params.ensemble === 1 });
  }

  toString(): string {
    return formatToken(this.name, this.params);
  }
}

let shared: Promise<Bmcnn> | undefined;

/** The shipped weights, loaded once per process and shared by every `bmcnn` stage (on onnxruntime where it loads). */
export function sharedBmcnn(): Promise<Bmcnn> {
  shared ??= Bmcnn.load().then(async (m) => {
    if (await nativeRuntime()) m.accelerate();
    return m;
  }).catch((err: unknown) => {
    shared = undefined;
    throw err;
  });
  return shared;
}
