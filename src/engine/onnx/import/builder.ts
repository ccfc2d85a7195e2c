/**
 * What both TF.js front-ends (graph-model.ts, layers-model.ts) emit: an ONNX forward graph over values kept
 * in TF's NHWC layout. A convolution or pool is wrapped in NHWC→NCHW→NHWC transposes (ONNX's Conv is NCHW);
 * ORT's transpose optimiser cancels the pairs between consecutive convolutions.
 */
import { floatTensor, floatValueInfo, int64Tensor, model, node, type AttrValue, type ModelProto, type NodeProto, type TensorProto } from '../proto.js';
import type { ConstValue } from './tfjs-weights.js';

export const NHWC_TO_NCHW = [0, 3, 1, 2];
export const NCHW_TO_NHWC = [0, 2, 3, 1];

/** An activation fused after a conv / dense, or standing alone. */
export type Activation = 'linear' | 'relu' | 'relu6' | 'sigmoid' | 'tanh' | 'elu' | 'leakyrelu' | 'prelu' | 'softmax' | 'selu';

export interface ConvSpec {
  /** 'conv': HWIO filter [kh,kw,in,out]; 'depthwise': [kh,kw,in,multiplier]. */
  kind: 'conv' | 'depthwise';
  filter: ConstValue;
  bias?: Float32Array;
  strides: [number, number];
  dilations: [number, number];
  /** 'same' (TF: the odd pixel after), 'valid', or explicit [top, bottom, left, right]. */
  padding: 'same' | 'valid' | [number, number, number, number];
}

export class OnnxBuilder {
  readonly nodes: NodeProto[] = [];
  private readonly inits: TensorProto[] = [];
  private readonly inputs: ReturnType<typeof floatValueInfo>[] = [];
  private readonly outputs: ReturnType<typeof floatValueInfo>[] = [];
  private count = 0;

  /** `prefix` keeps the names this builder invents apart from those of a graph it adopts. */
  constructor(
    private readonly where: string,
    private readonly prefix = '',
  ) {}

  /** An error naming the model file and the node. */
  fail(nodeName: string, what: string): never {
    throw new Error(`${this.where}: ${what} (node '${nodeName}')`);
  }

  input(name: string, dims: (number | string)[]): string {
    this.inputs.push(floatValueInfo(name, dims));
    return name;
  }

  output(name: string, dims?: (number | string)[]): void {
    this.outputs.push(floatValueInfo(name, dims));
  }

  fresh(prefix: string): string {
    return `${this.prefix}${prefix}__${this.count++}`;
  }

  floats(data: Float32Array, dims: number[], name = this.fresh('const')): string {
    this.inits.push(floatTensor(name, data, dims));
    return name;
  }

  int64s(values: number[], name = this.fresh('const')): string {
    this.inits.push(int64Tensor(name, values));
    return name;
  }

  op(type: string, inputs: string[], attrs: Record<string, AttrValue> = {}, out = this.fresh(type)): string {
    this.nodes.push(node(type, inputs, [out], attrs));
    return out;
  }

  transpose(x: string, perm: number[], out?: string): string {
    return this.op('Transpose', [x], { perm: { ints: perm } }, out);
  }

  /** A conv of NHWC `x` → NHWC `out`, bias folded in, then `act`. */
  conv(x: string, c: ConvSpec, act: Activation, out: string, alpha?: string | number): string {
    const [kh, kw, ci, m] = c.filter.shape;
    const depthwise = c.kind === 'depthwise';
    const co = depthwise ? ci * m : m;
    const w = depthwise ? depthwiseToOihw(c.filter) : hwioToOihw(c.filter);
    const inputs = [this.transpose(x, NHWC_TO_NCHW), this.floats(w, depthwise ? [co, 1, kh, kw] : [co, ci, kh, kw])];
    if (c.bias) {
      if (c.bias.length !== co) throw new Error(`${this.where}: conv '${out}': bias has ${c.bias.length} values for ${co} channels`);
      inputs.push(this.floats(c.bias, [co]));
    }
    const attrs: Record<string, AttrValue> = {
      kernel_shape: { ints: [kh, kw] },
      strides: { ints: c.strides },
      dilations: { ints: c.dilations },
      group: { i: depthwise ? ci : 1 },
    };
    if (c.padding === 'same') attrs.auto_pad = { s: 'SAME_UPPER' };
    else if (c.padding !== 'valid') attrs.pads = { ints: [c.padding[0], c.padding[2], c.padding[1], c.padding[3]] };
    const y = this.transpose(this.op('Conv', inputs, attrs), NCHW_TO_NHWC, act === 'linear' ? out : undefined);
    return act === 'linear' ? y : this.activation(y, act, out, alpha);
  }

