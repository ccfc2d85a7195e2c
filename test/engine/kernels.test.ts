/**
 * The fast wasm gradient kernels against the cpu backend (the reference): same inputs, same attributes,
 * max error relative to max |reference| ≤ 1e-4, across strides, paddings, odd/even sizes, filter sizes and
 * channel counts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { clearFilterCache, filterCacheSize } from '../../src/engine/kernels/filter_cache.js';
import { relError } from '../helpers/numeric.js';

const TOLERANCE = 1e-4;

/** Deterministic values in [-1, 1) (a small LCG: no dependency on tf.random's backend-specific state). */
function values(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  let s = seed >>> 0;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

type Inputs = Record<string, { shape: number[]; data: Float32Array }>;

/** Runs one kernel on a backend with fresh copies of the inputs, returns its output values and shape. */
async function runOn(backend: 'cpu' | 'wasm', kernel: string, inputs: Inputs, attrs: object): Promise<{ shape: number[]; data: Float32Array }> {
  await tf.setBackend(backend);
  const tensors: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) tensors[k] = tf.tensor(v.data, v.shape, 'float32');
  const out = tf.engine().runKernel(kernel, tensors, attrs as tf.NamedAttrMap) as tf.Tensor;
  const result = { shape: out.shape, data: out.dataSync() as Float32Array };
  tf.dispose([out, ...Object.values(tensors)]);
  return result;
}

async function compare(kernel: string, inputs: Inputs, attrs: object, label: string): Promise<void> {
  const ref = await runOn('cpu', kernel, inputs, attrs);
  const before = tf.memory().numTensors;
  const got = await runOn('wasm', kernel, inputs, attrs);
  assert.equal(tf.memory().numTensors, before, `${label}: tensors leaked`);
  assert.deepEqual(got.shape, ref.shape, `${label}: shape`);
  const err = relError(got.data, ref.data);
  assert.ok(err <= TOLERANCE, `${label}: relative error ${err.toExponential(2)} > ${TOLERANCE}`);
}

type Pad = 'same' | 'valid' | number;

interface ConvCase {
  n: number;
  h: number;
  w: number;
  inC: number;
  outC: number;
  k: number;
  stride: number;
  pad: Pad;
}

/** Output spatial size of a forward convolution (tfjs conventions). */
function outSize(size: number, k: number, s: number, pad: Pad): number {
  if (pad === 'same') return Math.ceil(size / s);
  if (pad === 'valid') return Math.ceil((size - k + 1) / s);
  return Math.floor((size + 2 * pad - k) / s) + 1;
}

/** The grid the brief asks for: strides 1/2, same/valid (+ an explicit pad), odd/even sizes, 1/3/7 filters, 1/3/8 channels. */
function convCases(): ConvCase[] {
  const cases: ConvCase[] = [];
  let i = 0;
  for (const stride of [1, 2]) {
    for (const pad of ['same', 'valid', 1] as Pad[]) {
      for (const [h, w] of [[9, 9], [8, 10]]) {
        for (const k of [1, 3, 7]) {
          if (pad === 'valid' && k > Math.min(h, w)) continue;
          const [inC, outC] = [[1, 3], [3, 8], [8, 1]][i++ % 3];
          cases.push({ n: 2, h, w, inC, outC, k, stride, pad });
        }
        // Strided paths: separate phases (k 1, 3; wide inputs), fused (k 7 on thin inputs, k 2).
        if (stride === 2) for (const k of [1, 2, 3]) cases.push({ n: 2, h, w, inC: 16, outC: 4, k, stride, pad });
      }
    }
  }
  return cases;
}

function describeCase(c: ConvCase): string {
  return `x[${c.n},${c.h},${c.w},${c.inC}] ${c.k}×${c.k}→${c.outC} stride ${c.stride} pad ${c.pad}`;
}

await initEngine({ backend: 'wasm', strict: true });
// Makes the engine count backend data ids around every kernel and throw on an internal leak.
tf.env().set('IS_TEST', true);

test('Conv2DBackpropInput matches cpu', async () => {
  for (const c of convCases()) {
    const oh = outSize(c.h, c.k, c.stride, c.pad), ow = outSize(c.w, c.k, c.stride, c.pad);
    const inputs = {
      dy: { shape: [c.n, oh, ow, c.outC], data: values(c.n * oh * ow * c.outC, 1) },
      filter: { shape: [c.k, c.k, c.inC, c.outC], data: values(c.k * c.k * c.inC * c.outC, 2) },
    };
    const attrs = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', inputShape: [c.n, c.h, c.w, c.inC] };
    await compare('Conv2DBackpropInput', inputs, attrs, describeCase(c));
  }
});

