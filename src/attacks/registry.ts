/**
 * The attacks robustify can name (CLI `--attack`, the robustness suite, study configs): name → parameter spec
 * → factory. Built-ins are listed here; a plugin adds one with `registerAttack`. Nothing registers by import.
 */
import type { TObject } from '@sinclair/typebox';
import { APGD_SPEC, AutoProjectedGradientDescent } from './apgd.js';
import { APGD_T_SPEC, TargetedAutoProjectedGradientDescent } from './apgd-t.js';
import type { EvasionAttack } from './attack.js';
import { BasicIterativeMethod, BIM_SPEC } from './bim.js';
import { FastGradientMethod, FGSM_SPEC } from './fgsm.js';
import { parseParamPairs, resolveAttackParams } from './params.js';
import { PGD_SPEC, ProjectedGradientDescent } from './pgd.js';
import { SquareAttack, SQUARE_SPEC } from './square.js';

/** One row of the attack registry: name, parameter spec, what it needs of the classifier, factory. */
export interface AttackEntry {
  readonly name: string;
  readonly description: string;
  /** Its parameters: names, types, defaults, bounds, descriptions. */
  readonly spec: TObject;
  /** What it needs from the classifier. */
  readonly access: 'gradient' | 'score';
  /** Builds the attack from validated parameters with defaults filled. */
  readonly factory: (params: Record<string, unknown>) => EvasionAttack;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const entry = <S extends TObject>(name: string, access: AttackEntry['access'], description: string, spec: S, factory: (p: any) => EvasionAttack): AttackEntry => ({
  name,
  access,
  description,
  spec,
  factory,
});

const BUILTIN: AttackEntry[] = [
  entry('pgd', 'gradient', 'projected gradient descent (Madry et al.; ART ProjectedGradientDescent)', PGD_SPEC, (p) => new ProjectedGradientDescent(p)),
  entry('fgsm', 'gradient', 'fast gradient sign method, one step of size eps (ART FastGradientMethod)', FGSM_SPEC, (p) => new FastGradientMethod(p)),
  entry('bim', 'gradient', 'basic iterative method, L∞ PGD from the clean image (ART BasicIterativeMethod)', BIM_SPEC, (p) => new BasicIterativeMethod(p)),
  entry('apgd', 'gradient', 'Auto-PGD, step-size free, CE or DLR loss (Croce & Hein 2020; ART AutoProjectedGradientDescent)', APGD_SPEC, (p) => new AutoProjectedGradientDescent(p)),
  entry('apgd_t', 'gradient', "APGD-T: targeted-DLR APGD against each of the top nb_target_classes other classes in turn (AutoAttack's APGD-T)", APGD_T_SPEC, (p) => new TargetedAutoProjectedGradientDescent(p)),
  entry('square', 'score', 'Square attack, score-based random search (Andriushchenko et al. 2020; ART SquareAttack)', SQUARE_SPEC, (p) => new SquareAttack(p)),
];

const registry = new Map<string, AttackEntry>(BUILTIN.map((e) => [e.name, e]));

/**
 * Make an attack nameable (`createAttack`, suites, study configs, the CLI's `--attack`). Refuses a taken name
 * unless `replace`.
 *
 * @example
 * ```ts
 * import { registerAttack, createAttack } from 'robustify/attacks';
 * import { NOISE_SPEC, UniformNoiseAttack } from './noise-attack.js'; // a SpecifiedAttack subclass (examples/plugin)
 * registerAttack({ name: 'noise', access: 'score', description: 'uniform noise', spec: NOISE_SPEC, factory: (p) => new UniformNoiseAttack(p) });
 * const attack = createAttack('noise', { eps: 8 });
 * ```
 */
export function registerAttack(attack: AttackEntry, opts: { replace?: boolean } = {}): void {
  if (!/^[a-z][a-z0-9_]*$/.test(attack.name)) throw new Error(`registerAttack: invalid name '${attack.name}' (lower-case letters, digits, '_')`);
  if (registry.has(attack.name) && !opts.replace) throw new Error(`registerAttack: '${attack.name}' is already registered`);
  registry.set(attack.name, attack);
}

/**
 * Names of the registered attacks, built-ins first.
 *
 * @example
 * ```ts
 * import { attackNames, getAttack } from 'robustify';
 * for (const name of attackNames()) console.log(name, getAttack(name).access, getAttack(name).description);
 * ```
 */
export function attackNames(): string[] {
  return [...registry.keys()];
}

/**
 * A registered attack's entry; the error lists the registered names.
 *
 * @example
 * ```ts
 * import { getAttack, describeParams } from 'robustify';
 * console.log(describeParams(getAttack('square').spec).join('\n')); // see also {@link attackNames}
 * ```
 */
export function getAttack(name: string): AttackEntry {
  const e = registry.get(name);
  if (!e) throw new Error(`unknown attack '${name}' (valid: ${attackNames().join(', ')})`);
  return e;
}

/**
 * Validate `given` against the attack's spec (defaults filled) and build it; errors name the attack and the
 * parameter (`pgd: eps_step must be a number > 0 and ≤ 255, got 0`).
 *
 * @example
 * ```ts
 * import { createAttack } from 'robustify/attacks';
 * const apgd = createAttack('apgd', { loss_type: 'difference_logits_ratio', max_iter: 50 });
 * console.log(apgd.params.eps); // 4
 * ```
 */
export function createAttack(name: string, given: Readonly<Record<string, unknown>> = {}): EvasionAttack {
  const e = getAttack(name);
  return e.factory(resolveAttackParams(name, e.spec, given));
}

/** An attack and its explicitly given parameters, as written in a suite list or config. */
export interface AttackRequest {
  name: string;
  params: Record<string, unknown>;
}

/**
 * `name` or `name:key=value:key=value` (e.g. `apgd:loss_type=difference_logits_ratio:max_iter=50`): the
 * attack and its parameters, typed by its spec and validated.
 *
 * @example
 * ```ts
 * import { parseAttackToken } from 'robustify';
 * console.log(parseAttackToken('apgd:loss_type=difference_logits_ratio:max_iter=50')); // { name: 'apgd', params: { loss_type: …, max_iter: 50 } }
 * ```
 */
export function parseAttackToken(token: string): AttackRequest {
  const [name, ...pairs] = token.trim().split(':');
  const e = getAttack(name);
  const params = parseParamPairs(name, e.spec, pairs);
  resolveAttackParams(name, e.spec, params);
  return { name, params };
}

/**
 * `name:key=value…` for an attack request (the inverse of parseAttackToken).
 *
 * @example
 * ```ts
 * import { formatAttackToken, parseAttackToken } from 'robustify/attacks';
 * console.log(formatAttackToken(parseAttackToken('apgd:max_iter=50'))); // apgd:max_iter=50
 * ```
 */
export function formatAttackToken(req: AttackRequest): string {
  return [req.name, ...Object.entries(req.params).map(([k, v]) => `${k}=${String(v)}`)].join(':');
}
