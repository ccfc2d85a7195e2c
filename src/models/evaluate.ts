/** Running a classifier over labelled batches and scoring it the scikit-learn way. */
import * as tf from '@tensorflow/tfjs-core';
import { classificationReport, uniqueLabels, type ClassificationReport } from '../metrics/index.js';
import { predictLabels, type Classifier } from './classifier.js';

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
