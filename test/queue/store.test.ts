/**
 * The queue's parts without a study: the artifact stores (round trip, content check, the size threshold, a
 * missing object named), job ids, the URL check, and an unreachable Redis reported in one line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { parseQueueUrl, probe } from '../../src/queue/address.js';
import { ArtifactMissing, Artifacts, contentHash, DirArtifacts, RedisArtifacts } from '../../src/queue/artifacts.js';
import { jobId, queueName } from '../../src/queue/jobs.js';
import { tempDir } from '../cli/helpers.js';
import { freePort, testRedis } from '../helpers/redis.js';

test('artifact stores: content-addressed round trip in Redis and a directory, large objects past the threshold, corruption and absence named', async (t) => {
  const server = await testRedis(t);
  if (!server) return;
  const redis = new Redis(server.url);
  t.after(() => redis.disconnect());
  const dir = await tempDir('artifacts');
  const small = new RedisArtifacts(redis);
  const large = new DirArtifacts(dir);
  const store = new Artifacts(small, large, 1000);

  const a = new Float32Array([1, 2, 3.5]);
  const h = await store.putFloats(a);
  assert.equal(h, contentHash(new Uint8Array(a.buffer)));
  assert.deepEqual(await store.getFloats(h, 'a', 3), a);
  assert.equal(await store.putFloats(a), h, 'the same bytes, the same address');
  assert.ok(await small.find(h), 'small: in Redis');

  const big = new Uint8Array(5000).map((_, i) => i % 251);
  const hb = await store.put(big);
  assert.equal(await small.find(hb), undefined, 'large: not in Redis');
  assert.deepEqual(await large.find(hb), big);
  assert.deepEqual(await store.get(hb, 'big'), big);
  await assert.rejects(store.getFloats(h, 'a', 4), /artifact store: a has 12 bytes, expected 16/);

  await redis.set(`robustify:artifact:${h}`, Buffer.from('not these bytes'));
  await assert.rejects(store.get(h, 'a'), new RegExp(`Redis key robustify:artifact:${h} holds bytes that do not hash to ${h}`));
  const missing = contentHash(new Uint8Array([9]));
  await assert.rejects(new Artifacts(small).get(missing, 'the images of job x'), /artifact store: the images of job x \([0-9a-f]{16}…\) is in no store \(no large-object store is configured here: --artifacts DIR\)/);
  await assert.rejects(store.get('../etc/passwd', 'x'), /is not an artifact address/);

  await fsp.writeFile(path.join(dir, 'f1'), 'one');
  await fsp.writeFile(path.join(dir, 'f2'), 'two');
  const folder = await fsp.mkdtemp(path.join(dir, 'folder-'));
  await fsp.writeFile(path.join(folder, 'weights.bin'), big);
  await fsp.writeFile(path.join(folder, 'model.json'), '{}');
  const files = await store.getDir(await store.putDir(folder), 'head');
  assert.deepEqual(Object.keys(files).sort(), ['model.json', 'weights.bin']);
  assert.deepEqual(files['weights.bin'], big);
});

test('artifact expiry: Redis objects expire a TTL after their last write, read or touch; 0 keeps them; gone is ArtifactMissing', async (t) => {
  const server = await testRedis(t);
  if (!server) return;
  const redis = new Redis(server.url);
  t.after(() => redis.disconnect());
  const key = (h: string) => `robustify:artifact:${h}`;
  const expiring = new RedisArtifacts(redis, undefined, 100);
  const h = await expiring.put(new Uint8Array([1, 2, 3]));
  const ttl = await redis.ttl(key(h));
  assert.ok(ttl > 0 && ttl <= 100, `a TTL of at most 100 s (${ttl})`);
  await redis.expire(key(h), 5);
  await expiring.put(new Uint8Array([1, 2, 3]));
  assert.ok((await redis.ttl(key(h))) > 5, 'writing the same bytes again restarts the clock');
  await redis.expire(key(h), 5);
  await expiring.find(h);
  assert.ok((await redis.ttl(key(h))) > 5, 'reading restarts it');
  await redis.expire(key(h), 5);
  await new Artifacts(expiring).touchDir(await new Artifacts(expiring).putFiles({ 'a.bin': new Uint8Array([1, 2, 3]) }), 'a folder');
  assert.ok((await redis.ttl(key(h))) > 5, "touching a folder restarts its files' clocks");
  const forever = new RedisArtifacts(redis, undefined, 0);
  assert.equal(await redis.ttl(key(await forever.put(new Uint8Array([4])))), -1, 'TTL 0: no expiry');
  // Gone (expired) is its own error, which the coordinator answers by computing the job again.
  await redis.del(key(h));
  await assert.rejects(new Artifacts(expiring).get(h, 'the iterate'), ArtifactMissing);
});

test('job ids: the batch cache key plus its iterations, no colons; the queue name carries the version', () => {
  const a = jobId({ key: 'pgd-0123456789abcdef-b3', iterations: [1, 3, 6] });
  assert.match(a, /^pgd-0123456789abcdef-b3-i[0-9a-f]{8}$/);
  assert.equal(jobId({ key: 'pgd-0123456789abcdef-b3', iterations: [1, 3, 6] }), a);
  assert.notEqual(jobId({ key: 'pgd-0123456789abcdef-b3', iterations: [6] }), a);
  assert.notEqual(jobId({ key: 'pgd-0123456789abcdef-b4', iterations: [1, 3, 6] }), a);
  assert.equal(queueName('1.2.3'), 'study-v1.2.3');
});

test('queue URLs: the scheme, host and database checked in one line; an unreachable Redis named', async () => {
  assert.deepEqual(parseQueueUrl('redis://10.0.0.5:6380/2'), { shown: 'redis://10.0.0.5:6380/2', host: '10.0.0.5', port: 6380, db: 2, password: undefined });
  assert.equal(parseQueueUrl('redis://:secret@h').password, 'secret');
  assert.equal(parseQueueUrl('redis://:secret@h').shown, 'redis://h:6379', 'no password in messages');
  assert.throws(() => parseQueueUrl('http://localhost:6379'), /^Error: queue: 'http:\/\/localhost:6379' has the scheme 'http'; expected redis:\/\/HOST:PORT/);
  assert.throws(() => parseQueueUrl('localhost:6379'), /queue: 'localhost:6379' has the scheme 'localhost'/);
  assert.throws(() => parseQueueUrl('not a url'), /queue: 'not a url' is not a URL/);
  assert.throws(() => parseQueueUrl('redis://h/x'), /the database 'x' is not a number/);
  const port = await freePort();
  await assert.rejects(probe(parseQueueUrl(`redis://127.0.0.1:${port}`), 1000), new RegExp(`^Error: queue: cannot reach Redis at redis://127.0.0.1:${port} \\(.*ECONNREFUSED.*\\)$`));
});
