/**
 * Block matching on the pilot estimate: typed arrays, the passes over them a wasm kernel (match-kernel.ts).
 *
 * Reference patches sit on the 2-pixel grid of the half-resolution networks: one reference per 2×2 pixel
 * cell, the `patch`×`patch` window centred on that cell (patch 6, stride 2: neighbouring references overlap
 * by two thirds). For each reference, every displacement in a (2·radius+1)² search window is scored by the
 * L2 distance between the displaced window and the reference window on the pilot's luma, and the
 * `matches − 1` closest displacements are kept after the reference itself (displacement 0, always first).
 *
 * Speed: the distances of *all* references for one displacement come from one pass over the image: squared
 * differences summed per 2×2 cell (all horizontal displacements of a cell row together, the reference pixels
 * loaded once), then the (patch/2)² cells of each window by separable running sums — O(H·W) per
 * displacement. Measured against the summed-area table it replaced (one float64 store and a carried
 * dependency per pixel): 1.5–1.8× faster per face in V8's JS; both round differently, so near-ties between
 * candidates (at float rounding) can flip. The wasm kernel does those JS loops' float64 operations in their
 * order, two lanes at a time, so its matches are theirs exactly (test/denoise/match.test.ts keeps the JS as
 * the reference): 3.4–3.9× faster per 150 px face (≈ 12.3 → 3.2–3.6 ms, interleaved, loaded machine). Insertion
 * into the kept lists is branch-free over both lanes' slots once either lane passes the rejection test (14 %
 * of candidates pass on faces); doing that for every candidate, with no test, was slower.
 */
import { mapImageRanges } from '../engine/pool/js-pool.js';
import type { TaskRef } from '../engine/pool/pool.js';
import { Arena } from '../util/wasm.js';
import { matchKernel } from './match-kernel.js';

export interface MatchOptions {
  /** Patches per group, the reference included (1 = no block matching). */
  matches: number;
  /** Side of the matching window in pixels (even, ≥ 2), centred on the 2×2 reference cell. */
  patch: number;
  /** Search radius in pixels: displacements in [−radius, radius]². */
  radius: number;
}

export const DEFAULT_MATCH: MatchOptions = { matches: 4, patch: 6, radius: 6 };

export function checkMatchOptions(o: MatchOptions, what = 'block matching'): void {
  if (!Number.isInteger(o.matches) || o.matches < 1 || o.matches > 16) throw new Error(`${what}: matches must be an integer in [1, 16], got ${o.matches}`);
  if (!Number.isInteger(o.patch) || o.patch < 2 || o.patch % 2 !== 0 || o.patch > 32) throw new Error(`${what}: patch must be an even integer in [2, 32], got ${o.patch}`);
  if (!Number.isInteger(o.radius) || o.radius < 1 || o.radius > 32) throw new Error(`${what}: radius must be an integer in [1, 32], got ${o.radius}`);
}

/**
 * The matched displacements of every reference cell: `dy`, `dx` of length n·(h/2)·(w/2)·matches, laid out
 * [image][cell row][cell col][match]; match 0 is always (0, 0). Displacements keep the displaced 2×2 cell
 * inside the image. `pilot` is NHWC RGB (any scale), h and w even.
 */
