/**
 * The two gradient constructions shared by the regular and depthwise convolution kernels.
 *
 * Input gradient: for stride s, the rows of dx fall into s phases (by (h + padTop) mod s); each phase is an
 * ordinary stride-1 correlation of dy with a flipped sub-filter holding every s-th tap. So dx is s_h·s_w
 * small forward convolutions (XNNPACK) interleaved, with no multiply spent on inserted zeros; or, for thin
 * dx, all phases fused into one convolution with s_h·s_w times the output channels and a pixel shuffle.
 *
 * Filter gradient: dW[i,j,c,o] = Σ_n,y,x x[n, y·s + i·d − p, x·s + j·d − p, c] · dy[n, y, x, o] is itself a
 * forward convolution: of x with its batch moved into the channels, by dy (spatial dims as taps) dilated by
 * the forward stride s, stepping by the forward dilation d. The reduction over n·OH·OW lands in XNNPACK's
 * GEMM instead of a JS loop.
 */
import type { backend_util, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { alloc, filterRef, forwardConv, heapF32, release, transpose, window4d, type FilterRef, type Pads, type Shape4 } from './wasm_util.js';

/** One phase along one spatial axis. */
export interface Phase {
  /** First dx index of this phase; then every s-th. */
  first: number;
  /** Number of dx indices in this phase. */
  count: number;
  /** Effective-filter tap offsets of the phase's sub-filter, in correlation (flipped) order; −1: a zero tap. */
  taps: number[];
  /** Pads of dy for the stride-1 correlation (may be negative: dy then has to be cropped). */
  before: number;
  after: number;
}

/**
 * The s phases of one axis. inSize: dx length; outSize: dy length; k: effective (dilated) filter length;
 * padBefore: the forward convolution's leading pad.
 */
export function phases(inSize: number, outSize: number, k: number, s: number, padBefore: number): Phase[] {
  const result: Phase[] = [];
  for (let a = 0; a < s; a++) {
    const first = (((a - padBefore) % s) + s) % s;
    const count = first < inSize ? Math.floor((inSize - 1 - first) / s) + 1 : 0;
    const nTaps = a < k ? Math.ceil((k - a) / s) : 0;
    const taps = Array.from({ length: nTaps }, (_, t) => a + s * (nTaps - 1 - t));
    const qFirst = (first + padBefore - a) / s; // dy index whose tap `a` lands on dx[first]
    const before = nTaps - 1 - qFirst;
    result.push({ first, count, taps, before, after: count - 1 + nTaps - outSize - before });
  }
  return result;
}

/** A phase's sub-filter ([taps.h, taps.w, dyChannels, dxChannels], or [.., C, 1] for depthwise); owned by the caller. */
export type PhaseFilterBuilder = (rowTaps: number[], colTaps: number[]) => FilterRef;

export interface BackpropInputGeometry {
  inShape: Shape4;
  /** Effective (dilated) filter size. */
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
}

/** dx from dy by phase convolutions; `depthwise` picks the XNNPACK kernel the sub-filters are built for. */
export function backpropInputByPhases(
  backend: BackendWasm,
  dy: TensorInfo,
  g: BackpropInputGeometry,
  depthwise: boolean,
  buildFilter: PhaseFilterBuilder,
): TensorInfo {
  const [, inH, inW] = g.inShape;
  const [, outH, outW] = dy.shape as Shape4;
  const rows = phases(inH, outH, g.filterHeight, g.strideHeight, g.padTop);
  const cols = phases(inW, outW, g.filterWidth, g.strideWidth, g.padLeft);
  if (rows.length === 1 && cols.length === 1) {
    const whole = phaseConv(backend, dy, rows[0], cols[0], depthwise, buildFilter);
    if (whole) return whole;
  }
  const dx = alloc(backend, g.inShape);
  const nonEmpty = rows.flatMap((r) => cols.map((c) => [r, c] as const)).filter(([r, c]) => r.count > 0 && c.count > 0);
  const parts = nonEmpty.map(([r, c]) => ({ r, c, part: phaseConv(backend, dy, r, c, depthwise, buildFilter) }));
  // Phases no tap reaches (e.g. a 1×1 filter with stride 2) have gradient 0.
  if (parts.some((p) => p.part === undefined)) heapF32(backend, dx).fill(0);
  for (const { r, c, part } of parts) {
    if (part === undefined) continue;
    scatterPhase(backend, dx, part, r.first, c.first, g.strideHeight, g.strideWidth);
    release(backend, part);
  }
  return dx;
}

/**
 * The fused ("sub-pixel") form of the same computation: one stride-1 correlation whose filter holds every
 * phase's sub-filter side by side in the output channels ([T_h, T_w, dyC, s_h·s_w·C], T = ceil(k/s), absent
 * taps zero), then a pixel shuffle into dx. It multiplies some zeros when k is not a multiple of s, but one
 * GEMM with s²× more output channels beats s² thin ones when dx has few channels (the RGB input layer).
 * `buildFilter(T_h, T_w)` builds that filter for tap offset e = a + s·(T − 1 − t) of phase a at position t.
 */
export function backpropInputFused(
  backend: BackendWasm,
  dy: TensorInfo,
  g: BackpropInputGeometry,
  buildFilter: (tapsH: number, tapsW: number) => FilterRef,
): TensorInfo {
  const [n, inH, inW, ch] = g.inShape;
  const [, outH, outW] = dy.shape as Shape4;
  const sh = g.strideHeight, sw = g.strideWidth;
  const rows = fusedAxis(inH, outH, g.filterHeight, sh, g.padTop);
  const cols = fusedAxis(inW, outW, g.filterWidth, sw, g.padLeft);
  const dx = alloc(backend, g.inShape);
  const out = correlate(backend, dy, rows, cols, () => buildFilter(rows.taps, cols.taps), false);
  if (out === undefined) {
    heapF32(backend, dx).fill(0);
    return dx;
  }
  // Pixel shuffle: out[n, u, v, (a·s_w + b)·C + c] → dx[n, s_h(u + qLo_h) + a − padTop, s_w(v + qLo_w) + b − padLeft, c].
  const dst = heapF32(backend, dx);
  const src = heapF32(backend, out);
  const phaseCh = sh * sw * ch;
  for (let bt = 0; bt < n; bt++) {
    for (let u = 0; u < rows.count; u++) {
      for (let a = 0; a < sh; a++) {
        const y = sh * (u + rows.qLo) + a - g.padTop;
        if (y < 0 || y >= inH) continue;
        for (let v = 0; v < cols.count; v++) {
          const s0 = ((bt * rows.count + u) * cols.count + v) * phaseCh + a * sw * ch;
          for (let b = 0; b < sw; b++) {
            const x = sw * (v + cols.qLo) + b - g.padLeft;
            if (x < 0 || x >= inW) continue;
            const d = ((bt * inH + y) * inW + x) * ch;
            const s = s0 + b * ch;
            for (let c = 0; c < ch; c++) dst[d + c] = src[s + c];
          }
        }
      }
    }
  }
  release(backend, out);
  return dx;
}

/** Geometry of one axis of the fused form: taps per phase, first correlation index, count, dy pads. */
function fusedAxis(inSize: number, outSize: number, k: number, s: number, padBefore: number) {
  const taps = Math.ceil(k / s);
  const qLo = Math.floor(padBefore / s);
  const count = Math.floor((inSize - 1 + padBefore) / s) - qLo + 1;
  const before = taps - 1 - qLo;
  return { taps, qLo, count, before, after: count - 1 + taps - outSize - before };
}

/** One phase's stride-1 correlation, shaped [N, r.count, c.count, C]; undefined when it is all zeros. */
function phaseConv(
  backend: BackendWasm,
  dy: TensorInfo,
  r: Phase,
  c: Phase,
  depthwise: boolean,
  buildFilter: PhaseFilterBuilder,
): TensorInfo | undefined {
  if (r.taps.length === 0 || c.taps.length === 0) return undefined;
  if (depthwise) {
    const size = depthwiseSquare(Math.max(r.taps.length, c.taps.length));
    r = withLeadingZeroTaps(r, size);
    c = withLeadingZeroTaps(c, size);
  }
  return correlate(backend, dy, r, c, () => buildFilter(r.taps, c.taps), depthwise);
}

/**
 * Stride-1 correlation of dy with the given row/column pads. Negative pads mean those dy rows/columns are
 * never read (only with pads ≥ the filter): dy is cropped. Undefined when no dy value is read at all.
 */
function correlate(
  backend: BackendWasm,
  dy: TensorInfo,
  rows: { before: number; after: number },
  cols: { before: number; after: number },
  filter: () => FilterRef,
  depthwise: boolean,
): TensorInfo | undefined {
  const [, outH, outW] = dy.shape as Shape4;
  const crop = { top: Math.max(0, -rows.before), bottom: Math.max(0, -rows.after), left: Math.max(0, -cols.before), right: Math.max(0, -cols.after) };
  const h = outH - crop.top - crop.bottom, w = outW - crop.left - crop.right;
  if (h <= 0 || w <= 0) return undefined;
  const cropped = crop.top + crop.bottom + crop.left + crop.right > 0;
  const input = cropped ? window4d(backend, dy, crop.top, crop.left, h, w) : dy;
  const pads: Pads = { top: Math.max(0, rows.before), bottom: Math.max(0, rows.after), left: Math.max(0, cols.before), right: Math.max(0, cols.after) };
  const out = forwardConv(backend, input, filter(), pads, [1, 1], [1, 1], depthwise);
  if (cropped) release(backend, input);
  return out;
}

/**
 * XNNPACK has fast depthwise kernels for 1, 4, 9 and 25 taps only (a 2×1 filter measured 15× slower than a
 * 2×2 one): phase sub-filters are padded with zero taps to the next square of these sizes.
 */
function depthwiseSquare(taps: number): number {
  return taps <= 3 ? taps : taps <= 5 ? 5 : taps;
}

/** The phase with zero taps prepended up to `size` taps (each one reads one more row of leading pad). */
function withLeadingZeroTaps(p: Phase, size: number): Phase {
  const extra = size - p.taps.length;
  if (extra <= 0) return p;
  return { ...p, taps: [...new Array<number>(extra).fill(-1), ...p.taps], before: p.before + extra };
}

/** dx[n, h0 + t·sh, w0 + u·sw, :] = part[n, t, u, :]. */
function scatterPhase(backend: BackendWasm, dx: TensorInfo, part: TensorInfo, h0: number, w0: number, sh: number, sw: number): void {
  const [n, inH, inW, ch] = dx.shape as Shape4;
  const [, ph, pw] = part.shape as Shape4;
  const step = sw * ch;
  if (ch >= COPY_WITHIN_MIN) {
    // Pixel runs are long enough for native memmove within the heap to beat an element loop.
    const heap = new Float32Array(backend.wasm.HEAPU8.buffer);
    const dBase = backend.getMemoryOffset(dx.dataId) / 4;
    let s = backend.getMemoryOffset(part.dataId) / 4;
    for (let b = 0; b < n; b++) {
      for (let t = 0; t < ph; t++) {
        let d = dBase + ((b * inH + h0 + t * sh) * inW + w0) * ch;
        for (let u = 0; u < pw; u++, d += step, s += ch) heap.copyWithin(d, s, s + ch);
      }
    }
    return;
  }
  const dst = heapF32(backend, dx);
  const src = heapF32(backend, part);
  let s = 0;
  for (let b = 0; b < n; b++) {
    for (let t = 0; t < ph; t++) {
      let d = ((b * inH + h0 + t * sh) * inW + w0) * ch;
      for (let u = 0; u < pw; u++, d += step) {
        for (let k = 0; k < ch; k++) dst[d + k] = src[s++];
      }
    }
  }
}

const COPY_WITHIN_MIN = 16;

export interface BackpropFilterGeometry {
  /** Forward input x [N, H, W, C] and output gradient dy [N, OH, OW, ·]. */
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  padTop: number;
  padLeft: number;
}

/** The filter-gradient geometry of a forward convolution (regular or depthwise). */
export function filterGeometryOf(info: backend_util.Conv2DInfo): BackpropFilterGeometry {
  return {
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    dilationHeight: info.dilationHeight,
    dilationWidth: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/**
 * Pads for the filter-gradient convolution of an input of size `inSize` by a dy of size `outSize` taps
 * dilated by s, stepping by d, so that it yields at least k outputs. Returns [before, after, outputs].
 */
export function filterGradPads(inSize: number, outSize: number, k: number, s: number, d: number, padBefore: number): [number, number, number] {
  const after = Math.max(0, (k - 1) * d + (outSize - 1) * s + 1 - inSize - padBefore);
  const outputs = Math.floor((inSize + padBefore + after - ((outSize - 1) * s + 1)) / d) + 1;
  return [padBefore, after, outputs];
}

/**
 * Regular convolution filter gradient: conv of xᵀ [C, H, W, N] by dyᵀ [OH, OW, N, O] (dilation s) gives
 * R [C, ≥kh, ≥kw, O]; dW[i, j, c, o] = R[c, i, j, o]. Done over chunks of dy rows, summed: XNNPACK re-reads
 * its packed filter (here dy) once per output tile, and a dy of megabytes then streams from memory; chunks of
 * ~256 KB measured 2.2× faster on the 7×7/2 RGB layer ([32,150,150,3]) and up to 8% on 3×3 layers.
 */
export function conv2dBackpropFilter(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, g: BackpropFilterGeometry): TensorInfo {
  const [n, , inW, inC] = x.shape as Shape4;
  const [, outH, outW, outC] = dy.shape as Shape4;
  const kh = g.filterHeight, kw = g.filterWidth, sh = g.strideHeight;
  const [left, right, rW] = filterGradPads(inW, outW, kw, g.strideWidth, 1, g.padLeft);
  const xT = transpose(backend, x, [3, 1, 2, 0]);
  const dyT = transpose(backend, dy, [1, 2, 0, 3]);
  const rowSize = outW * n * outC;
  const chunkRows = Math.max(1, Math.min(outH, Math.floor(FILTER_GRAD_CHUNK_FLOATS / rowSize)));
  const dw = alloc(backend, [kh, kw, inC, outC]);
  heapF32(backend, dw).fill(0);
  for (let y0 = 0; y0 < outH; y0 += chunkRows) {
    const rows = Math.min(chunkRows, outH - y0);
    const whole = rows === outH;
    // The x rows these dy rows see (y·s + i − padTop), zero outside x; the whole xᵀ (with its pads) if one chunk.
    const xRows = whole ? xT : window4d(backend, xT, y0 * sh - g.padTop, 0, (rows - 1) * sh + kh, inW);
    let dyRows = dyT;
    if (!whole) {
      dyRows = alloc(backend, [rows, outW, n, outC]);
      heapF32(backend, dyRows).set(heapF32(backend, dyT).subarray(y0 * rowSize, (y0 + rows) * rowSize));
    }
    const [top, bottom, rH] = filterGradPads(xRows.shape[1], rows, kh, sh, 1, whole ? g.padTop : 0);
    const r = forwardConv(backend, xRows, filterRef(backend, dyRows), { top, bottom, left, right }, [1, 1], [sh, g.strideWidth], false);
    const dst = heapF32(backend, dw);
    const src = heapF32(backend, r);
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        for (let c = 0; c < inC; c++) {
          const s = ((c * rH + i) * rW + j) * outC;
          const d = ((i * kw + j) * inC + c) * outC;
          for (let o = 0; o < outC; o++) dst[d + o] += src[s + o];
        }
      }
    }
    release(backend, r);
    if (!whole) release(backend, xRows, dyRows);
  }
  release(backend, xT, dyT);
  return dw;
}

const FILTER_GRAD_CHUNK_FLOATS = 65536;

/**
 * Depthwise filter gradient: (n, c) pairs become the channels of one image xᵀ [1, H, W, N·C]; dy, as
 * [OH, OW, N·C, m], is its depthwise filter (dilation s, stride d); the result [1, ≥kh, ≥kw, N·C·m] is
 * summed over n.
 */
export function depthwiseBackpropFilter(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, g: BackpropFilterGeometry): TensorInfo {
  const [n, inH, inW, inC] = x.shape as Shape4;
  const [, outH, outW, outC] = dy.shape as Shape4;
  const m = outC / inC;
  const [top, bottom] = filterGradPads(inH, outH, g.filterHeight, g.strideHeight, g.dilationHeight, g.padTop);
  const [left, right, rW] = filterGradPads(inW, outW, g.filterWidth, g.strideWidth, g.dilationWidth, g.padLeft);
  const xT = transpose(backend, x, [1, 2, 0, 3]);
  const dyT = transpose(backend, dy, [1, 2, 0, 3]);
  const r = forwardConv(
    backend,
    { ...xT, shape: [1, inH, inW, n * inC] },
    filterRef(backend, { ...dyT, shape: [outH, outW, n * inC, m] }),
    { top, bottom, left, right },
    [g.dilationHeight, g.dilationWidth],
    [g.strideHeight, g.strideWidth],
    true,
  );
  release(backend, xT, dyT);
  const kh = g.filterHeight, kw = g.filterWidth;
  const dw = alloc(backend, [kh, kw, inC, m]);
  const dst = heapF32(backend, dw);
  const src = heapF32(backend, r);
  dst.fill(0);
  const perTap = inC * m;
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const d = (i * kw + j) * perTap;
      const s0 = (i * rW + j) * n * perTap;
      for (let b = 0; b < n; b++) {
        const s = s0 + b * perTap;
        for (let k = 0; k < perTap; k++) dst[d + k] += src[s + k];
      }
    }
  }
  release(backend, r);
  return dw;
}