test('Conv2DBackpropFilter matches cpu', async () => {
  for (const c of convCases()) {
    const oh = outSize(c.h, c.k, c.stride, c.pad), ow = outSize(c.w, c.k, c.stride, c.pad);
    const inputs = {
      x: { shape: [c.n, c.h, c.w, c.inC], data: values(c.n * c.h * c.w * c.inC, 3) },
      dy: { shape: [c.n, oh, ow, c.outC], data: values(c.n * oh * ow * c.outC, 4) },
    };
    const attrs = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', filterShape: [c.k, c.k, c.inC, c.outC] };
    await compare('Conv2DBackpropFilter', inputs, attrs, describeCase(c));
  }
});

test('Conv2DBackpropFilter matches cpu when dy is split into chunks of rows', async () => {
  // dy rows of 32·2·64 floats: 16-row chunks of 64K floats (stride 1: 33 rows, stride 2: 17 rows).
  for (const [stride, pad] of [[1, 'same'], [2, 'same']] as const) {
    const c: ConvCase = { n: 2, h: 33, w: 32 * stride, inC: 4, outC: 64, k: 3, stride, pad };
    const oh = outSize(c.h, c.k, stride, pad), ow = outSize(c.w, c.k, stride, pad);
    const inputs = {
      x: { shape: [c.n, c.h, c.w, c.inC], data: values(c.n * c.h * c.w * c.inC, 23) },
      dy: { shape: [c.n, oh, ow, c.outC], data: values(c.n * oh * ow * c.outC, 24) },
    };
    await compare('Conv2DBackpropFilter', inputs, { strides: stride, pad, dataFormat: 'NHWC', filterShape: [3, 3, 4, 64] }, `${describeCase(c)} (chunked)`);
  }
});

/** Depthwise: channel multiplier 1 and 2 (dilation 1: tfjs-core's gradient and cpu kernels support no other). */
function depthwiseCases(): Array<ConvCase & { m: number }> {
  return convCases().map((c, i) => ({ ...c, outC: c.inC * (i % 4 === 3 ? 2 : 1), m: i % 4 === 3 ? 2 : 1 }));
}

test('DepthwiseConv2dNativeBackpropInput matches cpu', async () => {
  for (const c of depthwiseCases()) {
    const oh = outSize(c.h, c.k, c.stride, c.pad), ow = outSize(c.w, c.k, c.stride, c.pad);
    const inputs = {
      dy: { shape: [c.n, oh, ow, c.outC], data: values(c.n * oh * ow * c.outC, 5) },
      filter: { shape: [c.k, c.k, c.inC, c.m], data: values(c.k * c.k * c.inC * c.m, 6) },
    };
    const attrs = { strides: c.stride, dilations: 1, pad: c.pad, inputShape: [c.n, c.h, c.w, c.inC] };
    await compare('DepthwiseConv2dNativeBackpropInput', inputs, attrs, `${describeCase(c)} m ${c.m}`);
  }
});

test('DepthwiseConv2dNativeBackpropFilter matches cpu', async () => {
  for (const c of depthwiseCases()) {
    const oh = outSize(c.h, c.k, c.stride, c.pad), ow = outSize(c.w, c.k, c.stride, c.pad);
    const inputs = {
      x: { shape: [c.n, c.h, c.w, c.inC], data: values(c.n * c.h * c.w * c.inC, 7) },
      dy: { shape: [c.n, oh, ow, c.outC], data: values(c.n * oh * ow * c.outC, 8) },
    };
    const attrs = { strides: c.stride, dilations: 1, pad: c.pad, filterShape: [c.k, c.k, c.inC, c.m] };
    await compare('DepthwiseConv2dNativeBackpropFilter', inputs, attrs, `${describeCase(c)} m ${c.m}`);
  }
});

/**
 * Dilated depthwise gradients (the wasm kernels accept dilations; tfjs-core never asks): a filter dilated
 * by d equals its zero-expanded version at dilation 1, so the cpu kernels on the expanded filter are the
 * reference (the filter gradient is the expanded gradient at every d-th tap).
 */
