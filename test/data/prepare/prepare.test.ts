import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { initEngine } from '../../../src/engine/backend.js';
import { decodeImage } from '../../../src/image/index.js';
import { fivePoints, templatePoints, type Point } from '../../../src/data/prepare/align.js';
import { landmarksOfChip, loadDetector } from '../../../src/data/prepare/detector.js';
import { mapPoints, prepareImage, type PreparedFace } from '../../../src/data/prepare/prepare.js';
import { SAMPLES } from './samples.js';

/** Faces a person counts in the six group photos (all at least partly turned to the camera). */
const VISIBLE = [3, 3, 3, 4, 5, 4];

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const dist = (p: Point, q: Point): number => Math.hypot(p[0] - q[0], p[1] - q[1]);
const eyeTilt = (five: Point[]): number => Math.abs(five[1][1] - five[0][1]);

let perPhoto: PreparedFace[][] = [];
before(async () => {
  await initEngine({ backend: 'wasm' });
  perPhoto = [];
  for (const file of SAMPLES) perPhoto.push((await prepareImage(file, { allFaces: true })).faces);
});

test('face-api runs on our tfjs-core instance and backend', async () => {
  await loadDetector();
  assert.equal(tf.getBackend(), 'wasm');
  const api = createRequire(import.meta.url)('@vladmandic/face-api/dist/face-api.node-wasm.js') as { tf: { engine(): unknown } };
  assert.equal(api.tf.engine(), tf.engine());
});

test('finds the faces of the six demo group photos', () => {
  const counts = perPhoto.map((f) => f.length);
  counts.forEach((n, i) => assert.ok(Math.abs(n - VISIBLE[i]) <= 1, `sample${i + 1}: ${n} faces, ${VISIBLE[i]} visible`));
  const total = counts.reduce((a, b) => a + b, 0);
  assert.ok(total >= 20 && total <= 23, `${total} faces in all`);
  for (const f of perPhoto.flat()) {
    assert.equal(f.landmarks.length, 68);
    assert.ok(f.score >= 0.5 && f.score <= 1);
    assert.equal(f.chip.width, 150);
    assert.equal(f.chip.height, 150);
  }
});

test('faces come largest first, and only the largest without allFaces', async () => {
  for (const faces of perPhoto) {
    const areas = faces.map((f) => f.box.width * f.box.height);
    assert.deepEqual(areas, [...areas].sort((a, b) => b - a));
  }
  const one = await prepareImage(SAMPLES[4]);
  assert.equal(one.faces.length, 1);
  assert.deepEqual(one.faces[0].box, perPhoto[4][0].box);
});

test('chips are aligned: eyes level and at the template positions', async () => {
  const tpl = templatePoints('dlib150', 150);
  const faces = perPhoto.flat();
  // Landmarks carried onto the chip by the fitted transform.
  const mapped = faces.map((f) => fivePoints(mapPoints(f.toChip, f.landmarks)));
  assert.ok(median(mapped.map(eyeTilt)) < 2, `median eye tilt ${median(mapped.map(eyeTilt))}`);
  // Landmarks found again on the chip itself (checks the warp, not only the fit).
  const again: Point[][] = [];
  for (const f of faces) again.push(fivePoints(await landmarksOfChip(f.chip)));
  const eyeError = again.flatMap((p) => [dist(p[0], tpl[0]), dist(p[1], tpl[1])]);
  assert.ok(median(again.map(eyeTilt)) < 2, `median re-detected eye tilt ${median(again.map(eyeTilt))}`);
  assert.ok(median(eyeError) < 4, `median eye distance from the template ${median(eyeError)} px`);
  // Same scale: the inter-eye distance matches the template's.
  const span = again.map((p) => dist(p[0], p[1]) / dist(tpl[0], tpl[1]));
  assert.ok(Math.abs(median(span) - 1) < 0.08, `median eye span ratio ${median(span)}`);

  // A frontal face: eyes level within 2 px, both ways of finding them.
  const frontal = perPhoto[0][0];
  assert.ok(eyeTilt(fivePoints(mapPoints(frontal.toChip, frontal.landmarks))) < 2);
  assert.ok(eyeTilt(fivePoints(await landmarksOfChip(frontal.chip))) < 2);
});

