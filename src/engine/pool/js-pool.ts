/**
 * One shared pool of worker threads that start no TF.js engine, for pure-JS work split by images (TVM's planes,
 * BMCNN's slices, Gaussian noise, the median filter): the process's other cores, used where TF.js's threads do not reach. The callers
 * decide the thread count (inside a pool worker, where the pool is the parallelism, they pass 1).
 */
import { WorkerPool, type TaskRef } from './pool.js';

let pool: Promise<WorkerPool> | undefined;
let poolSize = 0;

/** The shared pool with `threads` workers (re-created when another size is asked for); idle, it keeps no process alive. */
function jsPool(threads: number): Promise<WorkerPool> {
  if (!pool || poolSize !== threads) {
    const old = pool;
    poolSize = threads;
    pool = WorkerPool.create({ workers: threads, backend: 'none' });
    void old?.then((p) => p.close());
  }
  return pool;
}

/**
 * End the shared pool's workers and whatever they hold (BMCNN's sessions, TVM's kernels); the next task starts
 * a new pool. For the pauses between a program's phases: tasks still queued are rejected.
 */
export async function releaseJsPool(): Promise<void> {
  const old = pool;
  pool = undefined;
  await old?.then((p) => p.close());
}

/** n images as up to `parts` contiguous, non-empty ranges [a, b). */
export function imageRanges(n: number, parts: number): [number, number][] {
  const k = Math.max(1, Math.min(parts, n));
  return Array.from({ length: k }, (_, i) => [Math.round((i * n) / k), Math.round(((i + 1) * n) / k)]);
}

/**
 * `task` once per range of the n images, on `threads` workers, results in range order; `payload(a, b)` builds a
 * range's payload (its typed arrays are transferred). One range (one thread or one image) runs `inline` instead.
 */
export async function mapImageRanges<P, R>(
  n: number, threads: number, task: TaskRef, payload: (a: number, b: number) => P, inline: (p: P) => R,
): Promise<{ ranges: [number, number][]; results: R[] }> {
  const ranges = imageRanges(n, threads);
  if (ranges.length < 2) return { ranges, results: [inline(payload(0, n))] };
  const payloads = ranges.map(([a, b]) => payload(a, b));
  const p = await jsPool(threads);
  return { ranges, results: await p.map<R>(task, payloads, payloads.map(buffersOf)) };
}

function buffersOf(p: unknown): ArrayBuffer[] {
  if (p === null || typeof p !== 'object') return [];
  return Object.values(p).flatMap((v) => (ArrayBuffer.isView(v) && v.buffer instanceof ArrayBuffer ? [v.buffer] : []));
}
