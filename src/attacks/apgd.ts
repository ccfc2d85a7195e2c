/**
 * Auto-PGD (Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an ensemble of diverse
 * parameter-free attacks"), with the reference implementation's semantics: a random start on the eps-sphere,
 * initial step 2·eps, momentum 0.75, and checkpoints after 22%, then periods shrinking by 3% of the iterations
 * down to 6%; at a checkpoint a sample's step is halved — and it restarts from its best point — when at most
 * rho of the steps since the last checkpoint increased its loss, or when its step was not halved last time
 * and its best loss has not improved since. Losses: cross-entropy or the difference of logits ratio (DLR,
 * targeted form for targeted attacks). Restarts (nb_random_init) run only on samples not yet fooled.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Type, type Static } from '@sinclair/typebox';
import { predictLabels, type Classifier } from '../models/classifier.js';
import { createRandom } from '../util/random.js';
import { checkLabels, L2_TOL, mapBatches, perSampleL2, project, selectRows, SpecifiedAttack, type AttackHooks, type Norm } from './attack.js';
import { LOSS_TYPES, lossAndGradient, type LossLabels } from './loss.js';
import { P } from './params.js';

/**
 * APGD's parameters (TypeBox): ART's AutoProjectedGradientDescent names, defaults and bounds.
 *
 * @example
 * ```ts
 * import { APGD_SPEC, describeParams, resolveAttackParams } from 'robustify/attacks';
 * console.log(describeParams(APGD_SPEC).join('\n'), resolveAttackParams('apgd', APGD_SPEC, { eps: 8 }));
 * ```
 */
export const APGD_SPEC = Type.Object({
  norm: P.norm(),
  eps: P.eps(),
  max_iter: P.maxIter(100),
  nb_random_init: Type.Integer({ default: 1, minimum: 1, maximum: 1000, description: 'runs from independent random starts (later ones only on samples not yet fooled)' }),
  loss_type: Type.Union(
    LOSS_TYPES.map((l) => Type.Literal(l)),
    { default: 'cross_entropy', description: "loss to maximise: 'cross_entropy' or 'difference_logits_ratio' (DLR)" },
  ),
  rho: Type.Number({ default: 0.75, exclusiveMinimum: 0, maximum: 1, description: 'checkpoint test: halve the step when at most this fraction of steps raised the loss' }),
  targeted: P.targeted(),
  batch_size: P.batchSize(),
  seed: P.seed(),
});

/** APGD's resolved parameters. */
export type ApgdParams = Static<typeof APGD_SPEC>;

const MOMENTUM = 0.75;

/** The iterations (1-based counts) after which APGD checks its step sizes, for `maxIter` iterations. */
export function apgdCheckpoints(maxIter: number): number[] {
  const first = Math.max(Math.floor(0.22 * maxIter), 1);
  const min = Math.max(Math.floor(0.06 * maxIter), 1);
  const decrease = Math.max(Math.floor(0.03 * maxIter), 1);
  const out: number[] = [];
  for (let at = first, period = first; at <= maxIter; period = Math.max(period - decrease, min), at += period) out.push(at);
  return out;
}

/**
 * APGD's per-sample step-size control: fed every iterate's loss, it says at each checkpoint which samples
 * halve their step (and go back to their best point).
 */
export class ApgdStepSchedule {
  readonly step: Float64Array;
  private readonly checkpoints: Set<number>;
  private readonly increases: Uint32Array;
  private readonly previous: Float32Array;
  private readonly bestAtCheck: Float32Array;
  private readonly halvedAtCheck: Uint8Array;
  private last = 0;
  private iteration = 0;

  /** `startLoss`: each sample's loss at the starting point (also its best so far). */
  constructor(maxIter: number, eps: number, private readonly rho: number, startLoss: Float32Array) {
    const n = startLoss.length;
    this.step = new Float64Array(n).fill(2 * eps);
    this.checkpoints = new Set(apgdCheckpoints(maxIter));
    this.increases = new Uint32Array(n);
    this.previous = Float32Array.from(startLoss);
    this.bestAtCheck = Float32Array.from(startLoss);
    this.halvedAtCheck = new Uint8Array(n).fill(1);
  }

