import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { robustify, robustifyHere, smallDataset, tempDir } from './helpers.js';
import { initEngine } from '../../src/engine/backend.js';
import { listDataset, selectIdentities } from '../../src/data/index.js';
import { FaceClassifier } from '../../src/models/classifier.js';
import { PAPER_CONFIG } from '../../src/study/config.js';
import { StepCache } from '../../src/study/cache.js';
import { accuracyOf, PipelineEvaluator } from '../../src/study/evaluator.js';
import { studyData, testSet } from '../../src/study/steps.js';

/** The study's view of `pipeline` on the test split (its data steps and evaluator, TF.js wasm, `seed`). */
async function studyEvaluation(modelDir: string, data: string, pipeline: string, seed: number): Promise<{ accuracy: number; recalls: number[] }> {
  await initEngine({ backend: 'wasm' });
  const model = await FaceClassifier.load(modelDir);
  try {
    const selection = selectIdentities(await listDataset(data), model.identities);
    const set = await testSet(await studyData(selection, PAPER_CONFIG, {}), {});
    const evaluator = new PipelineEvaluator(model, 'test-model', new StepCache(await tempDir('cache')), seed);
    const pred = await evaluator.predictions(pipeline, set);
    const labels = [...new Set([...set.labels, ...pred])].sort((a, b) => a - b);
    const recalls = labels.map((l) => {
      const rows = set.labels.map((y, i) => [y, pred[i]]).filter(([y]) => y === l);
      return rows.length ? rows.filter(([, p]) => p === l).length / rows.length : 0;
    });
    return { accuracy: accuracyOf(pred, set.labels), recalls };
  } finally {
    model.dispose();
  }
}

// Small and quick: 3 identities × 10 faces (8 train / 2 test each), a narrow head, few epochs, 3 PGD steps.
// Commands run in-process (robustifyHere: no start-up per command), but for the TF.js-only evaluations.
const QUICK_TRAIN = ['--identities', '3', '--epochs', '4', '--hidden', '64', '--patience', '2', '--validation', '0.15', '--quiet'];

