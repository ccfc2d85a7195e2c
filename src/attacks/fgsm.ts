/** Fast gradient (sign) method (Goodfellow et al.): one step of size eps, i.e. PGD with max_iter 1. */
import { Type, type Static } from '@sinclair/typebox';
import { resolveAttackParams } from './params.js';
import { PGD_SPEC, ProjectedGradientDescent } from './pgd.js';

/**
 * FGSM's parameters (TypeBox): ART's FastGradientMethod.
 *
 * @example
 * ```ts
 * import { FGSM_SPEC, describeParams, resolveAttackParams } from 'robustify/attacks';
 * console.log(describeParams(FGSM_SPEC).join('\n'), resolveAttackParams('fgsm', FGSM_SPEC, { eps: 8 }));
 * ```
 */
export const FGSM_SPEC = Type.Pick(PGD_SPEC, ['norm', 'eps', 'targeted', 'num_random_init', 'batch_size', 'seed']);
export type FgsmParams = Static<typeof FGSM_SPEC>;

/**
 * The fast gradient sign method (Goodfellow et al.; ART's FastGradientMethod): one step of size `eps`.
 *
 * @example
 * ```ts
 * import { tf, initEngine, classifierFromLogits, FastGradientMethod } from 'robustify';
 * await initEngine();
 * const model = classifierFromLogits(3, (x) => tf.mean(x, [1, 2]) as tf.Tensor2D);
 * const x = tf.randomUniform([2, 8, 8, 3], 0, 255, 'float32', 1) as tf.Tensor4D;
 * const adv = await new FastGradientMethod({ eps: 8 }).generate(model, x, [0, 1]);
 * console.log(adv.shape); // [2, 8, 8, 3]
 * ```
 */
export class FastGradientMethod extends ProjectedGradientDescent {
  constructor(params: Partial<FgsmParams> = {}) {
    const p = resolveAttackParams('fgsm', FGSM_SPEC, params);
    super({ ...p, eps_step: p.eps, max_iter: 1 }, 'fgsm');
  }
}
