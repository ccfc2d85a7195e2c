/** Each defence on its own: semantics beyond the vectors, parameters, memory, gradients. */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { createRandom } from '../../src/util/random.js';
import {
  FeatureSqueezing,
  GaussianAugmentation,
  JpegCompression,
  SpatialSmoothing,
  TotalVarMin,
  type Preprocessor,
} from '../../src/defences/index.js';
import { drawMask, tvmObjective } from '../../src/defences/tvm.js';
import { medianFilter, reflectIndex } from '../../src/defences/median.js';
import { normalSampler } from '../../src/defences/normal.js';
import { solveTvmBatch, totalVarMinimise, type TvmSolve } from '../../src/defences/tvm-planes.js';

before(async () => {
  await initEngine({ backend: 'wasm' });
});

function randomImage(n: number, h: number, w: number, c: number, seed: number, integer = false): Float32Array {
  const rng = createRandom(seed);
  return Float32Array.from({ length: n * h * w * c }, () => (integer ? rng.int(256) : rng.next() * 255));
}

/** scipy.ndimage.median_filter written the obvious way: sort the whole window. */
function naiveMedian(src: Float32Array, [n, h, w, c]: [number, number, number, number], win: number): Float32Array {
  const out = new Float32Array(src.length);
  const lo = Math.floor(win / 2);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let ch = 0; ch < c; ch++) {
          const vals: number[] = [];
          for (let dy = 0; dy < win; dy++)
            for (let dx = 0; dx < win; dx++) vals.push(src[((i * h + reflectIndex(y - lo + dy, h)) * w + reflectIndex(x - lo + dx, w)) * c + ch]);
          vals.sort((a, b) => a - b);
          out[((i * h + y) * w + x) * c + ch] = vals[Math.floor(vals.length / 2)];
        }
  return out;
}

test("reflect borders are scipy's half-sample symmetric ones", () => {
  assert.deepEqual([-3, -2, -1, 0, 3, 4, 5, 6].map((i) => reflectIndex(i, 4)), [2, 1, 0, 0, 3, 3, 2, 1]);
  assert.deepEqual([-2, -1, 1, 2].map((i) => reflectIndex(i, 1)), [0, 0, 0, 0]);
});

test('median equals a brute-force median for odd, even and oversized windows', () => {
  const shape: [number, number, number, number] = [2, 7, 9, 3];
  for (const integer of [false, true]) {
    const src = randomImage(...shape, 11, integer);
    for (const win of [1, 2, 3, 4, 5, 8, 12]) {
      assert.deepEqual(medianFilter(src, shape, win), naiveMedian(src, shape, win), `window ${win}, integer ${integer}`);
    }
  }
  // Negative values take the general path for 3×3 too (the fast one needs non-negative floats).
  const signed = randomImage(...shape, 12).map((v) => v - 100);
  assert.deepEqual(medianFilter(signed, shape, 3), naiveMedian(signed, shape, 3));
});

test('feature squeezing rounds half to even and clips', async () => {
  // 1 bit: x/255 = 0.5 exactly at 127.5 → rint(0.5) = 0; out-of-range inputs are clipped.
  const x = tf.tensor4d([0, 127.5, 127.6, 255, -20, 300], [1, 1, 6, 1]);
  const y = await new FeatureSqueezing({ bit_depth: 1 }).apply(x);
  assert.deepEqual(Array.from(await y.data()), [0, 0, 255, 255, 0, 255]);
  tf.dispose([x, y]);
});

test('Gaussian noise: std within 2 % of sigma, seeded, clipped to [0,255]', async (t) => {
  const shape: [number, number, number, number] = [4, 64, 64, 3];
  const x = tf.fill(shape, 128) as tf.Tensor4D;
  const g = new GaussianAugmentation({ sigma: 15 });
  const a = await g.apply(x, { seed: 7 });
  const b = await g.apply(x, { seed: 7 });
  const c = await g.apply(x);
  const va = (await a.data()) as Float32Array;
  assert.deepEqual(va, await b.data(), 'same seed, same noise');
  assert.notDeepEqual(va, await c.data(), 'no seed, fresh noise');
  let s = 0;
  let s2 = 0;
  for (const v of va) {
    s += v - 128;
    s2 += (v - 128) ** 2;
  }
  const mean = s / va.length;
  const std = Math.sqrt(s2 / va.length - mean * mean);
  t.diagnostic(`sigma 15: measured mean ${mean.toFixed(3)}, std ${std.toFixed(3)}`);
  assert.ok(Math.abs(std / 15 - 1) < 0.02, `std ${std}`);
  assert.ok(Math.abs(mean) < 0.2, `mean ${mean}`);

  const dark = tf.zeros(shape) as tf.Tensor4D;
  const d = await new GaussianAugmentation({ sigma: 100, seed: 3 }).apply(dark);
  const vd = (await d.data()) as Float32Array;
  assert.ok(vd.every((v) => v >= 0 && v <= 255));
  assert.ok(vd.filter((v) => v === 0).length > vd.length * 0.45, 'about half the draws clip at 0');
  tf.dispose([x, a, b, c, dark, d]);
});

