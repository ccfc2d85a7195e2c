import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ProjectedGradientDescent } from '../../src/attacks/index.js';
import { initEngine } from '../../src/engine/backend.js';
import { loadOnnxRuntime } from '../../src/engine/onnx/runtime.js';
import { batches, listDataset } from '../../src/data/index.js';
import { BACKBONE_INPUT_SIZE, FaceRecognitionNet, POOLED_DIM } from '../../src/models/backbone.js';
import { FaceClassifier, newMeta, predictLabels, type Classifier } from '../../src/models/classifier.js';
import { DenseHead, featureStats } from '../../src/models/head.js';
import { NativeClassifier, accelerate } from '../../src/models/native.js';
import { relError } from '../helpers/numeric.js';

const FACES14 = path.resolve('../shared/data/faces14');
const ort = await loadOnnxRuntime();
const skip = ort ? false : 'onnxruntime-node does not load on this platform';
const CLASSES = 5;


/** Six faces of faces14 (112×112, two per identity) and their identity indices. */
async function faces(): Promise<{ x: tf.Tensor4D; labels: number[] }> {
  const listing = await listDataset(FACES14);
  const samples = listing.identities.slice(0, 3).flatMap((id, label) => id.files.slice(0, 2).map((file) => ({ file, identity: id.name, label })));
  // As stored (112×112), so that the classifiers' own resize to 150×150 is part of what is compared.
  const { value } = await batches(samples, samples.length, { size: 112, chip: 'resize' }).next();
  return { x: value!.x, labels: value!.labels };
}

/** The real backbone under a random head, standardised on the pooled features of `x` (a realistic regime). */
async function randomHeadModel(x: tf.Tensor4D): Promise<FaceClassifier> {
  const backbone = await FaceRecognitionNet.load();
  const pooled = tf.tidy(() => backbone.pooled(tf.image.resizeBilinear(x, [BACKBONE_INPUT_SIZE, BACKBONE_INPUT_SIZE], false, true)));
  const stats = featureStats((await pooled.data()) as Float32Array, POOLED_DIM);
  pooled.dispose();
  const head = DenseHead.create({ inputDim: POOLED_DIM, hidden: 32, classes: CLASSES, dropout: 0.5 }, stats, 17);
  return new FaceClassifier(backbone, head, newMeta(['a', 'b', 'c', 'd', 'e'], { hidden: 32, dropout: 0.5 }));
}

async function compare(native: Classifier, model: Classifier, x: tf.Tensor4D, labels: number[], what: string) {
  const y = tf.tensor1d(labels, 'int32');
  const [ln, lt, gn, gt] = [await native.predict(x), await model.predict(x), await native.lossGradient(x, y), await model.lossGradient(x, y)];
  assert.deepEqual(ln.shape, [x.shape[0], CLASSES], what);
  assert.deepEqual(gn.shape, x.shape, what);
  const logitsErr = relError(await ln.data(), await lt.data());
  const gradErr = relError(await gn.data(), await gt.data());
  tf.dispose([y, ln, lt, gn, gt]);
  assert.ok(logitsErr <= 1e-4, `${what}: logits relative error ${logitsErr}`);
  assert.ok(gradErr <= 1e-3, `${what}: gradient relative error ${gradErr}`);
  return { logitsErr, gradErr };
}

