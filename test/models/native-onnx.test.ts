import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ProjectedGradientDescent } from '../../src/attacks/index.js';
import { batches, listDataset } from '../../src/data/index.js';
import { initEngine } from '../../src/engine/backend.js';
import { loadOnnxRuntime } from '../../src/engine/onnx/runtime.js';
import { crossEntropy, FaceClassifier, newMeta, type Classifier } from '../../src/models/classifier.js';
import { DenseHead, featureStats } from '../../src/models/head.js';
import { accelerate, NativeClassifier } from '../../src/models/native.js';
import { OnnxBackbone } from '../../src/models/onnx-backbone.js';
import { relError } from '../helpers/numeric.js';
import { mobileFaceNetPath } from '../helpers/test-models.js';
import { tinyOnnx } from '../helpers/tiny-onnx.js';

const ort = await loadOnnxRuntime();
const skip = ort ? false : 'onnxruntime-node does not load on this platform';
const CLASSES = 4;

/**
 * `net` under a random paper head, its features centred on `x`'s and scaled by one common std (per-feature
 * stds of a few faces are tiny on some features and would amplify float rounding, not test the gradient).
 */
function withHead(net: OnnxBackbone, x: tf.Tensor4D): FaceClassifier {
  const f = net.features(x);
  const { mean, std } = featureStats(f.dataSync() as Float32Array, net.featureDim);
  f.dispose();
  const stats = { mean, std: new Float32Array(std.length).fill(Math.max(...std)) };
  const head = DenseHead.create({ inputDim: net.featureDim, hidden: 16, classes: CLASSES, dropout: 0.5 }, stats, 7);
  return new FaceClassifier(net, head, newMeta(['a', 'b', 'c', 'd'], { hidden: 16, dropout: 0.5 }, net, { kind: 'file', path: net.file, spec: {} }));
}

async function loss(c: Classifier, x: tf.Tensor4D, y: tf.Tensor1D): Promise<number> {
  const logits = await c.predict(x);
  const l = tf.tidy(() => crossEntropy(logits, y).dataSync()[0]);
  logits.dispose();
  return l;
}

/** Native logits and input gradient vs the TF.js model's, then PGD through the native loop; no tensor left behind. */
async function checkNative(model: FaceClassifier, x: tf.Tensor4D, what: string, logitsTol = 1e-4) {
  const before = tf.memory().numTensors;
  const native = await accelerate(model);
  assert.ok(native instanceof NativeClassifier, `${what}: a user backbone runs on the native engine`);
  const y = tf.tensor1d(Array.from({ length: x.shape[0] }, (_, i) => i % CLASSES), 'int32');
  const [ln, lt, gn, gt] = [await native.predict(x), await model.predict(x), await native.lossGradient(x, y), await model.lossGradient(x, y)];
  const logitsErr = relError(await ln.data(), await lt.data());
  const gradErr = relError(await gn.data(), await gt.data());
  process.stderr.write(`# ${what}: logits ${logitsErr.toExponential(2)}, gradient ${gradErr.toExponential(2)} relative\n`);
  assert.ok(logitsErr <= logitsTol, `${what}: logits relative error ${logitsErr}`);
  assert.ok(gradErr <= 1e-4, `${what}: gradient relative error ${gradErr}`);
  // PGD whole on ORT (pgdIterations): inside the ball, and the loss goes up.
  const pgd = new ProjectedGradientDescent({ eps: 4, eps_step: 1, max_iter: 5 });
  const labels = Array.from(await y.data());
  const adv = await pgd.generate(native, x, labels);
  const dist = tf.tidy(() => tf.abs(tf.sub(adv, x)).max().dataSync()[0]);
  assert.ok(dist <= 4 + 1e-3 && dist > 0, `${what}: PGD moved ${dist}`);
  const [l0, l1] = [await loss(native, x, y), await loss(native, adv, y)];
  assert.ok(l1 > l0, `${what}: PGD raised the loss (${l0} → ${l1})`);
  tf.dispose([y, ln, lt, gn, gt, adv]);
  await native.dispose();
  assert.equal(tf.memory().numTensors, before, `${what}: tensors`);
  return { logitsErr, gradErr };
}

test('user backbones: the native input gradient (ONNX differentiator on ORT) equals TF.js\'s; PGD runs on ORT', { skip }, async () => {
  await initEngine({ backend: 'cpu', strict: true });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'robustify-native-onnx-'));
  const net = await OnnxBackbone.open(await tinyOnnx(dir, { size: 11 }), { mean: 127.5, std: 128 });
  const x = tf.randomUniform([5, 11, 11, 3], 0, 255, 'float32', 3) as tf.Tensor4D;
  const model = withHead(net, x);
  await checkNative(model, x, 'tiny ONNX');
  tf.dispose(x);
  model.dispose();
  await fs.rm(dir, { recursive: true });
});

test('MobileFaceNet (TF.js graph model) + head: native input gradient equals TF.js\'s; PGD runs on ORT', { skip }, async () => {
  const file = await mobileFaceNetPath();
  if (!file) return;
  await initEngine({ backend: 'wasm', strict: true });
  // The scaling pinned (not the sidecar's training contract): this export's embedding barely varies with its
  // input (DEVELOPERS.md, "Test models"), and the head's standardisation amplifies the two engines' float32
  // rounding by how little; with (x − 127.5)/128 the gradients differ by 2.4e-3 relative, with ÷255 by < 1e-4.
  const net = await OnnxBackbone.open(file, { mean: 0, std: 255 });
  // Real faces: on noise the embedding barely varies, and the head's standardisation would amplify rounding.
  const listing = await listDataset(path.resolve('../shared/data/faces14'));
  const samples = listing.identities.slice(0, 4).map((id, label) => ({ file: id.files[0], identity: id.name, label }));
  const x = (await batches(samples, samples.length, { size: 112, chip: 'resize' }).next()).value!.x;
  const model = withHead(net, x);
  // Logits: ORT's and TF.js-wasm's float32 forwards differ in the last bits, which the head's standardisation
  // (small feature stds) amplifies to ~2e-4 of the logits; the gradients agree within 1e-4 all the same.
  await checkNative(model, x, 'MobileFaceNet', 1e-3);
  tf.dispose(x);
  model.dispose();
});
