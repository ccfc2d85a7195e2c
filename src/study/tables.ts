/**
 * The paper's Tables 2–10: which pipeline on which set, the paper's own caption and accuracy (for the
 * comparison column), and the table in the paper's printed layout (Label / Precision / Recall / f1-Score,
 * then the averages, accuracy and balanced accuracy as Python prints them).
 */
import { formatPipeline, parsePipeline } from '../defences/index.js';
import { formatFixed, formatRepr, type ClassificationReport } from '../metrics/index.js';
import type { StudyConfig } from './config.js';

/** The sets a table is computed on: all test images, the correctly classified ones, or their PGD versions. */
export type TableSet = 'test' | 'correct' | 'pgd';

export interface TableSpec {
  id: string;
  /** The paper's caption, with our pipeline text where it names one. */
  title: string;
  pipeline: string;
  set: TableSet;
  /** What the paper reports for it (its model, its data). */
  paper_accuracy: number;
}

const canonical = (p: string): string => formatPipeline(parsePipeline(p));

export function paperTables(c: StudyConfig): TableSpec[] {
  const pgd = `PGD eps = ${c.attack.eps}`;
  return [
    { id: 'table2', title: `Classifier performance on the test set containing the ${c.identities} most populated classes`, pipeline: 'none', set: 'test', paper_accuracy: 0.9693877551020408 },
    { id: 'table3', title: `The effects of ${pgd} on the performance of the classifier`, pipeline: 'none', set: 'pgd', paper_accuracy: 0.21052631578947367 },
    { id: 'table4', title: `JPEG compression (quality 20) on ${pgd} images`, pipeline: canonical('jpeg:20'), set: 'pgd', paper_accuracy: 0.9263157894736842 },
    { id: 'table5', title: `BMCNN (sigma 20) on ${pgd} images`, pipeline: canonical('bmcnn:20'), set: 'pgd', paper_accuracy: 0.9052631578947369 },
    { id: 'table6', title: `Spatial smoothing, JPEG, Gaussian augmentation, total variance minimisation and BMCNN on ${pgd} images`, pipeline: c.pipelines.table6, set: 'pgd', paper_accuracy: 0.3684210526315789 },
    { id: 'table7', title: `Spatial smoothing, JPEG, Gaussian augmentation and BMCNN (no TVM) on ${pgd} images`, pipeline: c.pipelines.table7, set: 'pgd', paper_accuracy: 0.9052631578947369 },
    { id: 'table8', title: `Spatial smoothing with JPEG compression on ${pgd} images`, pipeline: c.pipelines.table8, set: 'pgd', paper_accuracy: 0.9157894736842105 },
    { id: 'table9', title: `JPEG compression, Gaussian augmentation and BMCNN on ${pgd} images`, pipeline: c.pipelines.table9, set: 'pgd', paper_accuracy: 0.9263157894736842 },
    { id: 'table10', title: 'The best pipeline on the clean (correctly classified) test images', pipeline: c.pipelines.best, set: 'correct', paper_accuracy: 0.9368421052631579 },
  ];
}

/** The table as the paper prints it: tab-separated, two decimals, accuracy in Python's repr. */
export function paperLayout(r: ClassificationReport): string {
  const f = (x: number) => formatFixed(x, 2);
  const rows = [
    'Label\tPrecision\tRecall\tf1-Score',
    ...r.per_class.map((c) => `${c.name}\t${f(c.precision)}\t${f(c.recall)}\t${f(c.f1)}`),
    `macro avg\t${f(r.macro_avg.precision)}\t${f(r.macro_avg.recall)}\t${f(r.macro_avg.f1)}`,
    `weighted avg\t${f(r.weighted_avg.precision)}\t${f(r.weighted_avg.recall)}\t${f(r.weighted_avg.f1)}`,
    `accuracy\t${formatRepr(r.accuracy)}`,
    `balanced accuracy\t${formatRepr(r.balanced_accuracy)}`,
  ];
  return rows.join('\n') + '\n';
}

export const REPORT_COLUMNS = ['Label', 'Precision', 'Recall', 'f1-Score', 'Support'];

/** The same table as rows for Markdown / HTML: label, precision, recall, f1, support. */
export function reportRows(r: ClassificationReport): (string | number)[][] {
  const f = (x: number) => formatFixed(x, 2);
  return [
    ...r.per_class.map((c) => [c.name, f(c.precision), f(c.recall), f(c.f1), c.support]),
    ['macro avg', f(r.macro_avg.precision), f(r.macro_avg.recall), f(r.macro_avg.f1), r.macro_avg.support],
    ['weighted avg', f(r.weighted_avg.precision), f(r.weighted_avg.recall), f(r.weighted_avg.f1), r.weighted_avg.support],
    ['accuracy', '', '', formatRepr(r.accuracy), r.macro_avg.support],
    ['balanced accuracy', '', '', formatRepr(r.balanced_accuracy), r.macro_avg.support],
  ];
}
