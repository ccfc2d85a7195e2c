/**
 * The ONNX input-gradient compiler (src/engine/onnx/autodiff) on PyTorch models exported with
 * torch.onnx.export (bench/torch_onnx.py: the face-api twin in ../shared/bench/facenet_torch.py with a 14-way
 * head, and a torchvision-style ResNet-18): our compiled gradient vs PyTorch autograd's on the same batch, and
 * PGD s/image on onnxruntime-node vs PyTorch (`onnx:torch` records). Gradients are compared with autograd's in
 * float32 and in float64: the float64 one separates our error from float32 rounding, which autograd's own float32
 * gradient shows too (`torch_grad_rel_error_f32_vs_f64`).
 * ROBUSTIFY_BENCH_ITERS (default 100) and ROBUSTIFY_BENCH_BATCH (default 8) size the PGD runs.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { differentiate, readModel, withCrossEntropy } from '../src/engine/onnx/autodiff/index.js';
import { encodeModel } from '../src/engine/onnx/autodiff/model.js';
import { createSession, loadOnnxRuntime, type OrtModule } from '../src/engine/onnx/runtime.js';
import { resolveThreads } from '../src/engine/threads.js';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../src/engine/backend.js';
import { faceApiModelDir } from '../src/models/backbone.js';
import { NativeClassifier } from '../src/models/native.js';

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

async function torchModel(ort: OrtModule, name: 'facenet' | 'resnet18'): Promise<object> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `robustify-onnx-${name}-`));
  try {
    const args = [path.resolve('bench/torch_onnx.py'), name, dir, '--model-dir', faceApiModelDir(), '--shared', SHARED, '--batch', String(BATCH), '--iters', String(ITERS), '--threads', String(os.availableParallelism())];
    const loadBefore = load();
    const { stdout } = await run('/usr/bin/python3', args, { maxBuffer: 1 << 22 });
    const torch = JSON.parse(stdout.trim().split('\n').pop()!) as { size: number; pgd_s_per_image: number; load_avg: number; grad_rel_error_f32_vs_f64: number };
    const file = path.join(dir, 'model.onnx');
    // Small files come back as views into Node's shared buffer pool: copy exactly their bytes.
    const bytes = (f: string) => {
      const b = readFileSync(path.join(dir, f));
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
    };
    const f32 = (f: string) => new Float32Array(bytes(f));
    const x0 = f32('x.f32');
    const labels = Array.from(new BigInt64Array(bytes('labels.i64')), Number);
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
    const gradErr64 = relError(first.grad_x.data as Float32Array, f32('grad64.f32'));
    const logitsErr = relError(first.logits.data as Float32Array, f32('logits.f32'));
    await session.release();
    // PGD as a user runs it: NativeClassifier's whole iterations native (the same sign step, projection onto the
    // eps-ball and clip to 0..255 as the PyTorch side), with the batch split over one-thread worker sessions
    // (the default) and on one session with ORT's intra-op threads.
    const forward = readModel(readFileSync(file), file);
    const pgdS = async (pgdWorkers: number) => {
      const clf = await NativeClassifier.fromModel(ort, forward, 14, torch.size, { file, pgdWorkers });
      try {
        const xt = tf.tensor4d(x0, dims as [number, number, number, number]);
        const loop = { x0: xt, start: xt, labels, norm: 'inf' as const, eps: 4, eps_step: 0.1, targeted: false };
        (await clf.pgdIterations({ ...loop, iterations: 1 })!).dispose(); // warm-up: sessions and workers start
        const t = performance.now();
        const adv = await clf.pgdIterations({ ...loop, iterations: ITERS })!;
        const s = (performance.now() - t) / 1000 / BATCH;
        tf.dispose([adv, xt]);
        return s;
      } finally {
        await clf.dispose();
      }
    };
    const split = await pgdS(resolveThreads());
    const oneSession = await pgdS(1);
    return {
      bench: 'onnx:torch',
      model: name,
      input: dims,
      nodes_forward: model.graph!.node!.length,
      nodes_gradient_graph: graph.graph!.node!.length,
      compile_ms: Math.round(compileMs),
      grad_rel_error_vs_autograd: gradErr,
      grad_rel_error_vs_autograd_f64: gradErr64,
      torch_grad_rel_error_f32_vs_f64: torch.grad_rel_error_f32_vs_f64,
      logits_rel_error: logitsErr,
      iters: ITERS,
      pgd_s_per_image_ours: round(split),
      pgd_s_per_image_torch: torch.pgd_s_per_image,
      speed_vs_torch: round(torch.pgd_s_per_image / split, 3),
      pgd_s_per_image_ours_one_session: round(oneSession),
      speed_vs_torch_one_session: round(torch.pgd_s_per_image / oneSession, 3),
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
  const records: object[] = [];
  const torch = existsSync('/usr/bin/python3') && (await run('/usr/bin/python3', ['-c', 'import torch']).then(() => true, () => false));
  if (!torch) return [...records, { bench: 'onnx:torch', skipped: 'no PyTorch for /usr/bin/python3 (apt-get install -y python3-torch)' }];
  await initEngine({ backend: 'wasm', strict: true });
  for (const name of ['facenet', 'resnet18'] as const) records.push(await torchModel(ort, name));
  return records;
}