test('a rotated photo gives the same chip', async () => {
  const crop = sharp(SAMPLES[0]).extract({ left: 1330, top: 60, width: 520, height: 520 });
  const straight = (await prepareImage(await decodeImage(await crop.clone().png().toBuffer()))).faces[0];
  const turned = await sharp(await crop.png().toBuffer()).rotate(-25, { background: '#808080' }).png().toBuffer();
  const rotated = (await prepareImage(turned)).faces[0];
  assert.ok(straight && rotated, 'face found in both');
  assert.ok(eyeTilt(fivePoints(mapPoints(rotated.toChip, rotated.landmarks))) < 2);
  let diff = 0;
  for (let i = 0; i < straight.chip.data.length; i++) diff += Math.abs(straight.chip.data[i] - rotated.chip.data[i]);
  diff /= straight.chip.data.length;
  assert.ok(diff < 4, `mean absolute difference ${diff} (0–255)`);
});

test('template, size and margin options', async () => {
  const img = await decodeImage(SAMPLES[0]);
  const arc = (await prepareImage(img, { template: 'arcface112' })).faces[0];
  assert.equal(arc.chip.width, 112);
  const tpl = templatePoints('arcface112', 112);
  const five = fivePoints(mapPoints(arc.toChip, arc.landmarks));
  five.slice(0, 2).forEach((p, k) => assert.ok(dist(p, tpl[k]) < 3, `eye ${k} at ${p}, template ${tpl[k]}`));
  const big = (await prepareImage(img, { size: 200, margin: 0.2 })).faces[0];
  assert.equal(big.chip.height, 200);
  const bigTpl = templatePoints('dlib150', 200, 0.2);
  assert.ok(dist(fivePoints(mapPoints(big.toChip, big.landmarks))[0], bigTpl[0]) < 3);
  await assert.rejects(prepareImage(img, { size: 3 }), /size/);
  await assert.rejects(prepareImage(img, { minScore: 2 }), /minScore/);
});

test('pad: a tight face crop is found, and results are in the crop’s own coordinates', async () => {
  const whole = perPhoto[0][0];
  const left = Math.round(whole.box.x + 10);
  const top = Math.round(whole.box.y + 10);
  const side = Math.round(Math.min(whole.box.width, whole.box.height) - 20);
  const tight = await sharp(SAMPLES[0]).extract({ left, top, width: side, height: side }).png().toBuffer();
  const face = (await prepareImage(tight, { pad: 1.5 })).faces[0];
  assert.ok(face, 'face found in the padded crop');
  // Eye centres agree with the whole-photo result once shifted by the crop offset.
  const five = fivePoints(face.landmarks);
  const ref = fivePoints(whole.landmarks).map(([x, y]) => [x - left, y - top] as Point);
  for (const k of [0, 1]) assert.ok(dist(five[k], ref[k]) < 3, `eye ${k}: ${five[k]} vs ${ref[k]}`);
  const onChip = fivePoints(mapPoints(face.toChip, face.landmarks));
  const tpl = templatePoints('dlib150', 150);
  for (const k of [0, 1]) assert.ok(dist(onChip[k], tpl[k]) < 3, `eye ${k} on the chip: ${onChip[k]}`);
  await assert.rejects(prepareImage(tight, { pad: -1 }), /pad/);
});

test('no face in a flat grey image or a 16×16 image; minFaceSize filters', async () => {
  const flat = (h: number, w: number, v: number) => ({ data: new Float32Array(h * w * 3).fill(v), height: h, width: w });
  assert.equal((await prepareImage(flat(240, 320, 128))).faces.length, 0);
  assert.equal((await prepareImage(flat(16, 16, 90))).faces.length, 0);
  assert.equal((await prepareImage(SAMPLES[0], { minFaceSize: 1000 })).faces.length, 0);
});

test('no tensors leak', async () => {
  const img = await decodeImage(SAMPLES[1]);
  await prepareImage(img);
  const before = tf.memory().numTensors;
  await prepareImage(img, { allFaces: true });
  await landmarksOfChip(perPhoto[0][0].chip);
  assert.equal(tf.memory().numTensors, before);
});
