import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { decodeImage, type RgbImage } from '../../../src/image/index.js';
import { imageGrid, pipelineStrip } from '../../../src/study/report/index.js';

/** A flat image of one colour, so its pixels can be counted in the output. */
function flat(width: number, height: number, rgb: [number, number, number]): RgbImage {
  const data = new Float32Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = rgb[i % 3];
  return { data, height, width };
}

async function pixels(png: Buffer): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 3);
  return { data, width: info.width, height: info.height };
}

function count(img: { data: Buffer }, rgb: [number, number, number], tol = 0): number {
  let n = 0;
  for (let p = 0; p < img.data.length; p += 3) {
    if (Math.abs(img.data[p] - rgb[0]) <= tol && Math.abs(img.data[p + 1] - rgb[1]) <= tol && Math.abs(img.data[p + 2] - rgb[2]) <= tol) n++;
  }
  return n;
}

/** Bounding box of the pixels of one colour. */
function box(img: { data: Buffer; width: number }, rgb: [number, number, number]): { x0: number; y0: number; x1: number; y1: number } {
  const b = { x0: Infinity, y0: Infinity, x1: -1, y1: -1 };
  for (let p = 0, i = 0; p < img.data.length; p += 3, i++) {
    if (img.data[p] === rgb[0] && img.data[p + 1] === rgb[1] && img.data[p + 2] === rgb[2]) {
      const x = i % img.width;
      const y = Math.floor(i / img.width);
      Object.assign(b, { x0: Math.min(b.x0, x), y0: Math.min(b.y0, y), x1: Math.max(b.x1, x), y1: Math.max(b.y1, y) });
    }
  }
  return b;
}

const BLUE: [number, number, number] = [10, 20, 200];
const MAGENTA: [number, number, number] = [200, 0, 200];

test('imageGrid: every image magnified whole, in rows of `columns`, framed and captioned', async () => {
  const cells = [0, 1, 2, 3, 4].map((i) => ({
    image: flat(20, 16, i === 4 ? MAGENTA : BLUE),
    caption: [`eps = ${i}`, 'prediction'],
    frame: (i % 2 === 0 ? 'good' : 'bad') as 'good' | 'bad',
  }));
  const png = await imageGrid({ title: 'PGD', columns: 3, cells, scale: 3 });
  const img = await pixels(png);
  // 5 images of 60×48 after ×3 magnification: every pixel present, none blended away.
  assert.equal(count(img, BLUE), 4 * 60 * 48);
  assert.equal(count(img, MAGENTA), 60 * 48);
  // 3 columns, 2 rows: the output holds them, and the fifth image starts the second row.
  assert.ok(img.width >= 3 * 60 && img.height >= 2 * 48 + 2 * 2 * 13, `size ${img.width}×${img.height}`);
  const blue = box(img, BLUE);
  const fifth = box(img, MAGENTA);
  assert.ok(fifth.y0 > blue.y0 + 48 && fifth.x1 < blue.x1, 'fifth image in row 2, column 2');
  assert.equal(fifth.x1 - fifth.x0 + 1, 60);
  assert.equal(fifth.y1 - fifth.y0 + 1, 48);
  // Frames: green for good, red for bad; captions drawn as dark text.
  assert.ok(count(img, [26, 152, 80], 30) > 3 * 4 * 200, 'green frames');
  assert.ok(count(img, [215, 48, 39], 30) > 2 * 4 * 200, 'red frames');
  assert.ok(count(img, [17, 17, 17], 70) > 200, 'caption and title text');
  assert.ok((await imageGrid({ columns: 3, cells, scale: 3 })).equals(await imageGrid({ columns: 3, cells, scale: 3 })), 'deterministic');
});

