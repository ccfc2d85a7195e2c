/** The study's step graph: run in declared order, each step once, `afterStep` after every announced one. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { StepCache } from '../../src/study/cache.js';
import { step, walk, type Step } from '../../src/study/graph.js';

interface Out {
  a: number;
  glue: number;
  b: number;
}
const define = step<Out, { k: number }>();

test('walk runs the steps in order and afterStep after each announced step, before its time is taken', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'robustify-graph-'));
  try {
    const log: string[] = [];
    const steps: Step<Out, { k: number }>[] = [
      define({ id: 'a', what: 'first', inputs: [], run: async () => (log.push('a'), 1) }),
      define({ id: 'glue', inputs: ['a'], run: async ({ a }) => (log.push('glue'), a + 1) }),
      define({ id: 'b', what: 'second', inputs: ['glue'], config: (c) => c.k, run: async ({ glue }) => (log.push('b'), glue * 10) }),
    ];
    const timings: Record<string, number> = {};
    const { outputs } = await walk(steps, { config: { k: 1 }, cache: new StepCache(dir), timings, onStep: (id) => log.push(`start ${id}`), afterStep: async () => void log.push('after') });
    assert.deepEqual(outputs, { a: 1, glue: 2, b: 20 });
    assert.deepEqual(log, ['start a', 'a', 'after', 'glue', 'start b', 'b', 'after']);
    assert.deepEqual(Object.keys(timings), ['a', 'b']);
    const missing = [define({ id: 'b', inputs: ['a'], run: async () => 0 })];
    await assert.rejects(walk(missing, { config: { k: 1 }, cache: new StepCache(dir), timings }), /study graph: step 'b' reads 'a', which no earlier step makes/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
