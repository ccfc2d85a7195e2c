/**
 * An ONNX forward graph executed with TF.js ops: the same model the native engine runs, differentiable with
 * `tf.grad` where onnxruntime-node is absent. Float values are tf tensors; integer initialisers (shapes, axes,
 * pads) are plain numbers, used as attributes. Convolutions wrapped in NHWC↔NCHW transposes (as the TF.js
 * importer writes them) run directly in TF.js's NHWC, skipping both transposes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { attrs, tensorValues, type ModelProto, type NodeProto } from './proto.js';

type A = ReturnType<typeof attrs>;
type Values = Map<string, tf.Tensor>;

interface Ctx {
  node: NodeProto;
  a: A;
  /** Float input `i` (a value or a float initialiser). */
  x(i: number): tf.Tensor;
  has(i: number): boolean;
  /** Integer input `i` (an int64 initialiser) as numbers. */
  ints(i: number): number[];
  /** Whether the op runs on NHWC data (a transpose-wrapped conv/pool). */
  nhwc: boolean;
  fail(what: string): never;
}

type Op = (c: Ctx) => tf.Tensor | tf.Tensor[];

const num = (a: A, k: string, d: number) => (typeof a[k] === 'number' ? (a[k] as number) : d);
const list = (a: A, k: string) => (Array.isArray(a[k]) ? (a[k] as number[]) : undefined);

function toNhwc(x: tf.Tensor, c: Ctx): tf.Tensor4D {
  return (c.nhwc ? x : tf.transpose(x, [0, 2, 3, 1])) as tf.Tensor4D;
}
function fromNhwc(y: tf.Tensor, c: Ctx): tf.Tensor {
  return c.nhwc ? y : tf.transpose(y, [0, 3, 1, 2]);
}

/** TF.js padding for ONNX auto_pad / pads on NHWC `x` (explicit pads applied as a zero Pad). */
function spatialPad(x: tf.Tensor4D, c: Ctx, value = 0): { x: tf.Tensor4D; pad: 'same' | 'valid' } {
  const auto = c.a.auto_pad;
  if (auto === 'SAME_UPPER') return { x, pad: 'same' };
  if (auto === 'SAME_LOWER') c.fail('auto_pad SAME_LOWER is not supported');
  const p = list(c.a, 'pads') ?? [0, 0, 0, 0];
  if (p.every((v) => v === 0)) return { x, pad: 'valid' };
  return { x: tf.pad(x, [[0, 0], [p[0], p[2]], [p[1], p[3]], [0, 0]], value), pad: 'valid' };
}

function conv(c: Ctx): tf.Tensor {
  const w = c.x(1) as tf.Tensor4D; // [out, in/group, kh, kw]
  const [co, cig] = w.shape;
  const group = num(c.a, 'group', 1);
  const strides = (list(c.a, 'strides') ?? [1, 1]) as [number, number];
  const dilations = (list(c.a, 'dilations') ?? [1, 1]) as [number, number];
  const { x, pad } = spatialPad(toNhwc(c.x(0), c), c);
  let y: tf.Tensor4D;
  if (group === 1) y = tf.conv2d(x, tf.transpose(w, [2, 3, 1, 0]) as tf.Tensor4D, strides, pad, 'NHWC', dilations);
  else if (cig === 1 && group === x.shape[3]) {
    // Depthwise: out channel i·m + j reads input channel i, as TF's [kh, kw, in, m] filter.
    const m = co / group;
    const f = tf.reshape(tf.transpose(w, [2, 3, 0, 1]), [w.shape[2], w.shape[3], group, m]) as tf.Tensor4D;
    y = tf.depthwiseConv2d(x, f, strides, pad, 'NHWC', dilations);
  } else return c.fail(`Conv: group ${group} with ${cig} input channels per group is not supported (1 or depthwise)`);
  if (c.has(2)) y = tf.add(y, c.x(2));
  return fromNhwc(y, c);
}

function pool(kind: 'max' | 'avg'): Op {
  return (c) => {
    const k = list(c.a, 'kernel_shape') as [number, number];
    const s = (list(c.a, 'strides') ?? [1, 1]) as [number, number];
    // TF.js averages over the window inside the input only: explicit pads would count as zeros.
    if (kind === 'avg' && c.a.auto_pad === undefined && list(c.a, 'pads')?.some((v) => v > 0)) c.fail('AveragePool: explicit pads are not supported (auto_pad or none)');
    const { x, pad } = spatialPad(toNhwc(c.x(0), c), c, -Infinity);
    return fromNhwc(kind === 'max' ? tf.maxPool(x, k, s, pad) : tf.avgPool(x, k, s, pad), c);
  };
}

