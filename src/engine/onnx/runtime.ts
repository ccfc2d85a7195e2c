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
