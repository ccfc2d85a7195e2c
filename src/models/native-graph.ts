/**
 * The face classifier (backbone + head, see backbone.ts and head.ts) as an ONNX graph, and its input-gradient
 * graph: the summed softmax cross-entropy differentiated by the generic ONNX compiler (engine/onnx/autodiff),
 * the same path every ONNX model takes (ONNX Runtime has no autodiff at inference time).
 *
 * Inputs: `x` [N,150,150,3] (NHWC, 0–255) and, for the gradient graph, `onehot` [N,K] (float label weights, each
 * row summing to 1: one-hot labels or a mix).
 * Outputs: `logits` [N,K] and, for the gradient graph, `grad` [N,150,150,3]. The batch dimension is dynamic.
 * Inside, the graph works in NCHW (what ORT's CPU convolutions take).
 */
import { differentiate } from '../engine/onnx/autodiff/differentiate.js';
import { withCrossEntropy } from '../engine/onnx/autodiff/loss.js';
import { decodeModel, encodeModel, type ModelProto } from '../engine/onnx/autodiff/model.js';
import { OnnxConv, type ConvWeights } from '../engine/onnx/conv.js';
import { OnnxGraph } from '../engine/onnx/graph.js';
import type { BackboneLayers, ConvLayer } from './backbone.js';

/** Everything the graph needs, as plain arrays (see nativeWeights in native.ts). */
/** The built-in net's folded weights as plain arrays. */
export interface BackboneWeights {
  /** Input side (square). */
  size: number;
  mean: Float32Array;
  stem: ConvWeights;
  blocks: ReadonlyArray<{ down: boolean; conv1: ConvWeights; conv2: ConvWeights }>;
}

export interface ClassifierWeights extends BackboneWeights {
  head: DenseHeadWeights | GalleryHeadWeights;
}

/** The trained dense head (head.ts). */
export interface DenseHeadWeights {
  featMean: Float32Array;
  featStd: Float32Array;
  /** [inputDim, hidden] */
  w1: Float32Array;
  b1: Float32Array;
  /** [hidden, classes] */
  w2: Float32Array;
  b2: Float32Array;
  hidden: number;
  classes: number;
}

/** Re-identification against a gallery (models/gallery.ts): logits = −‖pooled·fc − g_k‖² / T. */
export interface GalleryHeadWeights {
  /** [POOLED_DIM, D] */
  fc: Float32Array;
  /** [classes, D] gallery descriptors */
  gallery: Float32Array;
  descriptorDim: number;
  temperature: number;
  classes: number;
}

const BATCH = 'N';

/** A value in the graph with its static spatial size and channel count. */
interface Act {
  name: string;
  size: number;
  channels: number;
}

const f32 = (t: { dataSync(): unknown }) => t.dataSync() as Float32Array;

/** The net's layers (backbone.ts) as plain arrays, for the graphs here. */
export function backboneWeights(l: BackboneLayers, size: number): BackboneWeights {
  const conv = (c: ConvLayer): ConvWeights => ({ filter: f32(c.filter), shape: c.filter.shape, bias: f32(c.bias) });
  return { size, mean: f32(l.mean), stem: conv(l.stem), blocks: l.blocks.map(({ down, block }) => ({ down, conv1: conv(block.conv1), conv2: conv(block.conv2) })) };
}

/** The forward graph: `x` → `logits`. */
export function classifierGraph(w: ClassifierWeights): Uint8Array {
  const g = new OnnxGraph();
  const net = new NetworkBuilder(g);
  const pooled = net.trunk(w);
  const logits = 'gallery' in w.head ? net.galleryHead(pooled, w.head) : net.head(pooled, w.head);
  g.output('logits', logits, [BATCH, w.head.classes]);
  return g.toBytes();
}

/** The net alone: `x` → `features` [N, 256], the pooled features a head is trained on. */
export function featuresGraph(w: BackboneWeights): Uint8Array {
  const g = new OnnxGraph();
  const last = w.blocks[w.blocks.length - 1]?.conv2 ?? w.stem;
  g.output('features', new NetworkBuilder(g).trunk(w), [BATCH, last.shape[3]]);
  return g.toBytes();
}

/** The gradient graph: `x`, `onehot` → `logits`, `grad` (of the summed cross-entropy w.r.t. `x`). */
export function classifierGradientGraph(w: ClassifierWeights): Uint8Array {
  return lossGradientGraph(decodeModel(classifierGraph(w), 'built-in classifier'), w.head.classes);
}

/**
 * Any classifier graph `x` → `logits` [N, classes] with the summed softmax cross-entropy against input `onehot`
 * differentiated: outputs `logits` and `grad` (w.r.t. `x`). The one way every model gets its input gradient.
 */
export function lossGradientGraph(forward: ModelProto, classes: number, file?: string): Uint8Array {
  const { model, of } = withCrossEntropy(forward, 'logits', 'onehot', classes, BATCH);
  const d = differentiate(model, { wrt: 'x', of, keep: ['logits'], file });
  // The interface every caller of this graph uses: the gradient is `grad`.
  for (const n of d.graph!.node!) n.output = n.output!.map((o) => (o === 'grad_x' ? 'grad' : o));
  for (const o of d.graph!.output!) if (o.name === 'grad_x') o.name = 'grad';
  return encodeModel(d);
}

