/**
 * Reverse-mode differentiation of an ONNX graph: the returned model also outputs grad_<wrt>, the gradient of
 * the sum of tensor `of` with respect to tensor `wrt`, as ONNX nodes appended after the forward ones (run by any
 * ONNX runtime; ORT has no autodiff at inference time).
 */
import { analyse, removeDead } from './analyse.js';
import { Emitter } from './emitter.js';
import { makeTensor, onnx, type ModelProto, type NodeProto } from './model.js';
import { OP_RULES } from './registry.js';
import type { Info } from './rule.js';

export interface DifferentiateOptions {
  /** The tensor to differentiate with respect to (usually a graph input). */
  wrt: string;
  /** The tensor whose sum is differentiated: a loss, or outputs × a seed input for a vector-Jacobian product. */
  of: string;
  /** Outputs to keep besides the gradient (default: the model's outputs). */
  keep?: string[];
  /** Named in errors. */
  file?: string;
}

export function differentiate(model: ModelProto, opts: { wrt: string; of: string; keep?: string[]; file?: string }): ModelProto {
  const { wrt, of, file = 'model' } = opts;
  const graph = model.graph!;
  const keep = opts.keep ?? (graph.output ?? []).map((o) => o.name ?? '');
  const a = analyse(model, file, [of, ...keep]);
  const { infos } = a;
  for (const [what, name] of [['wrt', wrt], ['of', of], ...keep.map((k) => ['keep', k])])
    if (!infos.has(name)) throw new Error(`${file}: differentiate: ${what} '${name}' is not a tensor of the graph`);

  // The nodes the gradient flows through: downstream of wrt and upstream of of.
  const depends = new Set([wrt]);
  for (const n of a.nodes) if (n.inputs.some((i) => depends.has(i))) n.outputs.forEach((o) => depends.add(o));
  if (!depends.has(of)) throw new Error(`${file}: differentiate: '${of}' does not depend on '${wrt}'`);
  const upstream = new Set([of]);
  const active = [];
  for (let i = a.nodes.length - 1; i >= 0; i--) {
    const n = a.nodes[i];
    if (!n.outputs.some((o) => upstream.has(o))) continue;
    n.inputs.forEach((x) => x && upstream.add(x));
    if (n.inputs.some((x) => depends.has(x))) active.push(n);
  }

  const emitted: NodeProto[] = [];
  const initializers = [...a.initializers];
  const e = new Emitter(emitted, initializers, a.opset, infos, `grad_${wrt}`);
  const parts = new Map<string, string[]>();
  const add = (t: string, g: string) => parts.set(t, [...(parts.get(t) ?? []), g]);
  const ofInfo = infos.get(of)!;
  add(of, e.op('ConstantOfShape', [e.shape(of)], { value: { t: makeTensor('', ofInfo.type, [1], [1]) } }));
  for (const n of active) {
    const gys = n.outputs.map((o) => (parts.has(o) ? e.sum(parts.get(o)!) : undefined));
    if (!gys.some(Boolean)) continue;
    const rule = OP_RULES[n.op];
    if (!rule.grad) continue;
    const needs = n.inputs.map((i) => !!i && depends.has(i));
    let gxs: (string | undefined)[];
    try {
      gxs = rule.grad(n, gys, e, needs);
    } catch (err) {
      throw new Error(`${file}: ${(err as Error).message}`);
    }
    n.inputs.forEach((input, i) => needs[i] && gxs[i] && add(input, gxs[i]!));
  }
  const contributions = parts.get(wrt);
  if (!contributions) throw new Error(`${file}: differentiate: '${of}' depends on '${wrt}' only through non-differentiable ops`);
  const gradName = `grad_${wrt}`;
  emitted.push({ opType: 'Identity', input: [e.sum(contributions)], output: [gradName], name: gradName });

  const outputs = [...keep, gradName];
  const protos = [...a.nodes.map((n) => n.proto), ...emitted];
  const live = removeDead(protos.map((p) => ({ proto: p, inputs: p.input ?? [], outputs: p.output ?? [] })), new Set(outputs));
  const used = new Set(live.flatMap((n) => n.inputs));
  const declared = new Map((graph.output ?? []).map((o) => [o.name ?? '', o]));
  const valueInfo = (name: string, info: Info) => declared.get(name) ?? onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: info.type, shape: { dim: info.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } });
  return {
    ...model,
    opsetImport: [...(model.opsetImport ?? []).filter((o) => o.domain && o.domain !== 'ai.onnx'), { domain: '', version: a.opset }],
    graph: {
      ...graph,
      node: live.map((n) => n.proto),
      initializer: initializers.filter((t) => used.has(t.name ?? '')),
      input: (graph.input ?? []).filter((i) => a.inputs.includes(i.name ?? '') && (used.has(i.name ?? '') || outputs.includes(i.name ?? ''))),
      output: [...keep.map((k) => valueInfo(k, infos.get(k)!)), valueInfo(gradName, infos.get(wrt)!)],
      valueInfo: [],
    },
  };
}
