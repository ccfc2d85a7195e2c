/**
 * Transfer learning as in the seed paper: the backbone stays frozen, so its pooled features are computed once
 * (plus horizontally mirrored copies as augmentation) and the head is trained on them with SGD, batch size 1 by
 * default, early stopping on a validation part of the training split (best weights restored).
 */
import * as tf from '@tensorflow/tfjs-core';
import { createRandom } from '../util/random.js';
import { loadFor, openBackbone, type Backbone, type BackboneSource } from './backbones.js';
import { readBatches, validationSplit, type LoadOptions, type Sample, type Skipped } from '../data/index.js';
import { FaceClassifier, newMeta, toBackboneSize } from './classifier.js';
import { DenseHead, featureStats, type HeadConfig } from './head.js';
import { DenseSgd } from './head-sgd.js';

export interface FeatureSet {
  /** Row-major [n, dim]. */
  features: Float32Array;
  labels: Int32Array;
}

/** Features per row of a set (0 for an empty one). */
function dimOf(set: FeatureSet): number {
  return set.labels.length ? set.features.length / set.labels.length : 0;
}

export interface TrainHeadOptions {
  hidden: number;
  dropout: number;
  learningRate: number;
  batchSize: number;
  maxEpochs: number;
  /** Epochs without a better validation loss before stopping. */
  patience: number;
  seed: number;
}

export const DEFAULT_TRAIN_HEAD: TrainHeadOptions = {
  hidden: 2048,
  dropout: 0.5,
  learningRate: 0.01,
  batchSize: 1,
  maxEpochs: 32,
  patience: 5,
  seed: 0,
};

export interface EpochRecord {
  epoch: number;
  loss: number;
  /** null when the validation part is empty (no early stopping). */
  val_loss: number | null;
  val_accuracy: number | null;
}

export interface TrainHeadResult {
  head: DenseHead;
  history: EpochRecord[];
  bestEpoch: number;
}

/** Pooled features of every image in `batches`, optionally followed by those of the mirrored images. */
export async function extractFeatures(
  backbone: Backbone,
  batches: AsyncIterable<{ x: tf.Tensor4D; labels: number[] }>,
  opts: { flip?: boolean; onBatch?: (done: number) => void } = {},
): Promise<FeatureSet> {
  const rows: Float32Array[] = [];
  const mirrored: Float32Array[] = [];
  const labels: number[] = [];
  for await (const { x, labels: y } of batches) {
    const xs = toBackboneSize(x, backbone.inputSize);
    const mirror = opts.flip ? tf.reverse(xs, 2) : undefined;
    const run = (v: tf.Tensor4D) => (backbone.inferFeatures ? backbone.inferFeatures(v) : Promise.resolve(backbone.features(v)));
    const views = [await run(xs), ...(mirror ? [await run(mirror)] : [])];
    tf.dispose([mirror, xs === x ? undefined : xs].filter((t): t is tf.Tensor4D => t !== undefined));
    rows.push((await views[0].data()) as Float32Array);
    if (views[1]) mirrored.push((await views[1].data()) as Float32Array);
    tf.dispose(views);
    labels.push(...y);
    opts.onBatch?.(labels.length);
  }
  const all = [...rows, ...mirrored];
  const features = new Float32Array(all.reduce((n, r) => n + r.length, 0));
  let off = 0;
  for (const r of all) {
    features.set(r, off);
    off += r.length;
  }
  return { features, labels: Int32Array.from(opts.flip ? [...labels, ...labels] : labels) };
}

function batchTensors(set: FeatureSet, idx: number[], classes: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const d = dimOf(set);
  const x = new Float32Array(idx.length * d);
  idx.forEach((r, i) => x.set(set.features.subarray(r * d, (r + 1) * d), i * d));
  return {
    x: tf.tensor2d(x, [idx.length, d]),
    y: tf.tidy(() => tf.oneHot(tf.tensor1d(idx.map((r) => set.labels[r]), 'int32'), classes).toFloat() as tf.Tensor2D),
  };
}

