import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { loadOnnxRuntime } from '../../src/engine/onnx/runtime.js';
import { LogitsClassifier } from '../../src/models/logits.js';
import { accelerate, NativeClassifier } from '../../src/models/native.js';
import { sidecarPath } from '../../src/models/recogniser.js';
import { relError } from '../helpers/numeric.js';
import { tinyOnnx } from '../helpers/tiny-onnx.js';
import { robustifyHere, smallDataset, tempDir } from './helpers.js';

const ort = await loadOnnxRuntime();

/** A 3-class logits ONNX net whose sidecar names faces14's first three identities. */
async function logitsModel(data: string): Promise<string> {
  const dir = await tempDir('logits');
  const file = await tinyOnnx(dir, { size: 11, logits: 3 });
  const labels = (await fs.readdir(data)).sort();
  await fs.writeFile(sidecarPath(file), JSON.stringify({ mean: 127.5, std: 128, output_kind: 'logits', labels }));
  return file;
}

test('a network whose output is logits is the classifier: TF.js and native agree; evaluate and attack take it as --model', async () => {
  await initEngine({ backend: 'cpu', strict: true });
  const data = await smallDataset(3, 5);
  const file = await logitsModel(data);
  const model = await LogitsClassifier.open(file);
  assert.equal(model.classes, 3);
  const before = tf.memory().numTensors;
  if (ort) {
    const native = await accelerate(model);
    assert.ok(native instanceof NativeClassifier);
    const x = tf.randomUniform([4, 23, 23, 3], 0, 255, 'float32', 2) as tf.Tensor4D;
    const y = tf.tensor1d([0, 1, 2, 0], 'int32');
    const [ln, lt, gn, gt] = [await native.predict(x), await model.predict(x), await native.lossGradient(x, y), await model.lossGradient(x, y)];
    assert.ok(relError(await ln.data(), await lt.data()) < 1e-5, 'logits');
    assert.ok(relError(await gn.data(), await gt.data()) < 1e-4, 'gradient');
    tf.dispose([x, y, ln, lt, gn, gt]);
    await native.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
  model.dispose();

  const ev = await robustifyHere(['evaluate', '--model', file, '--data', data, '--split', 'all', '--quiet']);
  assert.equal(ev.code, 0, ev.stderr);
  assert.match(ev.stdout, /accuracy/);
  const adv = path.join(await tempDir('logits-adv'), 'adv');
  const at = await robustifyHere(['attack', '--model', file, '--data', data, '--split', 'all', '--out', adv, '--eps', '8', '--eps-step', '2', '--max-iter', '5', '--quiet']);
  assert.equal(at.code, 0, at.stderr);
  const ea = await robustifyHere(['evaluate', '--model', file, '--adversarial', adv, '--quiet']);
  assert.equal(ea.code, 0, ea.stderr);
  const acc = (out: string) => Number(/^\s*accuracy\s+([\d.]+)/m.exec(out)![1]);
  assert.ok(acc(ea.stdout) <= acc(ev.stdout), `adversarial ${acc(ea.stdout)} vs clean ${acc(ev.stdout)}`);

  // An embedding network, or logits without class names, is refused in one line naming the file.
  await fs.writeFile(sidecarPath(file), JSON.stringify({ output_kind: 'logits' }));
  const bad = await robustifyHere(['evaluate', '--model', file, '--data', data, '--quiet']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: a logits output needs the spec's 'labels'`));
  await fs.rm(sidecarPath(file));
  const emb = await robustifyHere(['evaluate', '--model', file, '--data', data, '--quiet']);
  assert.match(emb.stderr, /is an embedding \(spec output_kind\)/);
  await Promise.all([data, path.dirname(file), path.dirname(adv)].map((d) => fs.rm(d, { recursive: true })));
});