test('ziggurat normals: moments and tail masses of N(0,1)', () => {
  const normal = normalSampler(createRandom(17));
  const n = 1_000_000;
  let s = 0;
  let s2 = 0;
  const beyond = [0, 0, 0, 0];
  const edges = [1, 2, 3, 3.442619855899]; // the last is where the ziggurat's tail starts
  for (let i = 0; i < n; i++) {
    const v = normal();
    s += v;
    s2 += v * v;
    for (let k = 0; k < 4; k++) if (Math.abs(v) > edges[k]) beyond[k]++;
  }
  assert.ok(Math.abs(s / n) < 0.005, `mean ${s / n}`);
  assert.ok(Math.abs(s2 / n - 1) < 0.005, `variance ${s2 / n}`);
  // P(|Z| > t) = erfc(t/√2); tolerances ≈ 4 standard errors.
  const expected = [0.31731051, 0.04550026, 0.0026998, 0.00057620];
  for (let k = 0; k < 4; k++) {
    const se = Math.sqrt((expected[k] * (1 - expected[k])) / n);
    assert.ok(Math.abs(beyond[k] / n - expected[k]) < 4 * se, `P(|Z| > ${edges[k]}) = ${beyond[k] / n}, expected ${expected[k]}`);
  }
});

test('TVM: seeded masks, output in range, and solver beats the input objective on random masks', async () => {
  const shape: [number, number, number, number] = [2, 20, 24, 3];
  const data = randomImage(...shape, 5);
  const x = tf.tensor4d(data, shape);
  const tvm = new TotalVarMin({ seed: 9 });
  const a = await tvm.apply(x);
  const b = await tvm.apply(x);
  assert.deepEqual(await a.data(), await b.data());
  const c = await tvm.apply(x, { seed: 10 });
  assert.notDeepEqual(await a.data(), await c.data());
  tf.dispose([x, a, b, c]);

  const mask = drawMask(data.length, 0.3, 1);
  const share = mask.reduce((s, v) => s + v, 0) / mask.length;
  assert.ok(Math.abs(share - 0.3) < 0.03, `mask share ${share}`);
  for (const norm of [1, 2]) {
    const z = totalVarMinimise(data, mask, shape, { norm, lamb: 0.5, iterations: 20 });
    assert.ok(z.every((v) => v >= 0 && v <= 255));
    const size = 20 * 24 * 3;
    for (let i = 0; i < 2; i++) {
      const before = tvmObjective(data, data, mask, 20, 24, 3, norm, 0.5, i * size);
      const after = tvmObjective(z, data, mask, 20, 24, 3, norm, 0.5, i * size);
      for (let k = 0; k < 3; k++) assert.ok(after[k] < before[k] * 0.8, `norm ${norm} image ${i} channel ${k}: ${after[k]} vs ${before[k]}`);
    }
  }
});

test('TVM on worker threads: every output bit equals the inline solve, for both solvers and odd splits', async () => {
  const shape: [number, number, number, number] = [5, 14, 10, 3];
  const data = randomImage(...shape, 21);
  const mask = drawMask(data.length, 0.3, 4);
  const specs: TvmSolve[] = [
    { solver: 'lbfgs', norm: 2, lamb: 0.5, max_iter: 10 },
    { solver: 'pdhg', norm: 1, lamb: 0.5, iterations: 25 },
  ];
  for (const spec of specs) {
    const inline = await solveTvmBatch(data, mask, shape, spec, 1);
    for (const threads of [2, 3]) {
      const split = await solveTvmBatch(data, mask, shape, spec, threads);
      assert.ok(Buffer.from(split.buffer).equals(Buffer.from(inline.buffer)), `${spec.solver}, ${threads} threads`);
    }
  }
  assert.ok(Buffer.from(data.buffer).equals(Buffer.from(randomImage(...shape, 21).buffer)), 'input untouched');
});

