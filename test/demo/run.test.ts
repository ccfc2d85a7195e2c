import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { registerDemo } from '../../src/cli/commands/demo.js';
import { loadDetector, warpSimilarity } from '../../src/data/prepare/index.js';
import { initEngine } from '../../src/engine/backend.js';
import type { FaceRecognitionNet } from '../../src/models/backbone.js';
import { checkOutput } from '../../src/util/output.js';
import { mobileFaceNetPath } from '../helpers/test-models.js';
import { DEMO_OUTPUT, GalleryClassifier, makeProbe, matchesFromDistances, squaredDistances, type DemoResults } from '../../src/demo/run.js';

test('gallery logits: argmax is the nearest descriptor and distances come back from the logits', async () => {
  await initEngine({ backend: 'wasm', strict: true });
  const before = tf.memory().numTensors;
  const g = tf.tensor2d([[0, 0, 0], [1, 0, 0], [0, 2, 0]]);
  const d = tf.tensor2d([[0.9, 0.1, 0], [0.1, 1.7, 0.2]]);
  // Only the descriptor-level methods are used here, so no backbone is needed.
  const gallery = new GalleryClassifier(undefined as unknown as FaceRecognitionNet, g, 0.1);
  const logits = gallery.logitsOfDescriptors(d);
  const dist = gallery.distancesFromLogits(logits);
  const sq = squaredDistances(d, g);
  const expected = [
    [Math.hypot(0.9, 0.1), Math.hypot(0.1, 0.1), Math.hypot(0.9, 1.9)],
    [Math.hypot(0.1, 1.7, 0.2), Math.hypot(0.9, 1.7, 0.2), Math.hypot(0.1, 0.3, 0.2)],
  ];
  const got = (await dist.array()) as number[][];
  got.forEach((row, i) => row.forEach((v, k) => assert.ok(Math.abs(v - expected[i][k]) < 1e-5, `distance ${i},${k}: ${v} vs ${expected[i][k]}`)));
  const sqv = (await sq.array()) as number[][];
  sqv.forEach((row, i) => row.forEach((v, k) => assert.ok(Math.abs(v - expected[i][k] ** 2) < 1e-5)));
  const m = await matchesFromDistances(dist, [1, 0]);
  assert.deepEqual(m.map((x) => x.pred), [1, 2]);
  assert.ok(Math.abs(m[1].true_distance - expected[1][0]) < 1e-5);
  const argmax = tf.argMax(logits, 1);
  assert.deepEqual(Array.from(await argmax.data()), [1, 2]);
  tf.dispose([g, d, logits, dist, sq, argmax]);
  gallery.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('a probe with the identity transform is the gallery chip itself; brightness scales, flip mirrors', () => {
  const photo = { data: Float32Array.from({ length: 40 * 30 * 3 }, (_, i) => (i * 7) % 200), height: 40, width: 30 };
  const toPhoto = { a: 0.8, b: 0.1, tx: 3, ty: 5 };
  const chip = warpSimilarity(photo, toPhoto, 20, 20);
  const same = makeProbe(photo, toPhoto, 20, { shift: [0, 0], scale: 1, rotation_deg: 0, flip: false, brightness: 1 });
  same.data.forEach((v, i) => assert.ok(Math.abs(v - chip.data[i]) < 1e-4, `pixel value ${i}`));
  const flipped = makeProbe(photo, toPhoto, 20, { shift: [0, 0], scale: 1, rotation_deg: 0, flip: true, brightness: 1.1 });
  for (const [y, x, c] of [[0, 0, 0], [7, 3, 2], [19, 12, 1]]) {
    const want = Math.min(255, chip.data[(y * 20 + (19 - x)) * 3 + c] * 1.1);
    assert.ok(Math.abs(flipped.data[(y * 20 + x) * 3 + c] - want) < 1e-3);
  }
});

test('--out that holds something else is refused before any work', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'demo-out-'));
  try {
    await fsp.writeFile(path.join(dir, 'keep.txt'), 'mine');
    const check = (p: string) => checkOutput({ label: '--out', path: p, type: 'dir', kind: DEMO_OUTPUT, existing: 'resume' });
    await assert.rejects(check(dir), /--out '.*' exists and holds files robustify did not write \(it is not a robustify demo\)/);
    assert.equal((await check(path.join(dir, 'new'))).state, 'new'); // absent: fine
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

/** `robustify --quiet demo ARGS` in this process; its stdout. */
async function demoCli(args: string[]): Promise<string> {
  const program = new Command('robustify').option('--backend <name>').option('--quiet').exitOverride();
  registerDemo(program);
  let stdout = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(['node', 'robustify', '--quiet', 'demo', ...args]);
  } finally {
    process.stdout.write = write;
  }
  return stdout;
}

test('robustify demo --quick: report files, sane results, no tensor leak', async () => {
  await initEngine({ backend: 'wasm', strict: true });
  await loadDetector(); // its weights stay loaded for the process: load them before counting tensors
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'demo-'));
  const out = path.join(dir, 'demo-out');
  const before = tf.memory().numTensors;
  const stdout = await demoCli(['--quick', '--seed', '3', '--out', out]);
  try {
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    assert.match(stdout, /clean rank-1/);
    assert.match(stdout, /^none\s/m);
    assert.deepEqual((await fsp.readdir(out)).sort(), ['contact-sheet.png', 'report.md', 'results.json']);
    const png = await fsp.readFile(path.join(out, 'contact-sheet.png'));
    assert.deepEqual([...png.subarray(1, 4)], [...Buffer.from('PNG')]);
    const report = await fsp.readFile(path.join(out, 'report.md'), 'utf8');
    assert.match(report, /\| `jpeg:20` \|/);

    const r = JSON.parse(await fsp.readFile(path.join(out, 'results.json'), 'utf8')) as DemoResults;
    assert.equal(r.format, 'robustify-demo/1');
    assert.equal(r.settings.seed, 3);
    assert.equal(r.settings.quick, true);
    const n = r.gallery.length;
    assert.ok(n >= 2, `gallery of ${n}`);
    assert.equal(r.probes.length, n);
    for (const p of r.probes) {
      assert.ok(p.clean.true_distance >= p.clean.nearest_distance - 1e-6);
      assert.ok(p.linf <= r.settings.attack.eps + 1e-3, `|δ|∞ ${p.linf} over eps`);
    }
    // Probes are views of the gallery faces: matched, and well inside face-api's 0.6 threshold.
    assert.ok(r.clean.rank1 >= 0.6, `clean rank-1 ${r.clean.rank1}`);
    assert.ok(r.clean.mean_true_distance < 0.45, `clean distance ${r.clean.mean_true_distance}`);
    assert.ok(r.adversarial.rank1 < r.clean.rank1, `attack did not lower rank-1 (${r.adversarial.rank1})`);
    assert.ok(r.adversarial.mean_true_distance > r.clean.mean_true_distance);
    assert.deepEqual(r.defences.map((d) => d.pipeline), ['jpeg:20', 'median:3,jpeg:20']);
    assert.equal(r.defences[1].canonical, 'median:window_size=3,jpeg:quality=20');
    for (const d of r.defences) {
      for (const s of [d.clean, d.adversarial]) {
        assert.equal(s.total, n);
        assert.ok(s.correct >= 0 && s.correct <= n && Math.abs(s.rank1 - s.correct / n) < 1e-4);
      }
    }
    assert.ok(r.best_pipeline && r.defences.some((d) => d.pipeline === r.best_pipeline));
    assert.ok(r.adaptive && r.adaptive.pipeline === r.best_pipeline && r.adaptive.defended.total === n);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('robustify demo --backbone MobileFaceNet (TF.js): its 112×112 ArcFace chips form the gallery, PGD moves probes away', async () => {
  const file = await mobileFaceNetPath();
  if (!file) return;
  await initEngine({ backend: 'wasm', strict: true });
  await loadDetector();
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'demo-mfn-'));
  const out = path.join(dir, 'demo-out');
  const before = tf.memory().numTensors;
  try {
    const stdout = await demoCli(['--quick', '--seed', '3', '--out', out, '--backbone', file]);
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    assert.match(stdout, /^none\s/m);
    const r = JSON.parse(await fsp.readFile(path.join(out, 'results.json'), 'utf8')) as DemoResults;
    assert.equal(r.settings.backbone, "mobilefacenet.json (embedding 'embeddings')");
    const n = r.gallery.length;
    assert.ok(n >= 2 && r.probes.length === n, `gallery of ${n}`);
    for (const p of r.probes) assert.ok(p.linf <= r.settings.attack.eps + 1e-3, `|δ|∞ ${p.linf} over eps`);
    assert.ok(r.adversarial.mean_true_distance > r.clean.mean_true_distance, `attack did not move probes away (${r.adversarial.mean_true_distance} vs ${r.clean.mean_true_distance})`);
    assert.ok(r.adversarial.correct <= r.clean.correct);
    // One contact-sheet row per face, each tile the network's 112×112 input (not the built-in net's 150×150),
    // framed (3 px a side) and spaced (2 px).
    const { height } = await sharp(path.join(out, 'contact-sheet.png')).metadata();
    assert.equal(height, n * (112 + 2 * 3 + 2) + 2);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});