test('imageGrid: row labels are drawn left of their rows', async () => {
  const cells = [0, 1, 2, 3].map(() => ({ image: flat(24, 24, BLUE), caption: ['q'] }));
  const plain = await pixels(await imageGrid({ columns: 2, cells }));
  const labelled = await pixels(await imageGrid({ columns: 2, cells, rowLabels: ['clean', 'adversarial'] }));
  const a = box(plain, BLUE);
  const b = box(labelled, BLUE);
  assert.ok(b.x0 > a.x0 + 40, `images moved right to make room: ${a.x0} → ${b.x0}`);
  // Dark label pixels left of the images, at the height of each row.
  for (const [y0, y1] of [[b.y0, b.y0 + 24], [b.y1 - 24, b.y1]]) {
    let dark = 0;
    for (let y = y0; y < y1; y++) {
      for (let x = 0; x < b.x0; x++) {
        const p = (y * labelled.width + x) * 3;
        if (labelled.data[p] < 90 && labelled.data[p + 1] < 90 && labelled.data[p + 2] < 90) dark++;
      }
    }
    assert.ok(dark > 40, `label pixels in rows ${y0}–${y1}: ${dark}`);
  }
  await assert.rejects(imageGrid({ columns: 2, cells, rowLabels: ['a', 'b', 'c'] }), /imageGrid: 3 row labels for 2 rows/);
});

test('imageGrid keeps the pixels of a real face exactly at scale 1', async () => {
  const face = await decodeImage(new URL('../../../../../shared/data/faces14/Hugh_Laurie/000.png', import.meta.url).pathname);
  const png = await imageGrid({ columns: 1, cells: [{ image: face, caption: [] }] });
  const img = await pixels(png);
  // Find the face's first row inside the output and compare it byte for byte.
  const row = Buffer.from(Uint8Array.from(face.data.subarray(0, face.width * 3)));
  const at = img.data.indexOf(row);
  assert.ok(at >= 0 && at % 3 === 0, 'first row of the face found');
  const x = (at / 3) % img.width;
  const y = Math.floor(at / 3 / img.width);
  for (let r = 0; r < face.height; r++) {
    const got = img.data.subarray(((y + r) * img.width + x) * 3, ((y + r) * img.width + x + face.width) * 3);
    assert.ok(got.equals(Buffer.from(Uint8Array.from(face.data.subarray(r * face.width * 3, (r + 1) * face.width * 3)))), `row ${r}`);
  }
});

test('pipelineStrip: stages left to right with arrows between', async () => {
  const stages = [BLUE, MAGENTA, BLUE].map((c, i) => ({ label: `stage ${i}\nsecond line`, image: flat(30, 30, c) }));
  const img = await pixels(await pipelineStrip({ title: 'median:3 → jpeg:20', stages, scale: 2 }));
  assert.equal(count(img, BLUE), 2 * 60 * 60);
  assert.equal(count(img, MAGENTA), 60 * 60);
  const middle = box(img, MAGENTA);
  // An arrow (dark grey) in the gap left of the middle stage, at its mid-height.
  const y = Math.round((middle.y0 + middle.y1) / 2);
  let arrow = 0;
  for (let x = middle.x0 - 50; x < middle.x0; x++) {
    const p = (y * img.width + x) * 3;
    if (img.data[p] < 100 && img.data[p + 1] < 100 && img.data[p + 2] < 100) arrow++;
  }
  assert.ok(arrow > 20, `arrow pixels left of the middle stage: ${arrow}`);
});

test('imageGrid and pipelineStrip name the bad parameter', async () => {
  const cell = { image: flat(4, 4, BLUE), caption: ['x'] };
  await assert.rejects(imageGrid({ columns: 0, cells: [cell] }), /imageGrid: columns must be a positive integer/);
  await assert.rejects(imageGrid({ columns: 1, cells: [cell], scale: 1.5 }), /scale must be an integer/);
  await assert.rejects(imageGrid({ columns: 1, cells: [] }), /imageGrid: no images/);
  await assert.rejects(imageGrid({ columns: 1, cells: [{ image: { data: new Float32Array(5), width: 4, height: 4 }, caption: [] }] }), /imageGrid: image 0: 5 values/);
  await assert.rejects(pipelineStrip({ stages: [] }), /pipelineStrip: no images/);
});
