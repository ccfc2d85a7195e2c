/**
 * The one rule by which a pipeline is applied, for a batch (`Pipeline.apply`, hence `defend`, `evaluate
 * --defence` and the attacks) and for whole image sets with prefix sharing (`PipelineApplier`, the study).
 *
 * Stage i's random draws for an image come from (seed, the canonical text of the pipeline's prefix ending at
 * stage i, the image's content): not from the batch it came in, its position or the set it belongs to. So a
 * stochastic pipeline gives the same image the same draw everywhere for the same seed, and pipelines that
 * share a prefix share its output (which is what lets the study apply each prefix once).
 */
import * as tf from '@tensorflow/tfjs-core';
import { hashSeed } from '../util/random.js';
import type { ApplyContext, Preprocessor } from './preprocessor.js';
import { formatPipeline, type StageSpec } from './pipeline.js';
import { getDefence } from './registry.js';
import { formatToken } from './preprocessor.js';

/** A 32-bit hash of each of the n images packed in `data` (their float bits; FNV-1a over 32-bit words). */
export function imageKeys(data: Float32Array, n: number): Uint32Array {
  const words = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const size = n ? data.length / n : 0;
  const keys = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    let h = 0x811c9dc5;
    for (let k = i * size, end = k + size; k < end; k++) h = Math.imul(h ^ words[k], 0x01000193);
    keys[i] = h >>> 0;
  }
  return keys;
}

/** The context of one stage: per-image seeds from (seed, prefix, key); none without a seed (fresh draws). */
export function stageContext(seed: number | undefined, prefix: string, keys: ArrayLike<number>): ApplyContext {
  if (seed === undefined) return {};
  return { seeds: Array.from(keys, (k) => hashSeed(seed, prefix, k)) };
}

/** The canonical prefixes of a pipeline: prefixes[i] covers stages 0…i. */
export function prefixesOf(stages: readonly StageSpec[]): string[] {
  return stages.map((_, i) => formatPipeline(stages.slice(0, i + 1)));
}

/** Same-sized images packed as one NHWC float32 array, named by `key` (the prefix memo's key). */
export interface PackedImages {
  readonly key: string;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly data: Float32Array;
}

/**
 * Applies pipelines to image sets, `batchSize` images at a time, keeping the output of every prefix while the
 * pipelines asked for next still start with it (at most `memoLimit` prefix outputs), and building each distinct
 * stage once.
 */
export class PipelineApplier {
  private readonly built = new Map<string, Preprocessor>();
  private readonly memo = new Map<string, Float32Array>();

  constructor(
    private readonly seed: number | undefined,
    private readonly batchSize = 32,
    private readonly memoLimit = 8,
  ) {}

  /** The set's pixels after the pipeline (the input itself for the empty pipeline). */
  async apply(stages: readonly StageSpec[], set: PackedImages): Promise<Float32Array> {
    const prefixes = prefixesOf(stages);
    for (const k of [...this.memo.keys()]) {
      if (!prefixes.includes(k.split('\u0000')[1])) this.memo.delete(k);
    }
    const size = set.height * set.width * set.channels;
    const n = size ? set.data.length / size : 0;
    const keys = imageKeys(set.data, n);
    let cur = set.data;
    for (let i = 0; i < stages.length; i++) {
      const memoKey = `${set.key}\u0000${prefixes[i]}`;
      const hit = this.memo.get(memoKey);
      if (hit) {
        cur = hit;
        continue;
      }
      const stage = await this.stage(stages[i]);
      const prefix = prefixes[i];
      const out = await mapPacked({ ...set, data: cur }, this.batchSize, (x, start) => stage.apply(x, stageContext(this.seed, prefix, keys.subarray(start, start + x.shape[0]))));
      cur = out;
      this.memo.set(memoKey, cur);
      while (this.memo.size > this.memoLimit) this.memo.delete(this.memo.keys().next().value as string);
    }
    return cur;
  }

  private async stage(spec: StageSpec): Promise<Preprocessor> {
    const token = formatToken(spec.name, spec.params, getDefence(spec.name).params);
    let p = this.built.get(token);
    if (!p) {
      p = await getDefence(spec.name).factory(spec.params);
      this.built.set(token, p);
    }
    return p;
  }

  /** Drop the kept prefix outputs (stages hold no tensors; BMCNN's weights are shared per process). */
  clear(): void {
    this.memo.clear();
  }
}

/** Run `f` over packed images in batches (`start`: the batch's first image) and pack its outputs alike. */
export async function mapPacked(set: PackedImages, batchSize: number, f: (x: tf.Tensor4D, start: number) => Promise<tf.Tensor4D>): Promise<Float32Array> {
  const size = set.height * set.width * set.channels;
  const n = size ? set.data.length / size : 0;
  const out = new Float32Array(set.data.length);
  for (let start = 0; start < n; start += batchSize) {
    const count = Math.min(batchSize, n - start);
    const x = tf.tensor4d(set.data.subarray(start * size, (start + count) * size), [count, set.height, set.width, set.channels]);
    try {
      const y = await f(x, start);
      try {
        out.set(await y.data(), start * size);
      } finally {
        y.dispose();
      }
    } finally {
      x.dispose();
    }
  }
  return out;
}

/**
 * Apply built stages to a batch by the same rule; `keep(t)` receives each intermediate (not the input or the
 * output) and decides to keep it (true) or have it disposed. Used by `Pipeline.apply`.
 */
export async function applyBatch(stages: readonly Preprocessor[], prefixes: readonly string[], x: tf.Tensor4D, seed: number | undefined, keep: (t: tf.Tensor4D) => boolean): Promise<tf.Tensor4D> {
  const keys = seed === undefined ? new Uint32Array(0) : imageKeys(x.dataSync() as Float32Array, x.shape[0]);
  let cur = x;
  try {
    for (let i = 0; i < stages.length; i++) {
      const next = await stages[i].apply(cur, stageContext(seed, prefixes[i], keys));
      if (cur !== x && !keep(cur)) cur.dispose();
      cur = next;
    }
  } catch (err) {
    if (cur !== x) cur.dispose();
    throw err;
  }
  return cur;
}
