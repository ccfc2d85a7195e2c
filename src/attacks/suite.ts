/**
 * A robustness evaluation in AutoAttack's scheme: attacks run in sequence, each only on the samples no earlier
 * attack broke, so the robust accuracy after the last one is the per-sample worst case over the suite. Plus
 * checks for gradient masking in the spirit of AutoAttack's flags and Carlini et al.'s checklist: a random
 * forward pass, zero or NaN gradients, a black-box attack beating the white-box ones, accuracy that does not
 * fall with a larger eps or more iterations, and an oblivious (transfer) number far above the worst case.
 *
 * Threats: dodging (untargeted: broken = misclassified) and impersonation (targeted at the nearest other
 * identity, the highest-scoring wrong class on the clean face: broken = classified as that identity).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.js';
import { DefendedClassifier } from '../models/defended.js';
import { hashSeed } from '../util/random.js';
import { median, perSampleLinf, type EvasionAttack } from './attack.js';
import { localChunks, type ChunkRunner } from './chunk.js';
import { createAttack, formatAttackToken, getAttack, parseAttackToken, type AttackRequest } from './registry.js';

/**
 * Named attack suites: `standard` (AutoAttack's APGD-CE, APGD-T, Square) and `quick`.
 *
 * @example
 * ```ts
 * import { SUITES, parseSuite } from 'robustify';
 * console.log(SUITES.standard, parseSuite('quick'));
 * ```
 */
export const SUITES: Readonly<Record<string, readonly string[]>> = {
  /** AutoAttack's standard version without FAB-T: APGD-CE, APGD-T (9 targets), Square (5000 queries). */
  standard: ['apgd', 'apgd_t', 'square'],
  quick: ['apgd:max_iter=20', 'square:nb_queries=500'],
};

/**
 * The threat settings of a suite: dodging (untargeted) or impersonation (targeted).
 *
 * @example
 * ```ts
 * import { THREATS } from 'robustify/attacks';
 * console.log(THREATS); // ['dodging', 'impersonation'], SuiteOptions' threat
 * ```
 */
export const THREATS = ['dodging', 'impersonation'] as const;
/** One of `THREATS`. */
export type Threat = (typeof THREATS)[number];

/**
 * `standard`, `quick`, or a comma-separated list of attack tokens (`apgd:max_iter=50,square`).
 *
 * @example
 * ```ts
 * import { parseSuite } from 'robustify';
 * console.log(parseSuite('fgsm,pgd:max_iter=5')); // [{ name: 'fgsm', params: {} }, { name: 'pgd', params: { max_iter: 5 } }]
 * ```
 */
export function parseSuite(spec: string): AttackRequest[] {
  const tokens = SUITES[spec] ?? spec.split(',').filter((t) => t.trim() !== '');
  if (tokens.length === 0) throw new Error(`suite: no attacks in '${spec}' (give standard, quick or a list such as apgd,square)`);
  return tokens.map(parseAttackToken);
}

/** Options of `runSuite`: threat, eps, batch size, masking checks. */
export interface SuiteOptions {
  threat?: Threat;
  /** Set on every attack that has the parameter, unless its token sets it. */
  eps: number;
  norm?: 'inf' | 2;
  batch_size?: number;
  seed?: number;
  /** The undefended model, when `classifier` is defended: the oblivious attack is crafted on it. */
  bare?: Classifier;
  /** Run the masking checks (default true). */
  checks?: boolean;
  /** At most this many samples for the checks that re-run an attack (default 32). */
  check_samples?: number;
  /** Progress of each attack: its token and the samples done of the total. */
  onProgress?: (step: string, done: number, total: number) => void;
  /**
   * Where each attack's chunks (its batch_size rows at a time; attacks/chunk.ts) are computed against
   * `classifier`: here by default, or a queue's workers (src/queue), with the same result.
   */
  runner?: ChunkRunner;
}

