/**
 * Ops that move or copy elements (reshapes, transposes, slices, concatenation, padding, space/depth
 * rearrangements, gathers) and the shape arithmetic around them, whose known values let exporters' shape subgraphs fold.
 */
import { Attrs, DT, isFloat, num, tensorValues } from './model.js';
import type { Emitter } from './emitter.js';
import { constInts, nodeError, normAxis, numeric, product, type Dim, type Info, type Node, type OpRule } from './rule.js';

const BIG = 2 ** 62;

/** Reshaped back to the forward input's shape (for every op that only reinterprets the layout). */
const reshapeBack: NonNullable<OpRule['grad']> = (n, [g], e) => (g ? [e.op('Reshape', [g, e.shape(n.inputs[0])])] : []);
const passThrough: NonNullable<OpRule['grad']> = (_n, [g]) => [g];

/** Same contents, new shape: values carry over. */
const withShape = (x: Info, shape: Dim[]): Info => ({ type: x.type, shape, value: x.value });

/** Reshape's output shape: 0 copies the input's size (unless allowzero), −1 takes what is left. */
function reshapeTarget(n: Node, x: Info, target: (number | string)[]): Dim[] {
  const allowZero = n.attrs.i('allowzero', 0) === 1;
  const out: Dim[] = target.map((d, i) => (d === 0 && !allowZero ? x.shape[i] : d));
  const free = out.indexOf(-1);
  if (free < 0) return out;
  // Cancel sizes (symbols and numbers) the input and the rest of the target share; what remains is −1's.
  const left = [...x.shape];
  const unmatched: Dim[] = [];
  for (const [i, d] of out.entries()) {
    if (i === free) continue;
    const j = left.indexOf(d);
    if (j >= 0) left.splice(j, 1);
    else unmatched.push(d);
  }
  const known = (ds: Dim[]) => (ds.filter(numeric) as number[]).reduce((p, v) => p * v, 1);
  const symLeft = left.filter((d) => !numeric(d));
  const symUn = unmatched.filter((d) => !numeric(d));
  if (symUn.length) throw nodeError(n, `cannot infer the −1 in [${target}] from [${x.shape}]`);
  const ratio = known(left) / known(unmatched);
  if (!Number.isInteger(ratio)) throw nodeError(n, `cannot reshape [${x.shape}] to [${target}]`);
  out[free] = symLeft.length ? product([ratio, ...symLeft]) : ratio;
  return out;
}

function sliceParams(n: Node, ins: (Info | undefined)[]) {
  const x = ins[0]!;
  const rank = x.shape.length;
  const starts = constInts(n, ins[1], 'starts');
  const ends = constInts(n, ins[2], 'ends');
  const axes = n.inputs[3] ? constInts(n, ins[3], 'axes').map((a) => normAxis(n, a, rank)) : starts.map((_, i) => i);
  const steps = n.inputs[4] ? constInts(n, ins[4], 'steps') : starts.map(() => 1);
  const shape = [...x.shape];
  const parts = axes.map((axis, i) => {
    const d = x.shape[axis];
    const step = steps[i];
    if (step === 0) throw nodeError(n, 'a step is 0');
    if (!numeric(d)) {
      if (starts[i] === 0 && ends[i] >= BIG / 4 && step === 1) return undefined;
      throw nodeError(n, `needs a static size on axis ${axis}, got [${x.shape}]`);
    }
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
    const [start, end] = step > 0 ? [clamp(starts[i], 0, d), clamp(ends[i], 0, d)] : [clamp(starts[i], 0, d - 1), clamp(ends[i], -1, d - 1)];
    const length = Math.max(0, Math.ceil((end - start) / step));
    shape[axis] = length;
    return { axis, start, step, length, size: d };
  });
  return { shape, parts: parts.filter((p) => p !== undefined) };
}

/** Values of a 1-D known tensor (shape arithmetic), or undefined. */
const vals = (i: Info | undefined) => (i?.value && i.shape.length <= 1 ? Array.from(i.value) : undefined);

