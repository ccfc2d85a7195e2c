/** Running a classifier over labelled batches and scoring it the scikit-learn way. */
import * as tf from '@tensorflow/tfjs-core';
import { classificationReport, uniqueLabels, type ClassificationReport } from '../metrics/index.js';
import { predictLabels, type Classifier } from './classifier.js';
import { DefendedClassifier } from './defended.js';
import { majority, predictDraws } from './draws.js';

/** Predicted and true labels of a set. */
export interface Predictions {
  yTrue: number[];
  yPred: number[];
}

/**
 * Predict every batch (each batch's tensor stays the source's to dispose).
 *
 * @example
 * ```ts
 * import { tf, initEngine, classifierFromLogits, predictAll, reportFor, formatReport } from 'robustify';
 * await initEngine();
 * const model = classifierFromLogits(2, (x) => tf.slice(tf.mean(x, [1, 2]), [0, 0], [-1, 2]) as tf.Tensor2D);
 * async function* source() {
 *   yield { x: tf.stack([tf.fill([8, 8, 3], 10), tf.fill([8, 8, 3], 200)]) as tf.Tensor4D, labels: [0, 1] };
 * }
 * console.log(formatReport(reportFor(await predictAll(model, source()), ['alice', 'bob'])));
 * ```
 */
export async function predictAll(
  model: Classifier,
  source: AsyncIterable<{ x: tf.Tensor4D; labels: number[] }>,
  onBatch?: (done: number) => void,
): Promise<Predictions> {
  const out: Predictions = { yTrue: [], yPred: [] };
  for await (const { x, labels } of source) {
    out.yPred.push(...(await predictLabels(model, x)));
    out.yTrue.push(...labels);
    onBatch?.(out.yTrue.length);
  }
  return out;
}

/**
 * sklearn's report with rows named by identity (rows: labels seen in y_true or y_pred, as sklearn does).
 *
 * @example
 * ```ts
 * import { reportFor, formatReport } from 'robustify';
 * console.log(formatReport(reportFor({ yTrue: [0, 1, 1], yPred: [0, 1, 0] }, ['alice', 'bob']))); // as from {@link predictAll}
 * ```
 */
export function reportFor(p: Predictions, identities: readonly string[]): ClassificationReport {
  const labels = uniqueLabels(p.yTrue, p.yPred);
  return classificationReport(p.yTrue, p.yPred, { labels, targetNames: labels.map((l) => identities[l] ?? String(l)) });
}

/** One batch of an evaluation (NHWC float32 0–255) and its place in the run. */
export interface EvalBatch {
  index: number;
  images: Float32Array;
  shape: [number, number, number, number];
  labels: number[];
}

/** What a batch gives: the predicted labels, and with draws each image's label under every draw. */
export interface EvaluatedBatch {
  predictions: number[];
  votes?: number[][];
}

/**
 * Where evaluation batches are computed: here, one after the other, or a queue's workers, several at once
 * (`parallel`); either way the result is `evaluateBatch`'s.
 */
export interface EvalRunner {
  readonly parallel: boolean;
  run(batch: EvalBatch): Promise<EvaluatedBatch>;
}

/**
 * One batch of `robustify evaluate`, the same here and on a queue's worker: the classifier's labels, or with
 * `draws` the labels under each draw of its defences (the majority vote is taken over the whole set). A
 * defended classifier's draws depend only on its seed and the batch (defences/applier.ts), never on the
 * batches before it, so a batch is a unit of work by itself.
 */
export async function evaluateBatch(classifier: Classifier, x: tf.Tensor4D, draws?: number): Promise<EvaluatedBatch> {
  if (draws === undefined) return { predictions: await predictLabels(classifier, x) };
  if (!(classifier instanceof DefendedClassifier)) throw new Error('evaluate: draws need a defended classifier (a defence pipeline in front of the model)');
  const votes = await predictDraws(classifier, x, draws);
  return { predictions: votes.map((v) => majority(v)), votes };
}

/** The batches of an evaluation against `classifier`, computed here. */
export function localEvaluation(classifier: Classifier, draws?: number): EvalRunner {
  return {
    parallel: false,
    run: async (batch) => {
      const x = tf.tensor4d(batch.images, batch.shape);
      try {
        return await evaluateBatch(classifier, x, draws);
      } finally {
        x.dispose();
      }
    },
  };
}
