/**
 * A frozen 2-D convolution (NCHW, square filter, TF.js 'same'/'valid' padding) in an ONNX graph, with its input
 * gradient — what ORT cannot derive itself at inference time.
 */
import type { OnnxGraph } from './graph.js';

/** A conv's constants: HWIO filter (TF.js layout) and bias. */
export interface ConvWeights {
  filter: Float32Array;
  /** [kh, kw, in, out] */
  shape: [number, number, number, number];
  bias: Float32Array;
}

/**
 * How the input gradient is written: 'conv' = one forward Conv (polyphase for strides > 1, see
 * inputGradient), 'transpose' = ConvTranspose of the forward filter. 'conv' profiled faster in ORT 1.30's CPU
 * provider (its ConvTranspose is a GEMM + a single-threaded col2im).
 */
export type ConvGradMode = 'conv' | 'transpose';

/** Sizes along one spatial axis (both axes are the same: square inputs and filters). */
export interface ConvGeometry {
  k: number;
  stride: number;
  /** Padding before / after (TF 'same' puts the odd one after). */
  p0: number;
  p1: number;
  inSize: number;
  outSize: number;
}

export function convGeometry(inSize: number, k: number, stride: number, pad: 'same' | 'valid'): ConvGeometry {
  const outSize = pad === 'same' ? Math.ceil(inSize / stride) : Math.floor((inSize - k) / stride) + 1;
  if (outSize < 1) throw new Error(`conv: a ${k}×${k} '${pad}' filter does not fit a ${inSize}×${inSize} input`);
  const total = pad === 'same' ? Math.max((outSize - 1) * stride + k - inSize, 0) : 0;
  const p0 = Math.floor(total / 2);
  return { k, stride, p0, p1: total - p0, inSize, outSize };
}

export class OnnxConv {
  readonly geometry: ConvGeometry;
  private filterName: string | undefined;

  constructor(
    private readonly g: OnnxGraph,
    private readonly w: ConvWeights,
    inSize: number,
    stride: number,
    pad: 'same' | 'valid',
  ) {
    const [kh, kw] = w.shape;
    if (kh !== kw) throw new Error(`conv: filter [${w.shape}] is not square`);
    this.geometry = convGeometry(inSize, kh, stride, pad);
  }

  get outChannels(): number {
    return this.w.shape[3];
  }

  /** conv + bias of x [N, in, inSize, inSize]. */
  forward(x: string): string {
    return this.g.op('Conv', [x, this.filter(), this.g.floats(this.w.bias, [this.outChannels])], this.attrs());
  }

  /** The gradient w.r.t. the conv's input of `dy`, the gradient w.r.t. its output (before any activation). */
  inputGradient(dy: string, mode: ConvGradMode): string {
    const { k, stride, p0, p1, inSize, outSize } = this.geometry;
    if (mode === 'transpose') {
      const outPad = inSize - ((outSize - 1) * stride + k - p0 - p1);
      return this.g.op('ConvTranspose', [dy, this.filter()], { ...this.attrs(), output_padding: { ints: [outPad, outPad] } });
    }
    return this.polyphaseGradient(dy);
  }

  /**
   * Row j = s·q + r of the padded input (phase r) only meets filter taps t ≡ r (mod s): each of the s² phases
   * is a stride-1 correlation of dy with a flipped sub-filter of ⌈k/s⌉ taps. All phases are output channels of
   * one Conv, interleaved back into rows/columns by DepthToSpace, then cropped to the unpadded input. Stride 1
   * is the plain flipped-filter correlation (its crop folded into the padding).
   */
  private polyphaseGradient(dy: string): string {
    const g = this.g;
    const [, , ci, co] = this.w.shape;
    const { k, stride: s, p0, inSize, outSize } = this.geometry;
    const m = Math.ceil(k / s);
    const rows = s === 1 ? inSize : Math.ceil((inSize + p0) / s);
    const padBegin = s === 1 ? m - 1 - p0 : m - 1;
    const padEnd = rows - outSize - padBegin + m - 1;
    if (padBegin < 0 || padEnd < 0) throw new Error(`conv gradient: unsupported geometry ${JSON.stringify(this.geometry)}`);
    const filter = g.floats(polyphaseFilter(this.w, s, m), [s * s * ci, co, m, m]);
    const gx = g.op('Conv', [dy, filter], { kernel_shape: { ints: [m, m] }, pads: { ints: [padBegin, padBegin, padEnd, padEnd] } });
    if (s === 1) return gx;
    const interleaved = g.op('DepthToSpace', [gx], { blocksize: { i: s }, mode: { s: 'DCR' } });
    if (p0 === 0 && s * rows === inSize) return interleaved;
    return g.op('Slice', [interleaved, g.int64s([p0, p0]), g.int64s([p0 + inSize, p0 + inSize]), g.int64s([2, 3])]);
  }

  private filter(): string {
    const [k, , ci, co] = this.w.shape;
    this.filterName ??= this.g.floats(hwioToOihw(this.w), [co, ci, k, k]);
    return this.filterName;
  }

  private attrs() {
    const { k, stride, p0, p1 } = this.geometry;
    return { kernel_shape: { ints: [k, k] }, strides: { ints: [stride, stride] }, pads: { ints: [p0, p0, p1, p1] } };
  }
}

/** HWIO → OIHW (ONNX Conv's weight; also ConvTranspose's, whose input channels are the conv's outputs). */
function hwioToOihw(w: ConvWeights): Float32Array {
  const [kh, kw, ci, co] = w.shape;
  const out = new Float32Array(w.filter.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) out[((o * ci + i) * kh + y) * kw + x] = w.filter[((y * kw + x) * ci + i) * co + o];
  return out;
}

/**
 * The polyphase gradient filter, [s²·in, out, m, m]: output channel (ry·s + rx)·in + i holds, spatially
 * reversed, the taps w[s·a + ry][s·b + rx][i][·] (zero past the filter's edge).
 */
function polyphaseFilter(w: ConvWeights, s: number, m: number): Float32Array {
  const [k, , ci, co] = w.shape;
  const out = new Float32Array(s * s * ci * co * m * m);
  for (let ry = 0; ry < s; ry++)
    for (let rx = 0; rx < s; rx++)
      for (let my = 0; my < m; my++)
        for (let mx = 0; mx < m; mx++) {
          const [ty, tx] = [s * (m - 1 - my) + ry, s * (m - 1 - mx) + rx];
          if (ty >= k || tx >= k) continue;
          for (let i = 0; i < ci; i++)
            for (let o = 0; o < co; o++) out[((((ry * s + rx) * ci + i) * co + o) * m + my) * m + mx] = w.filter[((ty * k + tx) * ci + i) * co + o];
        }
  return out;
}
