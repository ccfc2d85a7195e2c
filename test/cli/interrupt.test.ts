/**
 * Interrupted runs: each long command SIGKILLed at two points (after the k-th progress line: early, then in a
 * run that itself resumed or cleared up), then run again: after every kill there is no half-written output
 * (nothing, or a state the next run resumes, which it says in its first line), and the last run ends complete
 * and correct. SIGINT removes the temporaries in flight.
 * The study's kills and its terminal check are in test/study/study.test.ts, on its one quick study.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { CLI, robustify, robustifyHere, smallDataset, tempDir } from './helpers.js';

// Every progress update is a line, so kills can be placed by progress.
const ENV = { ROBUSTIFY_PROGRESS_SECONDS: '0' };

interface Stopped {
  killed: boolean;
  code: number | null;
  stderr: string;
}

/** Run the CLI and send `signal` once `when` matches its stderr so far. */
function runUntil(args: string[], when: (stderr: string) => boolean, signal: NodeJS.Signals = 'SIGKILL'): Promise<Stopped> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...ENV } });
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!sent && when(stderr)) {
        sent = true;
        child.kill(signal);
      }
    });
    child.on('exit', (code) => resolve({ killed: sent, code, stderr }));
  });
}

/** The k-th line of stderr matching `re` has appeared. */
const nth = (re: RegExp, k: number) => (s: string) => s.split('\n').filter((l) => re.test(l)).length >= k;

/** A progress line `<label>: <done>/…` with done ≥ `min` has appeared. */
const reached = (label: string, min: number) => (s: string) =>
  s.split('\n').some((l) => l.startsWith(`${label}: `) && Number(/^[^:]+: (\d+)\//.exec(l)?.[1] ?? -1) >= min);

/** Hidden temporaries robustify left in `dir`. */
async function leftovers(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir)).filter((n) => /\.tmp(\.old|\.owner)?$/.test(n));
}

/** Kills at the given points, each followed by `check`; the next run states first what it found. */
async function killAt(args: string[], points: ((s: string) => boolean)[], check: (i: number) => Promise<void>, firstLine?: RegExp): Promise<void> {
  for (const [i, when] of points.entries()) {
    const r = await runUntil(args, when);
    assert.ok(r.killed, `kill point ${i + 1} was reached: ${r.stderr}`);
    if (i > 0 && firstLine) assert.match(r.stderr.split('\n')[0], firstLine, `run ${i + 1} says first what the killed one left`);
    await check(i);
  }
}

const TRAIN = ['--identities', '2', '--epochs', '6', '--hidden', '16', '--patience', '6', '--batch-size', '4'];