/** One attack of a suite and the accuracy left after it. */
export interface SuiteStep {
  attack: string;
  access: 'gradient' | 'score';
  /** Samples it was run on (those still robust). */
  attacked: number;
  /** Of them, how many it broke. */
  broken: number;
  /** Robust accuracy over all samples after this attack. */
  robust_accuracy: number;
  seconds: number;
  /** Score-based attacks: model queries per attacked sample. */
  queries?: { median: number; mean: number; median_successful: number | null };
}

/** One gradient-masking check of the suite and whether it flagged the model. */
export interface MaskingCheck {
  check: string;
  flagged: boolean;
  detail: string;
}

/** Robust accuracy per attack of a suite, the per-sample worst case, and masking checks. */
export interface SuiteResult {
  threat: Threat;
  eps: number;
  norm: 'inf' | 2;
  samples: number;
  clean_accuracy: number;
  steps: SuiteStep[];
  /** Fraction of samples clean-correct and broken by no attack: the per-sample worst case. */
  robust_accuracy: number;
  /** Impersonation: fraction of the clean-correct samples some attack made pass as their target. */
  success_rate: number;
  per_sample: { label: number; target: number | null; clean_pred: number; broken_by: string | null; linf: number | null }[];
  oblivious?: { attack: string; accuracy: number };
  checks: MaskingCheck[];
}

/**
 * Run the suite against `classifier` on x (NHWC 0–255) with the true labels.
 *
 * @example
 * ```ts
 * import { tf, initEngine, classifierFromLogits, parseSuite, runSuite } from 'robustify';
 * await initEngine();
 * const model = classifierFromLogits(3, (x) => tf.mean(x, [1, 2]) as tf.Tensor2D);
 * const x = tf.randomUniform([3, 8, 8, 3], 0, 255, 'float32', 1) as tf.Tensor4D;
 * const result = await runSuite(model, x, [0, 1, 2], parseSuite('fgsm,pgd:max_iter=3,square:nb_queries=5'), { eps: 8 });
 * console.log(result.clean_accuracy, result.robust_accuracy);
 * ```
 */
export async function runSuite(classifier: Classifier, x: tf.Tensor4D, labels: readonly number[], attacks: readonly AttackRequest[], opts: SuiteOptions): Promise<SuiteResult> {
  return (await runSuitePart(classifier, x, labels, attacks, opts)).result;
}

/** A suite run with each step's query counts (all attacked samples, and the successful ones), for merging. */
export interface SuitePart {
  result: SuiteResult;
  queries: { all: number[]; successful: number[] }[];
}

/**
 * One attack of a suite on the samples still robust (the suite's step, for callers that spread a suite).
 *
 * @example
 * ```ts
 * import { tf, initEngine, classifierFromLogits } from 'robustify';
 * import { parseSuite, runSuitePart, mergeSuites, formatSuite } from 'robustify/attacks';
 * await initEngine();
 * const model = classifierFromLogits(3, (x) => tf.mean(x, [1, 2]) as tf.Tensor2D);
 * const attacks = parseSuite('fgsm,pgd:max_iter=2');
 * const groups = [[0, 1], [2, 0]].map((labels, i) => ({ x: tf.randomUniform([2, 8, 8, 3], 0, 255, 'float32', i) as tf.Tensor4D, labels }));
 * const parts = await Promise.all(groups.map((g) => runSuitePart(model, g.x, g.labels, attacks, { eps: 8, checks: false })));
 * console.log(formatSuite(mergeSuites(parts), 'two groups'));
 * ```
 */
