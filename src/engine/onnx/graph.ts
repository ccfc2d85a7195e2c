/**
 * A small ONNX graph writer: nodes, constant initialisers, typed inputs/outputs, serialised to a ModelProto
 * (opset 17) with onnx-proto's generated schema. Values are referred to by name; every op gets a fresh one.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

const OPSET = 17;
/** ONNX element type codes (for Cast's `to`). */
export const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
/** Element type of an int32 graph input (e.g. gather indices). */
export const INT32 = onnx.TensorProto.DataType.INT32;

/** An attribute value, tagged with its ONNX type (a bare number would not say int or float). */
export type Attr = { i: number } | { f: number } | { ints: number[] } | { s: string };

/** A tensor dimension: a size, or a name for a dynamic one (e.g. the batch). */
export type Dim = number | string;

export class OnnxGraph {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private readonly inputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly outputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private count = 0;

  /** `prefix` starts every generated name (so that nodes added to an existing model cannot clash with its own). */
  constructor(private readonly prefix = '') {}

  /** A writer that continues the serialised model `bytes` (its nodes, constants, inputs and outputs kept). */
  static extend(bytes: Uint8Array, prefix: string): OnnxGraph {
    const { graph } = onnx.ModelProto.decode(bytes);
    if (!graph) throw new Error('onnx model: no graph');
    const g = new OnnxGraph(prefix);
    g.nodes.push(...(graph.node as InstanceType<typeof onnx.NodeProto>[]));
    g.initializers.push(...(graph.initializer as InstanceType<typeof onnx.TensorProto>[]));
    g.inputs.push(...(graph.input as InstanceType<typeof onnx.ValueInfoProto>[]));
    g.outputs.push(...(graph.output as InstanceType<typeof onnx.ValueInfoProto>[]));
    return g;
  }

  /** The dimensions of the graph input or output `name`. */
  dims(name: string): Dim[] {
    const info = [...this.inputs, ...this.outputs].find((v) => v.name === name);
    const dim = info?.type?.tensorType?.shape?.dim;
    if (!dim) throw new Error(`onnx graph: no input or output '${name}' with a shape`);
    return dim.map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue)));
  }

  /** Graph input `name` becomes inner value `to` (for a node that now computes it); returns `to`. */
  replaceInput(name: string, to: string): string {
    const i = this.inputs.findIndex((v) => v.name === name);
    if (i < 0) throw new Error(`onnx graph: no input '${name}'`);
    this.inputs.splice(i, 1);
    for (const n of this.nodes) n.input = n.input.map((v) => (v === name ? to : v));
    return to;
  }

  /** Drops every graph output but `names` (what feeds only them, ORT prunes). */
  keepOutputs(names: readonly string[]): void {
    const kept = this.outputs.filter((o) => names.includes(o.name));
    this.outputs.splice(0, this.outputs.length, ...kept);
  }

  /** A graph input (float unless `elemType` says otherwise). */
  input(name: string, dims: Dim[], elemType: number = FLOAT): string {
    this.inputs.push(valueInfo(name, dims, elemType));
    return name;
  }

  /** Expose `value` as the float graph output `name`. */
  output(name: string, value: string, dims: Dim[]): void {
    this.op('Identity', [value], {}, name);
    this.outputs.push(valueInfo(name, dims));
  }

  /** A float32 constant. */
  floats(values: ArrayLike<number>, dims: number[]): string {
    const data = Float32Array.from(values);
    if (data.length !== dims.reduce((a, b) => a * b, 1)) throw new Error(`onnx constant: ${data.length} values for dims [${dims}]`);
    const name = this.fresh('const');
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer) }));
    return name;
  }

  /** An int64 constant (shapes, axes, pads). */
  int64s(values: number[]): string {
    const name = this.fresh('const');
    this.initializers.push(onnx.TensorProto.create({ name, dims: [values.length], dataType: INT64, int64Data: values }));
    return name;
  }

  /** Add one node with a single output; returns the output's name. */
  op(type: string, inputs: string[], attrs: Record<string, Attr> = {}, name = this.fresh(type)): string {
    return this.opN(type, inputs, 1, attrs, [name])[0];
  }

  /** Add one node with `n` outputs. */
  opN(type: string, inputs: string[], n: number, attrs: Record<string, Attr> = {}, names?: string[]): string[] {
    const output = names ?? Array.from({ length: n }, () => this.fresh(type));
    const attribute = Object.entries(attrs).map(([key, a]) => attribute_(key, a));
    this.nodes.push(onnx.NodeProto.create({ opType: type, input: inputs, output, attribute, name: output[0] }));
    return output;
  }

  /** The serialised ModelProto. */
  toBytes(): Uint8Array {
    const graph = onnx.GraphProto.create({
      name: 'robustify',
      node: this.nodes,
      initializer: this.initializers,
      input: this.inputs,
      output: this.outputs,
    });
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'robustify',
      opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: OPSET })],
      graph,
    });
    return onnx.ModelProto.encode(model).finish();
  }

  private fresh(prefix: string): string {
    return `${this.prefix}${prefix}_${this.count++}`;
  }
}

function valueInfo(name: string, dims: Dim[], elemType: number = FLOAT): InstanceType<typeof onnx.ValueInfoProto> {
  const dim = dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType, shape: { dim } } } });
}

function attribute_(name: string, a: Attr): InstanceType<typeof onnx.AttributeProto> {
  const T = onnx.AttributeProto.AttributeType;
  if ('i' in a) return onnx.AttributeProto.create({ name, type: T.INT, i: a.i });
  if ('f' in a) return onnx.AttributeProto.create({ name, type: T.FLOAT, f: a.f });
  if ('ints' in a) return onnx.AttributeProto.create({ name, type: T.INTS, ints: a.ints });
  return onnx.AttributeProto.create({ name, type: T.STRING, s: new TextEncoder().encode(a.s) });
}
