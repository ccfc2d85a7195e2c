/** Basic iterative method (Kurakin et al.): L∞ PGD from the clean image (no random start). */
import { ProjectedGradientDescent, type PgdParams } from './pgd.js';

export type BimParams = Pick<PgdParams, 'eps' | 'eps_step' | 'max_iter' | 'targeted' | 'batch_size' | 'seed'>;

export class BasicIterativeMethod extends ProjectedGradientDescent {
  constructor(params: Partial<BimParams> = {}) {
    super({ ...params, norm: 'inf', num_random_init: 0 }, 'bim');
  }
}
