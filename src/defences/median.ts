/**
 * ART's SpatialSmoothing: scipy.ndimage.median_filter with a window_size × window_size window on each channel
 * separately, border mode 'reflect' (half-sample symmetric: d c b a | a b c d).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { IdentityGradientDefence, mapImages, type ImagesPart, type ParamSpecs, D, paramSpecs } from './preprocessor.js';

/**
 * `median`'s parameters: window_size.
 *
 * @example
 * ```ts
 * import { MEDIAN_PARAMS, describeDefenceParams } from 'robustify/defences';
 * console.log(describeDefenceParams(MEDIAN_PARAMS).join('\n')); // {@link SpatialSmoothing}'s parameters
 * ```
 */
export const MEDIAN_PARAMS: ParamSpecs = paramSpecs({
  window_size: D.integer(3, 1, 63, 'side of the square median window in pixels'),
});

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

/*
 * The 3×3 path works on the IEEE bit patterns: for non-negative floats they order like the floats, as int32,
 * and int32 min/max can be computed without branches (t = a − b; min = b + (t & (t >> 31))). Comparisons on
 * image data are unpredictable, and both branches and V8's NaN-aware Math.min/max cost ~4× more.
 */

/** median of three int32 keys whose differences fit in int32 */
function med3(a: number, b: number, c: number): number {
  let t = a - b;
  const m = t & (t >> 31);
  const lo = b + m; // min(a, b)
  const hi = a - m; // max(a, b)
  t = hi - c;
  const mid = c + (t & (t >> 31)); // min(hi, c)
  t = lo - mid;
  return lo - (t & (t >> 31)); // max(lo, mid)
}

/**
 * 3×3: sort each vertical triple once per row, then the median of nine is
 * med3(max of the three minima, med3 of the middles, min of the three maxima) — exact.
 * `src`/`dst` are int32 views of the float data, every key in [0, 0x7f800000] (checked by the caller).
 */
function median3(src: Int32Array, dst: Int32Array, base: number, h: number, w: number, c: number): void {
  const rows = windowIndices(h, 3);
  const cols = windowIndices(w, 3);
  const lo = new Int32Array(w);
  const mid = new Int32Array(w);
  const hi = new Int32Array(w);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      const r0 = base + rows[3 * y] * w * c + ch;
      const r1 = base + rows[3 * y + 1] * w * c + ch;
      const r2 = base + rows[3 * y + 2] * w * c + ch;
      for (let x = 0; x < w; x++) {
        const a = src[r0 + x * c];
        const b = src[r1 + x * c];
        const d = src[r2 + x * c];
        let t = a - b;
        let m = t & (t >> 31);
        const mn = b + m;
        const mx = a - m;
        t = mn - d;
        lo[x] = d + (t & (t >> 31));
        t = mx - d;
        m = t & (t >> 31);
        hi[x] = mx - m;
        const upper = d + m; // min(mx, d)
        t = mn - upper;
        mid[x] = mn - (t & (t >> 31));
      }
      const out = base + y * w * c + ch;
      for (let x = 0; x < w; x++) {
        const x0 = cols[3 * x];
        const x1 = cols[3 * x + 1];
        const x2 = cols[3 * x + 2];
        let t = lo[x0] - lo[x1];
        let maxLo = lo[x0] - (t & (t >> 31));
        t = maxLo - lo[x2];
        maxLo -= t & (t >> 31);
        t = hi[x0] - hi[x1];
        let minHi = hi[x1] + (t & (t >> 31));
        t = minHi - hi[x2];
        minHi = hi[x2] + (t & (t >> 31));
        dst[out + x * c] = med3(maxLo, med3(mid[x0], mid[x1], mid[x2]), minHi);
      }
    }
  }
}

/** True when every value is a non-NaN float ≥ +0, so the int32 keys order correctly and never overflow. */
function nonNegativeKeys(keys: Int32Array): boolean {
  let bad = 0;
  for (let i = 0; i < keys.length; i++) bad |= (keys[i] >>> 0) > 0x7f800000 ? 1 : 0;
  return bad === 0;
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
  const srcKeys = new Int32Array(src.buffer, src.byteOffset, src.length);
  const dstKeys = new Int32Array(dst.buffer);
  const fast = windowSize === 3 && nonNegativeKeys(srcKeys);
  for (let i = 0; i < n; i++) {
    const base = i * h * w * c;
    if (fast) median3(srcKeys, dstKeys, base, h, w, c);
    else medianGeneric(src, dst, base, h, w, c, windowSize);
  }
  return dst;
}

/**
 * Median filter (ART's SpatialSmoothing): each channel's `window_size`×`window_size` median; identity gradient.
 *
 * @example
 * ```ts
 * import { tf, initEngine, SpatialSmoothing } from 'robustify';
 * await initEngine();
 * const y = await new SpatialSmoothing({ window_size: 3 }).apply(tf.randomUniform([1, 8, 8, 3], 0, 255, 'float32', 1) as tf.Tensor4D);
 * console.log(y.shape); // 3×3 median per channel
 * ```
 */
export class SpatialSmoothing extends IdentityGradientDefence<{ window_size: number }> {
  constructor(opts: { window_size?: number } = {}) {
    super('median', MEDIAN_PARAMS, opts);
  }

  apply(x: tf.Tensor4D): Promise<tf.Tensor4D> {
    // A median is one of the window's values, so in-range input stays in range: no clipping pass needed.
    const window = this.params.window_size;
    return mapImages(this.name, x, MEDIAN_PART, medianPart, () => window);
  }
}

/** Pool task: medianFilter on a range of images. */
export function medianPart({ data, shape, params: window }: ImagesPart<number>): Float32Array {
  return medianFilter(data, shape, window);
}

const MEDIAN_PART = { module: import.meta.url, name: 'medianPart' };
