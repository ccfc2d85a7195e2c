/**
 * The bounded queue in front of the inference workers. At most `capacity` requests wait; one more is refused
 * at once with 503 and a Retry-After estimated from recent task times, so overload never turns into unbounded
 * memory or latency. A request that waits or runs past its deadline is answered 503; a task already running on
 * a worker cannot be interrupted, so it keeps its worker until it ends and its result is dropped.
 */
import type { TaskRef, WorkerPool } from '../engine/pool/pool.js';
import { HttpError } from './errors.js';

interface Waiting {
  start(): void;
  fail(e: Error): void;
}

export class InferenceQueue {
  private readonly waiting: Waiting[] = [];
  private running = 0;
  /** Exponential moving average of task seconds (for Retry-After). */
  private avgSeconds = 1;
  private idle: (() => void)[] = [];

  constructor(
    private readonly pool: WorkerPool,
    readonly capacity: number,
    private readonly onDepth: (waiting: number, running: number) => void = () => {},
  ) {}

  get depth(): number {
    return this.waiting.length;
  }

  /** Why the workers stopped (a crashed worker ends the pool; readyz then says so), or undefined. */
  get failed(): Error | undefined {
    return this.pool.failed;
  }

  get active(): number {
    return this.running;
  }

  /** Runs `task` on a worker within `timeoutMs` of now (queueing included). */
  run<T>(task: TaskRef, payload: unknown, transfer: ArrayBuffer[], timeoutMs: number): Promise<T> {
    if (this.pool.failed) return Promise.reject(new HttpError(503, 'inference workers stopped; the server needs a restart'));
    if (this.running >= this.pool.size && this.waiting.length >= this.capacity) {
      const seconds = Math.max(1, Math.ceil((this.avgSeconds * (this.waiting.length + 1)) / this.pool.size));
      return Promise.reject(new HttpError(503, `server busy: ${this.waiting.length} requests already queued (limit ${this.capacity}); retry in ${seconds} s`, { 'retry-after': String(seconds) }));
    }
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const settle = (f: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        f();
      };
      const entry: Waiting = {
        start: () => {
          this.running++;
          this.report();
          const t0 = performance.now();
          this.pool.run<T>(task, payload, transfer).then(
            (v) => settle(() => resolve(v)),
            (e: Error) => settle(() => reject(e)),
          ).finally(() => {
            this.avgSeconds = 0.8 * this.avgSeconds + 0.2 * ((performance.now() - t0) / 1000);
            this.running--;
            this.next();
          });
        },
        fail: (e) => settle(() => reject(e)),
      };
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        this.report();
        entry.fail(new HttpError(503, `timed out after ${timeoutMs} ms (limit timeoutMs)`, { 'retry-after': String(Math.max(1, Math.ceil(this.avgSeconds))) }));
      }, timeoutMs);
      this.waiting.push(entry);
      this.next();
    });
  }

  /** Resolves once nothing is queued or running. */
  drained(): Promise<void> {
    if (this.running === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  private next(): void {
    while (this.running < this.pool.size && this.waiting.length > 0) this.waiting.shift()!.start();
    this.report();
    if (this.running === 0 && this.waiting.length === 0) this.idle.splice(0).forEach((r) => r());
  }

  private report(): void {
    this.onDepth(this.waiting.length, this.running);
  }
}
