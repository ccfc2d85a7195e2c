/**
 * A user backbone with --queue: the network's files travel through the artifact store by content hash (an
 * ONNX file with its spec from a sidecar the worker never sees; MobileFaceNet's TF.js model.json and its
 * weight shard), each worker loads it once from its cache, and `attack --queue` gives the local ADV_DIR byte
 * for byte. A worker whose cached copy no longer hashes to the job's refuses it in one line, which the
 * coordinator reports after the attempts; a worker that loads the network as another one refuses at once. A
 * study on such a backbone gives the local results.json through the queue.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { Job, Queue } from 'bullmq';
import { PREFIX, queueName, type AttackJob } from '../../src/queue/jobs.js';
import { FACES14, robustify, spawnCli, tempDir, trainSmall } from '../cli/helpers.js';
import { testRedis, type TestRedis } from '../helpers/redis.js';
import { mobileFaceNetPath } from '../helpers/test-models.js';
import { tinyOnnx } from '../helpers/tiny-onnx.js';
import { TINY_STUDY } from '../helpers/tiny-study.js';
import { treeDifference } from '../helpers/tree.js';

/** Train on `backbone`, attack locally and through one worker; both ADV_DIRs and the worker's cache folder. */
async function localAndQueued(redis: TestRedis, work: string, backbone: string) {
  const { data, model } = await trainSmall(work, ['--backbone', backbone]);
  const attack = (out: string, more: string[] = []) => ['attack', '--model', model, '--data', data, '--out', path.join(work, out), '--eps', '4', '--eps-step', '1', '--max-iter', '2', '--batch-size', '3', ...more];
  const local = await robustify([...attack('local'), '--quiet']);
  assert.equal(local.code, 0, local.stderr);
  const cache = path.join(work, 'worker');
  const worker = spawnCli(['worker', '--queue', redis.url, '--name', 'w1', '--cache', cache, '--stall-seconds', '2']);
  const queued = await robustify([...attack('queued'), '--queue', redis.url], { ROBUSTIFY_PROGRESS_SECONDS: '0' });
  worker.child.kill('SIGTERM');
  assert.equal((await worker.exit).code, 0, worker.err());
  assert.equal(queued.code, 0, queued.stderr);
  assert.match(queued.stderr, /queue: 2\/2 jobs done; depth 0 waiting, 0 active, 0 failed; [\d.]+ jobs\/s; workers: w1 2/);
  assert.equal(await treeDifference(path.join(work, 'local'), path.join(work, 'queued')), undefined, 'the same ADV_DIR through the queue');
  return { attack, cache };
}

