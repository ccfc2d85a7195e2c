/**
 * BMCNN (Ahn & Cho 2017/2018) as we build it, and its weights files.
 *
 * Pipeline for a noisy batch y (NHWC, 0–255) at noise level σ:
 * 1. pilot p = y − pilotNet(y, σ): a small plain residual CNN of our own;
 * 2. block matching on p (match.ts): for each 6×6 reference window on the 2-pixel grid, the 3 most similar
 *    windows within ±6 pixels, after the reference itself;
 * 3. the matched cells are stacked as channels — the noisy pixels of all 4 matches and the pilot pixels of
 *    all 4 — and one fully-convolutional DnCNN-style net (FFDNet-style half resolution + σ map) predicts, for
 *    every reference cell, the residual noise of the pilot on the 4×4 reference patch around it (residual
 *    learning on top of the pilot: the net starts as the pilot and only learns the correction, which is
 *    what lets it train in minutes);
 * 4. aggregation: each 4×4 estimate is put back at its place and overlapping estimates are averaged (every
 *    interior pixel gets 4), x̂ = p − average.
 * Colour: RGB jointly (matching on the pilot's luma; the nets see all channels).
 *
 * 5. optional flip self-ensemble (off by default): the same for the mirror image, averaged.
 *
 * Measured with the shipped weights (bench/denoise.ts, faces14): block matching adds nothing over the ablation
 * (within 0.05 dB) — the half-resolution net's receptive field (~34 px) already spans the ±6 px search
 * window, so the matches bring no pixels it cannot see; wider searches cost more than the 100 ms budget.
 *
 * Everything after the matching is TF.js ops with the matched positions as a constant index tensor, so it is
 * differentiable end to end (pilot included) for adaptive attacks; accelerate() runs denoise and the VJP on
 * onnxruntime instead (native.ts). `matches: 1` is the ablation without block
 * matching: the same nets, only the reference (noisy + pilot) goes in.
 */
import * as tf from '@tensorflow/tfjs-core';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MODEL_FORMAT } from '../models/classifier.js';
import { checkFinite } from '../models/weights.js';
import { writeFileAtomic } from '../util/fs.js';
import { createRandom } from '../util/random.js';
import { poolThreads } from '../engine/threads.js';
import { blockMatch, blockMatchBatch, checkMatchOptions, DEFAULT_MATCH, type MatchOptions } from './match.js';
import { NativeBmcnn } from './native.js';
import {
  checkNetConfig, createNet, depthToSpace, disposeNet, netFromTensors, netTensors, runNet, sigmaMap, spaceToDepth,
  type ConvNet, type NamedTensor, type NetConfig,
} from './net.js';

export const FORMAT = 'robustify-bmcnn/1';
/** Side of the patch each reference predicts (centred on its 2×2 cell). */
export const OUT_PATCH = 4;
/** σ values accepted (0–255 scale). The shipped weights were trained on σ ∈ [5, 50]; outside it the σ map extrapolates. */
export const SIGMA_LIMITS = [0.5, 100] as const;

/** BMCNN's network configuration (pilot and main nets, block matching). */
export interface BmcnnConfig {
  format: typeof FORMAT;
  match: MatchOptions;
  pilot: NetConfig;
  main: NetConfig;
}

/**
 * Sizes chosen for 2 CPU cores (~100 ms per 150×150 face, tens of minutes of training): pilot width 32,
 * depth 5; block-matching net width 32, depth 8, both at half resolution.
 */
export function defaultConfig(match: Partial<MatchOptions> = {}, width = 32, depth = 8): BmcnnConfig {
  const m = { ...DEFAULT_MATCH, ...match };
  return {
    format: FORMAT,
    match: m,
    pilot: { inChannels: 4 * 3 + 1, width: 32, depth: 5, outChannels: 4 * 3 },
    main: { inChannels: 4 * 6 * m.matches + 1, width, depth, outChannels: OUT_PATCH * OUT_PATCH * 3 },
  };
}

export function checkConfig(c: BmcnnConfig, what: string): void {
  if (c.format !== FORMAT) throw new Error(`${what}: format '${String(c.format)}' is not ${FORMAT}`);
  checkMatchOptions(c.match, what);
  checkNetConfig(c.pilot, `${what} (pilot)`);
  checkNetConfig(c.main, `${what} (main)`);
  if (c.pilot.inChannels !== 13 || c.pilot.outChannels !== 12) throw new Error(`${what}: pilot must map 13 to 12 channels`);
  if (c.main.inChannels !== 24 * c.match.matches + 1 || c.main.outChannels !== OUT_PATCH * OUT_PATCH * 3) {
    throw new Error(`${what}: main net must map ${24 * c.match.matches + 1} to ${OUT_PATCH * OUT_PATCH * 3} channels`);
  }
}

