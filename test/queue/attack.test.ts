/**
 * `robustify attack --queue`: the attack command's batches as jobs on two worker processes (own cache folders,
 * nothing shared but Redis) give the local run's ADV_DIR byte for byte — against a stochastic defence under EOT,
 * whose draws are the batch's own — and a re-run of the queued command reads the finished jobs back, or computes
 * them again once their results have expired from Redis. Bad
 * configuration: a wrong URL, --artifacts alone or a network file as --model is a usage error naming the
 * flag, an unreachable Redis one line; nothing written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { sidecarPath } from '../../src/models/recogniser.js';
import { FACES14, robustify, spawnCli, tempDir, trainSmall } from '../cli/helpers.js';
import { tinyOnnx } from '../helpers/tiny-onnx.js';
import { freePort, testRedis } from '../helpers/redis.js';
import { fileTree as tree, treeDifference } from '../helpers/tree.js';

test('attack --queue: 2 workers give the local ADV_DIR byte for byte (stochastic defence, EOT); a re-run reuses the jobs', async (t) => {
  const redis = await testRedis(t);
  if (!redis) return;
  const work = await tempDir('queue-attack');
  const { data, model } = await trainSmall(work);
  // 6 test faces in 3 batches of 2; gauss draws a new noise per gradient call, averaged over 2 draws.
  const attack = ['attack', '--model', model, '--data', data, '--eps', '4', '--eps-step', '1', '--max-iter', '3', '--batch-size', '2', '--defence', 'gauss:15', '--eot', '2', '--quiet'];
  const local = await robustify([...attack, '--out', path.join(work, 'local')]);
  assert.equal(local.code, 0, local.stderr);
  // An unreachable Redis: one line, before any attack, no ADV_DIR.
  const away = await robustify([...attack, '--out', path.join(work, 'away'), '--queue', `redis://127.0.0.1:${await freePort()}`]);
  assert.equal(away.code, 1);
  assert.match(away.stderr, /^robustify: queue: cannot reach Redis at redis:\/\/127.0.0.1:\d+ \(connect ECONNREFUSED/m);
  await assert.rejects(fsp.access(path.join(work, 'away')), 'nothing written');

  const workers = [1, 2].map((i) => spawnCli(['worker', '--queue', redis.url, '--name', `w${i}`, '--cache', path.join(work, `worker${i}`)]));
  t.after(() => workers.forEach((w) => w.child.exitCode === null && w.child.kill('SIGKILL')));
  const queuedArgs = [...attack.filter((a) => a !== '--quiet'), '--out', path.join(work, 'queued'), '--queue', redis.url];
  const queued = await robustify(queuedArgs, { ROBUSTIFY_PROGRESS_SECONDS: '0' });
  assert.equal(queued.code, 0, queued.stderr);
  assert.match(queued.stderr, /attack: batches go to the queue study-v[\d.]+ at redis:\/\//);
  assert.match(queued.stderr, /queue: 3\/3 jobs done; depth 0 waiting, 0 active, 0 failed; [\d.]+ jobs\/s; workers: w\d/);
  assert.equal(queued.stdout, local.stdout.replace(path.join(work, 'local'), path.join(work, 'queued')), 'the same summary');

  assert.ok((await tree(path.join(work, 'local'))).size >= 13, 'index, 6 images and 6 previews');
  assert.equal(await treeDifference(path.join(work, 'local'), path.join(work, 'queued')), undefined, 'the same files and bytes through the queue');

  // Another ADV_DIR from the same inputs: the same job ids, read back, nothing computed again.
  const again = await robustify([...queuedArgs.slice(0, -4), '--out', path.join(work, 'again'), '--queue', redis.url], { ROBUSTIFY_PROGRESS_SECONDS: '0' });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /queue: 3\/3 jobs done/);
  assert.equal(await treeDifference(path.join(work, 'local'), path.join(work, 'again')), undefined, 'the same bytes again');
  const doneLines = () => workers.map((w) => (w.err().match(/ done in /g) ?? []).length).reduce((a, b) => a + b, 0);
  assert.equal(doneLines(), 3, '3 jobs computed in all');

  // The results expired from Redis (their TTL: 7 days by default) while the job records stayed: computed again.
  const client = new Redis(redis.url);
  t.after(() => client.disconnect());
  const objects = await client.keys('robustify:artifact:*');
  const ttl = await client.ttl(objects[0]);
  assert.ok(ttl > 6 * 24 * 3600 && ttl <= 7 * 24 * 3600, `objects expire in 7 days (${ttl} s)`);
  await client.del(...objects);
  const expired = await robustify([...queuedArgs.slice(0, -4), '--out', path.join(work, 'expired'), '--queue', redis.url], { ROBUSTIFY_PROGRESS_SECONDS: '0' });
  assert.equal(expired.code, 0, expired.stderr);
  assert.equal((expired.stderr.match(/queue: the results of job attack-[0-9a-f]{16} \(pgd batch \d \(2 images\)\) are gone from the artifact store \(expired\?\); computing it again/g) ?? []).length, 3);
  assert.equal(await treeDifference(path.join(work, 'local'), path.join(work, 'expired')), undefined, 'the same bytes once recomputed');
  assert.equal(doneLines(), 6, 'the 3 jobs computed again');

  for (const w of workers) w.child.kill('SIGTERM');
  for (const w of workers) assert.equal((await w.exit).code, 0, w.err());
});

test('attack --queue, bad configuration: one line naming the flag or the address, nothing written', async () => {
  const work = await tempDir('queue-attack-bad');
  const out = path.join(work, 'adv');
  const base = ['attack', '--model', path.join(work, 'no-model'), '--data', path.join(work, 'no-data'), '--out', out];
  const wrong = await robustify([...base, '--queue', 'http://127.0.0.1:1']);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /^robustify: --queue: 'http:\/\/127.0.0.1:1' has the scheme 'http'; expected redis:\/\/HOST:PORT/m);
  const alone = await robustify([...base, '--artifacts', work]);
  assert.equal(alone.code, 2);
  assert.match(alone.stderr, /^robustify: --artifacts: only with --queue$/m);
  await assert.rejects(fsp.access(out), 'nothing written');
  // A network file as --model: workers load classifier folders only; refused before any attack.
  const net = await tinyOnnx(work, { size: 11, logits: 3 });
  const labels = (await fsp.readdir(FACES14)).sort().slice(0, 3);
  await fsp.writeFile(sidecarPath(net), JSON.stringify({ mean: 127.5, std: 128, output_kind: 'logits', labels }));
  const file = await robustify(['attack', '--model', net, '--data', FACES14, '--out', out, '--max-iter', '1', '--queue', 'redis://127.0.0.1:1']);
  assert.equal(file.code, 2);
  assert.match(file.stderr, /^robustify: --queue: --model '.*tiny\.onnx' is a network file; workers take a classifier folder saved by `robustify train`$/m);
  await assert.rejects(fsp.access(out), 'nothing written');
});
