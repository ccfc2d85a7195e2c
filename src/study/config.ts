/**
 * The study's configuration: the paper's protocol as defaults, a `--quick` preset for tests and CI, and the
 * validation of a user's `study.json` (every key optional, unknown keys refused, values checked by name).
 */
import { promises as fsp } from 'node:fs';
import { parseAttackToken, parseSuite } from '../attacks/index.js';
import { parsePipeline, formatPipeline } from '../defences/index.js';

export interface StudyConfig {
  seed: number;
  /** K: the most populated identities. */
  identities: number;
  split: { test_every: number; test_offset: number };
  train: { hidden: number; dropout: number; learning_rate: number; batch_size: number; max_epochs: number; patience: number; validation: number; flip: boolean };
  /** The paper's attack (Table 3 and every oblivious set): PGD, ART parameter names. */
  attack: { norm: 'inf' | 2; eps: number; eps_step: number; max_iter: number; batch_size: number };
  /** The single defences of Tables 4, 5 and the other single-defence rows. */
  defences: string[];
  /** The paper's pipelines (Tables 6–9) and its best pipeline (Table 10, also on clean data). */
  pipelines: { table6: string; table7: string; table8: string; table9: string; best: string };
  /** Further pipelines for the defence table (the paper's intermediate combinations). */
  more_pipelines: string[];
  /** Robustness curves: accuracy vs eps (at max_iter) and vs iterations (at eps), per pipeline. */
  curves: { eps: number[]; iterations: number[]; pipelines: string[] };
  /** Every ordered pipeline of distinct candidates up to max_length, ranked under a clean-accuracy bound. */
  search: { candidates: string[]; max_length: number; min_clean_accuracy: number; top: number };
  /** BPDA PGD against defended models, on the first `samples` attacked images; '@best' = the search's best. */
  adaptive: { pipelines: string[]; samples: number; eps: number; eps_step: number; max_iter: number };
  /** The robust-accuracy section (bare, the paper's best, the searched best; adaptive's faces and eps). */
  robust: { suite: string; eot_samples: number; square_queries: number; min_attack: string; eps_max: number; checks: boolean };
  figures: { /** index into the attacked (correctly classified) test images */ face: number; attack_eps: number[]; gauss_sigmas: number[]; jpeg_qualities: number[] };
}

export const PAPER_CONFIG: StudyConfig = {
  seed: 0,
  identities: 14,
  split: { test_every: 5, test_offset: 4 },
  train: { hidden: 2048, dropout: 0.5, learning_rate: 0.01, batch_size: 1, max_epochs: 32, patience: 5, validation: 0.1, flip: true },
  attack: { norm: 'inf', eps: 4, eps_step: 0.1, max_iter: 100, batch_size: 32 },
  /** 'tvm' is ART's solver (the paper's defence); 'tvm:solver=pdhg' ours, reported beside it. */
  defences: ['jpeg:20', 'jpeg:40', 'jpeg:80', 'gauss:15', 'median:3', 'tvm', 'tvm:solver=pdhg', 'squeeze:5', 'bmcnn:20'],
  pipelines: {
    table6: 'median:3,jpeg:20,gauss:15,tvm,bmcnn:20',
    table7: 'median:3,jpeg:20,gauss:15,bmcnn:20',
    table8: 'median:3,jpeg:20',
    table9: 'jpeg:20,gauss:15,bmcnn:20',
    best: 'jpeg:20,gauss:15,bmcnn:20',
  },
  more_pipelines: ['jpeg:20,gauss:15', 'median:3,jpeg:20,gauss:15', 'median:3,jpeg:20,gauss:15,tvm'],
  curves: {
    eps: [0, 0.5, 1, 2, 4, 8],
    iterations: [1, 5, 10, 25, 100],
    pipelines: ['none', 'jpeg:20', 'median:3,jpeg:20', 'jpeg:20,gauss:15', 'median:3,jpeg:20,gauss:15', 'median:3,jpeg:20,gauss:15,tvm', 'jpeg:20,gauss:15,bmcnn:20', '@best'],
  },
  search: { candidates: ['median:3', 'jpeg:20', 'gauss:15', 'tvm', 'squeeze:5', 'bmcnn:20'], max_length: 3, min_clean_accuracy: 0.9, top: 15 },
  adaptive: { pipelines: ['jpeg:20,gauss:15,bmcnn:20', '@best'], samples: 32, eps: 4, eps_step: 0.5, max_iter: 40 },
  robust: { suite: 'standard', eot_samples: 10, square_queries: 5000, min_attack: 'pgd:max_iter=10', eps_max: 16, checks: true },
  figures: { face: 0, attack_eps: [0, 1, 2, 4, 8, 16], gauss_sigmas: [51, 15, 85], jpeg_qualities: [20, 40, 80] },
};