test('attack --queue on an ONNX backbone (spec from its sidecar): the local ADV_DIR byte for byte; a changed cached copy is refused in one line', async (t) => {
  const redis = await testRedis(t);
  if (!redis) return;
  const work = await tempDir('queue-backbone');
  const net = await tinyOnnx(work, { size: 9 });
  // The spec is only in the sidecar next to the coordinator's file: the worker gets it resolved in the job.
  await fsp.writeFile(path.join(work, 'tiny.robustify.json'), JSON.stringify({ mean: 127.5, std: 128 }));
  const { attack, cache } = await localAndQueued(redis, work, net);
  const [folder] = (await fsp.readdir(cache)).filter((f) => f.startsWith('backbone-'));
  assert.ok(folder, 'the backbone is cached by its hash');
  assert.deepEqual(await fsp.readdir(path.join(cache, folder)), ['tiny.onnx']);

  // The cached copy changed on disk: a worker on that cache refuses every attempt, naming the folder.
  const file = path.join(cache, folder, 'tiny.onnx');
  await fsp.appendFile(file, Buffer.from([0]));
  const worker = spawnCli(['worker', '--queue', redis.url, '--name', 'w2', '--cache', cache]);
  t.after(() => worker.child.exitCode === null && worker.child.kill('SIGKILL'));
  const refused = await robustify([...attack('refused', ['--max-iter', '1']), '--queue', redis.url]);
  worker.child.kill('SIGTERM');
  await worker.exit;
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    new RegExp(`^robustify: queue: job attack-[0-9a-f]{16} \\(pgd batch \\d \\(3 images\\)\\) failed after 3 attempt\\(s\\): worker w2: its cached backbone 'tiny\\.onnx' of model-[0-9a-f]{16}\\+[0-9a-f]{16}@\\S+ '${file.slice(0, -'/tiny.onnx'.length).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}' does not hold the files of [0-9a-f]{16}… \\('tiny\\.onnx' differs\\); remove that folder; nothing computed$`, 'm'),
  );

  // A job whose network the worker loads as another one (another importer, say): refused at once, not retried.
  const queue = new Queue<AttackJob>(queueName(), { connection: { host: '127.0.0.1', port: redis.port }, prefix: PREFIX });
  t.after(() => queue.close());
  const [done] = await queue.getCompleted();
  const data = structuredClone(done.data);
  data.model.backbone!.identity = '0'.repeat(16);
  const fresh = spawnCli(['worker', '--queue', redis.url, '--name', 'w3', '--cache', path.join(work, 'worker3')]);
  t.after(() => fresh.child.exitCode === null && fresh.child.kill('SIGKILL'));
  const job = await queue.add('attack', data, { jobId: 'attack-other-network', attempts: 3 });
  while (!(await job.isFailed())) await new Promise((r) => setTimeout(r, 100));
  const failed = (await Job.fromId(queue, job.id!))!;
  assert.equal(failed.attemptsMade, 1, 'not retried');
  assert.match(failed.failedReason, /^worker w3: the backbone 'tiny\.onnx' of model-\S+ loads here as [0-9a-f]{16}, not 0{16} as on the coordinator; nothing computed$/);
  fresh.child.kill('SIGTERM');
  assert.equal((await fresh.exit).code, 0, fresh.err());
});

test('attack --queue on MobileFaceNet (a TF.js model.json and its weight shard): the local ADV_DIR byte for byte', async (t) => {
  const file = await mobileFaceNetPath();
  if (!file) return;
  const redis = await testRedis(t);
  if (!redis) return;
  const work = await tempDir('queue-mobilefacenet');
  const { cache } = await localAndQueued(redis, work, file);
  const [folder] = (await fsp.readdir(cache)).filter((f) => f.startsWith('backbone-'));
  assert.deepEqual((await fsp.readdir(path.join(cache, folder))).sort(), ['mobilefacenet.bin', 'mobilefacenet.json']);
});

test('study --queue on an ONNX backbone: the local results.json byte for byte, the network loaded by the worker from its files', async (t) => {
  const redis = await testRedis(t);
  if (!redis) return;
  const work = await tempDir('queue-backbone-study');
  const net = await tinyOnnx(work, { size: 32 });
  const config = path.join(work, 'tiny.json');
  await fsp.writeFile(config, JSON.stringify(TINY_STUDY));
  const study = ['study', '--data', FACES14, '--config', config, '--backbone', net, '--backbone-spec', JSON.stringify({ mean: 127.5, std: 128 }), '--quiet'];
  const local = await robustify([...study, '--out', path.join(work, 'local')]);
  assert.equal(local.code, 0, local.stderr);
  const cache = path.join(work, 'worker');
  const worker = spawnCli(['worker', '--queue', redis.url, '--name', 'w1', '--cache', cache]);
  t.after(() => worker.child.exitCode === null && worker.child.kill('SIGKILL'));
  const queued = await robustify([...study, '--out', path.join(work, 'queued'), '--queue', redis.url]);
  worker.child.kill('SIGTERM');
  assert.equal((await worker.exit).code, 0, worker.err());
  assert.equal(queued.code, 0, queued.stderr);
  assert.match(worker.err(), /w1: pgd-[0-9a-f]{16}-b\d+-i[0-9a-f]{8} done in /, 'PGD batches ran on the worker');
  assert.deepEqual(await fsp.readdir(path.join(cache, (await fsp.readdir(cache)).find((f) => f.startsWith('backbone-'))!)), ['tiny.onnx']);
  const [a, b] = await Promise.all(['local', 'queued'].map((d) => fsp.readFile(path.join(work, d, 'results.json'), 'utf8')));
  assert.equal(b, a, 'the same bytes through the queue');
});
