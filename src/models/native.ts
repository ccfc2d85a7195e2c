/**
 * A classifier on ONNX Runtime's native CPU engine (MLAS: AVX-512/FMA where the CPU has them), several
 * times faster than TF.js-wasm for attacks. Same `Classifier` semantics as FaceClassifier: the network and its
 * input gradient (compiled by the ONNX differentiator) are one ONNX graph — the built-in net's written in
 * native-graph.ts, a user backbone's in native-onnx.ts; inputs other than the backbone's size are resized (and
 * the gradient taken through the resize) in TF.js.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createSession, type OrtModule, type OrtSession } from '../engine/onnx/runtime.js';
import { SplitLoop, type FloatData } from '../engine/onnx/split-loop.js';
import { IdleCache } from '../util/idle.js';
import { resolveThreads } from '../engine/threads.js';
import { PGD_GRAPH_GRADIENT, PGD_GRAPH_INPUTS, PGD_GRAPH_LOGITS, PGD_GRAPH_OUTPUT, pgdStepGraph } from '../attacks/pgd-graph.js';
import { BACKBONE_INPUT_SIZE, FaceRecognitionNet } from './backbone.js';
import { labelWeights, type Classifier, type FaceClassifier, type Labels, type PgdLoop } from './classifier.js';
import type { ModelProto } from '../engine/onnx/proto.js';
import { encodeModel } from '../engine/onnx/autodiff/model.js';
import { classifierModel, denseHead, galleryHead, ortInput, throughResize, type OnnxHead } from './native-onnx.js';
import type { Backbone } from './backbones.js';
import type { GalleryClassifier } from './gallery.js';
import { LogitsClassifier } from './logits.js';
import { nativeRuntime, OnnxBackbone } from './onnx-backbone.js';
import { backboneWeights, classifierGradientGraph, classifierGraph, lossGradientGraph, type ClassifierWeights } from './native-graph.js';

export interface NativeOptions {
  /** Intra-op threads (default: ROBUSTIFY_THREADS or the cores). */
  threads?: number;
  /**
   * Worker threads PGD's iterations and `lossGradient` run on, a batch of more than one sample split between
   * them, one ORT thread each (see engine/onnx/split-loop.ts); 1 runs them on this thread's sessions with
   * `threads` intra-op threads. Default: `threads`. `predict` always runs on this thread (see predict).
   */
  pgdWorkers?: number;
}

/**
 * Worker graphs unused this long are closed. Longer than any gap between one attack's or evaluation's calls;
 * shorter than the study's phases (PGD sets, then defences, then adaptive attacks), whose graphs then do not
 * all stay resident together.
 */
const LOOP_IDLE_MS = 10_000;
/** Samples per session run in a worker at most (see SplitLoop.create). */
const WORKER_CHUNK = 8;

