/**
 * The ONNX gradient compiler against central finite differences, op by op, on small random models built here.
 * Each case runs in float64 where onnxruntime's CPU provider has a float64 kernel for every op of its forward
 * and gradient graph (step 1e-5), else in float32 (step 1e-2, inputs spaced ≥ 0.05 apart where the op has
 * kinks so a step never crosses one); `type` in each case says which. The loss is Σ y ⊙ seed (random seed), so
 * every output element's gradient counts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyse } from '../../../src/engine/onnx/autodiff/analyse.js';
import { checkSupported, differentiate, readModel } from '../../../src/engine/onnx/autodiff/index.js';
import { DT, encodeModel, type ModelProto } from '../../../src/engine/onnx/autodiff/model.js';
import { createSession, loadOnnxRuntime } from '../../../src/engine/onnx/runtime.js';
import { ModelBuilder, random } from '../../helpers/onnx-model.js';
import { relError } from '../../helpers/numeric.js';

const ort = await loadOnnxRuntime();
const skip = ort ? false : 'onnxruntime-node does not load on this platform';

type Build = (b: ModelBuilder, x: string) => string;

interface Case {
  name: string;
  x: number[];
  build: Build;
  /** float64 where ORT has the kernels, else float32. */
  type: 'float64' | 'float32';
  opset?: number;
  /** Inputs: 'uniform' on [−1, 1) (default), 'positive' on [0.5, 1.5), 'spaced' (a shuffled grid 0.05 apart). */
  input?: 'uniform' | 'positive' | 'spaced';
  scale?: number;
}

function inputValues(c: Case, n: number): Float64Array {
  const r = random(n * 31 + c.name.length);
  const scale = c.scale ?? 1;
  if (c.input === 'spaced') {
    const v = Float64Array.from({ length: n }, (_, i) => (i - Math.floor(n / 2) + 0.5) * 0.05 * scale);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(((r() + 1) / 2) * (i + 1));
      [v[i], v[j]] = [v[j], v[i]];
    }
    return v;
  }
  return Float64Array.from({ length: n }, () => (c.input === 'positive' ? 1 + r() / 2 : r()) * scale);
}

const ofType = (t: Case['type']) => (t === 'float64' ? DT.DOUBLE : DT.FLOAT);

async function runCase(c: Case): Promise<void> {
  const type = ofType(c.type);
  const forward = new ModelBuilder(type, c.opset);
  const y = c.build(forward, forward.input('x', c.x));
  const fwdModel = forward.model([{ name: y }]);
  const yShape = analyse(fwdModel).infos.get(y)!.shape as number[];
  const ny = yShape.reduce((a, b) => a * b, 1);
  const r = random(ny + 7);
  const seed = Float64Array.from({ length: ny }, () => r());

  const withLoss = new ModelBuilder(type, c.opset);
  const y2 = c.build(withLoss, withLoss.input('x', c.x));
  const terms = withLoss.op('Mul', [y2, withLoss.floats(seed, yShape)]);
  const gradModel = differentiate(withLoss.model([{ name: y2 }]), { wrt: 'x', of: terms });

  const n = c.x.reduce((a, b) => a * b, 1);
  const x = inputValues(c, n);
  const Arr = c.type === 'float64' ? Float64Array : Float32Array;
  const tensor = (v: Float64Array) => new ort!.Tensor(c.type, Arr.from(v), c.x);
  const fwd = await createSession(ort!, encodeModel(fwdModel), 1);
  const grad = await createSession(ort!, encodeModel(gradModel), 1);
  try {
    const out = await grad.run({ x: tensor(x) });
    assert.deepEqual(out[y].dims, yShape, `${c.name}: inferred output shape`);
    const loss = async (v: Float64Array) => {
      const o = (await fwd.run({ x: tensor(v) }))[y].data as Float64Array | Float32Array;
      let s = 0;
      for (let i = 0; i < ny; i++) s += o[i] * seed[i];
      return s;
    };
    const h = c.type === 'float64' ? 1e-5 : 1e-2;
    const fd = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const v = Float64Array.from(x);
      v[i] = x[i] + h;
      const up = await loss(v);
      v[i] = x[i] - h;
      fd[i] = (up - (await loss(v))) / (2 * h);
    }
    const got = out.grad_x.data as Float64Array | Float32Array;
    const err = relError(got, fd);
    assert.ok(err < 1e-3, `${c.name} (${c.type}): relative error ${err.toExponential(2)}`);
  } finally {
    await Promise.all([fwd.release(), grad.release()]);
  }
}

