/**
 * A tfjs-converter GraphModel (model.json, format 'graph-model') as an ONNX forward graph. Values keep TF's
 * names and NHWC layout; constants are folded where ONNX wants them as attributes or re-laid-out (filters,
 * axes, shapes, paddings). An op outside the table is refused naming the op, the node and the file.
 */
import type { ModelProto } from '../proto.js';
import { OnnxBuilder, type Activation, type ConvSpec } from './builder.js';
import type { ConstValue, ModelJson } from './tfjs-weights.js';

interface TfNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfAttr>;
}

interface TfAttr {
  s?: string;
  i?: string | number;
  f?: number;
  b?: boolean;
  type?: string;
  list?: { s?: string[]; i?: (string | number)[]; f?: number[] };
  shape?: { dim?: { size: string | number }[]; unknownRank?: boolean };
}

type Emit = (n: TfNode, c: GraphContext) => void;

class GraphContext {
  constructor(
    readonly b: OnnxBuilder,
    private readonly consts: Map<string, ConstValue>,
  ) {}

  private readonly emitted = new Set<string>();

  /** Input `i` of `n` as an ONNX value (a float constant becomes an initialiser the first time). */
  in(n: TfNode, i: number): string {
    const ref = this.ref(n, i);
    const c = this.consts.get(ref);
    if (c && !this.emitted.has(ref)) {
      this.emitted.add(ref);
      this.b.floats(Float32Array.from(c.data), c.shape, ref);
    }
    return ref;
  }

  /** Input `i` of `n`, which must be a constant (a filter, axes, a shape). */
  const(n: TfNode, i: number): ConstValue {
    const c = this.consts.get(this.ref(n, i));
    if (!c) this.b.fail(n.name, `${n.op}: input ${i} ('${this.ref(n, i)}') must be a constant`);
    return c;
  }

  isConst(n: TfNode, i: number): boolean {
    return this.consts.has(this.ref(n, i));
  }

  ref(n: TfNode, i: number): string {
    const inputs = dataInputs(n);
    if (i >= inputs.length) this.b.fail(n.name, `${n.op}: expected at least ${i + 1} inputs, got ${inputs.length}`);
    return inputs[i];
  }
}

/** TF's data inputs, without control dependencies; 'x:0' is 'x'. */
function dataInputs(n: TfNode): string[] {
  return (n.input ?? []).filter((s) => !s.startsWith('^')).map((s) => s.replace(/:0$/, ''));
}

const str = (a?: TfAttr) => (a?.s ? Buffer.from(a.s, 'base64').toString('utf8') : undefined);
const ints = (a?: TfAttr) => (a?.list?.i ?? []).map(Number);
const strs = (a?: TfAttr) => (a?.list?.s ?? []).map((s) => Buffer.from(s, 'base64').toString('utf8'));

function padding(n: TfNode, c: GraphContext): ConvSpec['padding'] {
  const p = str(n.attr?.padding) ?? 'VALID';
  if (p === 'SAME') return 'same';
  if (p === 'VALID') return 'valid';
  if (p === 'EXPLICIT') {
    const e = ints(n.attr?.explicit_paddings);
    return [e[2], e[3], e[4], e[5]];
  }
  return c.b.fail(n.name, `${n.op}: unsupported padding '${p}'`);
}

function nhwcOnly(n: TfNode, c: GraphContext): void {
  const f = str(n.attr?.data_format);
  if (f && f !== 'NHWC') c.b.fail(n.name, `${n.op}: data_format '${f}' is not supported (NHWC only)`);
}

const pair = (v: number[], fallback: number): [number, number] => (v.length === 4 ? [v[1], v[2]] : [fallback, fallback]);

