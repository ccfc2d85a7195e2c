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
