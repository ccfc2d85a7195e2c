/**
 * The face-api / dlib ResNet-34-style face recognition network, written in our own TF.js code over the
 * weights that ship in `@vladmandic/face-api` (model/face_recognition_model*).
 *
 * Input: NHWC float batch on the 0–255 scale, 150×150 (dlib's aligned face chip). Outputs: the 256-d
 * globally average-pooled features (the analogue of the seed paper's AveragePooling output, which our head
 * is trained on) and the 128-d face descriptor (pooled · fc).
 */
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import path from 'node:path';
import { frozenConv2d } from '../engine/ops/frozen_conv2d.js';
import type { Backbone } from './backbones.js';
import { LazySession } from '../engine/onnx/runtime.js';
import { backboneWeights, featuresGraph } from './native-graph.js';
import { loadWeightsManifest } from './weights.js';

/**
 * The built-in network's input side in pixels (dlib's 150×150 chips).
 *
 * @example
 * ```ts
 * import { tf, BACKBONE_INPUT_SIZE } from 'robustify';
 * const chip = tf.zeros([1, BACKBONE_INPUT_SIZE, BACKBONE_INPUT_SIZE, 3]); // one 150×150 RGB face
 * console.log(chip.shape);
 * ```
 */
export const BACKBONE_INPUT_SIZE = 150;
export const BACKBONE_NAME = 'face-api/face_recognition_model (dlib ResNet-34 style, 128-d)';
export const POOLED_DIM = 256;
export const DESCRIPTOR_DIM = 128;

/** The per-channel RGB mean face-api subtracts before scaling by 1/255. */
const MEAN_RGB = [122.782, 117.001, 104.298] as const;

/** A conv with the following "scale" layer (per-channel affine) folded into its filter and bias. */
export type ConvLayer = { filter: tf.Tensor4D; bias: tf.Tensor1D };

export interface ResidualBlock {
  conv1: ConvLayer;
  conv2: ConvLayer;
}

const BLOCKS: ReadonlyArray<{ name: string; down: boolean }> = [
  { name: 'conv32_1', down: false },
  { name: 'conv32_2', down: false },
  { name: 'conv32_3', down: false },
  { name: 'conv64_down', down: true },
  { name: 'conv64_1', down: false },
  { name: 'conv64_2', down: false },
  { name: 'conv64_3', down: false },
  { name: 'conv128_down', down: true },
  { name: 'conv128_1', down: false },
  { name: 'conv128_2', down: false },
  { name: 'conv256_down', down: true },
  { name: 'conv256_1', down: false },
  { name: 'conv256_2', down: false },
  { name: 'conv256_down_out', down: true },
];

/** Directory of face-api's shipped models in the installed package. */
export function faceApiModelDir(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
}

/** The folded network, layer by layer (HWIO filters), for exporting it to another engine. */
export interface BackboneLayers {
  /** Per-channel RGB mean subtracted before the 1/255 scaling. */
  mean: tf.Tensor1D;
  /** 'valid' stride-2 conv + ReLU, then a 3×3 stride-2 'valid' max-pool. */
  stem: ConvLayer;
  blocks: ReadonlyArray<{ down: boolean; block: ResidualBlock }>;
  /** [256, 128]: pooled features → descriptor. */
  fc: tf.Tensor2D;
}

export interface BackboneOutput {
  pooled: tf.Tensor2D;
  descriptor: tf.Tensor2D;
}

/**
 * The built-in face network (dlib's ResNet-34-style recogniser, weights from @vladmandic/face-api).
 *
 * @example
 * ```ts no-run
 * import { tf, initEngine, FaceRecognitionNet } from 'robustify';
 * await initEngine();
 * const net = await FaceRecognitionNet.load(); // the weights shipped with @vladmandic/face-api
 * const d = net.descriptor(tf.zeros([1, net.inputSize, net.inputSize, 3]) as tf.Tensor4D);
 * console.log(d.shape); // [1, 128]
 * net.dispose();
 * ```
 */
export class FaceRecognitionNet implements Backbone {
  readonly name = BACKBONE_NAME;
  readonly inputSize = BACKBONE_INPUT_SIZE;
  readonly alignment = 'dlib150';
  /** The head is trained on the pooled features (the paper's AveragePooling output), galleries match descriptors. */
  readonly featureDim = POOLED_DIM;
  readonly descriptorDim = DESCRIPTOR_DIM;

  private constructor(
    private readonly stem: ConvLayer,
    private readonly blocks: ReadonlyArray<{ down: boolean; block: ResidualBlock }>,
    private readonly fc: tf.Tensor2D,
    private readonly mean: tf.Tensor1D,
  ) {}

  /** Load the shipped weights (from the installed npm package unless `modelDir` is given). */
  static async load(modelDir = faceApiModelDir()): Promise<FaceRecognitionNet> {
    const raw = await loadWeightsManifest(path.join(modelDir, 'face_recognition_model-weights_manifest.json'));
    try {
      // Folded tensors outlive this scope: tidy returns (and so keeps) exactly them, the raw weights go.
      const { layers, fc, mean } = tf.tidy(() => ({
        layers: ['conv32_down', ...BLOCKS.flatMap(({ name }) => [`${name}/conv1`, `${name}/conv2`])].map((p) => foldScale(raw, p)),
        fc: tf.clone(need(raw, 'fc')) as tf.Tensor2D,
        mean: tf.tensor1d([...MEAN_RGB]),
      }));
      const blocks = BLOCKS.map(({ down }, i) => ({ down, block: { conv1: layers[1 + 2 * i], conv2: layers[2 + 2 * i] } }));
      return new FaceRecognitionNet(layers[0], blocks, fc, mean);
    } finally {
      tf.dispose(raw);
    }
  }