/** Gather rows of `src` [rows, c] at `idx` [m, 1]; the gradient scatters back (summing repeats). */
function gatherRows(src: tf.Tensor2D, idx: tf.Tensor2D): tf.Tensor2D {
  // tfjs's own GatherNd/GatherV2 gradients need UnsortedSegmentSum, which the wasm backend lacks.
  const f = tf.customGrad((...args: unknown[]) => {
    const s = args[0] as tf.Tensor2D;
    return { value: tf.gatherND(s, idx) as tf.Tensor2D, gradFunc: (dy: tf.Tensor2D) => tf.scatterND(idx, dy, s.shape) };
  });
  return f(src) as tf.Tensor2D;
}

/**
 * Pilot estimate: x (NHWC 0–255, even sides) → x − noise estimate, 0–255, not clipped. Net inputs are
 * centred (x/255 − 0.5), which speeds up training.
 */
export function pilotForward(net: ConvNet, x: tf.Tensor4D, sigma: readonly number[]): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    const x01 = tf.div(x, 255) as tf.Tensor4D;
    const input = tf.concat([spaceToDepth(tf.sub(x01, 0.5) as tf.Tensor4D), sigmaMap(sigma, h / 2, w / 2)], 3);
    return tf.mul(tf.sub(x01, depthToSpace(runNet(net, input))), 255) as tf.Tensor4D;
  });
}

/** [N,h,w,3] → [N,h,w,3k] with the k matched pixels of every pixel (channel block j = match j). */
function stackMatches(img01: tf.Tensor4D, idx: tf.Tensor2D, k: number): tf.Tensor4D {
  const [n, h, w] = img01.shape;
  return tf.reshape(gatherRows(tf.reshape(img01, [n * h * w, 3]), idx), [n, h, w, 3 * k]);
}

/**
 * Overlap-average of per-cell 4×4×3 patch estimates [N,h/2,w/2,48] into an image [N,h,w,3]. A transposed
 * convolution with a one-hot kernel puts patch entry (a, b, c) of cell (i, j) at pixel (2i+a−1, 2j+b−1);
 * dividing by the same scatter of ones gives the average (4 estimates inside, fewer at the border).
 */
export function aggregate(patches: tf.Tensor4D): tf.Tensor4D {
  const [n, h2, w2, ch] = patches.shape;
  const p = OUT_PATCH;
  const oneHot = new Float32Array(p * p * 3 * ch);
  for (let a = 0; a < p; a++) {
    for (let b = 0; b < p; b++) {
      for (let c = 0; c < 3; c++) oneHot[((a * p + b) * 3 + c) * ch + (a * p + b) * 3 + c] = 1;
    }
  }
  const filter = tf.tensor4d(oneHot, [p, p, 3, ch]);
  const sum = tf.conv2dTranspose(patches, filter, [n, 2 * h2, 2 * w2, 3], 2, 'same');
  const count = tf.conv2dTranspose(tf.ones([1, h2, w2, ch]) as tf.Tensor4D, filter, [1, 2 * h2, 2 * w2, 3], 2, 'same');
  return tf.div(sum, count) as tf.Tensor4D;
}

/**
 * The block-matching CNN: noisy x and pilot p (NHWC 0–255, even sides) and the matched indices (null when
 * matches = 1) → denoised image, 0–255, not clipped.
 */
export function mainForward(
  net: ConvNet, x: tf.Tensor4D, pilot: tf.Tensor4D, idx: tf.Tensor2D | null, k: number, sigma: readonly number[],
): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    const x01 = tf.div(x, 255) as tf.Tensor4D;
    const p01 = tf.div(pilot, 255) as tf.Tensor4D;
    const sx = idx ? stackMatches(x01, idx, k) : x01;
    const sp = idx ? stackMatches(p01, idx, k) : p01;
    const input = tf.concat([spaceToDepth(tf.sub(tf.concat([sx, sp], 3), 0.5) as tf.Tensor4D), sigmaMap(sigma, h / 2, w / 2)], 3);
    return tf.mul(tf.sub(p01, aggregate(runNet(net, input))), 255) as tf.Tensor4D;
  });
}

