/** Pipeline search: enumeration order, ranking under the clean bound, the Pareto front. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareRows, enumeratePipelines, paretoFront, rank, type SearchRow } from '../../src/study/search.js';

test('every ordered pipeline of distinct candidates, each right after its prefix', () => {
  const all = enumeratePipelines(['median:3', 'jpeg:20', 'gauss:15'], 2);
  assert.deepEqual(all, [
    'median:window_size=3',
    'median:window_size=3,jpeg:quality=20',
    'median:window_size=3,gauss:sigma=15',
    'jpeg:quality=20',
    'jpeg:quality=20,median:window_size=3',
    'jpeg:quality=20,gauss:sigma=15',
    'gauss:sigma=15',
    'gauss:sigma=15,median:window_size=3',
    'gauss:sigma=15,jpeg:quality=20',
  ]);
  // n + n(n−1) + n(n−1)(n−2) for length 3.
  assert.equal(enumeratePipelines(['median:3', 'jpeg:20', 'gauss:15', 'tvm', 'squeeze:5', 'bmcnn:20'], 3).length, 6 + 30 + 120);
});

const row = (pipeline: string, clean: number, adv: number, length = 1): SearchRow => ({ pipeline, length, clean_accuracy: clean, adversarial_accuracy: adv });

test('ranking: admissible rows only, adversarial accuracy first, ties by clean accuracy, length, name', () => {
  const rows = [row('a', 0.95, 0.3), row('b', 0.8, 0.9), row('c', 0.99, 0.3), row('d', 0.99, 0.3, 2), row('e', 0.92, 0.5)];
  assert.deepEqual(rank(rows, 0.9).map((r) => r.pipeline), ['e', 'c', 'd', 'a']);
  assert.equal(rank(rows, 1).length, 0);
  assert.ok(compareRows(row('x', 0.9, 0.5), row('y', 0.9, 0.5)) < 0);
});

test('Pareto front: no row on it is dominated, every row off it is', () => {
  const rows = [row('a', 1, 0.1), row('b', 0.95, 0.4), row('c', 0.95, 0.2), row('d', 0.9, 0.3), row('e', 0.7, 0.8), row('f', 0.6, 0.8)];
  const front = paretoFront(rows);
  assert.deepEqual(front.map((r) => r.pipeline), ['a', 'b', 'e']);
  const dominates = (p: SearchRow, q: SearchRow) =>
    p.clean_accuracy >= q.clean_accuracy && p.adversarial_accuracy >= q.adversarial_accuracy && (p.clean_accuracy > q.clean_accuracy || p.adversarial_accuracy > q.adversarial_accuracy);
  for (const r of rows) {
    const dominated = rows.some((q) => dominates(q, r));
    assert.equal(front.includes(r), !dominated && !(r.pipeline === 'f'), r.pipeline);
  }
});
