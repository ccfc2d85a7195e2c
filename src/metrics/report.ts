/**
 * scikit-learn 1.2's `classification_report`, `balanced_accuracy_score` and `confusion_matrix`, with
 * zero_division = 0. Arithmetic follows sklearn/NumPy operation by operation (F1 = 2·P·R / (P + R), NumPy's
 * pairwise summation for means), so values agree to the last bit, not just to the printed digits.
 */
import { npAverage, npMean } from './numpy.js';

/** Precision, recall, f1 and support of one class. */
export interface ClassMetrics {
  label: number;
  name: string;
  precision: number;
  recall: number;
  f1: number;
  /** Number of true samples of the class. */
  support: number;
}

/** Averaged precision, recall, f1 and support (sklearn's macro / weighted avg rows). */
export interface AverageMetrics {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/** sklearn's classification_report as data: per class, accuracy, macro and weighted averages. */
export interface ClassificationReport {
  per_class: ClassMetrics[];
  macro_avg: AverageMetrics;
  weighted_avg: AverageMetrics;
  /** Pooled over the report's labels; equals accuracy when the labels cover every label seen. */
  micro_avg: AverageMetrics;
  /** Fraction of samples predicted correctly (all samples, whatever `labels` says). */
  accuracy: number;
  /** Mean recall over the classes present in y_true. */
  balanced_accuracy: number;
  /** Whether sklearn prints the micro average as its "accuracy" row (labels not given, or the exact label set). */
  micro_is_accuracy: boolean;
}

export interface ReportOptions {
  /** Rows to report, in this order (default: sorted union of the labels in y_true and y_pred). */
  labels?: number[];
  /** Display names for the rows, same order as the labels. */
  targetNames?: string[];
}

function checkVectors(yTrue: readonly number[], yPred: readonly number[]): void {
  if (yTrue.length !== yPred.length) {
    throw new Error(`y_true has ${yTrue.length} labels but y_pred has ${yPred.length}`);
  }
  if (yTrue.length === 0) throw new Error('y_true and y_pred are empty');
  for (const [name, y] of [['y_true', yTrue], ['y_pred', yPred]] as const) {
    const bad = y.findIndex((v) => !Number.isInteger(v));
    if (bad >= 0) throw new Error(`${name}[${bad}] = ${y[bad]} is not an integer class label`);
  }
}

/** The sorted union of the labels in y_true and y_pred (sklearn's `unique_labels`). */
export function uniqueLabels(yTrue: readonly number[], yPred: readonly number[]): number[] {
  return [...new Set([...yTrue, ...yPred])].sort((a, b) => a - b);
}

function resolveLabels(yTrue: readonly number[], yPred: readonly number[], labels?: readonly number[]): number[] {
  if (labels === undefined) return uniqueLabels(yTrue, yPred);
  if (labels.length === 0) throw new Error('labels: empty list');
  if (new Set(labels).size !== labels.length) throw new Error(`labels: duplicates in [${labels.join(', ')}]`);
  return [...labels];
}

export interface ConfusionMatrix {
  labels: number[];
  /** matrix[i][j] = samples of true label labels[i] predicted as labels[j]. */
  matrix: number[][];
}

/** sklearn's `confusion_matrix`: rows are true labels, columns predictions; samples outside `labels` are left out. */
export function confusionMatrix(yTrue: readonly number[], yPred: readonly number[], labels?: readonly number[]): ConfusionMatrix {
  checkVectors(yTrue, yPred);
  const rows = resolveLabels(yTrue, yPred, labels);
  const index = new Map(rows.map((l, i) => [l, i]));
  const matrix = rows.map(() => new Array<number>(rows.length).fill(0));
  for (let k = 0; k < yTrue.length; k++) {
    const i = index.get(yTrue[k]);
    const j = index.get(yPred[k]);
    if (i !== undefined && j !== undefined) matrix[i][j]++;
  }
  return { labels: rows, matrix };
}

/** TP / (TP + FP) style ratio with sklearn's zero_division = 0. */
function ratio(num: number, den: number): number {
  return den === 0 ? 0 : num / den;
}

function fScore(p: number, r: number): number {
  const denom = p + r;
  return denom === 0 ? 0 : (2 * p * r) / denom;
}

/**
 * sklearn's `accuracy_score`.
 *
 * @example
 * ```ts
 * import { accuracyScore } from 'robustify';
 * console.log(accuracyScore([0, 1, 1, 2], [0, 1, 0, 2])); // 0.75
 * ```
 */
export function accuracyScore(yTrue: readonly number[], yPred: readonly number[]): number {
  checkVectors(yTrue, yPred);
  let correct = 0;
  for (let k = 0; k < yTrue.length; k++) if (yTrue[k] === yPred[k]) correct++;
  return correct / yTrue.length;
}

/**
 * sklearn's `balanced_accuracy_score` (adjusted = false): mean recall over the classes present in y_true.
 *
 * @example
 * ```ts
 * import { balancedAccuracyScore } from 'robustify';
 * console.log(balancedAccuracyScore([0, 0, 0, 1], [0, 0, 0, 0])); // 0.5: the mean of per-class recalls
 * ```
 */
export function balancedAccuracyScore(yTrue: readonly number[], yPred: readonly number[]): number {
  const { matrix } = confusionMatrix(yTrue, yPred);
  const recalls: number[] = [];
  matrix.forEach((row, i) => {
    const total = row.reduce((s, v) => s + v, 0);
    // Classes only ever predicted have no true samples: sklearn drops their NaN recall.
    if (total > 0) recalls.push(row[i] / total);
  });
  return npMean(recalls);
}

/**
 * sklearn 1.2's `classification_report(..., output_dict=True, zero_division=0)` plus balanced accuracy.
 *
 * @example
 * ```ts
 * import { classificationReport, formatReport } from 'robustify';
 * const report = classificationReport([0, 0, 1, 1, 2], [0, 1, 1, 1, 2], { targetNames: ['alice', 'bob', 'carol'] });
 * console.log(report.accuracy, formatReport(report)); // 0.8, and sklearn's text table
 * ```
 */
export function classificationReport(yTrue: readonly number[], yPred: readonly number[], opts: ReportOptions = {}): ClassificationReport {
  checkVectors(yTrue, yPred);
  const labels = resolveLabels(yTrue, yPred, opts.labels);
  const names = opts.targetNames ?? labels.map(String);
  if (names.length !== labels.length) {
    throw new Error(`targetNames: ${names.length} names for ${labels.length} labels`);
  }
  const index = new Map(labels.map((l, i) => [l, i]));
  const tp = new Array<number>(labels.length).fill(0);
  const predicted = new Array<number>(labels.length).fill(0);
  const support = new Array<number>(labels.length).fill(0);
  for (let k = 0; k < yTrue.length; k++) {
    const t = index.get(yTrue[k]);
    const p = index.get(yPred[k]);
    if (t !== undefined) support[t]++;
    if (p !== undefined) predicted[p]++;
    if (t !== undefined && yTrue[k] === yPred[k]) tp[t]++;
  }
  const precision = labels.map((_, i) => ratio(tp[i], predicted[i]));
  const recall = labels.map((_, i) => ratio(tp[i], support[i]));
  const f1 = labels.map((_, i) => fScore(precision[i], recall[i]));
  const total = support.reduce((s, v) => s + v, 0);

  const sumTp = tp.reduce((s, v) => s + v, 0);
  const microP = ratio(sumTp, predicted.reduce((s, v) => s + v, 0));
  const microR = ratio(sumTp, total);
  // sklearn returns zero_division for every weighted figure when no row has support.
  const weighted = (v: number[]): number => (total === 0 ? 0 : npAverage(v, support));

  const seen = uniqueLabels(yTrue, yPred);
  return {
    per_class: labels.map((label, i) => ({ label, name: names[i], precision: precision[i], recall: recall[i], f1: f1[i], support: support[i] })),
    macro_avg: { precision: npMean(precision), recall: npMean(recall), f1: npMean(f1), support: total },
    weighted_avg: { precision: weighted(precision), recall: weighted(recall), f1: weighted(f1), support: total },
    micro_avg: { precision: microP, recall: microR, f1: fScore(microP, microR), support: total },
    accuracy: accuracyScore(yTrue, yPred),
    balanced_accuracy: balancedAccuracyScore(yTrue, yPred),
    micro_is_accuracy: opts.labels === undefined || (labels.length === seen.length && seen.every((l) => index.has(l))),
  };
}