/**
 * The first-layer kernel of a 1-match net [3,3,25,c] widened to k matches [3,3,24k+1,c]: the reference
 * channels keep their weights, the other matches start at zero. A block-matching net initialised this way
 * from a trained ablation net computes exactly what the ablation computes and then learns to use the matches.
 */
export function widenReferenceKernel(kernel: tf.Tensor4D, k: number): tf.Tensor4D {
  const [kh, kw, cin, cout] = kernel.shape;
  if (cin !== 25) throw new Error(`widenReferenceKernel: expected 25 input channels, got ${cin}`);
  const src = kernel.dataSync();
  const wide = 24 * k + 1;
  const dst = new Float32Array(kh * kw * wide * cout);
  // Per space-to-depth phase q: [3 noisy, 3 pilot] for one match ↔ [3k noisy, 3k pilot] for k; σ last.
  const map = (c: number): number => {
    if (c === 24) return 24 * k;
    const q = Math.floor(c / 6);
    const r = c % 6;
    return q * 6 * k + (r < 3 ? r : 3 * k + r - 3);
  };
  for (let t = 0; t < kh * kw; t++) {
    for (let c = 0; c < cin; c++) {
      dst.set(src.subarray((t * cin + c) * cout, (t * cin + c + 1) * cout), (t * wide + map(c)) * cout);
    }
  }
  return tf.tensor4d(dst, [kh, kw, wide, cout]);
}

/** Matched indices for a pilot batch, as the int32 [n·h·w·k, 1] tensor mainForward takes (null if k = 1). */
export function matchIndices(pilot: Float32Array, shape: readonly number[], match: MatchOptions): tf.Tensor2D | null {
  const [n, h, w] = shape;
  if (match.matches === 1) return null;
  const idx = blockMatch(pilot, n, h, w, match);
  return tf.tensor2d(idx, [idx.length, 1], 'int32');
}

function sigmaList(sigma: number | readonly number[], n: number): number[] {
  const list = typeof sigma === 'number' ? new Array<number>(n).fill(sigma) : [...sigma];
  if (list.length !== n) throw new Error(`bmcnn: ${list.length} sigma values for a batch of ${n}`);
  for (const s of list) {
    if (!Number.isFinite(s) || s < SIGMA_LIMITS[0] || s > SIGMA_LIMITS[1]) {
      throw new Error(`bmcnn: sigma must be a number in [${SIGMA_LIMITS[0]}, ${SIGMA_LIMITS[1]}] (0–255 scale), got ${s}`);
    }
  }
  return list;
}

function checkInput(x: tf.Tensor): [number, number, number, number] {
  if (x.rank !== 4 || x.shape[3] !== 3) throw new Error(`bmcnn: expected an NHWC RGB batch [n, h, w, 3], got [${x.shape.join(', ')}]`);
  if (x.dtype !== 'float32') throw new Error(`bmcnn: expected float32 input, got ${x.dtype}`);
  const shape = x.shape as [number, number, number, number];
  if (shape[1] < 2 || shape[2] < 2) throw new Error(`bmcnn: image too small (${shape[1]}×${shape[2]}, need at least 2×2)`);
  return shape;
}

/** Odd sides get one mirrored row/column so the 2×2 cells tile the image; cropped off again at the end. */
function padEven(x: tf.Tensor4D): tf.Tensor4D {
  const [, h, w] = x.shape;
  if (h % 2 === 0 && w % 2 === 0) return x;
  return tf.mirrorPad(x, [[0, 0], [0, h % 2], [0, w % 2], [0, 0]], 'symmetric');
}

function cropTo(x: tf.Tensor4D, h: number, w: number): tf.Tensor4D {
  return x.shape[1] === h && x.shape[2] === w ? x : tf.slice(x, [0, 0, 0, 0], [-1, h, w, -1]);
}

/** Matched positions for one input batch, fixed so that the rest of the denoiser is a differentiable map. */
export interface MatchPlan {
  /** Per network input (with the ensemble: the batch, then its mirror images). */
  sigma: number[];
  idx: tf.Tensor2D | null;
  ensemble: boolean;
  dispose(): void;
}

export interface DenoiseOptions {
  /** Flip self-ensemble; default: the model's `ensemble` setting. */
  ensemble?: boolean;
}

/** The batch followed by its left-right mirror images. */
function withMirror(x: tf.Tensor4D): tf.Tensor4D {
  return tf.concat([x, tf.reverse(x, 2)], 0);
}

