/**
 * One PGD iteration as an ONNX graph: the step (pgd.ts's `step`, same ART semantics, same op order) appended to
 * any gradient graph, so that an engine can run whole iterations without handing the gradient back. Works on
 * every model whose inputs are the image batch (+ labels) and whose outputs include the input gradient of the
 * loss — the hand-derived graph of models/native-graph.ts or a generically differentiated one.
 *
 * Added inputs: `x0` (the clean batch, the image input's shape), `eps` and `eps_step` (scalars; a negative
 * eps_step descends: the targeted attack). Added output: `x_next`, the next iterate.
 */
import { OnnxGraph } from '../engine/onnx/graph.js';
import { L2_TOL, type Norm } from './attack.js';

export interface GradientGraphNames {
  /** The image batch input (the current iterate). */
  image: string;
  /** The output holding the loss gradient w.r.t. `image`. */
  gradient: string;
}

export const PGD_GRAPH_INPUTS = { x0: 'x0', eps: 'eps', epsStep: 'eps_step' } as const;
export const PGD_GRAPH_OUTPUT = 'x_next';
/** The NCHW graph's gradient output (NCHW): lossGradient runs on a loop's own sessions, fed a zero step. */
export const PGD_GRAPH_GRADIENT = 'grad_nchw';
/** The gradient graph's logits, kept as an output of the NCHW graph too (logitsAndGradient). */
export const PGD_GRAPH_LOGITS = 'logits';

/**
 * `layout` 'NCHW': the iterate, `x0` and `x_next` are NCHW (the step is elementwise, so the same iterates
 * transposed). The image input then enters through a Transpose to NHWC and the gradient leaves through one
 * back, which ORT cancels against the graph's own NHWC→NCHW transposes: a loop carrying NCHW iterates does no
 * layout work per iteration. Its outputs are `x_next` and the gradient (`grad_nchw`, which the step computes
 * anyway).
 */
export function pgdStepGraph(gradientModel: Uint8Array, norm: Norm, names: GradientGraphNames = { image: 'x', gradient: 'grad' }, layout: 'NHWC' | 'NCHW' = 'NHWC'): Uint8Array {
  const g = OnnxGraph.extend(gradientModel, 'pgd/');
  const x = names.image;
  let dims = g.dims(x);
  let gradient = names.gradient;
  if (layout === 'NCHW') {
    const nhwc = g.replaceInput(x, 'pgd/x_nhwc');
    dims = [dims[0], dims[3], dims[1], dims[2]];
    g.input(x, dims);
    g.op('Transpose', [x], { perm: { ints: [0, 2, 3, 1] } }, nhwc);
    gradient = g.op('Transpose', [gradient], { perm: { ints: [0, 3, 1, 2] } });
    g.output(PGD_GRAPH_GRADIENT, gradient, dims);
  }
  const x0 = g.input(PGD_GRAPH_INPUTS.x0, dims);
  const eps = g.input(PGD_GRAPH_INPUTS.eps, []);
  const step = g.input(PGD_GRAPH_INPUTS.epsStep, []);
  const zero = g.floats([0], []);
  const grad = g.op('Where', [g.op('IsNaN', [gradient]), zero, gradient]);
  const dir = norm === 'inf' ? g.op('Sign', [grad]) : g.op('Div', [grad, add(g, perSampleL2(g, grad), L2_TOL)]);
  const moved = g.op('Clip', [g.op('Add', [x, g.op('Mul', [dir, step])]), zero, g.floats([255], [])]);
  const delta = g.op('Sub', [moved, x0]);
  const projected =
    norm === 'inf'
      ? g.op('Clip', [delta, g.op('Neg', [eps]), eps])
      : g.op('Mul', [delta, g.op('Min', [g.floats([1], []), g.op('Div', [eps, add(g, perSampleL2(g, delta), L2_TOL)])])]);
  g.output(PGD_GRAPH_OUTPUT, g.op('Add', [x0, projected]), dims);
  // A loop in NCHW wants the next iterate and its gradient, not the NHWC ones (whose transposes would then
  // stay); the logits cost nothing more (the gradient needs them) and are only copied out when fetched.
  if (layout === 'NCHW') g.keepOutputs([PGD_GRAPH_OUTPUT, PGD_GRAPH_GRADIENT, PGD_GRAPH_LOGITS]);
  return g.toBytes();
}

/** ‖v‖₂ of each sample of an NHWC batch, shaped [N,1,1,1]. */
function perSampleL2(g: OnnxGraph, v: string): string {
  return g.op('Sqrt', [g.op('ReduceSum', [g.op('Mul', [v, v]), g.int64s([1, 2, 3])], { keepdims: { i: 1 } })]);
}

function add(g: OnnxGraph, v: string, c: number): string {
  return g.op('Add', [v, g.floats([c], [])]);
}
