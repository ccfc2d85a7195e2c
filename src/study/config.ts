/**
 * The study's configuration: the paper's protocol as defaults, a `--quick` preset for tests and CI, and the
 * validation of a user's `study.json` (every key optional, unknown keys refused, values checked by name).
 */
import { promises as fsp } from 'node:fs';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parseAttackToken, parseSuite, PGD_SPEC, P, describeSchema } from '../attacks/index.js';
import { parsePipeline, formatPipeline } from '../defences/index.js';
import { ParameterError, param, type Part } from '../util/errors.js';

const Int = (def: number, minimum: number, maximum: number | undefined, description: string) => Type.Integer({ default: def, minimum, ...(maximum === undefined ? {} : { maximum }), description });
const Num = (def: number, minimum: number, maximum: number, description: string) => Type.Number({ default: def, minimum, maximum, description });
const Flag = (def: boolean, description: string) => Type.Boolean({ default: def, description });
const Pipe = (def: string, description: string) => Type.String({ default: def, description: `${description} (a pipeline, e.g. 'median:3,jpeg:20')` });
const Pipes = (def: string[], minItems: number, description: string) => Type.Array(Type.String(), { default: def, minItems, description: `${description} (pipelines)` });
const Nums = <T extends TSchema>(def: number[], item: T, description: string) => Type.Array(item, { default: def, minItems: 1, description });
const Section = <T extends Parameters<typeof Type.Object>[0]>(properties: T, description: string) => Type.Object(properties, { additionalProperties: false, default: {}, description });
const Eps = Type.Number({ minimum: 0, maximum: 255 });

/**
 * The study's parameters, defaults = the paper's protocol. One schema gives the validation, the help text
 * (`robustify study --help`) and the JSON Schema (`robustify study --config-schema`); the attack's bounds are
 * PGD's own spec (attacks/pgd.ts), so the study accepts what the attack does.
 */
