/**
 * What every evasion attack is (ART's `EvasionAttack.generate`), and the tensor helpers the attacks share:
 * predicted labels, per-sample norms, projection onto the eps-ball, random starts.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Static, TObject } from '@sinclair/typebox';
import type { Classifier } from '../models/classifier.js';
import { resolveAttackParams } from './params.js';

/** The perturbation norm: L∞ ('inf') or L2 (2). */
export type Norm = 'inf' | 2;

/** Progress of an attack: steps done out of all steps (e.g. batches × restarts × iterations). */
export type AttackProgress = (done: number, total: number) => void;

/** What a caller can watch while an attack runs. */
export interface AttackHooks {
  onProgress?: AttackProgress;
  /**
   * After every iteration (attacks from a fixed start that support it: PGD, FGSM, BIM): the batch's current
   * adversarial examples (not to be disposed or kept — clone) and where the batch starts in x. PGD from a
   * fixed start is deterministic, so the iterate after k steps is the result of a k-iteration attack: one run
   * gives a whole accuracy-vs-iterations curve. Refused with restarts.
   */
  onIteration?: (iteration: number, adv: tf.Tensor4D, batchStart: number) => void | Promise<void>;
  /** The iterations whose iterates onIteration is called with (default: every one); the others are not read. */
  iterates?: readonly number[];
  /** Score-based attacks: the model queries each sample of a batch used (forward passes it was part of). */
  onQueries?: (batchStart: number, queries: readonly number[]) => void;
}

/** An evasion attack (ART's `EvasionAttack.generate`). */
export interface EvasionAttack {
  readonly name: string;
  /** Its resolved parameters (every key of its spec, defaults filled). */
  readonly params: Readonly<Record<string, unknown>>;
  /** 'gradient': needs the classifier's loss gradient; 'score': only its outputs (predict). */
  readonly access: 'gradient' | 'score';
  /**
   * Adversarial examples for `x` (NHWC 0–255; not disposed). Untargeted attacks move away from `y` (the true
   * labels) or, without it, from the classifier's own predictions; targeted ones move towards `y`.
   */
  generate(classifier: Classifier, x: tf.Tensor4D, y?: readonly number[], hooks?: AttackHooks): Promise<tf.Tensor4D>;
}

/**
 * The common body of an attack with a TypeBox parameter spec: its name, what it needs of the classifier, and
 * its parameters validated against the spec with defaults filled (frozen). Subclasses only `generate`.
 *
 * @example
 * ```ts
 * import { Type, type Static } from '@sinclair/typebox';
 * import { tf, initEngine, classifierFromLogits, SpecifiedAttack, P, checkLabels, project, registerAttack, createAttack, type Classifier } from 'robustify';
 * await initEngine();
 * const SPEC = Type.Object({ eps: P.eps(8), seed: P.seed() });
 * class SignNoise extends SpecifiedAttack<typeof SPEC> {
 *   constructor(params: Partial<Static<typeof SPEC>> = {}) { super('sign_noise', 'score', SPEC, params); }
 *   async generate(_model: Classifier, x: tf.Tensor4D, y?: readonly number[]): Promise<tf.Tensor4D> {
 *     checkLabels(this.name, x, y);
 *     const noise = tf.mul(tf.sign(tf.randomNormal(x.shape, 0, 1, 'float32', this.params.seed)), 255) as tf.Tensor4D;
 *     return tf.tidy(() => tf.clipByValue(tf.add(x, project(noise, 'inf', this.params.eps)), 0, 255) as tf.Tensor4D);
 *   }
 * }
 * registerAttack({ name: 'sign_noise', access: 'score', description: 'random ±eps per pixel', spec: SPEC, factory: (p) => new SignNoise(p) });
 * const model = classifierFromLogits(3, (x) => tf.mean(x, [1, 2]) as tf.Tensor2D);
 * const x = tf.randomUniform([2, 8, 8, 3], 0, 255, 'float32', 1) as tf.Tensor4D;
 * const adv = await createAttack('sign_noise', { eps: 4 }).generate(model, x, [0, 1]);
 * console.log(tf.max(tf.abs(tf.sub(adv, x))).dataSync()[0]); // 4
 * ```
 */
export abstract class SpecifiedAttack<S extends TObject> implements EvasionAttack {
  readonly params: Readonly<Static<S>>;

  protected constructor(readonly name: string, readonly access: 'gradient' | 'score', spec: S, given: Readonly<Partial<Static<S>>>) {
    this.params = Object.freeze(resolveAttackParams(name, spec, given as Record<string, unknown>));
  }

  abstract generate(classifier: Classifier, x: tf.Tensor4D, y?: readonly number[], hooks?: AttackHooks): Promise<tf.Tensor4D>;
}

