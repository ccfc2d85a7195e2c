/** Text renderings of a ClassificationReport. */
import { formatFixed, formatRepr } from './pyformat.js';
import type { AverageMetrics, ClassificationReport } from './report.js';

const HEADERS = ['precision', 'recall', 'f1-score', 'support'];

/** sklearn's layout: a right-aligned name column, then 9-wide columns separated by one extra space. */
function layout(report: ClassificationReport, digits: number) {
  if (!Number.isInteger(digits) || digits < 0) throw new Error(`digits: expected a non-negative integer, got ${digits}`);
  const width = Math.max(...report.per_class.map((c) => c.name.length), 'weighted avg'.length, digits);
  const cell = (v: string) => ` ${v.padStart(9)}`;
  const row = (name: string, m: AverageMetrics) =>
    `${name.padStart(width)} ${[m.precision, m.recall, m.f1].map((v) => cell(formatFixed(v, digits))).join('')}${cell(String(m.support))}\n`;
  const head = `${''.padStart(width)} ${HEADERS.map(cell).join('')}\n\n`;
  const classes = report.per_class.map((c) => row(c.name, c)).join('');
  return { width, cell, row, head, classes };
}

/** Exactly the string sklearn 1.2's `classification_report(y_true, y_pred, digits=digits)` prints. */
export function formatSklearnReport(report: ClassificationReport, digits = 2): string {
  const { width, cell, row, head, classes } = layout(report, digits);
  const micro = report.micro_is_accuracy
    ? `${'accuracy'.padStart(width)} ${cell('')}${cell('')}${cell(formatFixed(report.micro_avg.f1, digits))}${cell(String(report.micro_avg.support))}\n`
    : row('micro avg', report.micro_avg);
  return `${head}${classes}\n${micro}${row('macro avg', report.macro_avg)}${row('weighted avg', report.weighted_avg)}`;
}

/**
 * The paper's Table 2 layout: sklearn's per-class rows, macro and weighted averages with `digits` digits, then
 * accuracy and balanced accuracy at full precision (Python's repr, e.g. 0.9693877551020408).
 *
 * @example
 * ```ts
 * import { classificationReport, formatReport } from 'robustify';
 * console.log(formatReport(classificationReport([0, 1, 1], [0, 1, 0]), 3)); // three decimals
 * ```
 */
export function formatReport(report: ClassificationReport, digits = 2): string {
  const { row, head, classes } = layout(report, digits);
  const micro = report.micro_is_accuracy ? '' : row('micro avg', report.micro_avg);
  const label = 'balanced accuracy'.length;
  const full = (name: string, v: number) => `${name.padStart(label)}  ${formatRepr(v)}\n`;
  return (
    `${head}${classes}\n${micro}${row('macro avg', report.macro_avg)}${row('weighted avg', report.weighted_avg)}\n` +
    `${full('accuracy', report.accuracy)}${full('balanced accuracy', report.balanced_accuracy)}`
  );
}
