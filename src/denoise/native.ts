/**
 * BMCNN's two networks as ONNX graphs on onnxruntime (MLAS): the denoising pass of the `bmcnn` defence. The
 * graphs compute exactly what pilotForward / mainForward in model.ts compute (same layouts: ONNX's
 * SpaceToDepth and DepthToSpace 'DCR' order channels as (row parity, column parity, channel), like
 * net.ts), up to float rounding. Gradients for adaptive attacks stay on TF.js (Bmcnn.vjp).
 */
import * as tf from '@tensorflow/tfjs-core';
import { OnnxConv } from '../engine/onnx/conv.js';
import { INT32, OnnxGraph } from '../engine/onnx/graph.js';
import { createSession, type OrtModule, type OrtSession } from '../engine/onnx/runtime.js';
import type { ConvNet } from './net.js';

/** Where BMCNN's nets run; both take and give NHWC 0–255 batches with even sides. */
export interface BmcnnNets {
  /** The pilot estimate, unclipped. */
  pilot(x: tf.Tensor4D, sigma: readonly number[]): Promise<tf.Tensor4D>;
  /** The denoised batch, unclipped; `idx` the gather indices of block matching (null without matching). */
  main(x: tf.Tensor4D, pilot: tf.Tensor4D, idx: Int32Array | null, sigma: readonly number[]): Promise<tf.Tensor4D>;
  dispose(): Promise<void>;
}

/** conv (+ReLU but on the last) over NCHW `h`. */
function convs(g: OnnxGraph, net: ConvNet, h: string): string {
  net.layers.forEach((l, i) => {
    const weights = { filter: l.kernel.dataSync() as Float32Array, shape: l.kernel.shape, bias: l.bias.dataSync() as Float32Array };
    // 3×3 'same', stride 1: one pixel of padding on every side whatever the size.
    h = new OnnxConv(g, weights, 8, 1, 'same').forward(h);
    if (i < net.layers.length - 1) h = g.op('Relu', [h]);
  });
  return h;
}

const NCHW = { perm: { ints: [0, 3, 1, 2] } };
const NHWC = { perm: { ints: [0, 2, 3, 1] } };

/** NHWC (x/255 − 0.5) → space-to-depth NCHW with the σ map appended: a net's input. */
function netInput(g: OnnxGraph, x01: string, sigmaMap: string): string {
  const centred = g.op('Transpose', [g.op('Sub', [x01, g.floats([0.5], [])])], NCHW);
  return g.op('Concat', [g.op('SpaceToDepth', [centred], { blocksize: { i: 2 } }), sigmaMap], { axis: { i: 1 } });
}

function pilotModel(net: ConvNet): Uint8Array {
  const g = new OnnxGraph();
  const x01 = g.op('Div', [g.input('x', ['N', 'H', 'W', 3]), g.floats([255], [])]);
  const noise = g.op('DepthToSpace', [convs(g, net, netInput(g, x01, g.input('sigma', ['N', 1, 'H2', 'W2'])))], { blocksize: { i: 2 }, mode: { s: 'DCR' } });
  const y = g.op('Mul', [g.op('Sub', [x01, g.op('Transpose', [noise], NHWC)]), g.floats([255], [])]);
  g.output('y', y, ['N', 'H', 'W', 3]);
  return g.toBytes();
}

/** model.ts's aggregate(): ConvTranspose with the one-hot kernel, as [in = 48, out = 3, 4, 4]. */
function aggregateKernel(patch: number, ch: number): Float32Array {
  const k = new Float32Array(ch * 3 * patch * patch);
  for (let a = 0; a < patch; a++) {
    for (let b = 0; b < patch; b++) {
      for (let c = 0; c < 3; c++) k[((((a * patch + b) * 3 + c) * 3 + c) * patch + a) * patch + b] = 1;
    }
  }
  return k;
}

function mainModel(net: ConvNet, matches: number, patch: number): Uint8Array {
  const g = new OnnxGraph();
  const c255 = g.floats([255], []);
  const x01 = g.op('Div', [g.input('x', ['N', 'H', 'W', 3]), c255]);
  const p01 = g.op('Div', [g.input('pilot', ['N', 'H', 'W', 3]), c255]);
  let sx = x01;
  let sp = p01;
  if (matches > 1) {
    // Rows of the [N·H·W, 3] image gathered at [N, H, W, k] → [N, H, W, k, 3] → [N, H, W, 3k] (block j = match j).
    const idx = g.input('idx', ['N', 'H', 'W', matches], INT32);
    const stack = (v: string) => g.op('Reshape', [g.op('Gather', [g.op('Reshape', [v, g.int64s([-1, 3])]), idx], { axis: { i: 0 } }), g.int64s([0, 0, 0, -1])]);
    sx = stack(x01);
    sp = stack(p01);
  }
  const both = g.op('Concat', [sx, sp], { axis: { i: 3 } });
  const patches = convs(g, net, netInput(g, both, g.input('sigma', ['N', 1, 'H2', 'W2'])));
  const ch = net.config.outChannels;
  const sum = g.op('ConvTranspose', [patches, g.floats(aggregateKernel(patch, ch), [ch, 3, patch, patch])], {
    kernel_shape: { ints: [patch, patch] }, strides: { ints: [2, 2] }, pads: { ints: [1, 1, 1, 1] },
  });
  const avg = g.op('Div', [sum, g.input('count', [1, 1, 'H', 'W'])]);
  g.output('y', g.op('Mul', [g.op('Sub', [p01, g.op('Transpose', [avg], NHWC)]), c255]), ['N', 'H', 'W', 3]);
  return g.toBytes();
}

