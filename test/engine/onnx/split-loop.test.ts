import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OnnxGraph } from '../../../src/engine/onnx/graph.js';
import { loadOnnxRuntime } from '../../../src/engine/onnx/runtime.js';
import { SplitLoop, splitSizes } from '../../../src/engine/onnx/split-loop.js';

const skip = (await loadOnnxRuntime()) ? false : 'onnxruntime-node does not load on this platform';

/** x_next = x·a + b: `b` per sample [N,2], `a` a shared scalar. */
function affineStep(): Uint8Array {
  const g = new OnnxGraph();
  const x = g.input('x', ['N', 2]);
  const a = g.input('a', []);
  const b = g.input('b', ['N', 2]);
  g.output('x_next', g.op('Add', [g.op('Mul', [x, a]), b]), ['N', 2]);
  return g.toBytes();
}

test('splitSizes: contiguous near-equal non-empty slices, never more than the samples', () => {
  assert.deepEqual(splitSizes(32, 2), [16, 16]);
  assert.deepEqual(splitSizes(7, 3), [2, 2, 3]);
  assert.deepEqual(splitSizes(1, 2), [1]);
  assert.deepEqual(splitSizes(5, 1), [5]);
});

test('SplitLoop: iterating a step graph on slices of the batch equals iterating it whole', { skip }, async () => {
  const loop = await SplitLoop.create(affineStep(), { input: 'x', output: 'x_next' }, 3);
  try {
    assert.equal(loop.size, 3);
    for (const n of [7, 2]) {
      const x = Float32Array.from({ length: 2 * n }, (_, i) => i);
      const b = Float32Array.from({ length: 2 * n }, (_, i) => (i % 3) - 1);
      await loop.start({ data: x, dims: [n, 2] }, { b: { data: b, dims: [n, 2] } }, { a: { data: Float32Array.of(0.5), dims: [] } });
      await loop.run(2);
      const mid = await loop.read();
      await loop.run(1);
      const end = await loop.read();
      const expect = (k: number) => Array.from(x, (v, i) => {
        for (let j = 0; j < k; j++) v = Math.fround(Math.fround(v * 0.5) + b[i]);
        return v;
      });
      assert.deepEqual(mid.dims, [n, 2]);
      assert.deepEqual(Array.from(mid.data), expect(2), `${n} samples after 2 steps`);
      assert.deepEqual(Array.from(end.data), expect(3), `${n} samples after 3 steps`);
    }
    await assert.rejects(
      loop.start({ data: new Float32Array(4), dims: [2, 2] }, { b: { data: new Float32Array(6), dims: [3, 2] } }),
      /split loop: 'b' has 3 samples, the carried tensor 2/,
    );
  } finally {
    await loop.close();
  }
});

test('SplitLoop.evaluate: one run on slices of the batch, the outputs joined, equals a run on the whole batch', { skip }, async () => {
  const loop = await SplitLoop.create(affineStep(), undefined, 3);
  try {
    const a = { a: { data: Float32Array.of(2), dims: [] } };
    for (const n of [7, 1]) {
      const x = Float32Array.from({ length: 2 * n }, (_, i) => i);
      const b = Float32Array.from({ length: 2 * n }, (_, i) => -i / 4);
      // Two at once: calls may overlap.
      const [out, again] = await Promise.all([0, 1].map(() => loop.evaluate({ x: { data: x, dims: [n, 2] }, b: { data: b, dims: [n, 2] } }, a, ['x_next'])));
      assert.deepEqual(out.x_next.dims, [n, 2]);
      assert.deepEqual(Array.from(out.x_next.data), Array.from(x, (v, i) => Math.fround(v * 2 + b[i])), `${n} samples`);
      assert.deepEqual(again, out);
    }
    await assert.rejects(loop.evaluate({ x: { data: new Float32Array(4), dims: [2, 2] }, b: { data: new Float32Array(6), dims: [3, 2] } }, a, ['x_next']), /split loop: 'b' has 3 samples, 'x' 2/);
    await assert.rejects(loop.start({ data: new Float32Array(4), dims: [2, 2] }, {}, a), /'start' on a graph without a carried tensor/);
  } finally {
    await loop.close();
  }
});

test('SplitLoop: a worker running its slice in chunks of at most `chunk` samples gives what whole slices give', { skip }, async () => {
  const whole = await SplitLoop.create(affineStep(), { input: 'x', output: 'x_next' }, 2);
  const chunked = await SplitLoop.create(affineStep(), { input: 'x', output: 'x_next' }, 2, 2);
  try {
    const n = 7; // slices of 3 and 4: chunks of 2+1 and 2+2
    const x = Float32Array.from({ length: 2 * n }, (_, i) => i / 3);
    const b = Float32Array.from({ length: 2 * n }, (_, i) => (i % 5) - 2);
    const a = { a: { data: Float32Array.of(0.75), dims: [] } };
    const outputs: Record<string, unknown>[] = [];
    for (const loop of [whole, chunked]) {
      await loop.start({ data: x.slice(), dims: [n, 2] }, { b: { data: b.slice(), dims: [n, 2] } }, a);
      await loop.run(3);
      const carried = await loop.read();
      const evaluated = await loop.evaluate({ x: { data: x.slice(), dims: [n, 2] }, b: { data: b.slice(), dims: [n, 2] } }, a, ['x_next']);
      outputs.push({ carried, evaluated });
    }
    assert.deepEqual(outputs[1], outputs[0]);
    assert.deepEqual((outputs[1].carried as { dims: number[] }).dims, [n, 2]);
    await assert.rejects(SplitLoop.create(affineStep(), undefined, 1, 0), /split loop: chunk must be ≥ 1, got 0/);
  } finally {
    await Promise.all([whole.close(), chunked.close()]);
  }
});

test('SplitLoop: a model the runtime refuses, and a feed the graph lacks, are errors naming the worker', { skip }, async () => {
  await assert.rejects(SplitLoop.create(Uint8Array.of(1, 2, 3), { input: 'x', output: 'x_next' }, 2), /split loop worker: /);
  const loop = await SplitLoop.create(affineStep(), { input: 'x', output: 'x_next' }, 2);
  try {
    await loop.start({ data: new Float32Array(4), dims: [2, 2] }, {}, { a: { data: Float32Array.of(1), dims: [] } });
    await assert.rejects(loop.run(1), /split loop worker: .*b/);
  } finally {
    await loop.close();
  }
});
