/** The batch layout of the JPEG defence: geometry, and batched round trips against one JPEG per image. */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { jpegRoundTrip } from '../../src/defences/jpeg.js';
import { stackImages, stackLayout, unstackImage } from '../../src/defences/jpeg-stack.js';
import { decodeImage, resizeBilinear } from '../../src/image/index.js';
import { createRandom } from '../../src/util/random.js';
import { VECTORS } from './vectors.js';

let faces: Float32Array[] = [];

before(async () => {
  faces = await Promise.all([0, 1, 2, 3].map(async (k) => (await decodeImage(path.join(VECTORS, `in0${k}.png`))).data));
});

/** The four vector faces resized to h×w, then four noisy copies (non-integer values, clipped dark and bright areas). */
function batch(h: number, w: number, seed: number): Float32Array {
  const rng = createRandom(seed);
  const one = h * w * 3;
  const out = new Float32Array(8 * one);
  faces.forEach((data, k) => {
    const img = resizeBilinear({ data, height: 112, width: 112 }, h, w).data;
    out.set(img, k * one);
    for (let i = 0; i < one; i++) out[(k + 4) * one + i] = img[i] * 1.6 - 60 + rng.normal(0, 6);
  });
  return out;
}

/** Each image of the batch through its own JPEG (a batch of one is never stacked). */
async function ownJpegs(src: Float32Array, [n, h, w, c]: [number, number, number, number], quality: number): Promise<Float32Array> {
  const out = new Float32Array(src.length);
  const one = h * w * c;
  for (let i = 0; i < n; i++) out.set(await jpegRoundTrip(src.subarray(i * one, (i + 1) * one), [1, h, w, c], quality), i * one);
  return out;
}

test('layout: slots start on MCU rows, with mirrors where the decoder reads across the boundary', () => {
  assert.deepEqual(stackLayout(150, 3, 32), { height: 150, top: 16, body: 160, bottom: 0, slot: 176 });
  assert.deepEqual(stackLayout(112, 3, 4), { height: 112, top: 16, body: 112, bottom: 16, slot: 144 });
  assert.deepEqual(stackLayout(150, 1, 5), { height: 150, top: 0, body: 152, bottom: 0, slot: 152 });
  assert.deepEqual(stackLayout(150, 3, 1), { height: 150, top: 0, body: 150, bottom: 0, slot: 150 });
});

test('stackImages puts each image in its slot, mirrors above and below, padding from its last rows', () => {
  const h = 32;
  const w = 3;
  const rowBytes = w * 3;
  const layout = stackLayout(h, 3, 2);
  const imgs = [0, 1].map((i) => Uint8ClampedArray.from({ length: h * rowBytes }, (_, k) => (k * 7 + i * 50) % 256));
  const stack = stackImages(2, rowBytes, layout, 3, (i, rows) => rows.set(imgs[i]));
  assert.equal(stack.length, 2 * layout.slot * rowBytes);
  const row = (i: number, r: number) => Array.from(stack.subarray((i * layout.slot + r) * rowBytes, (i * layout.slot + r + 1) * rowBytes));
  const own = (i: number, r: number) => Array.from(imgs[i].subarray(r * rowBytes, (r + 1) * rowBytes));
  for (const i of [0, 1]) {
    assert.deepEqual(Array.from(unstackImage(stack, rowBytes, layout, i)), Array.from(imgs[i]));
    for (let r = 0; r < 16; r++) {
      assert.deepEqual(row(i, 15 - r), own(i, r), `top mirror row ${r}`);
      assert.deepEqual(row(i, layout.top + h + r), own(i, h - 1 - r), `bottom mirror row ${r}`);
    }
  }
  // Odd height: copies of the last row down to the MCU row's end.
  const odd = stackLayout(21, 3, 2);
  const img = Uint8ClampedArray.from({ length: 21 * rowBytes }, (_, k) => k % 256);
  const s2 = stackImages(2, rowBytes, odd, 3, (_, rows) => rows.set(img));
  for (let r = 21; r < odd.body; r++) {
    assert.deepEqual(Array.from(s2.subarray((odd.top + r) * rowBytes, (odd.top + r + 1) * rowBytes)), Array.from(img.subarray(20 * rowBytes)));
  }
});