test('train → evaluate → attack → evaluate the adversarial set, with and without a defence', async () => {
  const data = await smallDataset(3, 10);
  const work = await tempDir('work');
  const model = path.join(work, 'model');
  const tr = await robustifyHere(['train', '--data', data, '--out', model, ...QUICK_TRAIN]);
  assert.equal(tr.code, 0, tr.stderr);
  assert.match(tr.stdout, /balanced accuracy/);
  const meta = JSON.parse(await fsp.readFile(path.join(model, 'model.json'), 'utf8'));
  assert.equal(meta.identities.length, 3);
  assert.equal(meta.clean_scores.samples, 6);

  const json = path.join(work, 'eval.json');
  const ev = await robustifyHere(['evaluate', '--model', model, '--data', data, '--json', json, '--quiet']);
  assert.equal(ev.code, 0, ev.stderr);
  const report = JSON.parse(await fsp.readFile(json, 'utf8'));
  for (const k of ['accuracy', 'balanced_accuracy', 'macro_avg', 'weighted_avg', 'per_class']) assert.ok(k in report, k);
  assert.equal(report.accuracy, meta.clean_scores.accuracy);

  const adv = path.join(work, 'adv');
  const at = await robustifyHere(['attack', '--model', model, '--data', data, '--out', adv, '--eps', '4', '--eps-step', '1', '--max-iter', '3', '--batch-size', '4', '--quiet']);
  assert.equal(at.code, 0, at.stderr);
  const index = JSON.parse(await fsp.readFile(path.join(adv, 'index.json'), 'utf8'));
  assert.equal(index.complete, true);
  assert.equal(index.items.length, 6);
  for (const item of index.items) {
    assert.ok(item.linf <= 4 + 1e-4, `linf ${item.linf}`);
    assert.ok(existsSync(path.join(adv, item.file)) && existsSync(path.join(adv, item.preview)));
  }
  // Resuming a finished run recomputes nothing and keeps the items.
  const again = await robustifyHere(['attack', '--model', model, '--data', data, '--out', adv, '--eps', '4', '--eps-step', '1', '--max-iter', '3', '--batch-size', '4', '--quiet']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(JSON.parse(await fsp.readFile(path.join(adv, 'index.json'), 'utf8')).items.length, 6);

  // A stochastic pipeline scores the same through `evaluate --defence` as through the study's evaluator (one
  // applier, same seed); --eot 1 is that same evaluation.
  for (const pipeline of ['gauss:90', 'median:3,tvm:prob=0.5']) {
    const viaCli = path.join(work, 'defended.json');
    const ed = await robustify(['evaluate', '--model', model, '--data', data, '--defence', pipeline, '--seed', '4', '--json', viaCli, '--quiet'], { ROBUSTIFY_NATIVE: '0' });
    assert.equal(ed.code, 0, ed.stderr);
    const cliReport = JSON.parse(await fsp.readFile(viaCli, 'utf8'));
    const study = await studyEvaluation(model, data, pipeline, 4);
    assert.equal(cliReport.accuracy, study.accuracy, `${pipeline}: evaluate --defence vs the study's evaluator`);
    assert.deepEqual(cliReport.per_class.map((c: { recall: number }) => c.recall), study.recalls, pipeline);
    const e1 = await robustify(['evaluate', '--model', model, '--data', data, '--defence', pipeline, '--seed', '4', '--eot', '1', '--json', viaCli, '--quiet'], { ROBUSTIFY_NATIVE: '0' });
    assert.equal(e1.code, 0, e1.stderr);
    const eot = JSON.parse(await fsp.readFile(viaCli, 'utf8'));
    assert.equal(eot.accuracy, study.accuracy);
    assert.equal(eot.eot.draws, 1);
  }
  const e5 = await robustifyHere(['evaluate', '--model', model, '--data', data, '--defence', 'gauss:90', '--eot', '5', '--quiet']);
  assert.equal(e5.code, 0, e5.stderr);
  assert.match(e5.stdout, /eot: 5 draws; majority-vote accuracy [\d.]+; wrong draws [\d.]+/);
  const noDefence = await robustifyHere(['evaluate', '--model', model, '--data', data, '--eot', '3', '--quiet']);
  assert.notEqual(noDefence.code, 0);
  assert.match(noDefence.stderr, /--eot: needs --defence/);

  const ea = await robustifyHere(['evaluate', '--model', model, '--adversarial', adv, '--defence', 'median:3,jpeg:40', '--quiet']);
  assert.equal(ea.code, 0, ea.stderr);
  assert.match(ea.stdout, /accuracy/);

  // Any registered attack by name, its parameters as flags or --param; a parameter it lacks is a usage error.
  const sq = await robustifyHere(['attack', '--model', model, '--data', data, '--out', path.join(work, 'adv-square'), '--attack', 'square', '--param', 'nb_queries=5', '--quiet']);
  assert.equal(sq.code, 0, sq.stderr);
  assert.match(sq.stdout, /square: model queries per image median \d/);
  const badParam = await robustifyHere(['attack', '--model', model, '--data', data, '--out', path.join(work, 'adv-bad'), '--attack', 'fgsm', '--max-iter', '3']);
  assert.notEqual(badParam.code, 0);
  assert.match(badParam.stderr, /--max-iter: the fgsm attack has no parameter max_iter/);
  const step0 = await robustifyHere(['attack', '--model', model, '--data', data, '--out', path.join(work, 'adv-bad'), '--eps-step', '0']);
  assert.match(step0.stderr, /--eps-step: pgd: eps_step must be a number > 0/);

  const rjson = path.join(work, 'robustness.json');
  const rb = await robustifyHere(['robustness', '--model', model, '--data', data, '--defence', 'jpeg:40', '--suite', 'apgd:max_iter=4,square:nb_queries=5', '--limit', '4', '--min-perturbation', '--min-attack', 'pgd:max_iter=2', '--json', rjson, '--quiet']);
  assert.equal(rb.code, 0, rb.stderr);
  assert.match(rb.stdout, /after apgd:max_iter=4: robust accuracy/);
  assert.match(rb.stdout, /worst case over the suite/);
  assert.match(rb.stdout, /minimum perturbation .* median/);
  const rr = JSON.parse(await fsp.readFile(rjson, 'utf8'));
  assert.equal(rr.suite.samples, 4);
  assert.equal(rr.suite.steps.length, 2);
  assert.ok(rr.suite.checks.some((c: { check: string }) => c.check === 'oblivious number'));
  assert.equal(rr.min_perturbation.eps.length, 4);

  const emb = await robustifyHere(['embed', path.join(data, (await fsp.readdir(data))[0], '000.png'), '--json']);
  assert.equal(emb.code, 0, emb.stderr);
  const rows = JSON.parse(emb.stdout);
  assert.equal(rows[0].descriptor.length, 128);
});

test('bad inputs: one clear line naming the file or parameter, non-zero exit, no partial MODEL_DIR', async () => {
  const data = await smallDataset(2, 6);
  const work = await tempDir('bad');
  const first = path.join(data, (await fsp.readdir(data)).sort()[0]);
  const cases: { name: string; setup?: () => Promise<void>; args: (out: string) => string[]; expect: RegExp }[] = [
    { name: 'missing --data', args: (out) => ['train', '--data', path.join(work, 'nope'), '--out', out], expect: /--data: no such directory/ },
    { name: '--identities 0', args: (out) => ['train', '--data', data, '--identities', '0', '--out', out], expect: /--identities/ },
    { name: '--identities too many', args: (out) => ['train', '--data', data, '--identities', '9', '--out', out], expect: /--identities: 9 requested .* only 2/ },
    { name: 'empty identity folder', setup: () => fsp.mkdir(path.join(data, 'Zz_Empty')).then(() => undefined), args: (out) => ['train', '--data', data, '--identities', '2', '--out', out], expect: /Zz_Empty.*no images/ },
  ];
  for (const c of cases) {
    await c.setup?.();
    const out = path.join(work, c.name.replace(/\W+/g, '_'));
    const r = await robustifyHere(c.args(out));
    assert.notEqual(r.code, 0, `${c.name}: exit code`);
    assert.match(r.stderr, c.expect, c.name);
    assert.equal(r.stderr.trim().split('\n').length, 1, `${c.name}: one line, got ${r.stderr}`);
    assert.ok(!existsSync(out), `${c.name}: ${out} left behind`);
  }
  await fsp.rm(path.join(data, 'Zz_Empty'), { recursive: true });

  // Corrupt images: 0 bytes, a truncated PNG, text named .jpg.
  const png = await fsp.readFile(path.join(first, '000.png'));
  await fsp.writeFile(path.join(first, '100_empty.png'), Buffer.alloc(0));
  await fsp.writeFile(path.join(first, '101_truncated.png'), png.subarray(0, Math.floor(png.length / 2)));
  await fsp.writeFile(path.join(first, '102_text.jpg'), 'not an image\n');
  const out = path.join(work, 'corrupt');
  const r = await robustifyHere(['train', '--data', data, '--identities', '2', '--out', out, '--quiet', '--epochs', '1', '--hidden', '16']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /cannot decode image '.*(100_empty\.png|101_truncated\.png|102_text\.jpg)'/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.ok(!existsSync(out));

  const ok = await robustifyHere(['train', '--data', data, '--identities', '2', '--out', out, '--quiet', '--epochs', '1', '--hidden', '16', '--skip-bad']);
  assert.equal(ok.code, 0, ok.stderr);
  for (const f of ['100_empty.png', '101_truncated.png', '102_text.jpg']) assert.match(ok.stderr, new RegExp(`skipped .*${f.replace('.', '\\.')}`));
  assert.ok(existsSync(path.join(out, 'model.json')));
});

test('train --prepare detects and aligns raw photos first, and reuses the cache', async () => {
  const raw = await tempDir('raw');
  const samples = path.resolve('node_modules/@vladmandic/face-api/demo');
  for (const [who, photos] of [['A', [1, 2, 3]], ['B', [4, 5, 6]]] as const) {
    await fsp.mkdir(path.join(raw, who));
    for (const k of photos) await fsp.copyFile(path.join(samples, `sample${k}.jpg`), path.join(raw, who, `p${k}.jpg`));
  }
  const work = await tempDir('prep');
  const cache = path.join(work, 'cache');
  const args = ['train', '--data', raw, '--prepare', '--prepare-cache', cache, '--identities', '2', '--epochs', '1', '--hidden', '8', '--validation', '0.34'];
  const r = await robustifyHere([...args, '--out', path.join(work, 'm1')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /prepare: 6 faces from 6 photos/);
  const manifest = await fsp.readFile(path.join(cache, 'manifest.json'), 'utf8');
  assert.match(manifest, /p1\.jpg/);
  const again = await robustifyHere([...args, '--out', path.join(work, 'm2')]);
  assert.equal(again.code, 0, again.stderr);
  assert.ok(existsSync(path.join(work, 'm2', 'model.json')));
});
