/**
 * Expectation over Transformation (Athalye, Carlini & Wagner 2018) for stochastic defences: a classifier whose
 * loss gradient is the average over `nb_samples` draws of the defences (ART's EoT name; each draw is one
 * random Gaussian noise / TVM mask of the defended classifier, composed with BPDA through non-differentiable
 * stages as `DefendedClassifier.lossGradientDraw` does). It is a `Classifier`, so PGD and every gradient attack
 * use it unchanged: `new ProjectedGradientDescent(p).generate(new ExpectationOverTransformation(defended), x, y)`.
 *
 * ART expands each input into nb_samples transformed copies and back-propagates the loss of all of them, i.e.
 * the sum over draws; we take the mean (the same direction for sign and normalised steps, and the scale of a
 * one-draw gradient). Draw j of gradient call c is seeded by (seed, c, j): reproducible, different per step.
 * `predict` is the log of the mean softmax over the draws (the expected-probability classifier), so an
 * attack's success checks see the same expectation its gradients follow.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier, Labels } from '../models/classifier.js';
import type { DefendedClassifier } from '../models/defended.js';
import { hashSeed } from '../util/random.js';

/** Expectation over transformation: draws of the stochastic defences per gradient. */
export interface EotParams {
  /** Draws of the defences per gradient (ART's nb_samples). */
  nb_samples: number;
  /** Seed of the draws (default: the defended classifier's). */
  seed: number;
}

/**
 * EOT's default parameters.
 *
 * @example
 * ```ts
 * import { EOT_DEFAULTS, checkEotParams } from 'robustify/attacks';
 * console.log(checkEotParams({ ...EOT_DEFAULTS, seed: 0 })); // { nb_samples: 10, seed: 0 }
 * ```
 */
export const EOT_DEFAULTS: Readonly<Omit<EotParams, 'seed'>> = Object.freeze({ nb_samples: 10 });

/**
 * Validate EOT's parameters (resolved with defaults); the error names the parameter.
 *
 * @example
 * ```ts
 * import { checkEotParams } from 'robustify/attacks';
 * try { checkEotParams({ nb_samples: 0, seed: 0 }); } catch (err) { console.log((err as Error).message); } // names nb_samples
 * ```
 */
export function checkEotParams(p: EotParams): EotParams {
  if (!(Number.isInteger(p.nb_samples) && p.nb_samples >= 1)) throw new Error(`eot: nb_samples must be a whole number ≥ 1, got ${String(p.nb_samples)}`);
  if (!Number.isInteger(p.seed)) throw new Error(`eot: seed must be an integer, got ${String(p.seed)}`);
  return p;
}

/** The seed of draw `j` of gradient call `call`. */
export function eotDrawSeed(seed: number, call: number, j: number): number {
  return hashSeed(seed, 'eot', call, j);
}

/**
 * Expectation over transformation (Athalye et al.): a defended classifier whose loss gradient is the mean over
 * `nb_samples` draws of its stochastic defences — what an adaptive attack differentiates.
 *
 * @example
 * ```ts
 * import { tf, initEngine, classifierFromLogits, buildPipeline, DefendedClassifier, ExpectationOverTransformation, createAttack } from 'robustify';
 * await initEngine();
 * const model = classifierFromLogits(3, (x) => tf.mean(x, [1, 2]) as tf.Tensor2D);
 * const eot = new ExpectationOverTransformation(new DefendedClassifier(model, await buildPipeline('gauss:4')), { nb_samples: 2 });
 * const x = tf.randomUniform([2, 8, 8, 3], 0, 255, 'float32', 1) as tf.Tensor4D;
 * console.log((await createAttack('pgd', { eps: 8, eps_step: 2, max_iter: 2 }).generate(eot, x, [0, 1])).shape);
 * ```
 */
export class ExpectationOverTransformation implements Classifier {
  readonly params: Readonly<EotParams>;
  private calls: number;
  private predictions = 0;

  /** `firstCall`: the number of the first gradient call (as DefendedClassifier's). */
  constructor(
    readonly defended: DefendedClassifier,
    params: Partial<EotParams> = {},
    firstCall = 0,
  ) {
    this.calls = firstCall;
    this.params = Object.freeze(checkEotParams({ ...EOT_DEFAULTS, seed: defended.seed, ...params }));
  }

  get classes(): number {
    return this.defended.classes;
  }

  /** Mean over nb_samples draws of the defended loss gradient (caller disposes). */
  async lossGradient(x: tf.Tensor4D, labels: Labels): Promise<tf.Tensor4D> {
    const { nb_samples, seed } = this.params;
    const call = this.calls++;
    return this.meanOverDraws(nb_samples, (j) => this.defended.lossGradientDraw(x, labels, eotDrawSeed(seed, call, j)));
  }

  /** log(mean over nb_samples draws of softmax(logits)): its argmax is the class of highest expected probability. */
  async predict(x: tf.Tensor4D): Promise<tf.Tensor2D> {
    const { nb_samples, seed } = this.params;
    const call = this.predictions++;
    const mean = await this.meanOverDraws(nb_samples, async (j) => {
      const logits = await this.defended.predictDraw(x, hashSeed(eotDrawSeed(seed, call, j), 'predict'));
      try {
        return tf.softmax(logits);
      } finally {
        logits.dispose();
      }
    });
    try {
      return tf.log(mean);
    } finally {
      mean.dispose();
    }
  }

  private async meanOverDraws<T extends tf.Tensor>(k: number, draw: (j: number) => Promise<T>): Promise<T> {
    let sum: T | undefined;
    try {
      for (let j = 0; j < k; j++) {
        const g = await draw(j);
        if (!sum) {
          sum = g;
          continue;
        }
        const next = tf.add(sum, g) as T;
        tf.dispose([sum, g]);
        sum = next;
      }
      return tf.div(sum!, k) as T;
    } finally {
      sum?.dispose();
    }
  }
}
