/**
 * Projected gradient descent (Madry et al.), with ART's semantics (../shared/spec/art-semantics.md):
 * eps and eps_step in the input's own units (0–255), exactly max_iter steps per restart, after every step
 * clip to [0,255] and project δ onto the eps-ball; optional uniform random start; a later restart replaces a
 * sample only where it succeeds. FGSM and BIM are PGD with fixed settings (see fgsm.ts, bim.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.js';
import { createRandom } from '../util/random.js';

export type Norm = 'inf' | 2;

export interface PgdParams {
  norm: Norm;
  eps: number;
  eps_step: number;
  max_iter: number;
  num_random_init: number;
  targeted: boolean;
  batch_size: number;
  seed: number;
}

export const PGD_DEFAULTS: PgdParams = {
  norm: 'inf',
  eps: 4,
  eps_step: 0.1,
  max_iter: 100,
  num_random_init: 0,
  targeted: false,
  batch_size: 32,
  seed: 0,
};

/** Progress of an attack: steps done out of all steps (batches × restarts × iterations). */
export type AttackProgress = (done: number, total: number) => void;

/** What a caller can watch while an attack runs. */
export interface AttackHooks {
  onProgress?: AttackProgress;
  /**
   * After every iteration: the batch's current adversarial examples (not to be disposed or kept — clone) and
   * where the batch starts in x. PGD from a fixed start is deterministic, so the iterate after k steps is the
   * result of a k-iteration attack: one run gives a whole accuracy-vs-iterations curve. Refused with restarts.
   */
  onIteration?: (iteration: number, adv: tf.Tensor4D, batchStart: number) => void | Promise<void>;
}

/** An evasion attack (ART's `EvasionAttack.generate`). */
export interface EvasionAttack {
  readonly name: string;
  readonly params: Readonly<PgdParams>;
  /**
   * Adversarial examples for `x` (NHWC 0–255; not disposed). Untargeted attacks move away from `y` (the true
   * labels) or, without it, from the classifier's own predictions; targeted ones move towards `y`.
   */
  generate(classifier: Classifier, x: tf.Tensor4D, y?: readonly number[], hooks?: AttackHooks): Promise<tf.Tensor4D>;
}

const L2_TOL = 1e-7;

export function checkParams(name: string, p: PgdParams): PgdParams {
  const bad = (k: string, what: string, v: unknown): never => {
    throw new Error(`${name}: ${k} must be ${what}, got ${String(v)}`);
  };
  if (p.norm !== 'inf' && p.norm !== 2) bad('norm', "'inf' or 2", p.norm);
  if (!(p.eps >= 0 && Number.isFinite(p.eps))) bad('eps', 'a number ≥ 0', p.eps);
  if (!(p.eps_step > 0 && Number.isFinite(p.eps_step))) bad('eps_step', 'a number > 0', p.eps_step);
  if (!(Number.isInteger(p.max_iter) && p.max_iter >= 1)) bad('max_iter', 'a whole number ≥ 1', p.max_iter);
  if (!(Number.isInteger(p.num_random_init) && p.num_random_init >= 0)) bad('num_random_init', 'a whole number ≥ 0', p.num_random_init);
  if (!(Number.isInteger(p.batch_size) && p.batch_size >= 1)) bad('batch_size', 'a whole number ≥ 1', p.batch_size);
  if (!Number.isInteger(p.seed)) bad('seed', 'an integer', p.seed);
  return p;
}

export class ProjectedGradientDescent implements EvasionAttack {
  readonly params: Readonly<PgdParams>;

  constructor(params: Partial<PgdParams> = {}, readonly name = 'pgd') {
    this.params = Object.freeze(checkParams(name, { ...PGD_DEFAULTS, ...params }));
  }

  async generate(classifier: Classifier, x: tf.Tensor4D, y?: readonly number[], hooks: AttackHooks = {}): Promise<tf.Tensor4D> {
    const p = this.params;
    const n = x.shape[0];
    if (y && y.length !== n) throw new Error(`${this.name}: ${y.length} labels for ${n} images`);
    if (hooks.onIteration && p.num_random_init > 1) throw new Error(`${this.name}: per-iteration results are not defined with num_random_init > 1`);
    const restarts = Math.max(1, p.num_random_init);
    const total = Math.ceil(n / p.batch_size) * restarts * p.max_iter;
    let done = 0;
    const rng = createRandom(p.seed);
    const parts: tf.Tensor4D[] = [];
    try {
      for (let start = 0; start < n; start += p.batch_size) {
        const size = Math.min(p.batch_size, n - start);
        const x0 = tf.slice(x, [start, 0, 0, 0], [size, -1, -1, -1]);
        const clean = await labelsOf(classifier, x0);
        const wanted = y ? y.slice(start, start + size) : clean;
        const labels = tf.tensor1d(wanted, 'int32');
        let best: tf.Tensor4D | undefined;
        try {
          for (let r = 0; r < restarts; r++) {
            let adv = p.num_random_init > 0 ? this.randomStart(x0, rng.int(0x7fffffff)) : tf.clone(x0);
            for (let i = 0; i < p.max_iter; i++) {
              const grad = await classifier.lossGradient(adv, labels);
              const next = this.step(adv, grad, x0);
              tf.dispose([adv, grad]);
              adv = next;
              await hooks.onIteration?.(i + 1, adv, start);
              hooks.onProgress?.(++done, total);
            }
            best = best ? await this.keepSuccesses(classifier, best, adv, this.params.targeted ? wanted : clean) : adv;
          }
          parts.push(best!);
        } finally {
          tf.dispose([x0, labels]);
        }
      }
      return parts.length === 1 ? parts[0] : tf.concat(parts);
    } finally {
      if (parts.length > 1) tf.dispose(parts);
    }
  }