export const StudyConfigSchema = Type.Object(
  {
    seed: Type.Integer({ default: 0, minimum: 0, maximum: 2 ** 31 - 1, description: 'seed of every random draw (split order, head init, attacks, stochastic defences)' }),
    identities: Int(14, 2, undefined, 'K: the most populated identities'),
    split: Section({ test_every: Int(5, 2, 1000, 'every n-th image of an identity is a test image'), test_offset: Int(4, 0, 999, 'which one (< test_every)') }, 'the deterministic train/test split'),
    train: Section(
      {
        hidden: Int(2048, 1, 65536, 'hidden units of the head'),
        dropout: Num(0.5, 0, 0.99, 'dropout rate'),
        learning_rate: Num(0.01, 1e-9, 100, 'SGD learning rate'),
        batch_size: Int(1, 1, undefined, 'SGD batch size'),
        max_epochs: Int(32, 1, 10000, 'epochs at most'),
        patience: Int(5, 1, undefined, 'epochs without validation gain before stopping'),
        validation: Num(0.1, 0.01, 0.9, 'share of the training split held out for early stopping'),
        flip: Flag(true, 'add mirrored training faces'),
      },
      'the head (Dense → ReLU → Dropout → softmax) on the frozen backbone',
    ),
    attack: Type.Pick(PGD_SPEC, ['norm', 'eps', 'eps_step', 'max_iter', 'batch_size'], {
      additionalProperties: false,
      default: {},
      description: "the paper's attack (Table 3 and every oblivious set): PGD, ART's parameter names and bounds",
    }),
    defences: Pipes(['jpeg:20', 'jpeg:40', 'jpeg:80', 'gauss:15', 'median:3', 'tvm', 'tvm:solver=pdhg', 'squeeze:5', 'bmcnn:20'], 0, "the single defences of Tables 4, 5 and the other single-defence rows; 'tvm' is ART's solver, 'tvm:solver=pdhg' ours"),
    pipelines: Section(
      {
        table6: Pipe('median:3,jpeg:20,gauss:15,tvm,bmcnn:20', 'Table 6'),
        table7: Pipe('median:3,jpeg:20,gauss:15,bmcnn:20', 'Table 7'),
        table8: Pipe('median:3,jpeg:20', 'Table 8'),
        table9: Pipe('jpeg:20,gauss:15,bmcnn:20', 'Table 9'),
        best: Pipe('jpeg:20,gauss:15,bmcnn:20', "the paper's best (Table 10, also on clean data)"),
      },
      "the paper's pipelines",
    ),
    more_pipelines: Pipes(['jpeg:20,gauss:15', 'median:3,jpeg:20,gauss:15', 'median:3,jpeg:20,gauss:15,tvm'], 0, "further rows of the defence table (the paper's intermediate combinations)"),
    curves: Section(
      {
        eps: Nums([0, 0.5, 1, 2, 4, 8], Eps, 'accuracy vs eps (at attack.max_iter); must include attack.eps'),
        iterations: Nums([1, 5, 10, 25, 100], Type.Integer({ minimum: 1 }), 'accuracy vs iterations (at attack.eps); each ≤ attack.max_iter, must include it'),
        pipelines: Pipes(['none', 'jpeg:20', 'median:3,jpeg:20', 'jpeg:20,gauss:15', 'median:3,jpeg:20,gauss:15', 'median:3,jpeg:20,gauss:15,tvm', 'jpeg:20,gauss:15,bmcnn:20', '@best'], 1, "one curve each; '@best' = the search's best"),
      },
      'robustness curves',
    ),
    search: Section(
      {
        candidates: Pipes(['median:3', 'jpeg:20', 'gauss:15', 'tvm', 'squeeze:5', 'bmcnn:20'], 1, 'the stages every ordered pipeline is made of'),
        max_length: Int(3, 1, 6, 'stages per pipeline at most'),
        min_clean_accuracy: Num(0.9, 0, 1, 'pipelines below this clean accuracy are not ranked'),
        top: Int(15, 1, undefined, 'rows of the ranking'),
      },
      'the pipeline search (every ordered pipeline of distinct candidates)',
    ),
    adaptive: Section(
      {
        pipelines: Pipes(['jpeg:20,gauss:15,bmcnn:20', '@best'], 0, "attacked through (BPDA); '@best' = the search's best"),
        samples: Int(32, 1, undefined, 'the first attacked test images'),
        eps: P.eps(4),
        eps_step: P.epsStep(0.5),
        max_iter: P.maxIter(40),
      },
      'BPDA PGD against defended models',
    ),
    robust: Section(
      {
        pipelines: Pipes(['none', 'jpeg:20,gauss:15,bmcnn:20', '@best'], 0, "evaluated, each its own row ('none' = the bare model, '@best' = the search's best; [] skips the section)"),
        suite: Type.String({ default: 'standard', description: "attack suite: 'standard', 'quick' or a list like 'apgd,square:nb_queries=1000'" }),
        eot_samples: Int(10, 1, 10000, 'EOT draws where the forward pass is random'),
        square_queries: Int(5000, 1, 1e7, "Square's query budget"),
        min_attack: Type.String({ default: 'pgd:max_iter=10', description: 'the attack of the minimum-perturbation search (a token)' }),
        eps_max: Num(16, 1e-3, 255, 'upper end of the minimum-perturbation search'),
        checks: Flag(true, 'gradient-masking checks'),
      },
      "the robust-accuracy section (by default the bare model, the paper's best and the searched best; adaptive's faces and eps)",
    ),
    figures: Section(
      {
        face: Int(0, 0, undefined, 'index into the attacked (correctly classified) test images'),
        attack_eps: Nums([0, 1, 2, 4, 8, 16], Eps, 'Figure 1: the face attacked at these eps'),
        gauss_sigmas: Nums([51, 15, 85], Eps, 'Gaussian-noise figure: sigmas'),
        jpeg_qualities: Nums([20, 40, 80], Type.Integer({ minimum: 1, maximum: 100 }), 'JPEG figure: qualities'),
      },
      'figures',
    ),
  },
  { additionalProperties: false, description: 'robustify study configuration (every key optional; defaults: the paper)' },
);

/** The study's configuration, every key resolved (see `StudyConfigSchema`). */
export type StudyConfig = Static<typeof StudyConfigSchema>;

/**
 * The paper's protocol: every default of the schema.
 *
 * @example
 * ```ts
 * import { PAPER_CONFIG, QUICK_OVERRIDES, mergeConfig } from 'robustify';
 * const quick = mergeConfig(PAPER_CONFIG, QUICK_OVERRIDES);
 * console.log(PAPER_CONFIG.identities, PAPER_CONFIG.attack.max_iter, quick.identities); // 14 100 3
 * ```
 */
export const PAPER_CONFIG: StudyConfig = Value.Default(StudyConfigSchema, {}) as StudyConfig;

/**
 * Few identities, few iterations, short pipelines: minutes on 2 cores, for tests and CI.
 *
 * @example
 * ```ts
 * import { PAPER_CONFIG, QUICK_OVERRIDES, mergeConfig } from 'robustify';
 * console.log(mergeConfig(PAPER_CONFIG, QUICK_OVERRIDES).defences); // see {@link PAPER_CONFIG}
 * ```
 */
