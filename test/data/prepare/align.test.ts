import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applySimilarity,
  fitSimilarity,
  fivePoints,
  invertSimilarity,
  parseTemplate,
  templatePoints,
  TEMPLATES,
  warpSimilarity,
  type Point,
  type Similarity,
} from '../../../src/data/prepare/align.js';
import type { RgbImage } from '../../../src/image/index.js';

const close = (a: number, b: number, tol: number, what: string): void => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('fitSimilarity recovers an exact rotation + scale + shift', () => {
  const angle = 0.4;
  const scale = 2.5;
  const t: Similarity = { a: scale * Math.cos(angle), b: scale * Math.sin(angle), tx: 13, ty: -7 };
  const from: Point[] = [[10, 10], [40, 12], [25, 30], [12, 45], [38, 44]];
  const got = fitSimilarity(from, from.map((p) => applySimilarity(t, p)));
  for (const k of ['a', 'b', 'tx', 'ty'] as const) close(got[k], t[k], 1e-9, k);
});

test('fitSimilarity is the least-squares fit: residuals are orthogonal to every parameter direction', () => {
  const from: Point[] = [[0, 0], [10, 0], [5, 8], [1, 14], [9, 15]];
  const to: Point[] = [[3, 1], [14, 2.5], [8, 9], [2, 17], [13, 16]];
  const t = fitSimilarity(from, to);
  // Gradient of Σ|T(p) − q|² with respect to (a, b, tx, ty) vanishes at the optimum.
  const g = [0, 0, 0, 0];
  from.forEach((p, i) => {
    const [u, v] = applySimilarity(t, p);
    const ex = u - to[i][0];
    const ey = v - to[i][1];
    g[0] += ex * p[0] + ey * p[1];
    g[1] += -ex * p[1] + ey * p[0];
    g[2] += ex;
    g[3] += ey;
  });
  for (const x of g) close(x, 0, 1e-9, 'gradient');
});

test('invertSimilarity undoes the transform', () => {
  const t: Similarity = { a: 0.8, b: -0.3, tx: 5, ty: 9 };
  const inv = invertSimilarity(t);
  const p: Point = [17, -4];
  const back = applySimilarity(inv, applySimilarity(t, p));
  close(back[0], p[0], 1e-12, 'x');
  close(back[1], p[1], 1e-12, 'y');
});

test('dlib150 template is dlib’s mean shape with padding 0.25 at 150 px', () => {
  const [le, re, nose, ml, mr] = TEMPLATES.dlib150.points;
  // Eye centres are the means of the six eye points; (0.25 + m) / 1.5 · 150 = 100·m + 25.
  close(le[0], 47.549, 0.01, 'left eye x');
  close(le[1], 46.599, 0.01, 'left eye y');
  close(re[0], 100.476, 0.01, 'right eye x');
  close(re[1], le[1], 1e-9, 'eyes level');
  close(nose[0], 74.0127, 1e-4, 'nose x');
  close(nose[1], 76.5625, 1e-4, 'nose y');
  close(ml[1], mr[1], 1e-9, 'mouth level');
  // The mean shape is left-right symmetric about x = 0.490127 (nose column).
  close((le[0] + re[0]) / 2, nose[0], 0.05, 'eyes centred on nose');
});

test('templatePoints scales to the chip size and adds margin around the centre', () => {
  const base = TEMPLATES.arcface112.points;
  const big = templatePoints('arcface112', 224);
  big.forEach((p, i) => {
    close(p[0], base[i][0] * 2, 1e-9, 'x');
    close(p[1], base[i][1] * 2, 1e-9, 'y');
  });
  const padded = templatePoints('arcface112', 112, 0.5);
  padded.forEach((p, i) => {
    close(p[0] - 56, (base[i][0] - 56) / 2, 1e-9, 'x shrinks by 1/(1+2·0.5)');
    close(p[1] - 56, (base[i][1] - 56) / 2, 1e-9, 'y');
  });
  assert.throws(() => templatePoints('dlib150', 4), /size/);
  assert.throws(() => templatePoints('dlib150', 150, -1), /margin/);
  assert.throws(() => parseTemplate('mtcnn'), /template: unknown template 'mtcnn'/);
});

test('fivePoints: eye centres are six-point means; nose tip 30; mouth corners 48, 54', () => {
  const lm: Point[] = Array.from({ length: 68 }, (_, i) => [i, 2 * i]);
  const [le, re, nose, ml, mr] = fivePoints(lm);
  assert.deepEqual(le, [38.5, 77]);
  assert.deepEqual(re, [44.5, 89]);
  assert.deepEqual(nose, [30, 60]);
  assert.deepEqual(ml, [48, 96]);
  assert.deepEqual(mr, [54, 108]);
  assert.throws(() => fivePoints(lm.slice(0, 5)), /68 landmarks/);
});

/** A smooth test pattern: values are an affine function of position, so bilinear sampling is exact. */
function ramp(h: number, w: number): RgbImage {
  const data = new Float32Array(h * w * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      data[i] = x;
      data[i + 1] = y;
      data[i + 2] = 100 + x - y;
    }
  }
  return { data, height: h, width: w };
}

test('warpSimilarity samples the photo where the transform says (bilinear, exact on a ramp)', () => {
  const img = ramp(60, 80);
  const t: Similarity = { a: 0.9 * Math.cos(0.3), b: 0.9 * Math.sin(0.3), tx: 20.25, ty: 10.5 };
  const chip = warpSimilarity(img, t, 30, 30);
  for (const [c, r] of [[0, 0], [7, 3], [29, 29], [15, 22]] as const) {
    const [x, y] = applySimilarity(t, [c, r]);
    const o = (r * 30 + c) * 3;
    close(chip.data[o], x, 1e-3, `R at ${c},${r}`);
    close(chip.data[o + 1], y, 1e-3, `G at ${c},${r}`);
    close(chip.data[o + 2], 100 + x - y, 1e-3, `B at ${c},${r}`);
  }
});

test('warpSimilarity averages over the footprint when downscaling, and is black outside the photo', () => {
  // 1-pixel stripes: point sampling at scale 4 would hit one stripe colour only; averaging gives the mean.
  const h = 64;
  const w = 64;
  const data = new Float32Array(h * w * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.fill(x % 2 === 0 ? 200 : 0, (y * w + x) * 3, (y * w + x) * 3 + 3);
  const chip = warpSimilarity({ data, height: h, width: w }, { a: 4, b: 0, tx: 1.5, ty: 1.5 }, 15, 15);
  for (let i = 0; i < chip.data.length; i++) close(chip.data[i], 100, 1e-3, `value ${i}`);
  const outside = warpSimilarity({ data, height: h, width: w }, { a: 1, b: 0, tx: 100, ty: 100 }, 4, 4);
  assert.ok(outside.data.every((v) => v === 0));
});
