import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { AutoProjectedGradientDescent, createAttack, SUITES, TargetedAutoProjectedGradientDescent } from '../../src/attacks/index.js';
import { predictLabels } from '../../src/models/classifier.js';
import { hashSeed } from '../../src/util/random.js';
import { mlpClassifier, toyImages } from '../helpers/toy-classifier.js';

async function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
  const v = (await d.data())[0];
  d.dispose();
  return v;
}

test('APGD-T: the first target is the clean 2nd-highest class, run as targeted-DLR APGD', async () => {
  await initEngine({ backend: 'wasm', strict: true });
  const clf = mlpClassifier(5);
  const x = toyImages(6);
  const y = await predictLabels(clf, x);
  const z = await clf.predict(x);
  const second = ((await z.array()) as number[][]).map((row, i) => {
    const others = row.map((v, k) => (k === y[i] ? -Infinity : v));
    return others.indexOf(Math.max(...others));
  });
  z.dispose();
  const before = tf.memory().numTensors;
  const one = await new TargetedAutoProjectedGradientDescent({ eps: 8, max_iter: 10, nb_target_classes: 1, seed: 3 }).generate(clf, x, y);
  const plain = await new AutoProjectedGradientDescent({ eps: 8, max_iter: 10, targeted: true, loss_type: 'difference_logits_ratio', seed: hashSeed(3, 'target', 0, 0) & 0x7fffffff }).generate(clf, x, second);
  assert.equal(await maxAbsDiff(one, plain), 0);
  tf.dispose([one, plain]);
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
  clf.dispose();
});

test('APGD-T: later targets run only on the samples still correct; more targets fool at least as many; capped at classes − 1', async () => {
  await initEngine({ backend: 'wasm', strict: true });
  const clf = mlpClassifier(5);
  const x = toyImages(8);
  const y = await predictLabels(clf, x);
  const fooledBy = async (targets: number, eps: number) => {
    clf.calls.gradient = 0;
    const progress: [number, number][] = [];
    const adv = await new TargetedAutoProjectedGradientDescent({ eps, max_iter: 8, nb_target_classes: targets }).generate(clf, x, y, { onProgress: (d, t) => progress.push([d, t]) });
    const pred = await predictLabels(clf, adv);
    adv.dispose();
    return { fooled: pred.filter((p, i) => p !== y[i]).length, gradients: clf.calls.gradient, last: progress[progress.length - 1] };
  };
  const small = await fooledBy(1, 2);
  const more = await fooledBy(4, 2);
  assert.ok(more.fooled >= small.fooled);
  assert.deepEqual(more.last, [4 * 8, 4 * 8], 'progress reaches batches × targets × iterations');
  // With a huge eps the first target fools every sample: no further target runs a gradient.
  const all1 = await fooledBy(1, 128);
  const all4 = await fooledBy(4, 128);
  assert.equal(all1.fooled, 8);
  assert.equal(all4.gradients, all1.gradients);
  // 9 targets on a 5-class model: 4 at most.
  assert.deepEqual((await fooledBy(9, 2)).last, [4 * 8, 4 * 8]);
  // In the standard suite, and targeted when asked (one target: the given labels).
  assert.ok(SUITES.standard.includes('apgd_t'));
  assert.equal(createAttack('apgd_t', { targeted: true }).params.targeted, true);
  x.dispose();
  clf.dispose();
});