function reduce(f: (x: tf.Tensor, axes: number[] | undefined, keep: boolean) => tf.Tensor, axesInput: boolean): Op {
  return (c) => {
    const axes = axesInput ? (c.has(1) ? c.ints(1) : undefined) : list(c.a, 'axes');
    return f(c.x(0), axes, num(c.a, 'keepdims', 1) === 1);
  };
}

/** ONNX Reshape's shape: 0 copies the input's dimension, -1 is inferred. */
function reshapeTo(x: tf.Tensor, shape: number[]): number[] {
  return shape.map((d, i) => (d === 0 ? x.shape[i] : d));
}

const unary =
  (f: (x: tf.Tensor) => tf.Tensor): Op =>
  (c) =>
    f(c.x(0));
const variadic =
  (f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): Op =>
  (c) => {
    let acc = c.x(0);
    for (let i = 1; i < (c.node.input ?? []).length; i++) acc = f(acc, c.x(i));
    return acc;
  };

const OPS: Record<string, Op> = {
  Conv: conv,
  MaxPool: pool('max'),
  AveragePool: pool('avg'),
  GlobalAveragePool: (c) => tf.mean(c.x(0), [2, 3], true),
  GlobalMaxPool: (c) => tf.max(c.x(0), [2, 3], true),
  BatchNormalization: (c) => {
    const shape = [1, -1, ...Array(c.x(0).rank - 2).fill(1)];
    const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => tf.reshape(c.x(i), shape));
    const inv = tf.div(scale, tf.sqrt(tf.add(variance, num(c.a, 'epsilon', 1e-5))));
    return tf.add(tf.mul(tf.sub(c.x(0), mean), inv), bias);
  },
  Gemm: (c) => {
    const y = tf.mul(tf.matMul(c.x(0) as tf.Tensor2D, c.x(1) as tf.Tensor2D, num(c.a, 'transA', 0) === 1, num(c.a, 'transB', 0) === 1), num(c.a, 'alpha', 1));
    return c.has(2) ? tf.add(y, tf.mul(c.x(2), num(c.a, 'beta', 1))) : y;
  },
  MatMul: (c) => {
    const [x, w] = [c.x(0), c.x(1)];
    if (x.rank === 2 && w.rank === 2) return tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D);
    if (w.rank === 2) return tf.reshape(tf.matMul(tf.reshape(x, [-1, x.shape[x.rank - 1]]) as tf.Tensor2D, w as tf.Tensor2D), [...x.shape.slice(0, -1), w.shape[1] as number]);
    return c.fail(`MatMul: ranks ${x.rank} × ${w.rank} are not supported`);
  },
  Add: variadic(tf.add),
  Sum: variadic(tf.add),
  Sub: (c) => tf.sub(c.x(0), c.x(1)),
  Mul: variadic(tf.mul),
  Div: (c) => tf.div(c.x(0), c.x(1)),
  Max: variadic(tf.maximum),
  Min: variadic(tf.minimum),
  Pow: (c) => tf.pow(c.x(0), c.x(1)),
  Neg: unary(tf.neg),
  Abs: unary(tf.abs),
  Relu: unary(tf.relu),
  Sigmoid: unary(tf.sigmoid),
  Tanh: unary(tf.tanh),
  Exp: unary(tf.exp),
  Log: unary(tf.log),
  Sqrt: unary(tf.sqrt),
  Reciprocal: unary(tf.reciprocal),
  Identity: unary((x) => tf.clone(x)),
  Dropout: unary((x) => tf.clone(x)),
  Selu: unary(tf.selu),
  Elu: (c) => {
    const alpha = num(c.a, 'alpha', 1);
    const x = c.x(0);
    return alpha === 1 ? tf.elu(x) : tf.where(tf.greater(x, 0), x, tf.mul(alpha, tf.sub(tf.exp(tf.minimum(x, 0)), 1)));
  },
  LeakyRelu: (c) => tf.leakyRelu(c.x(0), num(c.a, 'alpha', 0.01)),
  // relu(x) − α·relu(−x): α broadcasts like any operand (tf.prelu's own broadcasting is narrower).
  PRelu: (c) => tf.sub(tf.relu(c.x(0)), tf.mul(c.x(1), tf.relu(tf.neg(c.x(0))))),
  Clip: (c) => {
    let y = c.x(0);
    if (c.has(1)) y = tf.maximum(y, c.x(1));
    if (c.has(2)) y = tf.minimum(y, c.x(2));
    return y;
  },
  Softmax: (c) => softmaxOn(c.x(0), num(c.a, 'axis', -1), false),
  LogSoftmax: (c) => softmaxOn(c.x(0), num(c.a, 'axis', -1), true),
  ReduceSum: reduce((x, axes, keep) => tf.sum(x, axes, keep), true),
  ReduceMean: reduce((x, axes, keep) => tf.mean(x, axes, keep), false),
  ReduceMax: reduce((x, axes, keep) => tf.max(x, axes, keep), false),
  ReduceMin: reduce((x, axes, keep) => tf.min(x, axes, keep), false),
  ReduceProd: reduce((x, axes, keep) => tf.prod(x, axes, keep), false),
  ReduceL2: reduce((x, axes, keep) => tf.sqrt(tf.sum(tf.square(x), axes, keep)), false),
  Reshape: (c) => tf.reshape(c.x(0), reshapeTo(c.x(0), c.ints(1))),
  Flatten: (c) => {
    const x = c.x(0);
    const axis = num(c.a, 'axis', 1);
    return tf.reshape(x, [x.shape.slice(0, axis).reduce((p, q) => p * q, 1), -1]);
  },
  Transpose: (c) => tf.transpose(c.x(0), list(c.a, 'perm')),
  Squeeze: (c) => tf.squeeze(c.x(0), c.has(1) ? c.ints(1) : undefined),
  Unsqueeze: (c) => {
    let y = c.x(0);
    const rank = y.rank + c.ints(1).length;
    for (const ax of c.ints(1).map((a) => (a < 0 ? a + rank : a)).sort((p, q) => p - q)) y = tf.expandDims(y, ax);
    return y;
  },
  Concat: (c) => tf.concat((c.node.input ?? []).map((_, i) => c.x(i)), num(c.a, 'axis', 0)),
  Pad: (c) => {
    const x = c.x(0);
    const p = c.ints(1);
    const r = x.rank;
    const pads = Array.from({ length: r }, (_, i) => [p[i], p[i + r]] as [number, number]);
    const mode = c.a.mode ?? 'constant';
    if (mode === 'reflect') return tf.mirrorPad(x, pads, 'reflect');
    if (mode !== 'constant') c.fail(`Pad: mode '${mode}' is not supported`);
    const value = c.has(2) ? c.x(2).dataSync()[0] : 0;
    return tf.pad(x, pads, value);
  },
};

