/**
 * NumPy's float64 summation order, so means and averages agree with scikit-learn to the last bit.
 * `np.add.reduce` sums contiguous float64 data pairwise: below 8 values a plain loop, up to 128 eight
 * interleaved partial sums combined as a tree, above that it splits in halves (a multiple of 8 first).
 */
const BLOCK = 128;

export function npSum(a: ArrayLike<number>, start = 0, n = a.length - start): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[start + i];
    return res;
  }
  if (n <= BLOCK) {
    const r = [0, 1, 2, 3, 4, 5, 6, 7].map((j) => a[start + j]);
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += a[start + i + j];
    let res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) res += a[start + i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return npSum(a, start, n2) + npSum(a, start + n2, n - n2);
}

/** `np.mean` (float64 input: the whole array is one pairwise reduction). */
export function npMean(a: ArrayLike<number>): number {
  return npSum(a) / a.length;
}

/** `np.average(a, weights=w)`: Σ a·w / Σ w. */
export function npAverage(a: ArrayLike<number>, w: ArrayLike<number>): number {
  return npSum(Array.from(a, (v, i) => v * w[i])) / npSum(w);
}
