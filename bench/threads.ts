/**
 * One thread against N threads on the wasm backend (src/engine/threads.ts): convolutions at the face
 * backbone's widths, a matmul, and the backbone's forward pass and input gradient (what PGD runs).
 * Both variants live in this one process as two temporary backends sharing the 'wasm' kernels, and their
 * runs alternate, so load from other processes hits both alike; each figure is the best of `reps` runs.
 * CPU time (all threads) shows the work done; on a busy machine wall-clock speed-ups shrink towards 1.
 * The last record sets the data-parallel WorkerPool (one single-threaded engine per worker, the batch split
 * by samples) against both on the backbone's input gradient.
 * Run alone: `node dist/bench/threads.js`.
 */
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../src/engine/backend.js';
import { MAX_THREADS, createThreadedWasmBackend, stockWasmFactory, wasmThreads } from '../src/engine/threads.js';
import { BACKBONE_INPUT_SIZE, FaceRecognitionNet } from '../src/models/backbone.js';
import { WorkerPool } from '../src/engine/pool/pool.js';
import { joinSamples, splitSamples, type BatchData } from '../src/engine/pool/batch.js';

interface Case {
  name: string;
  detail: object;
  reps?: number;
  /** Builds inputs on the active backend; `run` computes one output, `dispose` frees the inputs. */
  make(): Promise<{ run: () => tf.Tensor; dispose: () => void }>;
}

const rand = (shape: number[]): tf.Tensor => tf.randomUniform(shape, -1, 1);

function convCase(x: [number, number, number, number], f: [number, number, number, number]): Case {
  return {
    name: `conv${f[0]}x${f[1]}x${f[2]}x${f[3]}`,
    detail: { x, filter: f, padding: 'same' },
    make: async () => {
      const [xt, ft] = [rand(x) as tf.Tensor4D, rand(f) as tf.Tensor4D];
      return { run: () => tf.conv2d(xt, ft, 1, 'same'), dispose: () => tf.dispose([xt, ft]) };
    },
  };
}

function backboneCase(kind: 'forward' | 'grad', batch: number): Case {
  const x: [number, number, number, number] = [batch, BACKBONE_INPUT_SIZE, BACKBONE_INPUT_SIZE, 3];
  return {
    name: `backbone-${kind}`,
    detail: { x, what: kind === 'grad' ? 'input gradient of sum(pooled)' : 'pooled features' },
    reps: 3,
    make: async () => {
      const net = await FaceRecognitionNet.load();
      const xt = tf.randomUniform(x, 0, 255) as tf.Tensor4D;
      const grad = tf.grad((input: tf.Tensor) => tf.sum(net.pooled(input as tf.Tensor4D)));
      return {
        run: () => (kind === 'grad' ? grad(xt) : net.pooled(xt)),
        dispose: () => {
          xt.dispose();
          net.dispose();
        },
      };
    },
  };
}

const CASES: Case[] = [
  convCase([32, 37, 37, 64], [3, 3, 64, 64]),
  convCase([32, 10, 10, 256], [3, 3, 256, 256]),
  {
    name: 'matmul',
    detail: { a: [512, 1024], b: [1024, 1024] },
    make: async () => {
      const [a, b] = [rand([512, 1024]), rand([1024, 1024])];
      return { run: () => tf.matMul(a, b), dispose: () => tf.dispose([a, b]) };
    },
  },
  backboneCase('forward', 8),
];

/** Wall and CPU ms of one run; the output is read (so the work is done) and freed. */
async function timeOnce(run: () => tf.Tensor): Promise<{ ms: number; cpuMs: number }> {
  const cpu = process.cpuUsage();
  const t = performance.now();
  const y = run();
  await y.data();
  const ms = performance.now() - t;
  const { user, system } = process.cpuUsage(cpu);
  y.dispose();
  return { ms, cpuMs: (user + system) / 1000 };
}

type Timing = { ms: number; cpuMs: number };

/** One warm-up each (XNNPACK operator creation, JIT), then `reps` alternating rounds; the fastest of each. */
async function interleave(reps: number, runners: (() => Promise<Timing>)[]): Promise<Timing[]> {
  for (const run of runners) await run();
  const best = runners.map(() => ({ ms: Infinity, cpuMs: 0 }));
  for (let r = 0; r < reps; r++) {
    for (let v = 0; v < runners.length; v++) {
      const t = await runners[v]();
      if (t.ms < best[v].ms) best[v] = t;
    }
  }
  return best;
}

const round = (v: number): number => Math.round(v * 10) / 10;

/** Registers every 'wasm' kernel under `backendName` too (kernels are looked up by backend name). */
function shareWasmKernels(backendName: string): () => void {
  const configs = tf.getKernelsForBackend('wasm');
  for (const config of configs) tf.registerKernel({ ...config, backendName });
  return () => {
    for (const { kernelName } of configs) tf.unregisterKernel(kernelName, backendName);
  };
}

let workerNet: Promise<FaceRecognitionNet> | undefined;