  /**
   * After an iteration: its losses and the best losses so far. Returns, at a checkpoint, which samples halved
   * their step (undefined between checkpoints).
   */
  observe(loss: Float32Array, best: Float32Array): boolean[] | undefined {
    this.iteration++;
    for (let i = 0; i < loss.length; i++) {
      if (loss[i] > this.previous[i]) this.increases[i]++;
      this.previous[i] = loss[i];
    }
    if (!this.checkpoints.has(this.iteration)) return undefined;
    const period = this.iteration - this.last;
    this.last = this.iteration;
    const halve = Array.from(loss, (_, i) => {
      const oscillating = this.increases[i] <= period * this.rho;
      const stalled = !this.halvedAtCheck[i] && this.bestAtCheck[i] >= best[i];
      return oscillating || stalled;
    });
    halve.forEach((h, i) => {
      if (h) this.step[i] /= 2;
      this.halvedAtCheck[i] = h ? 1 : 0;
      this.bestAtCheck[i] = best[i];
      this.increases[i] = 0;
    });
    return halve;
  }
}

/**
 * Auto-PGD (Croce & Hein 2020; ART's AutoProjectedGradientDescent): PGD with momentum whose step size halves at
 * checkpoints where progress stalls; cross-entropy or DLR loss.
 *
 * @example
 * ```ts
 * import { tf, initEngine, classifierFromLogits, AutoProjectedGradientDescent } from 'robustify';
 * await initEngine();
 * const model = classifierFromLogits(3, (x) => tf.mean(x, [1, 2]) as tf.Tensor2D);
 * const x = tf.randomUniform([2, 8, 8, 3], 0, 255, 'float32', 1) as tf.Tensor4D;
 * const adv = await new AutoProjectedGradientDescent({ eps: 8, max_iter: 5, loss_type: 'difference_logits_ratio' }).generate(model, x, [0, 1]);
 * console.log(adv.shape);
 * ```
 */
export class AutoProjectedGradientDescent extends SpecifiedAttack<typeof APGD_SPEC> {
  constructor(params: Partial<ApgdParams> = {}) {
    super('apgd', 'gradient', APGD_SPEC, params);
  }

  async generate(classifier: Classifier, x: tf.Tensor4D, y?: readonly number[], hooks: AttackHooks = {}): Promise<tf.Tensor4D> {
    const p = this.params;
    checkLabels(this.name, x, y);
    const rng = createRandom(p.seed);
    const total = Math.ceil(x.shape[0] / p.batch_size) * p.nb_random_init * p.max_iter;
    let done = 0;
    const tick = () => hooks.onProgress?.(++done, total);
    return mapBatches(x, p.batch_size, async (x0, start, size) => {
      const clean = await predictLabels(classifier, x0);
      const given = y ? y.slice(start, start + size) : clean;
      // Targeted: move from the clean prediction towards the given labels.
      const labels: LossLabels = p.targeted ? { y: clean, target: given } : { y: given };
      let best = tf.clone(x0);
      const fooled = new Array<boolean>(size).fill(false);
      for (let r = 0; r < p.nb_random_init; r++) {
        const rows = fooled.flatMap((f, i) => (f ? [] : [i]));
        if (rows.length === 0) {
          done += p.max_iter;
          continue;
        }
        const xr = tf.gather(x0, rows) as tf.Tensor4D;
        const sub: LossLabels = { y: rows.map((i) => labels.y[i]), target: labels.target && rows.map((i) => labels.target![i]) };
        const run = await this.run(classifier, xr, sub, rng.int(0x7fffffff), tick);
        xr.dispose();
        const merged = scatterRows(best, run.adv, rows);
        tf.dispose([best, run.adv]);
        best = merged;
        rows.forEach((i, k) => (fooled[i] = fooled[i] || run.fooled[k]));
      }
      return best;
    });
  }

