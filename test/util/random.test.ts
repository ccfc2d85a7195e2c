import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRandom, hashSeed, xoshiro128ss } from '../../src/util/random.js';

test('xoshiro128** matches the reference C implementation', () => {
  // Reference: xoshiro128starstar.c (Blackman & Vigna) from state {1, 2, 3, 4}.
  const next = xoshiro128ss(Uint32Array.from([1, 2, 3, 4]));
  assert.deepEqual(Array.from({ length: 6 }, next), [11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
});

test('same seed, same stream; different seeds, different streams', () => {
  const a = createRandom(42);
  const b = createRandom(42);
  const c = createRandom(43);
  const xa = Array.from({ length: 5 }, () => a.next());
  assert.deepEqual(xa, Array.from({ length: 5 }, () => b.next()));
  assert.notDeepEqual(xa, Array.from({ length: 5 }, () => c.next()));
  assert.ok(xa.every((v) => v >= 0 && v < 1));
  assert.equal(createRandom('train').next(), createRandom(hashSeed('train')).next());
});

test('int is in range and roughly uniform', () => {
  const rnd = createRandom(7);
  const counts = new Array<number>(6).fill(0);
  for (let i = 0; i < 60000; i++) counts[rnd.int(6)]++;
  for (const n of counts) assert.ok(Math.abs(n - 10000) < 500, `count ${n}`);
  assert.throws(() => rnd.int(0), /positive integer bound/);
});

test('normal deviates have the requested mean and standard deviation', () => {
  const rnd = createRandom(1);
  const xs = rnd.fillNormal(new Float64Array(100000), 3, 2);
  const mean = xs.reduce((s, v) => s + v, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((s, v) => s + (v - mean) ** 2, 0) / xs.length);
  assert.ok(Math.abs(mean - 3) < 0.03, `mean ${mean}`);
  assert.ok(Math.abs(sd - 2) < 0.03, `sd ${sd}`);
  assert.ok(xs.every(Number.isFinite));
});

test('shuffle is a deterministic permutation; fork is independent and does not advance the parent', () => {
  const items = Array.from({ length: 20 }, (_, i) => i);
  const s1 = createRandom(5).shuffle([...items]);
  assert.deepEqual(s1, createRandom(5).shuffle([...items]));
  assert.notDeepEqual(s1, items);
  assert.deepEqual([...s1].sort((x, y) => x - y), items);

  const parent = createRandom(9);
  const reference = createRandom(9);
  const f1 = parent.fork('noise').next();
  assert.equal(parent.next(), reference.next());
  assert.equal(createRandom(9).fork('noise').next(), f1);
  assert.notEqual(createRandom(9).fork('other').next(), f1);
});
