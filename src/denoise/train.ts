/**
 * Training BMCNN: random crops of clean images + synthetic Gaussian noise (clipped to 0–255, σ drawn
 * uniformly per crop), MSE, Adam with a cosine learning-rate decay. Two stages: the pilot alone, then the
 * block-matching net on the frozen pilot's matches. Resumable: a checkpoint (weights + Adam state) is written
 * atomically every few hundred steps; every step's randomness derives from (seed, stage, step), so a resumed
 * run draws the same batches as an uninterrupted one.
 */
import * as tf from '@tensorflow/tfjs-core';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { decodeImage, type RgbImage } from '../image/index.js';
import { hasFormat, writeFileAtomic } from '../util/fs.js';
import type { OutputKind } from '../util/output.js';
import { createRandom, hashSeed, type Random } from '../util/random.js';
import { DEFAULT_MATCH } from './match.js';
import { Bmcnn, defaultConfig, FORMAT, mainForward, matchIndices, pilotForward, readWeights, widenReferenceKernel, type BmcnnConfig } from './model.js';
import { disposeNet, netFromTensors, netVariables, trainableNet, type ConvNet, type NamedTensor } from './net.js';
import { addNoise, psnr } from './noise.js';
import { ParameterError, param } from '../util/errors.js';

export interface TrainOptions {
  /** Folder of training images (searched recursively: png, jpg, jpeg, webp). */
  data: string;
  /** Output folder: model.json + weights.bin + training.json, and the checkpoint while training. */
  out: string;
  /** Steps of the block-matching net. */
  steps: number;
  /** Steps of the pilot (ignored with pilotFrom). */
  pilotSteps: number;
  /** Reuse the pilot of the model in this folder instead of training one. */
  pilotFrom?: string;
  /**
   * Continue from the finished model in this folder (pilot and main net): --steps more, a new cosine cycle.
   * A 1-match model can start a block-matching one (its first layer widened, matches weighted 0).
   */
  initFrom?: string;
  sigmaMin: number;
  sigmaMax: number;
  /** Side of the training crops (even). */
  patch: number;
  batch: number;
  seed: number;
  resume: boolean;
  lr: number;
  loss: LossName;
  /** Patches per matched group; 1 trains the ablation without block matching. */
  matches: number;
  radius: number;
  width: number;
  depth: number;
  /** Validate every this many steps (and at the end of each stage). */
  valEvery: number;
  checkpointEvery: number;
  /** Held-out images used for the validation PSNR. */
  valImages: number;
  /** Pixel budget of each training image, checked from its header (default DEFAULT_MAX_PIXELS). */
  maxPixels?: number;
  log: (line: string) => void;
  /** Told what was accepted but changed on reading an image (alpha dropped, first frame only). */
  onWarning?: (message: string) => void;
}

export const TRAIN_DEFAULTS = {
  steps: 1300, pilotSteps: 1200, sigmaMin: 5, sigmaMax: 50, patch: 48, batch: 16, seed: 0, resume: false, lr: 2e-3, loss: 'mse' as LossName,
  matches: DEFAULT_MATCH.matches, radius: DEFAULT_MATCH.radius, width: 32, depth: 8, valEvery: 250, checkpointEvery: 100, valImages: 24,
} as const;

/** σ values the validation PSNR is reported at. */
/** A BMCNN weights folder, finished (model.json) or in training (checkpoint.json): trained into again, resumed. */
export const BMCNN_OUTPUT: OutputKind = {
  what: 'BMCNN weights written by robustify bmcnn train',
  owns: async (dir) =>
    (await hasFormat(path.join(dir, 'model.json'), FORMAT)) ||
    (await fsp.readFile(path.join(dir, 'checkpoint.json'), 'utf8').then((t) => (JSON.parse(t) as { config?: { format?: string } }).config?.format === FORMAT, () => false)),
};

export const VAL_SIGMAS = [15, 25, 50] as const;
const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg', '.webp']);

export async function listImages(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string): Promise<void> {
    let entries;
    try {
      entries = await fsp.readdir(d, { withFileTypes: true });
    } catch (err) {
      throw new Error(`${d}: cannot read folder (${(err as Error).message})`);
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (IMAGE_EXT.has(path.extname(e.name).toLowerCase())) out.push(p);
    }
  }
  await walk(dir);
  return out.sort();
}

/** Deterministic hold-out: every 10th image of the sorted list is validation. */
export function splitTrainVal<T>(items: readonly T[]): { train: T[]; val: T[] } {
  return { train: items.filter((_, i) => i % 10 !== 9), val: items.filter((_, i) => i % 10 === 9) };
}