export function matchCells(pilot: Float32Array, n: number, h: number, w: number, opts: MatchOptions): { dy: Int8Array; dx: Int8Array } {
  checkMatchOptions(opts);
  if (h % 2 !== 0 || w % 2 !== 0) throw new Error(`block matching: image sides must be even, got ${h}×${w}`);
  if (pilot.length !== n * h * w * 3) throw new Error(`block matching: ${pilot.length} values for ${n}×${h}×${w}×3`);
  const { matches: k, patch, radius: r } = opts;
  const h2 = h / 2;
  const w2 = w / 2;
  const cells = h2 * w2;
  const dyOut = new Int8Array(n * cells * k);
  const dxOut = new Int8Array(n * cells * k);
  if (k === 1) return { dy: dyOut, dx: dxOut };

  const a = (patch - 2) / 2; // window rows above/left of the cell
  const b = patch / 2; // window side in 2×2 cells
  const m = a + r; // margin of the padded luma
  const pw = w + 2 * m;
  const ph = h + 2 * m;
  const qw = w2 + b - 1; // cells of the region the windows cover (the image and a pixels around it)
  const qh = h2 + b - 1;
  const nd = 2 * r + 1; // horizontal displacements
  const kk = k - 1;
  const rowStride = w2 + 1; // windows' lane 1 may read one column past the last cell
  const qBytes = nd * Math.ceil(qh / 2) * qw * 16;
  const planeStride = cells + 1; // the lists' lane 1 may read one cell past the last
  const arena = new Arena(ph * pw * 2 + qBytes / 8 + (qh + 2) * rowStride + 2 * kk * planeStride);
  const luma = arena.f64(ph * pw * 2); // [y][x][luma (y, x), luma (y + 2, x)]
  const q = arena.addr(arena.f64(qBytes / 8));
  const rows = arena.addr(arena.f64((qh + 1) * rowStride)); // [region row][cell column]
  const cols = arena.addr(arena.f64(rowStride));
  // Each cell's kept distances, sorted, and their displacements as (dy + r)·nd + dx + r: [slot][cell].
  const bestD = arena.f64(kk * planeStride);
  const bestI = arena.f64(kk * planeStride);
  const lumaAt = arena.addr(luma);
  const kernel = matchKernel(arena.memory);

  for (let img = 0; img < n; img++) {
    // Edge-replicated luma (float32 values), so windows that reach past the border are defined.
    const base = img * h * w * 3;
    for (let y = 0; y < ph; y++) {
      const sy = Math.min(h - 1, Math.max(0, y - m));
      for (let x = 0; x < pw; x++) {
        const sx = Math.min(w - 1, Math.max(0, x - m));
        const p = base + (sy * w + sx) * 3;
        const v = Math.fround(pilot[p] + pilot[p + 1] + pilot[p + 2]);
        luma[(y * pw + x) * 2] = v;
        if (y >= 2) luma[((y - 2) * pw + x) * 2 + 1] = v;
      }
    }
    bestD.fill(Infinity);
    for (let dy = -r; dy <= r; dy++) {
      // Rows of cells whose displaced 2×2 cell stays inside the image.
      const gy0 = Math.max(0, Math.ceil(-dy / 2));
      const gy1 = Math.min(h2 - 1, Math.floor((h - 2 - dy) / 2));
      if (gy0 > gy1) continue;
      // Region rows gy0 … gy1 + b − 1 in pairs (an odd count's last pair computes one row more, unused).
      const pairs = Math.ceil((gy1 + b - gy0) / 2);
      const estride = pairs * qw * 16;
      kernel.diffs(lumaAt + ((2 * gy0 + r) * pw + r) * 16, (dy * pw - r) * 16, pw * 16, qw, pairs, nd * 16, estride, q);
      for (let e = 0; e < nd; e++) {
        const dx = e - r;
        if (dy === 0 && dx === 0) continue;
        const gx0 = Math.max(0, Math.ceil(-dx / 2));
        const gx1 = Math.min(w2 - 1, Math.floor((w - 2 - dx) / 2));
        if (gx0 > gx1) continue;
        const rows0 = rows + gy0 * rowStride * 8;
        kernel.rowSums(q + e * estride, rows0, pairs, qw * 16, rowStride * 8, gx0, gx1, b * 16);
        kernel.windows(rows0, cols, rowStride * 8, b, gy0, gy1, gx0, gx1, w2, arena.addr(bestD), arena.addr(bestI), planeStride * 8, kk, (dy + r) * nd + e);
      }
    }
    // Tiny images can have fewer candidates than matches: the unfilled slots repeat the reference (0, 0).
    const out = img * cells * k;
    for (let c = 0; c < cells; c++) {
      for (let j = 1; j < k; j++) {
        const s = (j - 1) * planeStride + c;
        if (bestD[s] === Infinity) continue;
        dyOut[out + c * k + j] = Math.floor(bestI[s] / nd) - r;
        dxOut[out + c * k + j] = (bestI[s] % nd) - r;
      }
    }
  }
  return { dy: dyOut, dx: dxOut };
}

/**
 * Flat pixel indices that build the stacked image: for pixel (img, y, x) and match j, the index
 * img·h·w + y'·w + x' of the pixel at the same place in the j-th matched cell. Layout [img][y][x][j], so a
 * row gather of the [n·h·w, 3] image gives the [n, h, w, matches·3] stack directly.
 */
export function gatherIndices(cellsMatch: { dy: Int8Array; dx: Int8Array }, n: number, h: number, w: number, k: number): Int32Array {
  const { dy, dx } = cellsMatch;
  const h2 = h / 2;
  const w2 = w / 2;
  if (dy.length !== n * h2 * w2 * k) throw new Error(`gatherIndices: ${dy.length} displacements for ${n}×${h2}×${w2}×${k} cells`);
  const idx = new Int32Array(n * h * w * k);
  for (let img = 0; img < n; img++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const cell = ((img * h2 + (y >> 1)) * w2 + (x >> 1)) * k;
        const o = ((img * h + y) * w + x) * k;
        for (let j = 0; j < k; j++) idx[o + j] = img * h * w + (y + dy[cell + j]) * w + (x + dx[cell + j]);
      }
    }
  }
  return idx;
}

/** Block matching straight to gather indices. */
export function blockMatch(pilot: Float32Array, n: number, h: number, w: number, opts: MatchOptions): Int32Array {
  return gatherIndices(matchCells(pilot, n, h, w, opts), n, h, w, opts.matches);
}

interface MatchPart {
  pilot: Float32Array;
  n: number;
  h: number;
  w: number;
  opts: MatchOptions;
}

/** Worker task: the displacements of one range of images. */
export function matchCellsPart({ pilot, n, h, w, opts }: MatchPart): { dy: Int8Array; dx: Int8Array } {
  return matchCells(pilot, n, h, w, opts);
}

const MATCH_PART: TaskRef = { module: import.meta.url, name: 'matchCellsPart' };

/**
 * blockMatch with the images split over `threads` workers (every image is matched on its own, so the
 * indices are the same as inline).
 */
export async function blockMatchBatch(pilot: Float32Array, n: number, h: number, w: number, opts: MatchOptions, threads: number): Promise<Int32Array> {
  const size = h * w * 3;
  const part = (a: number, b: number): MatchPart => ({ pilot: pilot.slice(a * size, b * size), n: b - a, h, w, opts });
  const { results } = await mapImageRanges(n, threads, MATCH_PART, part, matchCellsPart);
  const join = (key: 'dy' | 'dx'): Int8Array => {
    const out = new Int8Array(results.reduce((s, r) => s + r[key].length, 0));
    let o = 0;
    for (const r of results) {
      out.set(r[key], o);
      o += r[key].length;
    }
    return out;
  };
  return gatherIndices(results.length === 1 ? results[0] : { dy: join('dy'), dx: join('dx') }, n, h, w, opts.matches);
}
