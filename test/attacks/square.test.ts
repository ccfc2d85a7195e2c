import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { SquareAttack, squareP } from '../../src/attacks/square.js';
import { predictLabels } from '../../src/models/classifier.js';
import { mlpClassifier, toyImages } from '../helpers/toy-classifier.js';

test("Square's p-schedule halves at the paper's iterations, rescaled to the budget", () => {
  assert.equal(squareP(0.8, 0, 10000), 0.8);
  assert.equal(squareP(0.8, 10, 10000), 0.8);
  assert.equal(squareP(0.8, 11, 10000), 0.4);
  assert.equal(squareP(0.8, 201, 10000), 0.1);
  assert.equal(squareP(0.8, 9999, 10000), 0.8 / 512);
  // Budget 1000: iteration 2 is 20/10000 of the way → one halving.
  assert.equal(squareP(0.8, 2, 1000), 0.4);
});

test('Square uses only predict, stays in the ball, counts queries and keeps to its budget', async () => {
  await initEngine({ backend: 'wasm', strict: true });
  for (const norm of ['inf', 2] as const) {
    const clf = mlpClassifier(5);
    const x = toyImages(6);
    const y = await predictLabels(clf, x);
    clf.calls.predict = 0;
    const eps = norm === 'inf' ? 8 : 300;
    const queries: number[] = [];
    const attack = new SquareAttack({ norm, eps, nb_queries: 40, seed: 1, batch_size: 4 });
    const adv = await attack.generate(clf, x, y, { onQueries: (start, q) => q.forEach((v, k) => (queries[start + k] = v)) });
    assert.equal(clf.calls.gradient, 0, 'no gradient calls');
    assert.equal(queries.length, 6);
    // Every query is one image in a predict call; each sample at most the budget.
    assert.equal(clf.calls.predict, queries.reduce((a, b) => a + b, 0));
    assert.ok(queries.every((q) => q >= 1 && q <= 40), `${queries}`);
    const pred = await predictLabels(clf, adv);
    // A sample that stopped early was fooled; one that used the whole budget may not be.
    pred.forEach((p, i) => queries[i] < 40 && assert.notEqual(p, y[i], `sample ${i} stopped at ${queries[i]} queries unfooled`));
    assert.ok(pred.some((p, i) => p !== y[i]), `${norm}: nothing fooled`);
    const [linf, l2] = tf.tidy(() => {
      const d = tf.sub(adv, x);
      return [tf.max(tf.abs(d)), tf.max(tf.sqrt(tf.sum(tf.square(d), [1, 2, 3])))];
    });
    if (norm === 'inf') assert.ok((await linf.data())[0] <= eps + 1e-3);
    else assert.ok((await l2.data())[0] <= eps + 1e-2);
    // Seeded: the same result again.
    const again = await attack.generate(clf, x, y);
    assert.deepEqual(Array.from(await again.data()), Array.from(await adv.data()));
    tf.dispose([x, adv, again, linf, l2]);
    clf.dispose();
  }
});

test('targeted Square counts success only at the target', async () => {
  await initEngine({ backend: 'wasm', strict: true });
  const clf = mlpClassifier(5);
  const x = toyImages(4, 5);
  const y = await predictLabels(clf, x);
  const target = y.map((c) => (c + 1) % 5);
  const queries: number[] = [];
  const adv = await new SquareAttack({ eps: 32, nb_queries: 60, targeted: true }).generate(clf, x, target, { onQueries: (_, q) => queries.push(...q) });
  const pred = await predictLabels(clf, adv);
  pred.forEach((p, i) => queries[i] < 60 && assert.equal(p, target[i]));
  tf.dispose([x, adv]);
  clf.dispose();
});