/** Mean cross-entropy and accuracy of `head` on a feature set (no dropout). */
export async function scoreHead(head: DenseHead, set: FeatureSet): Promise<{ loss: number; accuracy: number }> {
  const n = set.labels.length;
  const { x, y } = batchTensors(set, [...Array(n).keys()], head.config.classes);
  const [loss, correct] = tf.tidy(() => {
    const logits = head.logits(x);
    return [tf.losses.softmaxCrossEntropy(y, logits), tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(y, 1)), 'float32'))];
  });
  const out = { loss: (await loss.data())[0], accuracy: (await correct.data())[0] / n };
  tf.dispose([x, y, loss, correct]);
  return out;
}

/**
 * Train a new head on `train` (SGD, early stopping on `validation`'s loss, best epoch restored). The steps run
 * on typed arrays (head-sgd.ts); the head is created and returned as TF.js variables.
 */
export async function trainHead(
  train: FeatureSet,
  validation: FeatureSet,
  classes: number,
  opts: TrainHeadOptions,
  onEpoch?: (rec: EpochRecord) => void,
): Promise<TrainHeadResult> {
  const dim = dimOf(train);
  const config: HeadConfig = { inputDim: dim, hidden: opts.hidden, classes, dropout: opts.dropout };
  const head = DenseHead.create(config, featureStats(train.features, dim), opts.seed);
  try {
    const sgd = new DenseSgd(head);
    const trainZ = sgd.standardise(train);
    const valZ = sgd.standardise(validation);
    const rng = createRandom(opts.seed);
    const order = [...Array(train.labels.length).keys()];
    const history: EpochRecord[] = [];
    let best: { loss: number; epoch: number; weights: ReturnType<DenseSgd['snapshot']> } | undefined;
    for (let epoch = 1; epoch <= opts.maxEpochs; epoch++) {
      rng.shuffle(order);
      let lossSum = 0;
      for (let s = 0; s < order.length; s += opts.batchSize) {
        const rows = order.slice(s, s + opts.batchSize);
        lossSum += sgd.step(trainZ, rows, opts.learningRate, rng) * rows.length;
      }
      // Without validation images there is nothing to stop on: every epoch runs and the last one is kept.
      const val = valZ.labels.length > 0 ? sgd.score(valZ) : undefined;
      const rec = { epoch, loss: lossSum / order.length, val_loss: val?.loss ?? null, val_accuracy: val?.accuracy ?? null };
      history.push(rec);
      onEpoch?.(rec);
      if (!best || !val || val.loss < best.loss) best = { loss: val?.loss ?? Infinity, epoch, weights: sgd.snapshot() };
      else if (epoch - best.epoch >= opts.patience) break;
      // Let timers and I/O (progress bars, a server's requests) run between epochs.
      await new Promise((resolve) => setImmediate(resolve));
    }
    sgd.writeTo(head, best!.weights);
    return { head, history, bestEpoch: best!.epoch };
  } catch (err) {
    head.dispose();
    throw err;
  }
}

/** Options of `trainClassifier`: the head's and SGD's, the validation split. */
export interface TrainClassifierOptions extends TrainHeadOptions {
  /** Add mirrored copies of the training images' features. */
  flip: boolean;
  /** Part of the training split held out (stratified) for early stopping. */
  validationFraction: number;
  /** Images per backbone batch while extracting features. */
  featureBatch: number;
  load: LoadOptions;
  /** The frozen network (default: the built-in one). */
  backbone?: BackboneSource;
}

/**
 * The head-training defaults (the paper's: Dense 2048, dropout 0.5, SGD 0.01).
 *
 * @example
 * ```ts
 * import { DEFAULT_TRAIN_CLASSIFIER } from 'robustify';
 * console.log(DEFAULT_TRAIN_CLASSIFIER.hidden, DEFAULT_TRAIN_CLASSIFIER.learningRate); // what {@link trainClassifier} starts from
 * ```
 */