export async function runSuitePart(classifier: Classifier, x: tf.Tensor4D, labels: readonly number[], attacks: readonly AttackRequest[], opts: SuiteOptions): Promise<SuitePart> {
  const threat = opts.threat ?? 'dodging';
  const n = x.shape[0];
  if (labels.length !== n) throw new Error(`suite: ${labels.length} labels for ${n} images`);
  const batch = opts.batch_size ?? 32;
  const { pred: cleanPred, logits } = await predictAll(classifier, x, batch);
  const targets = threat === 'impersonation' ? nearestOther(logits, classifier.classes, labels) : undefined;
  const broken = (pred: number, i: number) => (targets ? pred === targets[i] : pred !== labels[i]);
  const cleanCorrect = cleanPred.map((p, i) => p === labels[i]);
  const brokenBy: (string | null)[] = cleanPred.map((_, i) => (cleanCorrect[i] ? null : 'clean'));
  const linf: (number | null)[] = new Array(n).fill(null);
  const steps: SuiteStep[] = [];
  const stepQueries: SuitePart['queries'] = [];
  const robust = () => brokenBy.filter((b) => b === null).length / Math.max(1, n);
  const built = attacks.map((req) => ({ req, attack: buildFor(req, opts, threat) }));
  const runner = opts.runner ?? localChunks(classifier);
  for (const { req, attack } of built) {
    const rows = brokenBy.flatMap((b, i) => (b === null ? [i] : []));
    const token = formatAttackToken(req);
    const t0 = performance.now();
    const queries: number[] = [];
    let brokeHere = 0;
    if (rows.length > 0) {
      const out = await attackInChunks(runner, attack, x, rows, rows.map((i) => (targets ? targets[i] : labels[i])), (d, t) => opts.onProgress?.(token, d, t));
      out.queries.forEach((v, k) => (queries[k] = v));
      // An L∞ attack's result must lie in its ball (L2 attacks are bounded by their own projection).
      const bound = attack.params.norm === 2 ? Infinity : Number(attack.params.eps);
      rows.forEach((i, k) => {
        if (out.linf[k] > bound + 1e-3) throw new Error(`suite: ${token} returned a perturbation of L∞ ${out.linf[k]} > eps ${bound}`);
        if (broken(out.pred[k], i)) {
          brokenBy[i] = token;
          linf[i] = out.linf[k];
          brokeHere++;
        }
      });
    }
    const successful = rows.flatMap((i, k) => (brokenBy[i] === token && queries[k] !== undefined ? [queries[k]] : []));
    stepQueries.push({ all: queries, successful });
    steps.push({
      attack: token,
      access: attack.access,
      attacked: rows.length,
      broken: brokeHere,
      robust_accuracy: robust(),
      seconds: (performance.now() - t0) / 1000,
      queries: queryStats(queries, successful),
    });
  }
  const correct = cleanCorrect.filter(Boolean).length;
  const result: SuiteResult = {
    threat,
    eps: opts.eps,
    norm: opts.norm ?? 'inf',
    samples: n,
    clean_accuracy: correct / Math.max(1, n),
    steps,
    robust_accuracy: robust(),
    success_rate: brokenBy.filter((b, i) => cleanCorrect[i] && b !== null).length / Math.max(1, correct),
    per_sample: labels.map((label, i) => ({ label, target: targets ? targets[i] : null, clean_pred: cleanPred[i], broken_by: brokenBy[i], linf: linf[i] })),
    checks: [],
  };
  if (opts.checks ?? true) await maskingChecks(classifier, runner, x, labels, targets, cleanCorrect, built, result, opts);
  return { result, queries: stepQueries };
}

function queryStats(all: readonly number[], successful: readonly number[]): SuiteStep['queries'] {
  return all.length ? { median: median(all), mean: all.reduce((a, b) => a + b, 0) / all.length, median_successful: successful.length ? median(successful) : null } : undefined;
}

/**
 * One suite result from runs of the same attacks on disjoint sample groups (e.g. one verification threshold
 * model per claimed identity): counts and per-sample rows concatenated, rates recomputed, a check flagged when
 * it is flagged in any group.
 *
 * @example
 * ```ts no-run
 * import { mergeSuites, type SuitePart } from 'robustify/attacks';
 * declare const parts: SuitePart[]; // from runSuitePart on each group, as in {@link runSuitePart}'s example
 * console.log(mergeSuites(parts).robust_accuracy);
 * ```
 */
