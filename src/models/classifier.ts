/**
 * The face classifier: frozen backbone → trained head. One differentiable function from an NHWC 0–255 batch
 * to logits, so attacks can take its input gradient; saved as a directory (model.json + head weights).
 */
import * as tf from '@tensorflow/tfjs-core';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BACKBONE_INPUT_SIZE, BACKBONE_NAME, POOLED_DIM } from './backbone.js';
import { openBackbone, type Backbone, type BackboneSource } from './backbones.js';
import { DenseHead, type HeadConfig } from './head.js';
import { loadWeightsManifest, saveWeightsManifest } from './weights.js';
import { hasFormat } from '../util/fs.js';
import type { OutputKind } from '../util/output.js';
import { ParameterError, param } from '../util/errors.js';

export const MODEL_FORMAT = 'robustify-classifier';

/** A classifier folder robustify saved: its model.json says so. */
export const MODEL_OUTPUT: OutputKind = { what: 'a classifier saved by robustify train', owns: (dir) => hasFormat(path.join(dir, 'model.json'), MODEL_FORMAT) };
const HEAD_WEIGHTS = 'head';

/** What model.json records besides the weights. */
export interface ClassifierMeta {
  format: typeof MODEL_FORMAT;
  version: 1;
  backbone: string;
  /** How to reopen the backbone (absent in classifiers saved before user backbones: the built-in one). */
  backbone_source?: BackboneSource;
  input_size: number;
  identities: string[];
  head: HeadConfig;
  training?: Record<string, unknown>;
  clean_scores?: Record<string, unknown>;
}

/** Anything that maps an NHWC 0–255 batch to logits and gives the loss gradient w.r.t. its input (ART's
 *  classifier interface: `predict`, `loss_gradient`) — the bare model, or a defended one. */
export interface Classifier {
  readonly classes: number;
  /** Logits for a batch (async: defences in front of the model may be). Caller disposes. */
  predict(x: tf.Tensor4D): Promise<tf.Tensor2D>;
  /**
   * Gradient of the summed cross-entropy of the logits against `labels` w.r.t. x. Caller disposes. `labels`:
   * class indices, or (as ART's one-hot `y`) a [N, classes] matrix of label weights, each row summing to 1 —
   * which lets attacks take the gradient of other losses of the logits (see attacks/loss.ts).
   */
  lossGradient(x: tf.Tensor4D, labels: Labels): Promise<tf.Tensor4D>;
  /**
   * Optional: PGD's inner loop run on the classifier's own engine (the iterate never leaves it), or undefined
   * where it cannot (then attacks take lossGradient step by step). Resolves to the last iterate; caller disposes.
   */
  pgdIterations?(loop: PgdLoop): Promise<tf.Tensor4D> | undefined;
  /**
   * Optional: the logits at x and `lossGradient(x, labels)` from one pass (what predict then lossGradient give,
   * within float rounding), for attacks whose loss weights do not depend on the logits (untargeted
   * cross-entropy: APGD-CE). Caller disposes both.
   */
  logitsAndGradient?(x: tf.Tensor4D, labels: Labels): Promise<{ logits: tf.Tensor2D; grad: tf.Tensor4D }>;
}

/** What `Classifier.pgdIterations` runs: `iterations` PGD steps (ART semantics, see attacks/pgd.ts) from `start`. */
export interface PgdLoop {
  /** The clean batch (centre of the eps-ball). */
  x0: tf.Tensor4D;
  start: tf.Tensor4D;
  labels: readonly number[];
  norm: 'inf' | 2;
  eps: number;
  eps_step: number;
  targeted: boolean;
  iterations: number;
  /** After every iteration; `iterate()` reads the current iterate as a new tensor (the caller disposes it). */
  onIteration?: (iteration: number, iterate: () => Promise<tf.Tensor4D>) => void | Promise<void>;
}

/** Class indices [N], or label weights [N, classes] with rows summing to 1. */
export type Labels = tf.Tensor1D | tf.Tensor2D;

/** `labels` as [N, classes] weights. */
export function labelWeights(labels: Labels, classes: number): tf.Tensor2D {
  return tf.tidy(() => (labels.rank === 1 ? tf.oneHot(tf.cast(labels, 'int32'), classes).toFloat() : tf.cast(labels, 'float32')) as tf.Tensor2D);
}

/** Summed softmax cross-entropy of logits against labels (indices or row weights). */
export function crossEntropy(logits: tf.Tensor2D, labels: Labels): tf.Scalar {
  return tf.tidy(() => tf.neg(tf.sum(tf.mul(labelWeights(labels, logits.shape[1]), tf.logSoftmax(logits)))) as tf.Scalar);
}