export const QUICK_OVERRIDES: PartialConfig = {
  identities: 3,
  // Every 10th image a test face (4 of faces14's 35 per identity): every defence and attack runs on each.
  split: { test_every: 10, test_offset: 4 },
  train: { hidden: 256, max_epochs: 4, patience: 2 },
  attack: { eps_step: 1, max_iter: 6 },
  defences: ['jpeg:20', 'gauss:15', 'median:3', 'bmcnn:20'],
  // One PGD set (eps 4, its iterates the iterations curve): each further eps is a PGD run.
  curves: { eps: [0, 4], iterations: [1, 3, 6], pipelines: ['none', 'median:3,jpeg:20', '@best'] },
  search: { candidates: ['median:3', 'jpeg:20', 'gauss:15'], max_length: 2, min_clean_accuracy: 0.5, top: 5 },
  // The adaptive and robust sections attack through the paper's best pipeline (BMCNN's exact gradient): 2 faces.
  adaptive: { pipelines: ['@best'], samples: 2, eps_step: 1, max_iter: 2 },
  robust: { suite: 'apgd:max_iter=2,square:nb_queries=5', eot_samples: 2, square_queries: 5, min_attack: 'pgd:max_iter=1:eps_step=1', eps_max: 8, checks: false },
  figures: { attack_eps: [0, 2, 4] },
};

/** A configuration as a user writes it: any key left out, sections partly. */
export type PartialConfig = { [K in keyof StudyConfig]?: StudyConfig[K] extends unknown[] ? StudyConfig[K] : StudyConfig[K] extends object ? Partial<StudyConfig[K]> : StudyConfig[K] };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What a schema accepts, for messages and help: "a whole number in [1, 6]", "a list of at least 1". */
function expected(s: TSchema): string {
  if (s.type === 'object') return 'an object';
  if (s.type === 'array') return s.minItems ? `a list of at least ${s.minItems}` : 'a list';
  if (s.type === 'string') return 'a string';
  return describeSchema(s);
}

/** The sub-schema at a JSON pointer into the config. */
function schemaAt(pointer: string): TSchema | undefined {
  let s: TSchema | undefined = StudyConfigSchema;
  for (const key of pointer.split('/').slice(1)) s = s?.type === 'array' ? s.items : s?.properties?.[key];
  return s;
}

/** '/curves/eps/1' → 'curves.eps[1]'. */
const dotted = (pointer: string): string => pointer.split('/').slice(1).map((k, i) => (/^\d+$/.test(k) ? `[${k}]` : i ? `.${k}` : k)).join('');

/** Where a configuration came from, as errors name it: text, or parts naming a parameter (the config file). */
type Where = string | readonly Part[];
const refuse = (where: Where, message: string): ParameterError => new ParameterError([...(typeof where === 'string' ? [where] : where), `: ${message}`]);

/**
 * Merge `over` into `base` (sections merged key by key, lists replaced) and validate the result; errors name
 * the key (`study config: attack.eps must be …`).
 *
 * @example
 * ```ts
 * import { mergeConfig, PAPER_CONFIG } from 'robustify';
 * const config = mergeConfig(PAPER_CONFIG, { identities: 5, attack: { eps: 8 }, curves: { eps: [0, 8] } });
 * ```
 */
export function mergeConfig(base: StudyConfig, over: unknown, where: Where = 'study config'): StudyConfig {
  if (!isObject(over)) throw refuse(where, 'expected a JSON object');
  const out: Record<string, unknown> = structuredClone(base);
  for (const [k, v] of Object.entries(over)) out[k] = isObject(out[k]) && isObject(v) ? { ...out[k], ...v } : v;
  return validateConfig(out, where);
}

/** Check a whole configuration against the schema and across keys; the error names the key. */
export function validateConfig(c: unknown, where: Where = 'study config'): StudyConfig {
  const first = Value.Errors(StudyConfigSchema, c).First();
  if (first) {
    const key = dotted(first.path);
    const parent = schemaAt(first.path.replace(/\/[^/]*$/, ''));
    if (parent?.type === 'object' && !parent.properties?.[first.path.split('/').pop()!]) {
      throw refuse(where, `unknown key '${key}' (valid: ${Object.keys(parent.properties ?? {}).join(', ')})`);
    }
    throw refuse(where, `${key} must be ${expected(first.schema)}, got ${JSON.stringify(first.value)}`);
  }
  const config = c as StudyConfig;
  const fail = (key: string, what: string, v: unknown): never => {
    throw refuse(where, `${key} must be ${what}, got ${JSON.stringify(v)}`);
  };
  const { split, attack, curves } = config;
  if (split.test_offset >= split.test_every) fail('split.test_offset', `less than split.test_every (${split.test_every})`, split.test_offset);
  if (!curves.eps.includes(attack.eps)) fail('curves.eps', `a list that includes attack.eps (${attack.eps})`, curves.eps);
  curves.iterations.forEach((it, i) => it > attack.max_iter && fail(`curves.iterations[${i}]`, `at most attack.max_iter (${attack.max_iter})`, it));
  if (!curves.iterations.includes(attack.max_iter)) fail('curves.iterations', `a list that includes attack.max_iter (${attack.max_iter})`, curves.iterations);
  for (const [key, list, best] of pipelineFields(config)) {
    list.forEach((p, i) => {
      if (best && p === '@best') return;
      try {
        parsePipeline(p);
      } catch (err) {
        throw refuse(where, `${key}${Array.isArray(pick(config, key)) ? `[${i}]` : ''}: ${(err as Error).message}`);
      }
    });
  }
  try {
    parseSuite(config.robust.suite);
    parseAttackToken(config.robust.min_attack);
  } catch (err) {
    throw refuse(where, `robust: ${(err as Error).message}`);
  }
  return canonical(config);
}

