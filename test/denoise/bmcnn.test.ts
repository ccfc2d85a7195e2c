import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { decodeImage, encodePng } from '../../src/image/index.js';
import { createRandom } from '../../src/util/random.js';
import { blockMatch, blockMatchBatch, DEFAULT_MATCH, gatherIndices, matchCells } from '../../src/denoise/match.js';
import { nativeRuntime } from '../../src/engine/onnx/runtime.js';
import { aggregate, Bmcnn, DEFAULT_WEIGHTS_DIR, defaultConfig, widenReferenceKernel } from '../../src/denoise/model.js';
import { addNoise, psnr } from '../../src/denoise/noise.js';
import { trainBmcnn, TRAIN_DEFAULTS } from '../../src/denoise/train.js';
import { relError } from '../helpers/numeric.js';

await initEngine({ backend: 'wasm' });

/** A smooth random image (sum of random low-frequency waves + texture), values in 0–255. */
function textured(h: number, w: number, seed: number): Float32Array {
  const rng = createRandom(seed);
  const out = new Float32Array(h * w * 3);
  for (let i = 0; i < out.length; i++) out[i] = 40 + 170 * rng.next();
  return out;
}

test('block matching finds the exact copy of a planted patch, reference first', () => {
  const h = 32;
  const w = 32;
  const img = textured(h, w, 1);
  // Copy the 6×6 window of cell (6, 5) (pixels rows 10..15, cols 8..13) displaced by (+5, −4).
  const [gy, gx, dy, dx] = [6, 5, 5, -4];
  for (let y = 2 * gy - 2; y < 2 * gy + 4; y++) {
    for (let x = 2 * gx - 2; x < 2 * gx + 4; x++) {
      for (let c = 0; c < 3; c++) img[((y + dy) * w + x + dx) * 3 + c] = img[(y * w + x) * 3 + c];
    }
  }
  const k = 3;
  const m = matchCells(img, 1, h, w, { matches: k, patch: 6, radius: 6 });
  const cell = (gy * (w / 2) + gx) * k;
  assert.deepEqual([m.dy[cell], m.dx[cell]], [0, 0]);
  assert.deepEqual([m.dy[cell + 1], m.dx[cell + 1]], [dy, dx]);
  // Indices: the reference pixel itself first, then the pixel at the same place in the copy.
  const idx = gatherIndices(m, 1, h, w, k);
  const p = (2 * gy * w + 2 * gx) * k;
  assert.equal(idx[p], 2 * gy * w + 2 * gx);
  assert.equal(idx[p + 1], (2 * gy + dy) * w + 2 * gx + dx);
});

test('matches stay inside the image and per-image in a batch', () => {
  const [n, h, w, k] = [2, 12, 10, 4];
  const data = new Float32Array(n * h * w * 3);
  data.set(textured(h, w, 2));
  data.set(textured(h, w, 3), h * w * 3);
  const idx = gatherIndices(matchCells(data, n, h, w, { matches: k, patch: 4, radius: 3 }), n, h, w, k);
  for (let i = 0; i < idx.length; i++) {
    const img = Math.floor(i / (h * w * k));
    assert.ok(idx[i] >= img * h * w && idx[i] < (img + 1) * h * w, `index ${i} leaves image ${img}`);
  }
});

test('aggregation puts 4×4 patches back at their place and averages overlaps', () => {
  const [h, w] = [6, 8];
  const img = textured(h, w, 4);
  const patches = new Float32Array((h / 2) * (w / 2) * 48);
  for (let i = 0; i < h / 2; i++) {
    for (let j = 0; j < w / 2; j++) {
      for (let a = 0; a < 4; a++) {
        for (let b = 0; b < 4; b++) {
          const [y, x] = [2 * i + a - 1, 2 * j + b - 1];
          if (y < 0 || y >= h || x < 0 || x >= w) continue;
          for (let c = 0; c < 3; c++) patches[((i * (w / 2) + j) * 16 + a * 4 + b) * 3 + c] = img[(y * w + x) * 3 + c];
        }
      }
    }
  }
  const out = tf.tidy(() => aggregate(tf.tensor4d(patches, [1, h / 2, w / 2, 48])).dataSync());
  // Border pixels also average 4 estimates, but those that would fall outside were zeros: only the inside is exact.
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      for (let c = 0; c < 3; c++) assert.ok(Math.abs(out[(y * w + x) * 3 + c] - img[(y * w + x) * 3 + c]) < 1e-3);
    }
  }
});