  /** One step: move along the (signed or normalised) gradient, clip to the pixel range, project to the ball. */
  private step(adv: tf.Tensor4D, grad: tf.Tensor4D, x0: tf.Tensor4D): tf.Tensor4D {
    const { norm, eps, eps_step, targeted } = this.params;
    return tf.tidy(() => {
      let g: tf.Tensor4D = tf.where(tf.isNaN(grad), tf.zerosLike(grad), grad);
      if (targeted) g = tf.neg(g);
      const dir = norm === 'inf' ? tf.sign(g) : tf.div(g, tf.add(perSampleL2(g), L2_TOL));
      const moved = tf.clipByValue(tf.add(adv, tf.mul(dir, eps_step)), 0, 255);
      return tf.add(x0, project(tf.sub(moved, x0) as tf.Tensor4D, norm, eps)) as tf.Tensor4D;
    });
  }

  /** Uniform in the L∞ ball, or uniform in the L2 ball (direction ~ normal, radius ~ eps·U^(1/d)); clipped. */
  private randomStart(x0: tf.Tensor4D, seed: number): tf.Tensor4D {
    const { norm, eps } = this.params;
    return tf.tidy(() => {
      let delta: tf.Tensor4D;
      if (norm === 'inf') {
        delta = tf.randomUniform(x0.shape, -eps, eps, 'float32', seed);
      } else {
        const d = x0.shape[1] * x0.shape[2] * x0.shape[3];
        const dir = tf.randomNormal(x0.shape, 0, 1, 'float32', seed) as tf.Tensor4D;
        const radius = tf.mul(tf.pow(tf.randomUniform([x0.shape[0], 1, 1, 1], 0, 1, 'float32', seed + 1), 1 / d), eps);
        delta = tf.mul(tf.div(dir, perSampleL2(dir as tf.Tensor4D)), radius) as tf.Tensor4D;
      }
      return tf.clipByValue(tf.add(x0, delta), 0, 255) as tf.Tensor4D;
    });
  }

  /**
   * Where the new restart succeeds, take it. `reference`: the target labels (targeted: success = equal) or the
   * clean predictions (untargeted: success = different).
   */
  private async keepSuccesses(classifier: Classifier, best: tf.Tensor4D, candidate: tf.Tensor4D, reference: readonly number[]): Promise<tf.Tensor4D> {
    const pred = await labelsOf(classifier, candidate);
    const ok = pred.map((v, i) => (this.params.targeted ? v === reference[i] : v !== reference[i]));
    const out = tf.tidy(() => {
      const mask = tf.reshape(tf.tensor1d(ok.map(Number), 'float32'), [ok.length, 1, 1, 1]);
      return tf.add(tf.mul(candidate, mask), tf.mul(best, tf.sub(1, mask))) as tf.Tensor4D;
    });
    tf.dispose([best, candidate]);
    return out;
  }
}

async function labelsOf(classifier: Classifier, x: tf.Tensor4D): Promise<number[]> {
  const logits = await classifier.predict(x);
  const arg = tf.argMax(logits, 1);
  const out = Array.from(await arg.data());
  tf.dispose([logits, arg]);
  return out;
}

/** ‖v‖₂ of each sample, shaped [n,1,1,1] for broadcasting. */
function perSampleL2(v: tf.Tensor4D): tf.Tensor4D {
  return tf.sqrt(tf.sum(tf.square(v), [1, 2, 3], true)) as tf.Tensor4D;
}

function project(delta: tf.Tensor4D, norm: Norm, eps: number): tf.Tensor {
  if (norm === 'inf') return tf.clipByValue(delta, -eps, eps);
  const l2 = perSampleL2(delta as tf.Tensor4D);
  return tf.mul(delta, tf.minimum(1, tf.div(eps, tf.add(l2, L2_TOL))));
}
