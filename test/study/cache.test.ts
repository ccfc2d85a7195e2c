/** The study's step cache: keys from canonical inputs, each entry computed once, atomic files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StepCache } from '../../src/study/cache.js';

test('a key depends on the inputs, not on how their objects were written', () => {
  const cache = new StepCache('/unused');
  assert.equal(cache.key('eval', { a: 1, b: [1, 2] }), cache.key('eval', { b: [1, 2], a: 1 }));
  assert.notEqual(cache.key('eval', { a: 1 }), cache.key('eval', { a: 2 }));
  assert.notEqual(cache.key('eval', { a: 1 }), cache.key('pgd', { a: 1 }));
  assert.match(cache.key('pgd', {}), /^pgd-[0-9a-f]{16}$/);
});

test('json, floats and dirs are computed once, then read back; a new cache over the same folder finds them', async () => {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'robustify-cache-'));
  const cache = new StepCache(root);
  let calls = 0;
  const value = { y_pred: [3, 1, 2] };
  assert.deepEqual(await cache.json('eval-x', async () => (calls++, value)), value);
  assert.deepEqual(await cache.json('eval-x', async () => (calls++, { y_pred: [] })), value);
  const floats = Float32Array.from([0.5, 255, -0, 1e-7]);
  assert.deepEqual(await cache.floats('pgd-x', async () => (calls++, floats)), floats);
  const dir = await cache.dir('model-x', async (tmp) => fsp.writeFile(path.join(tmp, 'model.json'), '{}'));
  assert.equal(calls, 2);
  const again = new StepCache(root);
  assert.deepEqual(await again.floats('pgd-x', () => Promise.reject(new Error('recomputed'))), floats);
  assert.equal(await again.dir('model-x', () => Promise.reject(new Error('recomputed'))), dir);
  assert.ok(await again.hasFloats('pgd-x'));
  assert.equal(await again.hasFloats('pgd-y'), false);
  assert.deepEqual(again.stats, { reused: ['pgd-x', 'model-x'], computed: [] });
  // Nothing but the entries themselves: no temporary files left behind.
  assert.deepEqual((await fsp.readdir(root)).sort(), ['eval-x.json', 'model-x', 'pgd-x.f32']);
});

test('a failing step leaves no entry behind', async () => {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'robustify-cache-'));
  const cache = new StepCache(root);
  await assert.rejects(cache.dir('model-y', async () => Promise.reject(new Error('training failed'))), /training failed/);
  await assert.rejects(cache.json('eval-y', async () => Promise.reject(new Error('no'))), /no/);
  assert.deepEqual((await fsp.readdir(root)).filter((f) => !f.startsWith('.')), []);
});
