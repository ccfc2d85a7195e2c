/**
 * `robustify robustness --queue`: the suite's attack chunks (each attack's batches of the faces still robust,
 * the masking checks' re-runs) on two worker processes give the local report — every field but the seconds —
 * against a stochastic defence, whose draws are each chunk's own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { robustify, spawnCli, tempDir, trainSmall } from '../cli/helpers.js';
import { testRedis } from '../helpers/redis.js';

/** The report without what the clock decides (each step's seconds). */
async function report(file: string): Promise<unknown> {
  const json = JSON.parse(await fsp.readFile(file, 'utf8')) as { suite: { steps: { seconds?: number }[] } };
  for (const s of json.suite.steps) delete s.seconds;
  return json;
}

test('robustness --queue: 2 workers give the local report (stochastic defence, gradient and score attacks, masking checks)', async (t) => {
  const redis = await testRedis(t);
  if (!redis) return;
  const work = await tempDir('queue-robustness');
  const { data, model } = await trainSmall(work);
  // 6 test faces in chunks of 2; at eps 1 APGD leaves some for Square, and the checks re-run APGD at 4 × eps and 1 iteration.
  const args = ['robustness', '--model', model, '--data', data, '--defence', 'gauss:15', '--suite', 'apgd:max_iter=4,square:nb_queries=5', '--eps', '1', '--batch-size', '2'];
  const local = await robustify([...args, '--json', path.join(work, 'local.json'), '--quiet']);
  assert.equal(local.code, 0, local.stderr);

  const workers = [1, 2].map((i) => spawnCli(['worker', '--queue', redis.url, '--name', `w${i}`, '--cache', path.join(work, `worker${i}`)]));
  t.after(() => workers.forEach((w) => w.child.exitCode === null && w.child.kill('SIGKILL')));
  const queued = await robustify([...args, '--json', path.join(work, 'queued.json'), '--queue', redis.url], { ROBUSTIFY_PROGRESS_SECONDS: '0' });
  assert.equal(queued.code, 0, queued.stderr);
  assert.match(queued.stderr, /robustness: attack batches go to the queue study-v[\d.]+ at redis:\/\//);
  assert.match(queued.stderr, /queue: (\d+)\/\1 jobs done; depth 0 waiting, 0 active, 0 failed; [\d.]+ jobs\/s; workers: w\d/);
  const computed = workers.reduce((a, w) => a + (w.err().match(/ done in /g) ?? []).length, 0);
  assert.ok(computed >= 4, `the workers computed the chunks (${computed} jobs)`);
  assert.deepEqual(await report(path.join(work, 'queued.json')), await report(path.join(work, 'local.json')));
  const text = (s: string) => s.replace(/, [\d.]+ s\b/g, '');
  assert.equal(text(queued.stdout), text(local.stdout), 'the same summary');

  // Bad configuration: the gallery threat models stay on the coordinator.
  const gallery = await robustify([...args, '--recogniser', 'identification', '--queue', redis.url]);
  assert.equal(gallery.code, 2);
  assert.match(gallery.stderr, /^robustify: --queue: workers attack the classifier head only \(--recogniser classifier\), not the identification gallery$/m);
  for (const w of workers) w.child.kill('SIGTERM');
  for (const w of workers) assert.equal((await w.exit).code, 0, w.err());
});
