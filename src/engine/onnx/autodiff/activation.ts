/** Activations and (log-)softmax. Masks are Greater/Less → Cast → Mul (profiled faster in ORT than Where). */
import { normAxis, sameAsInput, type Node, type OpRule } from './rule.js';
import type { Emitter } from './emitter.js';

const typeOf = (n: Node, e: Emitter) => e.info(n.inputs[0]).type;

/** A rule whose only differentiable input is the first. */
const unary = (grad: (n: Node, g: string, e: Emitter) => string): OpRule => ({
  infer: sameAsInput,
  grad: (n, [g], e) => (g ? [grad(n, g, e)] : []),
});

const positive = (n: Node, e: Emitter, v: string) => e.op('Greater', [v, e.scalar(0, typeOf(n, e))]);

/** The axes softmax normalises over: one axis from opset 13, the flattened trailing ones before. */
function softmaxAxes(n: Node, e: Emitter): number[] {
  const rank = e.info(n.inputs[0]).shape.length;
  if (e.opset >= 13) return [normAxis(n, n.attrs.i('axis', -1), rank)];
  const from = normAxis(n, n.attrs.i('axis', 1), rank);
  return Array.from({ length: rank - from }, (_, i) => from + i);
}

export const activationRules: Record<string, OpRule> = {
  Relu: unary((n, g, e) => e.mul(g, e.mask(positive(n, e, n.outputs[0]), typeOf(n, e)))),
  LeakyRelu: unary((n, g, e) => e.op('Where', [positive(n, e, n.inputs[0]), g, e.mul(g, e.scalar(n.attrs.f('alpha', 0.01), typeOf(n, e)))])),
  PRelu: {
    infer: sameAsInput,
    grad: (n, [g], e, needs) => {
      if (!g) return [];
      const [x, slope] = n.inputs;
      const pos = positive(n, e, x);
      const dx = needs[0] ? e.op('Where', [pos, g, e.mul(g, slope)]) : undefined;
      const dSlope = needs[1]
        ? e.unbroadcast(e.op('Where', [pos, e.scalar(0, typeOf(n, e)), e.mul(g, x)]), e.info(x).shape, e.info(slope).shape)
        : undefined;
      return [dx, dSlope];
    },
  },
  Sigmoid: unary((n, g, e) => {
    const y = n.outputs[0];
    return e.mul(g, e.mul(y, e.op('Sub', [e.scalar(1, typeOf(n, e)), y])));
  }),
  Tanh: unary((n, g, e) => {
    const y = n.outputs[0];
    return e.mul(g, e.op('Sub', [e.scalar(1, typeOf(n, e)), e.mul(y, y)]));
  }),
  Elu: unary((n, g, e) => {
    const alpha = e.scalar(n.attrs.f('alpha', 1), typeOf(n, e));
    return e.op('Where', [positive(n, e, n.inputs[0]), g, e.mul(g, e.op('Add', [n.outputs[0], alpha]))]);
  }),
  HardSigmoid: unary((n, g, e) => {
    const t = typeOf(n, e);
    const y = n.outputs[0];
    const inside = e.op('And', [positive(n, e, y), e.op('Less', [y, e.scalar(1, t)])]);
    return e.mul(g, e.mul(e.mask(inside, t), e.scalar(n.attrs.f('alpha', 0.2), t)));
  }),
  // y = x·clip(x/6 + ½, 0, 1): slope 0 below −3, 1 above 3, x/3 + ½ between.
  HardSwish: unary((n, g, e) => {
    const t = typeOf(n, e);
    const x = n.inputs[0];
    const mid = e.op('Add', [e.mul(x, e.scalar(1 / 3, t)), e.scalar(0.5, t)]);
    const slope = e.op('Where', [e.op('Less', [x, e.scalar(-3, t)]), e.scalar(0, t), e.op('Where', [e.op('Greater', [x, e.scalar(3, t)]), e.scalar(1, t), mid])]);
    return e.mul(g, slope);
  }),
  // Passes the gradient where min ≤ x ≤ max (PyTorch's clamp convention at the bounds).
  Clip: {
    infer: sameAsInput,
    grad: (n, [g], e) => {
      if (!g) return [];
      const [x, lo, hi] = n.inputs;
      const conds: string[] = [];
      if (e.opset >= 11) {
        if (lo) conds.push(e.op('Not', [e.op('Less', [x, lo])]));
        if (hi) conds.push(e.op('Not', [e.op('Greater', [x, hi])]));
      } else {
        const t = typeOf(n, e);
        if (n.attrs.has('min')) conds.push(e.op('Not', [e.op('Less', [x, e.scalar(n.attrs.f('min', 0), t)])]));
        if (n.attrs.has('max')) conds.push(e.op('Not', [e.op('Greater', [x, e.scalar(n.attrs.f('max', 0), t)])]));
      }
      if (!conds.length) return [g];
      const inside = conds.length === 1 ? conds[0] : e.op('And', conds);
      return [e.mul(g, e.mask(inside, typeOf(n, e)))];
    },
  },
  // dx = y ⊙ (g − Σ g⊙y)
  Softmax: unary((n, g, e) => {
    const y = n.outputs[0];
    return e.mul(y, e.op('Sub', [g, e.reduceSum(e.mul(g, y), softmaxAxes(n, e), true)]));
  }),
  // dx = g − exp(y) ⊙ Σ g
  LogSoftmax: unary((n, g, e) => e.op('Sub', [g, e.mul(e.op('Exp', [n.outputs[0]]), e.reduceSum(g, softmaxAxes(n, e), true))])),
};
