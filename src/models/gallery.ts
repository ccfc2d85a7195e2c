/**
 * Embedding threat models as classifiers, so every attack (PGD, FGSM, BIM) runs on a bare embedding network:
 *
 * - 1:N identification (`GalleryClassifier`): logits_k = −dist(d(x), g_k) / T over K gallery identities;
 *   rank-1 = argmax. Dodging = untargeted against the true identity; impersonation = targeted at the chosen one.
 * - 1:1 verification (`VerificationClassifier`): a probe against one claimed identity at a threshold τ;
 *   logits [0, (τ − dist)/T] over [reject, accept]. Dodging a genuine probe = untargeted with label accept;
 *   impersonating = targeted at accept. τ comes from genuine/impostor distances at a stated false-accept rate.
 *
 * dist is the squared Euclidean distance or the cosine distance 1 − cos.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Backbone } from './backbones.js';
import { logitsLossGradient, type Classifier, type Labels } from './classifier.js';

export const METRICS = ['euclidean', 'cosine'] as const;
export type Metric = (typeof METRICS)[number];

/**
 * Default softmax temperature. Squared distances between different people's (built-in net's) descriptors are
 * ~0.3–1.5 and between two views of one person ~0.05–0.3, so T = 0.1 keeps the softmax away from saturation:
 * the cross-entropy gradient stays representable in float32 even for well-matched probes.
 */
export const DEFAULT_TEMPERATURE = 0.1;

/** What an attack on a threat model aims at. */
export const GOALS = ['dodging', 'impersonation'] as const;
export type Goal = (typeof GOALS)[number];

/** Attack labels and `targeted` for a goal: dodging moves away from `truth`, impersonation towards `targets`. */
export function goalLabels(goal: Goal, truth: readonly number[], targets?: readonly number[]): { y: number[]; targeted: boolean } {
  if (goal === 'dodging') return { y: [...truth], targeted: false };
  if (!targets || targets.length !== truth.length) throw new Error(`gallery: impersonation needs one target per probe, got ${targets?.length ?? 0} for ${truth.length}`);
  return { y: [...targets], targeted: true };
}

/** dist(a_i, b_k) for every row pair, [N, K], differentiable. */
export function distances(a: tf.Tensor2D, b: tf.Tensor2D, metric: Metric): tf.Tensor2D {
  return tf.tidy(() => {
    if (metric === 'euclidean') return squaredDistances(a, b);
    const unit = (t: tf.Tensor2D) => tf.div(t, tf.maximum(tf.norm(t, 'euclidean', 1, true), 1e-12)) as tf.Tensor2D;
    return tf.sub(1, tf.matMul(unit(a), unit(b), false, true)) as tf.Tensor2D;
  });
}

/** ‖a_i − b_k‖² for every row pair, [N, K], by expanding the square (one matMul, differentiable). */
export function squaredDistances(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const aa = tf.sum(tf.square(a), 1, true);
    const bb = tf.reshape(tf.sum(tf.square(b), 1), [1, -1]);
    // Rounding can make the expansion slightly negative for (near-)identical rows.
    return tf.relu(tf.add(tf.sub(aa, tf.mul(2, tf.matMul(a, b, false, true))), bb)) as tf.Tensor2D;
  });
}

function checkTemperature(name: string, t: number): void {
  if (!(t > 0 && Number.isFinite(t))) throw new Error(`${name}: temperature must be a number > 0, got ${t}`);
}

function checkMetric(name: string, m: string): void {
  if (!(METRICS as readonly string[]).includes(m)) throw new Error(`${name}: metric must be one of ${METRICS.join(', ')}, got '${m}'`);
}

/** How a gallery classifier scores: metric and softmax temperature. */
export interface GalleryOptions {
  metric: Metric;
  temperature: number;
}

/** A classifier whose logits are a function of the network's descriptors (identification, verification). */
abstract class DescriptorClassifier implements Classifier {
  abstract readonly classes: number;

  constructor(readonly net: Pick<Backbone, 'descriptor'>) {}

  /** The logits of descriptors [N, D]. */
  abstract logitsOfDescriptors(descriptors: tf.Tensor2D): tf.Tensor2D;

