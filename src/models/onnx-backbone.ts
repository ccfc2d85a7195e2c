/**
 * A face network brought by the user — an ONNX file or a TF.js model.json — as a backbone: its forward graph
 * (one ONNX representation, see engine/onnx/import), the input contract of its recogniser spec applied in
 * front (channel order, scaling, layout), and the embedding output. Runs differentiably on TF.js; the native
 * engine takes `graph()` (see native-onnx.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import path from 'node:path';
import { loadModelGraph } from '../engine/onnx/import/index.js';
import { encodeModel, type ModelProto } from '../engine/onnx/proto.js';
import { LazySession, nativeRuntime } from '../engine/onnx/runtime.js';
import { TfjsOnnxModel } from '../engine/onnx/tfjs-run.js';
import type { Backbone } from './backbones.js';
import { classifierModel } from './native-onnx.js';
import { channelScaling, resolveSpec, type RecogniserSpec, type RecogniserSpecInput } from './recogniser.js';

export class OnnxBackbone implements Backbone {
  readonly featureDim: number;

  private constructor(
    readonly file: string,
    readonly spec: RecogniserSpec & { input_size: number; layout: 'NHWC' | 'NCHW'; input: string; output: string },
    private readonly forward: ModelProto,
    private readonly exec: TfjsOnnxModel,
    private readonly mean: tf.Tensor1D,
    private readonly std: tf.Tensor1D,
  ) {
    const probe = tf.tidy(() => this.features(tf.zeros([1, this.inputSize, this.inputSize, 3])));
    this.featureDim = probe.shape[1];
    probe.dispose();
  }

  /** Load `file` with its spec (sidecar and `given`, see resolveSpec); the graph must agree with the spec. */
  static async open(file: string, given: RecogniserSpecInput = {}): Promise<OnnxBackbone> {
    const graph = await loadModelGraph(file);
    const spec = await resolveSpec(file, given);
    const g = graph.graph!;
    const inits = new Set((g.initializer ?? []).map((t) => t.name));
    const inputs = (g.input ?? []).filter((i) => !inits.has(i.name));
    const input = spec.input ? inputs.find((i) => i.name === spec.input) : inputs.length === 1 ? inputs[0] : undefined;
    if (!input) throw new Error(`${file}: ${spec.input ? `no graph input '${spec.input}'` : `${inputs.length} graph inputs (${inputs.map((i) => i.name).join(', ')}): say which in the spec's 'input'`}`);
    const outputs = (g.output ?? []).map((o) => o.name!);
    const output = spec.output ?? outputs[0];
    if (!outputs.includes(output)) throw new Error(`${file}: no graph output '${output}' (outputs: ${outputs.join(', ')})`);
    const dims = (input.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimValue !== undefined && d.dimValue !== null && Number(d.dimValue) > 0 ? Number(d.dimValue) : undefined));
    const contract = inputContract(file, input.name!, dims, spec);
    const { mean, std } = channelScaling(spec);
    const exec = new TfjsOnnxModel(graph, file);
    return new OnnxBackbone(path.resolve(file), { ...spec, ...contract, input: input.name!, output }, graph, exec, tf.tensor1d(mean), tf.tensor1d(std));
  }

  get name(): string {
    return `${path.basename(this.file)} (${this.spec.output_kind} '${this.spec.output}')`;
  }

  get inputSize(): number {
    return this.spec.input_size;
  }

  get alignment(): RecogniserSpec['alignment'] {
    return this.spec.alignment;
  }

  get descriptorDim(): number {
    return this.featureDim;
  }

  /** The forward graph as loaded (its input and output named in `spec`). */
  graph(): ModelProto {
    return this.forward;
  }

  /** NHWC 0–255 RGB batch at the input size → what the network takes (channel order, scaling, layout). */
  preprocess(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const [, h, w] = x.shape;
      if (h !== this.inputSize || w !== this.inputSize || x.shape[3] !== 3) throw new Error(`${this.file}: input must be [N,${this.inputSize},${this.inputSize},3], got [${x.shape}]`);
      let y = tf.div(tf.sub(x, this.mean), this.std) as tf.Tensor4D;
      if (this.spec.channel_order === 'BGR') y = tf.reverse(y, 3);
      return this.spec.layout === 'NCHW' ? tf.transpose(y, [0, 3, 1, 2]) : y;
    });
  }

  /** The embedding (or logits) output, flattened to [N, D]; differentiable. */
  features(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      const out = this.exec.run({ [this.spec.input]: this.preprocess(x) }, [this.spec.output])[this.spec.output];
      return tf.reshape(out, [x.shape[0], -1]) as tf.Tensor2D;
    });
  }

  descriptor(x: tf.Tensor4D): tf.Tensor2D {
    return this.features(x);
  }

  /** The features on ORT when it loads (the network alone, preprocessing included), else on TF.js. */
  async inferFeatures(x: tf.Tensor4D): Promise<tf.Tensor2D> {
    const out = await this.native.run((await x.data()) as Float32Array, x.shape, 'logits');
    return out ? tf.tensor2d(out, [x.shape[0], this.featureDim]) : this.features(x);
  }

  private readonly native = new LazySession(() => encodeModel(classifierModel(this, (_, f) => f, this.featureDim)));

  release(): Promise<void> {
    return this.native.release();
  }

  dispose(): void {
    void this.release();
    this.exec.dispose();
    tf.dispose([this.mean, this.std]);
  }
}

/** Layout and size from the graph's input dims, checked against what the spec declares. */
function inputContract(file: string, input: string, dims: (number | undefined)[], spec: RecogniserSpec): { layout: 'NHWC' | 'NCHW'; input_size: number } {
  const shown = `[${dims.map((d) => d ?? '?').join(',')}]`;
  if (dims.length !== 4) throw new Error(`${file}: graph input '${input}' is ${shown}, not an image batch`);
  const graphLayout = dims[3] === 3 ? 'NHWC' : dims[1] === 3 ? 'NCHW' : undefined;
  const layout = spec.layout ?? graphLayout;
  if (!layout) throw new Error(`${file}: cannot tell the layout of graph input '${input}' ${shown}: give the spec's 'layout'`);
  if (graphLayout && spec.layout && graphLayout !== spec.layout) throw new Error(`${file}: declared layout ${spec.layout} disagrees with graph input '${input}' ${shown}`);
  const [h, w] = layout === 'NHWC' ? [dims[1], dims[2]] : [dims[2], dims[3]];
  if (h !== undefined && w !== undefined && h !== w) throw new Error(`${file}: graph input '${input}' ${shown} is not square`);
  const graphSize = h ?? w;
  if (spec.input_size !== undefined && graphSize !== undefined && spec.input_size !== graphSize) {
    throw new Error(`${file}: declared input_size ${spec.input_size} disagrees with graph input '${input}' ${shown}`);
  }
  const size = spec.input_size ?? graphSize;
  if (size === undefined) throw new Error(`${file}: graph input '${input}' ${shown} has a dynamic size: give the spec's 'input_size'`);
  return { layout, input_size: size };
}

export { nativeRuntime };
