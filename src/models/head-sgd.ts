/**
 * SGD for the dense head (head.ts) on typed arrays: the same arithmetic as TF.js's `optimizer.minimize` on the
 * head's logits (mean softmax cross-entropy over the batch, inverted dropout after the hidden ReLU, plain SGD),
 * without its per-step tensors and kernel dispatches. With batch 1 most of a step is skipped outright: a unit
 * that dropout removes or ReLU silences has no output and no gradient, so only the live hidden units are
 * computed and updated (about a quarter of them at dropout 0.5).
 *
 * The first kernel is kept transposed ([hidden, inputDim]) so that a hidden unit's weights are contiguous.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Random } from '../util/random.js';
import type { DenseHead } from './head.js';

/** Row-major features [n, dim] and their labels (what train.ts's FeatureSet is). */
export interface Rows {
  features: Float32Array;
  labels: Int32Array;
}

/** One weight set: kernel 1 transposed [hidden, inputDim], bias 1, kernel 2 [hidden, classes], bias 2. */
type Weights = [Float32Array, Float32Array, Float32Array, Float32Array];

export class DenseSgd {
  private readonly hidden: number;
  private readonly dim: number;
  private readonly classes: number;
  private readonly dropout: number;
  private readonly mean: Float32Array;
  private readonly std: Float32Array;
  private readonly w: Weights;
  // Per-sample scratch of one batch: hidden outputs (after dropout), hidden gradients, logit gradients.
  private h = new Float64Array(0);
  private gh = new Float64Array(0);
  private gl = new Float64Array(0);

  /** The trainer starts from `head`'s current weights (read once). */
  constructor(head: DenseHead) {
    const { inputDim, hidden, classes, dropout } = head.config;
    this.dim = inputDim;
    this.hidden = hidden;
    this.classes = classes;
    this.dropout = dropout;
    const { mean, std } = head.normalisation();
    this.mean = mean.dataSync() as Float32Array;
    this.std = std.dataSync() as Float32Array;
    const [w1, b1, w2, b2] = head.variables().map((v) => Float32Array.from(v.dataSync() as Float32Array));
    this.w = [transpose(w1, inputDim, hidden), b1, w2, b2];
  }

  /** Standardised copies of a feature set's rows (done once per set, not once per step). */
  standardise(set: Rows): Rows {
    const z = new Float32Array(set.features.length);
    for (let i = 0; i < z.length; i++) z[i] = (set.features[i] - this.mean[i % this.dim]) / this.std[i % this.dim];
    return { features: z, labels: set.labels };
  }

  /**
   * One SGD step on the standardised rows `rows` of `set` (a batch): every gradient from the weights before
   * the step, then w −= lr·mean gradient. Dropout masks come from `rng`. Returns the batch's mean loss.
   */
  step(set: Rows, rows: readonly number[], lr: number, rng: Random): number {
    const { hidden: H, dim: D, classes: K, dropout } = this;
    const [w1t, b1, w2, b2] = this.w;
    const B = rows.length;
    if (this.h.length < B * H) {
      this.h = new Float64Array(B * H);
      this.gh = new Float64Array(B * H);
      this.gl = new Float64Array(B * K);
    }
    const keep = 1 / (1 - dropout);
    let loss = 0;
    for (let s = 0; s < B; s++) {
      const z = set.features.subarray(rows[s] * D, (rows[s] + 1) * D);
      const h = this.h.subarray(s * H, (s + 1) * H);
      for (let j = 0; j < H; j++) {
        // A dropped unit is not computed (its output and gradient are zero either way).
        if (dropout > 0 && rng.next() < dropout) h[j] = 0;
        else h[j] = Math.max(0, b1[j] + dot(w1t, j * D, z, D)) * keep;
      }
      const gl = this.gl.subarray(s * K, (s + 1) * K);
      loss += crossEntropyGradient(this.logits(h, gl), set.labels[rows[s]]);
      const gh = this.gh.subarray(s * H, (s + 1) * H);
      for (let j = 0; j < H; j++) {
        if (h[j] === 0) continue;
        let g = 0;
        for (let k = 0; k < K; k++) g += w2[j * K + k] * gl[k];
        gh[j] = g * keep;
      }
    }
    const rate = lr / B;
    for (let s = 0; s < B; s++) {
      const z = set.features.subarray(rows[s] * D, (rows[s] + 1) * D);
      const h = this.h.subarray(s * H, (s + 1) * H);
      const gh = this.gh.subarray(s * H, (s + 1) * H);
      const gl = this.gl.subarray(s * K, (s + 1) * K);
      for (let j = 0; j < H; j++) {
        if (h[j] === 0) continue;
        const a = rate * gh[j];
        b1[j] -= a;
        const row = j * D;
        for (let i = 0; i < D; i++) w1t[row + i] -= a * z[i];
        for (let k = 0; k < K; k++) w2[j * K + k] -= rate * h[j] * gl[k];
      }
      for (let k = 0; k < K; k++) b2[k] -= rate * gl[k];
    }
    return loss / B;
  }

