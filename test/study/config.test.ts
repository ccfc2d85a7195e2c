/** The study configuration: defaults, the quick preset, user files, and errors that name the key. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadStudyConfig, mergeConfig, PAPER_CONFIG, validateConfig } from '../../src/study/config.js';
import { canonicalJson, hashOf } from '../../src/study/cache.js';

test("the defaults are the paper's protocol, pipelines in canonical form", async () => {
  const c = await loadStudyConfig(undefined, false);
  assert.equal(c.identities, 14);
  assert.deepEqual({ eps: c.attack.eps, eps_step: c.attack.eps_step, max_iter: c.attack.max_iter, norm: c.attack.norm }, { eps: 4, eps_step: 0.1, max_iter: 100, norm: 'inf' });
  assert.equal(c.pipelines.best, 'jpeg:quality=20,gauss:sigma=15,bmcnn:sigma=20,ensemble=0');
  assert.deepEqual(c.curves.eps, [0, 0.5, 1, 2, 4, 8]);
  assert.deepEqual(c.curves.iterations, [1, 5, 10, 25, 100]);
  // The robust section: the bare model, the paper's best, the searched best.
  assert.deepEqual(c.robust.pipelines, ['none', c.pipelines.best, '@best']);
  assert.deepEqual(mergeConfig(PAPER_CONFIG, { robust: { pipelines: [] } }).robust.pipelines, []);
  const q = await loadStudyConfig(undefined, true);
  assert.ok(q.identities < c.identities && q.attack.max_iter < c.attack.max_iter);
});

test('a user file overrides single keys; equal configurations hash equally however written', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'robustify-config-'));
  const file = path.join(dir, 'study.json');
  await fsp.writeFile(file, JSON.stringify({ seed: 7, attack: { eps: 8 }, curves: { eps: [0, 8] }, search: { candidates: ['jpeg:quality=20', 'median:3'] } }));
  const c = await loadStudyConfig(file, false);
  assert.equal(c.seed, 7);
  assert.equal(c.attack.eps, 8);
  assert.equal(c.attack.eps_step, 0.1);
  assert.deepEqual(c.search.candidates, ['jpeg:quality=20', 'median:window_size=3']);
  const again = mergeConfig(PAPER_CONFIG, { seed: 7, attack: { eps: 8 }, curves: { eps: [0, 8] }, search: { candidates: ['jpeg:20', 'median:window_size=3'] } });
  assert.equal(hashOf(again), hashOf(c));
  assert.equal(canonicalJson({ b: 1, a: [2, { d: 1, c: 2 }] }), '{"a":[2,{"c":2,"d":1}],"b":1}');
});

test('bad configurations name the key', async () => {
  const bad: [unknown, RegExp][] = [
    [{ seeds: 1 }, /unknown key 'seeds'/],
    [{ attack: { epsilon: 4 } }, /unknown key 'attack.epsilon'/],
    [{ attack: { eps: -1 } }, /attack.eps must be/],
    [{ curves: { eps: [0, 1] } }, /curves.eps must be a list that includes attack.eps/],
    [{ search: { candidates: ['jpeg:20', 'blur:3'] } }, /search.candidates\[1\]: pipeline: unknown defence 'blur'/],
    [{ train: 3 }, /train must be an object/],
    [{ robust: { pipelines: ['none', 'jpeg:101'] } }, /robust.pipelines\[1\]: jpeg: quality must be/],
  ];
  for (const [over, re] of bad) assert.throws(() => mergeConfig(PAPER_CONFIG, over), re);
  assert.throws(() => validateConfig({ ...PAPER_CONFIG, identities: 1 }), /identities must be a whole number ≥ 2/);
  await assert.rejects(loadStudyConfig('/nonexistent/study.json', false), /config: cannot read '\/nonexistent\/study.json'/);
});