/**
 * The summed cross-entropy gradient of a differentiable logits function at x.
 *
 * @example
 * ```ts
 * import { tf, initEngine, logitsLossGradient } from 'robustify';
 * await initEngine();
 * const logits = (x: tf.Tensor4D) => tf.slice(tf.mean(x, [1, 2]), [0, 0], [-1, 2]) as tf.Tensor2D;
 * const x = tf.randomUniform([2, 8, 8, 3], 0, 255, 'float32', 1) as tf.Tensor4D;
 * console.log(logitsLossGradient(logits, x, tf.tensor1d([0, 1], 'int32')).shape); // [2, 8, 8, 3]
 * ```
 */
export function logitsLossGradient(logits: (x: tf.Tensor4D) => tf.Tensor2D, x: tf.Tensor4D, labels: Labels): tf.Tensor4D {
  return tf.tidy(() => tf.grad((xi: tf.Tensor) => crossEntropy(logits(xi as tf.Tensor4D), labels))(x) as tf.Tensor4D);
}

/**
 * A `Classifier` from a differentiable TF.js logits function (your own model): `predict` is the function,
 * `lossGradient` its cross-entropy gradient by autodiff. The function must not dispose its input.
 *
 * @example
 * ```ts
 * import { tf, initEngine, classifierFromLogits, predictLabels } from 'robustify';
 * await initEngine();
 * const w = tf.randomNormal([12 * 12 * 3, 3], 0, 0.01, 'float32', 1);
 * const model = classifierFromLogits(3, (x) => tf.matMul(tf.reshape(tf.div(x, 255), [x.shape[0], -1]), w) as tf.Tensor2D);
 * console.log(await predictLabels(model, tf.fill([2, 12, 12, 3], 100) as tf.Tensor4D));
 * ```
 */
export function classifierFromLogits(classes: number, logits: (x: tf.Tensor4D) => tf.Tensor2D): Classifier {
  return {
    classes,
    predict: async (x) => tf.tidy(() => logits(x)),
    lossGradient: async (x, labels) => logitsLossGradient(logits, x, labels),
  };
}

/**
 * The trained face classifier: the frozen backbone and the head `robustify train` fitted on its features.
 *
 * @example
 * ```ts no-run
 * import { tf, initEngine, FaceClassifier, predictLabels } from 'robustify';
 * await initEngine();
 * const model = await FaceClassifier.load('models/faces14'); // a folder `robustify train` wrote
 * console.log(model.identities, await predictLabels(model, tf.zeros([1, 150, 150, 3]) as tf.Tensor4D));
 * ```
 */
export class FaceClassifier implements Classifier {
  constructor(
    readonly backbone: Backbone,
    readonly head: DenseHead,
    readonly meta: ClassifierMeta,
  ) {}

  get classes(): number {
    return this.meta.identities.length;
  }

  get identities(): string[] {
    return this.meta.identities;
  }

  /** Logits for a batch of any size; inputs other than the backbone's are resized bilinearly (differentiable). */
  logits(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.head.logits(this.backbone.features(toBackboneSize(x, this.backbone.inputSize))));
  }

  async predict(x: tf.Tensor4D): Promise<tf.Tensor2D> {
    return this.logits(x);
  }

  async lossGradient(x: tf.Tensor4D, labels: Labels): Promise<tf.Tensor4D> {
    return logitsLossGradient((xi) => this.logits(xi), x, labels);
  }

  /** `backbone` replaces the recorded backbone source (e.g. the model file moved); it must be the same network. */
  static async load(dir: string, backbone?: BackboneSource): Promise<FaceClassifier> {
    const metaFile = path.join(dir, 'model.json');
    let meta: ClassifierMeta;
    try {
      meta = JSON.parse(await fs.readFile(metaFile, 'utf8')) as ClassifierMeta;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw e.code === 'ENOENT' ? ParameterError.of`${param('model')}: no model at '${dir}' (missing model.json)` : ParameterError.of`${param('model')}: cannot read '${metaFile}': ${e.message}`;
    }
    checkMeta(meta, metaFile);
    const source = backbone ?? meta.backbone_source ?? { kind: 'builtin' };
    if (source.kind === 'builtin') checkBuiltinMeta(meta, metaFile);
    const net = await openBackbone(source);
    const weights = await loadWeightsManifest(path.join(dir, `${HEAD_WEIGHTS}-weights_manifest.json`)).catch((err) => {
      net.dispose();
      throw err;
    });
    try {
      if (net.name !== meta.backbone || net.featureDim !== meta.head.inputDim || net.inputSize !== meta.input_size) {
        throw ParameterError.of`${param('model')}: '${metaFile}' was trained on backbone '${meta.backbone}' (${meta.head.inputDim}-d, ${meta.input_size} px), not '${net.name}' (${net.featureDim}-d, ${net.inputSize} px)`;
      }
      return new FaceClassifier(net, DenseHead.fromTensors(meta.head, weights), meta);
    } catch (err) {
      net.dispose();
      throw err;
    } finally {
      tf.dispose(weights);
    }
  }

  /** Write model.json and the head weights into `dir` (an existing, empty directory). */
  async saveTo(dir: string): Promise<void> {
    const weights = this.head.snapshot();
    try {
      await saveWeightsManifest(dir, HEAD_WEIGHTS, weights);
    } finally {
      tf.dispose(weights);
    }
    await fs.writeFile(path.join(dir, 'model.json'), JSON.stringify(this.meta, null, 2) + '\n');
  }

  /** Release the head and the backbone. */
  dispose(): void {
    this.head.dispose();
    this.backbone.dispose();
  }
}