  /** 256-d pooled features and 128-d descriptor for an NHWC 0–255 batch of 150×150 faces. */
  predict(x: tf.Tensor4D): BackboneOutput {
    return tf.tidy(() => {
      const pooled = this.pooled(x);
      return { pooled, descriptor: tf.matMul(pooled, this.fc) as tf.Tensor2D };
    });
  }

  /** The pooled features alone (differentiable; what the classifier head consumes). */
  pooled(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      const [, h, w, c] = x.shape;
      if (h !== BACKBONE_INPUT_SIZE || w !== BACKBONE_INPUT_SIZE || c !== 3) {
        throw new Error(`backbone input must be [N,${BACKBONE_INPUT_SIZE},${BACKBONE_INPUT_SIZE},3], got [${x.shape}]`);
      }
      let out: tf.Tensor4D = tf.div(tf.sub(x, this.mean), 255);
      out = conv(out, this.stem, 2, 'valid', true);
      out = tf.maxPool(out, 3, 2, 'valid');
      for (const { down, block } of this.blocks) out = down ? residualDown(out, block) : residual(out, block);
      return tf.mean(out, [1, 2]) as tf.Tensor2D;
    });
  }

  /** Pooled 256-d features of a batch (what the head is trained on). */
  features(x: tf.Tensor4D): tf.Tensor2D {
    return this.pooled(x);
  }

  /**
   * `features` on onnxruntime where it loads (MLAS: ≈ 3× TF.js-wasm's speed, and no growth of the wasm heap,
   * which never shrinks), else on TF.js.
   */
  async inferFeatures(x: tf.Tensor4D): Promise<tf.Tensor2D> {
    const out = await this.native.run((await x.data()) as Float32Array, x.shape, 'features');
    return out ? tf.tensor2d(out, [x.shape[0], this.featureDim]) : this.features(x);
  }

  private readonly native = new LazySession(() => featuresGraph(backboneWeights(this.layers(), this.inputSize)));

  /** Release the native session of inferFeatures (built again on the next call). */
  release(): Promise<void> {
    return this.native.release();
  }

  /** 128-d face descriptors of a batch (what galleries match). */
  descriptor(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => tf.matMul(this.pooled(x), this.fc) as tf.Tensor2D);
  }

  /** The folded layers (still owned by this net: do not dispose). */
  layers(): BackboneLayers {
    return { mean: this.mean, stem: this.stem, blocks: this.blocks, fc: this.fc };
  }

  private tensors(): tf.Tensor[] {
    const layers = [this.stem, ...this.blocks.flatMap(({ block }) => [block.conv1, block.conv2])];
    return [...layers.flatMap((l) => [l.filter, l.bias]), this.fc, this.mean];
  }

  /** Release the weights. */
  dispose(): void {
    void this.release();
    tf.dispose(this.tensors());
  }
}

function need(raw: tf.NamedTensorMap, name: string): tf.Tensor {
  const t = raw[name];
  if (!t) throw new Error(`face recognition weights: missing '${name}'`);
  return t;
}

/** conv → +bias → ·scale + shift  ≡  conv with filter·scale and bias·scale + shift. */
function foldScale(raw: tf.NamedTensorMap, prefix: string): ConvLayer {
  const filter = need(raw, `${prefix}/conv/filters`) as tf.Tensor4D;
  const bias = need(raw, `${prefix}/conv/bias`) as tf.Tensor1D;
  const scale = need(raw, `${prefix}/scale/weights`) as tf.Tensor1D;
  const shift = need(raw, `${prefix}/scale/biases`) as tf.Tensor1D;
  return { filter: tf.mul(filter, scale), bias: tf.add(tf.mul(bias, scale), shift) };
}

function conv(x: tf.Tensor4D, layer: ConvLayer, stride: number, pad: 'same' | 'valid', relu: boolean): tf.Tensor4D {
  return frozenConv2d(x, { filter: layer.filter, bias: layer.bias, strides: stride, pad, relu });
}

function residual(x: tf.Tensor4D, b: ResidualBlock): tf.Tensor4D {
  const out = conv(conv(x, b.conv1, 1, 'same', true), b.conv2, 1, 'same', false);
  return tf.relu(tf.add(out, x)) as tf.Tensor4D;
}

/**
 * Downsampling block: a stride-2 'valid' conv path and a 2×2 average-pool shortcut. Where the conv path comes
 * out one row/column short it is zero-padded at the bottom/right, and where channels double the shortcut is
 * zero-padded in depth (dlib's layout).
 */
function residualDown(x: tf.Tensor4D, b: ResidualBlock): tf.Tensor4D {
  let out = conv(conv(x, b.conv1, 2, 'valid', true), b.conv2, 1, 'same', false);
  let pooled = tf.avgPool(x, 2, 2, 'valid');
  const dh = pooled.shape[1] - out.shape[1];
  const dw = pooled.shape[2] - out.shape[2];
  if (dh > 0 || dw > 0) out = tf.pad(out, [[0, 0], [0, dh], [0, dw], [0, 0]]);
  const dc = out.shape[3] - pooled.shape[3];
  if (dc > 0) pooled = tf.pad(pooled, [[0, 0], [0, 0], [0, 0], [0, dc]]);
  return tf.relu(tf.add(pooled, out)) as tf.Tensor4D;
}