test('dilated depthwise gradients match the zero-expanded filter on cpu', async () => {
  const [n, h, w, ch, m, k, d] = [2, 11, 10, 3, 2, 3, 2];
  const ek = (k - 1) * d + 1;
  const filter = values(k * k * ch * m, 9);
  const expanded = new Float32Array(ek * ek * ch * m);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      expanded.set(filter.subarray((i * k + j) * ch * m, (i * k + j + 1) * ch * m), (i * d * ek + j * d) * ch * m);
    }
  }
  for (const pad of ['same', 'valid'] as const) {
    const oh = outSize(h, ek, 1, pad), ow = outSize(w, ek, 1, pad);
    const dy = { shape: [n, oh, ow, ch * m], data: values(n * oh * ow * ch * m, 10) };
    const x = { shape: [n, h, w, ch], data: values(n * h * w * ch, 11) };
    const label = `dilation ${d} pad ${pad}`;

    const refIn = await runOn('cpu', 'DepthwiseConv2dNativeBackpropInput', { dy, filter: { shape: [ek, ek, ch, m], data: expanded } },
      { strides: 1, dilations: 1, pad, inputShape: [n, h, w, ch] });
    const gotIn = await runOn('wasm', 'DepthwiseConv2dNativeBackpropInput', { dy, filter: { shape: [k, k, ch, m], data: filter } },
      { strides: 1, dilations: d, pad, inputShape: [n, h, w, ch] });
    assert.ok(relError(gotIn.data, refIn.data) <= TOLERANCE, `${label}: input gradient`);

    const refF = await runOn('cpu', 'DepthwiseConv2dNativeBackpropFilter', { x, dy }, { strides: 1, dilations: 1, pad, filterShape: [ek, ek, ch, m] });
    const gotF = await runOn('wasm', 'DepthwiseConv2dNativeBackpropFilter', { x, dy }, { strides: 1, dilations: d, pad, filterShape: [k, k, ch, m] });
    const refTaps = new Float32Array(k * k * ch * m);
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) {
        refTaps.set(refF.data.subarray((i * d * ek + j * d) * ch * m, (i * d * ek + j * d + 1) * ch * m), (i * k + j) * ch * m);
      }
    }
    assert.ok(relError(gotF.data, refTaps) <= TOLERANCE, `${label}: filter gradient`);
  }
});

test('tf.grad through fused conv2d (+bias, ReLU) and depthwiseConv2d (wasm vs cpu), no tensors left behind', async () => {
  const x = values(2 * 9 * 8 * 3, 12), w = values(3 * 3 * 3 * 4, 13), bias = values(4, 20), dw = values(3 * 3 * 4 * 1, 14);
  const run = async (backend: 'cpu' | 'wasm'): Promise<Float32Array[]> => {
    await tf.setBackend(backend);
    const before = tf.memory().numTensors;
    const inputs = [tf.tensor4d(x, [2, 9, 8, 3]), tf.tensor4d(w, [3, 3, 3, 4]), tf.tensor1d(bias), tf.tensor4d(dw, [3, 3, 4, 1])];
    const f = (a: tf.Tensor4D, b: tf.Tensor4D, c: tf.Tensor1D, d: tf.Tensor4D): tf.Scalar => {
      const h = tf.fused.conv2d({ x: a, filter: b, bias: c, strides: 2, pad: 'same', activation: 'relu' });
      return tf.sum(tf.square(tf.depthwiseConv2d(h, d, 1, 'valid')));
    };
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) =>
      f(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor1D, d as tf.Tensor4D))(inputs);
    const out = grads.map((g) => g.dataSync() as Float32Array);
    tf.dispose([...grads, ...inputs]);
    assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
    return out;
  };
  const ref = await run('cpu');
  const got = await run('wasm');
  ['x', 'filter', 'bias', 'depthwise filter'].forEach((name, i) => {
    assert.ok(relError(got[i], ref[i]) <= TOLERANCE, `gradient w.r.t. ${name}: relative error ${relError(got[i], ref[i])}`);
  });
});

/** The pooling geometries both pool-gradient tests cover: odd and even sizes, window/stride pairs, both paddings. */
function* poolCases(): Generator<{ h: number; w: number; k: number; stride: number; pad: 'same' | 'valid'; ch: number; oh: number; ow: number }> {
  let i = 0;
  for (const [h, w] of [[9, 9], [8, 10]]) {
    for (const [k, stride] of [[2, 2], [3, 2], [3, 1]]) {
      for (const pad of ['same', 'valid'] as const) {
        yield { h, w, k, stride, pad, ch: [1, 3, 8][i++ % 3], oh: outSize(h, k, stride, pad), ow: outSize(w, k, stride, pad) };
      }
    }
  }
}