/** model.json must be a classifier of a version and shape this code reads; errors name the file. */
function checkMeta(meta: ClassifierMeta, file: string): void {
  const bad = (why: string) => ParameterError.of`${param('model')}: '${file}' ${why}`;
  if (!meta || typeof meta !== 'object' || meta.format !== MODEL_FORMAT) {
    const other = meta && typeof meta === 'object' && 'config' in meta ? ' (it looks like BMCNN denoiser weights)' : '';
    throw bad(`is not a robustify classifier${other}`);
  }
  if (meta.version !== 1) throw bad(`has format version ${JSON.stringify(meta.version)}; this robustify reads version 1`);
  if (!Number.isInteger(meta.input_size) || meta.input_size < 1) throw bad(`has input_size ${JSON.stringify(meta.input_size)}, expected a positive integer`);
  const ids = meta.identities;
  if (!Array.isArray(ids) || ids.length < 2 || !ids.every((s) => typeof s === 'string') || new Set(ids).size !== ids.length) {
    throw bad('needs identities: at least 2 distinct names');
  }
  const h = meta.head;
  if (!h || !Number.isInteger(h.inputDim) || h.inputDim < 1 || h.classes !== ids.length || !Number.isInteger(h.hidden) || h.hidden < 1 || !(h.dropout >= 0 && h.dropout < 1)) {
    throw bad(`has head ${JSON.stringify(h)}; expected inputDim ≥ 1, classes ${ids.length} (one per identity), hidden ≥ 1, dropout in [0, 1)`);
  }
}

/** On the built-in backbone, model.json must name it and match its input and feature sizes. */
function checkBuiltinMeta(meta: ClassifierMeta, file: string): void {
  const bad = (why: string) => ParameterError.of`${param('model')}: '${file}' ${why}`;
  if (meta.backbone !== BACKBONE_NAME) throw bad(`has backbone '${meta.backbone}', not supported (this version has '${BACKBONE_NAME}')`);
  if (meta.input_size !== BACKBONE_INPUT_SIZE) throw bad(`has input_size ${JSON.stringify(meta.input_size)}, expected ${BACKBONE_INPUT_SIZE}`);
  if (meta.head.inputDim !== POOLED_DIM) throw bad(`has head ${JSON.stringify(meta.head)}; expected inputDim ${POOLED_DIM}`);
}

const BUILTIN_INFO = { name: BACKBONE_NAME, inputSize: BACKBONE_INPUT_SIZE, featureDim: POOLED_DIM };

export function newMeta(
  identities: string[],
  head: Omit<HeadConfig, 'inputDim' | 'classes'>,
  backbone: Pick<Backbone, 'name' | 'inputSize' | 'featureDim'> = BUILTIN_INFO,
  source: BackboneSource = { kind: 'builtin' },
): ClassifierMeta {
  return {
    format: MODEL_FORMAT,
    version: 1,
    backbone: backbone.name,
    ...(source.kind === 'file' ? { backbone_source: { ...source, path: path.resolve(source.path) } } : {}),
    input_size: backbone.inputSize,
    identities,
    head: { inputDim: backbone.featureDim, classes: identities.length, ...head },
  };
}

/** `x` resized bilinearly (differentiably) to size×size, or `x` itself when it already is. */
export function toBackboneSize(x: tf.Tensor4D, size = BACKBONE_INPUT_SIZE): tf.Tensor4D {
  const [, h, w] = x.shape;
  if (h === size && w === size) return x;
  return tf.image.resizeBilinear(x, [size, size], false, true);
}

/** Predicted labels for a batch (argmax of the logits); see {@link classifierFromLogits}'s example. */
export async function predictLabels(model: Classifier, x: tf.Tensor4D): Promise<number[]> {
  const logits = await model.predict(x);
  const pred = tf.argMax(logits, 1);
  logits.dispose();
  try {
    return Array.from(await pred.data());
  } finally {
    pred.dispose();
  }
}
