import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { BasicIterativeMethod, FastGradientMethod, ProjectedGradientDescent, createAttack } from '../../src/attacks/index.js';
import { logitsLossGradient, predictLabels, type Classifier } from '../../src/models/classifier.js';
import { toyClassifier, toyImages } from '../helpers/toy-classifier.js';

const images = toyImages;

async function stats(adv: tf.Tensor4D, x: tf.Tensor4D) {
  const [linf, l2, lo, hi] = tf.tidy(() => {
    const d = tf.sub(adv, x);
    return [tf.max(tf.abs(d)), tf.max(tf.sqrt(tf.sum(tf.square(d), [1, 2, 3]))), tf.min(adv), tf.max(adv)];
  });
  const out = { linf: (await linf.data())[0], l2: (await l2.data())[0], lo: (await lo.data())[0], hi: (await hi.data())[0] };
  tf.dispose([linf, l2, lo, hi]);
  return out;
}

test('PGD L∞ stays in the eps-ball and the pixel range, and lowers accuracy', async () => {
  await initEngine({ backend: 'wasm', strict: true });
  const clf = toyClassifier();
  const x = images(8);
  const clean = await predictLabels(clf, x);
  const adv = await new ProjectedGradientDescent({ eps: 8, eps_step: 1, max_iter: 20, batch_size: 3 }).generate(clf, x, clean);
  const s = await stats(adv, x);
  assert.ok(s.linf <= 8 + 1e-4, `linf ${s.linf}`);
  assert.ok(s.lo >= 0 && s.hi <= 255);
  const after = await predictLabels(clf, adv);
  const kept = after.filter((p, i) => p === clean[i]).length;
  assert.ok(kept < clean.length, `attack changed no prediction (${kept}/${clean.length} kept)`);
  tf.dispose([x, adv]);
  clf.dispose();
});

test('PGD L2 projects onto the L2 ball; random starts are seeded', async () => {
  await initEngine({ backend: 'wasm', strict: true });
  const clf = toyClassifier();
  const x = images(4);
  const attack = new ProjectedGradientDescent({ norm: 2, eps: 50, eps_step: 10, max_iter: 10, num_random_init: 2, seed: 7 });
  const a = await attack.generate(clf, x);
  const b = await attack.generate(clf, x);
  const s = await stats(a, x);
  assert.ok(s.l2 <= 50 + 1e-3, `l2 ${s.l2}`);
  assert.deepEqual(Array.from(await a.data()), Array.from(await b.data()));
  tf.dispose([x, a, b]);
  clf.dispose();
});

test('FGSM is one signed step of size eps; BIM starts from the clean image', async () => {
  await initEngine({ backend: 'wasm', strict: true });
  const clf = toyClassifier();
  const x = tf.add(tf.mul(images(2), 0.5), 64) as tf.Tensor4D; // away from the range ends, so no clipping
  const y = await predictLabels(clf, x);
  const adv = await new FastGradientMethod({ eps: 3 }).generate(clf, x, y);
  const g = await clf.lossGradient(x, tf.tensor1d(y, 'int32'));
  const expected = tf.add(x, tf.mul(tf.sign(g), 3));
  const diff = tf.max(tf.abs(tf.sub(adv, expected)));
  assert.ok((await diff.data())[0] < 1e-3);
  assert.equal(new BasicIterativeMethod({ eps: 2 }).params.num_random_init, 0);
  assert.equal(createAttack('fgsm', { eps: 5 }).params.eps_step, 5);
  tf.dispose([x, adv, g, expected, diff]);
  clf.dispose();
});

test('bad attack parameters are refused with the parameter named', () => {
  assert.throws(() => new ProjectedGradientDescent({ eps: -1 }), /eps must be/);
  assert.throws(() => new ProjectedGradientDescent({ max_iter: 0 }), /max_iter/);
  assert.throws(() => createAttack('cw', {}), /unknown attack 'cw'.*pgd, fgsm, bim/);
});

test('no tensors leak across attack batches', async () => {
  await initEngine({ backend: 'wasm', strict: true });
  const clf = toyClassifier();
  const x = images(6);
  const attack = new ProjectedGradientDescent({ eps: 4, eps_step: 1, max_iter: 3, batch_size: 2, num_random_init: 2 });
  const first = await attack.generate(clf, x);
  first.dispose();
  const before = tf.memory().numTensors;
  for (let k = 0; k < 3; k++) (await attack.generate(clf, x)).dispose();
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
  clf.dispose();
});

test('tiny gradients (a confident model) still give full signed steps', async () => {
  await initEngine({ backend: 'wasm', strict: true });
  // Logits scaled so the per-pixel loss gradient is ~1e-12: the stock wasm Sign rounded those to 0.
  const w = tf.randomNormal([12 * 12 * 3, 3], 0, 1e-9, 'float32', 5) as tf.Tensor2D;
  const logits = (x: tf.Tensor4D) => tf.tidy(() => tf.add(tf.matMul(tf.reshape(x, [x.shape[0], -1]), w), tf.tensor1d([30, 0, 0])) as tf.Tensor2D);
  const clf: Classifier = { classes: 3, predict: async (x) => logits(x), lossGradient: async (x, y) => logitsLossGradient(logits, x, y) };
  const x = tf.fill([1, 12, 12, 3], 100) as tf.Tensor4D;
  const adv = await new FastGradientMethod({ eps: 2 }).generate(clf, x, [0]);
  const moved = tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.abs(tf.sub(adv, x)), 2), 'float32')));
  assert.equal((await moved.data())[0], 12 * 12 * 3);
  tf.dispose([w, x, adv, moved]);
});
