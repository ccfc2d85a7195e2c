/** BatchNormalization (inference: a per-channel affine map) and InstanceNormalization. */
import { nodeError, sameAsInput, type Node, type OpRule } from './rule.js';
import type { Emitter } from './emitter.js';

/** A per-channel vector [C] shaped to broadcast over [N, C, ...] of `rank`. */
const perChannel = (v: string, rank: number, e: Emitter) => e.unsqueeze(v, Array.from({ length: rank - 2 }, (_, i) => i + 1));

function onlyInput(n: Node, needs: boolean[]): void {
  if (needs.slice(1).some(Boolean)) throw nodeError(n, 'only the gradient w.r.t. its input is supported (its parameters must not depend on it)');
}

const batchNorm: OpRule = {
  infer: (n, ins) => {
    if (n.attrs.i('training_mode', 0) === 1) throw nodeError(n, 'training_mode=1 is not supported (export the model in eval mode)');
    return [sameAsInput(n, ins)[0]];
  },
  // dx = g · scale / √(var + ε)
  grad: (n, [g], e, needs) => {
    if (!g) return [];
    onlyInput(n, needs);
    const [x, scale, , , variance] = n.inputs;
    const t = e.info(x).type;
    const inv = e.op('Div', [scale, e.op('Sqrt', [e.op('Add', [variance, e.scalar(n.attrs.f('epsilon', 1e-5), t)])])]);
    return [e.mul(g, perChannel(inv, e.info(x).shape.length, e))];
  },
};

const instanceNorm: OpRule = {
  infer: sameAsInput,
  // With x̂ = (x − μ)/σ over each (n, c)'s spatial axes: dx = scale/σ · (g − mean g − x̂ · mean(g x̂)).
  grad: (n, [g], e, needs) => {
    if (!g) return [];
    onlyInput(n, needs);
    const [x, scale] = n.inputs;
    const { type: t, shape } = e.info(x);
    const axes = Array.from({ length: shape.length - 2 }, (_, i) => i + 2);
    const centred = e.op('Sub', [x, e.reduceMean(x, axes, true)]);
    const sigma = e.op('Sqrt', [e.op('Add', [e.reduceMean(e.mul(centred, centred), axes, true), e.scalar(n.attrs.f('epsilon', 1e-5), t)])]);
    const xhat = e.op('Div', [centred, sigma]);
    const inner = e.op('Sub', [e.op('Sub', [g, e.reduceMean(g, axes, true)]), e.mul(xhat, e.reduceMean(e.mul(g, xhat), axes, true))]);
    return [e.mul(e.op('Div', [perChannel(scale, shape.length, e), sigma]), inner)];
  },
};

export const normalizationRules: Record<string, OpRule> = { BatchNormalization: batchNorm, InstanceNormalization: instanceNorm };