test('denoise keeps the shape (odd sides too) and the 0–255 range; ablation too', async () => {
  for (const matches of [4, 1]) {
    const model = Bmcnn.create(defaultConfig({ matches }, 8, 3), 7);
    const x = tf.tensor4d(textured(17, 23, 5).slice(0, 17 * 23 * 3), [1, 17, 23, 3]);
    const x2 = tf.concat([x, x]) as tf.Tensor4D;
    const y = await model.denoise(x2, [10, 30]);
    assert.deepEqual(y.shape, [2, 17, 23, 3]);
    const v = await y.data();
    assert.ok(v.every((t) => t >= 0 && t <= 255));
    tf.dispose([x, x2, y]);
    model.dispose();
  }
});

test('a block-matching net widened from a 1-match net computes the same (matched channels weighted 0)', async () => {
  const ab = Bmcnn.create(defaultConfig({ matches: 1 }, 8, 3), 11);
  const cfg = defaultConfig({ matches: 4 }, 8, 3);
  const layers = ab.main.layers.map((l) => ({ kernel: tf.clone(l.kernel), bias: tf.clone(l.bias) }));
  const first = layers[0].kernel;
  layers[0].kernel = widenReferenceKernel(first, 4);
  first.dispose();
  const pilot = { config: ab.pilot.config, layers: ab.pilot.layers.map((l) => ({ kernel: tf.clone(l.kernel), bias: tf.clone(l.bias) })) };
  const bm = Bmcnn.fromNets(cfg, pilot, { config: cfg.main, layers });
  const x = tf.tensor4d(addNoise(textured(16, 16, 12), 20, createRandom(1)), [1, 16, 16, 3]);
  const a = await bm.denoise(x, 20);
  const b = await ab.denoise(x, 20);
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
  assert.ok(diff < 1e-3, `max difference ${diff}`);
  tf.dispose([x, a, b]);
  bm.dispose();
  ab.dispose();
});

test('the CNN part is differentiable with the matches fixed: gradient shape, finite, equals a finite difference', async () => {
  const model = Bmcnn.create(defaultConfig({ matches: 3, radius: 3 }, 8, 3), 3);
  const [n, h, w] = [1, 12, 14];
  const x = tf.tensor4d(textured(h, w, 6), [n, h, w, 3]);
  const v = tf.tensor4d(createRandom(9).fillNormal(new Float32Array(n * h * w * 3)), [n, h, w, 3]);
  const g = await model.vjp(x, 20, v);
  assert.deepEqual(g.shape, x.shape);
  const gd = await g.data();
  assert.ok(gd.every(Number.isFinite));
  assert.ok(gd.some((t) => t !== 0));
  // ⟨∇⟨f(x), v⟩, u⟩ against a central difference along u, with the same matched positions.
  const plan = model.plan(x, 20);
  const u = tf.tensor4d(createRandom(10).fillNormal(new Float32Array(n * h * w * 3)), [n, h, w, 3]);
  const eps = 0.05;
  const f = (s: number): number => tf.tidy(() => tf.sum(tf.mul(model.forward(tf.add(x, tf.mul(u, s)) as tf.Tensor4D, plan), v)).dataSync()[0]);
  const fd = (f(eps) - f(-eps)) / (2 * eps);
  const an = tf.tidy(() => tf.sum(tf.mul(g, u)).dataSync()[0]);
  assert.ok(Math.abs(fd - an) < 0.02 * Math.abs(an) + 1e-2, `finite difference ${fd} vs gradient ${an}`);
  plan.dispose();
  tf.dispose([x, v, g, u]);
  model.dispose();
});

test('the flip ensemble is the mean of the image\'s and the mirrored-back mirror image\'s single passes', async () => {
  const model = Bmcnn.create(defaultConfig({}, 8, 3), 5);
  const x = tf.tensor4d(textured(14, 18, 13), [1, 14, 18, 3]);
  const ens = await model.denoise(x, 25, { ensemble: true });
  const a = await model.denoise(x, 25, { ensemble: false });
  const xm = tf.reverse(x, 2);
  const bm = await model.denoise(xm, 25, { ensemble: false });
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(ens, tf.clipByValue(tf.mul(tf.add(a, tf.reverse(bm, 2)), 0.5), 0, 255)))).dataSync()[0]);
  assert.ok(diff < 1e-3, `max difference ${diff}`);
  tf.dispose([x, ens, a, xm, bm]);
  model.dispose();
});

