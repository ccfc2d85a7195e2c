/**
 * The Square attack (Andriushchenko, Croce, Flammarion & Hein 2020), score-based: it only calls the
 * classifier's `predict`, so a defence that masks gradients cannot stop it. Random search over square
 * windows: L∞ windows set to ±eps per channel (from vertical ±eps stripes); L2 windows of pseudo-Gaussian
 * bumps that move mass between two windows (from a grid of bumps), δ kept on the eps-sphere. A candidate is
 * kept when it lowers the loss (the margin untargeted, the target's cross-entropy targeted) or succeeds; the
 * window side follows the paper's p-schedule (rescaled to the query budget). Semantics of the reference
 * implementation (AutoAttack's square.py), except that window positions and signs are drawn per sample, as in
 * the paper, so a sample's result does not depend on its batch. Queries include the initial point, and a
 * sample stops as soon as it is fooled: nb_queries is each sample's budget per restart.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Type, type Static } from '@sinclair/typebox';
import { predictLabels, type Classifier } from '../models/classifier.js';
import { createRandom, type Random } from '../util/random.js';
import { checkLabels, mapBatches, SpecifiedAttack, type AttackHooks } from './attack.js';
import { squareMargin, type LossLabels } from './loss.js';
import { P } from './params.js';

/**
 * Square's parameters (TypeBox): ART's SquareAttack.
 *
 * @example
 * ```ts
 * import { SQUARE_SPEC, describeParams, resolveAttackParams } from 'robustify/attacks';
 * console.log(describeParams(SQUARE_SPEC).join('\n'), resolveAttackParams('square', SQUARE_SPEC, { eps: 8 }));
 * ```
 */
export const SQUARE_SPEC = Type.Object({
  norm: P.norm(),
  eps: P.eps(),
  nb_queries: Type.Integer({ default: 5000, minimum: 1, maximum: 1_000_000, description: 'model queries per sample and restart (including the starting point)' }),
  p_init: Type.Number({ default: 0.8, exclusiveMinimum: 0, maximum: 1, description: 'initial fraction of pixels a window covers (then the p-schedule)' }),
  nb_restarts: Type.Integer({ default: 1, minimum: 1, maximum: 1000, description: 'runs, each only on samples not yet fooled' }),
  targeted: P.targeted(),
  batch_size: P.batchSize(),
  seed: P.seed(),
});

/** Square's resolved parameters. */
export type SquareParams = Static<typeof SQUARE_SPEC>;

/** The paper's schedule of p, the fraction of pixels a window covers, at iteration `it` of `budget`. */
export function squareP(pInit: number, it: number, budget: number): number {
  const t = Math.floor((it / budget) * 10000);
  const bounds = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];
  let halvings = 0;
  for (const b of bounds) if (t > b) halvings++;
  return pInit / 2 ** halvings;
}

interface Geometry {
  h: number;
  w: number;
  c: number;
  d: number;
}

/**
 * The Square attack (Andriushchenko et al. 2020; ART's SquareAttack): score-based random search over square
 * windows, needing only the classifier's outputs.
 *
 * @example
 * ```ts
 * import { tf, initEngine, classifierFromLogits, SquareAttack } from 'robustify';
 * await initEngine();
 * const model = classifierFromLogits(3, (x) => tf.mean(x, [1, 2]) as tf.Tensor2D);
 * const x = tf.randomUniform([2, 8, 8, 3], 0, 255, 'float32', 1) as tf.Tensor4D;
 * const adv = await new SquareAttack({ eps: 8, nb_queries: 5 }).generate(model, x, [0, 1]);
 * console.log(adv.shape);
 * ```
 */
export class SquareAttack extends SpecifiedAttack<typeof SQUARE_SPEC> {
  constructor(params: Partial<SquareParams> = {}) {
    super('square', 'score', SQUARE_SPEC, params);
  }