export class NativeClassifier implements Classifier {
  /** This thread's forward session (predict), built on first use and closed like the worker graphs when idle. */
  private readonly forward = new IdleCache<OrtSession>(LOOP_IDLE_MS, (session) => session.release());
  /** This thread's PGD-iteration sessions by norm, for pgdWorkers 1 ('inf' also serves lossGradient, fed a zero step). */
  private readonly stepSessions = new Map<PgdLoop['norm'], Promise<OrtSession>>();
  /**
   * Graphs on worker threads, started on first use: the PGD-iteration graphs by norm (`pgd-inf`, `pgd-2`;
   * `pgd-inf` also serves lossGradient). Each worker session
   * holds its own weights and activations (≈ 350 MB for the built-in net at 16 images), so graphs share them,
   * and a graph's workers unused for LOOP_IDLE_MS are closed (started again when next needed).
   */
  private readonly loops = new IdleCache<SplitLoop>(LOOP_IDLE_MS, (loop) => loop.close());
  /** A split loop holds one batch at a time: its PGD runs queue here. */
  private splitQueue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly ort: OrtModule,
    readonly classes: number,
    /** The serialised graphs (the gradient graph is what the PGD-iteration graphs extend) and the session threads. */
    private readonly forwardModel: Uint8Array,
    private readonly gradientModel: Uint8Array,
    private readonly threads: number | undefined,
    /** The input size the graph takes (other sizes are resized in TF.js). */
    private readonly size: number,
    private readonly pgdWorkers: number,
  ) {}

  /** Build both sessions (forward-only for predict, forward+backward for lossGradient) from a loaded model. */
  static async create(ort: OrtModule, model: FaceClassifier, opts: NativeOptions = {}): Promise<NativeClassifier> {
    return NativeClassifier.fromWeights(ort, nativeWeights(model), opts);
  }

  /** The same from the weights as plain arrays (any head classifierGraph takes: dense, gallery). */
  static async fromWeights(ort: OrtModule, w: ClassifierWeights, opts: NativeOptions = {}): Promise<NativeClassifier> {
    return NativeClassifier.fromGraphs(ort, classifierGraph(w), classifierGradientGraph(w), w.head.classes, BACKBONE_INPUT_SIZE, opts);
  }

  /** Any classifier graph `x` [N,size,size,3] → `logits` [N,classes], its input gradient compiled here. */
  static async fromModel(ort: OrtModule, forward: ModelProto, classes: number, size: number, opts: NativeOptions & { file?: string } = {}): Promise<NativeClassifier> {
    return NativeClassifier.fromGraphs(ort, encodeModel(forward), lossGradientGraph(forward, classes, opts.file), classes, size, opts);
  }

  private static async fromGraphs(ort: OrtModule, forwardModel: Uint8Array, gradientModel: Uint8Array, classes: number, size: number, opts: NativeOptions): Promise<NativeClassifier> {
    const native = new NativeClassifier(ort, classes, forwardModel, gradientModel, opts.threads, size, opts.pgdWorkers ?? resolveThreads(opts.threads));
    // Built now, so that a graph ORT refuses fails here rather than at first use.
    await native.onForward(async () => undefined);
    return native;
  }

  private onForward<R>(use: (session: OrtSession) => Promise<R>): Promise<R> {
    return this.forward.use('forward', () => createSession(this.ort, this.forwardModel, this.threads), use);
  }

  /** This thread's PGD-iteration session for `norm` (NHWC; with a zero step, the loss gradient). */
  private stepSession(norm: PgdLoop['norm']): Promise<OrtSession> {
    let session = this.stepSessions.get(norm);
    if (!session) {
      session = createSession(this.ort, pgdStepGraph(this.gradientModel, norm), this.threads);
      this.stepSessions.set(norm, session);
    }
    return session;
  }

  /**
   * `use` on the workers of graph `key` (see loops): `pgd-inf` / `pgd-2`, the PGD-iteration graph for that
   * norm (NCHW iterates, see pgdStepGraph).
   */
  private onLoop<R>(key: `pgd-${PgdLoop['norm']}`, use: (loop: SplitLoop) => Promise<R>): Promise<R> {
    const make = () => SplitLoop.create(pgdStepGraph(this.gradientModel, key === 'pgd-inf' ? 'inf' : 2, undefined, 'NCHW'), { input: 'x', output: PGD_GRAPH_OUTPUT }, this.pgdWorkers, WORKER_CHUNK);
    return this.loops.use(key, make, use);
  }

  /**
   * On this thread's session with `threads` intra-op threads, not split over the workers: the forward graph
   * has none of the gradient's memory-bound nodes, so ORT's threads scale on it, and no slice is copied to a
   * worker. Measured at batch 1 / 3 / 8 / 32: 0.67 / 0.77 / 0.89 / 0.93 of the split time, the same logits
   * (max |Δ| 0), 145 MB resident at batch 32 instead of the workers' 217.
   */
  async predict(x: tf.Tensor4D): Promise<tf.Tensor2D> {
    const input = await ortInput(this.ort, x, this.size);
    const { logits } = await this.onForward((session) => session.run({ x: input }));
    return tf.tensor2d(logits.data as Float32Array, [x.shape[0], this.classes]);
  }

  async lossGradient(x: tf.Tensor4D, labels: Labels): Promise<tf.Tensor4D> {
    return (await this.gradientPass(x, labels, false)).grad;
  }

  /** The gradient pass's own logits beside the gradient: APGD-CE's predict and lossGradient in one run. */
  async logitsAndGradient(x: tf.Tensor4D, labels: Labels): Promise<{ logits: tf.Tensor2D; grad: tf.Tensor4D }> {
    const { grad, logits } = await this.gradientPass(x, labels, true);
    return { grad, logits: logits! };
  }

  private async gradientPass(x: tf.Tensor4D, labels: Labels, withLogits: boolean): Promise<{ grad: tf.Tensor4D; logits?: tf.Tensor2D }> {
    if (labels.shape[0] !== x.shape[0]) throw new Error(`lossGradient: ${labels.shape[0]} labels for ${x.shape[0]} images`);
    const input = await ortInput(this.ort, x, this.size);
    const oneHot = labelWeights(labels, this.classes);
    // Copied into a Float32Array: TF.js's cpu backend keeps an int32 one-hot's Int32Array through the cast, which ORT refuses.
    const onehot = new this.ort.Tensor('float32', Float32Array.from(await oneHot.data()), oneHot.shape);
    oneHot.dispose();
    const dims = input.dims as [number, number, number, number];
    let grad: Float32Array;
    let logits: Float32Array | undefined;
    const zero = { data: Float32Array.of(0), dims: [] };
    const stepless = { [PGD_GRAPH_INPUTS.eps]: zero, [PGD_GRAPH_INPUTS.epsStep]: zero };
    if (this.split) {
      // The L∞ loop's graph with a zero step: its sessions, no third set of weights and activations.
      const nchw = { data: relayout(input.data as Float32Array, dims, true), dims: [dims[0], dims[3], dims[1], dims[2]] };
      const outputs = withLogits ? [PGD_GRAPH_GRADIENT, PGD_GRAPH_LOGITS] : [PGD_GRAPH_GRADIENT];
      const out = await this.onLoop('pgd-inf', (loop) => loop.evaluate({ x: nchw, [PGD_GRAPH_INPUTS.x0]: nchw, onehot: floatData(onehot) }, stepless, outputs));
      grad = relayout(out[PGD_GRAPH_GRADIENT].data, dims, false);
      logits = out[PGD_GRAPH_LOGITS]?.data;
    } else {
      const f32 = (t: FloatData) => new this.ort.Tensor('float32', t.data, t.dims);
      const feeds = { x: input, onehot, [PGD_GRAPH_INPUTS.x0]: input, ...Object.fromEntries(Object.entries(stepless).map(([k, t]) => [k, f32(t)])) };
      const out = await (await this.stepSession('inf')).run(feeds, withLogits ? ['grad', PGD_GRAPH_LOGITS] : ['grad']);
      grad = out.grad.data as Float32Array;
      logits = out[PGD_GRAPH_LOGITS]?.data as Float32Array | undefined;
    }
    // Inputs of another size: through the bilinear resize in TF.js (its vector-Jacobian product with the native gradient).
    return { grad: throughResize(x, tf.tensor4d(grad, dims)), logits: logits && tf.tensor2d(logits, [dims[0], this.classes]) };
  }

  /** Whether batches run split over the worker threads (a single sample on one of them). */
  private get split(): boolean {
    return this.pgdWorkers > 1;
  }

  /**
   * Whole PGD iterations in ORT: gradient and step are one graph (attacks/pgd-graph.ts), the iterate goes from
   * one run's output buffer to the next run's input (two buffers, swapped: no copies, no TF.js ops). Only for
   * inputs of the backbone's size (elsewhere the resize runs in TF.js).
   */
  pgdIterations(loop: PgdLoop): Promise<tf.Tensor4D> | undefined {
    const [, h, w] = loop.x0.shape;
    if (h !== this.size || w !== this.size || loop.start.shape.join() !== loop.x0.shape.join()) return undefined;
    return this.runPgd(loop);
  }

  private async runPgd(loop: PgdLoop): Promise<tf.Tensor4D> {
    const dims = loop.x0.shape;
    if (loop.labels.length !== dims[0]) throw new Error(`pgdIterations: ${loop.labels.length} labels for ${dims[0]} images`);
    const split = this.split;
    // The split loop carries NCHW iterates (pgdStepGraph's 'NCHW' layout: no transposes per iteration).
    const [n, h, w, c] = dims;
    const loopDims = split ? [n, c, h, w] : dims;
    // data() gives a copy of the tensor's values: ours to overwrite.
    const values = async (t: tf.Tensor4D) => (split ? relayout((await t.data()) as Float32Array, dims, true) : ((await t.data()) as Float32Array));
    const onehot = new Float32Array(n * this.classes);
    loop.labels.forEach((label, i) => (onehot[i * this.classes + label] = 1));
    const batched = { [PGD_GRAPH_INPUTS.x0]: { data: await values(loop.x0), dims: loopDims }, onehot: { data: onehot, dims: [n, this.classes] } };
    const shared = {
      [PGD_GRAPH_INPUTS.eps]: { data: Float32Array.of(loop.eps), dims: [] },
      [PGD_GRAPH_INPUTS.epsStep]: { data: Float32Array.of(loop.targeted ? -loop.eps_step : loop.eps_step), dims: [] },
    };
    const start = { data: await values(loop.start), dims: loopDims };
    if (split) {
      const run = this.splitQueue.then(() => this.runSplit(loop, start, batched, shared));
      this.splitQueue = run.catch(() => undefined);
      return run;
    }
    const run = await this.stepSession(loop.norm);
    const f32 = (data: Float32Array, shape: readonly number[]) => new this.ort.Tensor('float32', data, shape);
    const feeds = Object.fromEntries(Object.entries({ ...batched, ...shared }).map(([k, t]) => [k, f32(t.data, t.dims)]));
    let current = f32(start.data, dims);
    let next = f32(new Float32Array(current.size), dims);
    for (let i = 1; i <= loop.iterations; i++) {
      await run.run({ ...feeds, x: current }, { [PGD_GRAPH_OUTPUT]: next });
      [current, next] = [next, current];
      const now = current;
      await loop.onIteration?.(i, async () => tf.tensor4d((now.data as Float32Array).slice(), dims));
    }
    return tf.tensor4d(current.data as Float32Array, dims);
  }

  /** runPgd on the worker threads, NCHW: whole runs of iterations, synchronised only where the caller reads iterates. */
  private runSplit(loop: PgdLoop, start: FloatData, batched: Record<string, FloatData>, shared: Record<string, FloatData>): Promise<tf.Tensor4D> {
    return this.onLoop(`pgd-${loop.norm}`, async (workers) => {
      await workers.start(start, batched, shared);
      const dims = loop.x0.shape;
      const read = async () => tf.tensor4d(relayout((await workers.read()).data, dims, false), dims);
      if (!loop.onIteration) await workers.run(loop.iterations);
      else
        for (let i = 1; i <= loop.iterations; i++) {
          await workers.run(1);
          await loop.onIteration(i, read);
        }
      return read();
    });
  }

  /** Close the worker threads and this thread's forward session not in use now rather than after LOOP_IDLE_MS (built again on next use). */
  releaseWorkers(): Promise<void> {
    return Promise.all([this.loops.closeIdle(), this.forward.closeIdle()]).then(() => undefined);
  }

  /** Release all ORT sessions. */
  async dispose(): Promise<void> {
    await Promise.all([this.loops.clear(), this.forward.clear()]);
    const sessions = await Promise.allSettled(this.stepSessions.values());
    await Promise.all(sessions.flatMap((s) => (s.status === 'fulfilled' ? [s.value.release()] : [])));
  }
}

