/**
 * A graph run on a batch split by samples across worker threads, each with its own ORT session on one
 * intra-op thread: once (`evaluate`: e.g. a classifier's logits or loss gradient), or iterated as a step graph
 * whose carried tensor (e.g. PGD's iterate `x` → `x_next`) stays in the workers between iterations. Data
 * parallelism instead of ORT's intra-op threads: the face classifier's PGD iteration has many small,
 * memory-bound or single-threaded nodes (ScatterElements, MaxPool with indices, reorders) that a second
 * intra-op thread barely speeds up, while two samples-halves run side by side at one thread's full speed
 * (`npm run bench -- --only pgd` times both). onnxruntime-node runs a session on the calling JS thread and
 * refuses SharedArrayBuffer-backed tensors, hence threads with their own copies of their slice.
 */
import { Worker } from 'node:worker_threads';
import { tracked } from '../pool/quit.js';

/** A float32 tensor as plain data. */
export interface FloatData {
  data: Float32Array;
  dims: number[];
}

/** What a worker is sent (see split-loop-worker.ts). */
export type SplitLoopRequest =
  | { op: 'start'; carry: FloatData; batched: Record<string, FloatData>; shared: Record<string, FloatData> }
  | { op: 'run'; iterations: number }
  | { op: 'read' }
  | { op: 'eval'; batched: Record<string, FloatData>; shared: Record<string, FloatData>; outputs: string[] };
export type SplitLoopReply = { ok: true; carry?: Float32Array; outputs?: Record<string, FloatData> } | { ok: false; error: string };

export interface SplitLoopNames {
  /** The graph input fed the carried tensor. */
  input: string;
  /** The graph output that becomes the next carried tensor. */
  output: string;
}

/** Sizes of `n` samples split into at most `parts` contiguous, near-equal, non-empty slices. */
export function splitSizes(n: number, parts: number): number[] {
  const k = Math.max(1, Math.min(parts, n));
  return Array.from({ length: k }, (_, i) => Math.floor((n * (i + 1)) / k) - Math.floor((n * i) / k));
}

class LoopWorker {
  private pending: Promise<unknown> = Promise.resolve();
  private constructor(private readonly worker: Worker) {}

  static async start(model: Uint8Array, names: SplitLoopNames | undefined, chunk: number): Promise<LoopWorker> {
    const worker = tracked(new Worker(new URL('./split-loop-worker.js', import.meta.url), { workerData: { model, names, chunk } }));
    worker.unref();
    const w = new LoopWorker(worker);
    await w.call(undefined);
    return w;
  }