  /** Logits of a batch: those of its descriptors. */
  logits(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.logitsOfDescriptors(this.net.descriptor(x)));
  }

  async predict(x: tf.Tensor4D): Promise<tf.Tensor2D> {
    return this.logits(x);
  }

  async lossGradient(x: tf.Tensor4D, labels: Labels): Promise<tf.Tensor4D> {
    return logitsLossGradient((xi) => this.logits(xi), x, labels);
  }

  abstract dispose(): void;
}

/**
 * 1:N identification against a gallery of descriptors [K, D].
 *
 * @example
 * ```ts
 * import { tf, initEngine, GalleryClassifier, predictLabels } from 'robustify';
 * await initEngine();
 * const net = { descriptor: (x: tf.Tensor4D) => tf.div(tf.mean(x, [1, 2]), 255) as tf.Tensor2D }; // a toy 3-d descriptor
 * const gallery = new GalleryClassifier(net, tf.tensor2d([[0, 0, 0], [1, 1, 1]]), { metric: 'euclidean' });
 * console.log(await predictLabels(gallery, tf.fill([1, 8, 8, 3], 240) as tf.Tensor4D)); // [1]: nearest to the bright one
 * gallery.dispose();
 * ```
 */
export class GalleryClassifier extends DescriptorClassifier {
  /** Owned: disposed by dispose(). */
  private readonly gallery: tf.Tensor2D;
  readonly metric: Metric;
  readonly temperature: number;

  /** `gallery` is cloned; the network stays the caller's. */
  constructor(
    net: Pick<Backbone, 'descriptor'>,
    gallery: tf.Tensor2D,
    opts: Partial<GalleryOptions> | number = {},
  ) {
    super(net);
    const o = typeof opts === 'number' ? { temperature: opts } : opts;
    this.metric = o.metric ?? 'euclidean';
    this.temperature = o.temperature ?? DEFAULT_TEMPERATURE;
    checkMetric('gallery', this.metric);
    checkTemperature('gallery', this.temperature);
    if (gallery.rank !== 2 || gallery.shape[0] < 2) throw new Error(`gallery: need a [K ≥ 2, D] descriptor matrix, got [${gallery.shape.join(', ')}]`);
    this.gallery = tf.clone(gallery);
  }

  get classes(): number {
    return this.gallery.shape[0];
  }

  /** The gallery descriptors (owned by this classifier: do not dispose). */
  descriptors(): tf.Tensor2D {
    return this.gallery;
  }

  /** −dist(d, g_k) / T for each row d of `descriptors` ([N, D]) and gallery entry k. */
  logitsOfDescriptors(descriptors: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.div(tf.neg(distances(descriptors, this.gallery, this.metric)), this.temperature) as tf.Tensor2D);
  }


  /** Distances back from logits made by this classifier (or a defended one in front of it). */
  distancesFromLogits(logits: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const d = tf.relu(tf.mul(logits, -this.temperature));
      // Euclidean logits hold squared distances: report the distance itself.
      return (this.metric === 'euclidean' ? tf.sqrt(d) : d) as tf.Tensor2D;
    });
  }

  /** Release the gallery descriptors (the network stays the caller's). */
  dispose(): void {
    this.gallery.dispose();
  }
}

/**
 * 1:1 verification of probes against one claimed identity's reference descriptor at threshold τ.
 *
 * @example
 * ```ts
 * import { tf, initEngine, VerificationClassifier, predictLabels } from 'robustify';
 * await initEngine();
 * const net = { descriptor: (x: tf.Tensor4D) => tf.div(tf.mean(x, [1, 2]), 255) as tf.Tensor2D };
 * const verify = new VerificationClassifier(net, tf.tensor1d([1, 1, 1]), 0.5);
 * console.log(await predictLabels(verify, tf.stack([tf.fill([8, 8, 3], 250), tf.fill([8, 8, 3], 0)]) as tf.Tensor4D)); // [1, 0]: accept, reject
 * ```
 */
export class VerificationClassifier extends DescriptorClassifier {
  readonly classes = 2;
  private readonly reference: tf.Tensor2D;