/** The activation after BiasAdd in a fused op's `fused_ops`, and its extra argument. */
function fusedActivation(n: TfNode, c: GraphContext, extraArg: number): { act: Activation; bias: boolean; alpha?: string | number } {
  const ops = strs(n.attr?.fused_ops);
  const bias = ops[0] === 'BiasAdd';
  const rest = bias ? ops.slice(1) : ops;
  if (rest.length > 1 || (!bias && ops.length > 0 && ops[0] !== 'Relu')) c.b.fail(n.name, `${n.op}: fused_ops [${ops.join(', ')}] not supported`);
  const name = rest[0];
  const table: Record<string, Activation> = { Relu: 'relu', Relu6: 'relu6', Sigmoid: 'sigmoid', Tanh: 'tanh', Elu: 'elu', Prelu: 'prelu', LeakyRelu: 'leakyrelu' };
  if (name === undefined) return { act: 'linear', bias };
  const act = table[name];
  if (!act) return c.b.fail(n.name, `${n.op}: fused activation '${name}' not supported`);
  if (act === 'prelu') return { act, bias, alpha: c.in(n, extraArg) };
  if (act === 'leakyrelu') return { act, bias, alpha: n.attr?.leakyrelu_alpha?.f ?? 0.2 };
  return { act, bias };
}

function conv(kind: ConvSpec['kind'], fused: boolean): Emit {
  return (n, c) => {
    nhwcOnly(n, c);
    const { act, bias, alpha } = fused ? fusedActivation(n, c, 3) : { act: 'linear' as const, bias: false, alpha: undefined };
    const biasValues = bias ? Float32Array.from(c.const(n, 2).data) : undefined;
    const spec: ConvSpec = {
      kind,
      filter: c.const(n, 1),
      bias: biasValues,
      strides: pair(ints(n.attr?.strides), 1),
      dilations: pair(ints(n.attr?.dilations), 1),
      padding: padding(n, c),
    };
    c.b.conv(c.in(n, 0), spec, act, n.name, alpha);
  };
}

function matMul(fused: boolean): Emit {
  return (n, c) => {
    const b = c.b;
    let x = c.in(n, 0);
    if (n.attr?.transpose_a?.b) x = b.transpose(x, [1, 0]);
    let w = c.in(n, 1);
    if (n.attr?.transpose_b?.b) w = b.transpose(w, [1, 0]);
    const { act, bias, alpha } = fused ? fusedActivation(n, c, 3) : { act: 'linear' as const, bias: false, alpha: undefined };
    b.dense(x, w, bias ? c.in(n, 2) : undefined, act, n.name, alpha);
  };
}

const unary =
  (type: string): Emit =>
  (n, c) =>
    void c.b.op(type, [c.in(n, 0)], {}, n.name);
const binary =
  (type: string): Emit =>
  (n, c) =>
    void c.b.op(type, [c.in(n, 0), c.in(n, 1)], {}, n.name);
const act =
  (a: Activation): Emit =>
  (n, c) =>
    void c.b.activation(c.in(n, 0), a, n.name, a === 'prelu' ? c.in(n, 1) : a === 'leakyrelu' ? (n.attr?.alpha?.f ?? 0.2) : undefined);

function axesOf(n: TfNode, c: GraphContext, i: number): number[] {
  return Array.from(c.const(n, i).data);
}

function reduce(type: string, axesAsInput: boolean): Emit {
  return (n, c) => {
    const axes = axesOf(n, c, 1);
    const keepdims = { i: n.attr?.keep_dims?.b ? 1 : 0 };
    if (axesAsInput) c.b.op(type, [c.in(n, 0), c.b.int64s(axes)], { keepdims }, n.name);
    else c.b.op(type, [c.in(n, 0)], { axes: { ints: axes }, keepdims }, n.name);
  };
}

function pad(mode: 'constant' | 'reflect'): Emit {
  return (n, c) => {
    const p = Array.from(c.const(n, 1).data);
    const rank = p.length / 2;
    const pads = [...Array.from({ length: rank }, (_, i) => p[2 * i]), ...Array.from({ length: rank }, (_, i) => p[2 * i + 1])];
    const inputs = [c.in(n, 0), c.b.int64s(pads)];
    if (n.op === 'PadV2') inputs.push(c.b.floats(Float32Array.from(c.const(n, 2).data), []));
    if (n.op === 'MirrorPad' && str(n.attr?.mode) !== 'REFLECT') c.b.fail(n.name, `MirrorPad: mode '${str(n.attr?.mode)}' not supported (REFLECT only)`);
    c.b.op('Pad', inputs, { mode: { s: mode } }, n.name);
  };
}

