/**
 * Reading ONNX ModelProtos: decoding a file, tensors to plain arrays and back, node attributes, the opset.
 * Shared by the shape inference, the constant folder and the gradient rules.
 */
import onnxProto from 'onnx-proto';

export const { onnx } = onnxProto;
export type ModelProto = onnxProto.onnx.IModelProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;

/** ONNX element types used here. */
export const DT = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10, DOUBLE: 11 } as const;
export const isFloat = (t: number) => t === DT.FLOAT || t === DT.DOUBLE || t === DT.FLOAT16;

/** protobufjs gives int64 fields as Long objects when long.js is present. */
export function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object' && 'toNumber' in v) return (v as { toNumber(): number }).toNumber();
  return Number(v);
}

/** Decode `bytes` as a ModelProto; a corrupt file is one line naming it. */
export function decodeModel(bytes: Uint8Array, file = 'model'): ModelProto {
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new Error(`${file}: not a valid ONNX model (${(e as Error).message.split('\n')[0]})`);
  }
  if (!model.graph || !(model.graph.node ?? []).length) throw new Error(`${file}: not a valid ONNX model (no graph nodes)`);
  return model;
}

export function encodeModel(model: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** The default-domain opset the model imports. */
export function opsetOf(model: ModelProto): number {
  const entry = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  return entry ? num(entry.version) : 1;
}

/** A tensor's values as numbers (float, double, int, bool). */
export function tensorValues(t: TensorProto): Float64Array | Float32Array | number[] {
  const type = t.dataType ?? 0;
  const n = (t.dims ?? []).reduce<number>((a, d) => a * num(d), 1);
  const raw = t.rawData;
  if (raw && raw.length) {
    const buf = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
    const view = new DataView(buf);
    if (type === DT.FLOAT) return new Float32Array(buf);
    if (type === DT.DOUBLE) return new Float64Array(buf);
    if (type === DT.INT64) return Array.from({ length: n }, (_, i) => Number(view.getBigInt64(8 * i, true)));
    if (type === DT.INT32) return Array.from({ length: n }, (_, i) => view.getInt32(4 * i, true));
    if (type === DT.UINT8 || type === DT.BOOL) return Array.from(raw);
    if (type === DT.INT8) return Array.from(new Int8Array(buf));
    throw new Error(`tensor ${t.name}: element type ${type} is not supported`);
  }
  if (type === DT.FLOAT) return Float32Array.from(t.floatData ?? []);
  if (type === DT.DOUBLE) return Float64Array.from(t.doubleData ?? []);
  if (type === DT.INT64) return (t.int64Data ?? []).map(num);
  if (type === DT.INT32 || type === DT.UINT8 || type === DT.INT8 || type === DT.BOOL) return (t.int32Data ?? []).map(num);
  throw new Error(`tensor ${t.name}: element type ${type} is not supported`);
}

/** A tensor of `type` holding `values`. */
export function makeTensor(name: string, type: number, dims: number[], values: ArrayLike<number>): TensorProto {
  const n = dims.reduce((a, b) => a * b, 1);
  if (values.length !== n) throw new Error(`onnx constant ${name}: ${values.length} values for dims [${dims}]`);
  let rawData: Uint8Array;
  if (type === DT.FLOAT) rawData = new Uint8Array(Float32Array.from(values).buffer);
  else if (type === DT.DOUBLE) rawData = new Uint8Array(Float64Array.from(values).buffer);
  else if (type === DT.INT64) rawData = new Uint8Array(BigInt64Array.from(Array.from(values, (v) => BigInt(Math.trunc(v)))).buffer);
  else if (type === DT.INT32) rawData = new Uint8Array(Int32Array.from(values).buffer);
  else if (type === DT.BOOL || type === DT.UINT8) rawData = Uint8Array.from(values);
  else throw new Error(`onnx constant ${name}: element type ${type} is not supported`);
  return onnx.TensorProto.create({ name, dims, dataType: type, rawData });
}

/** A node's attributes by name, with typed getters that fall back to a default. */
export class Attrs {
  private readonly byName = new Map<string, AttributeProto>();

  constructor(node: NodeProto) {
    for (const a of node.attribute ?? []) this.byName.set(a.name ?? '', a);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  i(name: string, def: number): number {
    const a = this.byName.get(name);
    return a ? num(a.i) : def;
  }

  f(name: string, def: number): number {
    const a = this.byName.get(name);
    return a ? (a.f ?? 0) : def;
  }

  ints(name: string): number[] | undefined {
    const a = this.byName.get(name);
    return a ? (a.ints ?? []).map(num) : undefined;
  }

  s(name: string, def: string): string {
    const a = this.byName.get(name);
    return a?.s ? new TextDecoder().decode(a.s) : def;
  }

  t(name: string): TensorProto | undefined {
    return this.byName.get(name)?.t ?? undefined;
  }
}

/** An attribute value for a node we write, tagged with its ONNX type. */
export type AttrValue = { i: number } | { f: number } | { ints: number[] } | { s: string } | { t: TensorProto };

export function makeAttribute(name: string, a: AttrValue): AttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ('i' in a) return { name, type: T.INT, i: a.i };
  if ('f' in a) return { name, type: T.FLOAT, f: a.f };
  if ('ints' in a) return { name, type: T.INTS, ints: a.ints };
  if ('t' in a) return { name, type: T.TENSOR, t: a.t };
  return { name, type: T.STRING, s: new TextEncoder().encode(a.s) };
}
