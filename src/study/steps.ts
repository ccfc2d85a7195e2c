/**
 * The study's expensive steps, each cached (see cache.ts): hashing the data, training the head, loading the
 * test faces, and crafting adversarial sets batch by batch (a killed attack resumes at its first unfinished
 * batch, and the intermediate iterates it was asked for are kept, so one run gives a whole
 * accuracy-vs-iterations curve).
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { ExpectationOverTransformation, ProjectedGradientDescent, type PgdParams } from '../attacks/index.js';
import type { ChunkRunner } from '../attacks/chunk.js';
import type { EvalRunner } from '../models/evaluate.js';
import type { Pipeline } from '../defences/index.js';
import { CHANNELS } from '../image/index.js';
import { DefendedClassifier } from '../models/defended.js';
import { loadImages, splitDataset, type LoadOptions, type Sample, type Selection } from '../data/index.js';
import { BUILTIN, type BackboneSource } from '../models/backbones.js';
import { FaceClassifier, type Classifier } from '../models/classifier.js';
import { DEFAULT_TRAIN_CLASSIFIER, trainClassifier, type TrainProgress } from '../models/train.js';
import type { StepCache } from './cache.js';
import type { StudyConfig } from './config.js';
import { imageSize, packImages, setLength, type ImageSet } from './imageset.js';

export type StepProgress = (step: string, done: number, total: number) => void;

export interface StudyData {
  selection: Selection;
  train: Sample[];
  test: Sample[];
  /** Hash of the selected files' bytes, identities and split: what every later step depends on. */
  key: string;
}

/** Select, split and hash the data (the hash covers file contents, so renamed copies share a cache). */
/** `backbone`: its identity (backboneIdentity); every later step's key derives from this one. */
export async function studyData(selection: Selection, config: StudyConfig, load: LoadOptions, backbone = BUILTIN): Promise<StudyData> {
  const { train, test } = splitDataset(selection.samples, { testEvery: config.split.test_every, testOffset: config.split.test_offset });
  const h = createHash('sha256');
  // The built-in backbone adds nothing, so caches made before user backbones stay valid.
  h.update(JSON.stringify({ identities: selection.identities, split: config.split, chip: load.chip ?? 'auto', ...(backbone === BUILTIN ? {} : { backbone }) }));
  for (const s of selection.samples) {
    h.update(`${s.label}\u0000`);
    h.update(await fsp.readFile(s.file));
  }
  return { selection, train, test, key: h.digest('hex').slice(0, 16) };
}

/** Train (or find) the classifier; returns it loaded and the key later steps depend on. */
export async function studyModel(
  cache: StepCache,
  data: StudyData,
  config: StudyConfig,
  load: LoadOptions,
  onProgress?: (p: TrainProgress) => void,
  backbone?: BackboneSource,
): Promise<{ model: FaceClassifier; key: string; dir: string }> {
  const key = cache.key('model', { data: data.key, train: config.train, seed: config.seed });
  const t = config.train;
  const dir = await cache.dir(key, async (tmp) => {
    const opts = {
      ...DEFAULT_TRAIN_CLASSIFIER,
      hidden: t.hidden,
      dropout: t.dropout,
      learningRate: t.learning_rate,
      batchSize: t.batch_size,
      maxEpochs: t.max_epochs,
      patience: t.patience,
      validationFraction: t.validation,
      flip: t.flip,
      seed: config.seed,
      load,
      backbone,
    };
    const { classifier } = await trainClassifier(data.train, data.selection.identities, opts, onProgress);
    try {
      await classifier.saveTo(tmp);
    } finally {
      classifier.dispose();
    }
  });
  return { model: await FaceClassifier.load(dir), key, dir };
}

/** The test faces as the model sees them (150×150 chips), packed. */
export async function testSet(data: StudyData, load: LoadOptions): Promise<ImageSet> {
  const { images, samples } = await loadImages(data.test, load);
  return {
    key: `test-${data.key}`,
    height: images[0]?.height ?? 150,
    width: images[0]?.width ?? 150,
    data: packImages(images),
    labels: samples.map((s) => s.label),
    sources: samples.map((s) => s.file),
  };
}