/** Pool task: input gradient of sum(pooled features) through the backbone, loaded once per worker. */
export async function backboneInputGrad(x: BatchData): Promise<BatchData> {
  const net = await (workerNet ??= FaceRecognitionNet.load());
  const g = tf.tidy(() => tf.grad((input: tf.Tensor) => tf.sum(net.pooled(input as tf.Tensor4D)))(tf.tensor4d(x.data, x.shape as Shape4)));
  try {
    return { data: (await g.data()) as Float32Array, shape: g.shape };
  } finally {
    g.dispose();
  }
}

type Shape4 = [number, number, number, number];
const speedup = (base: Timing, t: Timing): number => Math.round((base.ms / t.ms) * 100) / 100;

export async function benchThreads(opts: { threads?: number; reps?: number } = {}): Promise<object[]> {
  await initEngine({ backend: 'wasm', strict: true }); // also registers robustify's kernels on 'wasm'
  const threads = opts.threads ?? Math.min(MAX_THREADS, Math.max(2, os.availableParallelism()));
  const original = tf.getBackend();
  const variants = [
    { name: 'bench-wasm-single', factory: stockWasmFactory() },
    { name: 'bench-wasm-threaded', factory: () => createThreadedWasmBackend(threads) },
  ];
  const unshare = variants.map(({ name, factory }) => {
    tf.registerBackend(name, factory, 0);
    return shareWasmKernels(name);
  });
  const records: object[] = [];
  let pool: WorkerPool | undefined;
  try {
    const actual: number[] = [];
    for (const { name } of variants) {
      if (!(await tf.setBackend(name))) throw new Error(`bench/threads: backend '${name}' failed to start`);
      actual.push(wasmThreads(tf.backend()));
    }
    /** Builds `c` on each variant's backend; runners time one run there. */
    const onVariants = async (c: Case) => {
      const built: { name: string; run: () => tf.Tensor; dispose: () => void }[] = [];
      for (const { name } of variants) {
        await tf.setBackend(name);
        built.push({ name, ...(await c.make()) });
      }
      return {
        runners: built.map((b) => async () => {
          await tf.setBackend(b.name);
          return timeOnce(b.run);
        }),
        dispose: async () => {
          for (const b of built) {
            await tf.setBackend(b.name);
            b.dispose();
          }
        },
      };
    };
    const common = () => ({ threads: actual[1], single_threads: actual[0], loadavg_1m: round(os.loadavg()[0]) });

    for (const c of CASES) {
      const reps = opts.reps ?? c.reps ?? 5;
      const { runners, dispose } = await onVariants(c);
      const [single, threaded] = await interleave(reps, runners);
      await dispose();
      records.push({
        bench: `threads:${c.name}`,
        ...c.detail,
        ms_single: round(single.ms),
        ms_threaded: round(threaded.ms),
        speedup: speedup(single, threaded),
        cpu_ms_single: round(single.cpuMs),
        cpu_ms_threaded: round(threaded.cpuMs),
        reps,
        ...common(),
      });
    }

    // Data-parallel pool on the same gradient, split/transfer/join included in its time.
    const batch = 8;
    const gradCase = backboneCase('grad', batch);
    pool = await WorkerPool.create({ workers: threads });
    const x: BatchData = { data: new Float32Array(batch * BACKBONE_INPUT_SIZE * BACKBONE_INPUT_SIZE * 3).map(() => Math.random() * 255), shape: [batch, BACKBONE_INPUT_SIZE, BACKBONE_INPUT_SIZE, 3] };
    const task = { module: import.meta.url, name: 'backboneInputGrad' };
    const p = pool;
    const poolRun = async (): Promise<Timing> => {
      const cpu = process.cpuUsage(); // the process's: workers included
      const t = performance.now();
      const parts = splitSamples(x, p.size);
      const g = joinSamples(await p.map<BatchData>(task, parts, parts.map((part) => [part.data.buffer as ArrayBuffer])));
      const ms = performance.now() - t;
      const { user, system } = process.cpuUsage(cpu);
      if (g.data.length !== x.data.length) throw new Error('bench/threads: pool gradient has the wrong size');
      return { ms, cpuMs: (user + system) / 1000 };
    };
    const reps = opts.reps ?? 3;
    const { runners, dispose } = await onVariants(gradCase);
    const [single, threaded, pooled] = await interleave(reps, [...runners, poolRun]);
    await dispose();
    records.push({
      bench: 'threads:pool-backbone-grad',
      ...gradCase.detail,
      workers: pool.size,
      ms_single: round(single.ms),
      ms_threaded: round(threaded.ms),
      ms_pool: round(pooled.ms),
      speedup_threaded: speedup(single, threaded),
      speedup_pool: speedup(single, pooled),
      cpu_ms_single: round(single.cpuMs),
      cpu_ms_threaded: round(threaded.cpuMs),
      cpu_ms_pool: round(pooled.cpuMs),
      reps,
      ...common(),
    });
  } finally {
    await pool?.close();
    await tf.setBackend(original);
    for (const { name } of variants) tf.removeBackend(name); // frees each backend (threaded: ends its workers)
    for (const undo of unshare) undo();
  }
  return records;
}

// isMainThread: pool workers import this module for its task, with the parent's argv.
if (isMainThread && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await benchThreads()) console.log(JSON.stringify(r));
}