/** The nets' output (padded, with the mirror images when `ensemble`) back to the batch's n images, h×w. */
function outputMap(y: tf.Tensor4D, n: number, h: number, w: number, ensemble: boolean): tf.Tensor4D {
  const cropped = cropTo(y, h, w);
  return ensemble ? mergeMirror(cropped, n) : cropped;
}

/** Average of the first n outputs and the mirrored-back last n. */
function mergeMirror(y: tf.Tensor4D, n: number): tf.Tensor4D {
  const [, h, w, c] = y.shape;
  const a = tf.slice(y, [0, 0, 0, 0], [n, h, w, c]);
  const b = tf.reverse(tf.slice(y, [n, 0, 0, 0], [n, h, w, c]), 2);
  return tf.mul(tf.add(a, b), 0.5) as tf.Tensor4D;
}

export const DEFAULT_WEIGHTS_DIR = fileURLToPath(new URL('../../../weights/bmcnn/', import.meta.url));

export interface WeightsManifestFile {
  format: typeof FORMAT;
  config: BmcnnConfig;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

/**
 * The BMCNN denoiser (block-matching CNN): its two nets, block matching, and `denoise`.
 *
 * @example
 * ```ts no-run
 * import { tf, initEngine, Bmcnn } from 'robustify';
 * await initEngine();
 * const bmcnn = await Bmcnn.load(); // the weights shipped in weights/bmcnn
 * const clean = await bmcnn.denoise(tf.randomUniform([1, 64, 64, 3], 0, 255, 'float32', 1) as tf.Tensor4D, 20); // noise sigma 20
 * console.log(clean.shape);
 * ```
 */
export class Bmcnn {
  /**
   * Flip self-ensemble: denoise the image and its left-right mirror image and average (twice the work).
   * Averages out part of the small nets' variance: +0.6 dB at σ 20 on faces14 in our measurements. Off by
   * default so one 150×150 face stays within 100 ms on 2 cores (71 ms; 157 ms with it).
   */
  ensemble = false;

  /** The denoiser on onnxruntime, once accelerate() has run. */
  private native: NativeBmcnn | undefined;

  private constructor(readonly config: BmcnnConfig, readonly pilot: ConvNet, readonly main: ConvNet) {}

  /** Fresh weights (for training). */
  static create(config: BmcnnConfig, seed: number): Bmcnn {
    checkConfig(config, 'bmcnn');
    const rng = createRandom(seed);
    return new Bmcnn(config, createNet(config.pilot, rng.fork('pilot'), 'pilot'), createNet(config.main, rng.fork('main'), 'main'));
  }

  /** Wrap existing nets (the model takes them over: dispose() frees them). */
  static fromNets(config: BmcnnConfig, pilot: ConvNet, main: ConvNet): Bmcnn {
    checkConfig(config, 'bmcnn');
    return new Bmcnn(config, pilot, main);
  }

  /** Load `model.json` + weights from `dir` (default: the shipped weights). */
  static async load(dir: string = DEFAULT_WEIGHTS_DIR): Promise<Bmcnn> {
    const file = path.join(dir, 'model.json');
    let manifest: WeightsManifestFile;
    try {
      manifest = JSON.parse(await fsp.readFile(file, 'utf8')) as WeightsManifestFile;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new Error(`${file}: cannot read BMCNN weights (${e.code === 'ENOENT' ? 'no such file' : e.message})`);
    }
    checkManifest(manifest, file);
    checkConfig(manifest.config, file);
    const map = await readWeights(dir, manifest.weightsManifest, file);
    try {
      return new Bmcnn(manifest.config, netFromTensors(manifest.config.pilot, map, 'pilot', file), netFromTensors(manifest.config.main, map, 'main', file));
    } catch (err) {
      for (const t of Object.values(map)) t.dispose();
      throw err;
    }
  }

  get matches(): number {
    return this.config.match.matches;
  }

  /** The pilot estimate alone (NHWC 0–255 in and out, clipped). */
  async pilotDenoise(x: tf.Tensor4D, sigma: number | readonly number[]): Promise<tf.Tensor4D> {
    const [n, h, w] = checkInput(x);
    const s = sigmaList(sigma, n);
    return tf.tidy(() => tf.clipByValue(cropTo(pilotForward(this.pilot, padEven(x), s), h, w), 0, 255) as tf.Tensor4D);
  }

