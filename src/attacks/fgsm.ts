/** Fast gradient (sign) method (Goodfellow et al.): one step of size eps, i.e. PGD with max_iter 1. */
import { Type, type Static } from '@sinclair/typebox';
import { resolveAttackParams } from './params.js';
import { PGD_SPEC, ProjectedGradientDescent } from './pgd.js';

/** FGSM's parameters (TypeBox): ART's FastGradientMethod. */
export const FGSM_SPEC = Type.Pick(PGD_SPEC, ['norm', 'eps', 'targeted', 'num_random_init', 'batch_size', 'seed']);
export type FgsmParams = Static<typeof FGSM_SPEC>;

export class FastGradientMethod extends ProjectedGradientDescent {
  constructor(params: Partial<FgsmParams> = {}) {
    const p = resolveAttackParams('fgsm', FGSM_SPEC, params);
    super({ ...p, eps_step: p.eps, max_iter: 1 }, 'fgsm');
  }
}