test('MaxPoolGrad matches cpu (ties included; also the fallback for windows without their maximum)', async () => {
  for (const { h, w, k, stride, pad, ch, oh, ow } of poolCases()) {
    // Few distinct levels so windows hold tied maxima: the first one (row-major) must get the gradient.
    const x = { shape: [2, h, w, ch], data: values(2 * h * w * ch, 15).map((v) => Math.round(v * 3)) };
    const attrs = { filterSize: k, strides: stride, pad };
    const output = await runOn('cpu', 'MaxPool', { x }, attrs);
    const dy = { shape: [2, oh, ow, ch], data: values(2 * oh * ow * ch, 16) };
    const label = `x[2,${h},${w},${ch}] pool ${k} stride ${stride} pad ${pad}`;
    await compare('MaxPoolGrad', { dy, input: x, output }, attrs, label);
    // A NaN "maximum" matches no tap: the kernel must then search the window itself.
    const nan = { shape: output.shape, data: new Float32Array(output.data.length).fill(NaN) };
    await compare('MaxPoolGrad', { dy, input: x, output: nan }, attrs, `${label} (NaN output)`);
  }
});

test('AvgPoolGrad matches cpu', async () => {
  for (const { h, w, k, stride, pad, ch, oh, ow } of poolCases()) {
    const inputs = {
      dy: { shape: [2, oh, ow, ch], data: values(2 * oh * ow * ch, 21) },
      input: { shape: [2, h, w, ch], data: values(2 * h * w * ch, 22) },
    };
    await compare('AvgPoolGrad', inputs, { filterSize: k, strides: stride, pad }, `x[2,${h},${w},${ch}] pool ${k} stride ${stride} pad ${pad}`);
  }
});

test('Sign is exact at every magnitude (the stock wasm kernel zeroed |x| < ~1e-6)', async () => {
  const data = new Float32Array([1e-30, -1e-30, 1e-9, -1e-9, 1e-7, -3e-6, 0, -0, 2, -5, NaN]);
  const cpu = await runOn('cpu', 'Sign', { x: { shape: [data.length], data } }, {});
  const wasm = await runOn('wasm', 'Sign', { x: { shape: [data.length], data } }, {});
  assert.deepEqual(Array.from(wasm.data), Array.from(cpu.data));
  assert.deepEqual(Array.from(wasm.data).slice(0, 6), [1, -1, 1, -1, 1, -1]);
});

test('transformed filters are cached per filter tensor and freed after it is disposed', async () => {
  await tf.setBackend('wasm');
  clearFilterCache();
  const dy = tf.tensor4d(values(2 * 5 * 5 * 4, 17), [2, 5, 5, 4]);
  const filter = tf.tensor4d(values(3 * 3 * 8 * 4, 18), [3, 3, 8, 4]);
  const grad = (): Float32Array => {
    const dx = tf.conv2dTranspose(dy, filter, [2, 9, 9, 8], 2, 'same');
    const out = dx.dataSync() as Float32Array;
    dx.dispose();
    return out;
  };
  const first = grad();
  const cached = filterCacheSize();
  assert.ok(cached > 0, 'stride-2 input gradient cached its phase filters');
  assert.deepEqual(grad(), first, 'a cached filter gives the same gradient');
  assert.equal(filterCacheSize(), cached, 'second call reuses the cache');
  filter.dispose();
  // Any later fast-kernel call frees the entries of disposed filters.
  const other = tf.tensor4d(values(3 * 3 * 8 * 4, 19), [3, 3, 8, 4]);
  tf.dispose(tf.conv2dTranspose(dy, other, [2, 9, 9, 8], 1, 'valid'));
  assert.equal(filterCacheSize(), 1, 'only the new filter stays cached');
  clearFilterCache();
  assert.equal(filterCacheSize(), 0);
  tf.dispose([dy, other]);
});

test('NCHW is refused with a clear error', async () => {
  await tf.setBackend('wasm');
  const dy = tf.zeros([1, 4, 5, 5]);
  const filter = tf.zeros([3, 3, 2, 4]);
  const x = tf.zeros([1, 2, 5, 5]);
  assert.throws(
    () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, { strides: 1, pad: 'same', dataFormat: 'NCHW', inputShape: [1, 2, 5, 5] }),
    /Conv2DBackpropInput: dataFormat 'NCHW' is not supported on wasm/,
  );
  assert.throws(
    () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 2, 4] }),
    /Conv2DBackpropFilter: dataFormat 'NCHW' is not supported on wasm/,
  );
  tf.dispose([dy, filter, x]);
});
