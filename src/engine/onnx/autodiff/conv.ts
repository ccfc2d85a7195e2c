/**
 * Conv and ConvTranspose. The input gradient of a stride-1 Conv with a constant 2-D filter is the
 * flipped-filter Conv; every other Conv's is a ConvTranspose (whose input gradient is the matching Conv).
 * Measured on ORT 1.30 (`npm run bench -- --only pgd`'s graphs, one intra-op thread, as the PGD workers run
 * them): ConvTranspose beat a stride-phase decomposition (one Conv over the s² phases + DepthToSpace) by ≈ 5 %
 * on the face nets: the phases' sub-filters pad ⌈k/s⌉² taps (16 for a 3×3, 64 for the stem's 7×7), and two
 * intra-op threads gained nothing from the phases either.
 */
import { nodeError, staticShape, type Dim, type Info, type Node, type OpRule } from './rule.js';
import type { Emitter } from './emitter.js';

/** One spatial axis of a sliding window (conv or pool). */
export interface Axis {
  k: number;
  stride: number;
  dilation: number;
  /** Padding before / after. */
  p0: number;
  p1: number;
  inSize: number;
  outSize: number;
}

/** Window geometry per spatial axis, explicit pads resolved from auto_pad (ceil_mode for pools). */
export function windowAxes(n: Node, spatial: Dim[], kernel: number[]): Axis[] {
  const r = kernel.length;
  if (!spatial.every((d) => typeof d === 'number')) throw nodeError(n, `needs static spatial sizes, got [${spatial}]`);
  const strides = n.attrs.ints('strides') ?? Array(r).fill(1);
  const dilations = n.attrs.ints('dilations') ?? Array(r).fill(1);
  const pads = n.attrs.ints('pads') ?? Array(2 * r).fill(0);
  const autoPad = n.attrs.s('auto_pad', 'NOTSET');
  const ceil = n.attrs.i('ceil_mode', 0) === 1;
  return kernel.map((k, i) => {
    const inSize = spatial[i] as number;
    const [stride, dilation] = [strides[i], dilations[i]];
    const span = (k - 1) * dilation + 1;
    let [p0, p1] = [pads[i], pads[i + r]];
    if (autoPad === 'VALID') [p0, p1] = [0, 0];
    else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const total = Math.max((Math.ceil(inSize / stride) - 1) * stride + span - inSize, 0);
      const small = Math.floor(total / 2);
      [p0, p1] = autoPad === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
    } else if (autoPad !== 'NOTSET') throw nodeError(n, `auto_pad '${autoPad}' is not an ONNX value`);
    const room = inSize + p0 + p1 - span;
    let outSize = (ceil ? Math.ceil(room / stride) : Math.floor(room / stride)) + 1;
    // A ceil-mode window must start inside the input or its left padding.
    if (ceil && (outSize - 1) * stride >= inSize + p0) outSize--;
    if (outSize < 1) throw nodeError(n, `a window of ${span} does not fit a padded size ${inSize + p0 + p1}`);
    return { k, stride, dilation, p0, p1, inSize, outSize };
  });
}

function convAxes(n: Node, ins: (Info | undefined)[]): { axes: Axis[]; group: number; kernel: number[] } {
  const [x, w] = [ins[0]!, ins[1]!];
  const kernel = n.attrs.ints('kernel_shape') ?? staticShape(n, w, 'the filter').slice(2);
  return { axes: windowAxes(n, x.shape.slice(2), kernel), group: n.attrs.i('group', 1), kernel };
}

/** ConvTranspose's pads and output size per axis (output_shape / auto_pad resolved). */
function transposeAxes(n: Node, x: Info, kernel: number[]): Axis[] {
  const r = kernel.length;
  const spatial = staticShape(n, { ...x, shape: x.shape.slice(2) }, 'its input');
  const strides = n.attrs.ints('strides') ?? Array(r).fill(1);
  const dilations = n.attrs.ints('dilations') ?? Array(r).fill(1);
  const outPad = n.attrs.ints('output_padding') ?? Array(r).fill(0);
  const pads = n.attrs.ints('pads') ?? Array(2 * r).fill(0);
  const outShape = n.attrs.ints('output_shape');
  const autoPad = n.attrs.s('auto_pad', 'NOTSET');
  return kernel.map((k, i) => {
    const [inSize, stride, dilation] = [spatial[i], strides[i], dilations[i]];
    const span = (k - 1) * dilation + 1;
    let [p0, p1] = [pads[i], pads[i + r]];
    const want = outShape ? outShape[outShape.length - r + i] : autoPad.startsWith('SAME') ? inSize * stride : undefined;
    if (want !== undefined) {
      const total = stride * (inSize - 1) + outPad[i] + span - want;
      const small = Math.floor(total / 2);
      [p0, p1] = autoPad === 'SAME_LOWER' ? [total - small, small] : [small, total - small];
    } else if (autoPad === 'VALID') [p0, p1] = [0, 0];
    const outSize = stride * (inSize - 1) + outPad[i] + span - p0 - p1;
    return { k, stride, dilation, p0, p1, inSize, outSize };
  });
}

const spatialAttrs = (axes: Axis[], group: number) => ({
  strides: { ints: axes.map((a) => a.stride) },
  dilations: { ints: axes.map((a) => a.dilation) },
  group: { i: group },
});

