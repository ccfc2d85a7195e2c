/**
 * Per-sample losses of the logits that attacks maximise, with their logit gradients, computed from the logits
 * alone (N × classes numbers, in plain JS). The input gradient of any such loss comes from the classifier's
 * cross-entropy gradient with label weights w = softmax(z) − ∂L/∂z: d/dz of Σ −w·log softmax(z) is
 * softmax(z)·Σw − w = ∂L/∂z, since Σw = 1 whenever L is shift-invariant in z (Σ ∂L/∂z = 0), as CE, DLR and the
 * margin are.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.js';

/**
 * The losses APGD can follow: ART's cross_entropy and difference_logits_ratio.
 *
 * @example
 * ```ts
 * import { LOSS_TYPES, createAttack } from 'robustify/attacks';
 * for (const loss_type of LOSS_TYPES) console.log(createAttack('apgd', { loss_type }).params.loss_type);
 * ```
 */
export const LOSS_TYPES = ['cross_entropy', 'difference_logits_ratio'] as const;
/** One of `LOSS_TYPES`. */
export type LossType = (typeof LOSS_TYPES)[number];

/**
 * Which samples the loss is about: `y` the class to move away from (the true label, or the clean prediction);
 * `target` (targeted attacks) the class to move towards.
 */
export interface LossLabels {
  y: readonly number[];
  target?: readonly number[];
}

export interface LossValues {
  /** Per-sample loss (to maximise). */
  loss: Float32Array;
  /** ∂loss_i/∂z_i, row-major [N, classes]. */
  dz: Float32Array;
  /** argmax of the logits. */
  pred: number[];
}

const DLR_TINY = 1e-12;

/** Loss values and logit gradients of a batch of logits ([N, K] row-major). */
export function lossOfLogits(type: LossType, z: Float32Array, k: number, labels: LossLabels): LossValues {
  const n = z.length / k;
  const loss = new Float32Array(n);
  const dz = new Float32Array(n * k);
  const pred: number[] = [];
  for (let i = 0; i < n; i++) {
    const row = z.subarray(i * k, (i + 1) * k);
    const g = dz.subarray(i * k, (i + 1) * k);
    const order = Array.from(row.keys()).sort((a, b) => row[b] - row[a]);
    pred.push(order[0]);
    const y = labels.y[i];
    const t = labels.target?.[i];
    if (type === 'cross_entropy') {
      const p = softmax(row);
      // Untargeted: CE(z, y); targeted: −CE(z, t).
      const c = t ?? y;
      const sign = t === undefined ? 1 : -1;
      loss[i] = sign * -Math.log(Math.max(p[c], 1e-30));
      for (let j = 0; j < k; j++) g[j] = sign * (p[j] - (j === c ? 1 : 0));
    } else if (t === undefined) {
      if (k < 3) throw new Error(`difference_logits_ratio: needs at least 3 classes, got ${k}`);
      // −(z_y − max_{j≠y} z_j) / (z_π1 − z_π3)
      const o = order[0] === y ? order[1] : order[0];
      const num = row[y] - row[o];
      const d = row[order[0]] - row[order[2]] + DLR_TINY;
      loss[i] = -num / d;
      g[y] -= 1 / d;
      g[o] += 1 / d;
      g[order[0]] += num / (d * d);
      g[order[2]] -= num / (d * d);
    } else {
      if (k < 4) throw new Error(`difference_logits_ratio: the targeted form needs at least 4 classes, got ${k}`);
      // −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2)
      const num = row[y] - row[t];
      const d = row[order[0]] - (row[order[2]] + row[order[3]]) / 2 + DLR_TINY;
      loss[i] = -num / d;
      g[y] -= 1 / d;
      g[t] += 1 / d;
      g[order[0]] += num / (d * d);
      g[order[2]] -= num / (2 * d * d);
      g[order[3]] -= num / (2 * d * d);
    }
  }
  return { loss, dz, pred };
}

export function softmax(row: ArrayLike<number>): Float64Array {
  let m = -Infinity;
  for (let j = 0; j < row.length; j++) m = Math.max(m, row[j]);
  const p = new Float64Array(row.length);
  let s = 0;
  for (let j = 0; j < row.length; j++) s += p[j] = Math.exp(row[j] - m);
  for (let j = 0; j < row.length; j++) p[j] /= s;
  return p;
}

/**
 * The margin of the Square attack (Andriushchenko et al.; AutoAttack's margin_and_loss): untargeted
 * z_y − max_{j≠y} z_j, targeted max_{j≠t} z_j − z_t; ≤ 0 means the attack succeeded. `loss` is what Square
 * minimises: the margin untargeted, the target's cross-entropy targeted.
 */
export function squareMargin(z: Float32Array, k: number, labels: LossLabels): { margin: Float32Array; loss: Float32Array } {
  const n = z.length / k;
  const margin = new Float32Array(n);
  const loss = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const row = z.subarray(i * k, (i + 1) * k);
    const c = labels.target?.[i] ?? labels.y[i];
    let other = -Infinity;
    for (let j = 0; j < k; j++) if (j !== c) other = Math.max(other, row[j]);
    if (labels.target === undefined) {
      margin[i] = loss[i] = row[c] - other;
    } else {
      margin[i] = other - row[c];
      loss[i] = -Math.log(Math.max(softmax(row)[c], 1e-30));
    }
  }
  return { margin, loss };
}

/**
 * Logits, loss values and the input gradient of the loss at x: two classifier calls (predict, then lossGradient
 * with weights from the logits), or one where the weights do not need the logits (untargeted cross-entropy)
 * and the classifier has `logitsAndGradient`.
 */
export async function lossAndGradient(
  classifier: Classifier,
  x: tf.Tensor4D,
  type: LossType,
  labels: LossLabels,
): Promise<LossValues & { grad: tf.Tensor4D }> {
  if (type === 'cross_entropy' && labels.target === undefined && classifier.logitsAndGradient) {
    const y = tf.tensor1d(labels.y as number[], 'int32');
    try {
      const { logits, grad } = await classifier.logitsAndGradient(x, y);
      const k = logits.shape[1];
      const z = (await logits.data()) as Float32Array;
      logits.dispose();
      return { ...lossOfLogits(type, z, k, labels), grad };
    } finally {
      y.dispose();
    }
  }
  const logits = await classifier.predict(x);
  const k = logits.shape[1];
  const z = (await logits.data()) as Float32Array;
  logits.dispose();
  const values = lossOfLogits(type, z, k, labels);
  let weights: tf.Tensor;
  if (type === 'cross_entropy' && labels.target === undefined) {
    weights = tf.tensor1d(labels.y as number[], 'int32');
  } else {
    const w = new Float32Array(z.length);
    for (let i = 0; i < z.length / k; i++) {
      const p = softmax(z.subarray(i * k, (i + 1) * k));
      for (let j = 0; j < k; j++) w[i * k + j] = p[j] - values.dz[i * k + j];
    }
    weights = tf.tensor2d(w, [z.length / k, k]);
  }
  try {
    const grad = await classifier.lossGradient(x, weights as tf.Tensor1D | tf.Tensor2D);
    return { ...values, grad };
  } finally {
    weights.dispose();
  }
}