interface Batch {
  clean: tf.Tensor4D;
  noisy: tf.Tensor4D;
  sigma: number[];
}

function sampleBatch(images: readonly RgbImage[], o: TrainOptions, rng: Random): Batch {
  const p = o.patch;
  const clean = new Float32Array(o.batch * p * p * 3);
  const sigma: number[] = [];
  for (let b = 0; b < o.batch; b++) {
    const img = images[rng.int(images.length)];
    const y0 = rng.int(img.height - p + 1);
    const x0 = rng.int(img.width - p + 1);
    const flip = rng.next() < 0.5; // faces are left-right symmetric; vertical flips would not be faces
    for (let y = 0; y < p; y++) {
      for (let x = 0; x < p; x++) {
        const sx = x0 + (flip ? p - 1 - x : x);
        const s = ((y0 + y) * img.width + sx) * 3;
        const d = ((b * p + y) * p + x) * 3;
        clean[d] = img.data[s];
        clean[d + 1] = img.data[s + 1];
        clean[d + 2] = img.data[s + 2];
      }
    }
    sigma.push(o.sigmaMin + (o.sigmaMax - o.sigmaMin) * rng.next());
  }
  const noisy = new Float32Array(clean.length);
  const per = p * p * 3;
  for (let b = 0; b < o.batch; b++) {
    noisy.set(addNoise(clean.subarray(b * per, (b + 1) * per), sigma[b], rng), b * per);
  }
  const shape: [number, number, number, number] = [o.batch, p, p, 3];
  return { clean: tf.tensor4d(clean, shape), noisy: tf.tensor4d(noisy, shape), sigma };
}

export const LOSSES = ['mse', 'sigma-weighted'] as const;
export type LossName = (typeof LOSSES)[number];

/**
 * 'mse' on the 0–1 scale; 'sigma-weighted' scales each crop's MSE by (25/σ)², so every noise level counts
 * alike in PSNR terms (plain MSE is dominated by the largest σ, ~100× the weight of σ 5).
 */
function lossOf(out: tf.Tensor4D, b: Batch, loss: LossName): tf.Scalar {
  const sq = tf.squaredDifference(tf.div(out, 255), tf.div(b.clean, 255));
  if (loss === 'mse') return tf.mean(sq) as tf.Scalar;
  const w = tf.tensor1d(b.sigma.map((s) => (25 / s) ** 2));
  return tf.mean(tf.mul(tf.mean(sq, [1, 2, 3]), w)) as tf.Scalar;
}

type Stage = 'pilot' | 'main';

interface Checkpoint {
  stage: Stage;
  /** Steps done in this stage. */
  step: number;
  bin: string;
  config: BmcnnConfig;
  options: Record<string, unknown>;
  wallSeconds: number;
  history: HistoryEntry[];
  manifest: tf.io.WeightsManifestEntry[];
}

export interface HistoryEntry {
  stage: Stage;
  step: number;
  loss: number;
  /** Mean validation PSNR (dB) per σ. */
  val?: Record<string, number>;
  wallSeconds: number;
}

export interface TrainRecord {
  data: string;
  trainImages: number;
  valImages: number;
  heldOut: string;
  sigmaRange: [number, number];
  pilotSteps: number;
  pilotFrom?: string;
  steps: number;
  patch: number;
  batch: number;
  seed: number;
  lr: number;
  loss: LossName;
  backend: string;
  config: BmcnnConfig;
  wallSeconds: number;
  validation: { pilot: Record<string, number>; bmcnn: Record<string, number>; noisy: Record<string, number> };
  history: HistoryEntry[];
  /** With pilotFrom: the record of the run that trained the pilot, when it has one. */
  pilotRecord?: TrainRecord;
  initFrom?: string;
  /** With initFrom: the record of the run continued here. */
  initRecord?: TrainRecord;
}

/**
 * Mean PSNR per σ of the pilot and of the full model (without the flip ensemble: the network itself) on
 * fixed noisy copies of the validation images.
 */
