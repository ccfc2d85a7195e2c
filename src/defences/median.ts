/**
 * ART's SpatialSmoothing: scipy.ndimage.median_filter with a window_size × window_size window on each channel
 * separately, border mode 'reflect' (half-sample symmetric: d c b a | a b c d).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { formatToken, identityGradient, mapBatch, resolveParams, type ParamSpecs, type Preprocessor } from './preprocessor.js';

export const MEDIAN_PARAMS: ParamSpecs = {
  window_size: { default: 3, min: 1, max: 63, integer: true },
};

/** scipy's 'reflect' index for any offset, also when the window is wider than the image. */
export function reflectIndex(i: number, n: number): number {
  const period = 2 * n;
  const k = ((i % period) + period) % period; // also turns −0 into 0
  return k < n ? k : period - 1 - k;
}

/**
 * For each output position 0..n-1, the source index of each window offset: offsets run from −⌊w/2⌋ to
 * w−1−⌊w/2⌋ (scipy's centring; for even w one more before than after).
 */
function windowIndices(n: number, w: number): Int32Array {
  const lo = Math.floor(w / 2);
  const idx = new Int32Array(n * w);
  for (let p = 0; p < n; p++) for (let o = 0; o < w; o++) idx[p * w + o] = reflectIndex(p - lo + o, n);
  return idx;
}

/** k-th smallest of a[0..n) (Hoare quickselect; reorders a). */
function select(a: Float32Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[k];
}

/**
 * 3×3: sort each vertical triple once per row, then the median of nine is
 * med3(max of the three minima, med3 of the middles, min of the three maxima) — exact, ~2 compares per value.
 */
function median3(src: Float32Array, dst: Float32Array, base: number, h: number, w: number, c: number): void {
  const rows = windowIndices(h, 3);
  const cols = windowIndices(w, 3);
  const lo = new Float32Array(w);
  const mid = new Float32Array(w);
  const hi = new Float32Array(w);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      const r0 = base + rows[3 * y] * w * c + ch;
      const r1 = base + rows[3 * y + 1] * w * c + ch;
      const r2 = base + rows[3 * y + 2] * w * c + ch;
      for (let x = 0; x < w; x++) {
        let a = src[r0 + x * c];
        let b = src[r1 + x * c];
        let d = src[r2 + x * c];
        if (a > b) { const t = a; a = b; b = t; }
        if (b > d) { const t = b; b = d; d = t; }
        if (a > b) { const t = a; a = b; b = t; }
        lo[x] = a;
        mid[x] = b;
        hi[x] = d;
      }
      const out = base + y * w * c + ch;
      for (let x = 0; x < w; x++) {
        const x0 = cols[3 * x];
        const x1 = cols[3 * x + 1];
        const x2 = cols[3 * x + 2];
        const maxLo = Math.max(lo[x0], lo[x1], lo[x2]);
        const minHi = Math.min(hi[x0], hi[x1], hi[x2]);
        let m0 = mid[x0];
        let m1 = mid[x1];
        const m2 = mid[x2];
        if (m0 > m1) { const t = m0; m0 = m1; m1 = t; }
        const medMid = m2 <= m0 ? m0 : m2 >= m1 ? m1 : m2;
        // median of (maxLo, medMid, minHi)
        const p = Math.min(maxLo, medMid);
        const q = Math.max(maxLo, medMid);
        dst[out + x * c] = minHi <= p ? p : minHi >= q ? q : minHi;
      }
    }
  }
}

/** Any window: gather the w² values and select rank ⌊w²/2⌋ (the upper middle for even w, as scipy). */
function medianGeneric(src: Float32Array, dst: Float32Array, base: number, h: number, w: number, c: number, win: number): void {
  const rows = windowIndices(h, win);
  const cols = windowIndices(w, win);
  const n = win * win;
  const k = n >> 1;
  const buf = new Float32Array(n);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let ch = 0; ch < c; ch++) {
        let m = 0;
        for (let dy = 0; dy < win; dy++) {
          const row = base + rows[y * win + dy] * w * c + ch;
          for (let dx = 0; dx < win; dx++) buf[m++] = src[row + cols[x * win + dx] * c];
        }
        dst[base + (y * w + x) * c + ch] = select(buf, n, k);
      }
    }
  }
}

/** Median-filter an NHWC batch held in a typed array; returns a new array. */
export function medianFilter(src: Float32Array, shape: readonly [number, number, number, number], windowSize: number): Float32Array {
  const [n, h, w, c] = shape;
  const dst = new Float32Array(src.length);
  if (windowSize === 1) {
    dst.set(src);
    return dst;
  }
  for (let i = 0; i < n; i++) {
    const base = i * h * w * c;
    if (windowSize === 3) median3(src, dst, base, h, w, c);
    else medianGeneric(src, dst, base, h, w, c, windowSize);
  }
  return dst;
}

export class SpatialSmoothing implements Preprocessor {
  readonly name = 'median';
  readonly params: Readonly<{ window_size: number }>;
  readonly gradient = 'identity' as const;

  constructor(opts: { window_size?: number } = {}) {
    this.params = Object.freeze(resolveParams(this.name, MEDIAN_PARAMS, opts) as { window_size: number });
  }

  apply(x: tf.Tensor4D): Promise<tf.Tensor4D> {
    // A median is one of the window's values, so in-range input stays in range: no clipping pass needed.
    return mapBatch(this.name, x, (data, shape) => medianFilter(data, shape, this.params.window_size));
  }

  /** ART's estimate_gradient for SpatialSmoothing: the identity. */
  estimateGradient(x: tf.Tensor4D, grad: tf.Tensor4D): tf.Tensor4D {
    return identityGradient(this.name, x, grad);
  }

  toString(): string {
    return formatToken(this.name, this.params);
  }
}
