import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { imagesToBatch, imageToTensor, tensorToImage, type RgbImage } from '../../src/image/index.js';

before(async () => {
  await initEngine({ backend: 'wasm' });
});

function image(h: number, w: number, offset: number): RgbImage {
  return { data: Float32Array.from({ length: h * w * 3 }, (_, i) => i + offset), height: h, width: w };
}

test('image → tensor → image round trip, without leaking tensors', async () => {
  const before = tf.memory().numTensors;
  const img = image(3, 4, 0.5);
  const t = imageToTensor(img);
  assert.deepEqual(t.shape, [3, 4, 3]);
  const back = await tensorToImage(t);
  t.dispose();
  assert.deepEqual(back, img);
  assert.equal(tf.memory().numTensors, before);
});

test('imagesToBatch stacks in order and tensorToImage reads one element back', async () => {
  const before = tf.memory().numTensors;
  const imgs = [image(2, 3, 0), image(2, 3, 100), image(2, 3, 200)];
  const batch = imagesToBatch(imgs);
  assert.deepEqual(batch.shape, [3, 2, 3, 3]);
  for (let i = 0; i < imgs.length; i++) assert.deepEqual(await tensorToImage(batch, i), imgs[i]);
  await assert.rejects(tensorToImage(batch, 3), /index 3 outside a batch of 3/);
  batch.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('the tensor does not alias the image, nor the image the tensor', async () => {
  const img = image(1, 2, 0);
  const t = imageToTensor(img);
  img.data[0] = 999;
  const back = await tensorToImage(t);
  assert.equal(back.data[0], 0);
  back.data[1] = 999;
  assert.equal((await t.data())[1], 1);
  t.dispose();
});

test('imagesToBatch refuses mixed sizes and empty lists', () => {
  assert.throws(() => imagesToBatch([image(2, 2, 0), image(2, 3, 0)]), /image 1 is 2×3, image 0 is 2×2/);
  assert.throws(() => imagesToBatch([]), /no images/);
});
