/** SIGTERM to `robustify serve`: in-flight requests are answered, new ones are not taken, the process exits 0; its logs are JSON with request ids. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { facePhotos, spawnServe, tempDir } from './helpers.js';

test('SIGTERM drains: requests in flight get their answers, later ones are refused, exit code 0; JSON logs carry request ids', async () => {
  const { aliceProbe } = await facePhotos();
  const { child, address, logs, exited } = await spawnServe(path.join(await tempDir('shutdown'), 'gallery.sqlite'));
  try {
    const identify = () => fetch(`${address}/v1/identify`, { method: 'POST', headers: { 'content-type': 'image/jpeg', 'x-request-id': 'drain-test' }, body: new Uint8Array(aliceProbe) });
    // Three requests on one worker: one running, two queued when the signal comes.
    const inflight = [identify(), identify(), identify()];
    const t0 = Date.now();
    while (!logs.some((l) => l.includes('incoming request')) || logs.filter((l) => l.includes('incoming request')).length < 3) {
      if (Date.now() - t0 > 30000) throw new Error('the requests never arrived');
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    // While draining: a kept-alive connection gets 503, a new one finds the port closed.
    const late = await identify().then((r) => String(r.status), () => 'connection refused');
    assert.match(late, /^(503|connection refused)$/);
    const answers = await Promise.all(inflight);
    assert.deepEqual(answers.map((r) => r.status), [200, 200, 200]);
    for (const r of answers) assert.equal(((await r.json()) as { faces: unknown[] }).faces.length, 1);
    assert.deepEqual(await exited, { code: 0, signal: null });
    const records = logs.map((l) => JSON.parse(l) as { msg: string; reqId?: string });
    assert.ok(records.some((r) => r.msg === 'draining in-flight requests'));
    assert.equal(records.filter((r) => r.msg === 'request completed' && r.reqId === 'drain-test').length, 3, 'the request id of the client is logged');
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});
