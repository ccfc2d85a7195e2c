/** Basic iterative method (Kurakin et al.): L∞ PGD from the clean image (no random start). */
import { Type, type Static } from '@sinclair/typebox';
import { resolveAttackParams } from './params.js';
import { PGD_SPEC, ProjectedGradientDescent } from './pgd.js';

/**
 * BIM's parameters (TypeBox): ART's BasicIterativeMethod.
 *
 * @example
 * ```ts
 * import { BIM_SPEC, describeParams, resolveAttackParams } from 'robustify/attacks';
 * console.log(describeParams(BIM_SPEC).join('\n'), resolveAttackParams('bim', BIM_SPEC, { eps: 8 }));
 * ```
 */
export const BIM_SPEC = Type.Pick(PGD_SPEC, ['eps', 'eps_step', 'max_iter', 'targeted', 'batch_size', 'seed']);
export type BimParams = Static<typeof BIM_SPEC>;

/**
 * The basic iterative method (Kurakin et al.; ART's BasicIterativeMethod): L∞ PGD from the clean image.
 *
 * @example
 * ```ts
 * import { tf, initEngine, classifierFromLogits, BasicIterativeMethod } from 'robustify';
 * await initEngine();
 * const model = classifierFromLogits(3, (x) => tf.mean(x, [1, 2]) as tf.Tensor2D);
 * const x = tf.randomUniform([2, 8, 8, 3], 0, 255, 'float32', 1) as tf.Tensor4D;
 * const adv = await new BasicIterativeMethod({ eps: 8, eps_step: 2, max_iter: 3 }).generate(model, x, [0, 1]);
 * console.log(adv.shape);
 * ```
 */
export class BasicIterativeMethod extends ProjectedGradientDescent {
  constructor(params: Partial<BimParams> = {}) {
    super({ ...resolveAttackParams('bim', BIM_SPEC, params), norm: 'inf', num_random_init: 0 }, 'bim');
  }
}