export const DEFAULT_TRAIN_CLASSIFIER: TrainClassifierOptions = {
  ...DEFAULT_TRAIN_HEAD,
  flip: true,
  validationFraction: 0.1,
  featureBatch: 32,
  load: {},
};

export interface TrainProgress {
  phase: 'features' | 'epoch';
  done: number;
  total: number;
  epoch?: EpochRecord;
}

/**
 * Extract features of `train`, train the head with early stopping, and return the classifier.
 *
 * @example
 * ```ts no-run
 * import { initEngine, listDataset, selectTopK, splitDataset, trainClassifier, DEFAULT_TRAIN_CLASSIFIER } from 'robustify';
 * await initEngine();
 * const selection = selectTopK(await listDataset('data/faces'), 5); // the 5 identities with most images
 * const { train } = splitDataset(selection.samples);
 * const { classifier, bestEpoch } = await trainClassifier(train, selection.identities, { ...DEFAULT_TRAIN_CLASSIFIER, maxEpochs: 20 });
 * console.log(classifier.classes, bestEpoch);
 * ```
 */
export async function trainClassifier(
  train: readonly Sample[],
  identities: string[],
  opts: TrainClassifierOptions,
  onProgress?: (p: TrainProgress) => void,
): Promise<{ classifier: FaceClassifier; history: EpochRecord[]; bestEpoch: number; skipped: Skipped[]; warnings: string[] }> {
  // tfjs would only say "Error in oneHot: depth must be >=2".
  if (identities.length < 2) throw new Error(`trainClassifier: identities must number at least 2 (a classifier needs two classes), got ${identities.length}`);
  const parts = validationSplit(train, opts.validationFraction, opts.seed);
  const warnings: string[] = [];
  if (parts.validation.length === 0) {
    warnings.push(
      `validation: validationFraction ${opts.validationFraction} of ${train.length} training images holds out 0 ` +
        `(each identity keeps at least one training image): no early stopping, the last of ${opts.maxEpochs} epochs is kept`,
    );
  }
  const source = opts.backbone ?? { kind: 'builtin' };
  const backbone = await openBackbone(source);
  const load = { ...opts.load, ...loadFor(backbone) };
  try {
    const skipped: Skipped[] = [];
    let done = 0;
    const features = async (samples: Sample[], flip: boolean) =>
      extractFeatures(backbone, readBatches(samples, opts.featureBatch, load, skipped), {
        flip,
        onBatch: (n) => onProgress?.({ phase: 'features', done: done + n, total: train.length }),
      }).then((set) => {
        done += samples.length;
        return set;
      });
    const trainSet = await features(parts.train, opts.flip);
    const valSet = await features(parts.validation, false);
    const { head, history, bestEpoch } = await trainHead(trainSet, valSet, identities.length, opts, (epoch) =>
      onProgress?.({ phase: 'epoch', done: epoch.epoch, total: opts.maxEpochs, epoch }),
    );
    const meta = newMeta(identities, { hidden: opts.hidden, dropout: opts.dropout }, backbone, source);
    meta.training = {
      optimizer: 'sgd',
      learning_rate: opts.learningRate,
      batch_size: opts.batchSize,
      max_epochs: opts.maxEpochs,
      patience: opts.patience,
      epochs_run: history.length,
      best_epoch: bestEpoch,
      seed: opts.seed,
      augment: opts.flip ? ['hflip'] : [],
      validation_fraction: opts.validationFraction,
      train_samples: parts.train.length - skipped.length,
      validation_samples: parts.validation.length,
      chip: opts.load.chip ?? 'auto',
      history,
      ...(warnings.length > 0 ? { warnings } : {}),
    };
    return { classifier: new FaceClassifier(backbone, head, meta), history, bestEpoch, skipped, warnings };
  } catch (err) {
    backbone.dispose();
    throw err;
  }
}