function splitSizes(n: Node, ins: (Info | undefined)[], opset: number): { axis: number; sizes: number[] } {
  const x = ins[0]!;
  const axis = normAxis(n, n.attrs.i('axis', 0), x.shape.length);
  const listed = opset >= 13 ? (n.inputs[1] ? constInts(n, ins[1], 'split') : undefined) : n.attrs.ints('split');
  if (listed) return { axis, sizes: listed };
  const d = x.shape[axis];
  if (!numeric(d)) throw nodeError(n, `needs a static size on axis ${axis}`);
  const parts = n.attrs.i('num_outputs', n.outputs.length);
  const each = Math.ceil(d / parts);
  return { axis, sizes: Array.from({ length: parts }, (_, i) => Math.min(each, d - i * each)) };
}

function squeezeAxes(n: Node, ins: (Info | undefined)[], opset: number): number[] | undefined {
  return opset >= 13 ? (n.inputs[1] ? constInts(n, ins[1], 'axes') : undefined) : n.attrs.ints('axes');
}

function padParams(n: Node, ins: (Info | undefined)[]) {
  const x = ins[0]!;
  const rank = x.shape.length;
  if (n.attrs.s('mode', 'constant') !== 'constant') throw nodeError(n, `mode '${n.attrs.s('mode', '')}' is not supported (only 'constant')`);
  const listed = constInts(n, ins[1], 'pads');
  const axes = n.inputs[3] ? constInts(n, ins[3], 'axes').map((a) => normAxis(n, a, rank)) : Array.from({ length: rank }, (_, i) => i);
  const [p0, p1] = [Array(rank).fill(0), Array(rank).fill(0)];
  axes.forEach((a, i) => ((p0[a] = listed[i]), (p1[a] = listed[i + axes.length])));
  return { p0, p1 };
}

/** A constant node's tensor. */
function constantInfo(n: Node): Info {
  const a = n.attrs;
  const t = a.t('value');
  if (t) return { type: t.dataType ?? DT.FLOAT, shape: (t.dims ?? []).map(num), value: tensorValues(t) };
  if (a.has('value_float')) return { type: DT.FLOAT, shape: [], value: [a.f('value_float', 0)] };
  if (a.has('value_int')) return { type: DT.INT64, shape: [], value: [a.i('value_int', 0)] };
  const ints = a.ints('value_ints');
  if (ints) return { type: DT.INT64, shape: [ints.length], value: ints };
  const floats = n.proto.attribute?.find((x) => x.name === 'value_floats')?.floats;
  if (floats) return { type: DT.FLOAT, shape: [floats.length], value: Float32Array.from(floats) };
  throw nodeError(n, 'has no supported value attribute');
}

/**
 * Gather's gradient for run-time indices: ScatterND with reduction 'add' (opset ≥ 16) of the output gradient
 * into zeros, repeated indices summing, with `axis` moved to the front and back.
 */
function gatherScatter(n: Node, g: string, e: Emitter, axis: number, idxRank: number): string {
  const x = n.inputs[0];
  const rank = e.info(x).shape.length;
  let idx = n.inputs[1];
  if (e.info(idx).type !== DT.INT64) idx = e.op('Cast', [idx], { to: { i: DT.INT64 } });
  idx = e.unsqueeze(idx, [idxRank]);
  if (axis === 0) return e.op('ScatterND', [e.zerosLike(x), idx, g], { reduction: { s: 'add' } });
  // x moved to [axis, rest…]; g, [before…, idx…, after…], to [idx…, before…, after…].
  const xPerm = [axis, ...Array.from({ length: rank }, (_, i) => i).filter((i) => i !== axis)];
  const gRank = rank - 1 + idxRank;
  const gPerm = [
    ...Array.from({ length: idxRank }, (_, i) => axis + i),
    ...Array.from({ length: axis }, (_, i) => i),
    ...Array.from({ length: gRank - axis - idxRank }, (_, i) => axis + idxRank + i),
  ];
  const zeros = e.op('Transpose', [e.zerosLike(x)], { perm: { ints: xPerm } });
  const scattered = e.op('ScatterND', [zeros, idx, e.op('Transpose', [g], { perm: { ints: gPerm } })], { reduction: { s: 'add' } });
  const back = Array<number>(rank);
  xPerm.forEach((p, i) => (back[p] = i));
  return e.op('Transpose', [scattered], { perm: { ints: back } });
}

