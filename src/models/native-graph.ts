/**
 * The face classifier (backbone + head, see backbone.ts and head.ts) as an ONNX graph, with the input gradient
 * of the summed softmax cross-entropy written out by hand: ONNX Runtime has no autodiff at inference time.
 *
 * Inputs: `x` [N,150,150,3] (NHWC, 0–255) and, for the gradient graph, `onehot` [N,K] (float one-hot labels).
 * Outputs: `logits` [N,K] and, for the gradient graph, `grad` [N,150,150,3]. The batch dimension is dynamic.
 * Inside, the graph works in NCHW (what ORT's CPU convolutions take).
 */
import { differentiate } from '../engine/onnx/autodiff/differentiate.js';
import { withCrossEntropy } from '../engine/onnx/autodiff/loss.js';
import { decodeModel, encodeModel } from '../engine/onnx/autodiff/model.js';
import { OnnxConv, type ConvGradMode, type ConvWeights } from '../engine/onnx/conv.js';
import { FLOAT, OnnxGraph } from '../engine/onnx/graph.js';
import { BACKBONE_INPUT_SIZE } from './backbone.js';

/** Everything the graph needs, as plain arrays (see nativeWeights in native.ts). */
export interface ClassifierWeights {
  mean: Float32Array;
  stem: ConvWeights;
  blocks: ReadonlyArray<{ down: boolean; conv1: ConvWeights; conv2: ConvWeights }>;
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

/** Re-identification against a gallery (study/demo/gallery.ts): logits = −‖pooled·fc − g_k‖² / T. */
export interface GalleryHeadWeights {
  /** [POOLED_DIM, D] */
  fc: Float32Array;
  /** [classes, D] gallery descriptors */
  gallery: Float32Array;
  descriptorDim: number;
  temperature: number;
  classes: number;
}

export interface GraphOptions {
  /** Also output the input gradient (needs the `onehot` input). */
  gradient: boolean;
  convGrad?: ConvGradMode;
}

const BATCH = 'N';

/** A value in the graph with its static spatial size and channel count. */
interface Act {
  name: string;
  size: number;
  channels: number;
}

/** The backward step of one forward step: output gradient → input gradient. */
type Backward = (g: string) => string;

export function classifierGraph(w: ClassifierWeights, opts: GraphOptions): Uint8Array {
  const g = new OnnxGraph();
  const net = new NetworkBuilder(g, opts.gradient, opts.convGrad ?? 'conv');
  const S = BACKBONE_INPUT_SIZE;
  const K = w.head.classes;
  const x = g.input('x', [BATCH, S, S, 3]);
  const tape: Backward[] = [];

  let a: Act = { name: g.op('Transpose', [x], { perm: { ints: [0, 3, 1, 2] } }), size: S, channels: 3 };
  a = { ...a, name: g.op('Div', [g.op('Sub', [a.name, g.floats(w.mean, [1, 3, 1, 1])]), g.floats([255], [])]) };
  a = net.stem(a, w.stem, tape);
  for (const b of w.blocks) a = b.down ? net.residualDown(a, b.conv1, b.conv2, tape) : net.residual(a, b.conv1, b.conv2, tape);
  const pooled = g.op('ReduceMean', [a.name], { axes: { ints: [2, 3] }, keepdims: { i: 0 } });
  const last = a;
  tape.push((gp) => g.op('Mul', [g.op('Reshape', [gp, g.int64s([0, -1, 1, 1])]), g.floats([1 / (last.size * last.size)], [])]));
  const logits = 'gallery' in w.head ? net.galleryHead(pooled, w.head, tape) : net.head(pooled, w.head, tape);
  g.output('logits', logits, [BATCH, K]);

  if (opts.gradient) {
    const onehot = g.input('onehot', [BATCH, K]);
    // d(Σ cross-entropy)/d logits = softmax − label weights, row by row (rows of the weights sum to 1).
    let grad = g.op('Sub', [g.op('Softmax', [logits], { axis: { i: 1 } }), onehot]);
    for (let i = tape.length - 1; i >= 0; i--) grad = tape[i](grad);
    grad = g.op('Transpose', [g.op('Div', [grad, g.floats([255], [])])], { perm: { ints: [0, 2, 3, 1] } });
    g.output('grad', grad, [BATCH, S, S, 3]);
  }
  return g.toBytes();
}

/**
 * The gradient graph through the generic ONNX differentiator: the forward graph + the summed softmax
 * cross-entropy −Σ onehot ⊙ log softmax(logits), differentiated w.r.t. `x`. Same inputs and outputs as the
 * hand-derived one (`x`, `onehot` → `logits`, `grad`).
 */
export function classifierGradientGraph(w: ClassifierWeights): Uint8Array {
  const forward = decodeModel(classifierGraph(w, { gradient: false }), 'built-in classifier');
  const { model, of } = withCrossEntropy(forward, 'logits', 'onehot', w.head.classes, BATCH);
  const d = differentiate(model, { wrt: 'x', of, keep: ['logits'] });
  // The interface every caller of this graph uses: the gradient is `grad`.
  for (const n of d.graph!.node!) n.output = n.output!.map((o) => (o === 'grad_x' ? 'grad' : o));
  for (const o of d.graph!.output!) if (o.name === 'grad_x') o.name = 'grad';
  return encodeModel(d);
}

class NetworkBuilder {
  private zeroName: string | undefined;

