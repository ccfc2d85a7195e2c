/**
 * One pool worker: its own TF.js engine (its own wasm instance) unless started with backend 'none', then runs tasks it is sent, one at a time.
 * A task is an exported function of an ES module, imported once per worker, so module-level state (a loaded
 * model, say) stays warm across calls.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { BackendName } from '../backend.js';
import { transferablesOf, type TaskRequest, type TaskReply } from './protocol.js';
import { onRequest } from './quit.js';

const port = parentPort;
if (!port) throw new Error('src/engine/pool/worker.js must run as a worker thread');
const { backend, threads } = workerData as { backend: BackendName | 'none'; threads: number };
// Loaded only when wanted: a pure-JS task's worker starts without TF.js.
const info = backend === 'none' ? undefined : await (await import('../backend.js')).initEngine({ backend, threads, strict: true });

const modules = new Map<string, Promise<Record<string, unknown>>>();

async function run({ module, name, payload }: TaskRequest): Promise<unknown> {
  let mod = modules.get(module);
  if (!mod) modules.set(module, (mod = import(module) as Promise<Record<string, unknown>>));
  const fn = (await mod)[name];
  if (typeof fn !== 'function') throw new Error(`pool task: ${module} has no exported function '${name}'`);
  return fn(payload);
}

onRequest(port, async (req: TaskRequest) => {
  try {
    const result = await run(req);
    // Inside the try: a result that cannot be cloned (DataCloneError) becomes this task's error.
    port.postMessage({ id: req.id, result } satisfies TaskReply, transferablesOf(result));
  } catch (e) {
    const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
    port.postMessage({ id: req.id, error } satisfies TaskReply);
  }
});
port.postMessage({ id: 0, result: info } satisfies TaskReply);