/** How many 4×4 patch estimates cover each pixel (1, 2 or 4), as aggregate()'s scatter of ones counts them. */
function coverCount(h: number, w: number, patch: number): Float32Array {
  const along = (size: number): Float32Array => {
    const c = new Float32Array(size);
    for (let i = 0; i < size / 2; i++) for (let a = 0; a < patch; a++) if (2 * i + a - 1 >= 0 && 2 * i + a - 1 < size) c[2 * i + a - 1]++;
    return c;
  };
  const rows = along(h);
  const cols = along(w);
  return Float32Array.from({ length: h * w }, (_, p) => rows[Math.floor(p / w)] * cols[p % w]);
}

export class NativeBmcnnNets implements BmcnnNets {
  private readonly counts = new Map<string, Float32Array>();

  private constructor(
    private readonly ort: OrtModule,
    private readonly pilotSession: OrtSession,
    private readonly mainSession: OrtSession,
    private readonly matches: number,
    private readonly patch: number,
  ) {}

  static async create(ort: OrtModule, pilot: ConvNet, main: ConvNet, matches: number, patch: number, threads?: number): Promise<NativeBmcnnNets> {
    const [p, m] = await Promise.all([createSession(ort, pilotModel(pilot), threads), createSession(ort, mainModel(main, matches, patch), threads)]);
    return new NativeBmcnnNets(ort, p, m, matches, patch);
  }

  async pilot(x: tf.Tensor4D, sigma: readonly number[]): Promise<tf.Tensor4D> {
    const { y } = await this.pilotSession.run({ x: await this.tensor(x), sigma: this.sigmaMap(x.shape, sigma) });
    return tf.tensor4d(y.data as Float32Array, x.shape);
  }

  async main(x: tf.Tensor4D, pilot: tf.Tensor4D, idx: Int32Array | null, sigma: readonly number[]): Promise<tf.Tensor4D> {
    const [n, h, w] = x.shape;
    const feeds: Record<string, InstanceType<OrtModule['Tensor']>> = {
      x: await this.tensor(x),
      pilot: await this.tensor(pilot),
      sigma: this.sigmaMap(x.shape, sigma),
      count: new this.ort.Tensor('float32', this.count(h, w), [1, 1, h, w]),
    };
    if (this.matches > 1) {
      if (!idx || idx.length !== n * h * w * this.matches) throw new Error(`bmcnn: ${idx?.length ?? 0} gather indices for ${n}×${h}×${w}×${this.matches}`);
      feeds.idx = new this.ort.Tensor('int32', idx, [n, h, w, this.matches]);
    }
    const { y } = await this.mainSession.run(feeds);
    return tf.tensor4d(y.data as Float32Array, x.shape);
  }

  async dispose(): Promise<void> {
    await Promise.all([this.pilotSession.release(), this.mainSession.release()]);
  }

  private async tensor(x: tf.Tensor4D): Promise<InstanceType<OrtModule['Tensor']>> {
    return new this.ort.Tensor('float32', (await x.data()) as Float32Array, x.shape);
  }

  /** σ/255 per image as an [N, 1, H/2, W/2] map (sigmaMap in net.ts, NCHW). */
  private sigmaMap(shape: readonly number[], sigma: readonly number[]): InstanceType<OrtModule['Tensor']> {
    const [n, h, w] = shape;
    const cells = (h / 2) * (w / 2);
    const map = new Float32Array(n * cells);
    sigma.forEach((s, i) => map.fill(s / 255, i * cells, (i + 1) * cells));
    return new this.ort.Tensor('float32', map, [n, 1, h / 2, w / 2]);
  }

  private count(h: number, w: number): Float32Array {
    const key = `${h}x${w}`;
    let c = this.counts.get(key);
    if (!c) this.counts.set(key, (c = coverCount(h, w, this.patch)));
    return c;
  }
}