  /** `reference` ([1, D] or [D]) is cloned; accepted when dist < threshold. */
  constructor(
    net: Pick<Backbone, 'descriptor'>,
    reference: tf.Tensor,
    readonly threshold: number,
    readonly opts: GalleryOptions = { metric: 'euclidean', temperature: DEFAULT_TEMPERATURE },
  ) {
    super(net);
    checkMetric('verification', opts.metric);
    checkTemperature('verification', opts.temperature);
    if (!Number.isFinite(threshold)) throw new Error(`verification: threshold must be a finite number, got ${threshold}`);
    this.reference = tf.reshape(reference, [1, -1]);
  }

  /** `[0, (τ − dist)/T]`: index 1 (accept) wins exactly when dist < τ. */
  logitsOfDescriptors(descriptors: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const accept = tf.div(tf.sub(this.threshold, distances(descriptors, this.reference, this.opts.metric)), this.opts.temperature);
      return tf.concat([tf.zerosLike(accept), accept], 1) as tf.Tensor2D;
    });
  }


  /** Release the reference descriptor (the network stays the caller's). */
  dispose(): void {
    this.reference.dispose();
  }
}

export const ACCEPT = 1;
export const REJECT = 0;

/**
 * The verification threshold at false-accept rate `far`: the largest τ such that at most ⌊far·n⌋ of the n
 * impostor distances are < τ (accept is dist < τ). With `genuine`, also the true-accept rate there.
 */
export function thresholdAtFar(impostor: readonly number[], far: number, genuine: readonly number[] = []): { threshold: number; far: number; tar: number } {
  if (!(far >= 0 && far <= 1)) throw new Error(`verification: far must be in [0, 1], got ${far}`);
  if (impostor.length === 0) throw new Error('verification: no impostor distances to choose a threshold from');
  const sorted = [...impostor].sort((a, b) => a - b);
  const allowed = Math.floor(far * sorted.length);
  const threshold = allowed >= sorted.length ? Infinity : sorted[allowed];
  const rate = (d: readonly number[]) => (d.length ? d.filter((v) => v < threshold).length / d.length : 0);
  return { threshold, far: rate(impostor), tar: rate(genuine) };
}

/** One probe's match: the nearest gallery entry and distances to it and to the true identity. */
export interface ProbeMatch {
  /** Index of the nearest gallery identity (rank-1 prediction). */
  pred: number;
  nearest_distance: number;
  true_distance: number;
}

/** Rank-1 matches from a [N, K] distance matrix and the true gallery index of each probe. */
export async function matchesFromDistances(d: tf.Tensor2D, truth: readonly number[]): Promise<ProbeMatch[]> {
  const [n, k] = d.shape;
  if (truth.length !== n) throw new Error(`matches: ${truth.length} labels for ${n} probes`);
  const v = await d.data();
  return truth.map((t, i) => {
    let pred = 0;
    for (let j = 1; j < k; j++) if (v[i * k + j] < v[i * k + pred]) pred = j;
    return { pred, nearest_distance: v[i * k + pred], true_distance: v[i * k + t] };
  });
}

/** Rank-1 matches of a batch under `model` (the gallery classifier, bare or behind a defence). */
export async function matchBatch(model: Classifier, gallery: GalleryClassifier, x: tf.Tensor4D, truth: readonly number[]): Promise<ProbeMatch[]> {
  const logits = await model.predict(x);
  const dist = gallery.distancesFromLogits(logits);
  logits.dispose();
  try {
    return await matchesFromDistances(dist, truth);
  } finally {
    dist.dispose();
  }
}

/** Mean descriptor per identity, [K, D], from descriptors [N, D] and labels in 0..K−1 (every class present). */
export function classMeans(descriptors: tf.Tensor2D, labels: readonly number[], classes: number): tf.Tensor2D {
  return tf.tidy(() => {
    const onehot = tf.oneHot(tf.tensor1d([...labels], 'int32'), classes).toFloat();
    const counts = tf.sum(onehot, 0);
    const missing = Array.from(counts.dataSync()).findIndex((c) => c === 0);
    if (missing >= 0) throw new Error(`gallery: identity ${missing} has no enrolment image`);
    return tf.div(tf.matMul(onehot, descriptors, true, false), tf.reshape(counts, [-1, 1])) as tf.Tensor2D;
  });
}