const shared = (async () => {
  const data = await smallDataset(2, 6);
  const work = await tempDir('interrupt');
  const model = path.join(work, 'model');
  // The fixture, not a subject: trained in this process.
  const r = await robustifyHere(['train', '--data', data, '--out', model, ...TRAIN, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  return { data, work, model };
})();

test('train killed at 2 points leaves no model folder; the next run clears the leftovers and says so', async () => {
  const { data } = await shared;
  const work = await tempDir('kill-train');
  const out = path.join(work, 'm');
  const args = ['train', '--data', data, '--out', out, ...TRAIN];
  const points = [nth(/^features: /, 1), reached('epochs', 5)];
  await killAt(args, points, async () => assert.ok(!existsSync(out), 'no half-written MODEL_DIR'), /^robustify: removed what a killed run|^engine:/);
  const last = await robustify(args);
  assert.equal(last.code, 0, last.stderr);
  assert.ok(JSON.parse(await fsp.readFile(path.join(out, 'model.json'), 'utf8')).identities.length === 2);
  assert.deepEqual(await leftovers(work), []);
});

test('attack killed at 2 points leaves a resumable set; the last run completes it exactly', async () => {
  const { data, model } = await shared;
  const work = await tempDir('kill-attack');
  const out = path.join(work, 'adv');
  const args = ['attack', '--model', model, '--data', data, '--split', 'all', '--out', out, '--eps-step', '1', '--max-iter', '3', '--batch-size', '2'];
  const check = async (): Promise<void> => {
    if (!existsSync(out)) return;
    const index = JSON.parse(await fsp.readFile(path.join(out, 'index.json'), 'utf8'));
    for (const it of index.items) assert.equal((await fsp.stat(path.join(out, it.file))).size, 150 * 150 * 3 * 4, it.file);
  };
  await killAt(args, [nth(/^attack: /, 2), reached('attack', 8)], check, /^attack: resuming the adversarial set/);
  const last = await robustify(args);
  assert.equal(last.code, 0, last.stderr);
  const index = JSON.parse(await fsp.readFile(path.join(out, 'index.json'), 'utf8'));
  assert.equal(index.complete, true);
  assert.equal(index.items.length, 12);
  assert.equal(new Set(index.items.map((i: { source: string }) => i.source)).size, 12, 'each image once');
  const listed = new Set<string>(index.items.flatMap((i: { file: string; preview: string }) => [i.file, i.preview]));
  const onDisk = [...(await fsp.readdir(out)).filter((n) => n.endsWith('.f32')), ...(await fsp.readdir(path.join(out, 'previews'))).map((n) => `previews/${n}`)];
  assert.deepEqual(onDisk.filter((f) => !listed.has(f)), [], 'nothing unlisted');
  assert.equal(onDisk.length, 24);
});

test('attack sent SIGTERM while PGD iterates on the worker threads: exit 143 (no abort), the set resumes to completion', async () => {
  const { data, model } = await shared;
  const work = await tempDir('term-attack');
  const out = path.join(work, 'adv');
  // Each step is an onnxruntime run in the workers, so the signal lands inside one.
  const args = ['attack', '--model', model, '--data', data, '--split', 'all', '--out', out, '--max-iter', '100', '--batch-size', '12'];
  for (const step of [5, 60]) {
    const r = await runUntil(args, (s) => s.includes(`step ${step}/100`), 'SIGTERM');
    assert.ok(r.killed, r.stderr);
    assert.equal(r.code, 143, r.stderr);
    assert.doesNotMatch(r.stderr, /terminate called|Napi::Error|^robustify: (?!interrupted)/m);
    assert.match(r.stderr, /interrupted \(SIGTERM\)/);
  }
  assert.deepEqual(await leftovers(work), []);
  const last = await robustify(args);
  assert.equal(last.code, 0, last.stderr);
  const index = JSON.parse(await fsp.readFile(path.join(out, 'index.json'), 'utf8'));
  assert.equal(index.complete, true);
  assert.equal(index.items.length, 12);
});

test('defend over a folder: killed at 2 points leaves no OUT, the next run removes the temporaries; SIGINT leaves nothing', async () => {
  const { data } = await shared;
  const work = await tempDir('kill-defend');
  const out = path.join(work, 'out');
  const args = ['defend', '--pipeline', 'median:3,tvm:max_iter=3', '--seed', '1', data, out];
  const check = async (): Promise<void> => assert.ok(!existsSync(out), 'no half-written OUT');
  await killAt(args, [nth(/^defend \d+\//, 1), nth(/^defend \d+\//, 10)], check, /^robustify: removed what a killed run \(pid \d+\) left unfinished of '.*out'/);
  assert.equal((await leftovers(work)).length, 2, 'the last killed run left its temporary folder and owner file');
  const int = await runUntil(args, nth(/^defend \d+\//, 3), 'SIGINT');
  assert.equal(int.code, 130);
  assert.match(int.stderr, /interrupted \(SIGINT\)/);
  assert.ok(!existsSync(out));
  assert.deepEqual(await leftovers(work), [], 'the interrupted run removed its own temporaries (and the killed one\'s)');
  const last = await robustify(args);
  assert.equal(last.code, 0, last.stderr);
  assert.equal((await fsp.readdir(out, { recursive: true })).filter((n) => n.endsWith('.png')).length, 12);
  assert.deepEqual(await leftovers(work), []);
});

test('prepare killed at 2 points: its manifest lists what is on disk after the resume, which says so first', async () => {
  const raw = await smallDataset(2, 5);
  const work = await tempDir('kill-prepare');
  const out = path.join(work, 'prepared');
  const args = ['prepare', raw, out];
  const chips = async (): Promise<string[]> => (await fsp.readdir(out, { recursive: true })).filter((n) => n.endsWith('.png')).map((n) => path.normalize(n)).sort();
  const listed = async (): Promise<string[]> => {
    const m = JSON.parse(await fsp.readFile(path.join(out, 'manifest.json'), 'utf8')) as { images: { faces: { file: string }[] }[] };
    return m.images.flatMap((e) => e.faces.map((f) => path.normalize(f.file))).sort();
  };
  const check = async (): Promise<void> => {
    // A killed run's folder is always recognisably a prepared one (to resume), and what it lists is on disk.
    const on = new Set(await chips());
    for (const f of await listed()) assert.ok(on.has(f), `listed ${f} is on disk`);
  };
  await killAt(args, [nth(/^prepare: \d+\//, 1), nth(/^prepare: \d+\//, 7)], check, /^prepare: resuming '.*prepared': \d+ photos recorded/);
  const last = await robustify(args);
  assert.equal(last.code, 0, last.stderr);
  assert.equal(JSON.parse(await fsp.readFile(path.join(out, 'manifest.json'), 'utf8')).images.length, 10);
  assert.deepEqual(await chips(), await listed(), 'every chip listed, every listed chip there');
  assert.deepEqual(await leftovers(out), []);
});
