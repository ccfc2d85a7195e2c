/**
 * Our worker pool (src/engine/pool) against Piscina (issue #16: adopt or refuse), two workers each, the same
 * worker set-up (bench/piscina-worker.ts mirrors ours): the round trip of a trivial task one at a time
 * (dispatch overhead), trivial tasks with many in flight (throughput), and the server's real task — decode,
 * detect, align and describe one face photo (src/server/inference.ts) — one at a time and 2 in flight per
 * worker. Runs of the two pools alternate, so load from other processes hits both alike; each figure is the
 * best of 3. Run alone: `node dist/bench/pools.js`.
 */
import { pathToFileURL } from 'node:url';
import { Piscina } from 'piscina';
import { WorkerPool, type TaskRef } from '../src/engine/pool/pool.js';
import { ANALYSE, WARM, type AnalysePayload } from '../src/server/inference.js';
import { facePhotos } from '../test/server/helpers.js';

const WORKERS = 2;
const ECHO: TaskRef = { module: new URL('./pool-echo.js', import.meta.url), name: 'echo' };
const round = (v: number, d = 1): number => Number(v.toFixed(d));

/** One way of running a task on a worker. */
type Run = (task: TaskRef, payload: unknown, transfer?: ArrayBuffer[]) => Promise<unknown>;

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

async function sequential(run: Run, task: TaskRef, payload: () => unknown, n: number): Promise<number> {
  return timed(async () => {
    for (let i = 0; i < n; i++) await run(task, payload());
  });
}

async function parallel(run: Run, task: TaskRef, payload: () => { p: unknown; transfer?: ArrayBuffer[] }, n: number): Promise<number> {
  return timed(() =>
    Promise.all(
      Array.from({ length: n }, () => {
        const { p, transfer } = payload();
        return run(task, p, transfer);
      }),
    ),
  );
}

export async function benchPools(): Promise<object[]> {
  const ours = await WorkerPool.create({ workers: WORKERS });
  const piscina = new Piscina({ filename: new URL('./piscina-worker.js', import.meta.url).href, minThreads: WORKERS, maxThreads: WORKERS, idleTimeout: 60_000 });
  const url = (m: string | URL): string => String(m instanceof URL || m.startsWith('file:') ? m : pathToFileURL(m));
  const runs: Record<string, Run> = {
    ours: (task, payload, transfer = []) => ours.run(task, payload, transfer),
    piscina: (task, payload, transfer = []) => piscina.run({ module: url(task.module), name: task.name, payload }, { transferList: transfer }),
  };
  try {
    const { aliceProbe } = await facePhotos();
    const analyse = (): { p: AnalysePayload; transfer: ArrayBuffer[] } => {
      const bytes = new Uint8Array(aliceProbe);
      const p: AnalysePayload = { bytes, label: 'image', backbone: 'face-api', maxPixels: 40e6, maxFaces: 20, minFaceSize: 20, largestOnly: false, pipeline: 'median:window_size=3,jpeg:quality=20', bare: false, seed: 1 };
      return { p, transfer: [bytes.buffer] };
    };
    for (const run of Object.values(runs)) {
      // Both workers load the networks and the pipeline, then every code path runs once (JIT).
      await Promise.all(Array.from({ length: WORKERS }, () => run(WARM, { backbone: 'face-api', pipeline: analyse().p.pipeline! })));
      await parallel(run, ANALYSE, analyse, WORKERS);
      await parallel(run, ECHO, () => ({ p: { i: 1 } }), 1000);
    }
    const cases: { name: string; n: number; measure: (run: Run) => Promise<number>; per: 'us' | 'ms' }[] = [
      { name: 'trivial-sequential', n: 2000, per: 'us', measure: (run) => sequential(run, ECHO, () => ({ i: 1 }), 2000) },
      { name: 'trivial-in-flight', n: 20000, per: 'us', measure: (run) => parallel(run, ECHO, () => ({ p: { i: 1 } }), 20000) },
      { name: 'embed-sequential', n: 6, per: 'ms', measure: (run) => sequential(run, ANALYSE, () => analyse().p, 6) },
      { name: 'embed-in-flight', n: 4 * WORKERS, per: 'ms', measure: (run) => parallel(run, ANALYSE, analyse, 4 * WORKERS) },
    ];
    const out: object[] = [];
    for (const c of cases) {
      const best: Record<string, number> = { ours: Infinity, piscina: Infinity };
      for (let rep = 0; rep < 3; rep++) for (const [name, run] of Object.entries(runs)) best[name] = Math.min(best[name], await c.measure(run));
      const scale = c.per === 'us' ? 1000 : 1;
      out.push({
        bench: 'pools',
        case: c.name,
        workers: WORKERS,
        tasks: c.n,
        [`ours_${c.per}_per_task`]: round((best.ours * scale) / c.n, 2),
        [`piscina_${c.per}_per_task`]: round((best.piscina * scale) / c.n, 2),
        ours_tasks_per_s: round((c.n * 1000) / best.ours),
        piscina_tasks_per_s: round((c.n * 1000) / best.piscina),
      });
    }
    return out;
  } finally {
    await Promise.all([ours.close(), piscina.destroy()]);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await benchPools()) console.log(JSON.stringify(r));
}