const pick = (c: StudyConfig, key: string): unknown => key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], c);

/** Every pipeline-valued key: its dotted name, its pipelines, whether '@best' may stand for one. */
function pipelineFields(c: StudyConfig): [string, string[], boolean][] {
  return [
    ['defences', c.defences, false],
    ...Object.entries(c.pipelines).map(([k, v]): [string, string[], boolean] => [`pipelines.${k}`, [v], false]),
    ['more_pipelines', c.more_pipelines, false],
    ['curves.pipelines', c.curves.pipelines, true],
    ['search.candidates', c.search.candidates, false],
    ['adaptive.pipelines', c.adaptive.pipelines, true],
    ['robust.pipelines', c.robust.pipelines, true],
  ];
}

/** The JSON Schema of a user's study.json: the configuration's, every key optional (each default is the paper's). */
export function studyFileSchema(): Record<string, unknown> {
  const optional = (s: TSchema): TSchema =>
    s.type === 'object' && s.properties
      ? { ...s, required: undefined, properties: Object.fromEntries(Object.entries(s.properties as Record<string, TSchema>).map(([k, v]) => [k, optional(v)])) }
      : s;
  return { $schema: 'http://json-schema.org/draft-07/schema#', ...optional(StudyConfigSchema) };
}

/** One help line per key: `attack.eps_step: a number > 0 and ≤ 255, default 0.1 — step size, same units as eps`. */
export function configHelp(): string[] {
  const lines: string[] = [];
  const walk = (s: TSchema, key: string): void => {
    if (s.type === 'object' && s.properties) {
      for (const [k, sub] of Object.entries(s.properties as Record<string, TSchema>)) walk(sub, key ? `${key}.${k}` : k);
      return;
    }
    lines.push(`${key}: ${expected(s)}, default ${JSON.stringify(pick(PAPER_CONFIG, key))} — ${s.description ?? ''}`);
  };
  walk(StudyConfigSchema, '');
  return lines;
}

/** Pipelines in canonical text, so equal configurations hash equally however they were written. */
function canonical(c: StudyConfig): StudyConfig {
  const canon = (p: string): string => (p === '@best' ? p : formatPipeline(parsePipeline(p)));
  return {
    ...c,
    defences: c.defences.map(canon),
    pipelines: Object.fromEntries(Object.entries(c.pipelines).map(([k, v]) => [k, canon(v)])) as StudyConfig['pipelines'],
    more_pipelines: c.more_pipelines.map(canon),
    curves: { ...c.curves, pipelines: c.curves.pipelines.map(canon) },
    search: { ...c.search, candidates: c.search.candidates.map(canon) },
    adaptive: { ...c.adaptive, pipelines: c.adaptive.pipelines.map(canon) },
    robust: { ...c.robust, pipelines: c.robust.pipelines.map(canon) },
  };
}

/**
 * The paper's configuration, the quick preset over it when asked, then the user's file over that.
 *
 * @example
 * ```ts
 * import { promises as fsp } from 'node:fs';
 * import os from 'node:os';
 * import path from 'node:path';
 * import { loadStudyConfig } from 'robustify';
 * const file = path.join(os.tmpdir(), `study-${process.pid}.json`);
 * await fsp.writeFile(file, JSON.stringify({ identities: 5, attack: { eps: 8 }, curves: { eps: [0, 8] } }));
 * const config = await loadStudyConfig(file, true); // quick preset, then the file
 * console.log(config.identities, config.attack.eps, config.attack.max_iter); // 5 8 6
 * await fsp.rm(file);
 * ```
 */
export async function loadStudyConfig(file: string | undefined, quick: boolean): Promise<StudyConfig> {
  let config = quick ? mergeConfig(PAPER_CONFIG, QUICK_OVERRIDES, 'quick preset') : validateConfig(PAPER_CONFIG);
  if (file) {
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (err) {
      throw ParameterError.of`${param('config')}: cannot read '${file}': ${(err as Error).message}`;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw ParameterError.of`${param('config')}: '${file}' is not valid JSON (${(err as Error).message})`;
    }
    config = mergeConfig(config, value, [param('config'), ` '${file}'`]);
  }
  return config;
}
