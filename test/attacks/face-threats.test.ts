import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { faceThreatSuite, parseSuite } from '../../src/attacks/index.js';
import { buildPipeline } from '../../src/defences/index.js';
import { DefendedClassifier } from '../../src/models/defended.js';
import { classMeans, GalleryClassifier, squaredDistances } from '../../src/models/gallery.js';
import { predictLabels } from '../../src/models/classifier.js';
import { toyImages } from '../helpers/toy-classifier.js';

/** A small embedding network on 12×12 images (432 → 16 → 8). */
function toyNet() {
  const w1 = tf.randomNormal([12 * 12 * 3, 16], 0, 0.15, 'float32', 21) as tf.Tensor2D;
  const w2 = tf.randomNormal([16, 8], 0, 1, 'float32', 22) as tf.Tensor2D;
  return {
    descriptorDim: 8,
    descriptor: (x: tf.Tensor4D) => tf.tidy(() => tf.matMul(tf.relu(tf.matMul(tf.div(tf.sub(tf.reshape(x, [x.shape[0], -1]), 128), 128), w1)), w2) as tf.Tensor2D),
    dispose: () => tf.dispose([w1, w2]),
  };
}

const CLASSES = 3;

/** Enrolment (3 faces per identity) and 8 probes labelled with their bare rank-1 identity. */
async function setUp(net: ReturnType<typeof toyNet>) {
  const enrol = { x: toyImages(9, 7), labels: [0, 1, 2, 0, 1, 2, 0, 1, 2] };
  const means = tf.tidy(() => classMeans(net.descriptor(enrol.x), enrol.labels, CLASSES));
  const gallery = new GalleryClassifier(net, means);
  means.dispose();
  const x = toyImages(8, 5);
  const labels = await predictLabels(gallery, x);
  return { enrol, gallery, x, labels };
}

test('identification: dodging and impersonation through the attacks, bare and defended, no tensors left', async () => {
  await initEngine({ backend: 'wasm', strict: true });
  const net = toyNet();
  const { enrol, gallery, x, labels } = await setUp(net);
  const before = tf.memory().numTensors;
  const attacks = parseSuite('apgd:max_iter=10');
  const dodge = await faceThreatSuite('identification', net, enrol, CLASSES, x, labels, attacks, { eps: 64, checks: false });
  assert.equal(dodge.suite.clean_accuracy, 1);
  assert.ok(dodge.suite.robust_accuracy < 1, 'a large eps dodges some probes');
  // Every probe counted broken is no longer ranked first as itself.
  assert.equal(dodge.suite.per_sample.length, 8);
  const imp = await faceThreatSuite('identification', net, enrol, CLASSES, x, labels, attacks, { eps: 64, threat: 'impersonation', checks: false });
  // The target is the nearest other gallery identity of the clean probe.
  const dt = tf.tidy(() => squaredDistances(net.descriptor(x), gallery.descriptors()));
  const d = await dt.array();
  dt.dispose();
  imp.suite.per_sample.forEach((s, i) => {
    const others = d[i].map((v, k) => (k === labels[i] ? Infinity : v));
    assert.equal(s.target, others.indexOf(Math.min(...others)));
  });
  assert.ok(imp.suite.success_rate > 0);
  const pipeline = await buildPipeline('jpeg:50');
  const defended = await faceThreatSuite('identification', net, enrol, CLASSES, x, labels, attacks, { eps: 64, checks: true, defend: (c) => new DefendedClassifier(c, pipeline, 0) });
  assert.ok(defended.suite.oblivious, 'defended runs report the oblivious number');
  assert.ok(defended.suite.checks.some((c) => c.check === 'oblivious number'));
  pipeline.dispose();
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, enrol.x]);
  gallery.dispose();
  net.dispose();
});

test('verification: the threshold holds the stated FAR on clean probes; dodging starts from the TAR, impersonation from all rejected', async () => {
  await initEngine({ backend: 'wasm', strict: true });
  const net = toyNet();
  const { enrol, gallery, x, labels } = await setUp(net);
  const attacks = parseSuite('apgd:max_iter=10');
  // FAR 0: τ is the smallest impostor distance, so no clean impostor is accepted.
  const dodge = await faceThreatSuite('verification', net, enrol, CLASSES, x, labels, attacks, { eps: 64, far: 0, checks: false });
  const t = dodge.threshold!;
  assert.equal(t.far, 0);
  assert.equal(t.impostor_pairs, 8 * (CLASSES - 1));
  assert.equal(t.genuine_pairs, 8);
  // Dodging attacks genuine claims: clean-correct = accepted = the TAR at τ.
  assert.equal(dodge.suite.clean_accuracy, t.tar);
  assert.equal(dodge.suite.per_sample.length, 8);
  assert.ok(dodge.suite.per_sample.every((s) => s.label === 1));
  const imp = await faceThreatSuite('verification', net, enrol, CLASSES, x, labels, attacks, { eps: 64, far: 0, threat: 'impersonation', checks: false });
  assert.equal(imp.suite.clean_accuracy, 1, 'every clean impostor claim is rejected at FAR 0');
  assert.ok(imp.suite.per_sample.every((s) => s.label === 0 && s.target === 1));
  assert.ok(imp.suite.success_rate > 0, 'a large eps gets some impostors accepted');
  assert.equal(imp.suite.robust_accuracy, 1 - imp.suite.success_rate);
  // τ set from more clean probes than are attacked: its pairs are the calibration set's, the attack the 3 probes'.
  const few = tf.slice(x, 0, 3);
  const calibrated = await faceThreatSuite('verification', net, enrol, CLASSES, few, labels.slice(0, 3), attacks, { eps: 64, far: 0, checks: false, calibration: { x, labels } });
  assert.deepEqual([calibrated.threshold!.impostor_pairs, calibrated.threshold!.genuine_pairs, calibrated.suite.samples], [8 * (CLASSES - 1), 8, 3]);
  assert.equal(calibrated.threshold!.threshold, t.threshold);
  few.dispose();
  tf.dispose([x, enrol.x]);
  gallery.dispose();
  net.dispose();
});
