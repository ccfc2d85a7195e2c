/**
 * The seed paper's transfer-learning head on the frozen backbone's pooled features:
 * standardise → Dense(hidden, ReLU) → Dropout → Dense(K) (softmax applied by the loss / at prediction).
 *
 * The standardisation (per-feature mean and std of the training features, fixed after training starts) is
 * ours: the backbone's pooled features share a large common offset and differ by little between identities,
 * and plain SGD at the paper's learning rate does not move off the class prior without it.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface HeadConfig {
  inputDim: number;
  hidden: number;
  classes: number;
  dropout: number;
}

const WEIGHT_NAMES = ['dense1/kernel', 'dense1/bias', 'dense2/kernel', 'dense2/bias'] as const;
const NORM_NAMES = ['norm/mean', 'norm/std'] as const;

export interface FeatureStats {
  mean: Float32Array;
  std: Float32Array;
}

/** The classification head trained on the frozen features (Dense → ReLU → Dropout → Dense). */
export class DenseHead {
  private constructor(
    readonly config: HeadConfig,
    private readonly featMean: tf.Tensor1D,
    private readonly featStd: tf.Tensor1D,
    private readonly w1: tf.Variable,
    private readonly b1: tf.Variable,
    private readonly w2: tf.Variable,
    private readonly b2: tf.Variable,
  ) {}

  /** Glorot-uniform kernels and zero biases (Keras' Dense defaults), seeded. */
  static create(config: HeadConfig, stats: FeatureStats, seed: number): DenseHead {
    const glorot = (fanIn: number, fanOut: number, s: number) => {
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      return tf.randomUniform([fanIn, fanOut], -limit, limit, 'float32', s);
    };
    const init = tf.tidy(() => [
      glorot(config.inputDim, config.hidden, seed),
      tf.zeros([config.hidden]),
      glorot(config.hidden, config.classes, seed + 1),
      tf.zeros([config.classes]),
    ]);
    const [w1, b1, w2, b2] = init.map((t) => tf.variable(t));
    tf.dispose(init);
    return new DenseHead(config, tf.tensor1d(stats.mean), tf.tensor1d(stats.std), w1, b1, w2, b2);
  }

  static fromTensors(config: HeadConfig, weights: tf.NamedTensorMap): DenseHead {
    const get = (name: string, shape: number[]) => {
      const t = weights[name];
      if (!t) throw new Error(`head weights: missing '${name}'`);
      if (t.shape.join() !== shape.join()) throw new Error(`head weights: '${name}' has shape [${t.shape}], expected [${shape}]`);
      return t;
    };
    const { inputDim, hidden, classes } = config;
    const v = (name: string, shape: number[]) => tf.variable(get(name, shape), false);
    return new DenseHead(config, tf.clone(get(NORM_NAMES[0], [inputDim])) as tf.Tensor1D, tf.clone(get(NORM_NAMES[1], [inputDim])) as tf.Tensor1D,
      v(WEIGHT_NAMES[0], [inputDim, hidden]), v(WEIGHT_NAMES[1], [hidden]), v(WEIGHT_NAMES[2], [hidden, classes]), v(WEIGHT_NAMES[3], [classes]));
  }

  /** Logits for a [N, inputDim] batch; dropout only when `dropoutSeed` is given (training). */
  logits(features: tf.Tensor2D, dropoutSeed?: number): tf.Tensor2D {
    return tf.tidy(() => {
      const z = tf.div(tf.sub(features, this.featMean), this.featStd) as tf.Tensor2D;
      let h = tf.relu(tf.add(tf.matMul(z, this.w1), this.b1)) as tf.Tensor2D;
      if (dropoutSeed !== undefined && this.config.dropout > 0) h = tf.dropout(h, this.config.dropout, undefined, dropoutSeed) as tf.Tensor2D;
      return tf.add(tf.matMul(h, this.w2), this.b2) as tf.Tensor2D;
    });
  }

  /** The feature standardisation (still owned by this head: do not dispose). */
  normalisation(): { mean: tf.Tensor1D; std: tf.Tensor1D } {
    return { mean: this.featMean, std: this.featStd };
  }

  /** The trainable weights, in save order. */
  variables(): tf.Variable[] {
    return [this.w1, this.b1, this.w2, this.b2];
  }

  /** A copy of all weights (caller disposes): for saving, or the best epoch's for early stopping. */
  snapshot(): tf.NamedTensorMap {
    return {
      ...Object.fromEntries(this.variables().map((v, i) => [WEIGHT_NAMES[i], tf.clone(v)])),
      [NORM_NAMES[0]]: tf.clone(this.featMean),
      [NORM_NAMES[1]]: tf.clone(this.featStd),
    };
  }

  /** Set the weights from a snapshot (see snapshot()). */
  restore(weights: tf.NamedTensorMap): void {
    this.variables().forEach((v, i) => v.assign(weights[WEIGHT_NAMES[i]]));
  }

  /** Release the weights and the feature normalisation. */
  dispose(): void {
    tf.dispose([...this.variables(), this.featMean, this.featStd]);
  }
}

/** Per-feature mean and standard deviation of row-major [n, dim] features (std floored to stay finite). */
export function featureStats(features: Float32Array, dim: number): FeatureStats {
  const n = features.length / dim;
  const mean = new Float32Array(dim);
  const std = new Float32Array(dim);
  for (let r = 0; r < n; r++) for (let j = 0; j < dim; j++) mean[j] += features[r * dim + j] / n;
  for (let r = 0; r < n; r++) for (let j = 0; j < dim; j++) std[j] += (features[r * dim + j] - mean[j]) ** 2 / n;
  for (let j = 0; j < dim; j++) std[j] = Math.max(Math.sqrt(std[j]), 1e-6);
  return { mean, std };
}