  /** One request (undefined: wait for the worker's ready message); requests are answered in order. */
  call(req: SplitLoopRequest | undefined, transfer: ArrayBuffer[] = []): Promise<SplitLoopReply & { ok: true }> {
    const next = this.pending.then(
      () =>
        new Promise<SplitLoopReply & { ok: true }>((resolve, reject) => {
          const onMessage = (reply: SplitLoopReply) => {
            this.worker.off('error', onError);
            if (reply.ok) resolve(reply);
            else reject(new Error(`split loop worker: ${reply.error}`));
          };
          const onError = (e: Error) => {
            this.worker.off('message', onMessage);
            reject(new Error(`split loop worker: ${e.message}`));
          };
          this.worker.once('message', onMessage);
          this.worker.once('error', onError);
          if (req) this.worker.postMessage(req, transfer);
        }),
    );
    this.pending = next.catch(() => undefined);
    return next;
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

export class SplitLoop {
  private sizes: number[] = [];
  private sampleSize = 0;
  private dims: number[] = [];

  private constructor(private readonly workers: LoopWorker[]) {}

  /**
   * `workers` threads, each compiling `model` (in parallel) into a one-thread session. `names`: the carried
   * tensor's input and output (undefined for a graph that is only evaluated). A worker runs its slice `chunk`
   * samples at a time at most (its session's memory grows with the largest run).
   */
  static async create(model: Uint8Array, names: SplitLoopNames | undefined, workers: number, chunk = Number.POSITIVE_INFINITY): Promise<SplitLoop> {
    if (!(chunk >= 1)) throw new Error(`split loop: chunk must be ≥ 1, got ${chunk}`);
    const started = await Promise.allSettled(Array.from({ length: workers }, () => LoopWorker.start(model, names, chunk)));
    const up = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await Promise.all(up.map((w) => w.terminate()));
      throw (failed as PromiseRejectedResult).reason;
    }
    return new SplitLoop(up);
  }

  /** How many workers there are (the most slices a batch is split into). */
  get size(): number {
    return this.workers.length;
  }

  /**
   * Loads a batch: `carry` and every `batched` tensor are split along their first axis (same length), `shared`
   * ones (scalars, parameters) go whole to every worker.
   */
  async start(carry: FloatData, batched: Record<string, FloatData>, shared: Record<string, FloatData> = {}): Promise<void> {
    const n = carry.dims[0];
    this.sizes = splitSizes(n, this.workers.length);
    this.dims = carry.dims;
    this.sampleSize = carry.data.length / n;
    await Promise.all(
      slices({ carry, ...batched }, this.sizes, 'the carried tensor').map(({ feeds, transfer }, i) => {
        const { carry: part, ...rest } = feeds;
        return this.workers[i].call({ op: 'start', carry: part, batched: rest, shared: shareable(shared) }, transfer);
      }),
    );
  }

  /**
   * One run of the graph on a batch (every `batched` tensor split along its first axis, `shared` ones whole to
   * every worker): its `outputs`, each the slices' results joined along the first axis. Independent of the
   * batch `start` loaded; calls may overlap.
   */
  async evaluate(batched: Record<string, FloatData>, shared: Record<string, FloatData>, outputs: readonly string[]): Promise<Record<string, FloatData>> {
    const n = Object.values(batched)[0]?.dims[0];
    if (n === undefined) throw new Error('split loop: evaluate needs a batched input');
    const sizes = splitSizes(n, this.workers.length);
    const replies = await Promise.all(
      slices(batched, sizes, `'${Object.keys(batched)[0]}'`).map(({ feeds, transfer }, i) =>
        this.workers[i].call({ op: 'eval', batched: feeds, shared: shareable(shared), outputs: [...outputs] }, transfer),
      ),
    );
    return Object.fromEntries(
      outputs.map((name) => {
        const parts = replies.map((r) => r.outputs![name]);
        const data = new Float32Array(parts.reduce((s, p) => s + p.data.length, 0));
        let at = 0;
        for (const p of parts) {
          data.set(p.data, at);
          at += p.data.length;
        }
        return [name, { data, dims: [n, ...parts[0].dims.slice(1)] }];
      }),
    );
  }

  /** `iterations` steps on every slice. */
  async run(iterations: number): Promise<void> {
    await Promise.all(this.sizes.map((_, i) => this.workers[i].call({ op: 'run', iterations })));
  }

  /** The carried tensor of the whole batch, reassembled. */
  async read(): Promise<FloatData> {
    const parts = await Promise.all(this.sizes.map((_, i) => this.workers[i].call({ op: 'read' })));
    const out = new Float32Array(this.sampleSize * this.dims[0]);
    let at = 0;
    for (const p of parts) {
      out.set(p.carry!, at);
      at += p.carry!.length;
    }
    return { data: out, dims: this.dims };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Each worker's slices of the `batched` tensors (copies, to transfer), all `sizes` samples long in turn. */
function slices(batched: Record<string, FloatData>, sizes: number[], first: string): Array<{ feeds: Record<string, FloatData>; transfer: ArrayBuffer[] }> {
  const n = sizes.reduce((a, b) => a + b, 0);
  for (const [name, t] of Object.entries(batched)) if (t.dims[0] !== n) throw new Error(`split loop: '${name}' has ${t.dims[0]} samples, ${first} ${n}`);
  let from = 0;
  return sizes.map((size) => {
    const feeds = Object.fromEntries(
      Object.entries(batched).map(([k, t]) => {
        const per = t.data.length / n;
        return [k, { data: t.data.slice(from * per, (from + size) * per), dims: [size, ...t.dims.slice(1)] }];
      }),
    );
    from += size;
    return { feeds, transfer: Object.values(feeds).map((t) => t.data.buffer as ArrayBuffer) };
  });
}

/** `shared` tensors as compact copies for every worker (a view's whole buffer would be cloned). */
function shareable(shared: Record<string, FloatData>): Record<string, FloatData> {
  return Object.fromEntries(Object.entries(shared).map(([k, t]) => [k, { data: t.data.slice(), dims: t.dims }]));
}
