/**
 * The plain convolutional networks BMCNN is built from, and the layout helpers around them.
 *
 * Both networks (the pilot and the block-matching CNN) run FFDNet-style at half resolution: the input is
 * rearranged space-to-depth (each 2×2 pixel cell becomes one position with 4× the channels) and a noise-level
 * map σ/255 is appended as one more channel. Half resolution quarters the cost of every 3×3 convolution and
 * doubles the receptive field, which is what makes a net of this width fit in ~100 ms per face on one core;
 * the σ map lets one set of weights serve σ ∈ [5, 50].
 *
 * A net is `depth` 3×3 convolutions: conv+ReLU, (depth−2)× conv+ReLU, conv (linear). It predicts a residual
 * (the noise), as DnCNN does. No batch normalisation: with ≤ 10 layers, residual learning and Adam train well
 * without it, and inference then has no train/eval switch that an adaptive attack would have to mirror.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Random } from '../util/random.js';

export interface NetConfig {
  /** Input channels at half resolution (space-to-depth channels + 1 σ-map channel). */
  inChannels: number;
  /** Channels of the hidden layers. */
  width: number;
  /** Number of 3×3 convolutions (≥ 2). */
  depth: number;
  /** Output channels at half resolution. */
  outChannels: number;
}

/** Plain tensors for inference; `tf.Variable`s (which are tensors) while training. */
export interface ConvLayer {
  kernel: tf.Tensor4D;
  bias: tf.Tensor1D;
}

/** A plain convolutional network's layers (BMCNN's pilot and main nets). */
export interface ConvNet {
  config: NetConfig;
  layers: ConvLayer[];
}

export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

export function checkNetConfig(c: NetConfig, what: string): void {
  for (const k of ['inChannels', 'width', 'depth', 'outChannels'] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) throw new Error(`${what}: ${k} must be a positive integer, got ${c[k]}`);
  }
  if (c.depth < 2) throw new Error(`${what}: depth must be at least 2, got ${c.depth}`);
}

function layerShapes(c: NetConfig): [number, number][] {
  const shapes: [number, number][] = [];
  for (let i = 0; i < c.depth; i++) {
    shapes.push([i === 0 ? c.inChannels : c.width, i === c.depth - 1 ? c.outChannels : c.width]);
  }
  return shapes;
}

/**
 * He-normal initialisation; the last layer starts 10× smaller so the residual starts near zero and the net
 * begins as the identity (a good start for a denoiser).
 */
export function createNet(config: NetConfig, rng: Random, what: string): ConvNet {
  checkNetConfig(config, what);
  const shapes = layerShapes(config);
  const layers = shapes.map(([cin, cout], i) => {
    const std = Math.sqrt(2 / (9 * cin)) * (i === shapes.length - 1 ? 0.1 : 1);
    const w = rng.fillNormal(new Float32Array(9 * cin * cout), 0, std);
    return { kernel: tf.tensor4d(w, [3, 3, cin, cout]), bias: tf.zeros([cout]) as tf.Tensor1D };
  });
  return { config, layers };
}

/**
 * Trainable copy: variables are created unnamed (auto-unique names), so several models can coexist in one
 * process; optimiser state is matched by position, which `netVariables` keeps fixed.
 */
export function trainableNet(net: ConvNet): ConvNet {
  return {
    config: net.config,
    layers: net.layers.map((l) => ({ kernel: tf.variable(l.kernel), bias: tf.variable(l.bias) })),
  };
}

/** Named tensors for serialisation, in a fixed order. */
export function netTensors(net: ConvNet, name: string): NamedTensor[] {
  return net.layers.flatMap((l, i) => [
    { name: `${name}/conv${i}/kernel`, tensor: l.kernel },
    { name: `${name}/conv${i}/bias`, tensor: l.bias },
  ]);
}

/** Rebuild a net from decoded tensors (checks every shape against the config; the message names `what`). */
export function netFromTensors(config: NetConfig, map: tf.NamedTensorMap, name: string, what: string): ConvNet {
  checkNetConfig(config, what);
  const layers = layerShapes(config).map(([cin, cout], i) => {
    const k = map[`${name}/conv${i}/kernel`];
    const b = map[`${name}/conv${i}/bias`];
    if (!k || !b) throw new Error(`${what}: missing weights for ${name}/conv${i}`);
    if (!tf.util.arraysEqual(k.shape, [3, 3, cin, cout]) || !tf.util.arraysEqual(b.shape, [cout])) {
      throw new Error(`${what}: ${name}/conv${i} has shape [${k.shape}] / [${b.shape}], expected [3,3,${cin},${cout}] / [${cout}]`);
    }
    return { kernel: k as tf.Tensor4D, bias: b as tf.Tensor1D };
  });
  return { config, layers };
}

/** The net's tensors in a fixed order (the variables of a trainable net). */
export function netVariables(net: ConvNet): tf.Variable[] {
  return net.layers.flatMap((l) => [l.kernel as tf.Variable, l.bias as tf.Variable]);
}

export function disposeNet(net: ConvNet): void {
  for (const l of net.layers) {
    l.kernel.dispose();
    l.bias.dispose();
  }
}

/** Run the convolutions on a half-resolution input. */
export function runNet(net: ConvNet, x: tf.Tensor4D): tf.Tensor4D {
  let h = x;
  net.layers.forEach((l, i) => {
    const last = i === net.layers.length - 1;
    h = tf.fused.conv2d({ x: h, filter: l.kernel, strides: 1, pad: 'same', bias: l.bias, activation: last ? 'linear' : 'relu' });
  });
  return h;
}

/** [N,H,W,C] → [N,H/2,W/2,4C] (H, W even); channel order (row parity, column parity, channel). */
export function spaceToDepth(x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const t = tf.reshape(x, [n, h / 2, 2, w / 2, 2 * c]);
  return tf.reshape(tf.transpose(t, [0, 1, 3, 2, 4]), [n, h / 2, w / 2, 4 * c]);
}

/** Inverse of spaceToDepth. */
export function depthToSpace(x: tf.Tensor4D): tf.Tensor4D {
  const [n, h2, w2, c4] = x.shape;
  const c = c4 / 4;
  const t = tf.reshape(x, [n, h2, w2, 2, 2 * c]);
  return tf.reshape(tf.transpose(t, [0, 1, 3, 2, 4]), [n, 2 * h2, 2 * w2, c]);
}

/** The σ/255 map as one channel at half resolution; `sigma` per image. */
export function sigmaMap(sigma: readonly number[], h2: number, w2: number): tf.Tensor4D {
  return tf.tile(tf.tensor4d(sigma.map((s) => s / 255), [sigma.length, 1, 1, 1]), [1, h2, w2, 1]);
}
