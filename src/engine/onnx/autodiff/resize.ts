/**
 * Resize (nearest / linear) over the last two axes. Each resized axis is a constant interpolation matrix A
 * [out, in] (built here with ONNX's coordinate transforms), so the gradient is Aᵀ applied on that axis: a MatMul.
 */
import { nodeError, numeric, type Info, type Node, type OpRule } from './rule.js';
import type { Emitter } from './emitter.js';

interface Plan {
  /** Output size per axis. */
  shape: (number | string)[];
  /** Per resized axis: its index, sizes and the scale ONNX's coordinate transform uses. */
  axes: { axis: number; inSize: number; outSize: number; scale: number }[];
}

function plan(n: Node, ins: (Info | undefined)[]): Plan {
  const x = ins[0]!;
  const rank = x.shape.length;
  if (n.attrs.i('antialias', 0) !== 0 || n.attrs.ints('axes')) throw nodeError(n, 'antialias and axes are not supported');
  const sizes = n.inputs[3] && ins[3]?.value?.length ? Array.from(ins[3].value).map(Number) : undefined;
  const scales = !sizes && n.inputs[2] && ins[2]?.value?.length ? Array.from(ins[2].value).map(Number) : undefined;
  if (!sizes && !scales) throw nodeError(n, 'scales or sizes must be constants');
  const shape = [...x.shape];
  const axes: Plan['axes'] = [];
  for (let i = 0; i < rank; i++) {
    const d = x.shape[i];
    const scale = scales ? scales[i] : numeric(d) ? sizes![i] / d : 1;
    const out = sizes ? sizes[i] : numeric(d) ? Math.floor(d * scale) : d;
    if (out === d && scale === 1) continue;
    if (i < rank - 2 || !numeric(d)) throw nodeError(n, `only the last two axes may be resized, got [${x.shape}] → scale ${scale} on axis ${i}`);
    shape[i] = out;
    axes.push({ axis: i, inSize: d, outSize: out as number, scale });
  }
  return { shape, axes };
}

/** The source coordinate of output index o (ONNX coordinate_transformation_mode). */
function source(n: Node, o: number, inSize: number, outSize: number, scale: number): number {
  const mode = n.attrs.s('coordinate_transformation_mode', 'half_pixel');
  if (mode === 'half_pixel') return (o + 0.5) / scale - 0.5;
  if (mode === 'pytorch_half_pixel') return outSize > 1 ? (o + 0.5) / scale - 0.5 : 0;
  if (mode === 'align_corners') return outSize === 1 ? 0 : (o * (inSize - 1)) / (outSize - 1);
  if (mode === 'asymmetric') return o / scale;
  if (mode === 'tf_half_pixel_for_nn') return (o + 0.5) / scale;
  throw nodeError(n, `coordinate_transformation_mode '${mode}' is not supported`);
}

function nearestIndex(n: Node, c: number): number {
  const mode = n.attrs.s('nearest_mode', 'round_prefer_floor');
  const frac = c - Math.floor(c);
  if (mode === 'floor') return Math.floor(c);
  if (mode === 'ceil') return Math.ceil(c);
  if (frac === 0.5) return mode === 'round_prefer_ceil' ? Math.ceil(c) : Math.floor(c);
  return Math.round(c);
}

/** The interpolation matrix [out, in] of one axis. */
function matrix(n: Node, inSize: number, outSize: number, scale: number): Float64Array {
  const mode = n.attrs.s('mode', 'nearest');
  const a = new Float64Array(outSize * inSize);
  for (let o = 0; o < outSize; o++) {
    const src = source(n, o, inSize, outSize, scale);
    if (mode === 'nearest') {
      a[o * inSize + Math.min(Math.max(nearestIndex(n, src), 0), inSize - 1)] = 1;
    } else if (mode === 'linear') {
      const c = Math.min(Math.max(src, 0), inSize - 1);
      const i0 = Math.floor(c);
      const i1 = Math.min(i0 + 1, inSize - 1);
      a[o * inSize + i0] += 1 - (c - i0);
      a[o * inSize + i1] += c - i0;
    } else throw nodeError(n, `mode '${mode}' is not supported (nearest, linear)`);
  }
  return a;
}

function transposed(a: Float64Array, rows: number, cols: number): Float64Array {
  const t = new Float64Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}

export const resizeRules: Record<string, OpRule> = {
  Resize: {
    infer: (n, ins) => [{ type: ins[0]!.type, shape: plan(n, ins).shape }],
    grad: (n, [g], e: Emitter) => {
      if (!g) return [];
      const ins = n.inputs.map((i) => (i ? e.info(i) : undefined));
      const x = ins[0]!;
      let d = g;
      for (const { axis, inSize, outSize, scale } of plan(n, ins).axes) {
        const a = matrix(n, inSize, outSize, scale);
        d = axis === x.shape.length - 1
          ? e.op('MatMul', [d, e.constant(a, [outSize, inSize], x.type)])
          : e.op('MatMul', [e.constant(transposed(a, outSize, inSize), [inSize, outSize], x.type), d]);
      }
      return [d];
    },
  },
};