/** What an attack is against: the study's model, bare or behind a pipeline (BPDA), or EOT over its draws. */
export interface AttackTarget {
  model: Classifier;
  /** The model's cache key (its training key and engine). */
  modelKey: string;
  defence?: { text: string; pipeline: Pipeline };
  /** EOT's draws per gradient (only with a defence). */
  eot?: number;
  seed: number;
}

/** The target's part of the cache key (the bare model's key, or it plus the pipeline and EOT's draws). */
export function targetKey(t: Pick<AttackTarget, 'modelKey' | 'eot'> & { defence?: { text: string } }): string {
  return `${t.modelKey}${t.defence ? `+${t.defence.text}` : ''}${t.eot ? `+eot${t.eot}` : ''}`;
}

/**
 * The target as a classifier whose draws start at gradient call `firstCall`: a batch's draws are then fixed by
 * its place in the attack (batch b starts at b × max_iter, PGD's calls per batch), not by what ran before it
 * here, so a resumed attack and a batch computed on another machine draw what the whole attack draws.
 */
export function targetClassifier(t: Pick<AttackTarget, 'model' | 'defence' | 'eot' | 'seed'>, firstCall: number): Classifier {
  if (!t.defence) return t.model;
  if (!t.eot) return new DefendedClassifier(t.model, t.defence.pipeline, t.seed, firstCall);
  return new ExpectationOverTransformation(new DefendedClassifier(t.model, t.defence.pipeline, t.seed), { nb_samples: t.eot }, firstCall);
}

/** One batch of an attack: a unit of work, the same here and on a queue's worker. */
export interface PgdBatch {
  /** The cache key of the batch (its iterates are stored under `${key}-it${i}`). */
  key: string;
  index: number;
  params: PgdParams;
  /** The iterations kept, ascending; the last is max_iter. */
  iterations: number[];
  images: Float32Array;
  shape: [number, number, number, number];
  labels: number[];
}

/** PGD on one batch against `target`; the iterates asked for, in `batch.iterations` order. */
export async function attackBatch(target: AttackTarget, batch: PgdBatch, onProgress?: (done: number, total: number) => void): Promise<Float32Array[]> {
  const { params, iterations } = batch;
  const kept = new Map<number, Float32Array>();
  const x = tf.tensor4d(batch.images, batch.shape);
  try {
    const attack = new ProjectedGradientDescent(params);
    const adv = await attack.generate(targetClassifier(target, batch.index * params.max_iter), x, batch.labels, {
      iterates: iterations.filter((it) => it !== params.max_iter),
      onIteration: async (it, a) => {
        kept.set(it, (await a.data()) as Float32Array);
      },
      onProgress,
    });
    kept.set(params.max_iter, (await adv.data()) as Float32Array);
    adv.dispose();
  } finally {
    x.dispose();
  }
  return iterations.map((it) => kept.get(it)!);
}

/**
 * Where an attack's batches are computed: here, one after the other (the default), or on a queue's workers,
 * all at once (src/queue). Either way a finished batch is stored in the cache at once.
 */
export interface BatchRunner {
  readonly parallel: boolean;
  run(target: AttackTarget, batch: PgdBatch, onProgress?: (done: number, total: number) => void): Promise<Float32Array[]>;
  /** A queue's: the runner of attack chunks (attacks/chunk.ts) against the same model behind `target`'s pipeline. */
  chunks?(target: ChunkTarget): ChunkRunner;
  /** A queue's: the runner of evaluation batches (models/evaluate.ts) against the same model behind a pipeline (its text) with a seed. */
  evaluations?(target: { defence?: string; seed: number }): EvalRunner;
}

/** What a chunk runner attacks besides its model: a pipeline (its text), EOT's draws, the seed. */
export interface ChunkTarget {
  defence?: string;
  eot?: number;
  seed: number;
}

export const LOCAL_RUNNER: BatchRunner = { parallel: false, run: attackBatch };

export interface AttackRequest {
  target: AttackTarget;
  params: PgdParams;
  /** Iterations whose iterates to keep besides the last. */
  snapshots?: readonly number[];
  step: string;
  runner?: BatchRunner;
}

