/**
 * `robustify/attacks`: evasion attacks with ART's names and parameters, the registry that names them, the
 * AutoAttack-style suite, EOT and the minimum-perturbation search, and what a plugin needs to write and
 * register its own (`registerAttack`, `P` and `resolveAttackParams` for its TypeBox spec, `project`,
 * `checkLabels`; `predictLabels` is the main entry's).
 *
 * @example
 * ```ts
 * import { createAttack, attackNames } from 'robustify/attacks';
 * console.log(attackNames()); // ['pgd', 'fgsm', 'bim', 'apgd', 'apgd_t', 'square']
 * const pgd = createAttack('pgd', { eps: 4, eps_step: 0.5, max_iter: 10 });
 * ```
 * @module
 */
export { type EvasionAttack, type Norm, type AttackProgress, type AttackHooks, SpecifiedAttack, project, checkLabels } from './attack.js';
export { ProjectedGradientDescent, PGD_DEFAULTS, PGD_SPEC, type PgdParams } from './pgd.js';
export { FastGradientMethod, FGSM_SPEC } from './fgsm.js';
export { BasicIterativeMethod, BIM_SPEC } from './bim.js';
export { AutoProjectedGradientDescent, APGD_SPEC, type ApgdParams } from './apgd.js';
export { TargetedAutoProjectedGradientDescent, APGD_T_SPEC, type ApgdTParams } from './apgd-t.js';
export { SquareAttack, SQUARE_SPEC, type SquareParams } from './square.js';
export { LOSS_TYPES, type LossType } from './loss.js';
export { P, resolveAttackParams, parseParamText, parseParamPairs, describeParams, describeSchema, type AttackParams } from './params.js';
export { registerAttack, attackNames, getAttack, createAttack, parseAttackToken, formatAttackToken, type AttackEntry, type AttackRequest } from './registry.js';
export { runSuite, runSuitePart, mergeSuites, parseSuite, formatSuite, SUITES, THREATS, type Threat, type SuiteResult, type SuiteOptions, type SuiteStep, type MaskingCheck, type SuitePart } from './suite.js';
export { minimumPerturbation, type MinPerturbationOptions, type MinPerturbationResult } from './min-perturbation.js';
export { ExpectationOverTransformation, EOT_DEFAULTS, checkEotParams, type EotParams } from './eot.js';
export { faceThreatSuite, RECOGNISERS, type Recogniser, type FaceThreatOptions, type FaceThreatResult } from './face-threats.js';
