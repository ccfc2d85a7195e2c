import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { minimumPerturbation, parseSuite, registerAttack, runSuite, SUITES, type EvasionAttack } from '../../src/attacks/index.js';
import { Type } from '@sinclair/typebox';
import type { Classifier } from '../../src/models/classifier.js';
import { predictLabels } from '../../src/models/classifier.js';
import { mlpClassifier, toyImages } from '../helpers/toy-classifier.js';

/** A test attack that records which rows it was given and breaks the first `breaks` of them (sets them to 0). */
const seen: number[][] = [];
registerAttack({
  name: 'probe_breaker',
  access: 'gradient',
  description: 'test: zeroes the first `breaks` images',
  spec: Type.Object({
    eps: Type.Number({ default: 4, minimum: 0, maximum: 255 }),
    breaks: Type.Integer({ default: 1, minimum: 0, maximum: 100 }),
    max_iter: Type.Integer({ default: 8, minimum: 1, maximum: 100 }),
  }),
  factory: (params): EvasionAttack => ({
    name: 'probe_breaker',
    access: 'gradient',
    params,
    generate: async (_c, x, y) => {
      seen.push([...(y ?? [])]);
      const k = Math.min(Number(params.breaks), x.shape[0]);
      // Moves the first k images by eps towards 0: the constant classifier below calls a dark image class 1.
      return tf.tidy(() => tf.concat([tf.clipByValue(tf.sub(tf.slice(x, 0, k), Number(params.eps)), 0, 255), tf.slice(x, k)]) as tf.Tensor4D);
    },
  }),
});

/** Class 1 for a mean pixel below 100, else the class whose index is the image's first pixel mod 3. */
function thresholdClassifier(): Classifier {
  const logits = (x: tf.Tensor4D) =>
    tf.tidy(() => {
      const dark = tf.less(tf.mean(x, [1, 2, 3]), 100);
      const own = tf.oneHot(tf.cast(tf.mod(tf.floor(tf.reshape(tf.slice(x, [0, 0, 0, 0], [-1, 1, 1, 1]), [-1])), 3), 'int32'), 3);
      return tf.mul(tf.where(tf.reshape(dark, [-1, 1]).tile([1, 3]) as tf.Tensor2D, tf.oneHot(tf.fill([x.shape[0]], 1, 'int32') as tf.Tensor1D, 3), own), 10) as tf.Tensor2D;
    });
  return { classes: 3, predict: async (x) => logits(x), lossGradient: async (x) => tf.zerosLike(x) };
}

test('the suite runs each attack only on the samples still robust; robust accuracy is the per-sample worst case', async () => {
  await initEngine({ backend: 'wasm', strict: true });
  const clf = thresholdClassifier();
  // Six bright images (mean 104): first pixels 0, 3, 6 → class 0; 1, 4 → 1 … labels = their own class.
  const first = [0, 3, 6, 9, 12, 2];
  const x = tf.tidy(() => {
    const base = tf.fill([6, 4, 4, 3], 104) as tf.Tensor4D;
    const mask = tf.oneHot(tf.tensor1d([0], 'int32'), 48).reshape([1, 4, 4, 3]);
    return tf.add(tf.mul(base, tf.sub(1, mask)), tf.mul(tf.tensor1d(first).reshape([6, 1, 1, 1]), mask)) as tf.Tensor4D;
  });
  const labels = [0, 0, 0, 0, 0, 1]; // the last is misclassified (class 2) before any attack
  seen.length = 0;
  const r = await runSuite(clf, x, labels, parseSuite('probe_breaker:breaks=2,probe_breaker:breaks=1,probe_breaker:breaks=5'), { eps: 10, checks: true });
  assert.equal(r.clean_accuracy, 5 / 6);
  // Attack 1 sees the 5 clean-correct faces, breaks 2; attack 2 sees 3, breaks 1; attack 3 sees 2, breaks both.
  assert.deepEqual(seen.slice(0, 3).map((s) => s.length), [5, 3, 2]);
  // The checks re-run the first attack only at 4·eps and with a quarter of its iterations: its accuracy at eps
  // is the suite's own first step (3 of the 5 clean-correct faces left).
  assert.equal(seen.length, 5);
  assert.match(r.checks.find((c) => c.check === 'accuracy falls with eps')!.detail, /accuracy 0\.600 at eps 10, 0\.600 at eps 40/);
  assert.deepEqual(r.steps.map((s) => [s.attacked, s.broken]), [[5, 2], [3, 1], [2, 2]]);
  assert.deepEqual(r.steps.map((s) => s.robust_accuracy), [3 / 6, 2 / 6, 0]);
  assert.equal(r.robust_accuracy, 0);
  assert.deepEqual(r.per_sample.map((s) => s.broken_by), ['probe_breaker:breaks=2', 'probe_breaker:breaks=2', 'probe_breaker:breaks=1', 'probe_breaker:breaks=5', 'probe_breaker:breaks=5', 'clean']);
  // The classifier's gradients are all zero: flagged.
  assert.ok(r.checks.find((c) => c.check === 'zero or NaN gradients')!.flagged);
  assert.ok(!r.checks.find((c) => c.check === 'random forward pass')!.flagged);
  // A first attack that leaves nothing robust: the eps and iteration checks cannot fire, so nothing is re-run.
  seen.length = 0;
  const all = await runSuite(clf, x, labels, parseSuite('probe_breaker:breaks=5'), { eps: 10, checks: true });
  assert.equal(seen.length, 1);
  for (const check of ['accuracy falls with eps', 'accuracy falls with iterations']) {
    const c = all.checks.find((k) => k.check === check)!;
    assert.deepEqual([c.flagged, /nothing left to fall/.test(c.detail)], [false, true], check);
  }
  x.dispose();
});

