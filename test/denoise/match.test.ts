import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeImage, resizeBilinear } from '../../src/image/index.js';
import { createRandom } from '../../src/util/random.js';
import { matchCells, type MatchOptions } from '../../src/denoise/match.js';

/**
 * matchCells as plain JS float64 loops (main's implementation before the wasm kernel): the kernel must give
 * its matches exactly, ties and all.
 */
function referenceMatch(pilot: Float32Array, n: number, h: number, w: number, opts: MatchOptions): { dy: Int8Array; dx: Int8Array } {
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

/** matchCells gives the reference's matches; else the first that differs is reported. */
function assertSameMatches(pilot: Float32Array, n: number, h: number, w: number, opts: MatchOptions, what: string): void {
  const got = matchCells(pilot, n, h, w, opts);
  const want = referenceMatch(pilot, n, h, w, opts);
  assert.equal(got.dy.length, n * (h / 2) * (w / 2) * opts.matches);
  for (let i = 0; i < want.dy.length; i++) {
    if (got.dy[i] !== want.dy[i] || got.dx[i] !== want.dx[i]) {
      assert.fail(`${what} ${n}×${h}×${w} ${JSON.stringify(opts)}: match ${i} is (${got.dy[i]}, ${got.dx[i]}), reference (${want.dy[i]}, ${want.dx[i]})`);
    }
  }
}

function noise(len: number, seed: number, quantised: boolean): Float32Array {
  const rng = createRandom(seed);
  const out = new Float32Array(len);
  // Quantised values make exact ties between candidates common (ties keep the earlier displacement).
  for (let i = 0; i < len; i++) out[i] = quantised ? Math.floor(rng.next() * 8) * 32 : rng.next() * 300 - 20;
  return out;
}

const CASES: [n: number, h: number, w: number, opts: MatchOptions][] = [
  [1, 32, 32, { matches: 4, patch: 6, radius: 6 }],
  [2, 12, 10, { matches: 4, patch: 4, radius: 3 }],
  [3, 20, 14, { matches: 7, patch: 8, radius: 5 }],
  [1, 30, 46, { matches: 16, patch: 2, radius: 1 }],
  [1, 16, 18, { matches: 2, patch: 32, radius: 32 }],
  [1, 40, 22, { matches: 5, patch: 10, radius: 9 }],
  // Fewer candidates than matches, and displacements that leave no cell in the image.
  [1, 2, 2, { matches: 4, patch: 6, radius: 6 }],
  [2, 4, 6, { matches: 16, patch: 2, radius: 1 }],
  [1, 2, 8, { matches: 3, patch: 4, radius: 2 }],
  // One match: no matching at all.
  [1, 8, 8, { matches: 1, patch: 6, radius: 6 }],
];

test('block matching equals the JS reference exactly on random images (sizes, patch, radius, matches, ties)', () => {
  CASES.forEach(([n, h, w, opts], c) => {
    for (const quantised of [false, true]) assertSameMatches(noise(n * h * w * 3, 10 + c, quantised), n, h, w, opts, quantised ? 'quantised' : 'random');
  });
});

// ../shared beside the repository (dist/test/denoise → repository root is three levels up).
const FACE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../shared/data/faces14/Drew_Barrymore/004.png');
test('block matching equals the JS reference exactly on a face at 150 px, flat regions included', { skip: !existsSync(FACE) }, async () => {
  const face = resizeBilinear(await decodeImage(FACE), 150, 150);
  // A flat band (many exact ties) pasted over the face.
  const flat = face.data.slice();
  flat.fill(128, 0, 20 * 150 * 3);
  const both = new Float32Array(2 * face.data.length);
  both.set(face.data);
  both.set(flat, face.data.length);
  assertSameMatches(both, 2, 150, 150, { matches: 4, patch: 6, radius: 6 }, 'faces');
  assertSameMatches(face.data, 1, 150, 150, { matches: 8, patch: 8, radius: 4 }, 'face');
});
