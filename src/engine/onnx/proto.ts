/**
 * ModelProto building and reading helpers shared by the importers and the TF.js executor: typed attributes,
 * constant tensors, a model wrapper, and the values of an initialiser.
 */
import onnxProto from 'onnx-proto';

export const { onnx } = onnxProto;
export type ModelProto = onnxProto.onnx.IModelProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;

const DT = onnx.TensorProto.DataType;
export const OPSET = 17;

/** An attribute value tagged with its ONNX type. */
export type AttrValue = { i: number } | { f: number } | { ints: number[] } | { floats: number[] } | { s: string };

export function attribute(name: string, a: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ('i' in a) return { name, type: T.INT, i: a.i };
  if ('f' in a) return { name, type: T.FLOAT, f: a.f };
  if ('ints' in a) return { name, type: T.INTS, ints: a.ints };
  if ('floats' in a) return { name, type: T.FLOATS, floats: a.floats };
  return { name, type: T.STRING, s: new TextEncoder().encode(a.s) };
}

export function node(opType: string, input: string[], output: string[], attrs: Record<string, AttrValue> = {}, name = output[0]): NodeProto {
  return { opType, input, output, name, attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) };
}

export function floatTensor(name: string, values: Float32Array, dims: number[]): TensorProto {
  return { name, dims, dataType: DT.FLOAT, rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
}

export function int64Tensor(name: string, values: number[], dims: number[] = [values.length]): TensorProto {
  return { name, dims, dataType: DT.INT64, int64Data: values };
}

/** A float value's type info; `dims` undefined = shape left to the runtime. */
export function floatValueInfo(name: string, dims?: (number | string)[]): onnxProto.onnx.IValueInfoProto {
  const shape = dims && { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
  return { name, type: { tensorType: { elemType: DT.FLOAT, ...(shape ? { shape } : {}) } } };
}

export function model(graph: onnxProto.onnx.IGraphProto, producer = 'robustify'): ModelProto {
  return { irVersion: 8, producerName: producer, opsetImport: [{ domain: '', version: OPSET }], graph };
}

export function encodeModel(m: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create(m)).finish();
}

/** Decode a serialised model; `file` names it in the error. */
export function decodeModel(bytes: Uint8Array, file: string): ModelProto {
  try {
    const m = onnx.ModelProto.decode(bytes);
    if (!m.graph || !m.graph.node?.length) throw new Error('no graph');
    return m;
  } catch (err) {
    throw new Error(`${file}: not an ONNX model (${(err as Error).message})`);
  }
}

/** Values of a float or integer initialiser, as numbers, and its dims. */
export function tensorValues(t: TensorProto): { dtype: 'float32' | 'int64' | 'int32'; dims: number[]; data: Float32Array | Int32Array | number[] } {
  const dims = (t.dims ?? []).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  const view = (bytesPer: number) => {
    const copy = new Uint8Array(raw!.length);
    copy.set(raw!);
    if (copy.length !== count * bytesPer) throw new Error(`onnx: initialiser '${t.name}' has ${copy.length} bytes for dims [${dims}]`);
    return copy.buffer;
  };
  switch (t.dataType) {
    case DT.FLOAT:
      return { dtype: 'float32', dims, data: raw ? new Float32Array(view(4)) : Float32Array.from(t.floatData ?? []) };
    case DT.INT64:
      return { dtype: 'int64', dims, data: raw ? Array.from(new BigInt64Array(view(8)), Number) : (t.int64Data ?? []).map(Number) };
    case DT.INT32:
      return { dtype: 'int32', dims, data: raw ? new Int32Array(view(4)) : Int32Array.from(t.int32Data ?? []) };
    default:
      throw new Error(`onnx: initialiser '${t.name}' has unsupported data type ${t.dataType}`);
  }
}

/** Attributes of a node as plain values (ints/floats/strings; lists as arrays). */
export function attrs(n: NodeProto): Record<string, number | string | number[]> {
  const out: Record<string, number | string | number[]> = {};
  const T = onnx.AttributeProto.AttributeType;
  for (const a of n.attribute ?? []) {
    const name = a.name ?? '';
    if (a.type === T.INT) out[name] = Number(a.i);
    else if (a.type === T.FLOAT) out[name] = a.f ?? 0;
    else if (a.type === T.INTS) out[name] = (a.ints ?? []).map(Number);
    else if (a.type === T.FLOATS) out[name] = a.floats ?? [];
    else if (a.type === T.STRING) out[name] = new TextDecoder().decode(a.s ?? new Uint8Array());
  }
  return out;
}