  constructor(
    private readonly g: OnnxGraph,
    /** Whether the backward steps will be used (the forward then keeps what they need, e.g. argmax indices). */
    private readonly gradient: boolean,
    private readonly convGrad: ConvGradMode,
  ) {}

  /** 'valid' stride-2 conv + ReLU, then a 3×3 stride-2 'valid' max-pool (its gradient scatters through the argmax). */
  stem(x: Act, w: ConvWeights, tape: Backward[]): Act {
    const g = this.g;
    const [c, back] = this.conv(x, w, 2, 'valid', true);
    const size = Math.floor((c.size - 3) / 2) + 1;
    const pool = { kernel_shape: { ints: [3, 3] }, strides: { ints: [2, 2] } };
    if (!this.gradient) return { name: g.op('MaxPool', [c.name], pool), size, channels: c.channels };
    const [pooled, indices] = g.opN('MaxPool', [c.name], 2, pool);
    tape.push((gp) => {
      const shape = g.op('Shape', [c.name]);
      const flat = g.int64s([-1]);
      const zeros = g.op('Reshape', [g.op('ConstantOfShape', [shape]), flat]);
      const scattered = g.op('ScatterElements', [zeros, g.op('Reshape', [indices, flat]), g.op('Reshape', [gp, flat])], {
        axis: { i: 0 },
        reduction: { s: 'add' },
      });
      return back(g.op('Reshape', [scattered, shape]));
    });
    return { name: pooled, size, channels: c.channels };
  }

  residual(x: Act, w1: ConvWeights, w2: ConvWeights, tape: Backward[]): Act {
    const g = this.g;
    const [a1, back1] = this.conv(x, w1, 1, 'same', true);
    const [a2, back2] = this.conv(a1, w2, 1, 'same', false);
    const out = g.op('Relu', [g.op('Add', [a2.name, x.name])]);
    tape.push((gOut) => {
      const gs = this.reluBack(gOut, out);
      return g.op('Add', [gs, back1(back2(gs))]);
    });
    return { name: out, size: x.size, channels: x.channels };
  }

  /** Stride-2 'valid' conv path (zero-padded bottom/right when one short) + 2×2 avg-pool shortcut (zero-padded in depth). */
  residualDown(x: Act, w1: ConvWeights, w2: ConvWeights, tape: Backward[]): Act {
    const g = this.g;
    const [a1, back1] = this.conv(x, w1, 2, 'valid', true);
    const [a2, back2] = this.conv(a1, w2, 1, 'same', false);
    const size = Math.floor(x.size / 2);
    const dSize = size - a2.size;
    const dC = a2.channels - x.channels;
    const convPath = dSize > 0 ? g.op('Pad', [a2.name, g.int64s([0, 0, 0, 0, 0, 0, dSize, dSize])]) : a2.name;
    let shortcut = g.op('AveragePool', [x.name], { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } });
    if (dC > 0) shortcut = g.op('Pad', [shortcut, g.int64s([0, 0, 0, 0, 0, dC, 0, 0])]);
    const out = g.op('Relu', [g.op('Add', [convPath, shortcut])]);
    tape.push((gOut) => {
      const gs = this.reluBack(gOut, out);
      const gConv = dSize > 0 ? g.op('Slice', [gs, g.int64s([0, 0]), g.int64s([a2.size, a2.size]), g.int64s([2, 3])]) : gs;
      const gShort = dC > 0 ? g.op('Slice', [gs, g.int64s([0]), g.int64s([x.channels]), g.int64s([1])]) : gs;
      // Avg-pool gradient: each output gradient spread as ¼ over its 2×2 window (DepthToSpace of 4 copies);
      // a row/column the pool skipped (odd size) gets zero.
      const spread = g.op('DepthToSpace', [g.op('Concat', [gShort, gShort, gShort, gShort], { axis: { i: 1 } })], {
        blocksize: { i: 2 },
        mode: { s: 'DCR' },
      });
      let gPool = g.op('Mul', [spread, g.floats([0.25], [])]);
      const odd = x.size - 2 * size;
      if (odd > 0) gPool = g.op('Pad', [gPool, g.int64s([0, 0, 0, 0, 0, 0, odd, odd])]);
      return g.op('Add', [gPool, back1(back2(gConv))]);
    });
    return { name: out, size, channels: a2.channels };
  }

