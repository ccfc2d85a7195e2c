/** Small ONNX models for tests, written with onnx-proto (any element type, any opset). */
import { DT, makeAttribute, makeTensor, onnx, type AttrValue, type ModelProto, type NodeProto, type TensorProto } from '../../src/engine/onnx/autodiff/model.js';

/** A deterministic uniform generator on [−1, 1) (mulberry32). */
export function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

export class ModelBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly inputs: { name: string; dims: (number | string)[]; type: number }[] = [];
  private count = 0;

  constructor(
    /** Element type of the float tensors (DT.FLOAT or DT.DOUBLE). */
    readonly type: number = DT.FLOAT,
    readonly opset = 17,
  ) {}

  input(name: string, dims: (number | string)[], type = this.type): string {
    this.inputs.push({ name, dims, type });
    return name;
  }

  op(opType: string, input: string[], attrs: Record<string, AttrValue> = {}, outputs = 1): string {
    return this.opN(opType, input, attrs, outputs)[0];
  }

  opN(opType: string, input: string[], attrs: Record<string, AttrValue> = {}, outputs = 1): string[] {
    const output = Array.from({ length: outputs }, () => `${opType}_${this.count++}`);
    this.nodes.push({ opType, input, output, name: output[0], attribute: Object.entries(attrs).map(([k, a]) => makeAttribute(k, a)) });
    return output;
  }

  /** A float constant of the builder's type. */
  floats(values: ArrayLike<number>, dims: number[]): string {
    return this.tensor(values, dims, this.type);
  }

  /** Random float constant on [−scale, scale). */
  randoms(dims: number[], seed: number, scale = 1): string {
    const r = random(seed);
    return this.floats(Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r() * scale), dims);
  }

  int64s(values: number[], dims = [values.length]): string {
    return this.tensor(values, dims, DT.INT64);
  }

  tensor(values: ArrayLike<number>, dims: number[], type: number): string {
    const name = `const_${this.count++}`;
    this.initializers.push(makeTensor(name, type, dims, values));
    return name;
  }

  model(outputs: { name: string; dims?: (number | string)[]; type?: number }[]): ModelProto {
    const vi = (name: string, dims: (number | string)[] | undefined, type: number) =>
      onnx.ValueInfoProto.create({
        name,
        type: { tensorType: { elemType: type, shape: dims ? { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } : undefined } },
      });
    return {
      irVersion: 8,
      producerName: 'robustify-test',
      opsetImport: [{ domain: '', version: this.opset }],
      graph: {
        name: 'test',
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs.map((i) => vi(i.name, i.dims, i.type)),
        output: outputs.map((o) => vi(o.name, o.dims, o.type ?? this.type)),
      },
    };
  }
}
