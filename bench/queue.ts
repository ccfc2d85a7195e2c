/**
 * The queue's throughput (issue #15): the PGD set of faces14's test faces (paper PGD: eps 4, step 0.1, 100
 * iterations) computed here, then through Redis with 1 and with 2 worker processes on this machine; overhead
 * per job, efficiency, Redis's own throughput (redis-benchmark), and the projected wall time of 100 000 faces on
 * 1, 10 and 100 machines. Every run's iterates are checked equal to the local run's.
 * Knobs: ROBUSTIFY_BENCH_QUEUE_FACES (all test faces), _ITERS (100), _BATCH (8: faces per job), _WORKERS ("1,2").
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PGD_DEFAULTS, type PgdParams } from '../src/attacks/index.js';
import { listDataset, loadImages, selectTopK, splitDataset } from '../src/data/index.js';
import { describeEngine, initEngine } from '../src/engine/backend.js';
import { accelerated } from '../src/models/native.js';
import { QueueCoordinator } from '../src/queue/coordinator.js';
import { StepCache } from '../src/study/cache.js';
import { packImages, type ImageSet } from '../src/study/imageset.js';
import { adversarialSets, LOCAL_RUNNER, type BatchRunner } from '../src/study/steps.js';
import { benchModel } from './pgd.js';

const SHARED = path.resolve(process.env.ROBUSTIFY_SHARED ?? '../shared');
const CLI = path.resolve('dist/src/cli/main.js');
const env = (name: string, dflt: number): number => (process.env[name] ? Number(process.env[name]) : dflt);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

function waitFor(child: ChildProcess, stream: 'stdout' | 'stderr', text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    child[stream]!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(text)) resolve();
    });
    child.on('exit', (code) => reject(new Error(`exited (${code}) before '${text}': ${out}`)));
  });
}

export async function benchQueue(): Promise<object[]> {
  const engine = await initEngine();
  const sel = selectTopK(await listDataset(path.join(SHARED, 'data/faces14')), 14);
  const { test } = splitDataset(sel.samples);
  const faces = test.slice(0, env('ROBUSTIFY_BENCH_QUEUE_FACES', test.length));
  const { images, samples } = await loadImages(faces);
  const set: ImageSet = { key: 'bench-faces14-test', height: images[0].height, width: images[0].width, data: packImages(images), labels: samples.map((s) => s.label), sources: samples.map((s) => s.file) };
  const params: PgdParams = { ...PGD_DEFAULTS, eps: 4, eps_step: 0.1, max_iter: env('ROBUSTIFY_BENCH_QUEUE_ITERS', 100), batch_size: env('ROBUSTIFY_BENCH_QUEUE_BATCH', 8), seed: 0, num_random_init: 0, targeted: false };
  const head = await benchModel();
  const { classifier, engine: engineName, release } = await accelerated(head);
  const modelDir = process.env.ROBUSTIFY_BENCH_MODEL ?? path.join(os.tmpdir(), 'robustify-bench-faces14-model');
  const modelKey = `bench-faces14@${engineName}`;
  const jobs = Math.ceil(faces.length / params.batch_size);
  const common = { bench: 'queue', faces: faces.length, max_iter: params.max_iter, faces_per_job: params.batch_size, jobs, attack_engine: engineName, engine: describeEngine(engine), load_average: os.loadavg().map((x) => Number(x.toFixed(2))) };

  const attack = async (runner: BatchRunner) => {
    const cache = new StepCache(await fsp.mkdtemp(path.join(os.tmpdir(), 'robustify-bench-queue-')));
    const t = performance.now();
    const made = await adversarialSets(cache, set, { target: { model: classifier, modelKey, seed: 0 }, params, step: 'bench', runner });
    const seconds = (performance.now() - t) / 1000;
    await fsp.rm(cache.root, { recursive: true, force: true });
    return { seconds, data: made.get(params.max_iter)!.data };
  };

  const out: object[] = [];
  // Local runs before and after the queue's (load here varies); the faster one is the reference.
  const localRun = async (when: string) => {
    const r = await attack(LOCAL_RUNNER);
    out.push({ ...common, run: `local (${when})`, seconds: Number(r.seconds.toFixed(2)), seconds_per_face: Number((r.seconds / faces.length).toFixed(3)) });
    return r;
  };
  let local = await localRun('first');

  const port = await freePort();
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const procs: ChildProcess[] = [redis];
  try {
    await waitFor(redis, 'stdout', 'Ready to accept connections');
    const url = `redis://127.0.0.1:${port}`;
    let perJobOverheadMs = 0;
    const queued: { k: number; seconds: number; overhead: number; stats: ReturnType<QueueCoordinator['stats']>; equal: boolean }[] = [];
    for (const k of (process.env.ROBUSTIFY_BENCH_QUEUE_WORKERS ?? '1,2').split(',').map(Number)) {
      const workers = [...Array(k).keys()].map((i) => spawn(process.execPath, [CLI, 'worker', '--queue', url, '--name', `bench${i + 1}`, '--cache', path.join(os.tmpdir(), `robustify-bench-worker${i + 1}`)], { stdio: ['ignore', 'ignore', 'pipe'] }));
      procs.push(...workers);
      await Promise.all(workers.map((w) => waitFor(w, 'stderr', 'taking jobs')));
      await new Promise<void>((resolve, reject) => execFile('redis-cli', ['-p', String(port), 'flushall'], (e) => (e ? reject(e) : resolve())));
      const coordinator = await QueueCoordinator.open({ url });
      try {
        const runner = await coordinator.runner({ dir: modelDir, key: modelKey, engine: engineName, identities: head.identities });
        const r = await attack(runner);
        const s = coordinator.stats();
        const equal = Buffer.compare(Buffer.from(r.data.buffer), Buffer.from(local.data.buffer)) === 0;
        // Time a worker was not computing, per job: waiting for its next job, transfers, Redis.
        const overhead = ((r.seconds * k - s.compute_seconds) / jobs) * 1000;
        if (k === 1) perJobOverheadMs = overhead;
        queued.push({ k, seconds: r.seconds, overhead, stats: s, equal });
      } finally {
        await coordinator.close();
        for (const w of workers) w.kill('SIGTERM');
        await Promise.all(workers.map((w) => new Promise((resolve) => (w.exitCode !== null ? resolve(null) : w.on('exit', resolve)))));
      }
    }

    const again = await localRun('after the queue runs');
    if (again.seconds < local.seconds) local = again;
    for (const q of queued) {
      out.push({
        ...common,
        run: `queue, ${q.k} worker process${q.k > 1 ? 'es' : ''}`,
        seconds: Number(q.seconds.toFixed(2)),
        speedup: Number((local.seconds / q.seconds).toFixed(3)),
        efficiency: Number((local.seconds / (q.seconds * q.k)).toFixed(3)),
        overhead_ms_per_job: Number(q.overhead.toFixed(1)),
        worker_compute_seconds: q.stats.compute_seconds,
        jobs_per_worker: Object.fromEntries(Object.entries(q.stats.workers).map(([w, x]) => [w, x.jobs])),
        iterates_equal_to_local: q.equal,
      });
    }

    // Redis's own capacity: small-result round trips and batch-sized artifacts.
    const bytesPerJob = params.batch_size * set.height * set.width * 3 * 4 * 2; // clean images in, last iterate out
    const bench = (args: string[]) => promisify(execFile)('redis-benchmark', ['-p', String(port), '-q', ...args]).then((r) => r.stdout);
    const small = await bench(['-t', 'set,get', '-n', '50000', '-d', '200']);
    const large = await bench(['-t', 'set,get', '-n', '200', '-d', String(bytesPerJob / 2)]);
    const rps = (text: string, op: string) => Number(new RegExp(`${op}: ([\\d.]+) requests per second`).exec(text)?.[1] ?? NaN);
    const largeRps = Math.min(rps(large, 'SET'), rps(large, 'GET'));
    out.push({ bench: 'queue', run: 'redis', small_set_per_s: rps(small, 'SET'), small_get_per_s: rps(small, 'GET'), artifact_bytes: bytesPerJob / 2, artifact_set_get_per_s: largeRps, load_average: common.load_average });

    // 100 000 faces: each machine like this one running one worker (all its cores on one batch); jobs of
    // `faces_per_job` faces; per job the measured local compute plus the measured overhead; one Redis moving
    // each job's bytes (in and out, ~4 artifact transfers per job at the measured rate), the ceiling.
    const perFace = local.seconds / faces.length;
    const total = 100_000;
    const totalJobs = Math.ceil(total / params.batch_size);
    const redisSeconds = (totalJobs * 4) / largeRps;
    for (const machines of [1, 10, 100]) {
      const compute = (totalJobs * (params.batch_size * perFace + perJobOverheadMs / 1000)) / machines;
      out.push({
        bench: 'queue',
        run: 'projection',
        faces: total,
        machines,
        hours: Number((Math.max(compute, redisSeconds) / 3600).toFixed(2)),
        bound: compute >= redisSeconds ? 'workers' : 'redis',
        assumptions: `${perFace.toFixed(3)} s/face at ${params.max_iter} iterations (measured here, load ${common.load_average[0]}), ${perJobOverheadMs.toFixed(0)} ms overhead per job of ${params.batch_size} faces, one 2-core worker per machine, one Redis at ${largeRps.toFixed(0)} transfers/s of ${(bytesPerJob / 2 / 1e6).toFixed(1)} MB`,
      });
    }
  } finally {
    for (const p of procs.reverse()) if (p.exitCode === null) p.kill('SIGKILL');
    await release();
    head.dispose();
  }
  return out;
}
