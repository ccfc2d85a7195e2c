/** IdleCache: built on first use, shared while in use, closed once idle, built again after. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { IdleCache } from '../../src/util/idle.js';

test('a resource is built once while used, closed after the idle time, and built again when next asked for', async () => {
  const built: number[] = [];
  const closed: number[] = [];
  const cache = new IdleCache<number>(5, async (v) => closed.push(v));
  const make = async () => built.push(built.length + 1);
  // Two overlapping uses share one build; none is closed while a use runs.
  const [a, b] = await Promise.all([cache.use('k', make, async (v) => (await sleep(20), v)), cache.use('k', make, async (v) => v)]);
  assert.deepEqual([a, b, built, closed], [1, 1, [1], []]);
  await sleep(40);
  assert.deepEqual(closed, [1]);
  assert.equal(await cache.use('k', make, async (v) => v), 2);
  // Another key is another resource; clear closes everything at once.
  assert.equal(await cache.use('other', make, async (v) => v), 3);
  await cache.clear();
  assert.deepEqual(closed.sort(), [1, 2, 3]);
});

test('a build that fails is not kept: its error reaches the use, the next use builds again', async () => {
  const cache = new IdleCache<string>(1000, async () => undefined);
  await assert.rejects(cache.use('k', async () => { throw new Error('no workers'); }, async (v) => v), /no workers/);
  assert.equal(await cache.use('k', async () => 'up', async (v) => v), 'up');
  await cache.clear();
});

test('closeIdle closes what no use holds now and leaves a resource in use open', async () => {
  const closed: string[] = [];
  const cache = new IdleCache<string>(60_000, async (v) => closed.push(v));
  await cache.use('idle', async () => 'idle', async (v) => v);
  let release!: () => void;
  const held = cache.use('busy', async () => 'busy', () => new Promise<string>((r) => (release = () => r('done'))));
  await sleep(5);
  await cache.closeIdle();
  assert.deepEqual(closed, ['idle']);
  release();
  assert.equal(await held, 'done');
  // Built again on the next use.
  let builds = 0;
  await cache.use('idle', async () => (builds++, 'idle'), async (v) => v);
  assert.equal(builds, 1);
  await cache.clear();
  assert.deepEqual(closed.sort(), ['busy', 'idle', 'idle']);
});