function softmaxOn(x: tf.Tensor, axis: number, log: boolean): tf.Tensor {
  const ax = axis < 0 ? axis + x.rank : axis;
  if (ax === x.rank - 1) return log ? tf.logSoftmax(x) : tf.softmax(x);
  const perm = [...Array(x.rank).keys()].map((i) => (i === ax ? x.rank - 1 : i === x.rank - 1 ? ax : i));
  const t = tf.transpose(x, perm);
  return tf.transpose(log ? tf.logSoftmax(t) : tf.softmax(t), perm);
}

/** The ONNX ops this executor runs. */
export const TFJS_ONNX_OPS: readonly string[] = Object.keys(OPS).sort();

const NHWC_TO_NCHW = '0,3,1,2';
const NCHW_TO_NHWC = '0,2,3,1';
const SPATIAL = new Set(['Conv', 'MaxPool', 'AveragePool']);

export class TfjsOnnxModel {
  private readonly floats = new Map<string, tf.Tensor>();
  private readonly ints = new Map<string, number[]>();
  /** Transposes skipped (their output is the untransposed input) and ops run on NHWC data. */
  private readonly skip = new Map<string, string>();
  private readonly nhwcOps = new Set<NodeProto>();
  readonly inputNames: string[];
  readonly outputNames: string[];