/**
 * The fastest classifier for `model` on this platform: a NativeClassifier when onnxruntime-node loads (and
 * ROBUSTIFY_NATIVE is not 0), else the TF.js model itself. `model` stays the caller's (the native one copies its
 * weights).
 *
 * @example
 * ```ts no-run
 * import { tf, initEngine, FaceClassifier, accelerate, predictLabels } from 'robustify';
 * await initEngine();
 * const model = await accelerate(await FaceClassifier.load('models/faces14')); // onnxruntime-node where it loads
 * console.log(await predictLabels(model, tf.zeros([1, 150, 150, 3]) as tf.Tensor4D));
 * ```
 */
export async function accelerate(model: FaceClassifier | LogitsClassifier, opts: NativeOptions = {}): Promise<Classifier> {
  const ort = await nativeRuntime();
  if (!ort) return model;
  if (model instanceof LogitsClassifier) return accelerateGraph(ort, model.backbone, (_, logits) => logits, model.classes, opts);
  if (model.backbone instanceof OnnxBackbone) return accelerateGraph(ort, model.backbone, denseHead(model.head), model.classes, opts);
  return NativeClassifier.create(ort, model, opts);
}

/** A user backbone + `head` (`classes` logits) as one ORT graph, with its input gradient and PGD iterations native. */
export async function accelerateGraph(ort: OrtModule, backbone: OnnxBackbone, head: OnnxHead, classes: number, opts: NativeOptions = {}): Promise<NativeClassifier> {
  return NativeClassifier.fromModel(ort, classifierModel(backbone, head, classes), classes, backbone.inputSize, { ...opts, file: backbone.file });
}

