/** Evasion attacks with ART's names and parameters, and the registry that names them. */
export { type EvasionAttack, type Norm, type AttackProgress, type AttackHooks } from './attack.js';
export { ProjectedGradientDescent, PGD_DEFAULTS, PGD_SPEC, type PgdParams } from './pgd.js';
export { FastGradientMethod, FGSM_SPEC } from './fgsm.js';
export { BasicIterativeMethod, BIM_SPEC } from './bim.js';
export { AutoProjectedGradientDescent, APGD_SPEC, apgdCheckpoints, ApgdStepSchedule, type ApgdParams } from './apgd.js';
export { TargetedAutoProjectedGradientDescent, APGD_T_SPEC, type ApgdTParams } from './apgd-t.js';
export { SquareAttack, SQUARE_SPEC, squareP, type SquareParams } from './square.js';
export { LOSS_TYPES, type LossType } from './loss.js';
export { resolveAttackParams, parseParamText, parseParamPairs, describeParams, describeSchema } from './params.js';
export { registerAttack, attackNames, getAttack, createAttack, parseAttackToken, formatAttackToken, type AttackEntry, type AttackRequest } from './registry.js';
export { runSuite, runSuitePart, mergeSuites, parseSuite, formatSuite, SUITES, THREATS, type Threat, type SuiteResult, type SuiteOptions, type SuiteStep, type MaskingCheck, type SuitePart } from './suite.js';
export { minimumPerturbation, type MinPerturbationOptions, type MinPerturbationResult } from './min-perturbation.js';
export { ExpectationOverTransformation, EOT_DEFAULTS, checkEotParams, eotDrawSeed, type EotParams } from './eot.js';
export { faceThreatSuite, RECOGNISERS, type Recogniser, type FaceThreatOptions, type FaceThreatResult } from './face-threats.js';
