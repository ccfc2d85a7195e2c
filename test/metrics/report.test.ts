import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accuracyScore,
  balancedAccuracyScore,
  classificationReport,
  confusionMatrix,
  formatReport,
  formatSklearnReport,
} from '../../src/metrics/index.js';

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} ≠ ${b}`);

test("the spec's example: a class never predicted and a class only predicted", () => {
  const r = classificationReport([0, 0, 1, 1, 2], [0, 0, 0, 0, 3]);
  assert.deepEqual(
    r.per_class.map((c) => c.label),
    [0, 1, 2, 3],
  );
  close(r.macro_avg.precision, 0.125);
  close(r.weighted_avg.f1, (2 / 3) * (2 / 5)); // 0.2667
  assert.equal(r.weighted_avg.f1.toFixed(3), '0.267');
  // class 1 is never predicted: precision 0 (zero_division), recall 0.
  assert.deepEqual(r.per_class[1], { label: 1, name: '1', precision: 0, recall: 0, f1: 0, support: 2 });
  // class 3 is only predicted: a row with support 0, and no part in balanced accuracy.
  assert.deepEqual(r.per_class[3], { label: 3, name: '3', precision: 0, recall: 0, f1: 0, support: 0 });
  assert.equal(r.accuracy, 0.4);
  close(r.balanced_accuracy, 1 / 3);
  assert.equal(r.macro_avg.support, 5);
  // The text sklearn 1.2 prints; 0.125 rounds half to even ("0.12"), as Python does.
  assert.equal(
    formatSklearnReport(r),
    [
      '              precision    recall  f1-score   support',
      '',
      '           0       0.50      1.00      0.67         2',
      '           1       0.00      0.00      0.00         2',
      '           2       0.00      0.00      0.00         1',
      '           3       0.00      0.00      0.00         0',
      '',
      '    accuracy                           0.40         5',
      '   macro avg       0.12      0.25      0.17         5',
      'weighted avg       0.20      0.40      0.27         5',
      '',
    ].join('\n'),
  );
});

test("sklearn's documented examples print identically (target names; labels with a micro average)", () => {
  const named = classificationReport([0, 1, 2, 2, 2], [0, 0, 2, 2, 1], { targetNames: ['class 0', 'class 1', 'class 2'] });
  assert.equal(
    formatSklearnReport(named),
    [
      '              precision    recall  f1-score   support',
      '',
      '     class 0       0.50      1.00      0.67         1',
      '     class 1       0.00      0.00      0.00         1',
      '     class 2       1.00      0.67      0.80         3',
      '',
      '    accuracy                           0.60         5',
      '   macro avg       0.50      0.56      0.49         5',
      'weighted avg       0.70      0.60      0.61         5',
      '',
    ].join('\n'),
  );
  const subset = classificationReport([1, 1, 1], [1, 1, 0], { labels: [1, 2, 3] });
  assert.equal(subset.micro_is_accuracy, false);
  assert.equal(
    formatSklearnReport(subset),
    [
      '              precision    recall  f1-score   support',
      '',
      '           1       1.00      0.67      0.80         3',
      '           2       0.00      0.00      0.00         0',
      '           3       0.00      0.00      0.00         0',
      '',
      '   micro avg       1.00      0.67      0.80         3',
      '   macro avg       0.33      0.22      0.27         3',
      'weighted avg       1.00      0.67      0.80         3',
      '',
    ].join('\n'),
  );
});

test('perfect predictions', () => {
  const y = [3, 1, 2, 3, 1, 2, 2];
  const r = classificationReport(y, y);
  assert.deepEqual(
    r.per_class.map((c) => [c.label, c.precision, c.recall, c.f1, c.support]),
    [
      [1, 1, 1, 1, 2],
      [2, 1, 1, 1, 3],
      [3, 1, 1, 1, 2],
    ],
  );
  assert.deepEqual(r.macro_avg, { precision: 1, recall: 1, f1: 1, support: 7 });
  assert.deepEqual(r.weighted_avg, { precision: 1, recall: 1, f1: 1, support: 7 });
  assert.equal(r.accuracy, 1);
  assert.equal(r.balanced_accuracy, 1);
  assert.match(formatReport(r), /\n {9}accuracy {2}1\.0\nbalanced accuracy {2}1\.0\n$/);
});

test('hand-computed three-class vectors', () => {
  const yTrue = [0, 0, 0, 1, 1, 2, 2, 2, 2];
  const yPred = [0, 1, 0, 1, 2, 2, 2, 0, 2];
  const r = classificationReport(yTrue, yPred);
  // class 0: TP 2, predicted 3, support 3; class 1: TP 1, predicted 2, support 2; class 2: TP 3, predicted 4, support 4.
  const expected = [
    [2 / 3, 2 / 3, 3],
    [1 / 2, 1 / 2, 2],
    [3 / 4, 3 / 4, 4],
  ];
  r.per_class.forEach((c, i) => {
    close(c.precision, expected[i][0]);
    close(c.recall, expected[i][1]);
    close(c.f1, expected[i][0]); // P = R, so F1 = P
    assert.equal(c.support, expected[i][2]);
  });
  close(r.macro_avg.precision, (2 / 3 + 1 / 2 + 3 / 4) / 3);
  close(r.weighted_avg.precision, (2 + 1 + 3) / 9);
  close(r.accuracy, 6 / 9);
  close(r.balanced_accuracy, (2 / 3 + 1 / 2 + 3 / 4) / 3);
  assert.equal(accuracyScore(yTrue, yPred), r.accuracy);
  assert.equal(balancedAccuracyScore(yTrue, yPred), r.balanced_accuracy);
  assert.deepEqual(confusionMatrix(yTrue, yPred), {
    labels: [0, 1, 2],
    matrix: [
      [2, 1, 0],
      [0, 1, 1],
      [1, 0, 3],
    ],
  });
});

test("macro and weighted averages follow NumPy's pairwise summation to the last bit", () => {
  // 16 classes; class c has c + 2 true samples, the first (c mod 3) + 1 predicted right, the rest as (5c + 3) mod 16.
  // Expected values computed with NumPy 2.4 using sklearn 1.2's formulas; a left-to-right sum gives different
  // last bits for both precision averages.
  const yTrue: number[] = [];
  const yPred: number[] = [];
  for (let c = 0; c < 16; c++) {
    for (let i = 0; i < c + 2; i++) {
      yTrue.push(c);
      yPred.push(i < (c % 3) + 1 ? c : (c * 5 + 3) % 16);
    }
  }
  const r = classificationReport(yTrue, yPred);
  assert.equal(r.macro_avg.precision, 0.2780139907607013);
  assert.equal(r.weighted_avg.precision, 0.2776609932080846);
  assert.equal(r.macro_avg.recall, 0.27907650458201927);
  assert.equal(r.weighted_avg.recall, 0.20394736842105263);
  assert.equal(r.macro_avg.f1, 0.23125180728277814);
  assert.equal(r.weighted_avg.f1, 0.2023987274654251);
  assert.equal(r.balanced_accuracy, 0.27907650458201927);
  assert.equal(r.accuracy, 0.20394736842105263);
});

test("formatReport: the paper's Table 2 layout with full-precision accuracy lines", () => {
  // 14 classes × 7 test samples, 3 mistakes (one 2 → 3, two 13 → 0): accuracy 95/98 as in the paper's Table 2.
  const yTrue = Array.from({ length: 98 }, (_, i) => Math.floor(i / 7));
  const yPred = yTrue.map((y, i) => (i === 20 || i === 97 || i === 96 ? (y + 1) % 14 : y));
  const text = formatReport(classificationReport(yTrue, yPred));
  const lines = text.split('\n');
  assert.equal(lines[0], '              precision    recall  f1-score   support');
  assert.equal(lines.length, 2 + 14 + 1 + 2 + 1 + 2 + 1);
  // class 0: P 7/9, R 1, F1 = 0.875 (0.8750000000000001 in floating point).
  assert.equal(lines[2], '           0       0.78      1.00      0.88         7');
  assert.equal(lines[15], '          13       1.00      0.71      0.83         7');
  assert.equal(lines[17], '   macro avg       0.98      0.97      0.97        98');
  assert.equal(lines[20], '         accuracy  0.9693877551020408');
  assert.equal(lines[21], 'balanced accuracy  0.9693877551020408');
});

test('confusionMatrix with explicit labels leaves other samples out', () => {
  assert.deepEqual(confusionMatrix([0, 1, 2, 2], [0, 2, 2, 1], [2, 0]), {
    labels: [2, 0],
    matrix: [
      [1, 0],
      [0, 1],
    ],
  });
});

test('bad inputs get clear errors', () => {
  assert.throws(() => classificationReport([0, 1], [0]), /y_true has 2 labels but y_pred has 1/);
  assert.throws(() => classificationReport([], []), /empty/);
  assert.throws(() => classificationReport([0, 1.5], [0, 1]), /y_true\[1\] = 1.5 is not an integer class label/);
  assert.throws(() => classificationReport([0, 1], [0, 1], { targetNames: ['a'] }), /targetNames: 1 names for 2 labels/);
  assert.throws(() => classificationReport([0, 1], [0, 1], { labels: [1, 1] }), /labels: duplicates/);
});
