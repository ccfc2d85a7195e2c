/**
 * TotalVarMin solves one problem per channel plane of every image; this runs a plane solver over an NHWC batch,
 * inline or with the batch's images split over worker threads (the planes are independent, so the split leaves
 * every output bit unchanged). Pure JS: the workers load no TF.js engine.
 */
import { mapImageRanges } from '../engine/pool/js-pool.js';
import type { TaskRef } from '../engine/pool/pool.js';
import { clip255 } from '../util/clip.js';
import { LbfgsPlane, type TvmLbfgsOptions, type TvmLbfgsStats } from './tvm-lbfgs.js';
import { PdhgPlane, type TvmOptions } from './tvm-pdhg.js';

type Shape = readonly [number, number, number, number];

/** One h×w plane's problem: fill `x` (values) and `m` (mask as 0/1), then `solve()` returns the minimiser. */
export interface PlaneSolver {
  readonly x: Float64Array;
  readonly m: Float64Array;
  solve(): Float64Array;
}

/** A solver and its options as plain data (what travels to a worker). */
export type TvmSolve =
  | { solver: 'lbfgs'; norm: number; lamb: number; max_iter: number }
  | { solver: 'pdhg'; norm: number; lamb: number; iterations: number };

/** Every image and channel plane of `x` (NHWC) with `mask` (same layout, 1 = kept), clipped to [0,255]. */
export function solvePlanes(x: Float32Array, mask: Uint8Array, shape: Shape, plane: PlaneSolver): Float32Array {
  const [n, h, w, c] = shape;
  if (x.length !== n * h * w * c || mask.length !== x.length) {
    throw new Error(`tvm: ${x.length} values and ${mask.length} mask entries for shape [${shape.join(', ')}]`);
  }
  const hw = h * w;
  const out = new Float32Array(x.length);
  // Read once: for one solver a field, for another a getter.
  const px = plane.x;
  const pm = plane.m;
  // One plane at a time keeps its arrays in cache.
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const base = i * hw * c + ch;
      for (let p = 0; p < hw; p++) {
        px[p] = x[base + p * c];
        pm[p] = mask[base + p * c] ? 1 : 0;
      }
      const z = plane.solve();
      for (let p = 0; p < hw; p++) out[base + p * c] = clip255(z[p]);
    }
  }
  return out;
}

/**
 * ART's TotalVarMin on an NHWC batch with the given mask (same layout, 1 = kept): L-BFGS-B per image and channel,
 * then clipped to [0,255].
 */
export function totalVarMinimiseLbfgs(x: Float32Array, mask: Uint8Array, shape: Shape, opts: TvmLbfgsOptions, stats?: TvmLbfgsStats): Float32Array {
  return solvePlanes(x, mask, shape, new LbfgsPlane(shape[1], shape[2], opts, stats));
}

/** ART's objective minimised by PDHG for every image and channel plane (solutions within [0,255]). */
export function totalVarMinimise(x: Float32Array, mask: Uint8Array, shape: Shape, opts: TvmOptions): Float32Array {
  return solvePlanes(x, mask, shape, new PdhgPlane(shape[1], shape[2], opts));
}

export function planeSolver(spec: TvmSolve, h: number, w: number, stats?: TvmLbfgsStats): PlaneSolver {
  return spec.solver === 'lbfgs' ? new LbfgsPlane(h, w, spec, stats) : new PdhgPlane(h, w, spec);
}

interface TvmPart {
  x: Float32Array;
  mask: Uint8Array;
  shape: Shape;
  spec: TvmSolve;
}

/** Worker task: one part of a batch. */
export function solveTvmPart({ x, mask, shape, spec }: TvmPart): Float32Array {
  return solvePlanes(x, mask, shape, planeSolver(spec, shape[1], shape[2]));
}

const TVM_PART: TaskRef = { module: import.meta.url, name: 'solveTvmPart' };

/** The whole batch with its images split over `threads` workers (inline for one thread or one image). */
export async function solveTvmBatch(x: Float32Array, mask: Uint8Array, shape: Shape, spec: TvmSolve, threads: number): Promise<Float32Array> {
  const [n, h, w, c] = shape;
  const size = h * w * c;
  // A worker's part is a copy (its buffer is transferred); the inline run (one part) reads the batch itself.
  const cut = <T extends Float32Array | Uint8Array>(v: T, a: number, b: number): T => (a === 0 && b === n ? v : (v.slice(a * size, b * size) as T));
  const part = (a: number, b: number): TvmPart => ({ x: cut(x, a, b), mask: cut(mask, a, b), shape: [b - a, h, w, c], spec });
  const { ranges, results } = await mapImageRanges(n, threads, TVM_PART, part, solveTvmPart);
  if (results.length === 1) return results[0];
  const out = new Float32Array(x.length);
  results.forEach((r, k) => out.set(r, ranges[k][0] * size));
  return out;
}
