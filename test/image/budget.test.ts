import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteBudget, decodeBytes } from '../../src/image/index.js';

/** Runs `sizes` through `budget` at once; returns the largest number of jobs and bytes held at the same time. */
async function peak(budget: ByteBudget, sizes: number[]): Promise<{ jobs: number; bytes: number; order: number[] }> {
  let jobs = 0;
  let most = { jobs: 0, bytes: 0 };
  const order: number[] = [];
  await Promise.all(
    sizes.map((bytes, i) =>
      budget.run(bytes, async () => {
        jobs++;
        order.push(i);
        most = { jobs: Math.max(most.jobs, jobs), bytes: Math.max(most.bytes, budget.inUse) };
        await new Promise((r) => setTimeout(r, 5));
        jobs--;
      }),
    ),
  );
  return { ...most, order };
}

test('ByteBudget runs small decodes together and large ones fewer at a time', async () => {
  const budget = new ByteBudget(100);
  assert.deepEqual((await peak(budget, [10, 10, 10, 10])).jobs, 4);
  const large = await peak(budget, [60, 60, 60]);
  assert.equal(large.jobs, 1);
  assert.ok(large.bytes <= 100);
  assert.equal(budget.inUse, 0);
});

test('ByteBudget lets a request larger than the budget run alone, and keeps FIFO order', async () => {
  const budget = new ByteBudget(100);
  const r = await peak(budget, [30, 500, 30]);
  assert.equal(r.jobs, 1);
  assert.deepEqual(r.order, [0, 1, 2]);
  assert.throws(() => new ByteBudget(0), /limit must be > 0/);
});

test('decodeBytes grows with the pixel count', () => {
  assert.equal(decodeBytes(2000, 2000), 4 * decodeBytes(1000, 1000));
});
