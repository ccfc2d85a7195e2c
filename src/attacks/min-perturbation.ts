/**
 * Minimum perturbation (RobFR's metric, Yang et al. 2020): per sample, the smallest eps at which a fixed
 * attack fools the model, by binary search over eps; its median, and the attack success rate as a function
 * of eps (the fraction of samples whose minimum is at most eps). The searches run in lock-step: at each step
 * the samples that try the same eps are attacked together, so step k makes at most 2^k batched runs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { predictLabels, type Classifier } from '../models/classifier.js';
import { median } from './attack.js';
import { createAttack, getAttack, type AttackRequest } from './registry.js';

/** Options of `minimumPerturbation`: the attack, the eps range, the search steps. */
export interface MinPerturbationOptions {
  /** The fixed attack; its eps is set by the search (and eps_step to `step_ratio`·eps where it has one). */
  attack: AttackRequest;
  /** Upper end of the search (samples not fooled there get Infinity). */
  eps_max?: number;
  /** Bisection steps after the check at eps_max (precision eps_max / 2^steps). */
  steps?: number;
  /** eps_step = step_ratio·eps (default 2.5 / max_iter, Madry et al.'s rule); ignored without eps_step. */
  step_ratio?: number;
  /** Targeted: the target per sample (success = predicted as it); else success = not the label. */
  targets?: readonly number[];
  /** The eps values of the success-rate curve (default 0.25·2^k up to eps_max). */
  curve?: readonly number[];
  /** Attack runs done of the total the search needs. */
  onProgress?: (done: number, total: number) => void;
}

/** The smallest eps that breaks each sample (RobFR's minimum perturbation), and its median. */
export interface MinPerturbationResult {
  attack: AttackRequest;
  eps_max: number;
  /** Per sample: its minimum eps (0: misclassified already; Infinity: not fooled at eps_max). */
  eps: number[];
  /** Median over the samples correct on clean inputs (Infinity if most of them are never fooled). */
  median: number;
  /** Success rate vs eps over the clean-correct samples. */
  curve: { eps: number; success_rate: number }[];
}

/**
 * RobFR's minimum perturbation: per sample, the smallest eps at which the attack breaks it (binary search).
 *
 * @example
 * ```ts
 * import { tf, initEngine, classifierFromLogits, minimumPerturbation } from 'robustify';
 * await initEngine();
 * const model = classifierFromLogits(3, (x) => tf.mean(x, [1, 2]) as tf.Tensor2D);
 * const x = tf.randomUniform([2, 8, 8, 3], 0, 255, 'float32', 1) as tf.Tensor4D;
 * const r = await minimumPerturbation(model, x, [0, 1], { attack: { name: 'fgsm', params: {} }, eps_max: 32, steps: 3 });
 * console.log(r.eps, r.median);
 * ```
 */
export async function minimumPerturbation(classifier: Classifier, x: tf.Tensor4D, labels: readonly number[], opts: MinPerturbationOptions): Promise<MinPerturbationResult> {
  const n = x.shape[0];
  const epsMax = opts.eps_max ?? 16;
  const steps = opts.steps ?? 8;
  const spec = getAttack(opts.attack.name).spec.properties;
  if (!('eps' in spec)) throw new Error(`min-perturbation: ${opts.attack.name} has no eps to search over`);
  const targeted = opts.targets !== undefined;
  const wanted = opts.targets ?? labels;
  const fooled = (pred: number, i: number) => (targeted ? pred === opts.targets![i] : pred !== labels[i]);
  const clean = await predictLabels(classifier, x);
  const lo = new Float64Array(n);
  const hi = new Float64Array(n).fill(epsMax);
  const result = clean.map((p, i) => (p !== labels[i] ? 0 : NaN));
  const active = () => result.flatMap((r, i) => (Number.isNaN(r) ? [i] : []));
  const total = steps + 1;
  let done = 0;

  /** Attack `rows` at their eps (grouped by equal eps); true where fooled. */
  const tryAt = async (rows: number[], epsOf: (i: number) => number): Promise<Map<number, boolean>> => {
    const groups = new Map<number, number[]>();
    for (const i of rows) groups.set(epsOf(i), [...(groups.get(epsOf(i)) ?? []), i]);
    const out = new Map<number, boolean>();
    for (const [eps, members] of groups) {
      const params: Record<string, unknown> = { ...opts.attack.params, eps };
      if ('eps_step' in spec && opts.attack.params.eps_step === undefined) {
        const iters = Number(opts.attack.params.max_iter ?? (spec.max_iter as { default?: number }).default ?? 1);
        params.eps_step = Math.max(eps * (opts.step_ratio ?? 2.5 / iters), 1e-6);
      }
      if ('targeted' in spec) params.targeted = targeted;
      const attack = createAttack(opts.attack.name, params);
      const xs = tf.gather(x, members) as tf.Tensor4D;
      const adv = await attack.generate(classifier, xs, members.map((i) => wanted[i]));
      const pred = await predictLabels(classifier, adv);
      tf.dispose([xs, adv]);
      members.forEach((i, k) => out.set(i, fooled(pred[k], i)));
    }
    return out;
  };

  const atMax = await tryAt(active(), () => epsMax);
  for (const [i, f] of atMax) if (!f) result[i] = Infinity;
  opts.onProgress?.(++done, total);
  for (let s = 0; s < steps; s++) {
    const rows = active();
    const mid = (i: number) => (lo[i] + hi[i]) / 2;
    const res = await tryAt(rows, mid);
    for (const [i, f] of res) (f ? hi : lo)[i] = mid(i);
    opts.onProgress?.(++done, total);
  }
  for (const i of active()) result[i] = hi[i];
  const correct = result.filter((_, i) => clean[i] === labels[i]);
  const grid = opts.curve ?? epsGrid(epsMax);
  return {
    attack: opts.attack,
    eps_max: epsMax,
    eps: result,
    median: median(correct),
    curve: grid.map((eps) => ({ eps, success_rate: correct.filter((e) => e <= eps).length / Math.max(1, correct.length) })),
  };
}

function epsGrid(max: number): number[] {
  const out: number[] = [];
  for (let e = 0.25; e < max; e *= 2) out.push(e);
  return [...out, max];
}
