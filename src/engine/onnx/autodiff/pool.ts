/** MaxPool (gradient through its argmax indices), AveragePool and GlobalAveragePool. */
import { nodeError, staticShape, type Info, type Node, type OpRule } from './rule.js';
import { viaConvTranspose, windowAxes, type Axis } from './conv.js';

function poolAxes(n: Node, x: Info): Axis[] {
  const kernel = n.attrs.ints('kernel_shape');
  if (!kernel) throw nodeError(n, 'kernel_shape is required');
  return windowAxes(n, x.shape.slice(2), kernel);
}

const poolInfer = (n: Node, ins: (Info | undefined)[]): Info[] => {
  const x = ins[0]!;
  return [{ type: x.type, shape: [...x.shape.slice(0, 2), ...poolAxes(n, x).map((a) => a.outSize)] }];
};

const maxPool: OpRule = {
  infer: (n, ins) => {
    if (n.attrs.i('storage_order', 0) !== 0) throw nodeError(n, 'storage_order=1 is not supported');
    const [y] = poolInfer(n, ins);
    return [y, { type: 7, shape: y.shape }];
  },
  // Each output's gradient lands on its argmax: the forward node also returns its (flat NCHW) indices and the
  // gradient is scatter-added there (windows may overlap).
  grad: (n, [g], e) => {
    if (!g) return [];
    const x = n.inputs[0];
    const out = n.proto.output!;
    if (!out[1]) out[1] = e.fresh('argmax');
    const flat = e.int64s([-1]);
    const zeros = e.op('Reshape', [e.zerosLike(x), flat]);
    const scattered = e.op('ScatterElements', [zeros, e.op('Reshape', [out[1], flat]), e.op('Reshape', [g, flat])], {
      axis: { i: 0 },
      reduction: { s: 'add' },
    });
    return [e.op('Reshape', [scattered, e.shape(x)])];
  },
};

/** How many inputs each output averages over, along one axis. */
function counts(a: Axis, includePad: boolean): number[] {
  const [lo, hi] = includePad ? [-a.p0, a.inSize + a.p1] : [0, a.inSize];
  return Array.from({ length: a.outSize }, (_, o) => {
    const start = o * a.stride - a.p0;
    return Math.min(start + a.k, hi) - Math.max(start, lo);
  });
}

const averagePool: OpRule = {
  infer: poolInfer,
  grad: (n, [g], e) => {
    if (!g) return [];
    const x = e.info(n.inputs[0]);
    const axes = poolAxes(n, x);
    const t = x.type;
    const plain = axes.length === 2 && axes.every((a) => a.k === axes[0].k && a.stride === a.k && a.p0 === 0 && a.p1 === 0 && n.attrs.i('ceil_mode', 0) === 0);
    if (plain) {
      // Non-overlapping s×s windows: s² copies interleaved by DepthToSpace, scaled by 1/s²; a remainder row or
      // column the pool skipped gets zero.
      const s = axes[0].k;
      const spread = e.op('DepthToSpace', [e.op('Concat', Array(s * s).fill(g), { axis: { i: 1 } })], { blocksize: { i: s }, mode: { s: 'DCR' } });
      const scaled = e.mul(spread, e.scalar(1 / (s * s), t));
      const rest = axes.map((a) => a.inSize - s * a.outSize);
      return [rest.some((r) => r > 0) ? e.op('Pad', [scaled, e.int64s([0, 0, 0, 0, 0, 0, ...rest])]) : scaled];
    }
    const include = n.attrs.i('count_include_pad', 0) === 1;
    const per = axes.map((a) => counts(a, include));
    const size = per.reduce((p, c) => p * c.length, 1);
    const div = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      let [rest, d] = [i, 1];
      for (let k = per.length - 1; k >= 0; k--) {
        d *= per[k][rest % per[k].length];
        rest = Math.floor(rest / per[k].length);
      }
      div[i] = 1 / d;
    }
    const scaled = e.mul(g, e.constant(div, [1, 1, ...axes.map((a) => a.outSize)], t));
    const C = staticShape(n, { ...x, shape: [x.shape[1]] }, 'its channel count')[0];
    const kernel = axes.map((a) => a.k);
    const ones = e.constant(new Float64Array(C * kernel.reduce((p, k) => p * k, 1)).fill(1), [C, 1, ...kernel], t);
    return [viaConvTranspose(scaled, ones, axes, C, e)];
  },
};

const globalAveragePool: OpRule = {
  infer: (_n, ins) => [{ type: ins[0]!.type, shape: [...ins[0]!.shape.slice(0, 2), ...ins[0]!.shape.slice(2).map(() => 1)] }],
  grad: (n, [g], e) => {
    if (!g) return [];
    const x = e.info(n.inputs[0]);
    const area = staticShape(n, { ...x, shape: x.shape.slice(2) }, 'its spatial size').reduce((p, d) => p * d, 1);
    return [e.op('Expand', [e.mul(g, e.scalar(1 / area, x.type)), e.shape(n.inputs[0])])];
  },
};

export const poolRules: Record<string, OpRule> = { MaxPool: maxPool, AveragePool: averagePool, GlobalAveragePool: globalAveragePool };