test('block matching over worker threads gives the inline indices', async () => {
  const n = 5;
  const pilot = new Float32Array(n * 14 * 18 * 3);
  for (let i = 0; i < n; i++) pilot.set(textured(14, 18, 40 + i), i * 14 * 18 * 3);
  const inline = blockMatch(pilot, n, 14, 18, DEFAULT_MATCH);
  for (const threads of [1, 2, 3]) assert.deepEqual(await blockMatchBatch(pilot, n, 14, 18, DEFAULT_MATCH, threads), inline, `${threads} threads`);
});

test('denoising on onnxruntime equals the TF.js nets to float rounding (matching, odd sides, ensemble), no leaks', async (t) => {
  const ort = await nativeRuntime();
  if (!ort) return t.skip('onnxruntime-node does not load here');
  for (const matches of [4, 1]) {
    const tfModel = Bmcnn.create(defaultConfig({ matches }, 8, 3), 3);
    const native = Bmcnn.fromNets(tfModel.config, tfModel.pilot, tfModel.main);
    native.accelerate(1);
    const x = tf.tensor4d([...textured(15, 21, 8), ...textured(15, 21, 9)], [2, 15, 21, 3]);
    for (const ensemble of [false, true]) {
      const a = await tfModel.denoise(x, [12, 25], { ensemble });
      const before = tf.memory().numTensors;
      const b = await native.denoise(x, [12, 25], { ensemble });
      assert.equal(tf.memory().numTensors, before + 1);
      const [va, vb] = [(await a.data()) as Float32Array, (await b.data()) as Float32Array];
      const diff = va.reduce((m, v, i) => Math.max(m, Math.abs(v - vb[i])), 0);
      assert.ok(diff < 0.02, `matches ${matches}, ensemble ${ensemble}: max |Δ| ${diff}`);
      assert.ok(va.some((v, i) => v !== x.dataSync()[i]), 'the nets changed the image');
      tf.dispose([a, b]);
    }
    x.dispose();
    native.dispose(); // the nets are shared: disposing one model frees them
  }
});

test('denoising on onnxruntime gives the same bits again after other shapes, match counts and concurrent calls (reused stacking arrays)', async (t) => {
  if (!(await nativeRuntime())) return t.skip('onnxruntime-node does not load here');
  const four = Bmcnn.create(defaultConfig({ matches: 4 }, 8, 3), 5);
  const one = Bmcnn.create(defaultConfig({ matches: 1 }, 8, 3), 6);
  for (const m of [four, one]) m.accelerate(1);
  const x = tf.tensor4d([...textured(16, 20, 31), ...textured(16, 20, 32)], [2, 16, 20, 3]);
  const x2 = tf.tensor4d([...textured(16, 20, 34), ...textured(16, 20, 35)], [2, 16, 20, 3]);
  const other = tf.tensor4d(textured(12, 14, 33), [1, 12, 14, 3]);
  const bits = async (y: Promise<tf.Tensor4D>): Promise<Float32Array> => {
    const t4 = await y;
    const v = (await t4.data()) as Float32Array;
    t4.dispose();
    return v;
  };
  const first = await bits(four.denoise(x, [15, 25]));
  const first2 = await bits(four.denoise(x2, [15, 25]));
  const firstOne = await bits(one.denoise(x, [15, 25]));
  await bits(four.denoise(other, 40));
  const [again, concurrent, againOne] = await Promise.all([bits(four.denoise(x, [15, 25])), bits(four.denoise(x2, [15, 25])), bits(one.denoise(x, [15, 25]))]);
  for (const [name, a, b] of [['again', again, first], ['concurrent', concurrent, first2], ['matches 1', againOne, firstOne]] as const) {
    assert.ok(a.every((v, i) => Object.is(v, b[i])), `${name}: differs from the first call`);
  }
  tf.dispose([x, x2, other]);
  four.dispose();
  one.dispose();
});