export function mergeSuites(parts: readonly SuitePart[]): SuiteResult {
  if (parts.length === 0) throw new Error('suite: nothing to merge');
  const rs = parts.map((p) => p.result);
  const n = rs.reduce((a, r) => a + r.samples, 0);
  const sum = (f: (r: SuiteResult) => number) => rs.reduce((a, r) => a + f(r), 0);
  const robustCount = (f: (r: SuiteResult) => number) => sum((r) => f(r) * r.samples) / Math.max(1, n);
  const rows = rs.flatMap((r) => r.per_sample);
  const correct = rows.filter((s) => s.broken_by !== 'clean').length;
  const steps = rs[0].steps.map((s0, j) => ({
    attack: s0.attack,
    access: s0.access,
    attacked: sum((r) => r.steps[j].attacked),
    broken: sum((r) => r.steps[j].broken),
    robust_accuracy: robustCount((r) => r.steps[j].robust_accuracy),
    seconds: sum((r) => r.steps[j].seconds),
    queries: queryStats(
      parts.flatMap((p) => p.queries[j].all),
      parts.flatMap((p) => p.queries[j].successful),
    ),
  }));
  const checks = rs[0].checks.map((c0) => {
    const same = rs.map((r) => r.checks.find((c) => c.check === c0.check)).filter((c): c is MaskingCheck => c !== undefined);
    const flagged = same.filter((c) => c.flagged);
    return { check: c0.check, flagged: flagged.length > 0, detail: `flagged in ${flagged.length} of ${same.length} groups; ${(flagged[0] ?? same[0]).detail}` };
  });
  const oblivious = rs.every((r) => r.oblivious) ? { attack: rs[0].oblivious!.attack, accuracy: robustCount((r) => r.oblivious!.accuracy) } : undefined;
  return {
    threat: rs[0].threat,
    eps: rs[0].eps,
    norm: rs[0].norm,
    samples: n,
    clean_accuracy: correct / Math.max(1, n),
    steps,
    robust_accuracy: rows.filter((s) => s.broken_by === null).length / Math.max(1, n),
    success_rate: rows.filter((s) => s.broken_by !== null && s.broken_by !== 'clean').length / Math.max(1, correct),
    per_sample: rows,
    ...(oblivious ? { oblivious } : {}),
    checks,
  };
}

/** The attack of a request with the suite's eps/norm/threat/batch/seed filled in where it has them. */
function buildFor(req: AttackRequest, opts: SuiteOptions, threat: Threat): EvasionAttack {
  const spec = getAttack(req.name).spec.properties;
  const shared: Record<string, unknown> = { eps: opts.eps, norm: opts.norm, targeted: threat === 'impersonation', batch_size: opts.batch_size, seed: opts.seed };
  const given: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(shared)) if (k in spec && v !== undefined) given[k] = v;
  if (threat === 'impersonation' && !('targeted' in spec)) throw new Error(`suite: ${req.name} has no targeted mode, so it cannot be used for impersonation`);
  return createAttack(req.name, { ...given, ...req.params });
}

/** Predictions and row-major logits [N·classes] of x, batch by batch. */
export async function predictAll(classifier: Classifier, x: tf.Tensor4D, batch: number): Promise<{ pred: number[]; logits: Float32Array }> {
  const parts: Float32Array[] = [];
  for (let s = 0; s < x.shape[0]; s += batch) {
    const xb = tf.slice(x, [s, 0, 0, 0], [Math.min(batch, x.shape[0] - s), -1, -1, -1]);
    const z = await classifier.predict(xb);
    parts.push((await z.data()) as Float32Array);
    tf.dispose([xb, z]);
  }
  const k = classifier.classes;
  const logits = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) logits.set(p, (o += p.length) - p.length);
  const pred = Array.from({ length: logits.length / k }, (_, i) => argmax(logits.subarray(i * k, (i + 1) * k)));
  return { pred, logits };
}

