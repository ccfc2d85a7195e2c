/**
 * ONNX Runtime (onnxruntime-node, CPU execution provider) for graphs written with graph.ts. Loaded on demand
 * with a dynamic import, so code that merely may use it still runs where the native binding does not (the
 * browser, a platform without a prebuilt binary).
 */
import type * as Ort from 'onnxruntime-node';
import { resolveThreads } from '../threads.js';

export type OrtModule = typeof Ort;
export type OrtSession = Ort.InferenceSession;

let loaded: Promise<OrtModule | undefined> | undefined;

/** The onnxruntime-node module, or undefined when it cannot load here (the reason is not an error: callers fall back). */
export function loadOnnxRuntime(): Promise<OrtModule | undefined> {
  loaded ??= import('onnxruntime-node').then(
    (m) => m.default as unknown as OrtModule,
    () => undefined,
  );
  return loaded;
}

/** onnxruntime-node when it loads here and ROBUSTIFY_NATIVE is not 0, else undefined (TF.js runs everything). */
export async function nativeRuntime(): Promise<OrtModule | undefined> {
  if (globalThis.process?.env.ROBUSTIFY_NATIVE === '0') return undefined;
  return loadOnnxRuntime();
}

/**
 * A session over a serialised model: all graph optimisations, `threads` intra-op threads (default:
 * ROBUSTIFY_THREADS or the cores). Idle threads sleep instead of spinning: the same speed on an idle machine,
 * and 5–25% faster for the face classifier's gradient when other processes compete for the cores.
 */
export async function createSession(
  ort: OrtModule,
  model: Uint8Array,
  threads = resolveThreads(),
  /** Further options (e.g. profiling, for the benches). */
  more: Ort.InferenceSession.SessionOptions = {},
): Promise<OrtSession> {
  return ort.InferenceSession.create(model, {
    ...more,
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
}

/**
 * One session over a model built on first use where onnxruntime-node loads (`run` gives undefined elsewhere);
 * `release()` frees it, and the next `run` builds it again. A model that fails to build rejects every `run`
 * with that error (no half-made session to release).
 */
export class LazySession {
  private pending: Promise<{ ort: OrtModule; session: OrtSession } | undefined> | undefined;

  constructor(private readonly model: () => Uint8Array) {}

  private get(): Promise<{ ort: OrtModule; session: OrtSession } | undefined> {
    this.pending ??= nativeRuntime().then(async (ort) => (ort ? { ort, session: await createSession(ort, this.model()) } : undefined));
    return this.pending;
  }

  /** Output `output` for input `x` (float32, `dims`), or undefined where onnxruntime-node does not load. */
  async run(x: Float32Array, dims: readonly number[], output: string): Promise<Float32Array | undefined> {
    const native = await this.get();
    if (!native) return undefined;
    const out = await native.session.run({ x: new native.ort.Tensor('float32', x, dims) }, [output]);
    return out[output].data as Float32Array;
  }

  async release(): Promise<void> {
    const pending = this.pending;
    this.pending = undefined;
    const native = await pending?.catch(() => undefined);
    await native?.session.release();
  }
}