/** A Conv's input gradient as a ConvTranspose (any geometry; end padding/output_padding restore the size). */
export function viaConvTranspose(g: string, w: string, axes: Axis[], group: number, e: Emitter): string {
  const ends: number[] = [];
  const outPad: number[] = [];
  for (const a of axes) {
    const natural = a.stride * (a.outSize - 1) + (a.k - 1) * a.dilation + 1 - a.p0;
    ends.push(Math.max(natural - a.inSize, 0));
    outPad.push(Math.max(a.inSize - natural, 0));
  }
  return e.op('ConvTranspose', [g, w], {
    ...spatialAttrs(axes, group),
    pads: { ints: [...axes.map((a) => a.p0), ...ends] },
    output_padding: { ints: outPad },
  });
}

/**
 * A stride-1 Conv's input gradient as a stride-1 correlation of dy with the flipped filter (input and output
 * channels swapped within each group), the crop of the forward padding folded into its own: a plain Conv,
 * which ORT runs in its blocked layout. Undefined when the geometry does not fit (padding wider than the filter).
 */
function flipped(g: string, w: ArrayLike<number>, wShape: number[], axes: Axis[], group: number, type: number, e: Emitter): string | undefined {
  const [M, Cg] = wShape;
  const C = Cg * group;
  const Mg = M / group;
  const pads = axes.map((a) => [a.k - 1 - a.p0, a.inSize - a.outSize + a.p0]);
  if (pads.some(([b, end]) => b < 0 || end < 0)) return undefined;
  const [kh, kw] = [axes[0].k, axes[1].k];
  const f = new Float64Array(C * Mg * kh * kw);
  for (let c = 0; c < C; c++) {
    const [grp, ci] = [Math.floor(c / Cg), c % Cg];
    for (let mo = 0; mo < Mg; mo++)
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++) f[((c * Mg + mo) * kh + y) * kw + x] = w[(((grp * Mg + mo) * Cg + ci) * kh + (kh - 1 - y)) * kw + (kw - 1 - x)];
  }
  const filter = e.constant(f, [C, Mg, kh, kw], type);
  return e.op('Conv', [g, filter], { kernel_shape: { ints: [kh, kw] }, pads: { ints: [pads[0][0], pads[1][0], pads[0][1], pads[1][1]] }, group: { i: group } });
}

const conv: OpRule = {
  infer: (n, ins) => {
    const [x, w] = [ins[0]!, ins[1]!];
    const { axes, group } = convAxes(n, ins);
    if (typeof x.shape[1] === 'number' && typeof w.shape[1] === 'number' && x.shape[1] !== w.shape[1] * group)
      throw nodeError(n, `input has ${x.shape[1]} channels, the filter [${w.shape}] with group ${group} takes ${Number(w.shape[1]) * group}`);
    return [{ type: x.type, shape: [x.shape[0], w.shape[0], ...axes.map((a) => a.outSize)] }];
  },
  grad: (n, [g], e, needs) => {
    if (!g) return [];
    if (needs[1] || needs[2]) throw nodeError(n, 'only the gradient w.r.t. its input is supported (its filter and bias must not depend on it)');
    const ins = n.inputs.map((i) => (i ? e.info(i) : undefined));
    const { axes, group } = convAxes(n, ins);
    const w = ins[1]!;
    const plain = axes.length === 2 && axes.every((a) => a.dilation === 1 && a.stride === 1);
    const fast = plain && w.value ? flipped(g, w.value as ArrayLike<number>, w.shape as number[], axes, group, ins[0]!.type, e) : undefined;
    return [fast ?? viaConvTranspose(g, n.inputs[1], axes, group, e)];
  },
};

const convTranspose: OpRule = {
  infer: (n, ins) => {
    const [x, w] = [ins[0]!, ins[1]!];
    const kernel = n.attrs.ints('kernel_shape') ?? staticShape(n, w, 'the filter').slice(2);
    const group = n.attrs.i('group', 1);
    const axes = transposeAxes(n, x, kernel);
    return [{ type: x.type, shape: [x.shape[0], Number(w.shape[1]) * group, ...axes.map((a) => a.outSize)] }];
  },
  grad: (n, [g], e, needs) => {
    if (!g) return [];
    if (needs[1] || needs[2]) throw nodeError(n, 'only the gradient w.r.t. its input is supported');
    const w = e.info(n.inputs[1]);
    const kernel = n.attrs.ints('kernel_shape') ?? (w.shape.slice(2) as number[]);
    const axes = transposeAxes(n, e.info(n.inputs[0]), kernel);
    const op = n.attrs.ints('output_padding') ?? kernel.map(() => 0);
    // Conv output count I needs an end pad in [p1 − op, p1 − op + s − 1]; 0 is in it when p1 < op.
    const ends = axes.map((a, i) => Math.max(a.p1 - op[i], 0));
    return [
      e.op('Conv', [g, n.inputs[1]], {
        ...spatialAttrs(axes, n.attrs.i('group', 1)),
        kernel_shape: { ints: kernel },
        pads: { ints: [...axes.map((a) => a.p0), ...ends] },
      }),
    ];
  },
};

export const convRules: Record<string, OpRule> = { Conv: conv, ConvTranspose: convTranspose };