function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let j = 1; j < v.length; j++) if (v[j] > v[best]) best = j;
  return best;
}

/** The highest-scoring class other than the true one (impersonation's target: the nearest other identity). */
function nearestOther(logits: Float32Array, k: number, labels: readonly number[]): number[] {
  return labels.map((y, i) => {
    const row = logits.subarray(i * k, (i + 1) * k);
    let best = y === 0 ? 1 : 0;
    for (let j = 0; j < k; j++) if (j !== y && row[j] > row[best]) best = j;
    return best;
  });
}

/**
 * Attack rows of x, a chunk of the attack's batch_size rows at a time (all at once on a parallel runner); the
 * target's predictions of the results, their L∞ distances and the queries per row (score-based attacks).
 */
export async function attackInChunks(
  runner: ChunkRunner,
  attack: EvasionAttack,
  x: tf.Tensor4D,
  rows: readonly number[],
  y: readonly number[],
  onProgress?: (done: number, total: number) => void,
): Promise<{ pred: number[]; linf: number[]; queries: number[] }> {
  const size = Number(attack.params.batch_size ?? 32);
  const done = new Array<number>(Math.ceil(rows.length / size)).fill(0);
  const one = async (c: number) => {
    const part = rows.slice(c * size, (c + 1) * size);
    const xs = tf.gather(x, part as number[]) as tf.Tensor4D;
    try {
      const chunk = { index: c, images: (await xs.data()) as Float32Array, shape: xs.shape, labels: y.slice(c * size, (c + 1) * size) as number[] };
      const out = await runner.run(attack, chunk, (d, t) => {
        done[c] = (d / t) * part.length;
        onProgress?.(done.reduce((a, b) => a + b, 0), rows.length);
      });
      const adv = tf.tensor4d(out.adversarial, xs.shape);
      const linf = await perSampleLinf(adv, xs);
      adv.dispose();
      return { ...out, linf };
    } finally {
      xs.dispose();
    }
  };
  const chunks = [...done.keys()];
  let outs: Awaited<ReturnType<typeof one>>[] = [];
  if (runner.parallel) outs = await Promise.all(chunks.map(one));
  else for (const c of chunks) outs.push(await one(c));
  return { pred: outs.flatMap((o) => o.predictions), linf: outs.flatMap((o) => o.linf), queries: outs.flatMap((o) => o.queries) };
}

