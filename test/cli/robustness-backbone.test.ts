import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { tinyOnnx } from '../helpers/tiny-onnx.js';
import { robustify, smallDataset, tempDir } from './helpers.js';

test('robustness on a user backbone loads faces at its input size (as evaluate does), takes --backbone for a moved file, and sets verification\'s threshold on the whole split', async () => {
  const dir = await tempDir('robustness-backbone');
  const data = await smallDataset(3, 5);
  // 9×9 input: faces loaded at 150×150 and shrunk inside the network would be other pixels than evaluate's.
  const net = await tinyOnnx(dir, { size: 9 });
  const spec = JSON.stringify({ mean: 127.5, std: 128 });
  const model = path.join(dir, 'model');
  const tr = await robustify(['train', '--data', data, '--identities', '3', '--backbone', net, '--backbone-spec', spec, '--out', model, '--quiet']);
  assert.equal(tr.code, 0, tr.stderr);
  const evJson = path.join(dir, 'evaluate.json');
  const ev = await robustify(['evaluate', '--model', model, '--data', data, '--split', 'all', '--json', evJson, '--quiet']);
  assert.equal(ev.code, 0, ev.stderr);
  const clean = (JSON.parse(await fs.readFile(evJson, 'utf8')) as { accuracy: number }).accuracy;

  const moved = path.join(dir, 'moved', 'tiny.onnx');
  await fs.mkdir(path.dirname(moved));
  await fs.rename(net, moved);
  const robustness = (json: string, extra: string[]) => robustify(['robustness', '--model', model, '--data', data, '--split', 'all', '--suite', 'fgsm', '--no-checks', '--json', json, '--quiet', ...extra]);
  const gone = await robustness(path.join(dir, 'r0.json'), []);
  assert.notEqual(gone.code, 0);
  assert.match(gone.stderr, /tiny\.onnx/);
  const rJson = path.join(dir, 'r.json');
  const rb = await robustness(rJson, ['--backbone', moved, '--backbone-spec', spec]);
  assert.equal(rb.code, 0, rb.stderr);
  const suite = (JSON.parse(await fs.readFile(rJson, 'utf8')) as { suite: { samples: number; clean_accuracy: number } }).suite;
  assert.equal(suite.samples, 15);
  assert.equal(suite.clean_accuracy, clean);

  // Verification with --limit: τ from the whole split's clean probes (15 × 2 impostor pairs), 4 faces attacked.
  const vJson = path.join(dir, 'v.json');
  const v = await robustness(vJson, ['--backbone', moved, '--backbone-spec', spec, '--recogniser', 'verification', '--far', '0.1', '--limit', '4']);
  assert.equal(v.code, 0, v.stderr);
  const vr = JSON.parse(await fs.readFile(vJson, 'utf8')) as { threshold: { impostor_pairs: number; genuine_pairs: number }; suite: { samples: number } };
  assert.deepEqual([vr.threshold.impostor_pairs, vr.threshold.genuine_pairs, vr.suite.samples], [30, 15, 4]);
  await Promise.all([dir, data].map((d) => fs.rm(d, { recursive: true })));
});
