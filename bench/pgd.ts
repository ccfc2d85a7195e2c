/**
 * PGD speed on the faces14 classifier (eps 4, step 0.1, 100 iterations, batch 32) on our two engines, and the
 * PyTorch anchor (../shared/bench/torch_pgd.py, same network, same machine, same run) when /usr/bin/python3
 * has torch.
 * The classifier is trained once (cached in the system temp dir) if none is given in ROBUSTIFY_BENCH_MODEL.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { ProjectedGradientDescent } from '../src/attacks/index.js';
import { initEngine, describeEngine } from '../src/engine/backend.js';
import { loadOnnxRuntime } from '../src/engine/onnx/runtime.js';
import { resolveThreads } from '../src/engine/threads.js';
import { batches, listDataset, selectTopK, splitDataset } from '../src/data/index.js';
import { faceApiModelDir } from '../src/models/backbone.js';
import { FaceClassifier, MODEL_OUTPUT, type Classifier } from '../src/models/classifier.js';
import { NativeClassifier } from '../src/models/native.js';
import { DEFAULT_TRAIN_CLASSIFIER, trainClassifier } from '../src/models/train.js';
import { writeDirAtomic } from '../src/util/fs.js';

const run = promisify(execFile);
const SHARED = path.resolve(process.env.ROBUSTIFY_SHARED ?? '../shared');
const FACES14 = path.join(SHARED, 'data/faces14');

export interface PgdBenchOptions {
  images?: number;
  iters?: number;
  batch?: number;
}

export async function benchModel(): Promise<FaceClassifier> {
  const dir = process.env.ROBUSTIFY_BENCH_MODEL ?? path.join(os.tmpdir(), 'robustify-bench-faces14-model');
  if (!existsSync(path.join(dir, 'model.json'))) {
    const sel = selectTopK(await listDataset(FACES14), 14);
    const { train } = splitDataset(sel.samples);
    const { classifier } = await trainClassifier(train, sel.identities, DEFAULT_TRAIN_CLASSIFIER);
    await writeDirAtomic(dir, (tmp) => classifier.saveTo(tmp), { replaceIf: MODEL_OUTPUT.owns });
    classifier.dispose();
  }
  return FaceClassifier.load(dir);
}

function msPer<T>(f: () => Promise<T>, reps: number): Promise<number> {
  return (async () => {
    await f();
    const t = performance.now();
    for (let i = 0; i < reps; i++) await f();
    return (performance.now() - t) / reps;
  })();
}

interface EngineTiming {
  fwdMs: number;
  gradMs: number;
  pgdS: number;
  record: Record<string, unknown>;
}

/** Forward, forward+backward and PGD time of one classifier (the same data and attack for every engine). */
async function timeEngine(model: Classifier, engine: string, x: tf.Tensor4D, labels: number[], opts: Required<PgdBenchOptions>): Promise<EngineTiming> {
  const { images, iters, batch } = opts;
  const xb = tf.slice(x, 0, batch) as tf.Tensor4D;
  const yb = tf.tensor1d(labels.slice(0, batch), 'int32');
  const loadBefore = os.loadavg()[0];
  const fwdMs = await msPer(async () => (await model.predict(xb)).dispose(), 3);
  const gradMs = await msPer(async () => (await model.lossGradient(xb, yb)).dispose(), 3);
  tf.dispose([xb, yb]);
  const attack = new ProjectedGradientDescent({ eps: 4, eps_step: 0.1, max_iter: iters, batch_size: batch });
  const rssBefore = process.memoryUsage().rss;
  const tensorsBefore = tf.memory().numTensors;
  const t = performance.now();
  const adv = await attack.generate(model, x, labels);
  const pgdS = (performance.now() - t) / 1000 / images;
  adv.dispose();
  const record = {
    bench: 'pgd',
    engine,
    images,
    batch,
    iters,
    fwd_ms_per_batch: round(fwdMs),
    fwd_bwd_ms_per_batch: round(gradMs),
    fwd_ms_per_image: round(fwdMs / batch),
    fwd_bwd_ms_per_image: round(gradMs / batch),
    pgd_s_per_image: round(pgdS, 4),
    num_tensors_before: tensorsBefore,
    num_tensors_after: tf.memory().numTensors,
    peak_rss_mb: Math.round(Math.max(rssBefore, process.memoryUsage().rss) / 2 ** 20),
    load_avg_before: loadBefore,
    load_avg: os.loadavg()[0],
  };
  return { fwdMs, gradMs, pgdS, record };
}

/**
 * Ours on both engines — native (onnxruntime-node, when it loads) and TF.js-wasm — then the PyTorch anchor,
 * and the ratios of each to it (issue #3's target: native PGD ≤ 3× PyTorch's time).
 */
export async function benchPgd(opts: PgdBenchOptions = {}): Promise<object[]> {
  const o = { images: opts.images ?? 64, iters: opts.iters ?? 100, batch: opts.batch ?? 32 };
  const engine = await initEngine({ backend: 'wasm', strict: true });
  const model = await benchModel();
  const sel = selectTopK(await listDataset(FACES14), 14);
  const test = splitDataset(sel.samples).test.slice(0, o.images);
  const { value } = await batches(test, o.images).next();
  const x = value!.x;
  const labels = value!.labels;
  const records: object[] = [];
  const ort = await loadOnnxRuntime();
  let native: EngineTiming | undefined;
  if (ort) {
    const clf = await NativeClassifier.create(ort, model);
    native = await timeEngine(clf, `onnxruntime-node ${ort.env.versions.node} (CPU), ${resolveThreads()} threads`, x, labels, o);
    records.push(native.record);
    await clf.dispose();
  } else {
    records.push({ bench: 'pgd', engine: 'onnxruntime-node', skipped: 'onnxruntime-node does not load on this platform' });
  }
  const wasm = await timeEngine(model, describeEngine(engine), x, labels, o);
  records.push(wasm.record);
  tf.dispose(x);
  model.dispose();
  const torch = await torchAnchor(o.images, o.iters, o.batch);
  if (torch) {
    records.push({ bench: 'pgd:torch', ...torch, load_avg: os.loadavg()[0] });
    const ratios = (e: EngineTiming) => ({
      pgd_time_ratio_vs_torch: round(e.pgdS / torch.pgd_s_per_image, 2),
      fwd_ratio_vs_torch: round(e.fwdMs / torch.fwd_ms_per_batch, 2),
      fwd_bwd_ratio_vs_torch: round(e.gradMs / torch.fwd_bwd_ms_per_batch, 2),
    });
    records.push({ bench: 'pgd:ratio', ...(native ? ratios(native) : {}), wasm: ratios(wasm) });
  } else {
    records.push({ bench: 'pgd:torch', skipped: 'no PyTorch for /usr/bin/python3 (apt-get install -y python3-torch)' });
  }
  return records;
}

interface TorchResult {
  pgd_s_per_image: number;
  fwd_ms_per_batch: number;
  fwd_bwd_ms_per_batch: number;
}

async function torchAnchor(images: number, iters: number, batch: number): Promise<TorchResult | undefined> {
  const script = path.join(SHARED, 'bench/torch_pgd.py');
  if (!existsSync('/usr/bin/python3') || !existsSync(script)) return undefined;
  try {
    await run('/usr/bin/python3', ['-c', 'import torch']);
  } catch {
    return undefined;
  }
  const args = [script, faceApiModelDir(), '--images', String(images), '--iters', String(iters), '--batch', String(batch), '--threads', String(os.availableParallelism())];
  const { stdout } = await run('/usr/bin/python3', args, { maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as TorchResult;
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
