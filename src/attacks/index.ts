/** Evasion attacks with ART's names and parameters. */
import { BasicIterativeMethod } from './bim.js';
import { FastGradientMethod } from './fgsm.js';
import { ProjectedGradientDescent, type EvasionAttack, type PgdParams } from './pgd.js';

export { ProjectedGradientDescent, PGD_DEFAULTS, type EvasionAttack, type PgdParams, type Norm, type AttackProgress, type AttackHooks } from './pgd.js';
export { FastGradientMethod } from './fgsm.js';
export { BasicIterativeMethod } from './bim.js';

export const ATTACK_NAMES = ['pgd', 'fgsm', 'bim'] as const;
export type AttackName = (typeof ATTACK_NAMES)[number];

export function createAttack(name: string, params: Partial<PgdParams>): EvasionAttack {
  switch (name) {
    case 'pgd':
      return new ProjectedGradientDescent(params);
    case 'fgsm':
      return new FastGradientMethod(params);
    case 'bim':
      return new BasicIterativeMethod(params);
    default:
      throw new Error(`--attack: unknown attack '${name}' (valid: ${ATTACK_NAMES.join(', ')})`);
  }
}
