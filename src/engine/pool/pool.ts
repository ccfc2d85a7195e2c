/**
 * Data-parallel worker pool: N worker_threads, each with its own TF.js engine (single-threaded wasm by
 * default), running task functions from ES modules with structured-clone payloads. Split a batch by samples
 * (batch.ts), send one part per worker, join the results. Unlike threaded wasm (threads.ts), which speeds up
 * only XNNPACK kernels, this parallelises everything a task does (pure-JS kernels, preprocessing), at the
 * price of per-worker model copies and callers that think in tasks.
 *
 * Typed arrays in a task's result are transferred, not copied; pass `transfer` to move a payload's buffers.
 * Idle workers do not keep Node alive; `close()` ends them.
 */
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BackendName, EngineInfo } from '../backend.js';
import type { TaskReply, TaskRequest } from './protocol.js';
import { tracked } from './quit.js';

/** An exported function `name` of the ES module at `module` (a file: URL or absolute path). */
export interface TaskRef {
  module: string | URL;
  name: string;
}

export interface PoolOptions {
  /** Number of workers (default os.availableParallelism()). */
  workers?: number;
  /** wasm threads inside each worker (default 1: the workers are the parallelism). */
  threadsPerWorker?: number;
  /** Backend of every worker's engine (default 'wasm'); 'none' starts no TF.js engine (pure-JS tasks). */
  backend?: BackendName | 'none';
}

interface Job {
  request: Omit<TaskRequest, 'id'>;
  transfer: readonly ArrayBuffer[];
  resolve(value: unknown): void;
  reject(error: Error): void;
}

interface Slot {
  worker: Worker;
  info: EngineInfo | undefined;
  job?: Job & { id: number };
}

function positiveInt(value: number | undefined, fallback: number, what: string): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < 1) throw new Error(`WorkerPool: ${what} must be a positive integer, got ${String(value)}`);
  return n;
}

function moduleUrl(module: string | URL): string {
  if (module instanceof URL || module.startsWith('file:')) return String(module);
  if (!path.isAbsolute(module)) throw new Error(`WorkerPool: task module must be a file: URL or an absolute path, got '${module}'`);
  return pathToFileURL(module).href;
}

/** The worker's start-up reply (its EngineInfo), or its start-up error. */
function started(worker: Worker): Promise<EngineInfo | undefined> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
    };
    const onMessage = (reply: TaskReply): void => {
      cleanup();
      if (reply.error !== undefined) reject(new Error(reply.error));
      else resolve(reply.result as EngineInfo | undefined);
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(new Error(`WorkerPool: a worker failed to start: ${e.message}`));
    };
    const onExit = (code: number): void => {
      cleanup();
      reject(new Error(`WorkerPool: a worker exited during start-up (code ${code})`));
    };
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
  });
}

export class WorkerPool {
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closing = false;
  private failure: Error | undefined;

  private constructor(private readonly slots: Slot[]) {
    for (const slot of slots) {
      slot.worker.on('message', (reply: TaskReply) => this.settle(slot, reply));
      slot.worker.on('error', (e: Error) => this.fail(new Error(`WorkerPool: a worker crashed: ${e.message}`)));
      slot.worker.on('exit', (code: number) => {
        if (!this.closing) this.fail(new Error(`WorkerPool: a worker exited unexpectedly (code ${code})`));
      });
      slot.worker.unref();
    }
  }

  /** Starts the workers and waits until each has its engine up. */
  static async create(opts: PoolOptions = {}): Promise<WorkerPool> {
    const n = positiveInt(opts.workers, os.availableParallelism(), 'workers');
    const workerData = {
      backend: opts.backend ?? 'wasm',
      threads: positiveInt(opts.threadsPerWorker, 1, 'threadsPerWorker'),
    };
    const url = new URL('./worker.js', import.meta.url);
    // Workers inherit the parent's Node flags; --input-type (a `node -e` parent) is refused by workers.
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
    const workers = Array.from({ length: n }, () => tracked(new Worker(url, { workerData, execArgv })));
    try {
      const infos = await Promise.all(workers.map(started));
      return new WorkerPool(workers.map((worker, i) => ({ worker, info: infos[i] })));
    } catch (e) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw e;
    }
  }

  get size(): number {
    return this.slots.length;
  }

  /** Why the pool stopped (a worker crashed or exited), or undefined while it works. */
  get failed(): Error | undefined {
    return this.failure;
  }

  /** Each worker's engine, in worker order (undefined for backend 'none'). */
  get engines(): (EngineInfo | undefined)[] {
    return this.slots.map((s) => s.info);
  }

  /** Runs `task(payload)` on the next free worker; resolves to its (awaited) return value. */
  run<T>(task: TaskRef, payload: unknown, transfer: readonly ArrayBuffer[] = []): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(new Error('WorkerPool: closed'));
    return new Promise<T>((resolve, reject) => {
      const request = { module: moduleUrl(task.module), name: task.name, payload };
      this.queue.push({ request, transfer, resolve: resolve as (v: unknown) => void, reject });
      this.dispatch();
    });
  }

  /** Runs `task` once per payload, spread over the workers; results in payload order. */
  map<T>(task: TaskRef, payloads: readonly unknown[], transfers?: readonly (readonly ArrayBuffer[])[]): Promise<T[]> {
    return Promise.all(payloads.map((p, i) => this.run<T>(task, p, transfers?.[i])));
  }

  /** Ends every worker; queued tasks are rejected. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.rejectAll(new Error('WorkerPool: closed'));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.job) continue;
      const job = this.queue.shift() as Job;
      slot.job = { ...job, id: this.nextId++ };
      slot.worker.ref(); // a pending task keeps the process alive
      slot.worker.postMessage({ id: slot.job.id, ...job.request } satisfies TaskRequest, [...job.transfer]);
    }
  }

  private settle(slot: Slot, reply: TaskReply): void {
    const job = slot.job;
    if (!job || job.id !== reply.id) return;
    slot.job = undefined;
    slot.worker.unref();
    if (reply.error !== undefined) job.reject(new Error(`pool task ${job.request.name}: ${reply.error}`));
    else job.resolve(reply.result);
    this.dispatch();
  }

  private fail(error: Error): void {
    if (this.failure || this.closing) return;
    this.failure = error;
    this.rejectAll(error);
    void this.close();
  }

  private rejectAll(error: Error): void {
    for (const slot of this.slots) {
      slot.job?.reject(error);
      slot.job = undefined;
    }
    for (const job of this.queue.splice(0)) job.reject(error);
  }
}
