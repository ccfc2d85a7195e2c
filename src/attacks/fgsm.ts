/** Fast gradient (sign) method (Goodfellow et al.): one step of size eps, i.e. PGD with max_iter 1. */
import { ProjectedGradientDescent, type PgdParams } from './pgd.js';

export type FgsmParams = Pick<PgdParams, 'norm' | 'eps' | 'targeted' | 'num_random_init' | 'batch_size' | 'seed'>;

export class FastGradientMethod extends ProjectedGradientDescent {
  constructor(params: Partial<FgsmParams> = {}) {
    const eps = params.eps ?? 4;
    super({ ...params, eps, eps_step: eps, max_iter: 1 }, 'fgsm');
  }
}
