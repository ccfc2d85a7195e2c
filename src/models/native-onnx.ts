/**
 * A classifier over a user's backbone (OnnxBackbone) on ONNX Runtime: one ONNX graph = the recogniser spec's
 * preprocessing + the backbone's forward graph + a head written as ONNX nodes (the paper's dense head, or a
 * gallery's distances) → logits, which NativeClassifier differentiates (native-graph.ts's lossGradientGraph).
 * Input `x` is [N,S,S,3] NHWC 0–255 RGB, as everywhere.
 */
import * as tf from '@tensorflow/tfjs-core';
import { OnnxBuilder } from '../engine/onnx/import/builder.js';
import type { ModelProto } from '../engine/onnx/proto.js';
import type { OrtModule } from '../engine/onnx/runtime.js';
import { toBackboneSize } from './classifier.js';
import type { DenseHead } from './head.js';
import type { Metric } from './gallery.js';
import type { OnnxBackbone } from './onnx-backbone.js';
import { channelScaling } from './recogniser.js';

/** Writes the head's nodes on the flattened features [N, D]; returns the logits value. */
export type OnnxHead = (b: OnnxBuilder, features: string) => string;

const BATCH = 'N';
const NET = 'net/';

/** The network from 0–255 pixels to logits (`logits` output). */
export function classifierModel(backbone: OnnxBackbone, head: OnnxHead, classes: number): ModelProto {
  const b = new OnnxBuilder(backbone.file, 'robustify/');
  const { spec } = backbone;
  const S = backbone.inputSize;
  const x = b.input('x', [BATCH, S, S, 3]);
  const { mean, std } = channelScaling(spec);
  let v = b.op('Div', [b.op('Sub', [x, b.floats(Float32Array.from(mean), [1, 1, 1, 3])]), b.floats(Float32Array.from(std), [1, 1, 1, 3])]);
  if (spec.channel_order === 'BGR') v = b.op('Gather', [v, b.int64s([2, 1, 0])], { axis: { i: 3 } });
  if (spec.layout === 'NCHW') v = b.transpose(v, [0, 3, 1, 2]);
  // The network's tensors renamed apart: its own may be called `x` or `logits`.
  b.op('Identity', [v], {}, NET + spec.input);
  b.adopt(backbone.graph().graph!, NET);
  const features = b.op('Flatten', [NET + spec.output], { axis: { i: 1 } });
  b.op('Identity', [head(b, features)], {}, 'logits');
  b.output('logits', [BATCH, classes]);
  return b.model();
}

/** The paper's dense head (standardise → Dense ReLU → Dense) as ONNX nodes. */
export function denseHead(head: DenseHead): OnnxHead {
  const { mean, std } = head.normalisation();
  const [w1, b1, w2, b2] = head.variables().map((t) => t.dataSync() as Float32Array);
  const { inputDim, hidden, classes } = head.config;
  const featMean = mean.dataSync() as Float32Array;
  const featStd = std.dataSync() as Float32Array;
  return (b, f) => {
    const z = b.op('Div', [b.op('Sub', [f, b.floats(featMean, [inputDim])]), b.floats(featStd, [inputDim])]);
    const h = b.op('Relu', [b.op('Add', [b.op('MatMul', [z, b.floats(w1, [inputDim, hidden])]), b.floats(b1, [hidden])])]);
    return b.op('Add', [b.op('MatMul', [h, b.floats(w2, [hidden, classes])]), b.floats(b2, [classes])]);
  };
}

/** −dist(f, g_k)/T against gallery rows `gallery` ([K, D] row-major), as GalleryClassifier computes it. */
export function galleryHead(gallery: Float32Array, k: number, metric: Metric, temperature: number): OnnxHead {
  const d = gallery.length / k;
  return (b, f) => {
    let dist: string;
    if (metric === 'euclidean') {
      const norms = new Float32Array(k);
      for (let i = 0; i < k; i++) for (let j = 0; j < d; j++) norms[i] += gallery[i * d + j] ** 2;
      const ff = b.op('ReduceSum', [b.op('Mul', [f, f]), b.int64s([1])], { keepdims: { i: 1 } });
      const cross = b.op('MatMul', [f, b.floats(transpose(gallery, k, d), [d, k])]);
      dist = b.op('Relu', [b.op('Add', [b.op('Sub', [ff, b.op('Mul', [cross, b.floats(Float32Array.of(2), [])])]), b.floats(norms, [1, k])])]);
    } else {
      const unit = new Float32Array(gallery.length);
      for (let i = 0; i < k; i++) {
        let n = 0;
        for (let j = 0; j < d; j++) n += gallery[i * d + j] ** 2;
        n = Math.max(Math.sqrt(n), 1e-12);
        for (let j = 0; j < d; j++) unit[i * d + j] = gallery[i * d + j] / n;
      }
      const norm = b.op('Max', [b.op('Sqrt', [b.op('ReduceSum', [b.op('Mul', [f, f]), b.int64s([1])], { keepdims: { i: 1 } })]), b.floats(Float32Array.of(1e-12), [])]);
      const cos = b.op('MatMul', [b.op('Div', [f, norm]), b.floats(transpose(unit, k, d), [d, k])]);
      dist = b.op('Sub', [b.floats(Float32Array.of(1), []), cos]);
    }
    return b.op('Div', [b.op('Neg', [dist]), b.floats(Float32Array.of(temperature), [])]);
  };
}

function transpose(m: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(m.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = m[i * cols + j];
  return out;
}

/** `x` resized to size×size, as an ORT tensor. */
export async function ortInput(ort: OrtModule, x: tf.Tensor4D, size: number): Promise<InstanceType<OrtModule['Tensor']>> {
  if (x.rank !== 4 || x.shape[3] !== 3) throw new Error(`classifier input must be an NHWC batch of RGB images [N,H,W,3], got [${x.shape}]`);
  const sized = toBackboneSize(x, size);
  const data = (await sized.data()) as Float32Array;
  if (sized !== x) sized.dispose();
  return new ort.Tensor('float32', data, sized.shape);
}

/** The gradient `g` w.r.t. the resized input taken back to `x` (the bilinear resize's vector-Jacobian product, in TF.js); `g` is consumed. */
export function throughResize(x: tf.Tensor4D, g: tf.Tensor4D): tf.Tensor4D {
  if (g.shape.join() === x.shape.join()) return g;
  return tf.tidy(() => {
    const vjp = tf.grad((xi: tf.Tensor) => toBackboneSize(xi as tf.Tensor4D, g.shape[1]))(x, g) as tf.Tensor4D;
    g.dispose();
    return vjp;
  });
}