  async generate(classifier: Classifier, x: tf.Tensor4D, y?: readonly number[], hooks: AttackHooks = {}): Promise<tf.Tensor4D> {
    const p = this.params;
    checkLabels(this.name, x, y);
    const [, h, w, c] = x.shape;
    const g: Geometry = { h, w, c, d: h * w * c };
    const rng = createRandom(p.seed);
    const total = Math.ceil(x.shape[0] / p.batch_size) * p.nb_restarts * p.nb_queries;
    let batchesDone = 0;
    return mapBatches(x, p.batch_size, async (x0t, start, size) => {
      const x0 = Float32Array.from(await x0t.data());
      const clean = y ? undefined : await predictLabels(classifier, x0t);
      const given = y ? y.slice(start, start + size) : clean!;
      const labels: LossLabels = p.targeted ? { y: given, target: given } : { y: given };
      const best = Float32Array.from(x0);
      const queries = new Array<number>(size).fill(0);
      let fooled = new Array<boolean>(size).fill(false);
      for (let r = 0; r < p.nb_restarts && fooled.some((f) => !f); r++) {
        const rows = fooled.flatMap((f, i) => (f ? [] : [i]));
        const run = await this.run(classifier, x0, rows, labels, g, rng.fork(r), (q) =>
          hooks.onProgress?.(Math.min(total, (batchesDone * p.nb_restarts + r) * p.nb_queries + q), total),
        );
        rows.forEach((i, k) => {
          queries[i] += run.queries[k];
          if (run.fooled[k] || r === 0) best.set(run.best.subarray(k * g.d, (k + 1) * g.d), i * g.d);
        });
        fooled = fooled.map((f, i) => f || run.fooled[rows.indexOf(i)] === true);
      }
      batchesDone++;
      hooks.onQueries?.(start, queries);
      return tf.tensor4d(best, [size, h, w, c]);
    });
  }

  /** One run on the given rows of a batch; returns per row its best point, queries used and whether it was fooled. */
  private async run(
    classifier: Classifier,
    x0: Float32Array,
    rows: number[],
    all: LossLabels,
    g: Geometry,
    rng: Random,
    onQuery: (q: number) => void,
  ): Promise<{ best: Float32Array; queries: number[]; fooled: boolean[] }> {
    const p = this.params;
    const m = rows.length;
    const labels: LossLabels = { y: rows.map((i) => all.y[i]), target: all.target && rows.map((i) => all.target![i]) };
    const x = new Float32Array(m * g.d);
    rows.forEach((i, k) => x.set(x0.subarray(i * g.d, (i + 1) * g.d), k * g.d));
    const best = new Float32Array(m * g.d);
    for (let k = 0; k < m; k++) {
      const init = p.norm === 'inf' ? this.stripes(g, rng) : this.bumpGrid(g, rng);
      const xi = x.subarray(k * g.d, (k + 1) * g.d);
      const bi = best.subarray(k * g.d, (k + 1) * g.d);
      if (p.norm === 'inf') for (let j = 0; j < g.d; j++) bi[j] = clip255(xi[j] + init[j]);
      else placeOnSphere(bi, xi, init, p.eps);
    }
    let scores = await this.score(classifier, best, g, labels);
    const margin = Float32Array.from(scores.margin);
    const loss = Float32Array.from(scores.loss);
    const queries = new Array<number>(m).fill(1);
    onQuery(1);
    const candidate = new Float32Array(m * g.d);
    for (let it = 0; it < p.nb_queries - 1; it++) {
      const active = Array.from(margin.keys()).filter((k) => margin[k] > 0);
      if (active.length === 0) break;
      const frac = squareP(p.p_init, it, p.nb_queries);
      const cand = candidate.subarray(0, active.length * g.d);
      active.forEach((k, a) => {
        const out = cand.subarray(a * g.d, (a + 1) * g.d);
        const xi = x.subarray(k * g.d, (k + 1) * g.d);
        const bi = best.subarray(k * g.d, (k + 1) * g.d);
        if (p.norm === 'inf') this.linfCandidate(out, xi, bi, frac, g, rng);
        else this.l2Candidate(out, xi, bi, frac, g, rng);
      });
      scores = await this.score(classifier, cand, g, { y: active.map((k) => labels.y[k]), target: labels.target && active.map((k) => labels.target![k]) });
      active.forEach((k, a) => {
        queries[k]++;
        const better = scores.loss[a] < loss[k];
        if (better) loss[k] = scores.loss[a];
        if (better || scores.margin[a] <= 0) {
          margin[k] = scores.margin[a];
          best.set(cand.subarray(a * g.d, (a + 1) * g.d), k * g.d);
        }
      });
      onQuery(it + 2);
    }
    return { best, queries, fooled: Array.from(margin, (v) => v <= 0) };
  }

