/** A small differentiable classifier for attack tests: fixed random conv → global mean → linear. */
import * as tf from '@tensorflow/tfjs-core';
import { logitsLossGradient, type Classifier } from '../../src/models/classifier.js';

export interface ToyClassifier extends Classifier {
  /** Forward passes made (predict calls and gradient calls), per image. */
  readonly calls: { predict: number; gradient: number };
  dispose(): void;
}

export function toyClassifier(classes = 3): ToyClassifier {
  const filter = tf.randomNormal([3, 3, 3, 4], 0, 0.05, 'float32', 1) as tf.Tensor4D;
  const dense = tf.randomNormal([4, classes], 0, 1, 'float32', 2) as tf.Tensor2D;
  return counted(classes, (x) => tf.tidy(() => tf.matMul(tf.mean(tf.relu(tf.conv2d(tf.sub(x, 128) as tf.Tensor4D, filter, 1, 'same')), [1, 2]), dense) as tf.Tensor2D), [filter, dense]);
}

/**
 * A small MLP on the raw pixels of 12×12 images (432 → 16 → classes): random images get varied classes, and
 * every class is reachable within a moderate budget.
 */
export function mlpClassifier(classes = 5): ToyClassifier {
  const w1 = tf.randomNormal([12 * 12 * 3, 16], 0, 0.15, 'float32', 11) as tf.Tensor2D;
  const w2 = tf.randomNormal([16, classes], 0, 1, 'float32', 12) as tf.Tensor2D;
  return counted(
    classes,
    (x) => tf.tidy(() => tf.matMul(tf.relu(tf.matMul(tf.div(tf.sub(tf.reshape(x, [x.shape[0], -1]), 128), 128), w1)), w2) as tf.Tensor2D),
    [w1, w2],
  );
}

function counted(classes: number, logits: (x: tf.Tensor4D) => tf.Tensor2D, weights: tf.Tensor[]): ToyClassifier {
  const calls = { predict: 0, gradient: 0 };
  return {
    classes,
    calls,
    predict: async (x) => {
      calls.predict += x.shape[0];
      return logits(x);
    },
    lossGradient: async (x, labels) => {
      calls.gradient += x.shape[0];
      return logitsLossGradient(logits, x, labels);
    },
    dispose: () => tf.dispose(weights),
  };
}

export function toyImages(n: number, seed = 3, size = 12): tf.Tensor4D {
  return tf.randomUniform([n, size, size, 3], 0, 255, 'float32', seed) as tf.Tensor4D;
}
