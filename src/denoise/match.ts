/**
 * Block matching on the pilot estimate, in plain typed arrays.
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
 * dependency per pixel): 1.5–1.8× faster per face in V8; separable sums with a short inner loop per cell
 * instead of running sums were barely faster than the table (the time was there, not in the differences),
 * and a contiguous array of each cell's worst kept distance for the rejection test gained nothing. Both
 * round differently from the table, so near-ties between candidates (at float rounding) can flip.
 */
import { mapImageRanges } from '../engine/pool/js-pool.js';
import type { TaskRef } from '../engine/pool/pool.js';

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
  const luma = new Float32Array(ph * pw);
  const qw = w2 + b - 1; // cells of the region the windows cover (the image and a pixels around it)
  const qh = h2 + b - 1;
  const nd = 2 * r + 1; // horizontal displacements
  const qcells = qh * qw;
  const q = new Float64Array(qcells * nd); // [horizontal displacement][region cell]
  const rows = new Float64Array(qh * w2);
  const cols = new Float64Array(w2);
  const kk = k - 1;
  const bestD = new Float64Array(cells * kk);
  const bestY = new Int8Array(cells * kk);
  const bestX = new Int8Array(cells * kk);

  for (let img = 0; img < n; img++) {
    // Edge-replicated luma, so windows that reach past the border are defined.
    const base = img * h * w * 3;
    for (let y = 0; y < ph; y++) {
      const sy = Math.min(h - 1, Math.max(0, y - m));
      for (let x = 0; x < pw; x++) {
        const sx = Math.min(w - 1, Math.max(0, x - m));
        const p = base + (sy * w + sx) * 3;
        luma[y * pw + x] = pilot[p] + pilot[p + 1] + pilot[p + 2];
      }
    }
    bestD.fill(Infinity);
    bestY.fill(0);
    bestX.fill(0);
    for (let dy = -r; dy <= r; dy++) {
      // Rows of cells whose displaced 2×2 cell stays inside the image.
      const gy0 = Math.max(0, Math.ceil(-dy / 2));
      const gy1 = Math.min(h2 - 1, Math.floor((h - 2 - dy) / 2));
      if (gy0 > gy1) continue;
      // Squared differences between the luma and its displaced copy, summed per 2×2 cell of the region
      // (region cell (i, j) = pixels (2i − a …, 2j − a …)), for all horizontal displacements at once: a cell's
      // reference pixels are loaded once and the displaced columns slide (2 loads per displacement, not 8).
      for (let i = gy0; i < gy1 + b; i++) {
        const r0 = (2 * i + r) * pw + r;
        const r1 = r0 + pw;
        const s0 = r0 + dy * pw - r;
        const s1 = s0 + pw;
        for (let j = 0; j < qw; j++) {
          const c = 2 * j;
          const a0 = luma[r0 + c];
          const a1 = luma[r0 + c + 1];
          const a2 = luma[r1 + c];
          const a3 = luma[r1 + c + 1];
          let t0 = luma[s0 + c];
          let u0 = luma[s1 + c];
          const o = i * qw + j;
          for (let e = 0; e < nd; e++) {
            const t1 = luma[s0 + c + e + 1];
            const u1 = luma[s1 + c + e + 1];
            const d0 = a0 - t0;
            const d1 = a1 - t1;
            const d2 = a2 - u0;
            const d3 = a3 - u1;
            q[e * qcells + o] = d0 * d0 + d1 * d1 + d2 * d2 + d3 * d3;
            t0 = t1;
            u0 = u1;
          }
        }
      }
      for (let e = 0; e < nd; e++) {
        const dx = e - r;
        if (dy === 0 && dx === 0) continue;
        const gx0 = Math.max(0, Math.ceil(-dx / 2));
        const gx1 = Math.min(w2 - 1, Math.floor((w - 2 - dx) / 2));
        // A window is b×b cells: separable running sums (one add and one subtract per cell and direction).
        for (let i = gy0; i < gy1 + b; i++) {
          const o = e * qcells + i * qw;
          const ro = i * w2;
          let sum = 0;
          for (let t = 0; t < b; t++) sum += q[o + gx0 + t];
          rows[ro + gx0] = sum;
          for (let gx = gx0 + 1; gx <= gx1; gx++) {
            sum += q[o + gx + b - 1] - q[o + gx - 1];
            rows[ro + gx] = sum;
          }
        }
        for (let gx = gx0; gx <= gx1; gx++) {
          let sum = 0;
          for (let t = 0; t < b; t++) sum += rows[(gy0 + t) * w2 + gx];
          cols[gx] = sum;
        }
        for (let gy = gy0; gy <= gy1; gy++) {
          const next = (gy + b) * w2;
          const drop = gy * w2;
          for (let gx = gx0; gx <= gx1; gx++) {
            const dist = cols[gx];
            if (gy < gy1) cols[gx] = dist + rows[next + gx] - rows[drop + gx];
            const o = (gy * w2 + gx) * kk;
            if (dist >= bestD[o + kk - 1]) continue;
            // Insertion into the sorted short list; ties keep the earlier displacement.
            let i = kk - 1;
            while (i > 0 && bestD[o + i - 1] > dist) {
              bestD[o + i] = bestD[o + i - 1];
              bestY[o + i] = bestY[o + i - 1];
              bestX[o + i] = bestX[o + i - 1];
              i--;
            }
            bestD[o + i] = dist;
            bestY[o + i] = dy;
            bestX[o + i] = dx;
          }
        }
      }
    }
    // Tiny images can have fewer candidates than matches: the unfilled slots repeat the reference (0, 0).
    const out = img * cells * k;
    for (let c = 0; c < cells; c++) {
      for (let j = 1; j < k; j++) {
        const b = c * kk + j - 1;
        const ok = bestD[b] !== Infinity;
        dyOut[out + c * k + j] = ok ? bestY[b] : 0;
        dxOut[out + c * k + j] = ok ? bestX[b] : 0;
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