async function validate(model: Bmcnn, val: readonly RgbImage[], seed: number): Promise<{ pilot: Record<string, number>; bmcnn: Record<string, number>; noisy: Record<string, number> }> {
  const res = { pilot: {} as Record<string, number>, bmcnn: {} as Record<string, number>, noisy: {} as Record<string, number> };
  for (const s of VAL_SIGMAS) {
    const rng = createRandom(hashSeed('bmcnn-val', seed, s));
    let sp = 0;
    let sb = 0;
    let sn = 0;
    for (const img of val) {
      const noisy = addNoise(img.data, s, rng);
      const x = tf.tensor4d(noisy, [1, img.height, img.width, 3]);
      const p = await model.pilotDenoise(x, s);
      const d = await model.denoise(x, s, { ensemble: false });
      sp += psnr((await p.data()) as Float32Array, img.data);
      sb += psnr((await d.data()) as Float32Array, img.data);
      sn += psnr(noisy, img.data);
      tf.dispose([x, p, d]);
    }
    res.pilot[String(s)] = sp / val.length;
    res.bmcnn[String(s)] = sb / val.length;
    res.noisy[String(s)] = sn / val.length;
  }
  return res;
}

function fmtVal(v: Record<string, number>): string {
  return Object.entries(v).map(([s, p]) => `σ${s} ${p.toFixed(2)}`).join(', ');
}

function optionsRecord(o: TrainOptions): Record<string, unknown> {
  const { log: _log, resume: _resume, ...rest } = o;
  return rest;
}

async function loadCheckpoint(out: string): Promise<{ ck: Checkpoint; map: tf.NamedTensorMap } | undefined> {
  const file = path.join(out, 'checkpoint.json');
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  let ck: Checkpoint;
  try {
    ck = JSON.parse(text) as Checkpoint;
  } catch (err) {
    throw new Error(`${file}: corrupt checkpoint (${(err as Error).message}); delete it to train from the start`);
  }
  const map = await readWeights(out, [{ paths: [ck.bin], weights: ck.manifest }], file);
  return { ck, map };
}

/** Where training starts: a checkpoint (o.resume), a trained model (o.initFrom), a trained pilot (o.pilotFrom), or afresh. */
async function startingPoint(o: TrainOptions, config: BmcnnConfig): Promise<{ model: Bmcnn; stage: Stage; startStep: number; wallBefore: number; history: HistoryEntry[]; optState?: NamedTensor[] }> {
  if (o.pilotFrom && o.initFrom) throw ParameterError.of`${param('pilotFrom')} and ${param('initFrom')} exclude each other`;
  let stage: Stage = o.pilotFrom || o.initFrom ? 'main' : 'pilot';
  let startStep = 0;
  let wallBefore = 0;
  let history: HistoryEntry[] = [];
  let model: Bmcnn;
  let optState: NamedTensor[] | undefined;

  const resumed = o.resume ? await loadCheckpoint(o.out) : undefined;
  if (o.resume && !resumed) throw ParameterError.of`${param('resume')}: no checkpoint.json in ${o.out} (finished runs keep none)`;
  if (resumed) {
    const { ck, map } = resumed;
    if (JSON.stringify(ck.config) !== JSON.stringify(config)) throw ParameterError.of`${param('resume')}: the checkpoint in ${o.out} has a different network configuration`;
    model = Bmcnn.fromNets(config, netFromTensors(config.pilot, map, 'pilot', o.out), netFromTensors(config.main, map, 'main', o.out));
    optState = Object.keys(map).filter((k) => k.startsWith('opt/')).sort((a, b) => Number(a.split('/')[1]) - Number(b.split('/')[1]))
      .map((k) => ({ name: k.slice(k.indexOf('/', 4) + 1), tensor: map[k] }));
    ({ stage, step: startStep, wallSeconds: wallBefore, history } = ck);
    o.log(`resuming ${stage} at step ${startStep}`);
  } else if (o.initFrom) {
    model = await Bmcnn.load(o.initFrom);
    if (model.matches === 1 && config.match.matches > 1) {
      // Block-matching net from a trained ablation net: same function at the start, matches weighted 0.
      const layers = model.main.layers.map((l) => ({ ...l }));
      layers[0].kernel = widenReferenceKernel(model.main.layers[0].kernel, config.match.matches);
      model.main.layers[0].kernel.dispose();
      model = Bmcnn.fromNets(config, model.pilot, { config: config.main, layers });
    }
    if (JSON.stringify(model.config) !== JSON.stringify(config)) throw ParameterError.of`${param('initFrom')} ${o.initFrom}: network configuration differs from the options`;
  } else {
    model = Bmcnn.create(config, o.seed);
    if (o.pilotFrom) {
      const donor = await Bmcnn.load(o.pilotFrom);
      if (JSON.stringify(donor.config.pilot) !== JSON.stringify(config.pilot)) throw ParameterError.of`${param('pilotFrom')} ${o.pilotFrom}: pilot configuration differs`;
      const main = model.main;
      const pilot = donor.pilot;
      disposeNet(donor.main);
      disposeNet(model.pilot);
      model = Bmcnn.fromNets(config, pilot, main);
    }
  }
  return { model, stage, startStep, wallBefore, history, optState };
}