/** onnxruntime-node when it loads here and ROBUSTIFY_NATIVE is not 0, else undefined (TF.js runs everything). */
export { nativeRuntime };

/** A classifier on the fastest engine here, that engine's name, and how to release what it holds. */
export interface Accelerated {
  classifier: Classifier;
  /** 'onnxruntime', or 'tfjs-<backend>' when the model itself runs. */
  engine: string;
  release(): Promise<void>;
  /** Free what the engine holds between uses (worker threads, sessions), rebuilt when next used. */
  idle(): Promise<void>;
}

/** `accelerate`, with the engine named and one way to release it (the model stays the caller's). */
export async function accelerated(model: FaceClassifier | LogitsClassifier, opts: NativeOptions = {}): Promise<Accelerated> {
  const classifier = await accelerate(model, opts);
  const native = classifier instanceof NativeClassifier ? classifier : undefined;
  return {
    classifier,
    engine: native ? 'onnxruntime' : `tfjs-${tf.getBackend()}`,
    release: async () => native?.dispose(),
    idle: async () => native?.releaseWorkers(),
  };
}

/** The backbone's folded layers as plain arrays, under `head`. */
function withBackbone(net: FaceRecognitionNet, head: ClassifierWeights['head']): ClassifierWeights {
  return { ...backboneWeights(net.layers(), net.inputSize), head };
}

