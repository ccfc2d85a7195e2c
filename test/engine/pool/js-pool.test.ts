/** The shared JS pool: released between a program's phases, started again by the next task. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { releaseJsPool } from '../../../src/engine/pool/js-pool.js';
import { blockMatchBatch, blockMatch, DEFAULT_MATCH } from '../../../src/denoise/match.js';

test('releaseJsPool ends the workers; the next task starts a new pool and gives the same results', async () => {
  await releaseJsPool(); // no pool yet: nothing to do
  const n = 3;
  const pilot = Float32Array.from({ length: n * 12 * 16 * 3 }, (_, i) => Math.sin(i * 0.37) * 100);
  const inline = blockMatch(pilot, n, 12, 16, DEFAULT_MATCH);
  assert.deepEqual(await blockMatchBatch(pilot, n, 12, 16, DEFAULT_MATCH, 2), inline);
  await releaseJsPool();
  assert.deepEqual(await blockMatchBatch(pilot, n, 12, 16, DEFAULT_MATCH, 2), inline);
  await releaseJsPool();
});