  /** One APGD run from a random start; returns the fooling point where one was found, else the best-loss point. */
  private async run(classifier: Classifier, x0: tf.Tensor4D, labels: LossLabels, seed: number, tick: () => void): Promise<{ adv: tf.Tensor4D; fooled: boolean[] }> {
    const p = this.params;
    const n = x0.shape[0];
    const success = (pred: number[]) => pred.map((v, i) => (labels.target ? v === labels.target[i] : v !== labels.y[i]));
    let xAdv = sphereStart(x0, p.norm, p.eps, seed);
    const first = await lossAndGradient(classifier, xAdv, p.loss_type, labels);
    let grad = first.grad;
    const bestLoss = Float32Array.from(first.loss);
    let xBest = tf.clone(xAdv);
    let gradBest = tf.clone(grad);
    let fooled = success(first.pred);
    let xFool = tf.clone(xAdv);
    let xOld = tf.clone(xAdv);
    const schedule = new ApgdStepSchedule(p.max_iter, p.eps, p.rho, first.loss);
    try {
      for (let i = 0; i < p.max_iter; i++) {
        const step = tf.tensor4d(Float32Array.from(schedule.step), [n, 1, 1, 1]);
        const next = this.step(x0, xAdv, xOld, grad, step, i === 0 ? 1 : MOMENTUM);
        tf.dispose([step, xOld, grad]);
        xOld = xAdv;
        xAdv = next;
        const at = await lossAndGradient(classifier, xAdv, p.loss_type, labels);
        grad = at.grad;
        const nowFooled = success(at.pred);
        xFool = replaceRows(xFool, xAdv, nowFooled);
        fooled = fooled.map((f, k) => f || nowFooled[k]);
        const improved = Array.from(at.loss, (l, k) => l > bestLoss[k]);
        improved.forEach((b, k) => b && (bestLoss[k] = at.loss[k]));
        xBest = replaceRows(xBest, xAdv, improved);
        gradBest = replaceRows(gradBest, grad, improved);
        const halved = schedule.observe(at.loss, bestLoss);
        if (halved?.some(Boolean)) {
          xAdv = replaceRows(xAdv, xBest, halved);
          grad = replaceRows(grad, gradBest, halved);
        }
        tick();
      }
      const adv = selectRows(fooled, xFool, xBest);
      return { adv, fooled };
    } finally {
      tf.dispose([xAdv, xOld, grad, xBest, gradBest, xFool]);
    }
  }

  /** x_{k+1}: a step of size η along sign(g) (L∞) or g/‖g‖ (L2), projected, then momentum with the last move. */
  private step(x0: tf.Tensor4D, x: tf.Tensor4D, xOld: tf.Tensor4D, grad: tf.Tensor4D, eta: tf.Tensor4D, alpha: number): tf.Tensor4D {
    const { norm, eps } = this.params;
    return tf.tidy(() => {
      const g = tf.where(tf.isNaN(grad), tf.zerosLike(grad), grad) as tf.Tensor4D;
      const dir = norm === 'inf' ? tf.sign(g) : tf.div(g, tf.add(perSampleL2(g), L2_TOL));
      const toBall = (v: tf.Tensor4D) => tf.clipByValue(tf.add(x0, project(tf.sub(v, x0) as tf.Tensor4D, norm, eps)), 0, 255) as tf.Tensor4D;
      const z = toBall(tf.add(x, tf.mul(dir, eta)) as tf.Tensor4D);
      const moved = tf.add(tf.add(x, tf.mul(tf.sub(z, x), alpha)), tf.mul(tf.sub(x, xOld), 1 - alpha)) as tf.Tensor4D;
      return toBall(moved);
    });
  }
}

/** The reference's start: x + eps·t/‖t‖ with t uniform in [−1,1] (L∞) or normal (L2), clipped to the pixel range. */
function sphereStart(x0: tf.Tensor4D, norm: Norm, eps: number, seed: number): tf.Tensor4D {
  return tf.tidy(() => {
    const t = norm === 'inf' ? tf.randomUniform(x0.shape, -1, 1, 'float32', seed) : tf.randomNormal(x0.shape, 0, 1, 'float32', seed);
    const size = norm === 'inf' ? tf.max(tf.abs(t), [1, 2, 3], true) : perSampleL2(t as tf.Tensor4D);
    return tf.clipByValue(tf.add(x0, tf.mul(tf.div(t, tf.add(size, 1e-12)), eps)), 0, 255) as tf.Tensor4D;
  });
}

/** `into` with the rows where `mask` taken from `from`; disposes `into` (returns it unchanged when no row is taken). */
function replaceRows(into: tf.Tensor4D, from: tf.Tensor4D, mask: readonly boolean[]): tf.Tensor4D {
  if (!mask.some(Boolean)) return into;
  const out = selectRows(mask, from, into);
  into.dispose();
  return out;
}

/** `base` with rows `rows` replaced by the rows of `part` (a new tensor). */
export function scatterRows(base: tf.Tensor4D, part: tf.Tensor4D, rows: readonly number[]): tf.Tensor4D {
  return tf.tidy(() => {
    const n = base.shape[0];
    const where = new Int32Array(n).fill(-1);
    rows.forEach((r, k) => (where[r] = k));
    const index = Array.from(where, (k, i) => (k >= 0 ? n + k : i));
    return tf.gather(tf.concat([base, part]), index) as tf.Tensor4D;
  });
}
