/**
 * Workers on separate hosts: two workers each in its own network namespace (`ip netns`, a veth pair to the
 * host namespace where Redis listens), each with its own folder as working directory, cache and TMPDIR, so what
 * they use comes through Redis. The study's results.json equals the local run's. Needs root;
 * ROBUSTIFY_TEST_NETNS=1 turns it on (it is not part of the CI suite's time budget).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { FACES14, robustify, spawnCli, tempDir } from '../cli/helpers.js';
import { testRedis } from '../helpers/redis.js';
import { TINY_STUDY } from '../helpers/tiny-study.js';

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

test('study --queue with workers in their own network namespaces gives the local results.json', async (t) => {
  if (process.env.ROBUSTIFY_TEST_NETNS !== '1') {
    t.skip('set ROBUSTIFY_TEST_NETNS=1 (as root) to run the network-namespace test');
    return;
  }
  const tag = (process.pid % 10000).toString(36);
  const hosts = [1, 2].map((i) => ({ ns: `rbq${tag}w${i}`, host: `rbq${tag}h${i}`, peer: `rbq${tag}p${i}`, net: `10.213.${i}` }));
  t.after(() => {
    for (const h of hosts) {
      spawnSync('ip', ['netns', 'del', h.ns]);
      spawnSync('ip', ['link', 'del', h.host]);
    }
  });
  for (const h of hosts) {
    ip('netns', 'add', h.ns);
    ip('link', 'add', h.host, 'type', 'veth', 'peer', 'name', h.peer);
    ip('link', 'set', h.peer, 'netns', h.ns);
    ip('addr', 'add', `${h.net}.1/24`, 'dev', h.host);
    ip('link', 'set', h.host, 'up');
    ip('netns', 'exec', h.ns, 'ip', 'addr', 'add', `${h.net}.2/24`, 'dev', h.peer);
    ip('netns', 'exec', h.ns, 'ip', 'link', 'set', h.peer, 'up');
    ip('netns', 'exec', h.ns, 'ip', 'link', 'set', 'lo', 'up');
  }
  const redis = await testRedis(t, { bind: ['127.0.0.1', ...hosts.map((h) => `${h.net}.1`)] });
  if (!redis) return;
  // Isolation: inside a worker's namespace the host's loopback Redis is not there.
  const inside = spawnSync('ip', ['netns', 'exec', hosts[0].ns, 'redis-cli', '-p', String(redis.port), 'ping'], { encoding: 'utf8' });
  assert.notEqual(inside.stdout.trim(), 'PONG', 'the namespace has its own loopback');

  const work = await tempDir('queue-netns');
  const config = path.join(work, 'tiny.json');
  await fsp.writeFile(config, JSON.stringify(TINY_STUDY));
  const workers = await Promise.all(
    hosts.map(async (h, i) => {
      const own = path.join(work, `host${i + 1}`);
      await fsp.mkdir(own);
      return spawnCli(['worker', '--queue', `redis://${h.net}.1:${redis.port}`, '--name', h.ns, '--cache', path.join(own, 'cache')], ['ip', 'netns', 'exec', h.ns], { cwd: own, env: { TMPDIR: own } });
    }),
  );
  t.after(() => workers.forEach((w) => w.child.exitCode === null && w.child.kill('SIGKILL')));
  const study = ['study', '--data', FACES14, '--config', config];
  const [local, queued] = await Promise.all([robustify([...study, '--out', path.join(work, 'local')]), robustify([...study, '--out', path.join(work, 'queued'), '--queue', redis.url])]);
  assert.equal(local.code, 0, local.stderr);
  assert.equal(queued.code, 0, queued.stderr);
  const timings = JSON.parse(await fsp.readFile(path.join(work, 'queued', 'timings.json'), 'utf8')) as { queue: { workers: Record<string, { jobs: number }> } };
  assert.deepEqual(Object.keys(timings.queue.workers).sort(), hosts.map((h) => h.ns).sort(), 'both namespaces computed');
  const [a, b] = await Promise.all(['local', 'queued'].map((d) => fsp.readFile(path.join(work, d, 'results.json'), 'utf8')));
  assert.equal(b, a, 'the same bytes from workers on their own hosts');
  process.stderr.write(`# netns: ${JSON.stringify(timings.queue)}\n`);
  for (const w of workers) w.child.kill('SIGTERM');
});