  private async score(classifier: Classifier, images: Float32Array, g: Geometry, labels: LossLabels) {
    const n = images.length / g.d;
    const xt = tf.tensor4d(images, [n, g.h, g.w, g.c]);
    try {
      const logits = await classifier.predict(xt);
      const z = (await logits.data()) as Float32Array;
      const k = logits.shape[1];
      logits.dispose();
      return squareMargin(z, k, labels);
    } finally {
      xt.dispose();
    }
  }

  /** L∞ start: vertical stripes of ±eps, one sign per column and channel. */
  private stripes(g: Geometry, rng: Random): Float32Array {
    const eps = this.params.eps;
    const sign = Float32Array.from({ length: g.w * g.c }, () => (rng.next() < 0.5 ? -eps : eps));
    const out = new Float32Array(g.d);
    for (let r = 0; r < g.h; r++) out.set(sign, r * g.w * g.c);
    return out;
  }

  /** L∞ step: one window of side √(p·h·w) set to x ± eps (one sign per channel), redrawn if it changes nothing. */
  private linfCandidate(out: Float32Array, x: Float32Array, best: Float32Array, frac: number, g: Geometry, rng: Random): void {
    const eps = this.params.eps;
    const s = Math.min(Math.max(Math.round(Math.sqrt(frac * g.h * g.w)), 1), Math.min(g.h, g.w) - 1);
    const vh = rng.int(g.h - s);
    const vw = rng.int(g.w - s);
    out.set(best);
    for (let attempt = 0; attempt < 10; attempt++) {
      const signs = Array.from({ length: g.c }, () => (rng.next() < 0.5 ? -1 : 1));
      let changed = false;
      forWindow(g, vh, vw, s, (j, ch) => {
        const v = clip255(Math.min(Math.max(best[j] + 2 * eps * signs[ch], x[j] - eps), x[j] + eps));
        out[j] = v;
        if (Math.abs(v - best[j]) >= 1e-7) changed = true;
      });
      if (changed) return;
    }
  }

  /** L2 start: a grid of pseudo-Gaussian bumps (random sign per bump and channel). */
  private bumpGrid(g: Geometry, rng: Random): Float32Array {
    const out = new Float32Array(g.d);
    const s = Math.max(Math.floor(g.h / 5), 1);
    const offset = Math.floor((g.h - s * 5) / 2);
    for (let bh = 0, vh = offset; bh < Math.floor(g.h / s); bh++, vh += s) {
      for (let bw = 0, vw = offset; bw < Math.floor(g.w / s); bw++, vw += s) {
        const bump = pseudoGaussian(s, rng);
        const signs = Array.from({ length: g.c }, () => (rng.next() < 0.5 ? -1 : 1));
        forWindow(g, vh, vw, s, (j, ch, r, col) => (out[j] += bump[r * s + col] * signs[ch]));
      }
    }
    return out;
  }