test('parameters are validated with the valid range in the message', () => {
  assert.throws(() => new JpegCompression({ quality: 0 }), /jpeg: quality must be an integer in \[1, 100\], got 0/);
  assert.throws(() => new JpegCompression({ quality: 20.5 }), /integer in \[1, 100\]/);
  assert.throws(() => new SpatialSmoothing({ window_size: 0 }), /median: window_size must be an integer in \[1, 63\]/);
  assert.throws(() => new TotalVarMin({ norm: 3 }), /tvm: norm must be one of 1, 2, got 3/);
  assert.throws(() => new TotalVarMin({ prob: 1.5 }), /tvm: prob must be a number in \[0, 1\]/);
  assert.throws(() => new GaussianAugmentation({ sigma: -1 }), /gauss: sigma must be a number in \[0, 255\]/);
  assert.throws(() => new FeatureSqueezing({ bit_depth: 0 }), /squeeze: bit_depth must be an integer in \[1, 32\]/);
  assert.throws(() => new FeatureSqueezing({ depth: 3 } as never), /squeeze: unknown parameter 'depth' \(valid: bit_depth\)/);
  assert.equal(new TotalVarMin({ lamb: 0.2 }).toString(), 'tvm:prob=0.3,norm=2,lamb=0.2,max_iter=10,solver=lbfgs');
  assert.equal(new JpegCompression({ quality: 20 }).toString(), 'jpeg:quality=20');
});

const all: Preprocessor[] = [
  new JpegCompression({ quality: 20 }),
  new GaussianAugmentation({ sigma: 8 }),
  new SpatialSmoothing({ window_size: 3 }),
  new SpatialSmoothing({ window_size: 4 }),
  new TotalVarMin({ max_iter: 2 }),
  new FeatureSqueezing({ bit_depth: 4 }),
];

test('every defence: same shape, range [0,255], input untouched, no tensor leaks, identity gradient', async () => {
  const shape: [number, number, number, number] = [2, 16, 12, 3];
  const data = randomImage(...shape, 21);
  const x = tf.tensor4d(data, shape);
  const grad = tf.tensor4d(randomImage(...shape, 22), shape);
  for (const p of all) {
    (await p.apply(x)).dispose(); // first call may allocate backend state
    const before = tf.memory().numTensors;
    for (let r = 0; r < 3; r++) {
      const y = await p.apply(x, { seed: r });
      assert.deepEqual(y.shape, shape, `${p}`);
      assert.ok(((await y.data()) as Float32Array).every((v) => v >= 0 && v <= 255), `${p}: range`);
      y.dispose();
      const g = await p.estimateGradient(x, grad);
      assert.equal(p.gradient, 'identity');
      assert.deepEqual(await g.data(), await grad.data(), `${p}: identity gradient`);
      g.dispose();
    }
    assert.equal(tf.memory().numTensors, before, `${p}: tensors leaked`);
    assert.deepEqual(await x.data(), data, `${p}: input modified`);
  }
  assert.throws(() => all[0].estimateGradient(x, tf.zeros([1, 16, 12, 3])), /jpeg: gradient shape \[1, 16, 12, 3\] differs from input shape \[2, 16, 12, 3\]/);
  await assert.rejects(all[2].apply(tf.zeros([16, 12, 3]) as never), /median: expected an NHWC batch \(rank 4\)/);
  tf.dispose([x, grad]);
});

test('JPEG of a non-RGB batch compresses each channel as greyscale', async () => {
  const shape: [number, number, number, number] = [1, 16, 16, 2];
  const data = randomImage(...shape, 4, true);
  const x = tf.tensor4d(data, shape);
  const y = await new JpegCompression({ quality: 90 }).apply(x);
  const out = (await y.data()) as Float32Array;
  // Each channel alone through a 1-channel JPEG gives the same values as inside the 2-channel batch.
  for (let ch = 0; ch < 2; ch++) {
    const plane = Float32Array.from({ length: 256 }, (_, k) => data[k * 2 + ch]);
    const one = tf.tensor4d(plane, [1, 16, 16, 1]);
    const yo = await new JpegCompression({ quality: 90 }).apply(one);
    const vo = await yo.data();
    for (let k = 0; k < 256; k++) assert.equal(out[k * 2 + ch], vo[k]);
    tf.dispose([one, yo]);
  }
  tf.dispose([x, y]);
});

test('gauss and median split a batch over the JS pool: the bits of each image run alone (inline)', async () => {
  const n = 5;
  const x = tf.randomUniform([n, 20, 24, 3], 0, 255, 'float32', 11) as tf.Tensor4D;
  const seeds = [3, 1, 4, 1, 5];
  for (const defence of [new GaussianAugmentation({ sigma: 15 }), new SpatialSmoothing({ window_size: 3 })]) {
    const before = tf.memory().numTensors;
    const whole = await defence.apply(x, { seeds });
    const alone = await Promise.all(seeds.map(async (seed, i) => {
      const xi = tf.slice(x, i, 1) as tf.Tensor4D;
      const y = await defence.apply(xi, { seeds: [seed] });
      xi.dispose();
      return y;
    }));
    const joined = tf.concat(alone);
    assert.deepEqual(await whole.data(), await joined.data(), defence.name);
    tf.dispose([whole, joined, ...alone]);
    assert.equal(tf.memory().numTensors, before, `${defence.name}: no leaks`);
  }
  x.dispose();
});