  /** Denoise a batch (NHWC float32 0–255 in, same shape out, clipped to 0–255). Does not dispose x. */
  async denoise(x: tf.Tensor4D, sigma: number | readonly number[], opts: DenoiseOptions = {}): Promise<tf.Tensor4D> {
    const [n, h, w] = checkInput(x);
    const ens = opts.ensemble ?? this.ensemble;
    const s = sigmaList(sigma, n);
    const sIn = ens ? [...s, ...s] : s;
    const xe = tf.tidy(() => padEven(ens ? withMirror(x) : x));
    const nets = this.native;
    let pilot: tf.Tensor4D | undefined;
    let y: tf.Tensor4D | undefined;
    let idxTensor: tf.Tensor2D | null = null;
    try {
      if (nets) {
        y = tf.tensor4d(await nets.denoise((await xe.data()) as Float32Array, xe.shape, sIn), xe.shape);
      } else {
        pilot = pilotForward(this.pilot, xe, sIn);
        const [ne, he, we] = pilot.shape;
        const idx = this.matches > 1 ? await blockMatchBatch((await pilot.data()) as Float32Array, ne, he, we, this.config.match, poolThreads()) : null;
        idxTensor = idx && tf.tensor2d(idx, [idx.length, 1], 'int32');
        y = mainForward(this.main, xe, pilot, idxTensor, this.matches, sIn);
      }
      const out = y;
      return tf.tidy(() => tf.clipByValue(outputMap(out, n, h, w, ens), 0, 255) as tf.Tensor4D);
    } finally {
      for (const t of [pilot, y, idxTensor]) t?.dispose();
      if (xe !== x) xe.dispose();
    }
  }

  /**
   * Run denoise() and vjp() on onnxruntime from now on (native.ts: MLAS convolutions, the same results up to
   * float rounding), the batch split over `threads` pool workers; plan/forward stay TF.js. Only where
   * onnxruntime-node loads (`nativeRuntime()`).
   */
  accelerate(threads = poolThreads()): void {
    this.native ??= new NativeBmcnn(this.pilot, this.main, this.config.match, OUT_PATCH, threads);
  }

  /** Block-match x (synchronously) and keep the positions, for `forward`. The caller disposes the plan. */
  plan(x: tf.Tensor4D, sigma: number | readonly number[], opts: DenoiseOptions = {}): MatchPlan {
    const [n] = checkInput(x);
    const ens = opts.ensemble ?? this.ensemble;
    const s = sigmaList(sigma, n);
    const sIn = ens ? [...s, ...s] : s;
    let idx: tf.Tensor2D | null = null;
    if (this.matches > 1) {
      const pilot = tf.tidy(() => pilotForward(this.pilot, padEven(ens ? withMirror(x) : x), sIn));
      try {
        idx = matchIndices(pilot.dataSync() as Float32Array, pilot.shape, this.config.match);
      } finally {
        pilot.dispose();
      }
    }
    return { sigma: sIn, idx, ensemble: ens, dispose: () => idx?.dispose() };
  }

  /**
   * The denoiser as a differentiable function of x with the matched positions of `plan` held fixed (pilot
   * included), unclipped: what an adaptive attack back-propagates through.
   */
  forward(x: tf.Tensor4D, plan: MatchPlan): tf.Tensor4D {
    const [n, h, w] = checkInput(x);
    return tf.tidy(() => {
      const xe = padEven(plan.ensemble ? withMirror(x) : x);
      const pilot = pilotForward(this.pilot, xe, plan.sigma);
      return outputMap(mainForward(this.main, xe, pilot, plan.idx, this.matches, plan.sigma), n, h, w, plan.ensemble);
    });
  }

