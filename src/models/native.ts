/**
 * The face classifier on ONNX Runtime's native CPU engine (MLAS: AVX-512/FMA where the CPU has them), several
 * times faster than TF.js-wasm for attacks. Same `Classifier` semantics as FaceClassifier: the network and its
 * input gradient (compiled by the ONNX differentiator) are one ONNX graph (native-graph.ts); inputs other than
 * 150×150 are resized (and the gradient taken through the resize) in TF.js.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ConvWeights } from '../engine/onnx/conv.js';
import { createSession, loadOnnxRuntime, type OrtModule, type OrtSession } from '../engine/onnx/runtime.js';
import type { ConvLayer } from './backbone.js';
import { labelWeights, toBackboneSize, type Classifier, type FaceClassifier, type Labels } from './classifier.js';
import { classifierGradientGraph, classifierGraph, type ClassifierWeights } from './native-graph.js';

export interface NativeOptions {
  /** Intra-op threads (default: ROBUSTIFY_THREADS or the cores). */
  threads?: number;
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
    const forward = await createSession(ort, classifierGraph(w), opts.threads);
    const gradient = await createSession(ort, classifierGradientGraph(w), opts.threads);
    return new NativeClassifier(ort, forward, gradient, model.classes);
  }

  async predict(x: tf.Tensor4D): Promise<tf.Tensor2D> {
    const { logits } = await this.forward.run({ x: await this.input(x) });
    return tf.tensor2d(logits.data as Float32Array, [x.shape[0], this.classes]);
  }

  async lossGradient(x: tf.Tensor4D, labels: Labels): Promise<tf.Tensor4D> {
    if (labels.shape[0] !== x.shape[0]) throw new Error(`lossGradient: ${labels.shape[0]} labels for ${x.shape[0]} images`);
    const input = await this.input(x);
    const oneHot = labelWeights(labels, this.classes);
    const onehot = new this.ort.Tensor('float32', (await oneHot.data()) as Float32Array, oneHot.shape);
    oneHot.dispose();
    const { grad } = await this.gradient.run({ x: input, onehot }, ['grad']);
    const g = tf.tensor4d(grad.data as Float32Array, input.dims as [number, number, number, number]);
    if (g.shape.join() === x.shape.join()) return g;
    // Through the bilinear resize in TF.js: its vector-Jacobian product with the native gradient.
    return tf.tidy(() => {
      const vjp = tf.grad((xi: tf.Tensor) => toBackboneSize(xi as tf.Tensor4D))(x, g) as tf.Tensor4D;
      g.dispose();
      return vjp;
    });
  }

  /** Release both ORT sessions. */
  async dispose(): Promise<void> {
    await Promise.all([this.forward.release(), this.gradient.release()]);
  }

  /** `x` resized to the backbone's input, as an ORT tensor. */
  private async input(x: tf.Tensor4D): Promise<InstanceType<OrtModule['Tensor']>> {
    if (x.rank !== 4 || x.shape[3] !== 3) throw new Error(`classifier input must be an NHWC batch of RGB images [N,H,W,3], got [${x.shape}]`);
    const sized = toBackboneSize(x);
    const data = (await sized.data()) as Float32Array;
    if (sized !== x) sized.dispose();
    return new this.ort.Tensor('float32', data, sized.shape);
  }
}

/**
 * The fastest classifier for `model` on this platform: a NativeClassifier when onnxruntime-node loads (and
 * ROBUSTIFY_NATIVE is not 0), else the TF.js model itself. `model` stays the caller's (the native one copies its
 * weights).
 */
export async function accelerate(model: FaceClassifier, opts: NativeOptions = {}): Promise<Classifier> {
  if (globalThis.process?.env.ROBUSTIFY_NATIVE === '0') return model;
  const ort = await loadOnnxRuntime();
  if (!ort) return model;
  return NativeClassifier.create(ort, model, opts);
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
  const native = classifier instanceof NativeClassifier ? classifier : undefined;
  return {
    classifier,
    engine: native ? 'onnxruntime' : `tfjs-${tf.getBackend()}`,
    release: async () => native?.dispose(),
  };
}

/** The folded weights of `model` as plain arrays. */
export function nativeWeights(model: FaceClassifier): ClassifierWeights {
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