/** SpaceToDepth's output shape, or DepthToSpace's (`up`): [N, C·b², H/b, W/b] and back. */
function depthShape(n: Node, x: Info, up: boolean): Info {
  const b = n.attrs.i('blocksize', 0);
  const [batch, c, h, w] = x.shape;
  if (x.shape.length !== 4 || b < 1) throw nodeError(n, `needs a 4-D input and a blocksize, got [${x.shape}], ${b}`);
  if (![c, h, w].every(numeric)) throw nodeError(n, `needs static channels and sides, got [${x.shape}]`);
  const [cn, hn, wn] = [c, h, w] as number[];
  if (up ? cn % (b * b) !== 0 : hn % b !== 0 || wn % b !== 0) throw nodeError(n, `[${x.shape}] does not split into blocks of ${b}`);
  return { type: x.type, shape: up ? [batch, cn / (b * b), hn * b, wn * b] : [batch, cn * b * b, hn / b, wn / b] };
}

export const layoutRules: Record<string, OpRule> = {
  // SpaceToDepth's channel order is DepthToSpace's DCR: each is the other's inverse, and a permutation's
  // gradient is its inverse.
  SpaceToDepth: {
    infer: (n, ins) => [depthShape(n, ins[0]!, false)],
    grad: (n, [g], e) => (g ? [e.op('DepthToSpace', [g], { blocksize: { i: n.attrs.i('blocksize', 0) }, mode: { s: 'DCR' } })] : []),
  },
  DepthToSpace: {
    infer: (n, ins) => [depthShape(n, ins[0]!, true)],
    grad: (n, [g], e) => {
      if (!g) return [];
      if (n.attrs.s('mode', 'DCR') !== 'DCR') throw nodeError(n, `mode '${n.attrs.s('mode', '')}' is not supported (only 'DCR')`);
      return [e.op('SpaceToDepth', [g], { blocksize: { i: n.attrs.i('blocksize', 0) } })];
    },
  },
  Identity: { infer: (_n, ins) => [ins[0]!], grad: passThrough },
  Dropout: { infer: (_n, ins) => [{ type: ins[0]!.type, shape: ins[0]!.shape }, { type: DT.BOOL, shape: ins[0]!.shape }], grad: passThrough },
  Cast: {
    infer: (n, ins) => {
      const to = n.attrs.i('to', DT.FLOAT);
      const v = ins[0]!.value;
      return [{ type: to, shape: ins[0]!.shape, value: v && !isFloat(to) ? Array.from(v, (x) => (typeof x === 'number' ? Math.trunc(x) : x)) : v }];
    },
    grad: (n, [g], e) => (g && isFloat(e.info(n.inputs[0]).type) ? [e.op('Cast', [g], { to: { i: e.info(n.inputs[0]).type } })] : []),
  },
  Reshape: {
    infer: (n, ins) => {
      const target = ins[1]?.value;
      if (!target) throw nodeError(n, 'the target shape must be computable before running the model');
      return [withShape(ins[0]!, reshapeTarget(n, ins[0]!, Array.from(target)))];
    },
    grad: reshapeBack,
  },
  Flatten: {
    infer: (n, ins) => {
      const x = ins[0]!;
      const axis = n.attrs.i('axis', 1);
      const a = axis < 0 ? axis + x.shape.length : axis;
      return [withShape(x, [product(x.shape.slice(0, a)), product(x.shape.slice(a))])];
    },
    grad: reshapeBack,
  },
  Squeeze: {
    infer: (n, ins, opset) => {
      const x = ins[0]!;
      const listed = squeezeAxes(n, ins, opset);
      const axes = listed ? listed.map((a) => normAxis(n, a, x.shape.length)) : x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
      return [withShape(x, x.shape.filter((_, i) => !axes.includes(i)))];
    },
    grad: reshapeBack,
  },
  Unsqueeze: {
    infer: (n, ins, opset) => {
      const x = ins[0]!;
      const listed = squeezeAxes(n, ins, opset);
      if (!listed) throw nodeError(n, 'axes are required');
      const rank = x.shape.length + listed.length;
      const axes = listed.map((a) => normAxis(n, a, rank));
      const shape: Dim[] = [];
      let k = 0;
      for (let i = 0; i < rank; i++) shape.push(axes.includes(i) ? 1 : x.shape[k++]);
      return [withShape(x, shape)];
    },
    grad: reshapeBack,
  },
  Transpose: {
    infer: (n, ins) => {
      const x = ins[0]!;
      const perm = n.attrs.ints('perm') ?? x.shape.map((_, i) => x.shape.length - 1 - i);
      const shape = perm.map((p) => x.shape[p]);
      let value: (number | string)[] | undefined;
      if (x.value && x.shape.every(numeric)) {
        // Output element (i_0…) reads input element with i_perm[k] at axis perm[k].
        const src = Array.from(x.value);
        const strides = stridesOf(x.shape as number[]);
        value = gatherIndices(shape as number[], (shape as number[]).map((d) => Array.from({ length: d }, (_, i) => i))).map((flat) => {
          const idx = unflatten(flat, shape as number[]);
          return src[idx.reduce((o, v, k) => o + v * strides[perm[k]], 0)];
        });
      }
      return [{ type: x.type, shape, value }];
    },
    grad: (n, [g], e) => {
      if (!g) return [];
      const rank = e.info(n.inputs[0]).shape.length;
      const perm = n.attrs.ints('perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
      const inverse = Array<number>(rank);
      perm.forEach((p, i) => (inverse[p] = i));
      return [e.op('Transpose', [g], { perm: { ints: inverse } })];
    },
  },
  Expand: {
    infer: (n, ins) => {
      const target = ins[1]?.value;
      if (!target) throw nodeError(n, 'the target shape must be computable before running the model');
      const t = Array.from(target);
      const x = ins[0]!.shape;
      const rank = Math.max(x.length, t.length);
      const shape = Array.from({ length: rank }, (_, i) => {
        const [a, b] = [x[x.length - rank + i] ?? 1, t[t.length - rank + i] ?? 1];
        return a === 1 ? b : a;
      });
      return [{ type: ins[0]!.type, shape }];
    },
    grad: (n, [g], e) => (g ? [e.unbroadcast(g, e.info(n.outputs[0]).shape, e.info(n.inputs[0]).shape)] : []),
  },
  Concat: {
    infer: (n, ins) => {
      const parts = ins.filter((i): i is Info => !!i);
      const axis = normAxis(n, n.attrs.i('axis', 0), parts[0].shape.length);
      const shape = [...parts[0].shape];
      shape[axis] = sumDims(parts.map((p) => p.shape[axis]));
      const all = parts.map(vals);
      const value = parts[0].shape.length === 1 && all.every(Boolean) ? all.flatMap((v) => v!) : undefined;
      return [{ type: parts[0].type, shape, value }];
    },
    grad: (n, [g], e, needs) => {
      if (!g) return [];
      const rank = e.info(n.inputs[0]).shape.length;
      const axis = normAxis(n, n.attrs.i('axis', 0), rank);
      let offset = 0;
      return n.inputs.map((input, i) => {
        const d = e.info(input).shape[axis];
        if (!numeric(d)) throw nodeError(n, `needs static sizes on axis ${axis}`);
        const start = offset;
        offset += d;
        return needs[i] ? e.op('Slice', [g, e.int64s([start]), e.int64s([start + d]), e.int64s([axis])]) : undefined;
      });
    },
  },
  Split: {
    infer: (n, ins, opset) => {
      const x = ins[0]!;
      const { axis, sizes } = splitSizes(n, ins, opset);
      return sizes.map((s) => {
        const shape = [...x.shape];
        shape[axis] = s;
        return { type: x.type, shape };
      });
    },
    grad: (n, gys, e) => {
      if (!gys.some(Boolean)) return [];
      const axis = normAxis(n, n.attrs.i('axis', 0), e.info(n.inputs[0]).shape.length);
      const parts = n.outputs.map((o, i) => gys[i] ?? e.zerosLike(o));
      return [e.op('Concat', parts, { axis: { i: axis } })];
    },
  },
  Slice: {
    infer: (n, ins) => {
      const { shape, parts } = sliceParams(n, ins);
      const x = ins[0]!;
      let value: (number | string)[] | undefined;
      if (x.value && x.shape.every(numeric) && shape.every(numeric)) {
        const src = Array.from(x.value);
        const take = (shape as number[]).map((d, axis) => {
          const p = parts.find((q) => q.axis === axis);
          return Array.from({ length: d }, (_, i) => (p ? p.start + i * p.step : i));
        });
        value = gatherIndices(x.shape as number[], take).map((i) => src[i]);
      }
      return [{ type: x.type, shape, value }];
    },
    // Zeros between strided picks (Unsqueeze → Pad → Reshape), reversed for negative steps, then padded
    // back to the input's size.
    grad: (n, [g], e) => {
      if (!g) return [];
      const ins = n.inputs.map((i) => (i ? e.info(i) : undefined));
      const { shape, parts } = sliceParams(n, ins);
      const rank = shape.length;
      const [p0, p1] = [Array<number>(rank).fill(0), Array<number>(rank).fill(0)];
      let d = g;
      const cur = [...shape];
      for (const { axis, start, step, length, size } of parts) {
        const s = Math.abs(step);
        const first = step > 0 ? start : start + (length - 1) * step;
        if (step < 0) d = e.op('Slice', [d, e.int64s([-1]), e.int64s([-BIG]), e.int64s([axis]), e.int64s([-1])]);
        if (s > 1 && length > 0) {
          const pads = Array<number>(2 * (rank + 1)).fill(0);
          pads[rank + 1 + axis + 1] = s - 1;
          const spread = e.op('Pad', [e.unsqueeze(d, [axis + 1]), e.int64s(pads)]);
          const after = cur.slice(axis + 1);
          if (!after.every(numeric)) throw nodeError(n, `needs static sizes after axis ${axis}`);
          const merged = e.op('Reshape', [spread, e.int64s([...Array(axis).fill(0), length * s, ...(after as number[])])]);
          d = e.op('Slice', [merged, e.int64s([0]), e.int64s([(length - 1) * s + 1]), e.int64s([axis])]);
        }
        const span = length > 0 ? (length - 1) * s + 1 : 0;
        [p0[axis], p1[axis]] = [first, size - first - span];
        cur[axis] = size;
      }
      return [p0.some(Boolean) || p1.some(Boolean) ? e.op('Pad', [d, e.int64s([...p0, ...p1])]) : d];
    },
  },
  Pad: {
    infer: (n, ins) => {
      const x = ins[0]!;
      const { p0, p1 } = padParams(n, ins);
      const shape = x.shape.map((d, i) => {
        if (p0[i] === 0 && p1[i] === 0) return d;
        if (!numeric(d)) throw nodeError(n, `needs static sizes where it pads, got [${x.shape}]`);
        return d + p0[i] + p1[i];
      });
      return [{ type: x.type, shape }];
    },
    // Padding crops back; negative pads (crops) pad back with zeros.
    grad: (n, [g], e) => {
      if (!g) return [];
      const ins = n.inputs.map((i) => (i ? e.info(i) : undefined));
      const { p0, p1 } = padParams(n, ins);
      const axes = p0.flatMap((_, i) => (p0[i] > 0 || p1[i] > 0 ? [i] : []));
      let d = g;
      if (axes.length)
        d = e.op('Slice', [d, e.int64s(axes.map((a) => Math.max(p0[a], 0))), e.int64s(axes.map((a) => (p1[a] > 0 ? -p1[a] : BIG))), e.int64s(axes)]);
      const back = [...p0.map((p) => Math.max(-p, 0)), ...p1.map((p) => Math.max(-p, 0))];
      return [back.some(Boolean) ? e.op('Pad', [d, e.int64s(back)]) : d];
    },
  },
  Gather: {
    infer: (n, ins) => {
      const [x, idx] = [ins[0]!, ins[1]!];
      const axis = normAxis(n, n.attrs.i('axis', 0), x.shape.length);
      const shape = [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)];
      const v = vals(x);
      const iv = idx.value && Array.from(idx.value);
      const value = v && iv && iv.every(numeric) ? (iv as number[]).map((i) => v[i < 0 ? i + v.length : i]) : undefined;
      return [{ type: x.type, shape, value }];
    },
    // With constant indices, Gather is a 0/1 matrix on its axis: the gradient is a MatMul by that matrix;
    // indices known only at run time (BMCNN's block matching) scatter-add the gradient back instead.
    grad: (n, [g], e) => {
      if (!g) return [];
      const x = e.info(n.inputs[0]);
      const rank = x.shape.length;
      const axis = normAxis(n, n.attrs.i('axis', 0), rank);
      const idxInfo = e.info(n.inputs[1]);
      if (!idxInfo.value) return [gatherScatter(n, g, e, axis, idxInfo.shape.length)];
      const idx = constInts(n, idxInfo, 'indices (gradient through Gather)');
      const size = x.shape[axis];
      if (!numeric(size)) throw nodeError(n, `needs a static size on axis ${axis}`);
      let d = g;
      if (idxInfo.shape.length === 0) d = e.unsqueeze(d, [axis]);
      else if (idxInfo.shape.length > 1) {
        const after = x.shape.slice(axis + 1);
        if (!after.every(numeric)) throw nodeError(n, `needs static sizes after axis ${axis}`);
        d = e.op('Reshape', [d, e.int64s([...Array(axis).fill(0), idx.length, ...(after as number[])])]);
      }
      const onehot = new Float64Array(idx.length * size);
      idx.forEach((i, l) => (onehot[l * size + (i < 0 ? i + size : i)] += 1));
      const m = e.constant(onehot, [idx.length, size], x.type);
      if (axis === rank - 1) return [e.op('MatMul', [d, m])];
      const perm = Array.from({ length: rank }, (_, i) => i).filter((i) => i !== axis);
      perm.push(axis);
      const inverse = Array<number>(rank);
      perm.forEach((p, i) => (inverse[p] = i));
      const moved = e.op('MatMul', [e.op('Transpose', [d], { perm: { ints: perm } }), m]);
      return [e.op('Transpose', [moved], { perm: { ints: inverse } })];
    },
  },
  Shape: {
    infer: (n, ins) => {
      const rank = ins[0]!.shape.length;
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
      const value = ins[0]!.shape.slice(clamp(n.attrs.i('start', 0)), clamp(n.attrs.i('end', rank)));
      return [{ type: DT.INT64, shape: [value.length], value }];
    },
  },
  Size: { infer: (_n, ins) => [{ type: DT.INT64, shape: [], value: [product(ins[0]!.shape)] }] },
  Constant: { infer: (n) => [constantInfo(n)] },
  ConstantOfShape: {
    infer: (n, ins) => {
      const listed = ins[0]?.value;
      if (!listed) throw nodeError(n, 'the shape must be computable before running the model');
      const shape = Array.from(listed);
      const t = new Attrs(n.proto).t('value');
      const fill = t ? tensorValues(t)[0] : 0;
      const count = shape.every(numeric) ? (shape as number[]).reduce((p, d) => p * d, 1) : Infinity;
      return [{ type: t?.dataType ?? DT.FLOAT, shape, value: count <= 64 ? Array(count).fill(fill) : undefined }];
    },
  },
  Range: {
    infer: (n, ins) => {
      const [start, limit, delta] = [0, 1, 2].map((i) => constInts(n, ins[i], ['start', 'limit', 'delta'][i])[0]);
      const count = Math.max(Math.ceil((limit - start) / delta), 0);
      return [{ type: ins[0]!.type, shape: [count], value: Array.from({ length: count }, (_, i) => start + i * delta) }];
    },
  },
};

function stridesOf(shape: number[]): number[] {
  const s = Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

function unflatten(flat: number[] | number, shape: number[]): number[] {
  let rest = flat as number;
  const idx = Array<number>(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    idx[i] = rest % shape[i];
    rest = Math.floor(rest / shape[i]);
  }
  return idx;
}

/** Flat indices into a tensor of `shape` of the grid picking `take[axis]` along each axis, in row-major order. */
function gatherIndices(shape: number[], take: number[][]): number[] {
  const strides = stridesOf(shape);
  let out = [0];
  take.forEach((picks, axis) => (out = out.flatMap((o) => picks.map((p) => o + p * strides[axis]))));
  return out;
}

function sumDims(ds: Dim[]): Dim {
  return ds.every(numeric) ? (ds as number[]).reduce((a, b) => a + b, 0) : ds.join('+');
}
