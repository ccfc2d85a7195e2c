/**
 * A forward model made ready to differentiate: opset ≥ 11 checked and brought to ≥ 17 (the few ops whose
 * signature changed), every op checked against the rule table, nodes sorted, shapes and types inferred (batch
 * sizes stay symbols), and shape-only subgraphs folded into constants.
 */
import { Attrs, DT, makeTensor, num, opsetOf, tensorValues, type ModelProto, type NodeProto, type TensorProto } from './model.js';
import { OP_RULES } from './registry.js';
import type { Dim, Info, Node } from './rule.js';

/** The opset gradient graphs are written in (the lowest with ScatterElements' reduction). */
const TARGET_OPSET = 17;
/** Folded values larger than this stay computed at run time. */
const FOLD_LIMIT = 4096;

export interface Analysis {
  nodes: Node[];
  initializers: TensorProto[];
  infos: Map<string, Info>;
  opset: number;
  inputs: string[];
}

export function toNode(proto: NodeProto, index: number): Node {
  const op = proto.opType ?? '';
  const name = proto.name || `${op}_${index}`;
  return { proto, op, name, inputs: proto.input ?? [], outputs: proto.output ?? [], attrs: new Attrs(proto) };
}

/** `model`'s graph analysed; errors are one line naming `file`, the node and the cause. */
export function analyse(model: ModelProto, file = 'model', live: string[] = []): Analysis {
  const graph = model.graph;
  if (!graph) throw new Error(`${file}: not a valid ONNX model (no graph)`);
  const opset = opsetOf(model);
  if (opset < 11) throw new Error(`${file}: opset ${opset} is not supported (export with opset ≥ 11)`);
  const initializers = [...(graph.initializer ?? [])];
  const protos = upgrade((graph.node ?? []).map(copyNode), opset, initializers);
  const nodes = sortNodes(protos.map(toNode), file);
  for (const n of nodes) {
    if (n.proto.domain && n.proto.domain !== 'ai.onnx') throw new Error(`${file}: op ${n.proto.domain}.${n.op} (node '${n.name}') is not supported`);
    if (!OP_RULES[n.op]) throw new Error(`${file}: op ${n.op} (node '${n.name}') is not supported by the gradient compiler`);
  }
  const infos = new Map<string, Info>();
  for (const t of initializers) infos.set(t.name ?? '', { type: t.dataType ?? DT.FLOAT, shape: (t.dims ?? []).map(num), value: tensorValues(t) });
  const inputs: string[] = [];
  for (const vi of graph.input ?? []) {
    const name = vi.name ?? '';
    if (infos.has(name)) continue;
    const tt = vi.type?.tensorType;
    const shape: Dim[] = (tt?.shape?.dim ?? []).map((d, i) => (d.dimValue != null && num(d.dimValue) > 0 ? num(d.dimValue) : d.dimParam || `${name}:${i}`));
    infos.set(name, { type: tt?.elemType ?? DT.FLOAT, shape });
    inputs.push(name);
  }
  const declared = inputs.map((i) => `'${i}' [${infos.get(i)!.shape}]`).join(', ');
  const opsetNow = Math.max(opset, TARGET_OPSET);
  for (const n of nodes) {
    const ins = n.inputs.map((i) => {
      if (!i) return undefined;
      const info = infos.get(i);
      if (!info) throw new Error(`${file}: node '${n.name}' (${n.op}) reads '${i}', which nothing produces`);
      return info;
    });
    let outs: Info[];
    try {
      outs = OP_RULES[n.op].infer(n, ins, opsetNow);
    } catch (e) {
      throw new Error(`${file}: ${(e as Error).message} (graph input ${declared})`);
    }
    n.outputs.forEach((o, i) => o && outs[i] && infos.set(o, outs[i]));
  }
  const folded = fold(nodes, initializers, infos, new Set([...(graph.output ?? []).map((o) => o.name ?? ''), ...live]));
  return { nodes: folded, initializers, infos, opset: opsetNow, inputs };
}

function copyNode(n: NodeProto): NodeProto {
  return { ...n, input: [...(n.input ?? [])], output: [...(n.output ?? [])], attribute: [...(n.attribute ?? [])] };
}

/**
 * Opset 11/12 → 17: axes/split attributes become inputs (13), softmax over trailing axes becomes explicit
 * (13 changed its meaning), Dropout (inference) is an Identity.
 */
