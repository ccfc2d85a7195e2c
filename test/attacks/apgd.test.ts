import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { AutoProjectedGradientDescent, ProjectedGradientDescent } from '../../src/attacks/index.js';
import { apgdCheckpoints, ApgdStepSchedule } from '../../src/attacks/apgd.js';
import { predictLabels } from '../../src/models/classifier.js';
import { mlpClassifier, toyImages } from '../helpers/toy-classifier.js';

test('APGD checkpoints: 22% of the iterations, then periods shrinking by 3% down to 6%', () => {
  // 100 iterations: periods 22, 19, 16, 13, 10, 7, 6, 6 …
  assert.deepEqual(apgdCheckpoints(100), [22, 41, 57, 70, 80, 87, 93, 99]);
  assert.deepEqual(apgdCheckpoints(10), [2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual(apgdCheckpoints(1), [1]);
});

test('APGD step schedule: halves where few steps raised the loss, or where the best stalled after no halving', () => {
  // Three samples, 100 iterations, eps 4 → initial step 8.
  const s = new ApgdStepSchedule(100, 4, 0.75, Float32Array.from([0, 0, 0]));
  assert.deepEqual(Array.from(s.step), [8, 8, 8]);
  let halved: boolean[] | undefined;
  const best = new Float32Array(3);
  for (let i = 1; i <= 22; i++) {
    // Sample 0 always improves; sample 1 improves on half of the steps; sample 2 every step until 18, then flat.
    const loss = Float32Array.from([i, i % 2 === 0 ? i : i - 2, Math.min(i, 18)]);
    for (let k = 0; k < 3; k++) best[k] = Math.max(best[k], loss[k]);
    halved = s.observe(loss, best);
    if (i < 22) assert.equal(halved, undefined, `no checkpoint at ${i}`);
  }
  // 22 increases of 22 (kept), 11 of 22 (≤ 0.75·22: halved), 18 of 22 (> 16.5: kept).
  assert.deepEqual(halved, [false, true, false]);
  assert.deepEqual(Array.from(s.step), [8, 4, 8]);
  // Next period (19 iterations): sample 2's best does not move and its step was not halved last time → halved.
  for (let i = 23; i <= 41; i++) {
    const loss = Float32Array.from([i, i, 18]);
    for (let k = 0; k < 3; k++) best[k] = Math.max(best[k], loss[k]);
    halved = s.observe(loss, best);
  }
  assert.deepEqual(halved, [false, false, true]);
  assert.deepEqual(Array.from(s.step), [8, 4, 4]);
});

test('APGD (CE and DLR, L∞ and L2, targeted) stays in the ball and fools at least as many as PGD at equal iterations', async () => {
  await initEngine({ backend: 'wasm', strict: true });
  const clf = mlpClassifier(5);
  const x = toyImages(8);
  const clean = await predictLabels(clf, x);
  const kept = async (adv: tf.Tensor4D) => (await predictLabels(clf, adv)).filter((p, i) => p === clean[i]).length;
  const pgd = await new ProjectedGradientDescent({ eps: 2, eps_step: 0.2, max_iter: 20 }).generate(clf, x, clean);
  const pgdKept = await kept(pgd);
  for (const loss_type of ['cross_entropy', 'difference_logits_ratio'] as const) {
    const adv = await new AutoProjectedGradientDescent({ eps: 2, max_iter: 20, loss_type, batch_size: 5 }).generate(clf, x, clean);
    const linf = tf.tidy(() => tf.max(tf.abs(tf.sub(adv, x))));
    assert.ok((await linf.data())[0] <= 2 + 1e-3);
    const k = await kept(adv);
    assert.ok(k <= pgdKept, `${loss_type}: ${k} kept vs PGD's ${pgdKept}`);
    tf.dispose([adv, linf]);
  }
  const l2 = await new AutoProjectedGradientDescent({ norm: 2, eps: 100, max_iter: 10 }).generate(clf, x, clean);
  const n2 = tf.tidy(() => tf.max(tf.sqrt(tf.sum(tf.square(tf.sub(l2, x)), [1, 2, 3]))));
  assert.ok((await n2.data())[0] <= 100 + 1e-2);
  // Targeted towards the class after the clean one: success = the target is predicted.
  const target = clean.map((c) => (c + 1) % 5);
  const hits = async (loss_type: 'cross_entropy' | 'difference_logits_ratio') => {
    const adv = await new AutoProjectedGradientDescent({ eps: 16, max_iter: 20, loss_type, targeted: true }).generate(clf, x, target);
    const pred = await predictLabels(clf, adv);
    adv.dispose();
    return pred.filter((p, i) => p === target[i]).length;
  };
  assert.ok((await hits('cross_entropy')) > 0);
  assert.ok((await hits('difference_logits_ratio')) > 0);
  tf.dispose([x, pgd, l2, n2]);
  clf.dispose();
});

test('APGD is seeded, restarts only unfooled samples, and leaks no tensors', async () => {
  await initEngine({ backend: 'wasm', strict: true });
  const clf = mlpClassifier(5);
  const x = toyImages(4);
  const attack = new AutoProjectedGradientDescent({ eps: 1, max_iter: 5, nb_random_init: 2, seed: 3 });
  const a = await attack.generate(clf, x);
  const before = tf.memory().numTensors;
  const b = await attack.generate(clf, x);
  assert.deepEqual(Array.from(await a.data()), Array.from(await b.data()));
  tf.dispose([a, b]);
  assert.equal(tf.memory().numTensors, before - 1);
  x.dispose();
  clf.dispose();
});
