/**
 * Multi-threaded XNNPACK for the wasm backend under Node.
 *
 * tfjs-backend-wasm only starts its threaded build in browsers (flag WASM_HAS_MULTITHREAD_SUPPORT is false
 * when IS_NODE, tfjs issue #3830): its loader hands Emscripten a Blob URL for the pthread worker script, which
 * Node's worker_threads cannot load. The threaded-SIMD build itself supports Node, so we instantiate it here
 * with a real file for the worker script and wrap it in the package's own `BackendWasm`. Every kernel
 * registered for 'wasm' (the stock ones and ours) keeps working, because kernels are looked up by name.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BackendWasm, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';

/** The threaded binary pre-creates 8 pthread workers and tfjs caps its pool at 8. */
export const MAX_THREADS = 8;
/** Same priority the package registers 'wasm' with, so backend auto-selection is unchanged. */
const WASM_PRIORITY = 2;
const BUILD = 'tfjs-backend-wasm-threaded-simd';

type WasmModule = ConstructorParameters<typeof BackendWasm>[0];
type BackendFactory = () => tf.KernelBackend | Promise<tf.KernelBackend>;

/** The parts of Emscripten's pthread runtime we touch (present on the module object of a pthreads build). */
interface PThreadRuntime {
  unusedWorkers: { terminate(): unknown }[];
  runningWorkers: { unref(): void }[];
  terminateAllThreads(): void;
}
interface EmscriptenConfig {
  locateFile(file: string, prefix: string): string;
  mainScriptUrlOrBlob: string;
  instantiateWasm(
    imports: WebAssembly.Imports,
    receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void,
  ): object;
  PThread?: PThreadRuntime;
}
type EmscriptenFactory = (config: EmscriptenConfig) => Promise<WasmModule>;

/** Parses a thread count; `what` names the option or variable in the error. */
function parseThreads(value: unknown, what: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new Error(`${what}: expected a positive integer thread count, got '${String(value)}'`);
  }
  return n;
}

/**
 * Threads to compute with: `requested`, else env ROBUSTIFY_THREADS (set it to 1 to force one thread), else
 * os.availableParallelism(); capped at MAX_THREADS.
 */
export function resolveThreads(requested?: number): number {
  const env = process.env.ROBUSTIFY_THREADS;
  const n =
    requested !== undefined
      ? parseThreads(requested, 'threads')
      : env !== undefined && env !== ''
        ? parseThreads(env, 'ROBUSTIFY_THREADS')
        : os.availableParallelism();
  return Math.min(n, MAX_THREADS);
}

/**
 * Threads for work this process spreads itself (the pure-JS pool, an ORT session of a defence): 1 inside a
 * worker thread, where the worker pool around it is the parallelism; else resolveThreads().
 */
export function poolThreads(): number {
  return isMainThread ? resolveThreads() : 1;
}

/**
 * The worker script ships only as a JS string. Write it to a private temp dir; the caller removes the dir once
 * every worker has loaded it. `.cjs` because the script uses `require`. Template-literal escapes in the string
 * turned "\n" into real newlines inside string literals; put them back.
 */
function writeWorkerScript(source: string): { dir: string; file: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robustify-wasm-'));
  const file = path.join(dir, `${BUILD}.worker.cjs`);
  fs.writeFileSync(file, source.replace(/\n/g, '\\n'));
  return { dir, file };
}

/**
 * Builds a wasm backend on the threaded-SIMD binary with `threads` threads (the calling thread included).
 * Rejects (with no worker left running) if the binary cannot start.
 */
