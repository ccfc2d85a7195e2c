/**
 * A study through the queue: three worker processes (each with its own cache folder, nothing shared but Redis),
 * one SIGKILLed mid-run, the coordinator SIGKILLed and run again, Redis killed and restarted empty: the local
 * run's results.json byte for byte (PGD batches, the robust section's Square and suite chunks and the pipeline
 * evaluations' batches as jobs). And the bad configurations: a worker
 * of another version refused in one line, a job that keeps failing reported by name after its attempts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { QueueCoordinator } from '../../src/queue/coordinator.js';
import { startWorker } from '../../src/queue/worker.js';
import { FACES14, robustify, spawnCli, tempDir } from '../cli/helpers.js';
import { freePort, testRedis } from '../helpers/redis.js';
import { TINY_STUDY as TINY } from '../helpers/tiny-study.js';

test('study --queue: 3 workers, one SIGKILLed mid-run, the coordinator killed and restarted, Redis restarted: the local run\'s results.json byte for byte', async (t) => {
  const redis = await testRedis(t);
  if (!redis) return;
  const work = await tempDir('queue-study');
  const config = path.join(work, 'tiny.json');
  await fsp.writeFile(config, JSON.stringify(TINY));
  const study = ['study', '--data', FACES14, '--config', config];
  const queuedStudy = [...study, '--out', path.join(work, 'queued'), '--queue', redis.url];

  const workers = [1, 2, 3].map((i) => spawnCli(['worker', '--queue', redis.url, '--stall-seconds', '2', '--name', `w${i}`, '--cache', path.join(work, `worker${i}`)]));
  t.after(() => workers.forEach((w) => w.child.exitCode === null && w.child.kill('SIGKILL')));
  // The victim dies right after its first job, while it holds its next one (or is about to take it).
  const victim = workers[0];
  victim.child.stderr!.on('data', () => {
    if (/w1: \S+ done/.test(victim.err()) && victim.child.exitCode === null) victim.child.kill('SIGKILL');
  });
  const queued = async () => {
    // The first coordinator is SIGKILLed once a few jobs are done; the second re-attaches.
    const first = spawnCli(queuedStudy);
    first.child.stderr!.on('data', () => {
      if (/queue: [3-9]\d*\/\d+ jobs done/.test(first.err()) && first.child.exitCode === null) first.child.kill('SIGKILL');
    });
    const killed = await first.exit;
    const second = spawnCli(queuedStudy);
    // Redis dies (and loses everything: no persistence) once the second coordinator is polling, and comes back.
    let restarted: Promise<void> | undefined;
    second.child.stderr!.on('data', () => {
      if (!restarted && /queue: \d+\/\d+ jobs done/.test(second.err())) restarted = redis.kill().then(() => redis.start());
    });
    const end = await second.exit;
    await restarted;
    return { killed, ...end, stderr: second.err() };
  };
  const [local, q] = await Promise.all([robustify([...study, '--out', path.join(work, 'local')]), queued()]);
  assert.equal(local.code, 0, local.stderr);
  assert.equal(q.killed.signal, 'SIGKILL', 'the first coordinator was killed mid-run');
  assert.equal(q.code, 0, q.stderr);
  assert.equal((await victim.exit).signal, 'SIGKILL', 'the victim was killed mid-run');
  assert.match(q.stderr, /study: resuming from the cache/);
  assert.match(q.stderr, /queue: (\d+)\/\1 jobs done; depth 0 waiting, 0 active, 0 failed; [\d.]+ jobs\/s; workers: /);
  const timings = JSON.parse(await fsp.readFile(path.join(work, 'queued', 'timings.json'), 'utf8')) as { queue: { completed: number; failed: number; workers: Record<string, { jobs: number }> } };
  assert.equal(timings.queue.failed, 0);
  assert.ok(Object.keys(timings.queue.workers).length >= 2, `jobs spread over ${Object.keys(timings.queue.workers).join(', ')}`);
  // The robust section's Square and suite went to the workers too (chunk jobs beside the PGD batches).
  assert.ok(workers.some((w) => /: attack-[0-9a-f]{16} done in /.test(w.err())), 'the robust section\'s chunks ran on the workers');
  // And the pipeline evaluations (the eval-* cache steps: singles, the paper's pipelines, search, curves).
  assert.ok(workers.some((w) => /: evaluate-[0-9a-f]{16} done in /.test(w.err())), 'the pipeline evaluations ran on the workers');
  process.stderr.write(`# queue after the faults: ${JSON.stringify(timings.queue)}\n`);
  const [a, b] = await Promise.all(['local', 'queued'].map((d) => fsp.readFile(path.join(work, d, 'results.json'), 'utf8')));
  assert.equal(b, a, 'the same bytes through the queue');
  for (const w of workers.slice(1)) w.child.kill('SIGTERM');
  for (const w of workers.slice(1)) assert.equal((await w.exit).code, 0, w.err());
});

test('bad configuration: a worker of another version refused in one line; a job that keeps failing reported by name after its attempts', async (t) => {
  const redis = await testRedis(t);
  if (!redis) return;
  const other = await QueueCoordinator.open({ url: redis.url, version: '0.0.0-other' });
  await assert.rejects(startWorker({ url: redis.url }), /^Error: worker: the queue at redis:\/\/127\.0\.0\.1:\d+ serves studies of robustify 0\.0\.0-other; this worker is robustify [\d.]+ \(start a worker of that version\)$/);
  await assert.rejects(startWorker({ url: 'http://127.0.0.1:1' }), /queue: 'http:\/\/127.0.0.1:1' has the scheme 'http'/);
  // The CLI: a wrong URL is a usage error naming the flag; an unreachable Redis one line; nothing written.
  const out = path.join(await tempDir('queue-bad'), 'report');
  const wrong = await robustify(['study', '--data', FACES14, '--quick', '--out', out, '--queue', 'http://127.0.0.1:1']);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /^robustify: --queue: 'http:\/\/127.0.0.1:1' has the scheme 'http'; expected redis:\/\/HOST:PORT/m);
  const away = await robustify(['worker', '--queue', `redis://127.0.0.1:${await freePort()}`]);
  assert.equal(away.code, 1);
  assert.match(away.stderr, /^robustify: queue: cannot reach Redis at redis:\/\/127.0.0.1:\d+ \(connect ECONNREFUSED/m);
  await assert.rejects(fsp.access(out), 'nothing written');

  // A head that is no model: every attempt fails, the coordinator names the job once the attempts are spent.
  const junk = await tempDir('queue-junk');
  const worker = await startWorker({ url: redis.url, version: '0.0.0-other', stallSeconds: 2, cacheDir: path.join(junk, 'worker') });
  await fsp.mkdir(path.join(junk, 'head'));
  await fsp.writeFile(path.join(junk, 'head', 'model.json'), '{"format":"nothing"}');
  const runner = await other.runner({ dir: path.join(junk, 'head'), key: 'model-0000000000000000', engine: 'onnxruntime', identities: ['a'] });
  const batch = { key: 'pgd-0000000000000000-b0', index: 0, params: { norm: 'inf' as const, eps: 4, eps_step: 1, max_iter: 1, batch_size: 1, num_random_init: 0, targeted: false, seed: 0 }, iterations: [1], images: new Float32Array(150 * 150 * 3), shape: [1, 150, 150, 3] as [number, number, number, number], labels: [0] };
  await assert.rejects(
    runner.run({ model: undefined as never, modelKey: 'model-0000000000000000@onnxruntime', seed: 0 }, batch),
    /^Error: queue: job pgd-0000000000000000-b0-i[0-9a-f]{8} \(PGD batch 0 \(1 images\)\) failed after 3 attempt\(s\): /,
  );
  assert.equal(other.stats().failed, 1);
  // Closed before the test's Redis goes.
  await worker.close();
  await other.close();
});

test('a job gone from Redis (restarted without its data) is added again, with its inputs, by the coordinator', async (t) => {
  const redis = await testRedis(t);
  if (!redis) return;
  const coordinator = await QueueCoordinator.open({ url: redis.url, version: '0.0.0-gone' });
  const head = await tempDir('queue-gone');
  await fsp.writeFile(path.join(head, 'model.json'), '{}');
  const runner = await coordinator.runner({ dir: head, key: 'model-0000000000000000', engine: 'onnxruntime', identities: ['a'] });
  const batch = { key: 'pgd-1111111111111111-b0', index: 0, params: { norm: 'inf' as const, eps: 4, eps_step: 1, max_iter: 1, batch_size: 1, num_random_init: 0, targeted: false, seed: 0 }, iterations: [1], images: new Float32Array(12).fill(7), shape: [1, 2, 2, 3] as [number, number, number, number], labels: [0] };
  const result = runner.run({ model: undefined as never, modelKey: 'model-0000000000000000@onnxruntime', seed: 0 }, batch);
  result.catch(() => undefined);
  const { Redis } = await import('ioredis');
  const client = new Redis(redis.url);
  t.after(() => client.disconnect());
  const jobKeys = async () => (await client.keys('robustify:study-v0.0.0-gone:pgd-1111111111111111-b0*')).length;
  while ((await jobKeys()) === 0) await new Promise((r) => setTimeout(r, 50));
  await client.flushall();
  while (coordinator.stats().resubmitted === 0) await new Promise((r) => setTimeout(r, 50));
  assert.ok((await jobKeys()) > 0, 'the job is back');
  assert.ok((await client.keys('robustify:artifact:*')).length >= 3, 'with its images and the head (manifest and file)');
  await coordinator.close();
});
