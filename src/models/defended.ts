/**
 * A defended classifier: a preprocessing pipeline, then the model. It is a `Classifier` like the bare model, so
 * it can be evaluated and attacked the same way. Gradients pass through the pipeline as each defence declares
 * (exact, or the identity as ART's BPDA).
 *
 * Draws of stochastic defences: `predict` uses the classifier's seed itself, so its predictions are those of
 * the study's evaluator and of `robustify evaluate --defence` with that seed (one rule, defences/applier.ts);
 * `lossGradient` takes a fresh draw per call (seeded by the call's number), as ART's attacks see one random
 * draw per step. `predictDraw`/`lossGradientDraw` name the draw's seed (EOT, evaluation over draws).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Pipeline } from '../defences/index.js';
import { hashSeed } from '../util/random.js';
import type { Classifier, Labels } from './classifier.js';

/**
 * A classifier behind a defence pipeline: predictions and loss gradients of `model` on the pipeline's output (a
 * BPDA-style identity gradient through non-differentiable stages).
 *
 * @example
 * ```ts
 * import { tf, initEngine, classifierFromLogits, buildPipeline, DefendedClassifier, predictLabels } from 'robustify';
 * await initEngine();
 * const model = classifierFromLogits(2, (x) => tf.slice(tf.mean(x, [1, 2]), [0, 0], [-1, 2]) as tf.Tensor2D);
 * const defended = new DefendedClassifier(model, await buildPipeline('median:3,jpeg:50'), 7);
 * const x = tf.randomUniform([2, 16, 16, 3], 0, 255, 'float32', 1) as tf.Tensor4D;
 * console.log(await predictLabels(defended, x), (await defended.lossGradient(x, tf.tensor1d([0, 1], 'int32'))).shape);
 * ```
 */
export class DefendedClassifier implements Classifier {
  private calls: number;

  /**
   * `seed` makes every draw of stochastic defences reproducible. `firstCall`: the number of the first gradient
   * call, so a part of an attack (one batch) draws what it would have drawn inside the whole attack.
   */
  constructor(
    readonly model: Classifier,
    readonly pipeline: Pipeline,
    readonly seed = 0,
    firstCall = 0,
  ) {
    this.calls = firstCall;
  }

  get classes(): number {
    return this.model.classes;
  }

  predict(x: tf.Tensor4D): Promise<tf.Tensor2D> {
    return this.predictDraw(x, this.seed);
  }

  lossGradient(x: tf.Tensor4D, labels: Labels): Promise<tf.Tensor4D> {
    return this.lossGradientDraw(x, labels, hashSeed(this.seed, 'call', this.calls++));
  }

  /** Logits with the defences' draw seeded by `seed`. */
  async predictDraw(x: tf.Tensor4D, seed: number): Promise<tf.Tensor2D> {
    const xd = await this.pipeline.apply(x, { seed });
    try {
      return await this.model.predict(xd);
    } finally {
      xd.dispose();
    }
  }

  /** The loss gradient through the defences' draw seeded by `seed` (BPDA through non-differentiable stages). */
  async lossGradientDraw(x: tf.Tensor4D, labels: Labels, seed: number): Promise<tf.Tensor4D> {
    const xd = await this.pipeline.apply(x, { seed });
    try {
      const g = await this.model.lossGradient(xd, labels);
      try {
        return await this.pipeline.estimateGradient(x, g);
      } finally {
        g.dispose();
      }
    } finally {
      xd.dispose();
    }
  }
}
