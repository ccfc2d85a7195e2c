/**
 * PGD speed on the faces14 classifier (eps 4, step 0.1, 100 iterations, batch 32) and the PyTorch anchor
 * (../shared/bench/torch_pgd.py, same network, same machine, same run) when /usr/bin/python3 has torch.
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
import { batches, listDataset, selectTopK, splitDataset } from '../src/data/index.js';
import { faceApiModelDir } from '../src/models/backbone.js';
import { FaceClassifier } from '../src/models/classifier.js';
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

async function benchModel(): Promise<FaceClassifier> {
  const dir = process.env.ROBUSTIFY_BENCH_MODEL ?? path.join(os.tmpdir(), 'robustify-bench-faces14-model');
  if (!existsSync(path.join(dir, 'model.json'))) {
    const sel = selectTopK(await listDataset(FACES14), 14);
    const { train } = splitDataset(sel.samples);
    const { classifier } = await trainClassifier(train, sel.identities, DEFAULT_TRAIN_CLASSIFIER);
    await writeDirAtomic(dir, (tmp) => classifier.saveTo(tmp), { replace: true });
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

export async function benchPgd(opts: PgdBenchOptions = {}): Promise<object[]> {
  const images = opts.images ?? 64;
  const iters = opts.iters ?? 100;
  const batch = opts.batch ?? 32;
  const engine = await initEngine({ backend: 'wasm', strict: true });
  const model = await benchModel();
  const sel = selectTopK(await listDataset(FACES14), 14);
  const test = splitDataset(sel.samples).test.slice(0, images);
  const it = batches(test, images);
  const { value } = await it.next();
  const x = value!.x;
  const labels = value!.labels;
  const xb = tf.slice(x, 0, batch) as tf.Tensor4D;
  const yb = tf.tensor1d(labels.slice(0, batch), 'int32');
  const fwdMs = await msPer(async () => (await model.predict(xb)).dispose(), 3);
  const gradMs = await msPer(async () => (await model.lossGradient(xb, yb)).dispose(), 3);
  const attack = new ProjectedGradientDescent({ eps: 4, eps_step: 0.1, max_iter: iters, batch_size: batch });
  const rssBefore = process.memoryUsage().rss;
  const tensorsBefore = tf.memory().numTensors;
  const t = performance.now();
  const adv = await attack.generate(model, x, labels);
  const pgdS = (performance.now() - t) / 1000 / images;
  adv.dispose();
  const tensorsAfter = tf.memory().numTensors;
  const ours = {
    bench: 'pgd',
    engine: describeEngine(engine),
    images,
    batch,
    iters,
    fwd_ms_per_batch: round(fwdMs),
    fwd_bwd_ms_per_batch: round(gradMs),
    fwd_ms_per_image: round(fwdMs / batch),
    fwd_bwd_ms_per_image: round(gradMs / batch),
    pgd_s_per_image: round(pgdS, 4),
    num_tensors_before: tensorsBefore,
    num_tensors_after: tensorsAfter,
    peak_rss_mb: Math.round(Math.max(rssBefore, process.memoryUsage().rss) / 2 ** 20),
    load_avg: os.loadavg()[0],
  };
  tf.dispose([x, xb, yb]);
  model.dispose();
  const records: object[] = [ours];
  const torch = await torchAnchor(images, iters, batch);
  if (torch) {
    records.push({ bench: 'pgd:torch', ...torch });
    records.push({
      bench: 'pgd:ratio',
      pgd_time_ratio_vs_torch: round(ours.pgd_s_per_image / torch.pgd_s_per_image, 2),
      fwd_ratio_vs_torch: round(fwdMs / torch.fwd_ms_per_batch, 2),
      fwd_bwd_ratio_vs_torch: round(gradMs / torch.fwd_bwd_ms_per_batch, 2),
    });
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