const f32 = (t: tf.Tensor) => t.dataSync() as Float32Array;

/** A float32 ORT tensor's values and shape (its own buffer: the split loop copies the slices it sends). */
const floatData = (t: InstanceType<OrtModule['Tensor']>): FloatData => ({ data: t.data as Float32Array, dims: [...t.dims] });

/** NHWC values of `dims` [N, H, W, C] as NCHW (`toNchw`), or NCHW values back to NHWC. */
function relayout(v: Float32Array, [n, h, w, c]: readonly number[], toNchw: boolean): Float32Array {
  const out = new Float32Array(v.length);
  const plane = h * w;
  for (let b = 0; b < n; b++) {
    for (let p = 0; p < plane; p++) {
      for (let k = 0; k < c; k++) {
        const nhwc = (b * plane + p) * c + k;
        const nchw = (b * c + k) * plane + p;
        if (toNchw) out[nchw] = v[nhwc];
        else out[nhwc] = v[nchw];
      }
    }
  }
  return out;
}

/** The weights of a gallery classifier (logits −‖d(x) − g_k‖²/T) on `net`: gallery descriptors [K, D]. */
export function nativeGalleryWeights(net: FaceRecognitionNet, gallery: tf.Tensor2D, temperature: number): ClassifierWeights {
  const [classes, descriptorDim] = gallery.shape;
  return withBackbone(net, { fc: f32(net.layers().fc), gallery: f32(gallery), descriptorDim, temperature, classes });
}

/**
 * `gallery` (on the built-in net or a user backbone) on the native engine, or undefined where onnxruntime-node
 * does not load: the same logits and input gradient as the TF.js classifier.
 */
export async function accelerateGallery(backbone: Backbone, gallery: GalleryClassifier, opts: NativeOptions = {}): Promise<NativeClassifier | undefined> {
  const ort = await nativeRuntime();
  if (!ort) return undefined;
  const descriptors = gallery.descriptors();
  if (backbone instanceof OnnxBackbone) {
    const head = galleryHead(descriptors.dataSync() as Float32Array, gallery.classes, gallery.metric, gallery.temperature);
    return accelerateGraph(ort, backbone, head, gallery.classes, opts);
  }
  if (!(backbone instanceof FaceRecognitionNet)) throw new Error(`native: no native graph for backbone '${backbone.name}'`);
  if (gallery.metric !== 'euclidean') throw new Error(`native: the built-in net's gallery graph is Euclidean, not ${gallery.metric}`);
  return NativeClassifier.fromWeights(ort, nativeGalleryWeights(backbone, descriptors, gallery.temperature), opts);
}

/** The folded weights of `model` as plain arrays. */
export function nativeWeights(model: FaceClassifier): ClassifierWeights {
  if (!(model.backbone instanceof FaceRecognitionNet)) throw new Error(`native: the hand-written graph is for the built-in backbone, not '${model.backbone.name}'`);
  const { mean: featMean, std: featStd } = model.head.normalisation();
  const [w1, b1, w2, b2] = model.head.variables();
  return withBackbone(model.backbone, {
    featMean: f32(featMean),
    featStd: f32(featStd),
    w1: f32(w1),
    b1: f32(b1),
    w2: f32(w2),
    b2: f32(b2),
    hidden: model.head.config.hidden,
    classes: model.classes,
  });
}
