/**
 * Attack choice on the command line, generated from the attack registry: `--attack NAME`, one flag per
 * parameter any registered attack declares (`eps_step` → `--eps-step`, help text from its spec), and
 * `--param key=value` for any parameter. Only given values are passed on; the chosen attack fills its own
 * defaults and refuses parameters it does not have, and its error is reported against the flag.
 */
import { Command, Option } from 'commander';
import { Type, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { attackNames, createAttack, getAttack, parseParamPairs, parseParamText, describeSchema, P, type EvasionAttack } from '../attacks/index.js';
import { UsageError } from './run.js';

export interface AttackFlags {
  attack: string;
  param?: string[];
  [flag: string]: unknown;
}

const kebab = (k: string) => k.replace(/_/g, '-');
const camel = (k: string) => k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Every parameter of every registered attack, with the attacks that have it and their defaults. */
function allParams(): Map<string, { schema: TSchema; defaults: string[] }> {
  const out = new Map<string, { schema: TSchema; defaults: string[] }>();
  for (const name of attackNames()) {
    for (const [k, s] of Object.entries(getAttack(name).spec.properties)) {
      const e = out.get(k) ?? { schema: s as TSchema, defaults: [] };
      e.defaults.push(`${name} ${String((s as TSchema).default)}`);
      out.set(k, e);
    }
  }
  return out;
}

/** Adds --attack, --param and the per-parameter flags (`skip`: parameters the command sets itself). */
export function addAttackOptions(cmd: Command, skip: readonly string[] = []): Command {
  cmd
    .addOption(new Option('--attack <name>', 'attack').choices(attackNames()).default('pgd'))
    .option('--param <key=value>', "an attack parameter by its name (repeatable), e.g. --param loss_type=difference_logits_ratio", (v: string, acc: string[] = []) => [...acc, v]);
  for (const [k, { schema, defaults }] of allParams()) {
    if (skip.includes(k)) continue;
    const text = `${schema.description ?? k}: ${describeSchema(schema)} (default: ${defaults.join(', ')})`;
    cmd.addOption(new Option(schema.type === 'boolean' ? `--${kebab(k)} [bool]` : `--${kebab(k)} <value>`, text));
  }
  return cmd;
}

/** The attack the flags ask for; a bad parameter is a usage error naming its flag. */
export function attackFromFlags(flags: AttackFlags, extra: Record<string, unknown> = {}): EvasionAttack {
  const entry = getAttack(flags.attack);
  const given: Record<string, unknown> = { ...extra };
  const flagOf = new Map<string, string>();
  for (const k of allParams().keys()) {
    const v = flags[camel(k)];
    if (v === undefined) continue;
    if (!(k in entry.spec.properties)) throw new UsageError(`--${kebab(k)}: the ${flags.attack} attack has no parameter ${k}`);
    given[k] = v === true ? true : parseParamText(entry.spec, k, String(v));
    flagOf.set(k, `--${kebab(k)}`);
  }
  try {
    for (const [k, v] of Object.entries(parseParamPairs(flags.attack, entry.spec, flags.param ?? []))) {
      given[k] = v;
      flagOf.set(k, '--param');
    }
    return createAttack(flags.attack, given);
  } catch (err) {
    const msg = (err as Error).message;
    const m = /^[a-z0-9_]+: ([a-z0-9_]+) must be/.exec(msg);
    throw new UsageError(m && flagOf.has(m[1]) ? `${flagOf.get(m[1])}: ${msg}` : msg);
  }
}

/**
 * An attack parameter given as a flag outside any one attack (`robustness --eps`), checked against the
 * attacks' own schema for it (`P` in attacks/params.ts), so the CLI accepts what the attacks do.
 */
export function attackParamOption(flag: string, schema: TSchema, text: string): number {
  const v = parseParamText(Type.Object({ v: schema }), 'v', text);
  if (typeof v !== 'number' || !Value.Check(schema, v)) throw new UsageError(`${flag}: expected ${describeSchema(schema)}, got '${text}'`);
  return v;
}

/** The attacks' eps schema (`attackParamOption('--eps', EPS, …)`). */
export const EPS = P.eps();
