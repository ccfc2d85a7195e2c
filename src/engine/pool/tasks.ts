/** Generic tasks any WorkerPool can run (task-specific modules, e.g. an attack's, live with their callers). */
import * as tf from '@tensorflow/tfjs-core';
import type { TaskRef } from './pool.js';
import type { BatchData } from './batch.js';

export interface TfOpPayload {
  /** Name of a tf.* function, e.g. 'conv2d'. */
  op: string;
  /** Tensor arguments first, in order. */
  inputs: BatchData[];
  /** Further (non-tensor) arguments. */
  args?: unknown[];
}

/** tf[op](...inputs, ...args) in the worker; the output's values and shape. */
export async function tfOp({ op, inputs, args = [] }: TfOpPayload): Promise<BatchData> {
  const fn = (tf as unknown as Record<string, unknown>)[op];
  if (typeof fn !== 'function') throw new Error(`tfOp: no tf.${op} function`);
  const y = tf.tidy(() => {
    const xs = inputs.map(({ data, shape }) => tf.tensor(data, shape));
    return (fn as (...a: unknown[]) => tf.Tensor)(...xs, ...args);
  });
  try {
    return { data: (await y.data()) as Float32Array, shape: y.shape };
  } finally {
    y.dispose();
  }
}

export const TF_OP: TaskRef = { module: import.meta.url, name: 'tfOp' };
