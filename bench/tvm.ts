/**
 * TVM's plane solvers (solver=lbfgs, ART's; solver=pdhg, ours) on the defences bench's faces (32 at 150×150, ART's
 * default parameters, fixed masks), at the pool's threads and at 1, as ms per face (wall and CPU of all threads).
 *
 * `ROBUSTIFY_BENCH_TVM_AGAINST=DIR` also times another build of robustify (DIR holds its `dist/`, e.g. main's in a
 * second worktree) on the same batch, the two interleaved run by run (alternating which goes first) so that both
 * see the same load; each record then gives both figures, the speed-up and the largest |Δ| between the outputs
 * (0 = bit for bit the same). `node dist/bench/tvm.js`, or `npm run bench -- --only tvm`.
 */
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { initEngine } from '../src/engine/backend.js';
import { poolThreads } from '../src/engine/threads.js';
import { drawMask } from '../src/defences/tvm.js';
import { solveTvmBatch, type TvmSolve } from '../src/defences/tvm-planes.js';
import { BATCH, loadFaces } from './defences.js';

type Solve = typeof solveTvmBatch;
type Shape = [number, number, number, number];

const RUNS = 5;
const SPECS: TvmSolve[] = [
  { solver: 'lbfgs', norm: 2, lamb: 0.5, max_iter: 10 },
  { solver: 'pdhg', norm: 2, lamb: 0.5, iterations: 25 },
];

interface Timing {
  wall: number[];
  cpu: number[];
  out?: Float32Array;
}

async function timeOnce(solve: Solve, x: Float32Array, mask: Uint8Array, shape: Shape, spec: TvmSolve, threads: number, t: Timing): Promise<void> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  t.out = await solve(x, mask, shape, spec, threads);
  t.wall.push((performance.now() - start) / shape[0]);
  const { user, system } = process.cpuUsage(cpu);
  t.cpu.push((user + system) / 1000 / shape[0]);
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return Math.round(s[s.length >> 1] * 10) / 10;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export async function benchTvm(against = process.env.ROBUSTIFY_BENCH_TVM_AGAINST): Promise<object[]> {
  await initEngine({ backend: 'wasm', strict: true });
  const faces = await loadFaces(BATCH);
  const x = (await faces.data()) as Float32Array;
  const shape = faces.shape as Shape;
  faces.dispose();
  const size = x.length / shape[0];
  const mask = new Uint8Array(x.length);
  for (let i = 0; i < shape[0]; i++) mask.set(drawMask(size, 0.3, i + 1), i * size);
  const other: Solve | undefined = against
    ? ((await import(pathToFileURL(path.resolve(against, 'dist/src/defences/tvm-planes.js')).href)) as { solveTvmBatch: Solve }).solveTvmBatch
    : undefined;
  const records: object[] = [];
  for (const spec of SPECS) {
    for (const threads of [...new Set([poolThreads(), 1])]) {
      const ours: Timing = { wall: [], cpu: [] };
      const theirs: Timing = { wall: [], cpu: [] };
      // One untimed run each (JIT, worker start-up), then RUNS timed, alternating which build goes first.
      for (let r = -1; r < RUNS; r++) {
        const order: [Solve, Timing][] = [[solveTvmBatch, ours], ...(other ? [[other, theirs] as [Solve, Timing]] : [])];
        if (r % 2 === 1) order.reverse();
        for (const [solve, t] of order) await timeOnce(solve, x, mask, shape, spec, threads, t);
        if (r === -1) for (const t of [ours, theirs]) t.wall.length = t.cpu.length = 0;
      }
      records.push({
        bench: `tvm:solver=${spec.solver}`,
        threads,
        ms_per_face: median(ours.wall),
        cpu_ms_per_face: median(ours.cpu),
        ...(other ? {
          against,
          against_ms_per_face: median(theirs.wall),
          against_cpu_ms_per_face: median(theirs.cpu),
          speedup: Math.round((median(theirs.wall) / median(ours.wall)) * 100) / 100,
          cpu_speedup: Math.round((median(theirs.cpu) / median(ours.cpu)) * 100) / 100,
          max_abs_diff: maxAbsDiff(ours.out!, theirs.out!),
        } : {}),
        batch: shape[0],
        size: shape[1],
        runs: RUNS,
        load_avg: Math.round(os.loadavg()[0] * 10) / 10,
      });
    }
  }
  return records;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await benchTvm()) console.log(JSON.stringify(r));
}