function pool(kind: 'max' | 'avg'): Emit {
  return (n, c) => {
    nhwcOnly(n, c);
    const p = padding(n, c);
    if (typeof p !== 'string') return c.b.fail(n.name, `${n.op}: explicit padding not supported`);
    c.b.pool(c.in(n, 0), kind, pair(ints(n.attr?.ksize), 1), pair(ints(n.attr?.strides), 1), p, n.name);
  };
}

const EMIT: Record<string, Emit> = {
  _FusedConv2D: conv('conv', true),
  FusedDepthwiseConv2dNative: conv('depthwise', true),
  Conv2D: conv('conv', false),
  DepthwiseConv2dNative: conv('depthwise', false),
  _FusedMatMul: matMul(true),
  MatMul: matMul(false),
  BiasAdd: (n, c) => {
    nhwcOnly(n, c);
    c.b.op('Add', [c.in(n, 0), c.in(n, 1)], {}, n.name);
  },
  Add: binary('Add'),
  AddV2: binary('Add'),
  AddN: (n, c) => void c.b.op('Sum', dataInputs(n).map((_, i) => c.in(n, i)), {}, n.name),
  Sub: binary('Sub'),
  Mul: binary('Mul'),
  RealDiv: binary('Div'),
  Div: binary('Div'),
  Maximum: binary('Max'),
  Minimum: binary('Min'),
  Pow: binary('Pow'),
  SquaredDifference: (n, c) => {
    const d = c.b.op('Sub', [c.in(n, 0), c.in(n, 1)]);
    c.b.op('Mul', [d, d], {}, n.name);
  },
  Square: (n, c) => void c.b.op('Mul', [c.in(n, 0), c.in(n, 0)], {}, n.name),
  Rsqrt: (n, c) => void c.b.op('Reciprocal', [c.b.op('Sqrt', [c.in(n, 0)])], {}, n.name),
  Sqrt: unary('Sqrt'),
  Reciprocal: unary('Reciprocal'),
  Exp: unary('Exp'),
  Log: unary('Log'),
  Neg: unary('Neg'),
  Abs: unary('Abs'),
  Identity: unary('Identity'),
  StopGradient: unary('Identity'),
  Relu: act('relu'),
  Relu6: act('relu6'),
  Elu: act('elu'),
  Selu: act('selu'),
  Sigmoid: act('sigmoid'),
  Tanh: act('tanh'),
  LeakyRelu: act('leakyrelu'),
  Prelu: act('prelu'),
  Softmax: act('softmax'),
  Sum: reduce('ReduceSum', true),
  Mean: reduce('ReduceMean', false),
  Max: reduce('ReduceMax', false),
  Min: reduce('ReduceMin', false),
  Prod: reduce('ReduceProd', false),
  Pad: pad('constant'),
  PadV2: pad('constant'),
  MirrorPad: pad('reflect'),
  Reshape: (n, c) => void c.b.op('Reshape', [c.in(n, 0), c.b.int64s(axesOf(n, c, 1))], {}, n.name),
  Squeeze: (n, c) => {
    const axes = ints(n.attr?.squeeze_dims);
    c.b.op('Squeeze', axes.length ? [c.in(n, 0), c.b.int64s(axes)] : [c.in(n, 0)], {}, n.name);
  },
  ExpandDims: (n, c) => void c.b.op('Unsqueeze', [c.in(n, 0), c.b.int64s(axesOf(n, c, 1))], {}, n.name),
  Transpose: (n, c) => void c.b.transpose(c.in(n, 0), axesOf(n, c, 1), n.name),
  ConcatV2: (n, c) => {
    const k = dataInputs(n).length - 1;
    c.b.op('Concat', Array.from({ length: k }, (_, i) => c.in(n, i)), { axis: { i: axesOf(n, c, k)[0] } }, n.name);
  },
  MaxPool: pool('max'),
  AvgPool: pool('avg'),
  FusedBatchNorm: batchNorm,
  FusedBatchNormV3: batchNorm,
  Cast: (n, c) => {
    if (n.attr?.DstT?.type !== 'DT_FLOAT') c.b.fail(n.name, `Cast: only to float32 is supported, got ${n.attr?.DstT?.type}`);
    c.b.op('Identity', [c.in(n, 0)], {}, n.name);
  },
};

