/**
 * A frozen 2-D convolution (NCHW, square filter, TF.js 'same'/'valid' padding) in an ONNX graph (its input
 * gradient comes from the differentiator, engine/onnx/autodiff).
 */
import type { OnnxGraph } from './graph.js';

/** A conv's constants: HWIO filter (TF.js layout) and bias. */
export interface ConvWeights {
  filter: Float32Array;
  /** [kh, kw, in, out] */
  shape: [number, number, number, number];
  bias: Float32Array;
}

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