  /**
   * L2 step: a new bump (plus the old content, renormalised) in window 1, window 2 emptied, and the freed norm
   * budget spread over window 1; then δ rescaled to norm eps.
   */
  private l2Candidate(out: Float32Array, x: Float32Array, best: Float32Array, frac: number, g: Geometry, rng: Random): void {
    const eps = this.params.eps;
    let s = Math.max(Math.round(Math.sqrt(frac * g.h * g.w)), 3);
    if (s % 2 === 0) s++;
    s = Math.min(s, Math.min(g.h, g.w) - 1);
    const delta = new Float32Array(g.d);
    for (let j = 0; j < g.d; j++) delta[j] = best[j] - x[j];
    const vh = rng.int(g.h - s);
    const vw = rng.int(g.w - s);
    const vh2 = rng.int(g.h - s);
    const vw2 = rng.int(g.w - s);
    const window1 = new Float64Array(g.c);
    forWindow(g, vh, vw, s, (j, ch) => (window1[ch] += delta[j] * delta[j]));
    let image = 0;
    for (let j = 0; j < g.d; j++) image += delta[j] * delta[j];
    const inEither = new Uint8Array(g.d);
    forWindow(g, vh, vw, s, (j) => (inEither[j] = 1));
    forWindow(g, vh2, vw2, s, (j) => (inEither[j] = 1));
    let windows = 0;
    for (let j = 0; j < g.d; j++) if (inEither[j]) windows += delta[j] * delta[j];
    const bump = pseudoGaussian(s, rng);
    const signs = Array.from({ length: g.c }, () => (rng.next() < 0.5 ? -1 : 1));
    const fresh = new Float64Array(s * s * g.c);
    const freshNorm = new Float64Array(g.c);
    forWindow(g, vh, vw, s, (j, ch, r, col) => {
      const v = bump[r * s + col] * signs[ch] + delta[j] / (1e-12 + Math.sqrt(window1[ch]));
      fresh[(r * s + col) * g.c + ch] = v;
      freshNorm[ch] += v * v;
    });
    const budget = Math.sqrt(Math.max(eps * eps - image, 0) / g.c + windows);
    forWindow(g, vh2, vw2, s, (j) => (delta[j] = 0));
    forWindow(g, vh, vw, s, (j, ch, r, col) => (delta[j] = (fresh[(r * s + col) * g.c + ch] / (1e-12 + Math.sqrt(freshNorm[ch]))) * budget));
    placeOnSphere(out, x, delta, eps);
  }
}

/** Calls `f(index, channel, row, col)` for every element of the s×s window at (vh, vw) of an HWC image. */
function forWindow(g: Geometry, vh: number, vw: number, s: number, f: (j: number, ch: number, r: number, col: number) => void): void {
  for (let r = 0; r < s && vh + r < g.h; r++) {
    for (let col = 0; col < s && vw + col < g.w; col++) {
      const base = ((vh + r) * g.w + vw + col) * g.c;
      for (let ch = 0; ch < g.c; ch++) f(base + ch, ch, r, col);
    }
  }
}

/** out = clip(x + eps·δ/‖δ‖₂, 0, 255). */
function placeOnSphere(out: Float32Array, x: Float32Array, delta: ArrayLike<number>, eps: number): void {
  let n2 = 0;
  for (let j = 0; j < x.length; j++) n2 += delta[j] * delta[j];
  const scale = eps / (Math.sqrt(n2) + 1e-12);
  for (let j = 0; j < x.length; j++) out[j] = clip255(x[j] + delta[j] * scale);
}

function clip255(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Nested rectangles weighted 1/(k+1)², an x×y block of unit L2 norm (the paper's η). */
function rectangles(x: number, y: number): Float64Array {
  const out = new Float64Array(x * y);
  const xc = Math.floor(x / 2) + 1;
  const yc = Math.floor(y / 2) + 1;
  let c0 = xc - 1;
  let c1 = yc - 1;
  for (let k = 0; k < Math.max(xc, yc); k++, c0--, c1--) {
    for (let r = Math.max(c0, 0); r < Math.min(c0 + 2 * k + 1, x); r++) {
      for (let c = Math.max(c1, 0); c < Math.min(c1 + 2 * k + 1, y); c++) out[r * y + c] += 1 / (k + 1) ** 2;
    }
  }
  return normalise(out);
}

/** The s×s pseudo-Gaussian bump: a positive and a negative half (randomly transposed), unit L2 norm. */
export function pseudoGaussian(s: number, rng: Random): Float64Array {
  const half = Math.floor(s / 2);
  const top = rectangles(half, s);
  const bottom = rectangles(s - half, s);
  const out = new Float64Array(s * s);
  out.set(top, 0);
  for (let j = 0; j < bottom.length; j++) out[half * s + j] = -bottom[j];
  normalise(out);
  if (rng.next() >= 0.5) return out;
  const t = new Float64Array(s * s);
  for (let r = 0; r < s; r++) for (let c = 0; c < s; c++) t[c * s + r] = out[r * s + c];
  return t;
}

function normalise(v: Float64Array): Float64Array {
  let n2 = 0;
  for (const e of v) n2 += e * e;
  const n = Math.sqrt(n2);
  if (n > 0) for (let j = 0; j < v.length; j++) v[j] /= n;
  return v;
}
