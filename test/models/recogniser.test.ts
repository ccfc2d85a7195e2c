import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { loadOnnxRuntime } from '../../src/engine/onnx/runtime.js';
import { GalleryClassifier, VerificationClassifier, thresholdAtFar, goalLabels, ACCEPT } from '../../src/models/gallery.js';
import { accelerateGraph } from '../../src/models/native.js';
import { galleryHead } from '../../src/models/native-onnx.js';
import { OnnxBackbone } from '../../src/models/onnx-backbone.js';
import { resolveSpec, sidecarPath } from '../../src/models/recogniser.js';
import { relError } from '../helpers/numeric.js';
import { tinyOnnx } from '../helpers/tiny-onnx.js';

test('recogniser spec: presets, sidecar and flags layer; a declared size or layout that disagrees with the graph is one line', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'robustify-spec-'));
  const file = await tinyOnnx(dir);
  assert.equal(sidecarPath(file), path.join(dir, 'tiny.robustify.json'));
  await fs.writeFile(sidecarPath(file), JSON.stringify({ preset: 'arcface112', input_size: 9, channel_order: 'BGR' }));
  const spec = await resolveSpec(file, { std: 64 });
  assert.deepEqual([spec.input_size, spec.layout, spec.channel_order, spec.mean, spec.std, spec.alignment], [9, 'NCHW', 'BGR', 127.5, 64, 'arcface112']);
  await assert.rejects(resolveSpec(file, { preset: 'nope' }), /unknown preset 'nope' \(valid: arcface112, facenet160\)/);
  await assert.rejects(resolveSpec(file, { layout: 'NWHC' as 'NHWC' }), (e: Error) => e.message.startsWith(`recogniser '${file}': layout`));
  await fs.rm(sidecarPath(file));
  await assert.rejects(OnnxBackbone.open(file, { preset: 'arcface112' }), (e: Error) => e.message === `${file}: declared input_size 112 disagrees with graph input 'input' [?,3,9,9]`);
  await assert.rejects(OnnxBackbone.open(file, { layout: 'NHWC' }), (e: Error) => e.message === `${file}: declared layout NHWC disagrees with graph input 'input' [?,3,9,9]`);
  await fs.rm(dir, { recursive: true });
});

test('gallery threat models on a bare ONNX embedding net: identification (TF.js and native agree), verification at a FAR, dodging/impersonation labels', async () => {
  await initEngine({ backend: 'cpu', strict: true });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'robustify-gallery-'));
  const net = await OnnxBackbone.open(await tinyOnnx(dir), { mean: 127.5, std: 128 });
  const before = tf.memory().numTensors;
  assert.deepEqual([net.inputSize, net.spec.layout, net.featureDim], [9, 'NCHW', 4]);
  const x = tf.randomUniform([5, 9, 9, 3], 0, 255, 'float32', 3) as tf.Tensor4D;
  const enrol = tf.randomUniform([3, 9, 9, 3], 0, 255, 'float32', 4) as tf.Tensor4D;
  const g = net.descriptor(enrol);
  for (const metric of ['euclidean', 'cosine'] as const) {
    const id = new GalleryClassifier(net, g, { metric, temperature: 0.05 });
    const logits = await id.predict(x);
    const labels = tf.tensor1d([0, 1, 2, 0, 1], 'int32');
    const grad = await id.lossGradient(x, labels);
    assert.equal(grad.shape.join(), x.shape.join());
    assert.ok(tf.tidy(() => tf.abs(grad).max().dataSync()[0]) > 0);
    labels.dispose();
    const ort = await loadOnnxRuntime();
    if (ort) {
      const native = await accelerateGraph(ort, net, galleryHead(g.dataSync() as Float32Array, 3, metric, 0.05), id.classes);
      const nl = await native.predict(x);
      assert.ok(relError(await nl.data(), await logits.data()) < 1e-5, `${metric}: native vs TF.js`);
      nl.dispose();
      await native.dispose();
    }
    tf.dispose([logits, grad]);
    id.dispose();
  }
  // Verification: τ at FAR 0.25 over 4 impostor distances lets exactly one impostor in.
  const t = thresholdAtFar([0.9, 0.2, 0.5, 0.7], 0.25, [0.1, 0.6, 0.3]);
  assert.deepEqual(t, { threshold: 0.5, far: 0.25, tar: 2 / 3 });
  const ref = tf.slice(g, [0, 0], [1, -1]);
  const v = new VerificationClassifier(net, ref, 1e9);
  const vl = await v.predict(enrol);
  assert.deepEqual(Array.from(tf.tidy(() => tf.argMax(vl, 1).dataSync())), [ACCEPT, ACCEPT, ACCEPT]);
  tf.dispose([vl, ref]);
  v.dispose();
  assert.deepEqual(goalLabels('dodging', [1, 2]), { y: [1, 2], targeted: false });
  assert.deepEqual(goalLabels('impersonation', [1, 2], [0, 0]), { y: [0, 0], targeted: true });
  assert.throws(() => goalLabels('impersonation', [1, 2]), /one target per probe/);
  tf.dispose([x, enrol, g]);
  assert.equal(tf.memory().numTensors, before);
  net.dispose();
  await fs.rm(dir, { recursive: true });
});