export const L2_TOL = 1e-7;

/** |a − b|∞ of each image of two batches of the same shape (the perturbation's size an attack reports). */
export async function perSampleLinf(a: tf.Tensor4D, b: tf.Tensor4D): Promise<number[]> {
  const m = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b)), [1, 2, 3]));
  try {
    return Array.from(await m.data());
  } finally {
    m.dispose();
  }
}

/** ‖v‖₂ of each sample, shaped [n,1,1,1] for broadcasting. */
export function perSampleL2(v: tf.Tensor4D): tf.Tensor4D {
  return tf.sqrt(tf.sum(tf.square(v), [1, 2, 3], true)) as tf.Tensor4D;
}

/**
 * δ projected onto the eps-ball of `norm` (eps a number or a per-sample [n,1,1,1] tensor).
 *
 * @example
 * ```ts
 * import { tf, project } from 'robustify';
 * const delta = tf.tensor4d([3, -0.5, 6, 0], [1, 2, 2, 1]);
 * console.log(project(delta, 'inf', 2).dataSync()); // [2, -0.5, 2, 0]; see {@link SpecifiedAttack} for it in an attack
 * ```
 */
export function project(delta: tf.Tensor4D, norm: Norm, eps: number | tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    if (norm === 'inf') return (typeof eps === 'number' ? tf.clipByValue(delta, -eps, eps) : tf.minimum(tf.maximum(delta, tf.neg(eps)), eps)) as tf.Tensor4D;
    const l2 = perSampleL2(delta);
    return tf.mul(delta, tf.minimum(1, tf.div(eps, tf.add(l2, L2_TOL)))) as tf.Tensor4D;
  });
}

/** x0 + δ with δ uniform in the L∞ ball, or uniform in the L2 ball (direction ~ normal, radius ~ eps·U^(1/d)); clipped. */
export function randomStart(x0: tf.Tensor4D, norm: Norm, eps: number, seed: number): tf.Tensor4D {
  return tf.tidy(() => {
    let delta: tf.Tensor4D;
    if (norm === 'inf') {
      delta = tf.randomUniform(x0.shape, -eps, eps, 'float32', seed);
    } else {
      const d = x0.shape[1] * x0.shape[2] * x0.shape[3];
      const dir = tf.randomNormal(x0.shape, 0, 1, 'float32', seed) as tf.Tensor4D;
      const radius = tf.mul(tf.pow(tf.randomUniform([x0.shape[0], 1, 1, 1], 0, 1, 'float32', seed + 1), 1 / d), eps);
      delta = tf.mul(tf.div(dir, perSampleL2(dir)), radius) as tf.Tensor4D;
    }
    return tf.clipByValue(tf.add(x0, delta), 0, 255) as tf.Tensor4D;
  });
}

/** Rows where `mask[i]` from `a`, else from `b` (a new tensor). */
export function selectRows(mask: readonly boolean[], a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const m = tf.reshape(tf.tensor1d(mask.map(Number), 'float32'), [mask.length, 1, 1, 1]);
    return tf.add(tf.mul(a, m), tf.mul(b, tf.sub(1, m))) as tf.Tensor4D;
  });
}

/**
 * Checks shared by every attack's generate: labels match the batch.
 *
 * @example
 * ```ts
 * import { tf, checkLabels } from 'robustify';
 * checkLabels('my_attack', tf.zeros([2, 8, 8, 3]) as tf.Tensor4D, [0, 1]); // passes; [0] would throw naming my_attack
 * ```
 */
export function checkLabels(name: string, x: tf.Tensor4D, y?: readonly number[]): void {
  if (y && y.length !== x.shape[0]) throw new Error(`${name}: ${y.length} labels for ${x.shape[0]} images`);
}

/** Batches of `batchSize` rows of x: runs `each` per slice and concatenates the results. */
export async function mapBatches(
  x: tf.Tensor4D,
  batchSize: number,
  each: (x0: tf.Tensor4D, start: number, size: number) => Promise<tf.Tensor4D>,
): Promise<tf.Tensor4D> {
  const n = x.shape[0];
  if (n === 0) return tf.clone(x);
  const parts: tf.Tensor4D[] = [];
  try {
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      const x0 = tf.slice(x, [start, 0, 0, 0], [size, -1, -1, -1]);
      try {
        parts.push(await each(x0, start, size));
      } finally {
        x0.dispose();
      }
    }
    return parts.length === 1 ? parts[0] : tf.concat(parts);
  } finally {
    if (parts.length > 1) tf.dispose(parts);
  }
}

/** The median (NaN for none). */
export function median(v: readonly number[]): number {
  if (v.length === 0) return NaN;
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
