import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { imageToTensor, resizeBilinear, tensorToImage, type RgbImage } from '../../src/image/index.js';
import { createRandom } from '../../src/util/random.js';

before(async () => {
  await initEngine({ backend: 'cpu', strict: true });
});

function randomImage(h: number, w: number, seed: number): RgbImage {
  const rnd = createRandom(seed);
  const data = new Float32Array(h * w * 3);
  for (let i = 0; i < data.length; i++) data[i] = rnd.next() * 255;
  return { data, height: h, width: w };
}

test('resizeBilinear matches tf.image.resizeBilinear (halfPixelCenters) within 1e-3', async () => {
  const cases: [number, number, number, number][] = [
    [7, 9, 13, 5], // up in y, down in x
    [112, 112, 150, 150], // faces → backbone input
    [218, 178, 150, 150], // CelebA aligned → backbone input
    [5, 5, 2, 3],
    [1, 4, 3, 1],
    [6, 6, 17, 6], // one axis unchanged
  ];
  for (const [h, w, oh, ow] of cases) {
    const img = randomImage(h, w, h * 1000 + w);
    const ours = resizeBilinear(img, oh, ow);
    const x = imageToTensor(img);
    const y = tf.image.resizeBilinear(x, [oh, ow], false, true);
    const ref = await tensorToImage(y);
    x.dispose();
    y.dispose();
    assert.equal(ours.height, oh);
    assert.equal(ours.width, ow);
    let max = 0;
    for (let i = 0; i < ref.data.length; i++) max = Math.max(max, Math.abs(ours.data[i] - ref.data[i]));
    assert.ok(max < 1e-3, `${h}×${w} → ${oh}×${ow}: max abs difference ${max}`);
  }
});

test('resizeBilinear is the identity (same object) when the size matches', () => {
  const img = randomImage(4, 6, 1);
  assert.equal(resizeBilinear(img, 4, 6), img);
});

test('upscaling a constant image stays constant and a 2× upscale interpolates at quarter offsets', () => {
  const flat: RgbImage = { data: new Float32Array(2 * 2 * 3).fill(42), height: 2, width: 2 };
  assert.ok(resizeBilinear(flat, 5, 7).data.every((v) => Math.abs(v - 42) < 1e-5));
  // 1×2 row [0, 100] → 1×4: samples at x = -0.25, 0.25, 0.75, 1.25 → clamped 0, 25, 75, 100.
  const row: RgbImage = { data: Float32Array.from([0, 0, 0, 100, 100, 100]), height: 1, width: 2 };
  const out = resizeBilinear(row, 1, 4);
  assert.deepEqual(Array.from(out.data.filter((_, i) => i % 3 === 0)), [0, 25, 75, 100]);
});

test('resizeBilinear rejects bad sizes', () => {
  assert.throws(() => resizeBilinear(randomImage(2, 2, 3), 0, 4), /invalid target size 0×4/);
  assert.throws(() => resizeBilinear({ data: new Float32Array(5), height: 2, width: 2 }, 3, 3), /5 values for a 2×2×3 image/);
});