  /**
   * Vector-Jacobian product: gradient w.r.t. x of ⟨denoise(x), grad⟩ (unclipped) with the matches of x held
   * fixed; on onnxruntime once accelerate() has run, else TF.js's tf.grad through forward().
   */
  async vjp(x: tf.Tensor4D, sigma: number | readonly number[], grad: tf.Tensor4D, opts: DenoiseOptions = {}): Promise<tf.Tensor4D> {
    if (!tf.util.arraysEqual(x.shape, grad.shape)) {
      throw new Error(`bmcnn: gradient shape [${grad.shape.join(', ')}] differs from input shape [${x.shape.join(', ')}]`);
    }
    const nets = this.native;
    if (!nets) {
      const plan = this.plan(x, sigma, opts);
      try {
        return tf.tidy(() => tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(this.forward(xx as tf.Tensor4D, plan), grad)))(x) as tf.Tensor4D);
      } finally {
        plan.dispose();
      }
    }
    const [n, h, w] = checkInput(x);
    const ens = opts.ensemble ?? this.ensemble;
    const s = sigmaList(sigma, n);
    const sIn = ens ? [...s, ...s] : s;
    // Mirroring, padding, cropping and merging are linear: their adjoints (tf.grad at any point) carry grad
    // to the nets' output and the nets' input gradient back to x.
    const reshaped = ens || h % 2 !== 0 || w % 2 !== 0;
    const inputMap = (t: tf.Tensor4D): tf.Tensor4D => padEven(ens ? withMirror(t) : t);
    const xe = tf.tidy(() => inputMap(x));
    const gy = reshaped ? tf.tidy(() => tf.grad((t) => outputMap(t as tf.Tensor4D, n, h, w, ens))(xe, grad) as tf.Tensor4D) : grad;
    let gxe: tf.Tensor4D | undefined;
    try {
      const [xd, gd] = await Promise.all([xe.data(), gy.data()]);
      gxe = tf.tensor4d(await nets.vjp(xd as Float32Array, gd as Float32Array, xe.shape, sIn), xe.shape);
      const g = gxe;
      return reshaped ? tf.tidy(() => tf.grad((t) => inputMap(t as tf.Tensor4D))(x, g) as tf.Tensor4D) : g;
    } finally {
      if (reshaped) tf.dispose([xe, gy, gxe]);
    }
  }

  /** Named weight tensors (pilot then main). */
  tensors(): NamedTensor[] {
    return [...netTensors(this.pilot, 'pilot'), ...netTensors(this.main, 'main')];
  }

  /** Write `model.json` + `weights.bin` into dir, atomically (weights first, manifest last). */
  async save(dir: string): Promise<void> {
    await fsp.mkdir(dir, { recursive: true });
    const { data, specs } = await tf.io.encodeWeights(this.tensors());
    await writeFileAtomic(path.join(dir, 'weights.bin'), new Uint8Array(data));
    const manifest: WeightsManifestFile = { format: FORMAT, config: this.config, weightsManifest: [{ paths: ['weights.bin'], weights: specs }] };
    await writeFileAtomic(path.join(dir, 'model.json'), `${JSON.stringify(manifest, null, 1)}\n`);
  }

  /** Release both nets. */
  dispose(): void {
    disposeNet(this.pilot);
    disposeNet(this.main);
    this.native = undefined;
  }
}

/** Read and decode the weight files a manifest lists (paths relative to dir). */
/** model.json must be BMCNN weights of the format this code reads; a classifier folder is told apart. */
function checkManifest(m: WeightsManifestFile, file: string): void {
  const format = m && typeof m === 'object' ? (m as { format?: unknown }).format : undefined;
  if (format === MODEL_FORMAT) throw new Error(`${file}: is a robustify classifier (made by \`robustify train\`), not BMCNN denoiser weights`);
  if (typeof format === 'string' && format.startsWith('robustify-bmcnn/') && format !== FORMAT) {
    throw new Error(`${file}: BMCNN weights of format '${format}'; this robustify reads '${FORMAT}'`);
  }
  if (format !== FORMAT || !m.config || typeof m.config !== 'object' || !Array.isArray(m.weightsManifest)) {
    throw new Error(`${file}: not BMCNN denoiser weights (expected format '${FORMAT}' with config and weightsManifest)`);
  }
}

export async function readWeights(
  dir: string, groups: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[], what: string,
): Promise<tf.NamedTensorMap> {
  const out: tf.NamedTensorMap = {};
  for (const g of groups) {
    const parts = await Promise.all(g.paths.map((p) => fsp.readFile(path.join(dir, p)).catch(() => Promise.reject(new Error(`${what}: cannot read weights file '${path.join(dir, p)}'`)))));
    const buf = Buffer.concat(parts);
    const expected = g.weights.reduce((s, e) => s + 4 * e.shape.reduce((a, b) => a * b, 1), 0);
    if (buf.length !== expected) throw new Error(`${what}: weights file has ${buf.length} bytes, manifest needs ${expected}`);
    const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
    Object.assign(out, tf.io.decodeWeights(ab, g.weights));
  }
  try {
    checkFinite(out, what);
  } catch (err) {
    tf.dispose(out);
    throw err;
  }
  return out;
}
