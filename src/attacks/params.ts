/**
 * Attack parameter specs: one TypeBox object schema per attack (ART's parameter names, defaults, bounds,
 * descriptions). The same schema validates library calls, parses CLI flags and config values, and writes help
 * text, so every front end refuses the same values with the same message (`pgd: eps_step must be > 0, got 0`).
 */
import { Type, type Static, type TObject, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/**
 * Building blocks shared by the attacks' schemas (units: the input's own, 0–255).
 *
 * @example
 * ```ts
 * import { Type } from '@sinclair/typebox';
 * import { P, describeParams } from 'robustify';
 * const spec = Type.Object({ eps: P.eps(8), max_iter: P.maxIter(10), seed: P.seed() }); // as in {@link SpecifiedAttack}
 * console.log(describeParams(spec).join('\n'));
 * ```
 */
export const P = {
  /** eps: the perturbation budget (default 4). */
  eps: (def = 4) => Type.Number({ default: def, minimum: 0, maximum: 1e7, description: 'perturbation budget on 0–255 (the bound on |δ|∞, or on ‖δ‖₂ for L2)' }),
  /** eps_step: the step size. */
  epsStep: (def: number) => Type.Number({ default: def, exclusiveMinimum: 0, maximum: 255, description: 'step size, same units as eps' }),
  /** max_iter: iterations (or what `what` says). */
  maxIter: (def: number, what = 'iterations per restart') => Type.Integer({ default: def, minimum: 1, maximum: 1_000_000, description: what }),
  /** norm: 'inf' or 2. */
  norm: () =>
    Type.Union([Type.Literal('inf'), Type.Literal(2)], { default: 'inf', description: "perturbation norm: 'inf' or 2" }),
  /** targeted: towards the given labels. */
  targeted: () => Type.Boolean({ default: false, description: 'move towards the given labels (targets) instead of away from them' }),
  /** batch_size: images attacked together. */
  batchSize: () => Type.Integer({ default: 32, minimum: 1, maximum: 4096, description: 'images attacked together' }),
  /** seed: of every random draw. */
  seed: () => Type.Integer({ default: 0, minimum: 0, maximum: 2 ** 31 - 1, description: 'seed of every random draw' }),
  /** A restart count (what `what` says). */
  restarts: (def: number, what: string) => Type.Integer({ default: def, minimum: 0, maximum: 1000, description: what }),
};

/** The resolved parameters of an attack: every key of its schema, defaults filled. */
export type AttackParams<S extends TObject = TObject> = Static<S>;

/**
 * The valid values of one parameter, for messages and help: "a number > 0", "a whole number in [1, 100]".
 *
 * @example
 * ```ts
 * import { P, describeSchema } from 'robustify/attacks';
 * console.log(describeSchema(P.maxIter(10))); // a whole number in [1, 1000000]
 * ```
 */
export function describeSchema(s: TSchema): string {
  const options = literals(s);
  if (options) return options.map((v) => (typeof v === 'string' ? `'${v}'` : String(v))).join(' or ');
  if (s.type === 'boolean') return 'true or false';
  const kind = s.type === 'integer' ? 'a whole number' : 'a number';
  const lo = s.exclusiveMinimum !== undefined ? `> ${s.exclusiveMinimum}` : s.minimum !== undefined ? `≥ ${s.minimum}` : '';
  const hi = s.exclusiveMaximum !== undefined ? `< ${s.exclusiveMaximum}` : s.maximum !== undefined ? `≤ ${s.maximum}` : '';
  if (lo && hi && s.minimum !== undefined && s.maximum !== undefined) return `${kind} in [${s.minimum}, ${s.maximum}]`;
  return [kind, [lo, hi].filter(Boolean).join(' and ')].filter(Boolean).join(' ');
}

/** The allowed literals of a union-of-literals (or single literal) schema. */
function literals(s: TSchema): (string | number | boolean)[] | undefined {
  if (s.const !== undefined) return [s.const];
  if (Array.isArray(s.anyOf) && s.anyOf.every((o: TSchema) => o.const !== undefined)) return s.anyOf.map((o: TSchema) => o.const);
  return undefined;
}

/**
 * Fill defaults into `given` and validate it against `schema`; errors name the component (`name`) and the
 * parameter, say what is valid and what was given. Unknown keys are refused with the valid ones listed.
 *
 * @example
 * ```ts
 * import { PGD_SPEC, resolveAttackParams } from 'robustify';
 * console.log(resolveAttackParams('pgd', PGD_SPEC, { eps: 8, norm: 2 }));
 * try { resolveAttackParams('pgd', PGD_SPEC, { eps_step: 0 }); } catch (err) { console.log((err as Error).message); } // pgd: eps_step must be …
 * ```
 */
export function resolveAttackParams<S extends TObject>(name: string, schema: S, given: Readonly<Record<string, unknown>> = {}): Static<S> {
  const keys = Object.keys(schema.properties);
  for (const [k, v] of Object.entries(given)) {
    if (!(k in schema.properties)) throw new Error(`${name}: unknown parameter '${k}' (valid: ${keys.join(', ')})`);
    if (v === undefined) continue;
    const s = schema.properties[k] as TSchema;
    if (!Value.Check(s, v)) throw new Error(`${name}: ${k} must be ${describeSchema(s)}, got ${show(v)}`);
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = given[k] !== undefined ? given[k] : (schema.properties[k] as TSchema).default;
  return out as Static<S>;
}

function show(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : String(v);
}

/**
 * A parameter value written as text (a CLI flag, `--param k=v`, a token `apgd:loss_type=dlr`) as the schema's
 * type; the result still goes through `resolveAttackParams`. Unparseable text is returned as is, so the error
 * names the parameter and its valid values.
 *
 * @example
 * ```ts
 * import { PGD_SPEC, parseParamText } from 'robustify/attacks';
 * console.log(parseParamText(PGD_SPEC, 'max_iter', '50'), parseParamText(PGD_SPEC, 'norm', '2')); // 50 2
 * ```
 */
export function parseParamText(schema: TObject, key: string, text: string): unknown {
  const s = schema.properties[key] as TSchema | undefined;
  if (!s) return text;
  const options = literals(s);
  if (options) return options.find((o) => String(o) === text) ?? text;
  if (s.type === 'boolean') return text === 'true' || text === '1' ? true : text === 'false' || text === '0' ? false : text;
  if (s.type === 'number' || s.type === 'integer') {
    const v = Number(text);
    return text.trim() !== '' && Number.isFinite(v) ? v : text;
  }
  return text;
}

/**
 * `k=v` pairs (as from repeated `--param k=v`) into typed values for `schema`; `name` names the component.
 *
 * @example
 * ```ts
 * import { PGD_SPEC, parseParamPairs } from 'robustify/attacks';
 * console.log(parseParamPairs('pgd', PGD_SPEC, ['eps=8', 'targeted=true'])); // { eps: 8, targeted: true }
 * ```
 */
export function parseParamPairs(name: string, schema: TObject, pairs: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`${name}: parameter '${pair}' is not of the form key=value`);
    const key = pair.slice(0, eq);
    out[key] = parseParamText(schema, key, pair.slice(eq + 1));
  }
  return out;
}

/**
 * One line per parameter: name, valid values, default, description (help text).
 *
 * @example
 * ```ts
 * import { PGD_SPEC, describeParams } from 'robustify';
 * console.log(describeParams(PGD_SPEC).join('\n')); // one help line per parameter
 * ```
 */
export function describeParams(schema: TObject): string[] {
  return Object.entries(schema.properties).map(([k, s]) => {
    const t = s as TSchema;
    return `${k}: ${describeSchema(t)}, default ${show(t.default)} — ${t.description ?? ''}`.trimEnd();
  });
}