class NetworkBuilder {
  constructor(private readonly g: OnnxGraph) {}

  /** Input `x` (NHWC 0–255) → the pooled features. */
  trunk(w: BackboneWeights): string {
    const g = this.g;
    const S = w.size;
    const x = g.input('x', [BATCH, S, S, 3]);
    let a: Act = { name: g.op('Transpose', [x], { perm: { ints: [0, 3, 1, 2] } }), size: S, channels: 3 };
    a = { ...a, name: g.op('Div', [g.op('Sub', [a.name, g.floats(w.mean, [1, 3, 1, 1])]), g.floats([255], [])]) };
    a = this.stem(a, w.stem);
    for (const b of w.blocks) a = b.down ? this.residualDown(a, b.conv1, b.conv2) : this.residual(a, b.conv1, b.conv2);
    return g.op('ReduceMean', [a.name], { axes: { ints: [2, 3] }, keepdims: { i: 0 } });
  }

  /** 'valid' stride-2 conv + ReLU, then a 3×3 stride-2 'valid' max-pool. */
  stem(x: Act, w: ConvWeights): Act {
    const c = this.conv(x, w, 2, 'valid', true);
    const size = Math.floor((c.size - 3) / 2) + 1;
    return { name: this.g.op('MaxPool', [c.name], { kernel_shape: { ints: [3, 3] }, strides: { ints: [2, 2] } }), size, channels: c.channels };
  }

  residual(x: Act, w1: ConvWeights, w2: ConvWeights): Act {
    const a2 = this.conv(this.conv(x, w1, 1, 'same', true), w2, 1, 'same', false);
    return { name: this.g.op('Relu', [this.g.op('Add', [a2.name, x.name])]), size: x.size, channels: x.channels };
  }

  /** Stride-2 'valid' conv path (zero-padded bottom/right when one short) + 2×2 avg-pool shortcut (zero-padded in depth). */
  residualDown(x: Act, w1: ConvWeights, w2: ConvWeights): Act {
    const g = this.g;
    const a2 = this.conv(this.conv(x, w1, 2, 'valid', true), w2, 1, 'same', false);
    const size = Math.floor(x.size / 2);
    const dSize = size - a2.size;
    const dC = a2.channels - x.channels;
    const convPath = dSize > 0 ? g.op('Pad', [a2.name, g.int64s([0, 0, 0, 0, 0, 0, dSize, dSize])]) : a2.name;
    let shortcut = g.op('AveragePool', [x.name], { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } });
    if (dC > 0) shortcut = g.op('Pad', [shortcut, g.int64s([0, 0, 0, 0, 0, dC, 0, 0])]);
    return { name: g.op('Relu', [g.op('Add', [convPath, shortcut])]), size, channels: a2.channels };
  }

  /** standardise → dense1 + ReLU → dense2 (no dropout: inference). */
  head(pooled: string, w: DenseHeadWeights): string {
    const g = this.g;
    const D = w.featMean.length;
    const z = g.op('Div', [g.op('Sub', [pooled, g.floats(w.featMean, [D])]), g.floats(w.featStd, [D])]);
    const h = g.op('Relu', [g.op('Gemm', [z, g.floats(w.w1, [D, w.hidden]), g.floats(w.b1, [w.hidden])])]);
    return g.op('Gemm', [h, g.floats(w.w2, [w.hidden, w.classes]), g.floats(w.b2, [w.classes])]);
  }

  /** descriptor d = pooled·fc; logits = −relu(‖d‖² − 2·d·gᵀ + ‖g‖²) / T (squaredDistances' expansion, clamped the same way). */
  galleryHead(pooled: string, w: GalleryHeadWeights): string {
    const g = this.g;
    const { descriptorDim: D, classes: K } = w;
    const fc = g.floats(w.fc, [w.fc.length / D, D]);
    const gallery = g.floats(w.gallery, [K, D]);
    const norms = new Float32Array(K);
    for (let k = 0; k < K; k++) for (let j = 0; j < D; j++) norms[k] += w.gallery[k * D + j] ** 2;
    const d = g.op('MatMul', [pooled, fc]);
    const dd = g.op('ReduceSum', [g.op('Mul', [d, d]), g.int64s([1])], { keepdims: { i: 1 } });
    const cross = g.op('Gemm', [d, gallery], { transB: { i: 1 }, alpha: { f: -2 } });
    const dist = g.op('Relu', [g.op('Add', [g.op('Add', [cross, dd]), g.floats(norms, [1, K])])]);
    return g.op('Mul', [dist, g.floats([-1 / w.temperature], [])]);
  }

  /** conv (+ReLU). */
  private conv(x: Act, w: ConvWeights, stride: number, pad: 'same' | 'valid', relu: boolean): Act {
    if (w.shape[2] !== x.channels) throw new Error(`conv filter [${w.shape}] does not fit ${x.channels} input channels`);
    const conv = new OnnxConv(this.g, w, x.size, stride, pad);
    const y = conv.forward(x.name);
    return { name: relu ? this.g.op('Relu', [y]) : y, size: conv.geometry.outSize, channels: conv.outChannels };
  }
}
