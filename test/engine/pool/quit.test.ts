/** stopWorkers: tracked workers end between two of their calls (a busy one when its call returns); an untracked protocol times out. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { stopWorkers, tracked } from '../../../src/engine/pool/quit.js';

const QUIT_URL = new URL('../../../src/engine/pool/quit.js', import.meta.url).href;

/** A worker answering each request after `busyMs` of synchronous work (standing in for a native call). */
function busyWorker(busyMs: number, withQuit: boolean): Worker {
  const code = `
    const { parentPort } = require('node:worker_threads');
    const work = (m) => { const end = Date.now() + ${busyMs}; while (Date.now() < end); parentPort.postMessage({ done: m }); };
    import(${JSON.stringify(QUIT_URL)}).then(({ onRequest }) => {
      if (${withQuit}) onRequest(parentPort, work); else parentPort.on('message', (m) => { if (m !== 'robustify:quit') work(m); });
      parentPort.postMessage('ready');
    });`;
  return new Worker(code, { eval: true });
}

const ready = (w: Worker) => new Promise((resolve) => w.once('message', resolve));

test('stopWorkers: a worker busy in a call finishes it, then ends; requests still reach the handler', async () => {
  const w = tracked(busyWorker(300, true));
  await ready(w);
  const answered = new Promise((resolve) => w.once('message', resolve));
  w.postMessage('job');
  await new Promise((r) => setTimeout(r, 50));
  let exited = false;
  w.once('exit', () => (exited = true));
  assert.equal(await stopWorkers(5000), true);
  assert.ok(exited);
  assert.deepEqual(await answered, { done: 'job' }, 'the call in flight completed before the worker ended');
  assert.equal(await stopWorkers(100), true, 'nothing left to stop');
});

test('stopWorkers: a worker that ignores the request is waited for at most the timeout', async () => {
  const w = tracked(busyWorker(0, false));
  await ready(w);
  assert.equal(await stopWorkers(200), false);
  await w.terminate();
});