test('even height: padding pairs keep the last row\'s luma and the last two rows\' colour sums', () => {
  // 150 rows: rows 150–151 share the last luma block, rows 152–159 only feed chroma.
  const h = 150;
  const w = 4;
  const rowBytes = w * 3;
  const layout = stackLayout(h, 3, 2);
  const img = new Uint8ClampedArray(h * rowBytes);
  const last = [90, 120, 60, 10, 20, 30, 200, 100, 50, 0, 0, 0];
  const prev = [100, 110, 80, 30, 10, 40, 190, 120, 40, 30, 0, 0];
  img.set(prev, (h - 2) * rowBytes);
  img.set(last, (h - 1) * rowBytes);
  const stack = stackImages(2, rowBytes, layout, 3, (_, rows) => rows.set(img));
  const body = (r: number) => Array.from(stack.subarray((layout.top + r) * rowBytes, (layout.top + r + 1) * rowBytes));
  // libjpeg's RGB → Y (jccolor.c): weights 0.299, 0.587, 0.114 scaled by 2^16, rounded.
  const luma = (p: number[]) => (19595 * p[0] + 38470 * p[1] + 7471 * p[2] + 32768) >> 16;
  assert.deepEqual(body(150), last);
  const pair = body(151);
  for (let x = 0; x < w; x++) {
    const got = pair.slice(3 * x, 3 * x + 3);
    assert.equal(luma(got), luma(last.slice(3 * x, 3 * x + 3)), `pixel ${x}: the last row's luma`);
    const d = luma(last.slice(3 * x, 3 * x + 3)) - luma(prev.slice(3 * x, 3 * x + 3));
    const shifted = prev.slice(3 * x, 3 * x + 3).map((v) => v + d);
    // The last pixel (dark red above black) cannot be shifted within 0–255: the nearest colour at that luma.
    if (x < 3) assert.deepEqual(got, shifted, `pixel ${x}: the same shift on R, G and B`);
    else assert.ok(shifted.some((v) => v < 0) && got[0] > got[1], `pixel ${x}: ${got}`);
  }
  for (let r = 152; r < 160; r += 2) {
    assert.deepEqual(body(r), prev);
    assert.deepEqual(body(r + 1), last);
  }
});

for (const [h, w] of [[112, 112], [151, 150], [160, 144], [17, 20]] as const) {
  test(`RGB ${h}×${w}: a batch equals one JPEG per image exactly`, async () => {
    const src = batch(h, w, h);
    for (const q of [10, 50, 90]) {
      const got = await jpegRoundTrip(src, [8, h, w, 3], q);
      assert.deepEqual(got, await ownJpegs(src, [8, h, w, 3], q), `q${q}`);
    }
  });
}

test('greyscale (non-RGB channels): a batch equals one JPEG per image and channel exactly', async () => {
  const rng = createRandom(5);
  const shape: [number, number, number, number] = [3, 150, 150, 2];
  const src = Float32Array.from({ length: 3 * 150 * 150 * 2 }, (_, k) => ((k % 300) / 300) * 255 + rng.normal(0, 20));
  assert.deepEqual(await jpegRoundTrip(src, shape, 30), await ownJpegs(src, shape, 30));
});

test('RGB 150×150: a batch differs from one JPEG per image only near the last rows, slightly; exact restores it', async () => {
  const h = 150;
  const w = 150;
  const src = batch(h, w, 1);
  for (const q of [20, 80]) {
    const own = await ownJpegs(src, [8, h, w, 3], q);
    const got = await jpegRoundTrip(src, [8, h, w, 3], q);
    let sum = 0;
    for (let k = 0; k < got.length; k++) {
      const d = Math.abs(got[k] - own[k]);
      sum += d;
      const row = Math.floor((k % (h * w * 3)) / (w * 3));
      if (d > 0) assert.ok(row >= h - 8, `q${q}: value ${k} (row ${row}) differs by ${d}`);
    }
    assert.ok(sum / got.length < 0.01, `q${q}: mean |Δ| ${sum / got.length}`);
    assert.deepEqual(await jpegRoundTrip(src, [8, h, w, 3], q, { exact: true }), own, `q${q} exact`);
  }
});
