/**
 * A defended classifier: a preprocessing pipeline, then the model. It is a `Classifier` like the bare model, so
 * it can be evaluated and attacked the same way. Gradients pass through the pipeline as each defence declares
 * (exact, or the identity as ART's BPDA); a stochastic defence contributes one fresh draw per call.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Pipeline } from '../defences/index.js';
import { hashSeed } from '../util/random.js';
import type { Classifier, Labels } from './classifier.js';

export class DefendedClassifier implements Classifier {
  private calls = 0;

  /** `seed` makes every draw of stochastic defences reproducible (call k uses a seed derived from seed and k). */
  constructor(
    readonly model: Classifier,
    readonly pipeline: Pipeline,
    private readonly seed = 0,
  ) {}

  get classes(): number {
    return this.model.classes;
  }

  private nextSeed(): number {
    return hashSeed(this.seed, 'call', this.calls++);
  }

  async predict(x: tf.Tensor4D): Promise<tf.Tensor2D> {
    const xd = await this.pipeline.apply(x, { seed: this.nextSeed() });
    try {
      return await this.model.predict(xd);
    } finally {
      xd.dispose();
    }
  }

  async lossGradient(x: tf.Tensor4D, labels: Labels): Promise<tf.Tensor4D> {
    const xd = await this.pipeline.apply(x, { seed: this.nextSeed() });
    try {
      const g = await this.model.lossGradient(xd, labels);
      try {
        return this.pipeline.estimateGradient(x, g);
      } finally {
        g.dispose();
      }
    } finally {
      xd.dispose();
    }
  }
}