  /** y = x·W (+ b) then `act`; W is [in, out]. */
  dense(x: string, w: string, bias: string | undefined, act: Activation, out: string, alpha?: string | number): string {
    const y = this.op('MatMul', [x, w], {}, !bias && act === 'linear' ? out : undefined);
    const z = bias ? this.op('Add', [y, bias], {}, act === 'linear' ? out : undefined) : y;
    return act === 'linear' ? z : this.activation(z, act, out, alpha);
  }

  /** `alpha`: PReLU's slope tensor name, or LeakyReLU's / ELU's number. */
  activation(x: string, act: Activation, out: string, alpha?: string | number): string {
    switch (act) {
      case 'linear':
        return this.op('Identity', [x], {}, out);
      case 'relu':
        return this.op('Relu', [x], {}, out);
      case 'relu6':
        return this.op('Clip', [x, this.floats(Float32Array.of(0), []), this.floats(Float32Array.of(6), [])], {}, out);
      case 'sigmoid':
        return this.op('Sigmoid', [x], {}, out);
      case 'tanh':
        return this.op('Tanh', [x], {}, out);
      case 'selu':
        return this.op('Selu', [x], {}, out);
      case 'elu':
        return this.op('Elu', [x], { alpha: { f: typeof alpha === 'number' ? alpha : 1 } }, out);
      case 'leakyrelu':
        return this.op('LeakyRelu', [x], { alpha: { f: typeof alpha === 'number' ? alpha : 0.2 } }, out);
      case 'softmax':
        return this.op('Softmax', [x], { axis: { i: -1 } }, out);
      case 'prelu':
        if (typeof alpha !== 'string') throw new Error(`${this.where}: prelu '${out}' without its alpha tensor`);
        return this.op('PRelu', [x, alpha], {}, out);
    }
  }

  /** NHWC pooling: 'max' | 'avg' with TF padding (average excludes the padding, as TF does). */
  pool(x: string, kind: 'max' | 'avg', ksize: [number, number], strides: [number, number], padding: 'same' | 'valid', out: string): string {
    const attrs: Record<string, AttrValue> = { kernel_shape: { ints: ksize }, strides: { ints: strides } };
    if (padding === 'same') attrs.auto_pad = { s: 'SAME_UPPER' };
    const y = this.op(kind === 'max' ? 'MaxPool' : 'AveragePool', [this.transpose(x, NHWC_TO_NCHW)], attrs);
    return this.transpose(y, NCHW_TO_NHWC, out);
  }

  /** Inference batch norm on the last (channel) axis, folded into one per-channel affine map. */
  batchNorm(x: string, p: { scale?: Float32Array; offset?: Float32Array; mean: Float32Array; variance: Float32Array; epsilon: number }, out: string): string {
    const c = p.mean.length;
    const a = new Float32Array(c);
    const b = new Float32Array(c);
    for (let i = 0; i < c; i++) {
      a[i] = (p.scale ? p.scale[i] : 1) / Math.sqrt(p.variance[i] + p.epsilon);
      b[i] = (p.offset ? p.offset[i] : 0) - p.mean[i] * a[i];
    }
    return this.op('Add', [this.op('Mul', [x, this.floats(a, [c])]), this.floats(b, [c])], {}, out);
  }

  /** Take over another graph's nodes and initialisers (its inputs become values this builder produces). */
  /** `graph`'s nodes and initialisers, every tensor name given `prefix` (so they cannot clash with this graph's). */
  adopt(graph: NonNullable<ModelProto['graph']>, prefix = ''): void {
    const rename = (n: string) => (n && prefix + n);
    this.nodes.push(...(graph.node ?? []).map((n) => ({ ...n, name: rename(n.name ?? ''), input: (n.input ?? []).map(rename), output: (n.output ?? []).map(rename) })));
    this.inits.push(...(graph.initializer ?? []).map((t) => ({ ...t, name: rename(t.name ?? '') })));
  }

  model(): ModelProto {
    return model({ name: 'tfjs-import', node: this.nodes, initializer: this.inits, input: this.inputs, output: this.outputs }, 'robustify tfjs import');
  }
}

/** HWIO → OIHW. */
function hwioToOihw(f: ConstValue): Float32Array {
  const [kh, kw, ci, co] = f.shape;
  const out = new Float32Array(f.data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) out[((o * ci + i) * kh + y) * kw + x] = f.data[((y * kw + x) * ci + i) * co + o];
  return out;
}

/** Depthwise [kh,kw,in,mult] → grouped [in·mult, 1, kh, kw]; output channel i·mult + j (TF's order). */
function depthwiseToOihw(f: ConstValue): Float32Array {
  const [kh, kw, ci, m] = f.shape;
  const out = new Float32Array(f.data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < ci; i++) for (let j = 0; j < m; j++) out[((i * m + j) * kh + y) * kw + x] = f.data[((y * kw + x) * ci + i) * m + j];
  return out;
}
