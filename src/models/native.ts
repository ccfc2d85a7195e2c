/**
 * The face classifier on ONNX Runtime's native CPU engine (MLAS: AVX-512/FMA where the CPU has them), several
 * times faster than TF.js-wasm for attacks. Same `Classifier` semantics as FaceClassifier: the network and its
 * input gradient are one ONNX graph (native-graph.ts); inputs other than 150×150 are resized (and the gradient
 * taken through the resize) in TF.js.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ConvGradMode, ConvWeights } from '../engine/onnx/conv.js';
import { createSession, type OrtModule, type OrtSession } from '../engine/onnx/runtime.js';
import { BACKBONE_INPUT_SIZE, FaceRecognitionNet, type ConvLayer } from './backbone.js';
import { labelWeights, type Classifier, type FaceClassifier, type Labels } from './classifier.js';
import { classifierModel, denseHead, ortInput, OrtGraphClassifier, throughResize, type OnnxHead } from './native-onnx.js';
import { nativeRuntime, OnnxBackbone } from './onnx-backbone.js';
import { classifierGradientGraph, classifierGraph, type ClassifierWeights } from './native-graph.js';

export interface NativeOptions {
  /** Intra-op threads (default: ROBUSTIFY_THREADS or the cores). */
  threads?: number;
  convGrad?: ConvGradMode;
  /** How the gradient graph is written: by the generic ONNX differentiator (default) or by hand. */
  gradientGraph?: 'generic' | 'hand';
}

export class NativeClassifier implements Classifier {
  private constructor(
    private readonly ort: OrtModule,
    private readonly forward: OrtSession,
    private readonly gradient: OrtSession,
    readonly classes: number,
  ) {}

  /** Build both sessions (forward-only for predict, forward+backward for lossGradient) from a loaded model. */
  static async create(ort: OrtModule, model: FaceClassifier, opts: NativeOptions = {}): Promise<NativeClassifier> {
    const w = nativeWeights(model);
    const forward = await createSession(ort, classifierGraph(w, { gradient: false }), opts.threads);
    const graph = opts.gradientGraph === 'hand' ? classifierGraph(w, { gradient: true, convGrad: opts.convGrad }) : classifierGradientGraph(w);
    const gradient = await createSession(ort, graph, opts.threads);
    return new NativeClassifier(ort, forward, gradient, model.classes);
  }

  async predict(x: tf.Tensor4D): Promise<tf.Tensor2D> {
    const { logits } = await this.forward.run({ x: await ortInput(this.ort, x, BACKBONE_INPUT_SIZE) });
    return tf.tensor2d(logits.data as Float32Array, [x.shape[0], this.classes]);
  }

  async lossGradient(x: tf.Tensor4D, labels: Labels): Promise<tf.Tensor4D> {
    if (labels.shape[0] !== x.shape[0]) throw new Error(`lossGradient: ${labels.shape[0]} labels for ${x.shape[0]} images`);
    const input = await ortInput(this.ort, x, BACKBONE_INPUT_SIZE);
    const oneHot = labelWeights(labels, this.classes);
    const onehot = new this.ort.Tensor('float32', (await oneHot.data()) as Float32Array, oneHot.shape);
    oneHot.dispose();
    const { grad } = await this.gradient.run({ x: input, onehot }, ['grad']);
    return throughResize(x, tf.tensor4d(grad.data as Float32Array, input.dims as [number, number, number, number]));
  }

  /** Release both ORT sessions. */
  async dispose(): Promise<void> {
    await Promise.all([this.forward.release(), this.gradient.release()]);
  }
}

/**
 * The fastest classifier for `model` on this platform: a NativeClassifier when onnxruntime-node loads (and
 * ROBUSTIFY_NATIVE is not 0), else the TF.js model itself. `model` stays the caller's (the native one copies its
 * weights).
 */
export async function accelerate(model: FaceClassifier, opts: NativeOptions = {}): Promise<Classifier> {
  const ort = await nativeRuntime();
  if (!ort) return model;
  if (model.backbone instanceof OnnxBackbone) return accelerateGraph(ort, model.backbone, denseHead(model.head), model, opts);
  return NativeClassifier.create(ort, model, opts);
}


/** `fallback` (backbone + head on TF.js) as one ORT graph; the gradient stays on TF.js until the graph is differentiated natively. */
export async function accelerateGraph(ort: OrtModule, backbone: OnnxBackbone, head: OnnxHead, fallback: Classifier, opts: NativeOptions = {}): Promise<OrtGraphClassifier> {
  const forward = classifierModel(backbone, head, fallback.classes, { loss: false });
  return OrtGraphClassifier.create(ort, forward, undefined, fallback, backbone.inputSize, opts.threads);
}

/** A classifier on the fastest engine here, that engine's name, and how to release what it holds. */
export interface Accelerated {
  classifier: Classifier;
  /** 'onnxruntime', or 'tfjs-<backend>' when the model itself runs. */
  engine: string;
  release(): Promise<void>;
}

/** `accelerate`, with the engine named and one way to release it (the model stays the caller's). */
export async function accelerated(model: FaceClassifier, opts: NativeOptions = {}): Promise<Accelerated> {
  const classifier = await accelerate(model, opts);
  const native = classifier instanceof NativeClassifier || classifier instanceof OrtGraphClassifier ? classifier : undefined;
  return {
    classifier,
    engine: native ? 'onnxruntime' : `tfjs-${tf.getBackend()}`,
    release: async () => native?.dispose(),
  };
}

/** The folded weights of `model` as plain arrays. */
export function nativeWeights(model: FaceClassifier): ClassifierWeights {
  if (!(model.backbone instanceof FaceRecognitionNet)) throw new Error(`native: the hand-written graph is for the built-in backbone, not '${model.backbone.name}'`);
  const { mean, stem, blocks } = model.backbone.layers();
  const { mean: featMean, std: featStd } = model.head.normalisation();
  const [w1, b1, w2, b2] = model.head.variables();
  const f32 = (t: tf.Tensor) => t.dataSync() as Float32Array;
  const conv = (l: ConvLayer): ConvWeights => ({ filter: f32(l.filter), shape: l.filter.shape, bias: f32(l.bias) });
  return {
    mean: f32(mean),
    stem: conv(stem),
    blocks: blocks.map(({ down, block }) => ({ down, conv1: conv(block.conv1), conv2: conv(block.conv2) })),
    head: {
      featMean: f32(featMean),
      featStd: f32(featStd),
      w1: f32(w1),
      b1: f32(b1),
      w2: f32(w2),
      b2: f32(b2),
      hidden: model.head.config.hidden,
      classes: model.classes,
    },
  };
}
