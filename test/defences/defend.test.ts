/** `robustify defend`: file and folder modes, formats, seeds, errors, nothing half-written. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { registerDefend } from '../../src/cli/commands/defend.js';
import { UsageError } from '../../src/cli/run.js';
import { buildPipeline } from '../../src/defences/index.js';
import { decodeImage, imageToTensor, readF32 } from '../../src/image/index.js';
import { VECTORS } from './vectors.js';

async function defend(...args: string[]): Promise<void> {
  const program = new Command('robustify').option('--backend <name>').option('--quiet').exitOverride();
  registerDefend(program);
  await program.parseAsync(['--quiet', 'defend', ...args], { from: 'user' });
}

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'robustify-defend-'));
  try {
    await fn(dir);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

const face = path.join(VECTORS, 'in00.png');

test('file → .f32 equals the pipeline applied in memory; → .png decodes to the rounded values', async () => {
  await withTmp(async (dir) => {
    const out = path.join(dir, 'd.f32');
    await defend('--pipeline', 'median:3,jpeg:20', face, out);
    const img = await decodeImage(face);
    const got = await readF32(out, img.height, img.width);
    const x = tf.expandDims(imageToTensor(img), 0) as tf.Tensor4D;
    const y = await (await buildPipeline('median:3,jpeg:20')).apply(x);
    assert.deepEqual(got.data, await y.data());
    await defend('--pipeline', 'median:3,jpeg:20', face, path.join(dir, 'd.png'));
    assert.deepEqual((await decodeImage(path.join(dir, 'd.png'))).data, got.data);
    tf.dispose([x, y]);
  });
});

test('folder → folder mirrors names; --seed makes stochastic stages repeat', async () => {
  await withTmp(async (dir) => {
    const src = path.join(dir, 'in');
    await fsp.mkdir(path.join(src, 'sub'), { recursive: true });
    await fsp.copyFile(face, path.join(src, 'a.png'));
    await fsp.copyFile(path.join(VECTORS, 'in01.png'), path.join(src, 'sub', 'b.png'));
    await fsp.writeFile(path.join(src, 'notes.txt'), 'not an image');
    const run = async (name: string, seed: string): Promise<Buffer[]> => {
      const out = path.join(dir, name);
      await defend('--pipeline', 'gauss:10,tvm:max_iter=2', '--seed', seed, '--format', 'f32', src, out);
      return Promise.all(['a.f32', 'sub/b.f32'].map((f) => fsp.readFile(path.join(out, f))));
    };
    const [a1, a2, b] = [await run('o1', '5'), await run('o2', '5'), await run('o3', '6')];
    assert.deepEqual(a1, a2);
    assert.notDeepEqual(a1[0], b[0]);
    assert.deepEqual((await fsp.readdir(path.join(dir, 'o1'))).sort(), ['a.f32', 'sub']);
  });
});

test('bad parameters are usage errors; nothing is written', async () => {
  await withTmp(async (dir) => {
    const out = path.join(dir, 'x.png');
    await assert.rejects(defend('--pipeline', 'blur:3', face, out), (e) => e instanceof UsageError && /--pipeline: unknown defence 'blur'.*valid: jpeg, gauss, median, tvm, squeeze, bmcnn/.test(e.message));
    await assert.rejects(defend('--pipeline', 'jpeg:101', face, out), /--pipeline: jpeg: quality must be an integer in \[1, 100\], got 101/);
    await assert.rejects(defend('--pipeline', 'jpeg', '--seed', '-1', face, out), /--seed: expected a whole number/);
    await assert.rejects(defend('--pipeline', 'jpeg', face, path.join(dir, 'x.bmp')), /extension must be \.png or \.f32/);
    await assert.rejects(defend('--pipeline', 'jpeg', path.join(dir, 'missing.png'), out), /IN .*missing\.png: no such file or folder/);
    await assert.rejects(defend('--pipeline', 'bmcnn:0.1', face, out), /--pipeline: bmcnn: sigma must be a number in \[0\.5, 100\], got 0\.1/);
    const full = path.join(dir, 'full');
    await fsp.mkdir(full);
    await fsp.writeFile(path.join(full, 'keep'), '');
    await assert.rejects(defend('--pipeline', 'jpeg', VECTORS, full), /OUT '.*full' exists and is not empty; choose a new or empty folder/);
    // A corrupt image in a folder: the error names it, and neither OUT nor its temporary folder remains.
    const src = path.join(dir, 'src');
    await fsp.mkdir(src);
    await fsp.copyFile(face, path.join(src, 'a.png'));
    await fsp.writeFile(path.join(src, 'b.png'), 'garbage');
    await assert.rejects(defend('--pipeline', 'jpeg', src, path.join(dir, 'o')), /b\.png/);
    assert.deepEqual((await fsp.readdir(dir)).sort(), ['full', 'src']);
  });
});