test('native classifier: logits and input gradient equal the TF.js (wasm) classifier\'s on real faces', { skip }, async (t) => {
  await initEngine({ backend: 'wasm', strict: true });
  const { x, labels } = await faces();
  const model = await randomHeadModel(x);
  const x150 = tf.image.resizeBilinear(x, [BACKBONE_INPUT_SIZE, BACKBONE_INPUT_SIZE], false, true);
  const noise = tf.randomUniform([3, BACKBONE_INPUT_SIZE, BACKBONE_INPUT_SIZE, 3], 0, 255, 'float32', 5) as tf.Tensor4D;
  const native = await NativeClassifier.create(ort!, model);
  const cases: Array<[string, tf.Tensor4D, number[]]> = [
    ['150×150 faces, batch 1', tf.slice(x150, 0, 1), labels.slice(0, 1)],
    ['150×150 faces, batch 3', tf.slice(x150, 1, 3), labels.slice(1, 4)],
    ['112×112 faces (resized in TF.js), batch 3', tf.slice(x, 3, 3), labels.slice(3, 6)],
    ['uniform noise, batch 3', noise, [4, 0, 2]],
  ];
  for (const [what, xs, ys] of cases) {
    const { logitsErr, gradErr } = await compare(native, model, xs, ys, what);
    t.diagnostic(`${what}: logits ${logitsErr.toExponential(1)}, gradient ${gradErr.toExponential(1)}`);
    if (xs !== noise) xs.dispose();
  }
  await native.dispose();
  tf.dispose([x, x150, noise]);
  model.dispose();
});

test('native classifier: no tensors leak across calls; PGD finds the same adversarial predictions as TF.js', { skip }, async (t) => {
  await initEngine({ backend: 'wasm', strict: true });
  const { x, labels } = await faces();
  const model = await randomHeadModel(x);
  const native = await NativeClassifier.create(ort!, model);
  assert.equal(native.classes, CLASSES);
  const y = tf.tensor1d(labels, 'int32');
  const call = async () => tf.dispose([await native.predict(x), await native.lossGradient(x, y)]);
  await call();
  const before = tf.memory().numTensors;
  await call();
  await call();
  assert.equal(tf.memory().numTensors, before, 'numTensors grew across native calls');

  // Attack towards the head's own predictions so every face starts correctly "classified".
  const clean = await predictLabels(model, x);
  const attack = new ProjectedGradientDescent({ eps: 4, eps_step: 1, max_iter: 4, batch_size: 3 });
  const advNative = await attack.generate(native, x, clean);
  const advTfjs = await attack.generate(model, x, clean);
  const predNative = await predictLabels(model, advNative);
  assert.deepEqual(predNative, await predictLabels(model, advTfjs));
  assert.deepEqual(await predictLabels(native, advNative), predNative);
  assert.notDeepEqual(predNative, clean, 'the attack changed no prediction: nothing compared');
  // Pixels whose gradient is ~0 may take the other sign; on average the two attacks must stay close (eps 4).
  const meanDiff = tf.tidy(() => tf.mean(tf.abs(tf.sub(advNative, advTfjs))).dataSync()[0]);
  t.diagnostic(`mean |adv native − adv TF.js| = ${meanDiff.toFixed(4)}`);
  assert.ok(meanDiff < 0.1, `mean |adv native − adv TF.js| = ${meanDiff}`);
  tf.dispose([x, y, advNative, advTfjs]);
  await native.dispose();
  model.dispose();
});

test('accelerate: native when onnxruntime-node loads, the TF.js model itself with ROBUSTIFY_NATIVE=0', { skip }, async () => {
  await initEngine({ backend: 'wasm', strict: true });
  const x = tf.zeros([1, 8, 8, 3]) as tf.Tensor4D;
  const model = await randomHeadModel(x);
  const fast = await accelerate(model);
  assert.ok(fast instanceof NativeClassifier);
  const gray = tf.zeros([1, 150, 150, 1]) as tf.Tensor4D;
  await assert.rejects(fast.predict(gray), /input must be an NHWC batch of RGB images \[N,H,W,3\], got \[1,150,150,1\]/);
  const twoLabels = tf.tensor1d([0, 1], 'int32');
  await assert.rejects(fast.lossGradient(x, twoLabels), /2 labels for 1 images/);
  tf.dispose([gray, twoLabels]);
  await fast.dispose();
  process.env.ROBUSTIFY_NATIVE = '0';
  try {
    assert.equal(await accelerate(model), model);
  } finally {
    delete process.env.ROBUSTIFY_NATIVE;
  }
  x.dispose();
  model.dispose();
});
