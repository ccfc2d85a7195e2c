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
import { loadOnnxRuntime, type OrtModule } from '../src/engine/onnx/runtime.js';
import { resolveThreads } from '../src/engine/threads.js';
import { batches, listDataset, selectTopK, splitDataset } from '../src/data/index.js';
import { BACKBONE_INPUT_SIZE, faceApiModelDir } from '../src/models/backbone.js';
import { FaceClassifier, MODEL_OUTPUT, type Classifier } from '../src/models/classifier.js';
import { NativeClassifier, nativeWeights } from '../src/models/native.js';
import { classifierGradientGraph } from '../src/models/native-graph.js';
import { PGD_GRAPH_INPUTS, PGD_GRAPH_OUTPUT, pgdStepGraph } from '../src/attacks/pgd-graph.js';
import { profileSession } from './ort-profile.js';
import { OnnxGraph } from '../src/engine/onnx/graph.js';
import { createSession } from '../src/engine/onnx/runtime.js';
import { DEFAULT_TRAIN_CLASSIFIER, trainClassifier } from '../src/models/train.js';
import { writeDirAtomic } from '../src/util/fs.js';

const run = promisify(execFile);
const SHARED = path.resolve(process.env.ROBUSTIFY_SHARED ?? '../shared');
const FACES14 = path.join(SHARED, 'data/faces14');

export interface PgdBenchOptions {
  images?: number;
  iters?: number;
  batch?: number;
  /** Also time the TF.js-wasm engine (default true; slow). */
  wasm?: boolean;
  /** Also time the native gradient with PGD's step in TF.js, the loop before pgdIterations (default true). */
  stepwise?: boolean;
}

/**
 * The FLOP floor's peak: what MLAS's GEMM reaches on this machine (a 2048³ MatMul on all threads), since the
 * issue's ≈ 190 GFLOP/s for two cores is below what the convolutions themselves reach here.
 */
