/**
 * `robustify evaluate --queue`: the evaluation's batches as jobs on two worker processes (own cache folders,
 * nothing shared but Redis) give the local run's JSON report byte for byte and the same printed report — bare,
 * behind a stochastic defence, and under draws of it (EOT evaluation) — and a re-run reads the finished jobs
 * back. Bad configuration: an unreachable Redis is one line, --artifacts without --queue a usage error naming
 * the flag; nothing is written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { robustify, spawnCli, tempDir, trainSmall } from '../cli/helpers.js';
import { freePort, testRedis } from '../helpers/redis.js';

test('evaluate --queue: 2 workers give the local report byte for byte (bare, gauss, gauss under draws); a re-run reuses the jobs', async (t) => {
  const redis = await testRedis(t);
  if (!redis) return;
  const work = await tempDir('queue-evaluate');
  const { data, model } = await trainSmall(work);
  // 30 faces in 4 batches of 8 (the last one 6); gauss draws its noise per image from the seed.
  const base = ['evaluate', '--model', model, '--data', data, '--split', 'all', '--batch-size', '8', '--seed', '3'];
  const cases: Record<string, string[]> = { bare: [], gauss: ['--defence', 'median:3,gauss:15'], draws: ['--defence', 'gauss:15', '--eot', '3'] };
  const local: Record<string, string> = {};
  for (const [name, extra] of Object.entries(cases)) {
    const r = await robustify([...base, ...extra, '--json', path.join(work, `local-${name}.json`), '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    local[name] = r.stdout;
  }
  assert.match(local.draws, /^eot: 3 draws; majority-vote accuracy/m);

  // An unreachable Redis: one line, before any batch; no report.
  const awayJson = path.join(work, 'away.json');
  const away = await robustify([...base, ...cases.gauss, '--json', awayJson, '--queue', `redis://127.0.0.1:${await freePort()}`]);
  assert.equal(away.code, 1);
  assert.match(away.stderr, /^robustify: queue: cannot reach Redis at redis:\/\/127.0.0.1:\d+ \(connect ECONNREFUSED/m);
  assert.equal(away.stdout, '');
  await assert.rejects(fsp.access(awayJson), 'nothing written');
  const alone = await robustify([...base, '--json', awayJson, '--artifacts', work]);
  assert.equal(alone.code, 2);
  assert.match(alone.stderr, /^robustify: --artifacts: only with --queue$/m);
  await assert.rejects(fsp.access(awayJson), 'nothing written');

  const workers = [1, 2].map((i) => spawnCli(['worker', '--queue', redis.url, '--name', `w${i}`, '--cache', path.join(work, `worker${i}`)]));
  t.after(() => workers.forEach((w) => w.child.exitCode === null && w.child.kill('SIGKILL')));
  const doneLines = () => workers.map((w) => (w.err().match(/ done in /g) ?? []).length).reduce((a, b) => a + b, 0);
  for (const [name, extra] of Object.entries(cases)) {
    const json = path.join(work, `queued-${name}.json`);
    const queued = await robustify([...base, ...extra, '--json', json, '--queue', redis.url], { ROBUSTIFY_PROGRESS_SECONDS: '0' });
    assert.equal(queued.code, 0, queued.stderr);
    assert.match(queued.stderr, /evaluate: batches go to the queue study-v[\d.]+ at redis:\/\//);
    assert.match(queued.stderr, /queue: 4\/4 jobs done; depth 0 waiting, 0 active, 0 failed; [\d.]+ jobs\/s; workers: w\d/);
    assert.equal(queued.stdout, local[name], `${name}: the same printed report`);
    assert.equal(await fsp.readFile(json, 'utf8'), await fsp.readFile(path.join(work, `local-${name}.json`), 'utf8'), `${name}: the same JSON bytes`);
  }
  assert.equal(doneLines(), 12, '4 jobs per case computed on the workers');
  assert.ok(workers.every((w) => / done in /.test(w.err())), 'both workers computed');

  // The same evaluation again: the same job ids, read back, nothing computed again.
  const againJson = path.join(work, 'again.json');
  const again = await robustify([...base, ...cases.draws, '--json', againJson, '--queue', redis.url], { ROBUSTIFY_PROGRESS_SECONDS: '0' });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(await fsp.readFile(againJson, 'utf8'), await fsp.readFile(path.join(work, 'local-draws.json'), 'utf8'));
  assert.equal(doneLines(), 12, 'nothing computed again');

  for (const w of workers) w.child.kill('SIGTERM');
  for (const w of workers) assert.equal((await w.exit).code, 0, w.err());
});