async function maskingChecks(
  classifier: Classifier,
  runner: ChunkRunner,
  x: tf.Tensor4D,
  labels: readonly number[],
  targets: number[] | undefined,
  cleanCorrect: boolean[],
  built: { req: AttackRequest; attack: EvasionAttack }[],
  result: SuiteResult,
  opts: SuiteOptions,
): Promise<void> {
  const checks = result.checks;
  const probe = Math.min(x.shape[0], opts.check_samples ?? 32);
  const rows = cleanCorrect.flatMap((c, i) => (c ? [i] : [])).slice(0, probe);
  const xp = tf.slice(x, [0, 0, 0, 0], [Math.min(probe, x.shape[0], 16), -1, -1, -1]);
  try {
    // 1. Randomness in the forward pass: two predictions of the same inputs (a seeded defended classifier
    // predicts with one fixed draw, so the second prediction takes another draw).
    const a = await classifier.predict(xp);
    const b = classifier instanceof DefendedClassifier ? await classifier.predictDraw(xp, hashSeed(classifier.seed, 'probe')) : await classifier.predict(xp);
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
    const maxDiff = (await diff.data())[0];
    tf.dispose([a, b, diff]);
    checks.push({
      check: 'random forward pass',
      flagged: maxDiff > 1e-4,
      detail: maxDiff > 1e-4 ? `two predictions of the same faces differ by up to ${maxDiff.toPrecision(3)} in the logits: a stochastic defence — attack the expectation (EOT) and score the majority over draws` : 'repeated predictions agree',
    });
    // 2. Zero or NaN gradients at the clean faces.
    const y = tf.tensor1d(labels.slice(0, xp.shape[0]) as number[], 'int32');
    const g = await classifier.lossGradient(xp, y);
    const [absSum, nan] = tf.tidy(() => [tf.sum(tf.abs(g), [1, 2, 3]), tf.sum(tf.cast(tf.isNaN(g), 'float32'), [1, 2, 3])]);
    const zeros = Array.from((await absSum.data()) as Float32Array).filter((v) => v === 0).length;
    const nans = Array.from((await nan.data()) as Float32Array).filter((v) => v > 0).length;
    tf.dispose([y, g, absSum, nan]);
    checks.push({
      check: 'zero or NaN gradients',
      flagged: zeros + nans > 0,
      detail: `${zeros} of ${xp.shape[0]} faces have an all-zero loss gradient, ${nans} a NaN in it`,
    });
  } finally {
    xp.dispose();
  }
  // 3. A score-based attack breaking samples every earlier gradient attack missed.
  const firstScore = result.steps.findIndex((s) => s.access === 'score');
  if (firstScore > 0 && result.steps.slice(0, firstScore).some((s) => s.access === 'gradient')) {
    const extra = result.steps.filter((s, i) => i >= firstScore && s.access === 'score').reduce((a, s) => a + s.broken, 0);
    checks.push({
      check: 'black-box beats white-box',
      flagged: extra > 0,
      detail: extra > 0 ? `score-based attacks broke ${extra} faces the gradient attacks could not: the gradients are not informative (masking)` : 'the score-based attacks broke nothing the gradient attacks missed',
    });
  }
  // 4–5. The first gradient attack at a larger eps and with fewer iterations, on a subset.
  const first = built.find((b) => b.attack.access === 'gradient');
  if (first && rows.length > 0) {
    // Only the keys of its own spec: FGSM's and BIM's resolved params also hold the PGD ones they fix.
    const spec = getAttack(first.req.name).spec.properties;
    const own = Object.fromEntries(Object.entries(first.attack.params).filter(([k]) => k in spec));
    const acc = async (over: Record<string, unknown>) => {
      const attack = createAttack(first.req.name, { ...own, ...over });
      const out = await attackInChunks(runner, attack, x, rows, rows.map((i) => (targets ? targets[i] : labels[i])));
      return out.pred.filter((p, k) => (targets ? p !== targets[rows[k]] : p === labels[rows[k]])).length / rows.length;
    };
    // When the first gradient attack opened the suite it already ran at eps on every clean-correct face: its
    // result is read back (the suite's own number, and a whole attack run saved) instead of run again.
    const firstToken = formatAttackToken(first.req);
    const atEps = built[0] === first ? rows.filter((i) => result.per_sample[i].broken_by !== firstToken).length / rows.length : await acc({});
    const iters = Number(first.attack.params.max_iter);
    const quarter = Number.isInteger(iters) && iters >= 4 ? Math.floor(iters / 4) : undefined;
    if (atEps === 0) {
      // Nothing left to fall: neither check can fire, so the two extra attack runs are skipped.
      const detail = `${first.req.name} on ${rows.length} faces: accuracy 0.000 at eps ${opts.eps}, nothing left to fall (not re-run)`;
      checks.push({ check: 'accuracy falls with eps', flagged: false, detail });
      if (quarter !== undefined) checks.push({ check: 'accuracy falls with iterations', flagged: false, detail });
    } else {
      const at4 = await acc({ eps: Math.min(255, opts.eps * 4) });
      checks.push({
        check: 'accuracy falls with eps',
        flagged: at4 >= atEps,
        detail: `${first.req.name} on ${rows.length} faces: accuracy ${atEps.toFixed(3)} at eps ${opts.eps}, ${at4.toFixed(3)} at eps ${Math.min(255, opts.eps * 4)}`,
      });
      if (quarter !== undefined) {
        const atQuarter = await acc({ max_iter: quarter });
        checks.push({
          check: 'accuracy falls with iterations',
          flagged: atEps > atQuarter + 1e-9,
          detail: `${first.req.name}: accuracy ${atQuarter.toFixed(3)} after ${quarter} iterations, ${atEps.toFixed(3)} after ${iters}`,
        });
      }
    }
    // 6. The oblivious number: the attack crafted on the bare model, scored through the defence.
    if (opts.bare) {
      const all = cleanCorrect.flatMap((c, i) => (c ? [i] : []));
      const xs = tf.gather(x, all) as tf.Tensor4D;
      const adv = await first.attack.generate(opts.bare, xs, all.map((i) => (targets ? targets[i] : labels[i])));
      const { pred } = await predictAll(classifier, adv, opts.batch_size ?? 32);
      tf.dispose([xs, adv]);
      const kept = pred.filter((p, k) => (targets ? p !== targets[all[k]] : p === labels[all[k]])).length / Math.max(1, x.shape[0]);
      result.oblivious = { attack: formatAttackToken(first.req), accuracy: kept };
      checks.push({
        check: 'oblivious number',
        flagged: kept > result.robust_accuracy + 0.05,
        detail: `${formatAttackToken(first.req)} crafted on the bare model leaves ${kept.toFixed(3)} through the defence; the suite's worst case is ${result.robust_accuracy.toFixed(3)}${kept > result.robust_accuracy + 0.05 ? ': the oblivious figure overstates robustness' : ''}`,
      });
    }
  }
}

