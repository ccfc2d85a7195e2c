/** ReduceSum / ReduceMean / ReduceL2: the output gradient broadcast back over the reduced axes. */
import { constInts, nodeError, normAxis, type Info, type Node, type OpRule } from './rule.js';
import type { Emitter } from './emitter.js';

/** The reduced axes (attribute, or the second input from opset 13 for ReduceSum and 18 for the others). */
function reducedAxes(n: Node, x: Info, axesInput: Info | undefined): number[] {
  const rank = x.shape.length;
  const listed = n.inputs[1] ? constInts(n, axesInput, 'axes') : n.attrs.ints('axes');
  if (!listed || !listed.length) {
    if (n.attrs.i('noop_with_empty_axes', 0) === 1) return [];
    return Array.from({ length: rank }, (_, i) => i);
  }
  return [...new Set(listed.map((a) => normAxis(n, a, rank)))].sort((a, b) => a - b);
}

function infer(n: Node, ins: (Info | undefined)[]): Info[] {
  const x = ins[0]!;
  const axes = reducedAxes(n, x, ins[1]);
  const keep = n.attrs.i('keepdims', 1) === 1;
  const shape = x.shape.flatMap((d, i) => (axes.includes(i) ? (keep ? [1] : []) : [d]));
  return [{ type: x.type, shape }];
}

function reduceRule(local: (n: Node, gk: string, axes: number[], e: Emitter) => string): OpRule {
  return {
    infer,
    grad: (n, [g], e) => {
      if (!g) return [];
      const x = e.info(n.inputs[0]);
      const axes = reducedAxes(n, x, n.inputs[1] ? e.info(n.inputs[1]) : undefined);
      const keep = n.attrs.i('keepdims', 1) === 1;
      return [local(n, keep ? g : e.unsqueeze(g, axes), axes, e)];
    },
  };
}

export const reduceRules: Record<string, OpRule> = {
  ReduceSum: reduceRule((n, gk, _axes, e) => e.op('Expand', [gk, e.shape(n.inputs[0])])),
  ReduceMean: reduceRule((n, gk, axes, e) => {
    const x = e.info(n.inputs[0]);
    const count = axes.reduce<number>((p, a) => {
      const d = x.shape[a];
      if (typeof d !== 'number') throw nodeError(n, `needs static sizes on the reduced axes, got [${x.shape}]`);
      return p * d;
    }, 1);
    return e.op('Expand', [e.mul(gk, e.scalar(1 / count, x.type)), e.shape(n.inputs[0])]);
  }),
  // d‖x‖/dx = x / ‖x‖
  ReduceL2: reduceRule((n, gk, axes, e) => {
    const y = n.attrs.i('keepdims', 1) === 1 ? n.outputs[0] : e.unsqueeze(n.outputs[0], axes);
    return e.mul(gk, e.op('Div', [n.inputs[0], y]));
  }),
};
