/** Splitting an NHWC (or any batch-first) float32 batch by samples for a WorkerPool, and joining it back. */

/** A batch as plain data: what crosses to a worker. */
export interface BatchData {
  data: Float32Array;
  /** Batch-first shape; data.length is its product. */
  shape: number[];
}

function checkBatch(b: BatchData, what: string): number {
  if (b.shape.length < 1 || b.shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`${what}: bad shape [${b.shape}]`);
  }
  const size = b.shape.reduce((a, d) => a * d, 1);
  if (size !== b.data.length) throw new Error(`${what}: shape [${b.shape}] needs ${size} values, got ${b.data.length}`);
  return b.shape[0] === 0 ? 0 : size / b.shape[0];
}

/**
 * Up to `parts` consecutive runs of samples, sizes differing by at most one (fewer parts if there are fewer
 * samples). Each part owns a copy of its values, so its buffer can be transferred.
 */
export function splitSamples(batch: BatchData, parts: number): BatchData[] {
  const per = checkBatch(batch, 'splitSamples');
  if (!Number.isInteger(parts) || parts < 1) throw new Error(`splitSamples: parts must be a positive integer, got ${parts}`);
  const n = batch.shape[0];
  const k = Math.max(1, Math.min(parts, n));
  const out: BatchData[] = [];
  for (let i = 0, start = 0; i < k; i++) {
    const count = Math.floor(n / k) + (i < n % k ? 1 : 0);
    out.push({ data: batch.data.slice(start * per, (start + count) * per), shape: [count, ...batch.shape.slice(1)] });
    start += count;
  }
  return out;
}

/** Concatenates batches along the first axis (their other dimensions must agree). */
export function joinSamples(parts: readonly BatchData[]): BatchData {
  if (parts.length === 0) throw new Error('joinSamples: no parts');
  const rest = parts[0].shape.slice(1);
  let total = 0;
  for (const p of parts) {
    checkBatch(p, 'joinSamples');
    if (p.shape.length !== rest.length + 1 || p.shape.slice(1).some((d, i) => d !== rest[i])) {
      throw new Error(`joinSamples: part shape [${p.shape}] does not match [*,${rest}]`);
    }
    total += p.data.length;
  }
  const data = new Float32Array(total);
  let offset = 0;
  for (const p of parts) {
    data.set(p.data, offset);
    offset += p.data.length;
  }
  return { data, shape: [parts.reduce((a, p) => a + p.shape[0], 0), ...rest] };
}
