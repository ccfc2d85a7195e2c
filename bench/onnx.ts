/**
 * The ONNX input-gradient compiler (src/engine/onnx/autodiff):
 * - `onnx:builtin` — PGD on the faces14 classifier with the generic gradient graph vs the hand-derived one
 *   (same run, interleaved rounds so load changes hit both);
 * - `onnx:torch` — PyTorch models exported with torch.onnx.export (bench/torch_onnx.py: the face-api twin in
 *   ../shared/bench/facenet_torch.py with a 14-way head, and a torchvision-style ResNet-18): our compiled
 *   gradient vs PyTorch autograd's on the same batch, and PGD s/image on onnxruntime-node vs PyTorch.
 * ROBUSTIFY_BENCH_ITERS (default 100) and ROBUSTIFY_BENCH_BATCH (default 8) size the PGD runs.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { ProjectedGradientDescent } from '../src/attacks/index.js';
import { initEngine } from '../src/engine/backend.js';
import { differentiate, readModel, withCrossEntropy } from '../src/engine/onnx/autodiff/index.js';
import { encodeModel } from '../src/engine/onnx/autodiff/model.js';
import { createSession, loadOnnxRuntime, type OrtModule } from '../src/engine/onnx/runtime.js';
import { resolveThreads } from '../src/engine/threads.js';
import { batches, listDataset, selectTopK, splitDataset } from '../src/data/index.js';
import { faceApiModelDir } from '../src/models/backbone.js';
import { NativeClassifier } from '../src/models/native.js';
import { benchModel } from './pgd.js';

const run = promisify(execFile);
const SHARED = path.resolve(process.env.ROBUSTIFY_SHARED ?? '../shared');
const ITERS = Number(process.env.ROBUSTIFY_BENCH_ITERS ?? 100);
const BATCH = Number(process.env.ROBUSTIFY_BENCH_BATCH ?? 8);
const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;
const load = () => round(os.loadavg()[0], 2);

/** max |a − b| / max |b|. */
function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let [d, s] = [0, 0];
  for (let i = 0; i < b.length; i++) [d, s] = [Math.max(d, Math.abs(a[i] - b[i])), Math.max(s, Math.abs(b[i]))];
  return d / s;
}

async function builtin(ort: OrtModule): Promise<object[]> {
  await initEngine({ backend: 'wasm', strict: true });
  const model = await benchModel();
  const sel = selectTopK(await listDataset(path.join(SHARED, 'data/faces14')), 14);
  const test = splitDataset(sel.samples).test.slice(0, 32);
  const { value } = await batches(test, test.length).next();
  const { x, labels } = value!;
  const attack = new ProjectedGradientDescent({ eps: 4, eps_step: 0.1, max_iter: ITERS, batch_size: test.length });
  const clfs = { generic: await NativeClassifier.create(ort, model), hand: await NativeClassifier.create(ort, model, { gradientGraph: 'hand' }) };
  const times: Record<string, number[]> = { generic: [], hand: [] };
  const loadBefore = load();
  for (let r = 0; r < 2; r++)
    for (const name of ['generic', 'hand'] as const) {
      const t = performance.now();
      (await attack.generate(clfs[name], x, labels)).dispose();
      times[name].push((performance.now() - t) / 1000 / test.length);
    }
  await Promise.all(Object.values(clfs).map((c) => c.dispose()));
  tf.dispose(x);
  model.dispose();
  const best = (v: number[]) => Math.min(...v);
  return [
    {
      bench: 'onnx:builtin',
      images: test.length,
      iters: ITERS,
      pgd_s_per_image_generic: round(best(times.generic)),
      pgd_s_per_image_hand: round(best(times.hand)),
      generic_speed_vs_hand: round(best(times.hand) / best(times.generic), 3),
      rounds: times,
      load_avg_before: loadBefore,
      load_avg: load(),
    },
  ];
}

