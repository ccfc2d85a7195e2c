/**
 * The study's expensive steps, each cached (see cache.ts): hashing the data, training the head, loading the
 * test faces, and crafting adversarial sets batch by batch (a killed attack resumes at its first unfinished
 * batch, and the intermediate iterates it was asked for are kept, so one run gives a whole
 * accuracy-vs-iterations curve).
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { ProjectedGradientDescent, type PgdParams } from '../attacks/index.js';
import { loadImages, splitDataset, type LoadOptions, type Sample, type Selection } from '../data/index.js';
import { BUILTIN, type BackboneSource } from '../models/backbones.js';
import { FaceClassifier, type Classifier } from '../models/classifier.js';
import { DEFAULT_TRAIN_CLASSIFIER, trainClassifier, type TrainProgress } from '../models/train.js';
import type { StepCache } from './cache.js';
import type { StudyConfig } from './config.js';
import { batchOf, imageSize, packImages, setLength, type ImageSet } from './imageset.js';

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
): Promise<{ model: FaceClassifier; key: string }> {
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
  return { model: await FaceClassifier.load(dir), key };
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

export interface AttackRequest {
  /** What the attack is against, for the cache key (the bare model's key, or it plus a pipeline). */
  targetKey: string;
  target: Classifier;
  params: PgdParams;
  /** Iterations whose iterates to keep besides the last. */
  snapshots?: readonly number[];
  step: string;
}

/**
 * PGD on `clean`, batch by batch, every finished batch (and its snapshots) stored at once. Returns one image
 * set per kept iteration (the last one under `params.max_iter`).
 */
export async function adversarialSets(cache: StepCache, clean: ImageSet, req: AttackRequest, onProgress?: StepProgress): Promise<Map<number, ImageSet>> {
  const { params } = req;
  const iterations = [...new Set([...(req.snapshots ?? []), params.max_iter])].sort((a, b) => a - b);
  const base = cache.key('pgd', { target: req.targetKey, set: clean.key, params });
  const size = imageSize(clean);
  const n = setLength(clean);
  const out = new Map(iterations.map((it) => [it, new Float32Array(n * size)]));
  const attack = new ProjectedGradientDescent(params);
  const batches = Math.ceil(n / params.batch_size);
  for (let b = 0; b < batches; b++) {
    const start = b * params.batch_size;
    const count = Math.min(params.batch_size, n - start);
    const keyOf = (it: number) => `${base}-b${b}-it${it}`;
    const kept = new Map<number, Float32Array>();
    // The last iterate is written last: its presence means the batch is complete.
    if (await cache.hasFloats(keyOf(params.max_iter))) {
      for (const it of iterations) kept.set(it, await cache.floats(keyOf(it), () => Promise.reject(new Error(`study cache: ${keyOf(it)} vanished`)), count * size));
    } else {
      const x = batchOf(clean, start, count);
      try {
        const adv = await attack.generate(req.target, x, clean.labels.slice(start, start + count), {
          iterates: iterations.filter((it) => it !== params.max_iter),
          onIteration: async (it, a) => {
            kept.set(it, (await a.data()) as Float32Array);
          },
          onProgress: (d, t) => onProgress?.(req.step, b * params.max_iter + (d / t) * params.max_iter, batches * params.max_iter),
        });
        kept.set(params.max_iter, (await adv.data()) as Float32Array);
        adv.dispose();
      } finally {
        x.dispose();
      }
      for (const it of iterations) await cache.putFloats(keyOf(it), kept.get(it)!);
    }
    for (const it of iterations) out.get(it)!.set(kept.get(it)!, start * size);
    onProgress?.(req.step, (b + 1) * params.max_iter, batches * params.max_iter);
  }
  return new Map(iterations.map((it) => [it, { ...clean, key: `${base}-it${it}`, data: out.get(it)! }]));
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