test('the VJP on onnxruntime equals TF.js\'s (matching, odd sides, ensemble, worker slices), no leaks', async (t) => {
  if (!(await nativeRuntime())) return t.skip('onnxruntime-node does not load here');
  for (const matches of [4, 1]) {
    const tfModel = Bmcnn.create(defaultConfig({ matches }, 8, 3), 4);
    const native = Bmcnn.fromNets(tfModel.config, tfModel.pilot, tfModel.main);
    native.accelerate(2);
    const [n, h, w] = [3, 15, 20];
    const x = tf.tensor4d([...textured(h, w, 21), ...textured(h, w, 22), ...textured(h, w, 23)], [n, h, w, 3]);
    const v = tf.tensor4d(createRandom(24).fillNormal(new Float32Array(n * h * w * 3)), [n, h, w, 3]);
    for (const ensemble of [false, true]) {
      const a = await tfModel.vjp(x, [10, 20, 30], v, { ensemble });
      const before = tf.memory().numTensors;
      const b = await native.vjp(x, [10, 20, 30], v, { ensemble });
      assert.equal(tf.memory().numTensors, before + 1);
      const err = relError((await b.data()) as Float32Array, (await a.data()) as Float32Array);
      assert.ok(err < 1e-4, `matches ${matches}, ensemble ${ensemble}: relative error ${err}`);
      tf.dispose([a, b]);
    }
    tf.dispose([x, v]);
    native.dispose();
  }
});

test('the VJP after a denoise of the same images (its matches reused) has the bits of one that matches for itself', async (t) => {
  if (!(await nativeRuntime())) return t.skip('onnxruntime-node does not load here');
  for (const matches of [4, 1]) {
    const model = Bmcnn.create(defaultConfig({ matches }, 8, 3), 7);
    model.accelerate(2);
    const [n, h, w] = [5, 16, 18];
    const x = tf.tensor4d(Array.from({ length: n }, (_, i) => [...textured(h, w, 40 + i)]).flat(), [n, h, w, 3]);
    const other = tf.tensor4d(Array.from({ length: n }, (_, i) => [...textured(h, w, 50 + i)]).flat(), [n, h, w, 3]);
    const v = tf.tensor4d(createRandom(25).fillNormal(new Float32Array(n * h * w * 3)), [n, h, w, 3]);
    const sigma = [10, 15, 20, 25, 30];
    const after = async (first: tf.Tensor4D, s: number[]): Promise<Float32Array> => {
      (await model.denoise(first, s)).dispose();
      const g = await model.vjp(x, sigma, v);
      const d = (await g.data()) as Float32Array;
      g.dispose();
      return d;
    };
    // Forward slices of 4 images, VJP slices of 2: the reused matches come from other slicings of the batch.
    const own = await after(other, sigma);
    const reused = await after(x, sigma);
    const otherSigma = await after(x, [20, 20, 20, 20, 20]);
    for (const [name, a] of [['reused', reused], ['other sigma', otherSigma]] as const) {
      assert.ok(a.every((val, i) => Object.is(val, own[i])), `matches ${matches}, ${name}: differs from the VJP's own matching`);
    }
    tf.dispose([x, other, v]);
    model.dispose();
  }
});

test('no tensor leaks across repeated denoise and gradient calls', async () => {
  const model = Bmcnn.create(defaultConfig({}, 8, 3), 1);
  const x = tf.tensor4d(textured(16, 16, 7), [1, 16, 16, 3]);
  const once = async (): Promise<void> => {
    (await model.denoise(x, 20)).dispose();
    (await model.pilotDenoise(x, 20)).dispose();
    (await model.vjp(x, 20, x)).dispose();
  };
  await once();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) await once();
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
  model.dispose();
});

/** Ten smooth 24×24 images (gradients + a disc): easy to denoise, so the loss falls within a few dozen steps. */
async function tinyDataset(dir: string): Promise<string> {
  const data = path.join(dir, 'data');
  await fsp.mkdir(data);
  for (let i = 0; i < 10; i++) {
    const h = 24;
    const img = new Float32Array(h * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < h; x++) {
        const inside = (y - 12) ** 2 + (x - 10 - (i % 4)) ** 2 < 36 ? 60 : 0;
        for (let c = 0; c < 3; c++) img[(y * h + x) * 3 + c] = 40 + 5 * y + 3 * x + inside + 10 * c;
      }
    }
    await fsp.writeFile(path.join(data, `${i}.png`), await encodePng({ data: img, height: h, width: h }));
  }
  return data;
}