/** Few identities, few iterations, short pipelines: minutes on 2 cores, for tests and CI. */
export const QUICK_OVERRIDES: PartialConfig = {
  identities: 3,
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

type Partial2<T> = { [K in keyof T]?: T[K] extends unknown[] ? T[K] : T[K] extends object ? Partial<T[K]> : T[K] };
export type PartialConfig = Partial2<StudyConfig>;

const fail = (key: string, what: string, v: unknown): never => {
  throw new Error(`study config: ${key} must be ${what}, got ${JSON.stringify(v)}`);
};

/** Merge `over` into `base` (one level of nesting, arrays replaced), refusing unknown keys. */
export function mergeConfig(base: StudyConfig, over: unknown, where = 'study config'): StudyConfig {
  if (typeof over !== 'object' || over === null || Array.isArray(over)) throw new Error(`${where}: expected a JSON object`);
  const out = structuredClone(base) as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(over as Record<string, unknown>)) {
    if (!(k in base)) throw new Error(`${where}: unknown key '${k}' (valid: ${Object.keys(base).join(', ')})`);
    const cur = out[k];
    if (typeof cur === 'object' && cur !== null && !Array.isArray(cur)) {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(k, 'an object', v);
      for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) {
        if (!(k2 in (cur as object))) throw new Error(`${where}: unknown key '${k}.${k2}' (valid: ${Object.keys(cur as object).join(', ')})`);
        (cur as Record<string, unknown>)[k2] = v2;
      }
    } else {
      out[k] = v;
    }
  }
  return validateConfig(out as unknown as StudyConfig);
}

const isInt = (v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): boolean => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
const isNum = (v: unknown, min: number, max = Infinity): boolean => typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max;

function checkInt(key: string, v: unknown, min: number, max?: number): void {
  if (!isInt(v, min, max)) fail(key, `a whole number ≥ ${min}${max === undefined ? '' : ` and ≤ ${max}`}`, v);
}
function checkNum(key: string, v: unknown, min: number, max = Infinity): void {
  if (!isNum(v, min, max)) fail(key, `a number in [${min}, ${max}]`, v);
}
function checkPipeline(key: string, v: unknown, allowBest: boolean): void {
  if (typeof v !== 'string') fail(key, 'a pipeline string', v);
  if (allowBest && v === '@best') return;
  try {
    parsePipeline(v as string);
  } catch (err) {
    throw new Error(`study config: ${key}: ${(err as Error).message}`);
  }
}
function checkList(key: string, v: unknown, each: (k: string, x: unknown) => void, minLength = 1): void {
  if (!Array.isArray(v) || v.length < minLength) fail(key, `a list of at least ${minLength}`, v);
  (v as unknown[]).forEach((x, i) => each(`${key}[${i}]`, x));
}