async function torchModel(ort: OrtModule, name: 'facenet' | 'resnet18'): Promise<object> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `robustify-onnx-${name}-`));
  try {
    const args = [path.resolve('bench/torch_onnx.py'), name, dir, '--model-dir', faceApiModelDir(), '--shared', SHARED, '--batch', String(BATCH), '--iters', String(ITERS), '--threads', String(os.availableParallelism())];
    const loadBefore = load();
    const { stdout } = await run('/usr/bin/python3', args, { maxBuffer: 1 << 22 });
    const torch = JSON.parse(stdout.trim().split('\n').pop()!) as { size: number; pgd_s_per_image: number; load_avg: number };
    const file = path.join(dir, 'model.onnx');
    const f32 = (f: string) => new Float32Array(readFileSync(path.join(dir, f)).buffer.slice(0));
    const x0 = f32('x.f32');
    const labels = Array.from(new BigInt64Array(readFileSync(path.join(dir, 'labels.i64')).buffer.slice(0)), Number);
    const onehot = new Float32Array(BATCH * 14);
    labels.forEach((l, i) => (onehot[i * 14 + l] = 1));
    const { model, of } = withCrossEntropy(readModel(readFileSync(file), file), 'logits', 'onehot', 14);
    const t0 = performance.now();
    const graph = differentiate(model, { wrt: 'x', of, keep: ['logits'], file });
    const compileMs = performance.now() - t0;
    const session = await createSession(ort, encodeModel(graph));
    const dims = [BATCH, torch.size, torch.size, 3];
    const step = async (x: Float32Array) =>
      session.run({ x: new ort.Tensor('float32', x, dims), onehot: new ort.Tensor('float32', onehot, [BATCH, 14]) });
    const first = await step(x0);
    const gradErr = relError(first.grad_x.data as Float32Array, f32('grad.f32'));
    const logitsErr = relError(first.logits.data as Float32Array, f32('logits.f32'));
    // The same PGD as the PyTorch side: sign step, projection onto the eps-ball, clip to 0..255.
    const x = Float32Array.from(x0);
    const t = performance.now();
    for (let it = 0; it < ITERS; it++) {
      const g = (await step(x)).grad_x.data as Float32Array;
      for (let i = 0; i < x.length; i++) {
        const v = x[i] + 0.1 * Math.sign(g[i]);
        x[i] = Math.min(Math.max(Math.min(Math.max(v, x0[i] - 4), x0[i] + 4), 0), 255);
      }
    }
    const pgdS = (performance.now() - t) / 1000 / BATCH;
    await session.release();
    return {
      bench: 'onnx:torch',
      model: name,
      input: dims,
      nodes_forward: model.graph!.node!.length,
      nodes_gradient_graph: graph.graph!.node!.length,
      compile_ms: Math.round(compileMs),
      grad_rel_error_vs_autograd: gradErr,
      logits_rel_error: logitsErr,
      iters: ITERS,
      pgd_s_per_image_ours: round(pgdS),
      pgd_s_per_image_torch: torch.pgd_s_per_image,
      speed_vs_torch: round(torch.pgd_s_per_image / pgdS, 3),
      threads: resolveThreads(),
      load_avg_before_torch: loadBefore,
      load_avg_after_torch: torch.load_avg,
      load_avg: load(),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchOnnx(): Promise<object[]> {
  const ort = await loadOnnxRuntime();
  if (!ort) return [{ bench: 'onnx', skipped: 'onnxruntime-node does not load on this platform' }];
  const records = await builtin(ort);
  const torch = existsSync('/usr/bin/python3') && (await run('/usr/bin/python3', ['-c', 'import torch']).then(() => true, () => false));
  if (!torch) return [...records, { bench: 'onnx:torch', skipped: 'no PyTorch for /usr/bin/python3 (apt-get install -y python3-torch)' }];
  for (const name of ['facenet', 'resnet18'] as const) records.push(await torchModel(ort, name));
  return records;
}
