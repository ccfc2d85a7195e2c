/**
 * What one op contributes to the differentiator: its shape/type inference (with known values for shape
 * arithmetic, which is how exporters' Shape → Gather → Concat chains fold) and its gradient rule.
 */
import type { Attrs, NodeProto } from './model.js';
import type { Emitter } from './emitter.js';

/** A dimension: a size, or a symbol for one only known at run time (the batch). */
export type Dim = number | string;

/** What is known about a tensor before running the model. */
export interface Info {
  type: number;
  shape: Dim[];
  /** Its contents when known here (constants, shape arithmetic); a string is a symbolic size. */
  value?: ArrayLike<number | string>;
}

/** A forward node as the rules see it ('' = an absent optional input). */
export interface Node {
  proto: NodeProto;
  op: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs: Attrs;
}

export interface OpRule {
  /** Output infos from input infos (undefined for an absent optional input). Throws on a mismatch. */
  infer(n: Node, ins: (Info | undefined)[], opset: number): Info[];
  /**
   * Gradients of the inputs from gradients of the outputs (undefined = zero). `needs[i]` says whether input i
   * depends on the differentiated tensor; a rule may leave the others undefined. Absent = not differentiable
   * (integer outputs, masks).
   */
  grad?(n: Node, gys: (string | undefined)[], e: Emitter, needs: boolean[]): (string | undefined)[];
}

/** An error about one node, naming it. */
export function nodeError(n: Node, msg: string): Error {
  return new Error(`${n.op} node '${n.name}': ${msg}`);
}

export function numeric(d: Dim): d is number {
  return typeof d === 'number';
}

/** The shape's sizes, all of which must be known here. */
export function staticShape(n: Node, info: Info, what: string): number[] {
  if (!info.shape.every(numeric)) throw nodeError(n, `${what} needs static sizes, got [${info.shape}]`);
  return info.shape as number[];
}

export function normAxis(n: Node, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw nodeError(n, `axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Multidirectional (numpy) broadcasting. */
export function broadcast(n: Node, a: Dim[], b: Dim[]): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x === 1) out.push(y);
    else if (y === 1 || x === y) out.push(x);
    else if (numeric(x) && numeric(y)) throw nodeError(n, `shapes [${a}] and [${b}] do not broadcast`);
    else out.push(numeric(x) ? y : x);
  }
  return out;
}

/** Product of sizes; symbolic when any is. */
export function product(dims: Dim[]): Dim {
  if (dims.every(numeric)) return (dims as number[]).reduce((p, d) => p * d, 1);
  const known = (dims.filter(numeric) as number[]).reduce((p, d) => p * d, 1);
  const syms = dims.filter((d) => !numeric(d));
  return known === 1 && syms.length === 1 ? syms[0] : [known, ...syms].join('*');
}

/** The known numeric values of input `i`, or an error saying it must be constant. */
export function constInts(n: Node, info: Info | undefined, what: string): number[] {
  const v = info?.value;
  if (!v || !Array.from(v).every((x) => typeof x === 'number')) throw nodeError(n, `${what} must be a constant`);
  return Array.from(v as ArrayLike<number>);
}

/** Like the input, for elementwise unary ops. */
export const sameAsInput = (_n: Node, ins: (Info | undefined)[]): Info[] => [{ type: ins[0]!.type, shape: ins[0]!.shape }];