const A = (v: Record<string, number | number[] | string>) =>
  Object.fromEntries(Object.entries(v).map(([k, x]) => [k, typeof x === 'string' ? { s: x } : Array.isArray(x) ? { ints: x } : Number.isInteger(x) && !k.match(/alpha|beta|epsilon/) ? { i: x } : { f: x }]));

const conv = (w: number[], attrs: Record<string, number | number[] | string>, seed = 3, bias = false): Build => (b, x) =>
  b.op('Conv', [x, b.randoms(w, seed), ...(bias ? [b.randoms([w[0]], seed + 1)] : [])], A(attrs));

/** Indices in [0, 2] of shape [3, 4] that depend on x's signs (constant under a small step): (x > 0) + [0, 1, 1]ᵀ. */
const runtimeIndices = (b: ModelBuilder, x: string): string =>
  b.op('Add', [b.op('Cast', [b.op('Greater', [x, b.tensor([0], [], DT.DOUBLE)])], A({ to: DT.INT64 })), b.int64s([0, 1, 1], [3, 1])]);

const CASES: Case[] = [
  // Arithmetic with broadcasting
  { name: 'Add broadcast', type: 'float64', x: [2, 3, 5], build: (b, x) => b.op('Add', [x, b.randoms([3, 1], 1)]) },
  { name: 'Add operand broadcast up', type: 'float64', x: [3, 1], build: (b, x) => b.op('Add', [b.randoms([2, 3, 5], 1), x]) },
  { name: 'Sub both sides', type: 'float64', x: [3, 5], build: (b, x) => b.op('Sub', [b.randoms([5], 2), b.op('Sub', [x, b.randoms([1, 5], 3)])]) },
  { name: 'Mul broadcast + self', type: 'float64', x: [2, 1, 5], build: (b, x) => b.op('Mul', [b.op('Mul', [x, b.randoms([3, 1], 4)]), x]) },
  { name: 'Div', type: 'float64', x: [3, 5], input: 'positive', build: (b, x) => b.op('Div', [b.op('Div', [x, b.randoms([5], 5)]), b.op('Add', [x, b.floats([1], [])])]) },
  { name: 'Neg', type: 'float64', x: [7], build: (b, x) => b.op('Neg', [x]) },
  { name: 'Pow (base and exponent)', type: 'float64', x: [3, 4], input: 'positive', build: (b, x) => b.op('Pow', [b.op('Pow', [x, b.floats([2.5], [])]), b.op('Mul', [x, b.floats([0.5], [])])]) },
  { name: 'Sqrt Exp Log', type: 'float64', x: [11], input: 'positive', build: (b, x) => b.op('Log', [b.op('Exp', [b.op('Sqrt', [x])])]) },
  { name: 'Where', type: 'float64', x: [2, 5], build: (b, x) => b.op('Where', [b.tensor([1, 0, 1, 1, 0], [5], DT.BOOL), x, b.op('Mul', [x, x])]) },
  { name: 'Reciprocal', type: 'float64', x: [9], input: 'positive', build: (b, x) => b.op('Reciprocal', [x]) },
  { name: 'Abs', type: 'float64', x: [3, 7], input: 'spaced', build: (b, x) => b.op('Abs', [x]) },
  { name: 'Max Min broadcast', type: 'float64', x: [2, 3, 5], build: (b, x) => b.op('Min', [b.op('Max', [x, b.randoms([3, 1], 8)]), b.op('Mul', [x, b.floats([0.5], [])])]) },
  // Activations
  { name: 'Relu', type: 'float64', x: [3, 7], build: (b, x) => b.op('Relu', [x]) },
  { name: 'PRelu', type: 'float64', x: [2, 3, 4, 5], build: (b, x) => b.op('PRelu', [x, b.randoms([3, 1, 1], 6)]) },
  { name: 'LeakyRelu', type: 'float64', x: [3, 7], build: (b, x) => b.op('LeakyRelu', [x], A({ alpha: 0.1 })) },
  { name: 'Sigmoid', type: 'float64', x: [3, 7], scale: 3, build: (b, x) => b.op('Sigmoid', [x]) },
  { name: 'Tanh', type: 'float64', x: [3, 7], scale: 2, build: (b, x) => b.op('Tanh', [x]) },
  { name: 'Clip min/max', type: 'float64', x: [3, 7], build: (b, x) => b.op('Clip', [x, b.floats([-0.5], []), b.floats([0.4], [])]) },
  { name: 'Clip min only', type: 'float64', x: [3, 7], build: (b, x) => b.op('Clip', [x, b.floats([-0.3], [])]) },
  { name: 'Elu', type: 'float32', input: 'spaced', x: [3, 7], build: (b, x) => b.op('Elu', [x], A({ alpha: 0.7 })) },
  { name: 'HardSigmoid', type: 'float32', input: 'spaced', scale: 3, x: [3, 7], build: (b, x) => b.op('HardSigmoid', [x], A({ alpha: 0.3, beta: 0.4 })) },
  { name: 'HardSwish', type: 'float32', input: 'spaced', scale: 6, x: [3, 7], build: (b, x) => b.op('HardSwish', [x]) },
  { name: 'Softmax axis 1', type: 'float64', x: [2, 5, 3], build: (b, x) => b.op('Softmax', [x], A({ axis: 1 })) },
  { name: 'LogSoftmax last axis', type: 'float64', x: [3, 5], build: (b, x) => b.op('LogSoftmax', [x], A({ axis: -1 })) },
  { name: 'Softmax opset 11 (flattened trailing axes)', type: 'float64', opset: 11, x: [2, 3, 4], build: (b, x) => b.op('Softmax', [x], A({ axis: 1 })) },
  // Convolutions
  { name: 'Conv 3×3 pad 1 + bias', type: 'float32', x: [1, 3, 7, 7], build: conv([4, 3, 3, 3], { pads: [1, 1, 1, 1] }, 3, true) },
  { name: 'Conv stride 2 valid, odd size', type: 'float32', x: [2, 3, 9, 9], build: conv([4, 3, 3, 3], { strides: [2, 2] }) },
  { name: 'Conv stride 2 asymmetric pads', type: 'float32', x: [1, 2, 8, 7], build: conv([3, 2, 3, 3], { strides: [2, 2], pads: [0, 1, 1, 0] }) },
  { name: 'Conv groups 3 stride 2', type: 'float32', x: [1, 6, 7, 7], build: conv([6, 2, 3, 3], { strides: [2, 2], pads: [1, 1, 1, 1], group: 3 }) },
  { name: 'Conv depthwise', type: 'float32', x: [1, 4, 6, 5], build: conv([4, 1, 3, 3], { pads: [1, 1, 1, 1], group: 4 }) },
  { name: 'Conv dilation 2', type: 'float32', x: [1, 2, 9, 8], build: conv([3, 2, 3, 3], { dilations: [2, 2], pads: [1, 2, 1, 0] }) },
  { name: 'Conv auto_pad SAME_UPPER stride 2 k4', type: 'float32', x: [1, 2, 8, 8], build: conv([3, 2, 4, 4], { strides: [2, 2], auto_pad: 'SAME_UPPER' }) },
  { name: 'Conv auto_pad SAME_LOWER stride 3 k5', type: 'float32', x: [1, 2, 11, 10], build: conv([2, 2, 5, 5], { strides: [3, 3], auto_pad: 'SAME_LOWER' }) },
  { name: 'Conv 3×5 filter stride 2', type: 'float32', x: [1, 3, 9, 11], build: conv([2, 3, 3, 5], { strides: [2, 2], pads: [1, 2, 1, 2] }) },
  { name: 'Conv strides 2×1', type: 'float32', x: [1, 2, 9, 7], build: conv([3, 2, 3, 3], { strides: [2, 1], pads: [1, 1, 1, 1] }) },
  { name: 'Conv 1-D', type: 'float32', x: [2, 2, 9], build: conv([3, 2, 3], { strides: [2], pads: [1, 0] }) },
  { name: 'Conv filter from a graph value', type: 'float32', x: [1, 2, 7, 7], build: (b, x) => b.op('Conv', [x, b.op('Mul', [b.randoms([3, 2, 3, 3], 8), b.floats([2], [])])], A({ strides: [2, 2] })) },
  { name: 'ConvTranspose stride 2 output_padding', type: 'float32', x: [1, 4, 4, 5], build: (b, x) => b.op('ConvTranspose', [x, b.randoms([4, 3, 3, 3], 9)], A({ strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 0] })) },
  { name: 'ConvTranspose groups 2', type: 'float32', x: [1, 4, 5, 5], build: (b, x) => b.op('ConvTranspose', [x, b.randoms([4, 1, 3, 3], 10)], A({ strides: [2, 2], group: 2 })) },
  // Dense
  { name: 'Gemm transB alpha beta', type: 'float64', x: [3, 5], build: (b, x) => b.op('Gemm', [x, b.randoms([4, 5], 11), b.randoms([4], 12)], A({ transB: 1, alpha: 0.5, beta: 2 })) },
  { name: 'Gemm as second operand, transA', type: 'float64', x: [5, 4], build: (b, x) => b.op('Gemm', [b.randoms([5, 3], 13), x], A({ transA: 1 })) },
  { name: 'Gemm transA transB', type: 'float64', x: [5, 3], build: (b, x) => b.op('Gemm', [x, b.randoms([4, 5], 14)], A({ transA: 1, transB: 1 })) },
  { name: 'MatMul batched', type: 'float64', x: [2, 3, 5], build: (b, x) => b.op('MatMul', [x, b.randoms([5, 4], 15)]) },
  { name: 'MatMul broadcast batch', type: 'float64', x: [3, 5], build: (b, x) => b.op('MatMul', [x, b.randoms([2, 5, 4], 16)]) },
  { name: 'MatMul 1-D left', type: 'float64', x: [5], build: (b, x) => b.op('MatMul', [x, b.randoms([5, 4], 17)]) },
  { name: 'MatMul 1-D right', type: 'float64', x: [5], build: (b, x) => b.op('MatMul', [b.randoms([2, 4, 5], 18), x]) },
  { name: 'MatMul both sides x', type: 'float64', x: [2, 1, 3, 3], build: (b, x) => b.op('MatMul', [x, b.op('MatMul', [b.randoms([4, 3, 3], 19), x])]) },
  // Normalisation
  { name: 'BatchNormalization', type: 'float64', x: [2, 3, 5, 4], build: (b, x) => b.op('BatchNormalization', [x, b.randoms([3], 20), b.randoms([3], 21), b.randoms([3], 22), b.floats([0.5, 1.5, 2], [3])], A({ epsilon: 1e-3 })) },
  { name: 'InstanceNormalization', type: 'float32', x: [2, 3, 5, 4], build: (b, x) => b.op('InstanceNormalization', [x, b.randoms([3], 23), b.randoms([3], 24)], A({ epsilon: 1e-3 })) },
  // Pools
  { name: 'MaxPool 3×3 stride 2 (overlapping)', type: 'float64', input: 'spaced', x: [1, 2, 9, 9], build: (b, x) => b.op('MaxPool', [x], A({ kernel_shape: [3, 3], strides: [2, 2] })) },
  { name: 'MaxPool pads + ceil_mode', type: 'float64', input: 'spaced', x: [1, 2, 8, 7], build: (b, x) => b.op('MaxPool', [x], A({ kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 })) },
  { name: 'MaxPool dilation 2', type: 'float64', input: 'spaced', x: [1, 1, 9, 9], build: (b, x) => b.op('MaxPool', [x], A({ kernel_shape: [2, 2], dilations: [2, 2] })) },
  { name: 'AveragePool 2×2 stride 2, odd size', type: 'float32', x: [1, 3, 9, 7], build: (b, x) => b.op('AveragePool', [x], A({ kernel_shape: [2, 2], strides: [2, 2] })) },
  { name: 'AveragePool 3×3 pads, excluding pads', type: 'float32', x: [1, 2, 7, 8], build: (b, x) => b.op('AveragePool', [x], A({ kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] })) },
  { name: 'AveragePool count_include_pad, ceil_mode', type: 'float32', x: [1, 2, 8, 7], build: (b, x) => b.op('AveragePool', [x], A({ kernel_shape: [3, 2], strides: [2, 2], pads: [1, 0, 1, 1], count_include_pad: 1, ceil_mode: 1 })) },
  { name: 'GlobalAveragePool', type: 'float32', x: [2, 3, 5, 3], build: (b, x) => b.op('GlobalAveragePool', [x]) },
  // Reductions
  { name: 'ReduceMean spatial, keepdims 0', type: 'float64', x: [2, 3, 5, 3], build: (b, x) => b.op('ReduceMean', [x], A({ axes: [2, 3], keepdims: 0 })) },
  { name: 'ReduceMean all', type: 'float64', x: [3, 5], build: (b, x) => b.op('Mul', [b.op('ReduceMean', [x]), x]) },
  { name: 'ReduceSum axes input', type: 'float64', x: [2, 3, 5], build: (b, x) => b.op('ReduceSum', [x, b.int64s([1])], A({ keepdims: 1 })) },
  { name: 'ReduceSum opset 11 attribute', type: 'float64', opset: 11, x: [2, 3, 5], build: (b, x) => b.op('ReduceSum', [x], A({ axes: [0, 2], keepdims: 0 })) },
  { name: 'ReduceL2', type: 'float64', x: [3, 5], build: (b, x) => b.op('ReduceL2', [x], A({ axes: [-1], keepdims: 0 })) },
  // Layout
  { name: 'Flatten axis 2', type: 'float64', x: [2, 3, 2, 2], build: (b, x) => b.op('MatMul', [b.op('Flatten', [x], A({ axis: 2 })), b.randoms([4, 3], 25)]) },
  { name: 'Reshape 0 and −1', type: 'float64', x: [2, 3, 4], build: (b, x) => b.op('MatMul', [b.op('Reshape', [x, b.int64s([0, -1])]), b.randoms([12, 2], 26)]) },
  { name: 'Transpose', type: 'float64', x: [2, 3, 4], build: (b, x) => b.op('Mul', [b.op('Transpose', [x], A({ perm: [2, 0, 1] })), b.randoms([4, 2, 3], 27)]) },
  { name: 'Squeeze Unsqueeze', type: 'float64', x: [3, 1, 4], build: (b, x) => b.op('Unsqueeze', [b.op('Squeeze', [x, b.int64s([1])]), b.int64s([0, 3])]) },
  { name: 'Squeeze Unsqueeze opset 11', type: 'float64', opset: 11, x: [3, 1, 4], build: (b, x) => b.op('Unsqueeze', [b.op('Squeeze', [x], A({ axes: [1] }))], A({ axes: [0] })) },
  { name: 'Concat', type: 'float64', x: [2, 3, 2], build: (b, x) => b.op('Concat', [x, b.randoms([2, 1, 2], 28), b.op('Mul', [x, x])], A({ axis: 1 })) },
  { name: 'Slice steps 2 and −1, negative starts', type: 'float64', x: [5, 7, 4], build: (b, x) => b.op('Slice', [x, b.int64s([1, -1, 0]), b.int64s([5, 0, 3]), b.int64s([0, 1, 2]), b.int64s([2, -2, 1])]) },
  { name: 'Slice one axis', type: 'float64', x: [3, 8], build: (b, x) => b.op('Slice', [x, b.int64s([2]), b.int64s([-1]), b.int64s([1])]) },
  { name: 'Split (one output unused)', type: 'float64', x: [2, 7], build: (b, x) => { const [p, , q] = b.opN('Split', [x, b.int64s([2, 3, 2])], A({ axis: 1 }), 3); return b.op('Concat', [q, b.op('Mul', [p, p])], A({ axis: 1 })); } },
  { name: 'Pad', type: 'float64', x: [2, 3, 4], build: (b, x) => b.op('Pad', [x, b.int64s([0, 1, 2, 1, 0, 1]), b.floats([0.5], [])]) },
  { name: 'Pad negative (crop)', type: 'float64', x: [2, 3, 5], build: (b, x) => b.op('Pad', [x, b.int64s([0, -1, 2, 0, 1, -2])]) },
  { name: 'Gather repeated indices', type: 'float64', x: [2, 4, 3], build: (b, x) => b.op('Gather', [x, b.int64s([2, 0, 2, -1])], A({ axis: 1 })) },
  { name: 'Gather scalar index', type: 'float64', x: [3, 4], build: (b, x) => b.op('Gather', [x, b.int64s([1], [])], A({ axis: 0 })) },
  { name: 'Gather 2-D indices last axis', type: 'float64', x: [2, 5], build: (b, x) => b.op('Gather', [x, b.int64s([4, 0, 1, 1], [2, 2])], A({ axis: 1 })) },
  // Indices computed at run time (from x, not differentiable): the gradient scatter-adds, repeats summing.
  { name: 'Gather run-time indices axis 0', type: 'float64', x: [3, 4], input: 'spaced', build: (b, x) => b.op('Gather', [x, runtimeIndices(b, x)], A({ axis: 0 })) },
  { name: 'Gather run-time indices axis 1', type: 'float64', x: [3, 4], input: 'spaced', build: (b, x) => b.op('Gather', [x, runtimeIndices(b, x)], A({ axis: 1 })) },
  { name: 'SpaceToDepth', type: 'float64', x: [1, 2, 4, 6], build: (b, x) => b.op('Mul', [b.op('SpaceToDepth', [x], A({ blocksize: 2 })), b.randoms([1, 8, 2, 3], 29)]) },
  { name: 'DepthToSpace DCR', type: 'float64', x: [1, 8, 2, 3], build: (b, x) => b.op('Mul', [b.op('DepthToSpace', [x], A({ blocksize: 2, mode: 'DCR' })), b.randoms([1, 2, 4, 6], 30)]) },
  { name: 'Identity Dropout Expand', type: 'float64', x: [3, 1], build: (b, x) => b.op('Expand', [b.op('Dropout', [b.op('Identity', [x])]), b.int64s([2, 3, 4])]) },
  { name: 'Dropout opset 11', type: 'float64', opset: 11, x: [3, 4], build: (b, x) => b.op('Mul', [b.op('Dropout', [x], A({ ratio: 0.3 })), x]) },
  { name: 'Cast float ↔ double', type: 'float32', x: [3, 4], build: (b, x) => b.op('Cast', [b.op('Mul', [b.op('Cast', [x], A({ to: DT.DOUBLE })), b.tensor([3], [], DT.DOUBLE)])], A({ to: DT.FLOAT })) },
  // Resize
  { name: 'Resize linear half_pixel ×2, ×1.5', type: 'float32', x: [1, 2, 4, 5], build: (b, x) => b.op('Resize', [x, '', b.tensor([1, 1, 2, 1.5], [4], DT.FLOAT)], A({ mode: 'linear' })) },
  { name: 'Resize linear align_corners down', type: 'float32', x: [1, 2, 7, 6], build: (b, x) => b.op('Resize', [x, '', '', b.int64s([1, 2, 4, 5])], A({ mode: 'linear', coordinate_transformation_mode: 'align_corners' })) },
  { name: 'Resize nearest asymmetric ×3', type: 'float32', x: [1, 2, 3, 4], build: (b, x) => b.op('Resize', [x, '', b.tensor([1, 1, 3, 2], [4], DT.FLOAT)], A({ mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' })) },
  { name: 'Resize nearest pytorch_half_pixel sizes', type: 'float32', x: [1, 1, 5, 4], build: (b, x) => b.op('Resize', [x, '', '', b.int64s([1, 1, 7, 3])], A({ mode: 'nearest', coordinate_transformation_mode: 'pytorch_half_pixel' })) },
];

test('every op: compiled input gradient = central finite differences', { skip }, async () => {
  const failures: string[] = [];
  for (const c of CASES) await runCase(c).catch((e: Error) => failures.push(`${c.name}: ${e.message.split('\n')[0]}`));
  assert.deepEqual(failures, []);
});

test('a small CNN end to end (conv, BN, ReLU, max-pool, residual, GAP, Gemm, log-softmax), float32', { skip }, async () => {
  await runCase({
    name: 'cnn',
    type: 'float32',
    x: [1, 3, 11, 11],
    build: (b, x) => {
      const c1 = b.op('Conv', [x, b.randoms([4, 3, 3, 3], 30, 0.5), b.randoms([4], 31)], A({ strides: [2, 2], pads: [1, 1, 1, 1] }));
      const bn = b.op('BatchNormalization', [c1, b.randoms([4], 32), b.randoms([4], 33), b.randoms([4], 34), b.floats([1, 2, 0.5, 1], [4])]);
      const r = b.op('Relu', [bn]);
      const p = b.op('MaxPool', [r], A({ kernel_shape: [2, 2], strides: [1, 1] }));
      const c2 = b.op('Conv', [p, b.randoms([4, 4, 3, 3], 35, 0.3)], A({ pads: [1, 1, 1, 1] }));
      const res = b.op('Relu', [b.op('Add', [c2, p])]);
      const flat = b.op('Flatten', [b.op('GlobalAveragePool', [res])]);
      return b.op('LogSoftmax', [b.op('Gemm', [flat, b.randoms([5, 4], 36), b.randoms([5], 37)], A({ transB: 1 }))], A({ axis: 1 }));
    },
  });
});

test('a Shape → Gather → Unsqueeze → Concat → Reshape chain on a dynamic batch folds to a constant', { skip }, async () => {
  const b = new ModelBuilder(DT.DOUBLE);
  const x = b.input('x', ['N', 3, 2, 2]);
  const batch = b.op('Unsqueeze', [b.op('Gather', [b.op('Shape', [x]), b.int64s([0], [])], A({ axis: 0 })), b.int64s([0])]);
  const flat = b.op('Reshape', [x, b.op('Concat', [batch, b.int64s([-1])], A({ axis: 0 }))]);
  const y = b.op('MatMul', [flat, b.randoms([12, 2], 40)]);
  const model = b.model([{ name: y, dims: ['N', 2] }]);
  const g = differentiate(model, { wrt: 'x', of: y });
  const ops = g.graph!.node!.map((n) => n.opType);
  assert.ok(!ops.slice(0, ops.indexOf('MatMul')).includes('Gather'), `the shape chain is folded: ${ops.join(' ')}`);
  const session = await createSession(ort!, encodeModel(g), 1);
  for (const n of [1, 3]) {
    const out = await session.run({ x: new ort!.Tensor('float64', new Float64Array(n * 12).fill(1), [n, 3, 2, 2]) });
    assert.deepEqual(out[y].dims, [n, 2]);
    assert.deepEqual(out.grad_x.dims, [n, 3, 2, 2]);
  }
  await session.release();
});

test('load-time errors: unsupported op, corrupt file, declared input size the graph cannot take', () => {
  const b = new ModelBuilder();
  const y = b.op('LRN', [b.input('x', [1, 3, 4, 4])], A({ size: 3 }));
  assert.throws(() => checkSupported(b.model([{ name: y }]), 'face.onnx'), /^Error: face\.onnx: op LRN \(node 'LRN_0'\) is not supported/);
  assert.throws(() => readModel(new Uint8Array([0x0a, 0xff, 0xff, 0x01, 0x02]), 'broken.onnx'), /^Error: broken\.onnx: not a valid ONNX model/);
  const m = new ModelBuilder();
  const x = m.input('x', [1, 3, 10, 10]);
  const flat = m.op('Flatten', [m.op('Conv', [x, m.randoms([2, 3, 3, 3], 1)], A({ strides: [2, 2] }))]);
  const out = m.op('Gemm', [flat, m.randoms([5, 2 * 5 * 5], 2)], A({ transB: 1 }));
  assert.throws(
    () => readModel(encodeModel(m.model([{ name: out }])), 'arcface.onnx'),
    (e: Error) => /^arcface\.onnx: Gemm node 'Gemm_\d+': inner sizes differ: \[1,32\] × \[5,50\] \(graph input 'x' \[1,3,10,10\]\)$/.test(e.message) && !e.message.includes('\n'),
  );
});

test('differentiate keeps the requested outputs and refuses a loss that does not depend on wrt', { skip }, () => {
  const b = new ModelBuilder();
  const x = b.input('x', [2, 3]);
  const u = b.input('u', [2, 3]);
  const y = b.op('Mul', [x, b.floats([2], [])]);
  const v = b.op('Relu', [u]);
  const model: ModelProto = b.model([{ name: y }, { name: v }]);
  const g = differentiate(model, { wrt: 'x', of: y, keep: [y] });
  assert.deepEqual(g.graph!.output!.map((o) => o.name), [y, 'grad_x']);
  assert.deepEqual(g.graph!.input!.map((i) => i.name), ['x']);
  assert.throws(() => differentiate(model, { wrt: 'x', of: v }), /'Relu_\d+' does not depend on 'x'/);
});
