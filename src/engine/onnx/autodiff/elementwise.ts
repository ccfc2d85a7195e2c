/** Arithmetic with broadcasting (gradients summed back to each operand's shape) and the unary math ops. */
import { DT, isFloat } from './model.js';
import { broadcast, nodeError, sameAsInput, type Info, type Node, type OpRule } from './rule.js';
import type { Emitter } from './emitter.js';

/** Elementwise values of two known operands (shape arithmetic: same length or one scalar). */
function foldValues(a: Info, b: Info, f: (x: number, y: number) => number): number[] | undefined {
  const [x, y] = [a.value, b.value];
  if (!x || !y || x.length > 64 || y.length > 64) return undefined;
  const xs = Array.from(x);
  const ys = Array.from(y);
  if (![...xs, ...ys].every((v) => typeof v === 'number')) return undefined;
  const n = Math.max(xs.length, ys.length);
  if ((xs.length !== n && xs.length !== 1) || (ys.length !== n && ys.length !== 1)) return undefined;
  return Array.from({ length: n }, (_, i) => f(xs[xs.length === 1 ? 0 : i] as number, ys[ys.length === 1 ? 0 : i] as number));
}

function binary(f?: (x: number, y: number) => number, outType?: number): OpRule['infer'] {
  return (n, ins) => {
    const [a, b] = [ins[0]!, ins[1]!];
    const shape = broadcast(n, a.shape, b.shape);
    const value = f && !isFloat(a.type) ? foldValues(a, b, f) : undefined;
    return [{ type: outType ?? a.type, shape, value }];
  };
}

/** Gradient rule of a binary op from the two local gradients (each before un-broadcasting). */
function binaryGrad(local: (n: Node, g: string, e: Emitter) => [() => string, () => string]): NonNullable<OpRule['grad']> {
  return (n, [g], e, needs) => {
    if (!g) return [];
    const out = e.info(n.outputs[0]).shape;
    const [da, db] = local(n, g, e);
    return [needs[0] ? e.unbroadcast(da(), out, e.info(n.inputs[0]).shape) : undefined, needs[1] ? e.unbroadcast(db(), out, e.info(n.inputs[1]).shape) : undefined];
  };
}

const unary = (grad: (n: Node, g: string, e: Emitter) => string): OpRule => ({
  infer: sameAsInput,
  grad: (n, [g], e) => (g ? [grad(n, g, e)] : []),
});

const typeOf = (n: Node, e: Emitter) => e.info(n.inputs[0]).type;

/** Max / Min of two operands: the gradient goes to the one picked (`first`: a op b picks a). */
function extremum(first: 'GreaterOrEqual' | 'LessOrEqual'): OpRule {
  return {
    infer: (n, ins, opset) => {
      if (n.inputs.length !== 2) throw nodeError(n, `${n.inputs.length} operands; the gradient compiler takes 2`);
      return binary()(n, ins, opset);
    },
    grad: binaryGrad((n, g, e) => {
      const pick = e.op(first, [n.inputs[0], n.inputs[1]]);
      const zero = e.scalar(0, typeOf(n, e));
      return [() => e.op('Where', [pick, g, zero]), () => e.op('Where', [pick, zero, g])];
    }),
  };
}

const compare: OpRule = { infer: binary(undefined, DT.BOOL) };

export const elementwiseRules: Record<string, OpRule> = {
  Add: { infer: binary((x, y) => x + y), grad: binaryGrad((_n, g) => [() => g, () => g]) },
  Sub: { infer: binary((x, y) => x - y), grad: binaryGrad((_n, g, e) => [() => g, () => e.op('Neg', [g])]) },
  Mul: {
    infer: binary((x, y) => x * y),
    grad: binaryGrad((n, g, e) => [() => e.mul(g, n.inputs[1]), () => e.mul(g, n.inputs[0])]),
  },
  Div: {
    infer: binary((x, y) => Math.trunc(x / y)),
    // d(a/b)/db = −(a/b)/b
    grad: binaryGrad((n, g, e) => [() => e.op('Div', [g, n.inputs[1]]), () => e.op('Neg', [e.op('Div', [e.mul(g, n.outputs[0]), n.inputs[1]])])]),
  },
  Pow: {
    infer: (n, ins) => [{ type: ins[0]!.type, shape: broadcast(n, ins[0]!.shape, ins[1]!.shape) }],
    grad: binaryGrad((n, g, e) => {
      const [a, b] = n.inputs;
      const t = typeOf(n, e);
      // The exponent may be another float type than the base (Pow allows it): cast it to the base's.
      const bt = e.info(b).type === t ? b : e.op('Cast', [b], { to: { i: t } });
      return [
        () => e.mul(g, e.mul(bt, e.op('Pow', [a, e.op('Sub', [bt, e.scalar(1, t)])]))),
        () => {
          const d = e.mul(g, e.mul(n.outputs[0], e.op('Log', [a])));
          return e.info(b).type === t ? d : e.op('Cast', [d], { to: { i: e.info(b).type } });
        },
      ];
    }),
  },
  Neg: { infer: (n, ins) => [{ ...sameAsInput(n, ins)[0], value: ins[0]!.value && !isFloat(ins[0]!.type) ? Array.from(ins[0]!.value, (v) => (typeof v === 'number' ? -v : v)) : undefined }], grad: (_n, [g], e) => (g ? [e.op('Neg', [g])] : []) },
  Sqrt: unary((n, g, e) => e.op('Div', [e.mul(g, e.scalar(0.5, typeOf(n, e))), n.outputs[0]])),
  Exp: unary((n, g, e) => e.mul(g, n.outputs[0])),
  Log: unary((n, g, e) => e.op('Div', [g, n.inputs[0]])),
  Reciprocal: unary((n, g, e) => e.op('Neg', [e.mul(g, e.mul(n.outputs[0], n.outputs[0]))])),
  Abs: unary((n, g, e) => e.mul(g, e.op('Sign', [n.inputs[0]]))),
  // Two operands (what exporters write); ties go to the first, as TF's Maximum/Minimum gradients do.
  Max: extremum('GreaterOrEqual'),
  Min: extremum('LessOrEqual'),
  Where: {
    infer: (n, ins) => [{ type: ins[1]!.type, shape: broadcast(n, broadcast(n, ins[0]!.shape, ins[1]!.shape), ins[2]!.shape) }],
    grad: (n, [g], e, needs) => {
      if (!g) return [];
      const out = e.info(n.outputs[0]).shape;
      const zero = e.scalar(0, e.info(n.outputs[0]).type);
      const pick = (i: number, on: string[]) => (needs[i] ? e.unbroadcast(e.op('Where', [n.inputs[0], ...on]), out, e.info(n.inputs[i]).shape) : undefined);
      return [undefined, pick(1, [g, zero]), pick(2, [zero, g])];
    },
  },
  Equal: compare,
  Greater: compare,
  Less: compare,
  GreaterOrEqual: compare,
  LessOrEqual: compare,
  Not: { infer: sameAsInput },
};
