/**
 * A Piscina worker doing what src/engine/pool/worker.ts does (its own single-threaded wasm engine, then
 * exported task functions of ES modules, imported once), so bench/pools.ts compares the pools and nothing else.
 */
import { initEngine } from '../src/engine/backend.js';
import type { TaskRequest } from '../src/engine/pool/protocol.js';

await initEngine({ backend: 'wasm', threads: 1, strict: true });
const modules = new Map<string, Promise<Record<string, (p: unknown) => unknown>>>();

export default async function run({ module, name, payload }: Omit<TaskRequest, 'id'>): Promise<unknown> {
  let mod = modules.get(module);
  if (!mod) modules.set(module, (mod = import(module) as Promise<Record<string, (p: unknown) => unknown>>));
  return (await mod)[name](payload);
}

