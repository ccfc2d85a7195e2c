import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { DenseHead, featureStats } from '../../src/models/head.js';
import { DenseSgd } from '../../src/models/head-sgd.js';
import { createRandom } from '../../src/util/random.js';
import { relError } from '../helpers/numeric.js';

const D = 24;
const H = 40;
const K = 5;

/** TF.js's SGD step on the head with an explicit dropout mask per sample (1 = kept): the reference. */
function tfStep(head: DenseHead, x: tf.Tensor2D, labels: number[], masks: Float32Array, lr: number): number {
  const [w1, b1, w2, b2] = head.variables();
  const { mean, std } = head.normalisation();
  const keep = 1 / (1 - head.config.dropout);
  const optimizer = tf.train.sgd(lr);
  const loss = optimizer.minimize(() => {
    const z = tf.div(tf.sub(x, mean), std);
    const h = tf.mul(tf.relu(tf.add(tf.matMul(z, w1), b1)), tf.mul(tf.tensor2d(masks, [labels.length, H]), keep));
    const logits = tf.add(tf.matMul(h, w2), b2) as tf.Tensor2D;
    return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, K), logits) as tf.Scalar;
  }, true, head.variables())!;
  optimizer.dispose();
  const value = loss.dataSync()[0];
  loss.dispose();
  return value;
}

test('dense SGD step: the same loss and updated weights as TF.js minimize (dropout mask replayed, batch 1 and 3)', async (t) => {
  await initEngine({ backend: 'wasm', strict: true });
  const before = tf.memory().numTensors;
  const rnd = createRandom(3);
  const features = Float32Array.from({ length: 3 * D }, () => 2 + rnd.normal());
  const labels = [1, 4, 0];
  const stats = featureStats(features, D);
  const cases: Array<[number[], number]> = [[[2], 0.5], [[0, 1, 2], 0.5], [[0, 1, 2], 0]];
  for (const [rows, dropout] of cases) {
    const config = { inputDim: D, hidden: H, classes: K, dropout };
    const ours = DenseHead.create(config, stats, 11);
    const ref = DenseHead.create(config, stats, 11);
    const initial = ref.variables().map((v) => Float32Array.from(v.dataSync()));
    const sgd = new DenseSgd(ours);
    const set = sgd.standardise({ features, labels: Int32Array.from(labels) });
    const loss = sgd.step(set, rows, 0.1, createRandom(7));
    sgd.writeTo(ours);
    // The same draws, in the same order (sample by sample, unit by unit), as the step's dropout.
    const draw = createRandom(7);
    const masks = Float32Array.from({ length: rows.length * H }, () => Number(!(dropout > 0 && draw.next() < dropout)));
    const x = tf.tensor2d(features.filter((_, i) => rows.includes(Math.floor(i / D))), [rows.length, D]);
    const refLoss = tfStep(ref, x, rows.map((r) => labels[r]), masks, 0.1);
    x.dispose();
    assert.ok(Math.abs(loss - refLoss) <= 1e-5 * Math.abs(refLoss), `loss ${loss} vs TF.js ${refLoss}`);
    // The updates compared (the weights themselves would hide an error in them).
    const update = (v: tf.Variable, i: number) => Float32Array.from(v.dataSync(), (w, j) => w - initial[i][j]);
    ours.variables().forEach((v, i) => {
      const err = relError(update(v, i), update(ref.variables()[i], i));
      t.diagnostic(`rows [${rows}], dropout ${dropout}: ${['dense1/kernel', 'dense1/bias', 'dense2/kernel', 'dense2/bias'][i]}: relative error ${err.toExponential(1)}`);
      assert.ok(err <= 1e-4, `variable ${i}: relative error ${err}`);
    });
    ours.dispose();
    ref.dispose();
  }
  assert.equal(tf.memory().numTensors, before, 'numTensors grew');
});

test('dense SGD score: the loss and accuracy of the head\'s own TF.js logits', async () => {
  await initEngine({ backend: 'wasm', strict: true });
  const rnd = createRandom(4);
  const features = Float32Array.from({ length: 9 * D }, () => rnd.normal());
  const labels = Int32Array.from({ length: 9 }, (_, i) => i % K);
  const head = DenseHead.create({ inputDim: D, hidden: H, classes: K, dropout: 0.5 }, featureStats(features, D), 2);
  const sgd = new DenseSgd(head);
  const score = sgd.score(sgd.standardise({ features, labels }));
  const [loss, pred] = tf.tidy(() => {
    const logits = head.logits(tf.tensor2d(features, [9, D]));
    return [tf.losses.softmaxCrossEntropy(tf.oneHot(Array.from(labels), K), logits).dataSync()[0], Array.from(tf.argMax(logits, 1).dataSync())];
  });
  assert.ok(Math.abs(score.loss - loss) <= 1e-5 * loss, `loss ${score.loss} vs ${loss}`);
  assert.equal(score.accuracy, pred.filter((p, i) => p === labels[i]).length / 9);
  head.dispose();
});
