/**
 * Writes the gradient nodes into the model: fresh names, typed constants (shared), and the few ops whose
 * signature changed across opsets (axes as attribute before 13/18, as input after), so gradient rules read the
 * same whatever the exporter's opset.
 */
import { DT, makeAttribute, makeTensor, type AttrValue, type NodeProto, type TensorProto } from './model.js';
import type { Dim, Info } from './rule.js';

export class Emitter {
  private count = 0;
  private readonly cache = new Map<string, string>();

  constructor(
    readonly nodes: NodeProto[],
    readonly initializers: TensorProto[],
    readonly opset: number,
    private readonly infos: Map<string, Info>,
    private readonly prefix: string,
  ) {}

  /** What is known about a forward tensor. */
  info(name: string): Info {
    const i = this.infos.get(name);
    if (!i) throw new Error(`autodiff: no shape known for tensor '${name}'`);
    return i;
  }

  op(type: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    return this.opN(type, inputs, 1, attrs)[0];
  }

  opN(type: string, inputs: string[], n: number, attrs: Record<string, AttrValue> = {}): string[] {
    const output = Array.from({ length: n }, () => this.fresh(type));
    const attribute = Object.entries(attrs).map(([k, a]) => makeAttribute(k, a));
    this.nodes.push({ opType: type, input: inputs, output, attribute, name: output[0] });
    return output;
  }

  fresh(what: string): string {
    return `${this.prefix}/${what}_${this.count++}`;
  }

  /** A constant (shared when the same values are asked again). */
  constant(values: ArrayLike<number>, dims: number[], type: number): string {
    const key = values.length <= 16 ? `${type}|${dims}|${Array.from(values)}` : undefined;
    const hit = key && this.cache.get(key);
    if (hit) return hit;
    const name = this.fresh('const');
    this.initializers.push(makeTensor(name, type, dims, values));
    if (key) this.cache.set(key, name);
    return name;
  }

  scalar(v: number, type: number): string {
    return this.constant([v], [], type);
  }

  int64s(values: number[]): string {
    return this.constant(values, [values.length], DT.INT64);
  }

  /** Shape(x), once per tensor. */
  shape(x: string): string {
    const key = `shape|${x}`;
    let s = this.cache.get(key);
    if (!s) this.cache.set(key, (s = this.op('Shape', [x])));
    return s;
  }

  /** A boolean mask as 0/1 of `type`. */
  mask(b: string, type: number): string {
    return this.op('Cast', [b], { to: { i: type } });
  }

  mul(a: string, b: string): string {
    return this.op('Mul', [a, b]);
  }

  reduceSum(x: string, axes: number[], keepdims: boolean): string {
    if (!axes.length) return x;
    const k = { keepdims: { i: keepdims ? 1 : 0 } };
    return this.opset >= 13 ? this.op('ReduceSum', [x, this.int64s(axes)], k) : this.op('ReduceSum', [x], { axes: { ints: axes }, ...k });
  }

  reduceMean(x: string, axes: number[], keepdims: boolean): string {
    const k = { keepdims: { i: keepdims ? 1 : 0 } };
    return this.opset >= 18 ? this.op('ReduceMean', [x, this.int64s(axes)], k) : this.op('ReduceMean', [x], { axes: { ints: axes }, ...k });
  }

  squeeze(x: string, axes: number[]): string {
    if (!axes.length) return x;
    return this.opset >= 13 ? this.op('Squeeze', [x, this.int64s(axes)]) : this.op('Squeeze', [x], { axes: { ints: axes } });
  }

  unsqueeze(x: string, axes: number[]): string {
    if (!axes.length) return x;
    return this.opset >= 13 ? this.op('Unsqueeze', [x, this.int64s(axes)]) : this.op('Unsqueeze', [x], { axes: { ints: axes } });
  }

  /** `g`, a gradient of shape `from` (a broadcast of `to`), summed back to shape `to`. */
  unbroadcast(g: string, from: Dim[], to: Dim[]): string {
    const lead = from.length - to.length;
    const axes: number[] = [];
    for (let i = 0; i < from.length; i++) {
      const t = i < lead ? undefined : to[i - lead];
      if (t === undefined || (t === 1 && from[i] !== 1)) axes.push(i);
    }
    const summed = this.reduceSum(g, axes, true);
    return this.squeeze(summed, Array.from({ length: lead }, (_, i) => i));
  }

  /** Zeros shaped like the forward tensor `x`. */
  zerosLike(x: string): string {
    return this.op('ConstantOfShape', [this.shape(x)], { value: { t: makeTensor('', this.info(x).type, [1], [0]) } });
  }

  /** Sum of gradient contributions. */
  sum(parts: string[]): string {
    return parts.length === 1 ? parts[0] : this.op('Sum', parts);
  }
}
