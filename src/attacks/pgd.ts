/**
 * Projected gradient descent (Madry et al.), with ART's semantics (../shared/spec/art-semantics.md):
 * eps and eps_step in the input's own units (0–255), exactly max_iter steps per restart, after every step
 * clip to [0,255] and project δ onto the eps-ball; optional uniform random start; a later restart replaces a
 * sample only where it succeeds. FGSM and BIM are PGD with fixed settings (see fgsm.ts, bim.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Type, type Static } from '@sinclair/typebox';
import { predictLabels, type Classifier } from '../models/classifier.js';
import { createRandom } from '../util/random.js';
import { checkLabels, L2_TOL, perSampleL2, project, randomStart, selectRows, SpecifiedAttack, type AttackHooks } from './attack.js';
import { P, resolveAttackParams } from './params.js';

/**
 * PGD's parameters (TypeBox): ART's ProjectedGradientDescent names, defaults and bounds.
 *
 * @example
 * ```ts
 * import { PGD_SPEC, resolveAttackParams } from 'robustify';
 * console.log(resolveAttackParams('pgd', PGD_SPEC, { eps: 8 }).max_iter); // 100, the default
 * ```
 */
export const PGD_SPEC = Type.Object({
  norm: P.norm(),
  eps: P.eps(),
  eps_step: P.epsStep(0.1),
  max_iter: P.maxIter(100),
  num_random_init: P.restarts(0, 'random restarts (0: one run from the clean image)'),
  targeted: P.targeted(),
  batch_size: P.batchSize(),
  seed: P.seed(),
});

/** PGD's resolved parameters. */
export type PgdParams = Static<typeof PGD_SPEC>;

/**
 * PGD's defaults (the paper's attack: L∞, eps 4, eps_step 0.1, 100 iterations).
 *
 * @example
 * ```ts
 * import { PGD_DEFAULTS } from 'robustify/attacks';
 * console.log(PGD_DEFAULTS); // { norm: 'inf', eps: 4, eps_step: 0.1, max_iter: 100, … }
 * ```
 */
export const PGD_DEFAULTS: PgdParams = resolveAttackParams('pgd', PGD_SPEC);

/**
 * Projected gradient descent (Madry et al.; ART's ProjectedGradientDescent): `max_iter` signed-gradient steps of
 * `eps_step`, each projected back onto the `eps`-ball around the input, from a random start.
 *
 * @example
 * ```ts
 * import { tf, initEngine, classifierFromLogits, ProjectedGradientDescent, predictLabels } from 'robustify';
 * await initEngine();
 * const model = classifierFromLogits(3, (x) => tf.mean(x, [1, 2]) as tf.Tensor2D);
 * const x = tf.randomUniform([2, 8, 8, 3], 0, 255, 'float32', 1) as tf.Tensor4D;
 * const adv = await new ProjectedGradientDescent({ eps: 8, eps_step: 2, max_iter: 5 }).generate(model, x);
 * console.log(await predictLabels(model, x), await predictLabels(model, adv));
 * ```
 */
export class ProjectedGradientDescent extends SpecifiedAttack<typeof PGD_SPEC> {
  /** `name`: the attack's own when it is PGD with fixed settings (fgsm, bim). */
  constructor(params: Partial<PgdParams> = {}, name = 'pgd') {
    super(name, 'gradient', PGD_SPEC, params);
  }

  async generate(classifier: Classifier, x: tf.Tensor4D, y?: readonly number[], hooks: AttackHooks = {}): Promise<tf.Tensor4D> {
    const p = this.params;
    const n = x.shape[0];
    checkLabels(this.name, x, y);
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
        const clean = await predictLabels(classifier, x0);
        const wanted = y ? y.slice(start, start + size) : clean;
        const labels = tf.tensor1d(wanted, 'int32');
        let best: tf.Tensor4D | undefined;
        try {
          for (let r = 0; r < restarts; r++) {
            let adv = p.num_random_init > 0 ? randomStart(x0, p.norm, p.eps, rng.int(0x7fffffff)) : tf.clone(x0);
            const wants = (i: number) => hooks.onIteration && (!hooks.iterates || hooks.iterates.includes(i));
            // The classifier's own loop when it has one (the iterate stays on its engine), else step by step here.
            const native = classifier.pgdIterations?.({
              x0,
              start: adv,
              labels: wanted,
              iterations: p.max_iter,
              norm: p.norm,
              eps: p.eps,
              eps_step: p.eps_step,
              targeted: p.targeted,
              onIteration: async (i, iterate) => {
                if (wants(i)) await withTensor(await iterate(), (a) => hooks.onIteration!(i, a, start));
                hooks.onProgress?.(++done, total);
              },
            });
            if (native) adv = await withTensor(adv, () => native);
            else for (let i = 0; i < p.max_iter; i++) {
              const grad = await classifier.lossGradient(adv, labels);
              const next = this.step(adv, grad, x0);
              tf.dispose([adv, grad]);
              adv = next;
              if (wants(i + 1)) await hooks.onIteration!(i + 1, adv, start);
              hooks.onProgress?.(++done, total);
            }
            best = best ? await this.keepSuccesses(classifier, best, adv, this.params.targeted ? wanted : clean) : adv;
          }
          parts.push(best!);
        } finally {
          tf.dispose([x0, labels]);
        }
      }
      return parts.length === 1 ? parts[0] : parts.length === 0 ? tf.clone(x) : tf.concat(parts);
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

  /**
   * Where the new restart succeeds, take it. `reference`: the target labels (targeted: success = equal) or the
   * clean predictions (untargeted: success = different).
   */
  private async keepSuccesses(classifier: Classifier, best: tf.Tensor4D, candidate: tf.Tensor4D, reference: readonly number[]): Promise<tf.Tensor4D> {
    const pred = await predictLabels(classifier, candidate);
    const ok = pred.map((v, i) => (this.params.targeted ? v === reference[i] : v !== reference[i]));
    const out = selectRows(ok, candidate, best);
    tf.dispose([best, candidate]);
    return out;
  }
}

/** f(t), then t disposed. */
async function withTensor<T>(t: tf.Tensor, f: (t: tf.Tensor4D) => T | Promise<T>): Promise<T> {
  try {
    return await f(t as tf.Tensor4D);
  } finally {
    t.dispose();
  }
}
