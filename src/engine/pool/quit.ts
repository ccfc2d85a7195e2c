/**
 * Ending worker threads between two of their native calls. A worker stopped from outside (`process.exit()` on
 * the main thread stops every worker so, as does `worker.terminate()`) while it is inside an onnxruntime run
 * aborts the whole process when that run returns into its torn-down JS environment ("terminate called after
 * throwing an instance of 'Napi::Error'", SIGABRT). A worker that ends itself from a message handler cannot be
 * inside a native call, so an interrupted process asks each worker to quit, waits for them, then exits.
 */
import type { MessagePort, Worker } from 'node:worker_threads';

const QUIT = 'robustify:quit';
const live = new Set<Worker>();

/** Registers a worker whose requests go through `onRequest`, for `stopWorkers`; returns it. */
export function tracked(worker: Worker): Worker {
  live.add(worker);
  worker.once('exit', () => live.delete(worker));
  return worker;
}

/**
 * Asks every tracked worker to end itself (each does between two of its calls) and waits until all have, or
 * `timeoutMs` has passed. Resolves to whether all did. Call it before `process.exit()` in a signal handler.
 *
 * @example
 * ```ts
 * import { stopWorkers } from 'robustify';
 * // In a signal handler: stopWorkers().then(() => process.exit(143))
 * console.log(await stopWorkers(100)); // true: no worker running now
 * ```
 */
export async function stopWorkers(timeoutMs = 10_000): Promise<boolean> {
  const all = [...live];
  if (all.length === 0) return true;
  const exited = Promise.all(all.map((w) => new Promise((resolve) => w.once('exit', resolve))));
  for (const w of all) w.postMessage(QUIT);
  let timer: NodeJS.Timeout | undefined;
  // Not unref'd: the process must not end on its own (stopping the workers mid-call) while they quit.
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([exited.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Worker side: `handle` gets every request; the quit message ends the thread, between two requests' calls. */
export function onRequest<T>(port: MessagePort, handle: (req: T) => void): void {
  port.on('message', (message: unknown) => {
    if (message === QUIT) process.exit(0);
    else handle(message as T);
  });
}
