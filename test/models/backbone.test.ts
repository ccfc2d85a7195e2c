import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createRequire } from 'node:module';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { FaceRecognitionNet, faceApiModelDir, BACKBONE_INPUT_SIZE } from '../../src/models/backbone.js';
import { loadWeightsManifest } from '../../src/models/weights.js';

interface FaceApi {
  nets: {
    faceRecognitionNet: {
      loadFromWeightMap(w: tf.NamedTensorMap): void;
      computeFaceDescriptor(x: tf.Tensor4D): Promise<Float32Array | Float32Array[]>;
      dispose(): void;
    };
  };
}

const FACE = path.resolve('../shared/data/faces14/Hugh_Laurie/000.png');

async function faceBatch(): Promise<tf.Tensor4D> {
  const { data } = await sharp(FACE).resize(BACKBONE_INPUT_SIZE, BACKBONE_INPUT_SIZE).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return tf.tensor4d(Float32Array.from(data), [1, BACKBONE_INPUT_SIZE, BACKBONE_INPUT_SIZE, 3]);
}

test('descriptor equals face-api\'s own within 1e-4 (wasm)', async (t) => {
  await initEngine({ backend: 'wasm', strict: true });
  // face-api's node-wasm build takes tfjs from our install (same tfjs-core instance, same backend).
  const faceapi = createRequire(import.meta.url)('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApi;
  const ours = await FaceRecognitionNet.load();
  const x = await faceBatch();
  const raw = await loadWeightsManifest(path.join(faceApiModelDir(), 'face_recognition_model-weights_manifest.json'));
  faceapi.nets.faceRecognitionNet.loadFromWeightMap(raw);
  const theirs = (await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(x)) as Float32Array;
  const mine = ours.descriptor(x);
  const a = await mine.data();
  assert.equal(a.length, 128);
  let maxAbs = 0;
  for (let i = 0; i < 128; i++) maxAbs = Math.max(maxAbs, Math.abs(a[i] - theirs[i]));
  t.diagnostic(`descriptor max |Δ| vs face-api = ${maxAbs.toExponential(2)}`);
  assert.ok(maxAbs <= 1e-4, `max |Δ| = ${maxAbs}`);
  tf.dispose([mine, x]);
  faceapi.nets.faceRecognitionNet.dispose();
  ours.dispose();
});

test('backbone forward leaves no tensors behind and is the same on cpu', async () => {
  await initEngine({ backend: 'wasm', strict: true });
  const net = await FaceRecognitionNet.load();
  const x = await faceBatch();
  const before = tf.memory().numTensors;
  const { pooled, descriptor } = net.predict(x);
  assert.deepEqual(pooled.shape, [1, 256]);
  assert.deepEqual(descriptor.shape, [1, 128]);
  const wasmDesc = await descriptor.data();
  tf.dispose([pooled, descriptor]);
  assert.equal(tf.memory().numTensors, before);
  const xData = await x.data();
  tf.dispose(x);
  net.dispose();

  await initEngine({ backend: 'cpu', strict: true });
  const cpuNet = await FaceRecognitionNet.load();
  const xc = tf.tensor4d(xData, [1, BACKBONE_INPUT_SIZE, BACKBONE_INPUT_SIZE, 3]);
  const cpuDesc = await cpuNet.descriptor(xc).data();
  let maxAbs = 0;
  for (let i = 0; i < 128; i++) maxAbs = Math.max(maxAbs, Math.abs(wasmDesc[i] - cpuDesc[i]));
  assert.ok(maxAbs <= 1e-4, `wasm vs cpu max |Δ| = ${maxAbs}`);
  tf.dispose(xc);
  cpuNet.dispose();
  await initEngine({ backend: 'wasm', strict: true });
});

test('inferFeatures (onnxruntime where it loads) equals features on TF.js; release frees its session, the next call builds it again', async (t) => {
  await initEngine({ backend: 'wasm', strict: true });
  const net = await FaceRecognitionNet.load();
  const one = await faceBatch();
  const x = tf.concat([one, tf.reverse(one, 2)]) as tf.Tensor4D;
  const reference = net.features(x);
  const expected = await reference.data();
  const before = tf.memory().numTensors;
  for (const round of [0, 1]) {
    const f = await net.inferFeatures(x);
    assert.deepEqual(f.shape, [2, 256]);
    const got = (await f.data()) as Float32Array;
    f.dispose();
    const maxAbs = got.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i])), 0);
    if (round === 0) t.diagnostic(`pooled features max |Δ| native vs TF.js = ${maxAbs.toExponential(2)}`);
    assert.ok(maxAbs <= 1e-4, `max |Δ| = ${maxAbs}`);
    await net.release();
  }
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([one, x, reference]);
  net.dispose();
});
