/**
 * examples/plugin: a defence and an attack added from outside src/, through the package's public entries
 * only, run in a pipeline and in a tiny study (a tiny ONNX backbone on two identities).
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { attackNames, createDefence, defenceNames, initEngine, parsePipeline } from 'robustify';
import { pipelineDemo, pluginStudy } from '../../examples/plugin/run.js';
import { registerPlugin } from '../../examples/plugin/index.js';
import { mlpClassifier, toyImages } from '../helpers/toy-classifier.js';
import { tinyOnnx } from '../helpers/tiny-onnx.js';
import { smallDataset, tempDir } from '../cli/helpers.js';

before(async () => {
  await initEngine({ backend: 'cpu' });
});

test('plugin: registered by one explicit call; its defence parses, validates and pixelates; its attack is nameable', async () => {
  registerPlugin();
  assert.ok(defenceNames().includes('pixelate') && attackNames().includes('noise'));
  assert.equal(String(parsePipeline('pixelate:4,jpeg:20').map((s) => s.name)), 'pixelate,jpeg');
  assert.throws(() => parsePipeline('pixelate:0'), /pixelate: block_size must be an integer in \[1, 32\], got 0/);
  const p = await createDefence('pixelate', { block_size: 2 });
  const x = tf.tensor4d([0, 10, 20, 30], [1, 2, 2, 1]);
  const y = await p.apply(x);
  assert.deepEqual(Array.from(y.dataSync()), [15, 15, 15, 15]);
  tf.dispose([x, y]);
});

test('plugin: its attack and defence in a pipeline in front of a classifier', async () => {
  const model = mlpClassifier(5);
  const x = toyImages(8);
  const before = tf.memory().numTensors;
  const r = await pipelineDemo(model, x);
  assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
  assert.equal(r.clean.length, 8);
  assert.ok(r.attacked.some((l, i) => l !== r.clean[i]), `the noise attack changes some label: ${r.clean} → ${r.attacked}`);
  assert.equal(r.defended.length, 8);
  tf.dispose(x);
  model.dispose();
});

test('plugin: its defence and attack in a study (tables, defence rows, robust suite)', async () => {
  const dir = await tempDir('plugin-study');
  const data = await smallDataset(2, 12);
  const model = await tinyOnnx(dir, { size: 32 });
  const run = await pluginStudy(data, path.join(dir, 'report'), { kind: 'file', path: model, spec: { mean: 127.5, std: 128 } });
  const r = run.results;
  assert.ok(r.defences.some((d) => d.pipeline === 'pixelate:block_size=2'), r.defences.map((d) => d.pipeline).join(' '));
  assert.equal(r.search.evaluated, 3);
  for (const row of r.robust.rows) assert.deepEqual(row.suite.map((s) => s.attack), ['noise:nb_trials=3']);
  await fsp.access(path.join(dir, 'report', 'report.html'));
  await fsp.rm(dir, { recursive: true });
  await fsp.rm(data, { recursive: true });
});
