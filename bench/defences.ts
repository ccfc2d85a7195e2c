/**
 * Speed of each defence on 150×150 faces (faces14, resized) in batches of 32, against ART 1.20.1 timed on
 * this machine (../shared/spec/art-semantics.md). Run alone: `node dist/bench/defences.js`.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../src/engine/backend.js';
import { decodeImage, imagesToBatch, resizeBilinear } from '../src/image/index.js';
import { buildPipeline, JpegCompression, type Preprocessor } from '../src/defences/index.js';

const FACES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/data/faces14');
export const BATCH = 32;
export const SIZE = 150;

/** ART's ms per image here (150 px), where measured. */
const CASES: { token: string; art_ms: number | null; make?: () => Preprocessor; threads?: number }[] = [
  { token: 'jpeg:20', art_ms: 0.5 },
  // One JPEG per image (bit for bit as ART) instead of the batched layout; no pipeline token selects it.
  { token: 'jpeg:quality=20,exact', art_ms: 0.5, make: () => new JpegCompression({ quality: 20, exact: true }) },
  { token: 'gauss:15', art_ms: 4 },
  { token: 'median:3', art_ms: 7 },
  { token: 'median:5', art_ms: null },
  // 'tvm' is ART's own algorithm (solver=lbfgs); pdhg is ours, a different (stronger) smoothing.
  { token: 'tvm', art_ms: 390 },
  // TVM's planes run on the JS worker pool; one thread is how it ran before the pool (same output bits).
  { token: 'tvm', art_ms: 390, threads: 1 },
  { token: 'tvm:solver=pdhg', art_ms: null },
  { token: 'tvm:solver=pdhg', art_ms: null, threads: 1 },
  { token: 'tvm:norm=1', art_ms: null },
  { token: 'squeeze:5', art_ms: null },
  { token: 'median:3,jpeg:20,gauss:15', art_ms: null },
];

const WARM_UP = 2;
const MIN_RUNS = 3;
const MIN_SECONDS = 2;

/** The first image of each identity, then the second…, until `n` faces; resized to SIZE×SIZE. */
export async function loadFaces(n: number): Promise<tf.Tensor4D> {
  const ids = (await fsp.readdir(FACES)).sort();
  const lists = await Promise.all(ids.map(async (id) => (await fsp.readdir(path.join(FACES, id))).sort().map((f) => path.join(FACES, id, f))));
  const files: string[] = [];
  for (let k = 0; files.length < n; k++) for (const l of lists) if (files.length < n && k < l.length) files.push(l[k]);
  const imgs = await Promise.all(files.map(async (f) => resizeBilinear(await decodeImage(f), SIZE, SIZE)));
  return imagesToBatch(imgs);
}

export async function benchDefences(): Promise<object[]> {
  await initEngine({ backend: 'wasm', strict: true });
  const x = await loadFaces(BATCH);
  const records: object[] = [];
  for (const { token, art_ms, make, threads } of CASES) {
    const envThreads = process.env.ROBUSTIFY_THREADS;
    if (threads) process.env.ROBUSTIFY_THREADS = String(threads);
    const p = make ? make() : await buildPipeline(token);
    // Warm-up: JIT, codec and kernel start-up.
    for (let r = 0; r < WARM_UP; r++) (await p.apply(x, { seed: r })).dispose();
    // Steady state: at least MIN_RUNS batches and MIN_SECONDS, so fast defences are not timed on a few ms.
    let runs = 0;
    const t = performance.now();
    const cpu = process.cpuUsage();
    while (runs < MIN_RUNS || performance.now() - t < MIN_SECONDS * 1000) (await p.apply(x, { seed: WARM_UP + runs++ })).dispose();
    const msPerImage = (performance.now() - t) / runs / BATCH;
    // CPU time of all the process's threads (sharp's pool included): the fairer figure on a busy machine.
    const { user, system } = process.cpuUsage(cpu);
    const cpuMsPerImage = (user + system) / 1000 / runs / BATCH;
    records.push({
      bench: `defence:${make ? token : p}`,
      ms_per_image: Math.round(msPerImage * 1000) / 1000,
      cpu_ms_per_image: Math.round(cpuMsPerImage * 1000) / 1000,
      batch: BATCH,
      size: SIZE,
      art_ms,
      ...(art_ms ? { speedup_vs_art: Math.round((art_ms / msPerImage) * 10) / 10 } : {}),
      // ART's times were taken on an idle machine: a load above the 2 cores makes ours look slower.
      load_avg: Math.round(os.loadavg()[0] * 10) / 10,
      ...(threads ? { threads } : {}),
    });
    if (threads) {
      if (envThreads === undefined) delete process.env.ROBUSTIFY_THREADS;
      else process.env.ROBUSTIFY_THREADS = envThreads;
    }
  }
  x.dispose();
  return records;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await benchDefences()) console.log(JSON.stringify(r));
}
