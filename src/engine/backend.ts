/**
 * One place that initialises TF.js for the whole process.
 *
 * wasm (XNNPACK + SIMD) is the default: several times faster than the pure-JS `cpu` backend on convolutions.
 * `cpu` is the fallback and the reference the fast kernels are checked against.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core's Node bundle has no gradient definitions; the umbrella package's bundle registers them all
// (into the same global registry, over the same tfjs-core instance).
import '@tensorflow/tfjs';
import { registerFastKernels } from './kernels/register.js';
import { resolveThreads, useThreadedWasm, wasmThreads } from './threads.js';
import { ParameterError, param } from '../util/errors.js';

/** The TF.js backends robustify runs on. */
export type BackendName = 'wasm' | 'cpu';
export const BACKENDS: readonly BackendName[] = ['wasm', 'cpu'];

/** What `initEngine` set up: backend, threads, SIMD, TF.js version. */
export interface EngineInfo {
  backend: BackendName;
  /** Threads the backend computes with (asked of the wasm backend's XNNPACK pool; cpu: 1). */
  threads: number;
  simd: boolean;
  tfjsVersion: string;
}

let active: EngineInfo | undefined;

export function parseBackend(name: string): BackendName {
  if ((BACKENDS as readonly string[]).includes(name)) return name as BackendName;
  throw ParameterError.of`${param('backend')}: unknown backend '${name}' (valid: ${BACKENDS.join(', ')})`;
}

/**
 * Initialise the engine once; later calls with the same backend return the same info.
 * Falls back to `cpu` when wasm cannot start (unless wasm was asked for explicitly via `strict`).
 *
 * @example
 * ```ts
 * import { initEngine, describeEngine } from 'robustify';
 * console.log(describeEngine(await initEngine({ threads: 1 })));
 * ```
 */
export async function initEngine(
  opts: { backend?: BackendName; strict?: boolean; threads?: number } = {},
): Promise<EngineInfo> {
  const wanted = opts.backend ?? (process.env.ROBUSTIFY_BACKEND ? parseBackend(process.env.ROBUSTIFY_BACKEND) : 'wasm');
  if (active && active.backend === wanted) return active;
  tf.env().set('PROD', true);
  tf.env().set('IS_TEST', false);
  if (wanted === 'wasm') {
    // Under Node the package only runs its single-threaded build; threads.ts starts the threaded one
    // (threads: option > ROBUSTIFY_THREADS > os.availableParallelism(); 1 = the stock build).
    useThreadedWasm(resolveThreads(opts.threads));
    registerFastKernels();
  }
  let ok = false;
  try {
    ok = await tf.setBackend(wanted);
  } catch {
    ok = false;
  }
  if (!ok) {
    if (opts.strict) throw new Error(`backend '${wanted}' failed to initialise`);
    await tf.setBackend('cpu');
  }
  await tf.ready();
  const backend = tf.getBackend() as BackendName;
  const simd = backend === 'wasm' ? Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) : false;
  const threads = backend === 'wasm' ? wasmThreads() : 1;
  active = { backend, threads, simd, tfjsVersion: tf.version_core };
  return active;
}

export function engineInfo(): EngineInfo | undefined {
  return active;
}

/**
 * One line naming the engine (`wasm, 2 threads, SIMD, tfjs 4.22.0`).
 *
 * @example
 * ```ts
 * import { initEngine, describeEngine } from 'robustify';
 * console.log(describeEngine(await initEngine())); // e.g. 'wasm, 2 threads, SIMD, tfjs 4.22.0'
 * ```
 */
export function describeEngine(info: EngineInfo): string {
  return `${info.backend}${info.simd ? ' (SIMD)' : ''}, ${info.threads} thread${info.threads === 1 ? '' : 's'}, tfjs ${info.tfjsVersion}`;
}