const TINY = { ...TRAIN_DEFAULTS, patch: 16, batch: 4, width: 8, depth: 3, lr: 3e-3, valEvery: 1000, valImages: 1 };

test('a tiny training run lowers the loss and writes loadable weights and a record', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'bmcnn-test-'));
  try {
    const data = await tinyDataset(dir);
    const out = path.join(dir, 'w');
    const rec = await trainBmcnn({ ...TINY, data, out, steps: 25, pilotSteps: 50, log: () => undefined });
    const pilot = rec.history.filter((e) => e.stage === 'pilot');
    assert.equal(pilot.length, 2);
    assert.ok(pilot[1].loss < pilot[0].loss, `pilot loss ${pilot[0].loss} → ${pilot[1].loss}`);
    assert.equal(rec.history.filter((e) => e.stage === 'main').length, 1);
    assert.ok(existsSync(path.join(out, 'training.json')));
    assert.ok(!existsSync(path.join(out, 'checkpoint.json')));
    const model = await Bmcnn.load(out);
    assert.deepEqual(model.config, rec.config);
    model.dispose();
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('a run killed after a checkpoint resumes to the weights of an uninterrupted run (to float rounding)', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'bmcnn-resume-'));
  try {
    const data = await tinyDataset(dir);
    const opts = { ...TINY, data, steps: 30, pilotSteps: 20, checkpointEvery: 10 };
    await trainBmcnn({ ...opts, out: path.join(dir, 'a'), log: () => undefined });
    // "Kill" the second run at its log line for main step 25: the last checkpoint is main step 20.
    const killed = trainBmcnn({
      ...opts,
      out: path.join(dir, 'b'),
      log: (line) => {
        if (line.startsWith('main 25/')) throw new Error('killed');
      },
    });
    await assert.rejects(killed, /killed/);
    assert.ok(existsSync(path.join(dir, 'b', 'checkpoint.json')));
    await trainBmcnn({ ...opts, out: path.join(dir, 'b'), resume: true, log: () => undefined });
    const read = async (run: string) => {
      const buf = await fsp.readFile(path.join(dir, run, 'weights.bin'));
      return new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
    };
    const [a, b] = [await read('a'), await read('b')];
    assert.equal(a.length, b.length);
    // Two uninterrupted runs are bit-identical; a resumed one differs by an ulp here and there (≈3e-8), from
    // optimizer state rebuilt from the checkpoint.
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    assert.ok(maxDiff <= 1e-6, `resumed weights differ by up to ${maxDiff}`);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

// ../shared beside the repository (dist/test/denoise → repository root is three levels up).
const FACE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../shared/data/faces14/Drew_Barrymore/004.png');
test('shipped weights load and improve PSNR on a noisy faces14 image', { skip: !existsSync(FACE) || !existsSync(path.join(DEFAULT_WEIGHTS_DIR, 'model.json')) }, async () => {
  const model = await Bmcnn.load();
  const img = await decodeImage(FACE);
  const noisy = addNoise(img.data, 20, createRandom(0));
  const x = tf.tensor4d(noisy, [1, img.height, img.width, 3]);
  const y = await model.denoise(x, 20);
  const before = psnr(noisy, img.data);
  const after = psnr(await y.data(), img.data);
  assert.ok(after > before + 6, `PSNR ${before.toFixed(2)} → ${after.toFixed(2)} dB`);
  tf.dispose([x, y]);
  model.dispose();
});

test('bmcnn:SIGMA is a pipeline defence with an exact gradient', { skip: !existsSync(path.join(DEFAULT_WEIGHTS_DIR, 'model.json')) }, async () => {
  const { buildPipeline } = await import('../../src/defences/pipeline.js');
  const p = await buildPipeline('bmcnn:20');
  assert.equal(String(p), 'bmcnn:sigma=20,ensemble=0');
  assert.equal(p.gradient, 'exact');
  const x = tf.tensor4d(textured(20, 20, 8), [1, 20, 20, 3]);
  const y = await p.apply(x);
  assert.deepEqual(y.shape, x.shape);
  const g = await p.estimateGradient(x, tf.onesLike(x));
  assert.deepEqual(g.shape, x.shape);
  assert.ok((await g.data()).every(Number.isFinite));
  tf.dispose([x, y, g]);
  p.dispose();
});
