import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { decodeImage, ImageDecodeError, resizeBilinear } from '../../src/image/index.js';
import { batches, listDataset, loadImages, selectTopK, splitDataset, type Sample } from '../../src/data/index.js';

const FACES14 = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../shared/data/faces14');

let tmp: string;
let good: Sample[];
before(async () => {
  await initEngine({ backend: 'wasm' });
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'robustify-load-'));
  const sel = selectTopK(await listDataset(FACES14), 14);
  good = sel.samples.filter((_, i) => i % 35 < 2).slice(0, 6); // 2 images of 3 identities
});
after(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

async function badFiles(): Promise<Sample[]> {
  const empty = path.join(tmp, 'empty.png');
  const text = path.join(tmp, 'text.jpg');
  await fsp.writeFile(empty, '');
  await fsp.writeFile(text, 'not an image');
  return [
    { file: empty, identity: 'x', label: 0 },
    { file: text, identity: 'x', label: 0 },
  ];
}

test('loadImages decodes and resizes to size × size (bilinear with --chip resize)', async () => {
  const { images, samples, skipped } = await loadImages(good.slice(0, 2), { size: 150, chip: 'resize' });
  assert.equal(images.length, 2);
  assert.deepEqual(samples, good.slice(0, 2));
  assert.deepEqual(skipped, []);
  const expected = resizeBilinear(await decodeImage(good[1].file), 150, 150);
  assert.deepEqual(images[1], expected);
  const native = await loadImages(good.slice(0, 1), { size: null });
  assert.equal(native.images[0].height, 112);
});

test('without skipBad the first bad file (in sample order) throws, naming it', async () => {
  const [empty, text] = await badFiles();
  const samples = [good[0], text, good[1], empty, good[2]];
  await assert.rejects(loadImages(samples, { concurrency: 3 }), (err: unknown) => {
    assert.ok(err instanceof ImageDecodeError);
    assert.equal(err.file, text.file);
    assert.match(err.message, /^cannot decode image '.*text\.jpg': not a PNG, JPEG or WebP image/);
    return true;
  });
});

test('with skipBad the rest load and the bad files are listed', async () => {
  const [empty, text] = await badFiles();
  const samples = [good[0], text, good[1], empty, good[2]];
  const { images, samples: loaded, skipped } = await loadImages(samples, { skipBad: true, size: 32 });
  assert.equal(images.length, 3);
  assert.deepEqual(loaded, [good[0], good[1], good[2]]);
  assert.deepEqual(skipped, [
    { file: text.file, reason: 'not a PNG, JPEG or WebP image (unrecognised content)' },
    { file: empty.file, reason: 'empty file (0 bytes)' },
  ]);
});

test('batches yields NHWC tensors with their samples; disposing them leaks nothing', async () => {
  const [empty] = await badFiles();
  const samples = [...good.slice(0, 3), empty, ...good.slice(3)];
  const start = tf.memory().numTensors;
  const seen: Sample[] = [];
  const sizes: number[][] = [];
  for await (const b of batches(samples, 3, { size: 40, skipBad: true })) {
    sizes.push(b.x.shape);
    assert.deepEqual(b.labels, b.samples.map((s) => s.label));
    seen.push(...b.samples);
    b.x.dispose();
    assert.equal(tf.memory().numTensors, start);
  }
  assert.deepEqual(sizes, [
    [3, 40, 40, 3],
    [2, 40, 40, 3],
    [1, 40, 40, 3],
  ]);
  assert.deepEqual(seen, good);
});

test('batches: pixel values match loadImages, and a bad file throws without skipBad', async () => {
  const batchIt = batches(good.slice(0, 2), 2, { size: 20 });
  const first = await batchIt.next();
  assert.ok(!first.done);
  const { images } = await loadImages(good.slice(0, 2), { size: 20 });
  const values = await first.value.x.data();
  first.value.x.dispose();
  assert.deepEqual(values.subarray(20 * 20 * 3), images[1].data);
  assert.ok((await batchIt.next()).done);

  const [empty] = await badFiles();
  await assert.rejects(async () => {
    for await (const b of batches([...good.slice(0, 2), empty], 2)) b.x.dispose();
  }, /cannot decode image '.*empty\.png': empty file/);
  // Stopping early while the failing chunk is being prefetched: no unhandled rejection.
  for await (const b of batches([...good.slice(0, 2), empty], 2)) {
    b.x.dispose();
    break;
  }
});

test('every faces14 test image decodes strictly (failOn) and loads at 150 × 150', async () => {
  const { test: testSet } = splitDataset(selectTopK(await listDataset(FACES14), 14).samples);
  const { images, skipped } = await loadImages(testSet);
  assert.equal(images.length, 98);
  assert.deepEqual(skipped, []);
  assert.ok(images.every((im) => im.height === 150 && im.width === 150));
});