function batchNorm(n: TfNode, c: GraphContext): void {
  nhwcOnly(n, c);
  const f = (i: number) => Float32Array.from(c.const(n, i).data);
  c.b.batchNorm(c.in(n, 0), { scale: f(1), offset: f(2), mean: f(3), variance: f(4), epsilon: n.attr?.epsilon?.f ?? 1e-3 }, n.name);
}

/** The ops this importer takes (for `checkSupported`-style listings and tests). */
export const GRAPH_MODEL_OPS: readonly string[] = [...Object.keys(EMIT), 'Const', 'Placeholder', 'NoOp'].sort();

/** Convert a parsed graph-model model.json with its weights; `file` names it in errors. */
export async function importGraphModel(json: ModelJson, readWeights: () => Promise<Map<string, ConstValue>>, file: string): Promise<ModelProto> {
  const topology = json.modelTopology as { node?: TfNode[] };
  const nodes = topologicalOrder(topology.node ?? []);
  const b = new OnnxBuilder(file);
  // Refuse the model before writing anything when it uses an op outside the table.
  for (const n of nodes) if (!(n.op in EMIT) && !['Const', 'Placeholder', 'NoOp'].includes(n.op)) b.fail(n.name, `unsupported TF.js op '${n.op}'`);
  const weights = await readWeights();
  const consts = new Map<string, ConstValue>();
  for (const n of nodes) {
    if (n.op !== 'Const') continue;
    const w = weights.get(n.name);
    if (!w) return b.fail(n.name, `constant '${n.name}' has no weights in the manifest`);
    consts.set(n.name, w);
  }
  const c = new GraphContext(b, consts);
  const consumed = new Set(nodes.flatMap((n) => dataInputs(n)));
  for (const n of nodes) {
    if (n.op === 'Placeholder') {
      if (n.attr?.dtype?.type && n.attr.dtype.type !== 'DT_FLOAT') b.fail(n.name, `input of type ${n.attr.dtype.type} (float32 only)`);
      const dims = (n.attr?.shape?.shape?.dim ?? []).map((d, i) => (Number(d.size) < 0 ? (i === 0 ? 'N' : `d${i}`) : Number(d.size)));
      b.input(n.name, dims);
    } else if (n.op !== 'Const' && n.op !== 'NoOp') EMIT[n.op](n, c);
  }
  for (const n of nodes) if (!consumed.has(n.name) && !['Const', 'Placeholder', 'NoOp'].includes(n.op)) b.output(n.name);
  return b.model();
}

/** tfjs-converter does not promise an order; ONNX (and our executor) want producers before consumers. */
function topologicalOrder(nodes: TfNode[]): TfNode[] {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const done = new Set<string>();
  const out: TfNode[] = [];
  for (const root of nodes) {
    const stack: [TfNode, number][] = [[root, 0]];
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [n, i] = top;
      if (done.has(n.name)) {
        stack.pop();
        continue;
      }
      const deps = dataInputs(n).map((r) => byName.get(r.replace(/:\d+$/, '')));
      if (i < deps.length) {
        top[1]++;
        const d = deps[i];
        if (d && !done.has(d.name)) stack.push([d, 0]);
        continue;
      }
      done.add(n.name);
      out.push(n);
      stack.pop();
    }
  }
  return out;
}
