import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { FaceRecognitionNet, POOLED_DIM } from '../../src/models/backbone.js';
import { FaceClassifier, newMeta, predictLabels } from '../../src/models/classifier.js';
import { predictAll } from '../../src/models/evaluate.js';
import { DenseHead, featureStats } from '../../src/models/head.js';
import { trainHead, DEFAULT_TRAIN_HEAD, type FeatureSet } from '../../src/models/train.js';

/** Three well-separated Gaussian blobs in feature space. */
function blobs(n: number, seed: number): FeatureSet {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;
  const features = new Float32Array(n * POOLED_DIM);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 3;
    for (let j = 0; j < POOLED_DIM; j++) features[i * POOLED_DIM + j] = 1 + 0.1 * rnd() + (j % 3 === labels[i] ? 0.2 : 0);
  }
  return { features, labels };
}

test('head training learns separable features, reproducibly, and restores the best epoch', async () => {
  await initEngine({ backend: 'wasm', strict: true });
  const opts = { ...DEFAULT_TRAIN_HEAD, hidden: 32, maxEpochs: 4, patience: 2, seed: 5 };
  const a = await trainHead(blobs(60, 1), blobs(15, 2), 3, opts);
  const b = await trainHead(blobs(60, 1), blobs(15, 2), 3, opts);
  assert.ok(a.history.at(-1)!.val_accuracy! > 0.9, JSON.stringify(a.history));
  assert.deepEqual(a.history, b.history);
  const best = Math.min(...a.history.map((h) => h.val_loss!));
  assert.equal(a.history[a.bestEpoch - 1].val_loss, best);
  a.head.dispose();
  b.head.dispose();
});

test('classifier saves and loads, predicts the same, and leaks no tensors across batches', async () => {
  await initEngine({ backend: 'wasm', strict: true });
  const stats = featureStats(blobs(30, 3).features, POOLED_DIM);
  const head = DenseHead.create({ inputDim: POOLED_DIM, hidden: 16, classes: 3, dropout: 0.5 }, stats, 9);
  const model = new FaceClassifier(await FaceRecognitionNet.load(), head, newMeta(['a', 'b', 'c'], { hidden: 16, dropout: 0.5 }));
  const x = tf.randomUniform([4, 112, 112, 3], 0, 255, 'float32', 4) as tf.Tensor4D;
  const before = await predictLabels(model, x);

  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'robustify-model-'));
  await model.saveTo(dir);
  const loaded = await FaceClassifier.load(dir);
  assert.deepEqual(await predictLabels(loaded, x), before);
  assert.deepEqual(loaded.identities, ['a', 'b', 'c']);

  async function* source() {
    for (let i = 0; i < 3; i++) yield { x, labels: [0, 1, 2, 0] };
  }
  await predictAll(loaded, source());
  const tensors = tf.memory().numTensors;
  const preds = await predictAll(loaded, source());
  assert.equal(preds.yPred.length, 12);
  assert.equal(tf.memory().numTensors, tensors, 'numTensors grew while evaluating batches');

  const labels = tf.tensor1d([0, 1, 2, 0], 'int32');
  const g = await loaded.lossGradient(x, labels);
  assert.deepEqual(g.shape, x.shape);
  tf.dispose([g, labels]);
  await assert.rejects(FaceClassifier.load(path.join(dir, 'missing')), (e) => e instanceof Error && e.message.startsWith('model: no model at'));
  tf.dispose(x);
  model.dispose();
  loaded.dispose();
});

test('the classifier\'s input gradient on wasm equals the cpu backend\'s (≤ 1e-3 relative)', async (t) => {
  const stats = featureStats(blobs(30, 3).features, POOLED_DIM);
  const x = new Float32Array(150 * 150 * 3).map((_, i) => (i * 7919) % 256);
  const gradOn = async (backend: 'wasm' | 'cpu') => {
    await initEngine({ backend, strict: true });
    const head = DenseHead.create({ inputDim: POOLED_DIM, hidden: 16, classes: 3, dropout: 0.5 }, stats, 9);
    const model = new FaceClassifier(await FaceRecognitionNet.load(), head, newMeta(['a', 'b', 'c'], { hidden: 16, dropout: 0.5 }));
    const xt = tf.tensor4d(x, [1, 150, 150, 3]);
    const labels = tf.tensor1d([1], 'int32');
    const g = await model.lossGradient(xt, labels);
    const data = Float32Array.from(await g.data());
    tf.dispose([xt, labels, g]);
    model.dispose();
    return data;
  };
  const wasm = await gradOn('wasm');
  const cpu = await gradOn('cpu');
  await initEngine({ backend: 'wasm', strict: true });
  let maxRef = 0;
  let maxDiff = 0;
  for (let i = 0; i < cpu.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(cpu[i]));
    maxDiff = Math.max(maxDiff, Math.abs(cpu[i] - wasm[i]));
  }
  t.diagnostic(`input gradient wasm vs cpu: max |Δ| / max |g| = ${(maxDiff / maxRef).toExponential(2)}`);
  assert.ok(maxRef > 0);
  assert.ok(maxDiff / maxRef <= 1e-3, `relative error ${maxDiff / maxRef}`);
});
