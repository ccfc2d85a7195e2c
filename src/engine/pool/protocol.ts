/** Messages between a WorkerPool and its workers, and what moves (rather than copies) with them. */

export interface TaskRequest {
  id: number;
  /** URL (file:) of the ES module exporting the task. */
  module: string;
  name: string;
  payload: unknown;
}

/** `id` 0 is the worker's start-up reply (its EngineInfo). */
export type TaskReply = { id: number; result: unknown; error?: undefined } | { id: number; error: string; result?: undefined };

/**
 * The ArrayBuffers behind the typed arrays in `value` (searched through arrays and plain objects), to transfer
 * instead of copying. Shared buffers are skipped (they are shared, not moved).
 */
export function transferablesOf(value: unknown): ArrayBuffer[] {
  const found = new Set<ArrayBuffer>();
  const visit = (v: unknown, depth: number): void => {
    if (depth > 8 || v === null || typeof v !== 'object') return;
    if (ArrayBuffer.isView(v)) {
      if (v.buffer instanceof ArrayBuffer) found.add(v.buffer);
    } else if (v instanceof ArrayBuffer) {
      found.add(v);
    } else if (Array.isArray(v)) {
      for (const item of v) visit(item, depth + 1);
    } else if (Object.getPrototypeOf(v) === Object.prototype) {
      for (const item of Object.values(v)) visit(item, depth + 1);
    }
  };
  visit(value, 0);
  return [...found];
}
