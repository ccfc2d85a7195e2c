/**
 * Face re-identification against a gallery of descriptors, as a `Classifier` over gallery identities:
 * logits = −‖d(x) − g_k‖² / T. Nearest neighbour by descriptor distance is then the argmax of the logits, so
 * the attacks, defended classifiers and rank-1 accuracy of the rest of robustify apply unchanged.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { FaceRecognitionNet } from '../../models/backbone.js';
import { logitsLossGradient, type Classifier, type Labels } from '../../models/classifier.js';

/**
 * Default softmax temperature. Squared distances between different people's descriptors are ~0.3–1.5 and
 * between two views of one person ~0.05–0.3, so T = 0.1 keeps the softmax away from saturation: the
 * cross-entropy gradient stays representable in float32 even for well-matched probes.
 */
export const DEFAULT_TEMPERATURE = 0.1;

export class GalleryClassifier implements Classifier {
  /** The gallery descriptors, [classes, 128]. Owned: disposed by dispose(). */
  private readonly gallery: tf.Tensor2D;

  /** `gallery` ([K, 128]) is cloned; the backbone stays the caller's. */
  constructor(
    readonly net: FaceRecognitionNet,
    gallery: tf.Tensor2D,
    readonly temperature = DEFAULT_TEMPERATURE,
  ) {
    if (!(temperature > 0 && Number.isFinite(temperature))) throw new Error(`gallery: temperature must be a number > 0, got ${temperature}`);
    if (gallery.rank !== 2 || gallery.shape[0] < 2) throw new Error(`gallery: need a [K ≥ 2, D] descriptor matrix, got [${gallery.shape.join(', ')}]`);
    this.gallery = tf.clone(gallery);
  }

  get classes(): number {
    return this.gallery.shape[0];
  }

  /** −‖d − g_k‖² / T for each row d of `descriptors` ([N, D]) and gallery entry k. */
  logitsOfDescriptors(descriptors: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.div(tf.neg(squaredDistances(descriptors, this.gallery)), this.temperature) as tf.Tensor2D);
  }

  logits(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.logitsOfDescriptors(this.net.descriptor(x)));
  }

  async predict(x: tf.Tensor4D): Promise<tf.Tensor2D> {
    return this.logits(x);
  }

  async lossGradient(x: tf.Tensor4D, labels: Labels): Promise<tf.Tensor4D> {
    return logitsLossGradient((xi) => this.logits(xi), x, labels);
  }

  /** Euclidean distances back from logits made by this classifier (or a defended one in front of it). */
  distancesFromLogits(logits: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.sqrt(tf.relu(tf.mul(logits, -this.temperature))) as tf.Tensor2D);
  }

  dispose(): void {
    this.gallery.dispose();
  }
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

/** One probe's match: the nearest gallery entry and distances to it and to the true identity. */
export interface ProbeMatch {
  /** Index of the nearest gallery identity (rank-1 prediction). */
  pred: number;
  nearest_distance: number;
  true_distance: number;
}

/** Rank-1 matches from a [N, K] distance matrix and the true gallery index of each probe. */
export async function matchesFromDistances(distances: tf.Tensor2D, truth: readonly number[]): Promise<ProbeMatch[]> {
  const [n, k] = distances.shape;
  if (truth.length !== n) throw new Error(`matches: ${truth.length} labels for ${n} probes`);
  const d = await distances.data();
  return truth.map((t, i) => {
    let pred = 0;
    for (let j = 1; j < k; j++) if (d[i * k + j] < d[i * k + pred]) pred = j;
    return { pred, nearest_distance: d[i * k + pred], true_distance: d[i * k + t] };
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