/**
 * The human-readable report of a suite run.
 *
 * @example
 * ```ts
 * import { tf, initEngine, classifierFromLogits } from 'robustify';
 * import { parseSuite, runSuite, formatSuite } from 'robustify/attacks';
 * await initEngine();
 * const model = classifierFromLogits(3, (x) => tf.mean(x, [1, 2]) as tf.Tensor2D);
 * const x = tf.randomUniform([2, 8, 8, 3], 0, 255, 'float32', 1) as tf.Tensor4D;
 * console.log(formatSuite(await runSuite(model, x, [0, 1], parseSuite('fgsm'), { eps: 8, checks: false }), 'toy'));
 * ```
 */
export function formatSuite(r: SuiteResult, title = ''): string {
  const lines: string[] = [];
  const norm = r.norm === 'inf' ? 'L∞' : 'L2';
  lines.push(`${title ? title + ': ' : ''}${r.threat}, ${norm} eps ${r.eps}, ${r.samples} faces, clean accuracy ${r.clean_accuracy.toFixed(4)}`);
  if (r.oblivious) lines.push(`  oblivious (${r.oblivious.attack} on the bare model): accuracy ${r.oblivious.accuracy.toFixed(4)}`);
  for (const s of r.steps) {
    const q = s.queries ? `, queries median ${s.queries.median} (successful ${s.queries.median_successful ?? '–'}), mean ${s.queries.mean.toFixed(0)}` : '';
    lines.push(`  after ${s.attack}: robust accuracy ${s.robust_accuracy.toFixed(4)} (${s.broken}/${s.attacked} broken, ${s.seconds.toFixed(1)} s${q})`);
  }
  lines.push(`  worst case over the suite: robust accuracy ${r.robust_accuracy.toFixed(4)}${r.threat === 'impersonation' ? `, impersonation success ${r.success_rate.toFixed(4)}` : ''}`);
  for (const c of r.checks) lines.push(`  ${c.flagged ? 'FLAG' : 'ok  '} ${c.check}: ${c.detail}`);
  return lines.join('\n');
}