function upgrade(nodes: NodeProto[], opset: number, initializers: TensorProto[]): NodeProto[] {
  let count = 0;
  const constant = (values: number[]) => {
    const name = `upgrade/const_${count++}`;
    initializers.push(makeTensor(name, DT.INT64, [values.length], values));
    return name;
  };
  const out: NodeProto[] = [];
  for (const n of nodes) {
    if (n.opType === 'Dropout' && (n.output ?? []).length <= 1) {
      out.push({ ...n, opType: 'Identity', input: [n.input![0]], attribute: [] });
      continue;
    }
    if (opset >= 13) {
      out.push(n);
      continue;
    }
    const take = (attr: string): number[] | undefined => {
      const a = n.attribute!.find((x) => x.name === attr);
      if (!a) return undefined;
      n.attribute = n.attribute!.filter((x) => x !== a);
      return (a.ints ?? []).map(num);
    };
    if (n.opType === 'Squeeze' || n.opType === 'Unsqueeze' || n.opType === 'ReduceSum') {
      const axes = take('axes');
      if (axes) n.input = [n.input![0], constant(axes)];
    } else if (n.opType === 'Split') {
      const split = take('split');
      if (split) n.input = [n.input![0], constant(split)];
    } else if (n.opType === 'Softmax' || n.opType === 'LogSoftmax') {
      const axis = new Attrs(n).i('axis', 1);
      const x = n.input![0];
      const flat = `upgrade/flat_${count++}`;
      const soft = `upgrade/soft_${count++}`;
      const shape = `upgrade/shape_${count++}`;
      const attr = (name: string, i: number) => ({ name, type: 2, i });
      out.push({ opType: 'Flatten', input: [x], output: [flat], attribute: [attr('axis', axis)], name: flat });
      out.push({ opType: n.opType, input: [flat], output: [soft], attribute: [attr('axis', 1)], name: soft });
      out.push({ opType: 'Shape', input: [x], output: [shape], attribute: [], name: shape });
      out.push({ ...n, opType: 'Reshape', input: [soft, shape], attribute: [] });
      continue;
    }
    out.push(n);
  }
  return out;
}

/** Topological order (exporters emit one; a graph that has none is refused). */
function sortNodes(nodes: Node[], file: string): Node[] {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => n.outputs.forEach((o) => o && producer.set(o, i)));
  const state = new Uint8Array(nodes.length);
  const order: Node[] = [];
  const visit = (i: number) => {
    if (state[i] === 2) return;
    if (state[i] === 1) throw new Error(`${file}: the graph has a cycle through node '${nodes[i].name}'`);
    state[i] = 1;
    for (const input of nodes[i].inputs) {
      const p = producer.get(input);
      if (p !== undefined) visit(p);
    }
    state[i] = 2;
    order.push(nodes[i]);
  };
  nodes.forEach((_, i) => visit(i));
  return order;
}

const fullyKnown = (i: Info | undefined): i is Info & { value: ArrayLike<number> } =>
  !!i?.value && i.value.length <= FOLD_LIMIT && Array.from(i.value).every((v) => typeof v === 'number') && i.shape.every((d) => typeof d === 'number');

/**
 * Nodes whose outputs are all known become initializers; a Reshape target known up to batch symbols that sit
 * where the input has them becomes a constant with 0 (copy) there. Then nodes no output needs are dropped.
 */
function fold(nodes: Node[], initializers: TensorProto[], infos: Map<string, Info>, outputs: Set<string>): Node[] {
  const kept: Node[] = [];
  const have = new Set(initializers.map((t) => t.name));
  let count = 0;
  for (const n of nodes) {
    const outs = n.outputs.map((o) => infos.get(o));
    if (n.outputs.every((o, i) => o && !outputs.has(o) && fullyKnown(outs[i]))) {
      n.outputs.forEach((o, i) => {
        const info = outs[i]!;
        initializers.push(makeTensor(o, info.type === DT.BOOL || info.type === DT.INT64 || info.type === DT.DOUBLE || info.type === DT.INT32 || info.type === DT.UINT8 ? info.type : DT.FLOAT, info.shape as number[], info.value as ArrayLike<number>));
        have.add(o);
      });
      continue;
    }
    if (n.op === 'Reshape' && !have.has(n.inputs[1]) && n.attrs.i('allowzero', 0) === 0) {
      const target = Array.from(infos.get(n.inputs[1])!.value!);
      const x = infos.get(n.inputs[0])!.shape;
      if (target.every((d, i) => typeof d === 'number' || d === x[i])) {
        const name = `fold/shape_${count++}`;
        initializers.push(makeTensor(name, DT.INT64, [target.length], target.map((d) => (typeof d === 'number' ? d : 0))));
        infos.set(name, { type: DT.INT64, shape: [target.length], value: target.map((d) => (typeof d === 'number' ? d : 0)) });
        n.inputs[1] = name;
      }
    }
    kept.push(n);
  }
  return removeDead(kept, outputs);
}

/** Nodes that contribute to `outputs`, in order. */
export function removeDead<T extends { inputs: string[]; outputs: string[] }>(nodes: T[], outputs: Set<string>): T[] {
  const needed = new Set(outputs);
  const live: T[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    if (!n.outputs.some((o) => needed.has(o))) continue;
    live.push(n);
    n.inputs.forEach((x) => x && needed.add(x));
  }
  return live.reverse();
}
