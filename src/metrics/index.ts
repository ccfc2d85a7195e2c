/** Evaluation metrics identical to scikit-learn 1.2 (classification report, balanced accuracy, confusion matrix). */
export {
  classificationReport,
  confusionMatrix,
  accuracyScore,
  balancedAccuracyScore,
  uniqueLabels,
  type ClassificationReport,
  type ClassMetrics,
  type AverageMetrics,
  type ReportOptions,
  type ConfusionMatrix,
} from './report.js';
export { formatReport, formatSklearnReport } from './format.js';
export { formatFixed, formatRepr } from './pyformat.js';
