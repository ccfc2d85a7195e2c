/** The bounded inference queue on a real worker pool: 503 with Retry-After when full, deadlines (also through HTTP). */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkerPool } from '../../src/engine/pool/pool.js';
import { TF_OP } from '../../src/engine/pool/tasks.js';
import { HttpError } from '../../src/server/errors.js';
import { InferenceQueue } from '../../src/server/queue.js';
import { facePhotos, refused, testServer } from './helpers.js';

let pool: WorkerPool;
before(async () => {
  pool = await WorkerPool.create({ workers: 1 });
});
after(() => pool?.close());

/** A task that keeps the worker busy for a while (a few large matrix products). */
const busy = () => ({ op: 'matMul', inputs: [{ data: new Float32Array(600 * 600).fill(1), shape: [600, 600] }, { data: new Float32Array(600 * 600).fill(1), shape: [600, 600] }] });

test('a full queue refuses at once with 503 and Retry-After; queued work still completes', async () => {
  const depths: number[] = [];
  const q = new InferenceQueue(pool, 1, (waiting) => depths.push(waiting));
  const results = await Promise.allSettled([0, 1, 2, 3].map(() => q.run(TF_OP, busy(), [], 60000)));
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'rejected']);
  for (const r of results.slice(2)) {
    const e = (r as PromiseRejectedResult).reason as HttpError;
    assert.ok(e instanceof HttpError);
    assert.equal(e.statusCode, 503);
    assert.match(e.message, /server busy: 1 requests already queued \(limit 1\)/);
    assert.ok(Number(e.headers['retry-after']) >= 1);
  }
  assert.equal(Math.max(...depths), 1);
  await q.drained();
  assert.equal(q.depth + q.active, 0);
});

test('a request still waiting at its deadline is answered 503 and never runs', async () => {
  const q = new InferenceQueue(pool, 4);
  const first = q.run(TF_OP, busy(), [], 60000);
  const late = q.run(TF_OP, busy(), [], 1);
  await assert.rejects(late, (e: HttpError) => e.statusCode === 503 && /timed out after 1 ms/.test(e.message));
  await first;
  await q.drained();
});

test('through HTTP: a request past timeoutMs is answered 503 with Retry-After and one line, and the server keeps serving', async () => {
  const { aliceProbe } = await facePhotos();
  const { server } = await testServer({ timeoutMs: 100 });
  try {
    const res = await server.app.inject({ method: 'POST', url: '/v1/identify?compare=true', headers: { 'content-type': 'image/jpeg' }, payload: aliceProbe }); // two descriptor passes: well over 100 ms
    refused(res, 503, /^timed out after 100 ms \(limit timeoutMs\)$/);
    assert.ok(Number(res.headers['retry-after']) >= 1);
    assert.equal((await server.app.inject({ url: '/healthz' })).statusCode, 200);
  } finally {
    await server.close();
  }
});

test('a crashed inference worker: readyz and inference requests answer 503 (restart the server), nothing hangs', async () => {
  const { aliceProbe } = await facePhotos();
  const { server } = await testServer({});
  try {
    assert.equal((await server.app.inject({ url: '/readyz' })).statusCode, 200);
    await assert.rejects(server.ctx.queue.run({ module: new URL('./die-task.js', import.meta.url), name: 'die' }, null, [], 10000), /worker exited unexpectedly/);
    refused(await server.app.inject({ url: '/readyz' }), 503, /^inference workers stopped; the server needs a restart$/);
    refused(await server.app.inject({ method: 'POST', url: '/v1/identify', headers: { 'content-type': 'image/jpeg' }, payload: aliceProbe }), 503, /inference workers stopped/);
  } finally {
    await server.close();
  }
});