  /** standardise → dense1 + ReLU → dense2 (no dropout: inference). */
  head(pooled: string, w: DenseHeadWeights, tape: Backward[]): string {
    const g = this.g;
    const D = w.featMean.length;
    const std = g.floats(w.featStd, [D]);
    const z = g.op('Div', [g.op('Sub', [pooled, g.floats(w.featMean, [D])]), std]);
    const w1 = g.floats(w.w1, [D, w.hidden]);
    const w2 = g.floats(w.w2, [w.hidden, w.classes]);
    const h = g.op('Relu', [g.op('Gemm', [z, w1, g.floats(w.b1, [w.hidden])])]);
    const logits = g.op('Gemm', [h, w2, g.floats(w.b2, [w.classes])]);
    tape.push((gl) => {
      const gh = this.reluBack(g.op('Gemm', [gl, w2], { transB: { i: 1 } }), h);
      return g.op('Div', [g.op('Gemm', [gh, w1], { transB: { i: 1 } }), std]);
    });
    return logits;
  }

  /**
   * descriptor d = pooled·fc; logits = −relu(‖d‖² − 2·d·gᵀ + ‖g‖²) / T (squaredDistances' expansion, clamped the
   * same way). Backward: with gs = −∂/T masked where the clamp was active, ∂d = 2·(d·Σ_k gs − gs·g).
   */
  galleryHead(pooled: string, w: GalleryHeadWeights, tape: Backward[]): string {
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
    const logits = g.op('Mul', [dist, g.floats([-1 / w.temperature], [])]);
    tape.push((gl) => {
      const gs = this.reluBack(g.op('Mul', [gl, g.floats([-1 / w.temperature], [])]), dist);
      const rows = g.op('ReduceSum', [gs, g.int64s([1])], { keepdims: { i: 1 } });
      const gd = g.op('Mul', [g.op('Sub', [g.op('Mul', [d, rows]), g.op('MatMul', [gs, gallery])]), g.floats([2], [])]);
      return g.op('Gemm', [gd, fc], { transB: { i: 1 } });
    });
    return logits;
  }

  /** Gradient through a ReLU whose output is y (Greater+Cast+Mul profiled faster in ORT than Sign+Mul or Where). */
  private reluBack(g: string, y: string): string {
    const mask = this.g.op('Cast', [this.g.op('Greater', [y, this.zero()])], { to: { i: FLOAT } });
    return this.g.op('Mul', [g, mask]);
  }

  private zero(): string {
    this.zeroName ??= this.g.floats([0], []);
    return this.zeroName;
  }

  /** conv (+ReLU) forward, and its input-gradient step (through the ReLU mask first when there is one). */
  private conv(x: Act, w: ConvWeights, stride: number, pad: 'same' | 'valid', relu: boolean): [Act, Backward] {
    if (w.shape[2] !== x.channels) throw new Error(`conv filter [${w.shape}] does not fit ${x.channels} input channels`);
    const conv = new OnnxConv(this.g, w, x.size, stride, pad);
    let y = conv.forward(x.name);
    if (relu) y = this.g.op('Relu', [y]);
    const back: Backward = (gy) => conv.inputGradient(relu ? this.reluBack(gy, y) : gy, this.convGrad);
    return [{ name: y, size: conv.geometry.outSize, channels: conv.outChannels }, back];
  }
}
