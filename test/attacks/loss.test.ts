import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { lossAndGradient, lossOfLogits, squareMargin } from '../../src/attacks/loss.js';
import { predictLabels } from '../../src/models/classifier.js';
import { relError } from '../helpers/numeric.js';
import { mlpClassifier, toyImages } from '../helpers/toy-classifier.js';

test('DLR and CE logit gradients match finite differences; values as defined', () => {
  const k = 5;
  const z = Float32Array.from([3, 1, 2.5, -1, 0.5, 0.2, 0.1, 4, 2, 1]);
  const y = [0, 3];
  const target = [4, 1];
  for (const [type, t] of [
    ['cross_entropy', undefined],
    ['cross_entropy', target],
    ['difference_logits_ratio', undefined],
    ['difference_logits_ratio', target],
  ] as const) {
    const base = lossOfLogits(type, z, k, { y, target: t });
    for (let j = 0; j < z.length; j++) {
      const h = 1e-3;
      const up = Float32Array.from(z);
      up[j] += h;
      const dn = Float32Array.from(z);
      dn[j] -= h;
      const i = Math.floor(j / k);
      const fd = (lossOfLogits(type, up, k, { y, target: t }).loss[i] - lossOfLogits(type, dn, k, { y, target: t }).loss[i]) / (2 * h);
      assert.ok(Math.abs(fd - base.dz[j]) < 2e-3, `${type}${t ? ' targeted' : ''} ∂/∂z${j}: ${base.dz[j]} vs ${fd}`);
    }
    // Shift invariance: the logit gradient of each sample sums to zero.
    for (let i = 0; i < 2; i++) assert.ok(Math.abs(base.dz.subarray(i * k, (i + 1) * k).reduce((a, b) => a + b, 0)) < 1e-5);
  }
  // Row 0: y = 0 is the top logit (3), runner-up 2.5, third 1 → −(3 − 2.5)/(3 − 1).
  assert.ok(Math.abs(lossOfLogits('difference_logits_ratio', z, k, { y }).loss[0] - -0.25) < 1e-6);
  const m = squareMargin(z, k, { y });
  assert.ok(Math.abs(m.margin[0] - 0.5) < 1e-6 && Math.abs(m.margin[1] - (2 - 4)) < 1e-6);
});

test('the input gradient of DLR through label weights equals autodiff through the model', async () => {
  await initEngine({ backend: 'wasm', strict: true });
  const clf = mlpClassifier(5);
  const x = toyImages(3);
  const logitsOf = async (xi: tf.Tensor4D) => (await clf.predict(xi)) as tf.Tensor2D;
  const y = await predictLabels(clf, x);
  const got = await lossAndGradient(clf, x, 'difference_logits_ratio', { y });
  // Reference: the loss change along a random direction d against ⟨g, d⟩ (the directional derivative).
  const d = tf.randomNormal(x.shape, 0, 1, 'float32', 9) as tf.Tensor4D;
  const h = 1e-2;
  const lossAt = async (sign: number) => {
    const xi = tf.tidy(() => tf.add(x, tf.mul(d, sign * h)) as tf.Tensor4D);
    const z = await logitsOf(xi);
    const out = lossOfLogits('difference_logits_ratio', (await z.data()) as Float32Array, 5, { y }).loss;
    tf.dispose([xi, z]);
    return out;
  };
  const up = await lossAt(1);
  const dn = await lossAt(-1);
  const dirDeriv = Array.from(up, (u, i) => (u - dn[i]) / (2 * h));
  const dot = tf.sum(tf.mul(got.grad, d), [1, 2, 3]);
  const analytic = Array.from(await dot.data());
  assert.ok(relError(analytic, dirDeriv) < 0.02, `${analytic} vs ${dirDeriv}`);
  tf.dispose([x, d, dot, got.grad]);
  clf.dispose();
});
