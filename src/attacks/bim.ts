/** Basic iterative method (Kurakin et al.): L∞ PGD from the clean image (no random start). */
import { Type, type Static } from '@sinclair/typebox';
import { resolveAttackParams } from './params.js';
import { PGD_SPEC, ProjectedGradientDescent } from './pgd.js';

/** BIM's parameters (TypeBox): ART's BasicIterativeMethod. */
export const BIM_SPEC = Type.Pick(PGD_SPEC, ['eps', 'eps_step', 'max_iter', 'targeted', 'batch_size', 'seed']);
export type BimParams = Static<typeof BIM_SPEC>;

export class BasicIterativeMethod extends ProjectedGradientDescent {
  constructor(params: Partial<BimParams> = {}) {
    super({ ...resolveAttackParams('bim', BIM_SPEC, params), norm: 'inf', num_random_init: 0 }, 'bim');
  }
}