  /** `file` names the model in errors. Refuses a graph with an op outside TFJS_ONNX_OPS. */
  constructor(
    private readonly model: ModelProto,
    private readonly file: string,
  ) {
    const g = model.graph!;
    for (const n of g.node ?? []) {
      if (n.opType === 'Constant') continue;
      if (n.domain || !(n.opType! in OPS)) throw new Error(`${file}: ONNX op '${n.opType}' is not supported by the TF.js engine (node '${n.name || n.output?.[0]}')`);
    }
    const initNames = new Set((g.initializer ?? []).map((t) => t.name!));
    this.inputNames = (g.input ?? []).map((i) => i.name!).filter((n) => !initNames.has(n));
    this.outputNames = (g.output ?? []).map((o) => o.name!);
    for (const t of g.initializer ?? []) this.addConst(t.name!, t);
    for (const n of g.node ?? []) {
      if (n.opType !== 'Constant') continue;
      const value = (n.attribute ?? []).find((a) => a.name === 'value')?.t;
      if (!value) throw new Error(`${file}: Constant node '${n.name}' without a tensor value is not supported`);
      this.addConst(n.output![0], value);
    }
    this.findNhwcOps();
  }

  private addConst(name: string, t: Parameters<typeof tensorValues>[0]): void {
    const v = tensorValues(t);
    if (v.dtype === 'float32') this.floats.set(name, tf.tensor(v.data as Float32Array, v.dims));
    else this.ints.set(name, Array.from(v.data));
  }

  /** Transpose(NHWC→NCHW) → conv/pool → Transpose(NCHW→NHWC), each single-use: run the op in NHWC. */
  private findNhwcOps(): void {
    const nodes = this.model.graph!.node ?? [];
    const uses = new Map<string, NodeProto[]>();
    for (const n of nodes) for (const i of n.input ?? []) uses.set(i, [...(uses.get(i) ?? []), n]);
    const perm = (n: NodeProto) => String(attrs(n).perm);
    for (const t1 of nodes) {
      if (t1.opType !== 'Transpose' || perm(t1) !== NHWC_TO_NCHW) continue;
      const [op] = uses.get(t1.output![0]) ?? [];
      if (!op || uses.get(t1.output![0])!.length !== 1 || !SPATIAL.has(op.opType!) || op.input![0] !== t1.output![0]) continue;
      const next = uses.get(op.output![0]) ?? [];
      if (next.length !== 1 || next[0].opType !== 'Transpose' || perm(next[0]) !== NCHW_TO_NHWC) continue;
      this.skip.set(t1.output![0], t1.input![0]);
      this.skip.set(next[0].output![0], op.output![0]);
      this.nhwcOps.add(op);
    }
  }

  /** The requested outputs (default: the graph's) for float `inputs`; the caller disposes them. */
  run(inputs: Record<string, tf.Tensor>, outputs: string[] = this.outputNames): Record<string, tf.Tensor> {
    for (const name of this.inputNames) if (!inputs[name]) throw new Error(`${this.file}: missing input '${name}'`);
    for (const name of outputs) if (!this.outputNames.includes(name)) throw new Error(`${this.file}: no output '${name}' (outputs: ${this.outputNames.join(', ')})`);
    const result = tf.tidy(() => {
      const values: Values = new Map(Object.entries(inputs));
      for (const n of this.model.graph!.node ?? []) {
        if (n.opType === 'Constant') continue;
        const out = n.output!;
        const alias = this.skip.get(out[0]);
        if (alias !== undefined) {
          values.set(out[0], values.get(alias)!);
          continue;
        }
        const y = OPS[n.opType!](this.context(n, values));
        (Array.isArray(y) ? y : [y]).forEach((t, i) => values.set(out[i], t));
      }
      return Object.fromEntries(outputs.map((name) => [name, values.get(name)!]));
    });
    return result;
  }

  private context(node: NodeProto, values: Values): Ctx {
    const inputs = node.input ?? [];
    const fail = (what: string): never => {
      throw new Error(`${this.file}: ${what} (node '${node.name || node.output?.[0]}')`);
    };
    return {
      node,
      a: attrs(node),
      nhwc: this.nhwcOps.has(node),
      has: (i) => i < inputs.length && inputs[i] !== '',
      x: (i) => {
        const t = values.get(inputs[i]) ?? this.floats.get(inputs[i]);
        if (!t) return fail(`${node.opType}: input '${inputs[i]}' is not a float value`);
        return t;
      },
      ints: (i) => {
        const v = this.ints.get(inputs[i]);
        if (!v) return fail(`${node.opType}: input '${inputs[i]}' must be an integer constant`);
        return v;
      },
      fail,
    };
  }

  dispose(): void {
    tf.dispose([...this.floats.values()]);
  }
}