  /** Mean cross-entropy and accuracy on standardised rows (no dropout). */
  score(set: Rows): { loss: number; accuracy: number } {
    const { hidden: H, dim: D, classes: K } = this;
    const [w1t, b1] = this.w;
    const h = new Float64Array(H);
    const logits = new Float64Array(K);
    const n = set.labels.length;
    let loss = 0;
    let correct = 0;
    for (let r = 0; r < n; r++) {
      const z = set.features.subarray(r * D, (r + 1) * D);
      for (let j = 0; j < H; j++) h[j] = Math.max(0, b1[j] + dot(w1t, j * D, z, D));
      this.logits(h, logits);
      let arg = 0;
      for (let k = 1; k < K; k++) if (logits[k] > logits[arg]) arg = k;
      if (arg === set.labels[r]) correct++;
      loss += crossEntropyGradient(logits, set.labels[r]);
    }
    return { loss: loss / n, accuracy: correct / n };
  }

  /** A copy of the weights (for the best epoch). */
  snapshot(): Weights {
    return this.w.map((a) => a.slice()) as Weights;
  }

  /** Write `weights` (default: the current ones) into `head`'s variables. */
  writeTo(head: DenseHead, weights: Weights = this.w): void {
    const { inputDim, hidden, classes } = head.config;
    const [w1t, b1, w2, b2] = weights;
    const tensors = {
      'dense1/kernel': tf.tensor2d(transpose(w1t, hidden, inputDim), [inputDim, hidden]),
      'dense1/bias': tf.tensor1d(b1),
      'dense2/kernel': tf.tensor2d(w2, [hidden, classes]),
      'dense2/bias': tf.tensor1d(b2),
    };
    try {
      head.restore(tensors);
    } finally {
      tf.dispose(Object.values(tensors));
    }
  }

  /** The logits of hidden outputs `h`, written into `out`. */
  private logits(h: Float64Array, out: Float64Array): Float64Array {
    const { hidden: H, classes: K } = this;
    const [, , w2, b2] = this.w;
    for (let k = 0; k < K; k++) out[k] = b2[k];
    for (let j = 0; j < H; j++) {
      const hj = h[j];
      if (hj === 0) continue;
      for (let k = 0; k < K; k++) out[k] += hj * w2[j * K + k];
    }
    return out;
  }
}

/** Softmax cross-entropy of `logits` against `label`; overwrites `logits` with its gradient, softmax − one-hot. */
function crossEntropyGradient(logits: Float64Array, label: number): number {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const loss = max + Math.log(sum) - logits[label];
  for (let k = 0; k < logits.length; k++) logits[k] = Math.exp(logits[k] - max) / sum - Number(k === label);
  return loss;
}

/** Σ a[at + i]·b[i], i < n (four accumulators: the adds need not wait on each other). */
function dot(a: Float32Array, at: number, b: Float32Array, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[at + i] * b[i];
    s1 += a[at + i + 1] * b[i + 1];
    s2 += a[at + i + 2] * b[i + 2];
    s3 += a[at + i + 3] * b[i + 3];
  }
  for (; i < n; i++) s0 += a[at + i] * b[i];
  return s0 + s1 + s2 + s3;
}

/** A row-major [rows, cols] matrix transposed. */
function transpose(m: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(m.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = m[r * cols + c];
  return t;
}