test('impersonation targets the nearest other class; a random forward pass is flagged; the named suites parse', async () => {
  await initEngine({ backend: 'wasm', strict: true });
  const clf = mlpClassifier(5);
  const x = toyImages(4);
  const y = await predictLabels(clf, x);
  let calls = 0;
  const noisy: Classifier = {
    classes: 5,
    predict: async (xi) => tf.fill([xi.shape[0], 5], calls++ % 2 ? 0.5 : 0) as tf.Tensor2D,
    lossGradient: clf.lossGradient,
  };
  const r = await runSuite(clf, x, y, parseSuite('apgd:max_iter=5'), { eps: 64, threat: 'impersonation', checks: false });
  const logits = await clf.predict(x);
  const z = await logits.array();
  logits.dispose();
  r.per_sample.forEach((s, i) => {
    const others = z[i].map((v, j) => (j === y[i] ? -Infinity : v));
    assert.equal(s.target, others.indexOf(Math.max(...others)));
  });
  assert.ok(r.success_rate > 0);
  const rn = await runSuite(noisy, x, y, [], { eps: 4 });
  assert.ok(rn.checks.find((c) => c.check === 'random forward pass')!.flagged);
  for (const name of Object.keys(SUITES)) assert.ok(parseSuite(name).length >= 2);
  assert.throws(() => parseSuite(''), /no attacks/);
  x.dispose();
  clf.dispose();
});

test('masking checks re-run a suite whose first gradient attack is fgsm or bim (their resolved params carry fixed PGD keys)', async () => {
  await initEngine({ backend: 'wasm', strict: true });
  const clf = mlpClassifier(5);
  const x = toyImages(4);
  const y = await predictLabels(clf, x);
  for (const token of ['fgsm', 'bim:max_iter=2']) {
    // A tiny eps leaves faces robust, so the eps and iteration checks rebuild the attack at other budgets.
    const r = await runSuite(clf, x, y, parseSuite(token), { eps: 0.01, checks: true });
    assert.ok(r.robust_accuracy > 0, `${token}: something left robust`);
    assert.ok(r.checks.some((c) => c.check === 'accuracy falls with eps'), `${token}: the eps check ran`);
  }
  x.dispose();
  clf.dispose();
});

test('minimum perturbation: binary search to the eps where a fixed attack starts to fool, batched by equal eps', async () => {
  await initEngine({ backend: 'wasm', strict: true });
  const clf = thresholdClassifier();
  // Images of value v = 104 + 2k with a first pixel of 0 (class 0 however far it is pushed down): the probe
  // attack (−eps on every pixel) makes the mean 47(v − eps)/48 < 100, i.e. class 1, from eps > v − 4800/47.
  const values = [104, 106, 108, 164];
  const x = tf.tidy(() => {
    const mask = tf.oneHot(tf.tensor1d([0], 'int32'), 48).reshape([1, 4, 4, 3]);
    return tf.mul(tf.mul(tf.ones([4, 4, 4, 3]), tf.tensor1d(values).reshape([4, 1, 1, 1])), tf.sub(1, mask)) as tf.Tensor4D;
  });
  const labels = await predictLabels(clf, x);
  seen.length = 0;
  const r = await minimumPerturbation(clf, x, labels, { attack: { name: 'probe_breaker', params: { breaks: 100 } }, eps_max: 16, steps: 10 });
  // Minimum eps: just above 1.87, 3.87, 5.87 (within eps_max / 2^10); the last needs 61.9 > eps_max.
  values.slice(0, 3).forEach((v, i) => {
    const exact = v - 4800 / 47;
    assert.ok(r.eps[i] > exact && r.eps[i] <= exact + 16 / 1024 + 1e-6, `sample ${i}: ${r.eps[i]} vs ${exact}`);
  });
  assert.equal(r.eps[3], Infinity);
  assert.equal(r.median, (r.eps[1] + r.eps[2]) / 2);
  assert.deepEqual(r.curve.map((c) => c.eps), [0.25, 0.5, 1, 2, 4, 8, 16]);
  assert.deepEqual(r.curve.map((c) => c.success_rate), [0, 0, 0, 0.25, 0.5, 0.75, 0.75]);
  // The first step attacks all 4 at eps_max together; later steps group samples sharing an eps.
  assert.equal(seen[0].length, 4);
  assert.ok(seen.length <= 1 + 3 * 10);
  x.dispose();
});