/** The options checked and o.data decoded: training images and the validation subset of the held-out ones. */
async function trainingImages(o: TrainOptions): Promise<{ train: RgbImage[]; val: RgbImage[] }> {
  if (o.patch % 2 !== 0 || o.patch < 8) throw ParameterError.of`${param('patch')}: expected an even number ≥ 8, got ${o.patch}`;
  if (!(o.sigmaMin > 0 && o.sigmaMax >= o.sigmaMin)) throw ParameterError.of`${param('sigmaMin')}/${param('sigmaMax')}: need 0 < min ≤ max, got ${o.sigmaMin}, ${o.sigmaMax}`;
  const files = await listImages(o.data);
  if (files.length < 10) throw ParameterError.of`${param('data')} ${o.data}: found ${files.length} images, need at least 10`;
  const images = await Promise.all(files.map((f) => decodeImage(f, undefined, { maxPixels: o.maxPixels, onWarning: o.onWarning })));
  for (const [i, img] of images.entries()) {
    if (img.height < o.patch || img.width < o.patch) throw ParameterError.of`${files[i]}: ${img.height}×${img.width} is smaller than ${param('patch')} ${o.patch}`;
  }
  const { train, val: heldOut } = splitTrainVal(images);
  const stride = Math.max(1, Math.floor(heldOut.length / o.valImages));
  const val = heldOut.filter((_, i) => i % stride === 0).slice(0, o.valImages);
  o.log(`bmcnn train: ${train.length} training images, ${heldOut.length} held out (${val.length} used for validation), backend ${tf.getBackend()}`);
  return { train, val };
}