/**
 * PGD on `clean`, batch by batch, every finished batch (and its snapshots) stored at once. Returns one image
 * set per kept iteration (the last one under `params.max_iter`).
 */
export async function adversarialSets(cache: StepCache, clean: ImageSet, req: AttackRequest, onProgress?: StepProgress): Promise<Map<number, ImageSet>> {
  const { params } = req;
  const runner = req.runner ?? LOCAL_RUNNER;
  const iterations = [...new Set([...(req.snapshots ?? []), params.max_iter])].sort((a, b) => a - b);
  const base = attackKey(cache, clean, req);
  const size = imageSize(clean);
  const n = setLength(clean);
  const out = new Map(iterations.map((it) => [it, new Float32Array(n * size)]));
  const batches = Math.ceil(n / params.batch_size);
  const total = batches * params.max_iter;
  const progress = new Array<number>(batches).fill(0);
  const report = (b: number, done: number) => {
    progress[b] = done;
    onProgress?.(req.step, progress.reduce((s, v) => s + v, 0), total);
  };
  const one = async (b: number): Promise<void> => {
    const start = b * params.batch_size;
    const count = Math.min(params.batch_size, n - start);
    const keyOf = (it: number) => `${base}-b${b}-it${it}`;
    let kept: Float32Array[];
    // The last iterate is written last: its presence means the batch is complete.
    if (await cache.hasFloats(keyOf(params.max_iter))) {
      kept = [];
      for (const it of iterations) kept.push(await storedFloats(cache, keyOf(it), count * size));
    } else {
      const batch: PgdBatch = {
        key: `${base}-b${b}`,
        index: b,
        params,
        iterations,
        images: clean.data.slice(start * size, (start + count) * size),
        shape: [count, clean.height, clean.width, CHANNELS],
        labels: clean.labels.slice(start, start + count),
      };
      kept = await runner.run(req.target, batch, (d, t) => report(b, (d / t) * params.max_iter));
      for (const [i, it] of iterations.entries()) await cache.putFloats(keyOf(it), kept[i]);
    }
    for (const [i, it] of iterations.entries()) out.get(it)!.set(kept[i], start * size);
    report(b, params.max_iter);
  };
  const indices = [...Array(batches).keys()];
  if (runner.parallel) await Promise.all(indices.map(one));
  else for (const b of indices) await one(b);
  return new Map(iterations.map((it) => [it, { ...clean, key: `${base}-it${it}`, data: out.get(it)! }]));
}

/** The cache key of an attack on `clean` (its batches' iterates are stored under `${key}-b${b}-it${it}`). */
function attackKey(cache: StepCache, clean: ImageSet, req: Pick<AttackRequest, 'target' | 'params'>): string {
  return cache.key('pgd', { target: targetKey(req.target), set: clean.key, params: req.params });
}

function storedFloats(cache: StepCache, key: string, length: number): Promise<Float32Array> {
  return cache.floats(key, () => Promise.reject(new Error(`study cache: ${key} vanished`)), length);
}

/**
 * Iterate `iteration` of an attack adversarialSets has finished (kept as a snapshot or the last), read back
 * from the cache: the same set adversarialSets returned, for steps that want one set at a time rather than
 * every set of the attack resident.
 */
export async function storedSet(cache: StepCache, clean: ImageSet, req: Pick<AttackRequest, 'target' | 'params'>, iteration: number): Promise<ImageSet> {
  const base = attackKey(cache, clean, req);
  const size = imageSize(clean);
  const n = setLength(clean);
  const data = new Float32Array(n * size);
  for (let b = 0, start = 0; start < n; b++, start += req.params.batch_size) {
    const count = Math.min(req.params.batch_size, n - start);
    data.set(await storedFloats(cache, `${base}-b${b}-it${iteration}`, count * size), start * size);
  }
  return { ...clean, key: `${base}-it${iteration}`, data };
}

/** |δ|∞ per image between two sets of the same images. */
export function linfDistances(a: ImageSet, b: ImageSet): number[] {
  const size = imageSize(a);
  return a.labels.map((_, i) => {
    let m = 0;
    for (let j = i * size; j < (i + 1) * size; j++) m = Math.max(m, Math.abs(a.data[j] - b.data[j]));
    return m;
  });
}