export async function createThreadedWasmBackend(threads: number): Promise<BackendWasm> {
  const n = Math.min(parseThreads(threads, 'threads'), MAX_THREADS);
  const require = createRequire(import.meta.url);
  const mainScript = require.resolve(`@tensorflow/tfjs-backend-wasm/wasm-out/${BUILD}.js`);
  const wasmFile = path.join(path.dirname(mainScript), `${BUILD}.wasm`);
  const factory = require(mainScript) as EmscriptenFactory;
  const { wasmWorkerContents } = require(path.join(path.dirname(mainScript), `${BUILD}.worker.js`)) as {
    wasmWorkerContents: string;
  };
  const worker = writeWorkerScript(wasmWorkerContents);

  let failInstantiate: (e: unknown) => void = () => {};
  const instantiateFailed = new Promise<never>((_, reject) => (failInstantiate = reject));
  const config: EmscriptenConfig = {
    locateFile: (file, prefix) =>
      file.endsWith('.worker.js') ? worker.file : file.endsWith('.wasm') ? wasmFile : prefix + file,
    // Workers `importScripts` (readFileSync + eval) the main script from this path.
    mainScriptUrlOrBlob: mainScript,
    // tfjs caps its pool at emscripten_num_logical_cores()/2 (it assumes 2 hyper-threads per core), read once at
    // start-up; report 2n so the cap is exactly the n we ask for.
    instantiateWasm: (imports, receive) => {
      const env = { ...imports.env, emscripten_num_logical_cores: () => 2 * n };
      fs.promises
        .readFile(wasmFile)
        .then((binary) => WebAssembly.instantiate(binary, { ...imports, env }))
        .then(({ instance, module }) => receive(instance, module), failInstantiate);
      return {};
    },
  };
  let wasm: WasmModule & { PThread: PThreadRuntime };
  try {
    wasm = (await Promise.race([factory(config), instantiateFailed])) as typeof wasm;
  } catch (e) {
    config.PThread?.terminateAllThreads(); // Emscripten put its runtime on our config object
    throw new Error(`${BUILD}: failed to start (${e instanceof Error ? e.message : String(e)})`);
  } finally {
    // The module resolves only after all pre-created workers have loaded the script.
    fs.rmSync(worker.dir, { recursive: true, force: true });
  }
  wasm.tfjs = {
    init: wasm.cwrap('init', null, []),
    initWithThreadsCount: wasm.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: wasm.cwrap('get_threads_count', 'number', []),
    registerTensor: wasm.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: wasm.cwrap('dispose_data', null, ['number']),
    dispose: wasm.cwrap('dispose', null, []),
  };
  // BackendWasm's constructor creates XNNPACK's pool with this count (module-level setting of the package).
  setThreadsCount(n);
  const backend = new BackendWasm(wasm);
  // The pool's threads are now running for good: let Node exit without waiting for them (Emscripten ref()s a
  // worker when it starts a thread). Workers the pool did not take are never used again; free their memory.
  for (const w of wasm.PThread.runningWorkers) w.unref();
  for (const w of wasm.PThread.unusedWorkers.splice(0)) void w.terminate();
  return backend;
}

let stockFactory: BackendFactory | undefined;
let wantedThreads = 1;
let fallbackReason: string | undefined;

/** The package's own (single-threaded under Node) 'wasm' factory. */
export function stockWasmFactory(): BackendFactory {
  const factory = stockFactory ?? tf.findBackendFactory('wasm');
  if (!factory) throw new Error("tfjs-backend-wasm: no 'wasm' backend registered");
  return factory;
}

/**
 * Makes the 'wasm' backend start with `threads` threads when it is first initialised (1 = the package's
 * single-threaded SIMD build, no workers). If the threaded build cannot start, warns once and uses the
 * single-threaded one. No effect once 'wasm' has been initialised in this process.
 */
export function useThreadedWasm(threads: number): void {
  wantedThreads = Math.min(parseThreads(threads, 'threads'), MAX_THREADS);
  if (stockFactory || tf.findBackend('wasm')) return; // factory already ours, or too late to swap
  stockFactory = stockWasmFactory();
  const stock = stockFactory;
  tf.removeBackend('wasm');
  tf.registerBackend(
    'wasm',
    async () => {
      if (wantedThreads === 1) return stock();
      try {
        return await createThreadedWasmBackend(wantedThreads);
      } catch (e) {
        fallbackReason = e instanceof Error ? e.message : String(e);
        console.warn(`robustify: ${fallbackReason}; using the single-threaded wasm build`);
        return stock();
      }
    },
    WASM_PRIORITY,
  );
}

/** Threads a wasm backend computes with, asked of its XNNPACK pool (default: the initialised 'wasm'; 1 if none). */
export function wasmThreads(backend = tf.findBackend('wasm')): number {
  return backend instanceof BackendWasm ? backend.wasm.tfjs.getThreadsCount() : 1;
}

/** Why the threaded build was not used, if it failed to start. */
export function threadedWasmFailure(): string | undefined {
  return fallbackReason;
}
