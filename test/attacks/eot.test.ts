/** EOT: the gradient averaged over draws of stochastic defences, and evaluation over draws. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { ExpectationOverTransformation, ProjectedGradientDescent } from '../../src/attacks/index.js';
import { eotDrawSeed } from '../../src/attacks/eot.js';
import { buildPipeline } from '../../src/defences/index.js';
import { logitsLossGradient, predictLabels, type Classifier } from '../../src/models/classifier.js';
import { DefendedClassifier } from '../../src/models/defended.js';
import { drawSeed, majority, predictDraws, scoreDraws } from '../../src/models/draws.js';

/** A small nonlinear differentiable classifier for 16×16 inputs: tanh → 4×4 average pooling → linear, 3 classes. */
function toyClassifier(): Classifier & { dispose(): void } {
  const weights = tf.randomNormal([4 * 4 * 3, 3], 0, 1, 'float32', 1) as tf.Tensor2D;
  const logits = (x: tf.Tensor4D) =>
    tf.tidy(() => {
      const pooled = tf.avgPool(tf.tanh(tf.div(tf.sub(x, 128), 64)) as tf.Tensor4D, 4, 4, 'valid');
      return tf.matMul(tf.reshape(pooled, [x.shape[0], -1]), weights) as tf.Tensor2D;
    });
  return {
    classes: 3,
    predict: async (x) => logits(x),
    lossGradient: async (x, labels) => logitsLossGradient(logits, x, labels),
    dispose: () => weights.dispose(),
  };
}

test('EOT gradient = the mean of nb_samples defended gradients over distinct draws; seeded; no leaks', async () => {
  await initEngine({ backend: 'wasm', strict: true });
  const clf = toyClassifier();
  const pipeline = await buildPipeline('gauss:40,median:3');
  const defended = new DefendedClassifier(clf, pipeline, 5);
  const x = tf.randomUniform([2, 16, 16, 3], 0, 255, 'float32', 3) as tf.Tensor4D;
  const labels = tf.tensor1d([0, 2], 'int32');
  const before = tf.memory().numTensors;

  const eot = new ExpectationOverTransformation(defended, { nb_samples: 4, seed: 11 });
  const g = await eot.lossGradient(x, labels);
  const draws: Float32Array[] = [];
  for (let j = 0; j < 4; j++) {
    const d = await defended.lossGradientDraw(x, labels, eotDrawSeed(11, 0, j));
    draws.push((await d.data()) as Float32Array);
    d.dispose();
  }
  const got = await g.data();
  for (let i = 0; i < got.length; i += 97) {
    const mean = draws.reduce((s, d) => s + d[i], 0) / 4;
    assert.ok(Math.abs(got[i] - mean) <= 1e-5 * Math.max(1, Math.abs(mean)), `element ${i}: ${got[i]} vs ${mean}`);
  }
  for (let j = 1; j < 4; j++) assert.notDeepEqual(draws[j], draws[0], `draw ${j} equals draw 0`);

  // The same seed gives the same sequence of gradients; the next call draws anew.
  const again = new ExpectationOverTransformation(defended, { nb_samples: 4, seed: 11 });
  const g2 = await again.lossGradient(x, labels);
  assert.deepEqual(await g2.data(), got);
  const g3 = await again.lossGradient(x, labels);
  assert.notDeepEqual(await g3.data(), got);
  tf.dispose([g, g2, g3]);
  assert.equal(tf.memory().numTensors, before, 'tensors left behind by lossGradient');

  // PGD takes the EOT classifier unchanged, and leaks nothing either.
  const probs = await eot.predict(x);
  probs.dispose();
  const adv = await new ProjectedGradientDescent({ eps: 8, eps_step: 2, max_iter: 2 }).generate(new ExpectationOverTransformation(defended, { nb_samples: 2 }), x, [0, 2]);
  const linf = tf.tidy(() => tf.max(tf.abs(tf.sub(adv, x))).dataSync()[0]);
  assert.ok(linf <= 8 + 1e-4 && linf > 0, `linf ${linf}`);
  adv.dispose();
  assert.equal(tf.memory().numTensors, before, 'tensors left behind by predict / PGD');

  assert.throws(() => new ExpectationOverTransformation(defended, { nb_samples: 0 }), /eot: nb_samples must be a whole number ≥ 1, got 0/);
  tf.dispose([x, labels]);
  pipeline.dispose();
  clf.dispose();
});

test('evaluation over draws: draw 0 is the plain prediction, majority vote and share of wrong draws', async () => {
  await initEngine({ backend: 'wasm', strict: true });
  const clf = toyClassifier();
  const pipeline = await buildPipeline('gauss:80');
  const defended = new DefendedClassifier(clf, pipeline, 3);
  const x = tf.randomUniform([6, 16, 16, 3], 0, 255, 'float32', 4) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  const votes = await predictDraws(defended, x, 5);
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(votes.map((v) => v[0]), await predictLabels(defended, x), 'draw 0 = predict() with the seed');
  assert.equal(drawSeed(3, 0), 3);
  assert.ok(votes.every((v) => v.length === 5));

  assert.equal(majority([2, 1, 2, 1, 0]), 1, 'ties go to the smallest label');
  assert.equal(majority([2, 2, 0]), 2);
  const s = scoreDraws([[0, 0, 1], [1, 2, 2], [2, 2, 2]], [0, 1, 2]);
  assert.deepEqual(s, { draws: 3, accuracy: 2 / 3, wrong_draw_fraction: 3 / 9, unstable: 2 });
  await assert.rejects(predictDraws(defended, x, 0), /draws: the number of draws must be a whole number ≥ 1, got 0/);
  x.dispose();
  clf.dispose();
});