/** Train (or resume) and write the final model and its record into o.out. */
export async function trainBmcnn(o: TrainOptions): Promise<TrainRecord> {
  const { train, val } = await trainingImages(o);

  await fsp.mkdir(o.out, { recursive: true });
  const config = defaultConfig({ matches: o.matches, radius: o.radius }, o.width, o.depth);
  const start = await startingPoint(o, config);
  let { model, stage, startStep, optState } = start;
  const { wallBefore, history } = start;

  const t0 = Date.now();
  const wall = (): number => wallBefore + (Date.now() - t0) / 1000;

  for (const st of ['pilot', 'main'] as Stage[]) {
    if (st === 'pilot' && stage === 'main') continue;
    const total = st === 'pilot' ? o.pilotSteps : o.steps;
    const first = st === stage ? startStep : 0;
    stage = st;
    const trainable: ConvNet = trainableNet(st === 'pilot' ? model.pilot : model.main);
    const vars = netVariables(trainable);
    const opt = tf.train.adam(o.lr);
    if (optState && first > 0) await opt.setWeights(optState);
    optState = undefined;
    let lossSum = 0;
    let lossN = 0;
    let tLast = Date.now();

    const current = (): Bmcnn => (st === 'pilot' ? Bmcnn.fromNets(config, trainable, model.main) : Bmcnn.fromNets(config, model.pilot, trainable));
    const save = async (step: number): Promise<void> => {
      const named: NamedTensor[] = [...current().tensors()];
      const ow = await opt.getWeights();
      ow.forEach((w, i) => named.push({ name: `opt/${i}/${w.name}`, tensor: w.tensor }));
      const { data, specs } = await tf.io.encodeWeights(named);
      const bin = `checkpoint-${st}-${step}.bin`;
      await writeFileAtomic(path.join(o.out, bin), new Uint8Array(data));
      const ck: Checkpoint = { stage: st, step, bin, config, options: optionsRecord(o), wallSeconds: wall(), history, manifest: specs };
      await writeFileAtomic(path.join(o.out, 'checkpoint.json'), `${JSON.stringify(ck)}\n`);
      for (const f of await fsp.readdir(o.out)) {
        if (f.startsWith('checkpoint-') && f.endsWith('.bin') && f !== bin) await fsp.rm(path.join(o.out, f), { force: true });
      }
    };

    for (let step = first; step < total; step++) {
      // Cosine decay to 5% of the initial rate over the stage.
      (opt as unknown as { learningRate: number }).learningRate = o.lr * (0.05 + 0.95 * 0.5 * (1 + Math.cos((Math.PI * step) / total)));
      const rng = createRandom(hashSeed(o.seed, st, step));
      const b = sampleBatch(train, o, rng);
      let idx: tf.Tensor2D | null = null;
      let pilot: tf.Tensor4D | null = null;
      if (st === 'main') {
        pilot = pilotForward(model.pilot, b.noisy, b.sigma);
        idx = matchIndices(pilot.dataSync() as Float32Array, pilot.shape, config.match);
      }
      const loss = opt.minimize(() => {
        const out = st === 'pilot' ? pilotForward(trainable, b.noisy, b.sigma) : mainForward(trainable, b.noisy, pilot as tf.Tensor4D, idx, config.match.matches, b.sigma);
        return lossOf(out, b, o.loss);
      }, true, vars) as tf.Scalar;
      lossSum += (await loss.data())[0];
      lossN++;
      tf.dispose([loss, b.clean, b.noisy]);
      pilot?.dispose();
      idx?.dispose();
      const done = step + 1;
      if (done % 25 === 0 || done === total) {
        const mse = lossSum / lossN;
        const sec = (Date.now() - tLast) / 1000 / lossN;
        const psnrNote = o.loss === 'mse' ? ` (train PSNR ${(-10 * Math.log10(mse)).toFixed(2)} dB)` : ` (${o.loss})`;
        o.log(`${st} ${done}/${total} loss ${mse.toExponential(3)}${psnrNote} ${sec.toFixed(2)} s/step, ${(wall() / 60).toFixed(1)} min`);
        history.push({ stage: st, step: done, loss: mse, wallSeconds: wall() });
        lossSum = 0;
        lossN = 0;
        tLast = Date.now();
      }
      if (done % o.valEvery === 0 || done === total) {
        const v = await validate(current(), val, o.seed);
        const entry = history[history.length - 1];
        if (entry && entry.step === done && entry.stage === st) entry.val = st === 'pilot' ? v.pilot : v.bmcnn;
        o.log(`${st} ${done}/${total} validation PSNR: ${fmtVal(st === 'pilot' ? v.pilot : v.bmcnn)} (noisy ${fmtVal(v.noisy)})`);
      }
      if (done % o.checkpointEvery === 0 || done === total) await save(done);
    }
    // Adopt the trained weights as plain tensors for the next stage and the final model.
    const fixed: ConvNet = { config: trainable.config, layers: trainable.layers.map((l) => ({ kernel: tf.clone(l.kernel), bias: tf.clone(l.bias) })) };
    const old = st === 'pilot' ? model.pilot : model.main;
    model = st === 'pilot' ? Bmcnn.fromNets(config, fixed, model.main) : Bmcnn.fromNets(config, model.pilot, fixed);
    disposeNet(old);
    tf.dispose(vars);
    opt.dispose();
    startStep = 0;
  }

  const v = await validate(model, val, o.seed);
  await model.save(o.out);
  const record: TrainRecord = {
    data: path.resolve(o.data), trainImages: train.length, valImages: val.length,
    heldOut: 'every 10th image of the sorted file list; validation uses an evenly spaced subset of those',
    sigmaRange: [o.sigmaMin, o.sigmaMax], pilotSteps: o.pilotFrom || o.initFrom ? 0 : o.pilotSteps, pilotFrom: o.pilotFrom,
    initFrom: o.initFrom,
    steps: o.steps, patch: o.patch, batch: o.batch, seed: o.seed, lr: o.lr, loss: o.loss, backend: tf.getBackend(), config,
    wallSeconds: wall(), validation: v, history,
  };
  const earlier = async (dir: string | undefined): Promise<TrainRecord | undefined> => {
    const text = dir ? await fsp.readFile(path.join(dir, 'training.json'), 'utf8').catch(() => undefined) : undefined;
    return text ? (JSON.parse(text) as TrainRecord) : undefined;
  };
  record.pilotRecord = await earlier(o.pilotFrom);
  record.initRecord = await earlier(o.initFrom);
  await writeFileAtomic(path.join(o.out, 'training.json'), `${JSON.stringify(record, null, 1)}\n`);
  for (const f of await fsp.readdir(o.out)) {
    if (f === 'checkpoint.json' || (f.startsWith('checkpoint-') && f.endsWith('.bin'))) await fsp.rm(path.join(o.out, f), { force: true });
  }
  o.log(`bmcnn train: done in ${(wall() / 60).toFixed(1)} min; validation PSNR pilot ${fmtVal(v.pilot)}; bmcnn ${fmtVal(v.bmcnn)}`);
  model.dispose();
  return record;
}