async function gemmPeakGflops(ort: OrtModule): Promise<number> {
  const n = 2048;
  const g = new OnnxGraph();
  const a = g.input('a', [n, n]);
  g.output('c', g.op('MatMul', [a, g.floats(new Float32Array(n * n).fill(1e-3), [n, n])]), [n, n]);
  const session = await createSession(ort, g.toBytes());
  const feeds = { a: new ort.Tensor('float32', new Float32Array(n * n).fill(1), [n, n]) };
  const ms = await msPer(() => session.run(feeds), 5);
  await session.release();
  return (2 * n ** 3) / 1e9 / (ms / 1000);
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
 * Ours on both engines — native (onnxruntime-node, when it loads: whole iterations in ORT, and for comparison
 * the native gradient with the step in TF.js) and TF.js-wasm — then the PyTorch anchor, and the ratios of each
 * to it and to the FLOP floor (issue #14's targets: ≤ 0.8× PyTorch's time, ≤ 1.3× the floor), with ORT's
 * per-node profile of one iteration.
 */
export async function benchPgd(opts: PgdBenchOptions = {}): Promise<object[]> {
  const o = { images: opts.images ?? 64, iters: opts.iters ?? 100, batch: opts.batch ?? 32, wasm: opts.wasm ?? true, stepwise: opts.stepwise ?? true };
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
  let stepwise: EngineTiming | undefined;
  let inProcess: EngineTiming | undefined;
  let peak = 0;
  let profile: Awaited<ReturnType<typeof profileIteration>> | undefined;
  if (ort) {
    const clf = await NativeClassifier.create(ort, model);
    const name = `onnxruntime-node ${ort.env.versions.node} (CPU), ${resolveThreads()} threads`;
    native = await timeEngine(clf, `${name}, whole iterations native, batch split over ${resolveThreads()} one-thread worker sessions`, x, labels, o);
    // The same loop on this thread's session with ORT's intra-op threads (NativeOptions.pgdWorkers 1).
    const oneSession = await NativeClassifier.create(ort, model, { pgdWorkers: 1 });
    inProcess = await timeEngine(oneSession, `${name}, whole iterations native, one session`, x, labels, o);
    await oneSession.dispose();
    profile = await profileIteration(ort, model, x, labels, o.batch);
    peak = await gemmPeakGflops(ort);
    records.push(native.record, inProcess.record, profile.record, { bench: 'pgd:gemm-peak', gflops: round(peak, 1), load_avg: os.loadavg()[0] });
    if (o.stepwise) {
      // The same gradients, PGD's step in TF.js (what a classifier without pgdIterations gets).
      const plain: Classifier = { classes: clf.classes, predict: (xi) => clf.predict(xi), lossGradient: (xi, yi) => clf.lossGradient(xi, yi) };
      stepwise = await timeEngine(plain, `${name}, step in TF.js`, x, labels, o);
      records.push(stepwise.record);
    }
    await clf.dispose();
  } else {
    records.push({ bench: 'pgd', engine: 'onnxruntime-node', skipped: 'onnxruntime-node does not load on this platform' });
  }
  const wasm = o.wasm ? await timeEngine(model, describeEngine(engine), x, labels, o) : undefined;
  if (wasm) records.push(wasm.record);
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
    records.push({
      bench: 'pgd:ratio',
      ...(native ? ratios(native) : {}),
      ...(native && profile ? floorRatios(native, profile.gflopPerImage, o.iters, peak) : {}),
      ...(inProcess ? { one_session: ratios(inProcess) } : {}),
      ...(stepwise ? { stepwise: ratios(stepwise) } : {}),
      ...(wasm ? { wasm: ratios(wasm) } : {}),
    });
  } else {
    records.push({ bench: 'pgd:torch', skipped: 'no PyTorch for /usr/bin/python3 (apt-get install -y python3-torch)' });
  }
  return records;
}

/**
 * ORT's per-node profile of one PGD iteration (gradient + step) on a batch: the slowest nodes, the time per
 * op type, and the FLOPs of the dense nodes (what the FLOP floor counts).
 */
async function profileIteration(ort: OrtModule, model: FaceClassifier, x: tf.Tensor4D, labels: number[], batch: number) {
  const dims = [batch, BACKBONE_INPUT_SIZE, BACKBONE_INPUT_SIZE, 3];
  const xb = new ort.Tensor('float32', Float32Array.from(tf.slice(x, 0, batch).dataSync()), dims);
  const onehot = new Float32Array(batch * model.classes);
  labels.slice(0, batch).forEach((l, i) => (onehot[i * model.classes + l] = 1));
  const feeds = {
    x: xb,
    onehot: new ort.Tensor('float32', onehot, [batch, model.classes]),
    [PGD_GRAPH_INPUTS.x0]: xb,
    [PGD_GRAPH_INPUTS.eps]: new ort.Tensor('float32', Float32Array.of(4), []),
    [PGD_GRAPH_INPUTS.epsStep]: new ort.Tensor('float32', Float32Array.of(0.1), []),
  };
  const graph = pgdStepGraph(classifierGradientGraph(nativeWeights(model)), 'inf');
  const runs = 3;
  const { nodes, totalMs, gflop } = await profileSession(ort, graph, (s) => s.run(feeds, [PGD_GRAPH_OUTPUT]), runs);
  const byOp = new Map<string, { ms: number; gflop: number }>();
  for (const n of nodes) {
    const o = byOp.get(n.op) ?? { ms: 0, gflop: 0 };
    o.ms += n.ms;
    o.gflop += n.gflop ?? 0;
    byOp.set(n.op, o);
  }
  const r1 = (v: number) => round(v, 1);
  const record = {
    bench: 'pgd:profile',
    batch,
    runs,
    iteration_ms: r1(totalMs),
    dense_gflop_per_iteration: round(gflop, 2),
    dense_gflops: r1(gflop / (totalMs / 1000)),
    by_op: Object.fromEntries([...byOp].sort((a, b) => b[1].ms - a[1].ms).map(([op, v]) => [op, { ms: r1(v.ms), ...(v.gflop ? { gflops: r1(v.gflop / (v.ms / 1000)) } : {}) }])),
    slowest_nodes: nodes.slice(0, 20).map((n) => ({ node: n.node, op: n.op, ms: round(n.ms, 2), ...(n.gflops ? { gflops: r1(n.gflops) } : {}) })),
    load_avg: os.loadavg()[0],
  };
  return { record, gflopPerImage: gflop / batch };
}

/** PGD time against the FLOP floor (dense FLOPs of an iteration at the machine's peak). */
function floorRatios(e: EngineTiming, gflopPerImage: number, iters: number, peakGflops: number) {
  const floor = (gflopPerImage * iters) / peakGflops;
  return {
    peak_gflops: round(peakGflops, 1),
    flop_floor_s_per_image: round(floor, 3),
    pgd_time_ratio_vs_floor: round(e.pgdS / floor, 2),
    pgd_gflops: round((gflopPerImage * iters) / e.pgdS, 1),
  };
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