export function validateConfig(c: StudyConfig): StudyConfig {
  checkInt('seed', c.seed, 0, 2 ** 31 - 1);
  checkInt('identities', c.identities, 2);
  checkInt('split.test_every', c.split.test_every, 2, 1000);
  checkInt('split.test_offset', c.split.test_offset, 0, c.split.test_every - 1);
  const t = c.train;
  checkInt('train.hidden', t.hidden, 1, 65536);
  checkNum('train.dropout', t.dropout, 0, 0.99);
  checkNum('train.learning_rate', t.learning_rate, 1e-9, 100);
  checkInt('train.batch_size', t.batch_size, 1);
  checkInt('train.max_epochs', t.max_epochs, 1, 10000);
  checkInt('train.patience', t.patience, 1);
  checkNum('train.validation', t.validation, 0.01, 0.9);
  if (typeof t.flip !== 'boolean') fail('train.flip', 'true or false', t.flip);
  const a = c.attack;
  if (a.norm !== 'inf' && a.norm !== 2) fail('attack.norm', "'inf' or 2", a.norm);
  checkNum('attack.eps', a.eps, 0, 255);
  checkNum('attack.eps_step', a.eps_step, 1e-6, 255);
  checkInt('attack.max_iter', a.max_iter, 1, 100000);
  checkInt('attack.batch_size', a.batch_size, 1, 4096);
  checkList('defences', c.defences, (k, v) => checkPipeline(k, v, false), 0);
  for (const [k, v] of Object.entries(c.pipelines)) checkPipeline(`pipelines.${k}`, v, false);
  checkList('more_pipelines', c.more_pipelines, (k, v) => checkPipeline(k, v, false), 0);
  checkList('curves.eps', c.curves.eps, (k, v) => checkNum(k, v, 0, 255));
  checkList('curves.iterations', c.curves.iterations, (k, v) => checkInt(k, v, 1, a.max_iter));
  if (!c.curves.eps.includes(a.eps)) fail('curves.eps', `a list that includes attack.eps (${a.eps})`, c.curves.eps);
  if (!c.curves.iterations.includes(a.max_iter)) fail('curves.iterations', `a list that includes attack.max_iter (${a.max_iter})`, c.curves.iterations);
  checkList('curves.pipelines', c.curves.pipelines, (k, v) => checkPipeline(k, v, true));
  checkList('search.candidates', c.search.candidates, (k, v) => checkPipeline(k, v, false));
  checkInt('search.max_length', c.search.max_length, 1, 6);
  checkNum('search.min_clean_accuracy', c.search.min_clean_accuracy, 0, 1);
  checkInt('search.top', c.search.top, 1);
  checkList('adaptive.pipelines', c.adaptive.pipelines, (k, v) => checkPipeline(k, v, true), 0);
  checkInt('adaptive.samples', c.adaptive.samples, 1);
  checkNum('adaptive.eps', c.adaptive.eps, 0, 255);
  checkNum('adaptive.eps_step', c.adaptive.eps_step, 1e-6, 255);
  checkInt('adaptive.max_iter', c.adaptive.max_iter, 1, 100000);
  const r = c.robust;
  try {
    parseSuite(r.suite);
    parseAttackToken(r.min_attack);
  } catch (err) {
    throw new Error(`study config: robust: ${(err as Error).message}`);
  }
  checkInt('robust.eot_samples', r.eot_samples, 1, 10000);
  checkInt('robust.square_queries', r.square_queries, 1, 1e7);
  checkNum('robust.eps_max', r.eps_max, 1e-3, 255);
  if (typeof r.checks !== 'boolean') fail('robust.checks', 'true or false', r.checks);
  checkInt('figures.face', c.figures.face, 0);
  checkList('figures.attack_eps', c.figures.attack_eps, (k, v) => checkNum(k, v, 0, 255));
  checkList('figures.gauss_sigmas', c.figures.gauss_sigmas, (k, v) => checkNum(k, v, 0, 255));
  checkList('figures.jpeg_qualities', c.figures.jpeg_qualities, (k, v) => checkInt(k, v, 1, 100));
  return canonical(c);
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
  };
}

/** The paper's configuration, the quick preset over it when asked, then the user's file over that. */
export async function loadStudyConfig(file: string | undefined, quick: boolean): Promise<StudyConfig> {
  let config = quick ? mergeConfig(PAPER_CONFIG, QUICK_OVERRIDES, 'quick preset') : validateConfig(PAPER_CONFIG);
  if (file) {
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (err) {
      throw new Error(`--config: cannot read '${file}': ${(err as Error).message}`);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new Error(`--config: '${file}' is not valid JSON (${(err as Error).message})`);
    }
    config = mergeConfig(config, value, `--config '${file}'`);
  }
  return config;
}
