import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { differentiate } from '../../src/engine/onnx/autodiff/differentiate.js';
import { decodeModel, encodeModel } from '../../src/engine/onnx/autodiff/model.js';
import { OnnxConv } from '../../src/engine/onnx/conv.js';
import { OnnxGraph } from '../../src/engine/onnx/graph.js';
import { createSession, loadOnnxRuntime } from '../../src/engine/onnx/runtime.js';
import { relError } from '../helpers/numeric.js';

const ort = await loadOnnxRuntime();
const skip = ort ? false : 'onnxruntime-node does not load on this platform';


const GEOMETRIES: ReadonlyArray<{ size: number; k: number; stride: number; pad: 'same' | 'valid' }> = [
  { size: 9, k: 3, stride: 1, pad: 'same' },
  { size: 8, k: 3, stride: 1, pad: 'valid' },
  { size: 9, k: 3, stride: 2, pad: 'valid' },
  { size: 8, k: 3, stride: 2, pad: 'valid' },
  { size: 9, k: 3, stride: 2, pad: 'same' },
  { size: 10, k: 3, stride: 2, pad: 'same' },
  { size: 15, k: 7, stride: 2, pad: 'valid' },
  { size: 16, k: 7, stride: 2, pad: 'valid' },
  { size: 11, k: 5, stride: 3, pad: 'same' },
  { size: 6, k: 4, stride: 2, pad: 'same' },
];

test('ONNX conv forward and its differentiated input gradient equal TF.js for every geometry', { skip }, async () => {
  await initEngine({ backend: 'wasm', strict: true });
  const [ci, co] = [3, 4];
  for (const { size, k, stride, pad } of GEOMETRIES) {
    const filter = tf.randomNormal([k, k, ci, co], 0, 1, 'float32', size * k + stride) as tf.Tensor4D;
    const bias = tf.randomNormal([co], 0, 1, 'float32', 7) as tf.Tensor1D;
    const x = tf.randomNormal([2, size, size, ci], 0, 1, 'float32', 11) as tf.Tensor4D;
    const y = tf.conv2d(x, filter, stride, pad);
    const dy = tf.randomNormal(y.shape, 0, 1, 'float32', 13) as tf.Tensor4D;
    const dx = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xi as tf.Tensor4D, filter, stride, pad), dy)))(x);
    const yBiased = tf.add(y, bias);
    const weights = { filter: (await filter.data()) as Float32Array, shape: filter.shape, bias: (await bias.data()) as Float32Array };
    const g = new OnnxGraph();
    const nchw = (v: string) => g.op('Transpose', [v], { perm: { ints: [0, 3, 1, 2] } });
    const nhwc = (v: string) => g.op('Transpose', [v], { perm: { ints: [0, 2, 3, 1] } });
    const conv = new OnnxConv(g, weights, size, stride, pad);
    const o = conv.geometry.outSize;
    assert.deepEqual([o, o], y.shape.slice(1, 3), `output size ${JSON.stringify(conv.geometry)}`);
    const out = nhwc(conv.forward(nchw(g.input('x', ['N', size, size, ci]))));
    g.output('y', out, ['N', o, o, co]);
    g.output('terms', g.op('Mul', [out, g.input('dy', ['N', o, o, co])]), ['N', o, o, co]);
    const model = differentiate(decodeModel(g.toBytes()), { wrt: 'x', of: 'terms', keep: ['y'] });
    const session = await createSession(ort!, encodeModel(model), 1);
    const res = await session.run({
      x: new ort!.Tensor('float32', (await x.data()) as Float32Array, x.shape),
      dy: new ort!.Tensor('float32', (await dy.data()) as Float32Array, dy.shape),
    });
    const what = JSON.stringify({ size, k, stride, pad });
    assert.deepEqual(res.grad_x.dims, x.shape, what);
    assert.ok(relError(res.y.data as Float32Array, await yBiased.data()) < 1e-5, `forward ${what}`);
    assert.ok(relError(res.grad_x.data as Float32Array, await dx.data()) < 1e-5, `gradient ${what}`);
    await session.release();
    tf.dispose([filter, bias, x, y, dy, dx, yBiased]);
  }
});

test('ONNX graph writer: dynamic batch, constants, multi-output nodes', { skip }, async () => {
  const g = new OnnxGraph();
  const x = g.input('x', ['N', 4]);
  const [values, indices] = g.opN('TopK', [g.op('Add', [x, g.floats([1, 2, 3, 4], [4])]), g.int64s([1])], 2, { axis: { i: 1 } });
  g.output('top', values, ['N', 1]);
  g.output('sum', g.op('Add', [values, g.op('Cast', [indices], { to: { i: 1 } })]), ['N', 1]);
  const session = await createSession(ort!, g.toBytes(), 1);
  for (const n of [1, 3]) {
    const data = Float32Array.from({ length: n * 4 }, (_, i) => (i % 4 === 1 ? 10 : 0) + i);
    const out = await session.run({ x: new ort!.Tensor('float32', data, [n, 4]) });
    const top = Array.from({ length: n }, (_, r) => 10 + r * 4 + 1 + 2);
    assert.deepEqual(Array.from(out.top.data as Float32Array), top);
    assert.deepEqual(Array.from(out.sum.data as Float32Array), top.map((v) => v + 1));
  }
  await session.release();
  assert.throws(() => g.floats([1, 2, 3], [2, 2]), /3 values for dims \[2,2\]/);
});
