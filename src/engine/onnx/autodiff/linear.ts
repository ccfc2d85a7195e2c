/** Gemm and MatMul (batched, broadcast, 1-D operands). */
import { broadcast, nodeError, type Dim, type OpRule } from './rule.js';
import type { Emitter } from './emitter.js';

const gemm: OpRule = {
  infer: (n, ins) => {
    const [a, b] = [ins[0]!, ins[1]!];
    if (a.shape.length !== 2 || b.shape.length !== 2) throw nodeError(n, `needs 2-D operands, got [${a.shape}] and [${b.shape}]`);
    const [m, ka] = n.attrs.i('transA', 0) ? [a.shape[1], a.shape[0]] : a.shape;
    const [kb, nn] = n.attrs.i('transB', 0) ? [b.shape[1], b.shape[0]] : b.shape;
    if (typeof ka === 'number' && typeof kb === 'number' && ka !== kb) throw nodeError(n, `inner sizes differ: [${a.shape}] × [${b.shape}]`);
    return [{ type: a.type, shape: [m, nn] }];
  },
  // Y = α·A'B' + βC with A' = A or Aᵀ, B' = B or Bᵀ: each operand's gradient is one Gemm.
  grad: (n, [g], e, needs) => {
    if (!g) return [];
    const [a, b, c] = n.inputs;
    const [tA, tB] = [n.attrs.i('transA', 0), n.attrs.i('transB', 0)];
    const alpha = { alpha: { f: n.attrs.f('alpha', 1) } };
    const t = (x: number) => ({ i: x });
    const da = !needs[0] ? undefined : tA ? e.op('Gemm', [b, g], { ...alpha, transA: t(tB), transB: t(1) }) : e.op('Gemm', [g, b], { ...alpha, transB: t(1 - tB) });
    const db = !needs[1] ? undefined : tB ? e.op('Gemm', [g, a], { ...alpha, transA: t(1), transB: t(tA) }) : e.op('Gemm', [a, g], { ...alpha, transA: t(1 - tA) });
    let dc: string | undefined;
    if (c && needs[2]) {
      const beta = n.attrs.f('beta', 1);
      const gc = beta === 1 ? g : e.mul(g, e.scalar(beta, e.info(c).type));
      dc = e.unbroadcast(gc, e.info(n.outputs[0]).shape, e.info(c).shape);
    }
    return [da, db, dc];
  },
};

/** Swap the last two axes. */
function transposeLast(x: string, rank: number, e: Emitter): string {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return e.op('Transpose', [x], { perm: { ints: perm } });
}

const matMul: OpRule = {
  infer: (n, ins) => {
    const [a, b] = [ins[0]!.shape, ins[1]!.shape];
    const a2 = a.length === 1 ? [1, a[0]] : a;
    const b2 = b.length === 1 ? [b[0], 1] : b;
    const [ka, kb] = [a2[a2.length - 1], b2[b2.length - 2]];
    if (typeof ka === 'number' && typeof kb === 'number' && ka !== kb) throw nodeError(n, `inner sizes differ: [${a}] × [${b}]`);
    const shape: Dim[] = [...broadcast(n, a2.slice(0, -2), b2.slice(0, -2)), ...(a.length === 1 ? [] : [a2[a2.length - 2]]), ...(b.length === 1 ? [] : [b2[b2.length - 1]])];
    return [{ type: ins[0]!.type, shape }];
  },
  // With 1-D operands lifted to matrices (A → [1,K], B → [K,1]) and the output gradient to match:
  // dA = g·Bᵀ, dB = Aᵀ·g, each summed over broadcast batch axes.
  grad: (n, [g], e, needs) => {
    if (!g) return [];
    const [a, b] = n.inputs;
    const [sa, sb] = [e.info(a).shape, e.info(b).shape];
    const a2 = sa.length === 1 ? [1, sa[0]] : sa;
    const b2 = sb.length === 1 ? [sb[0], 1] : sb;
    const batch = broadcast(n, a2.slice(0, -2), b2.slice(0, -2));
    const y2: Dim[] = [...batch, a2[a2.length - 2], b2[b2.length - 1]];
    const r = y2.length;
    let g2 = g;
    if (sa.length === 1) g2 = e.unsqueeze(g2, [r - 2]);
    if (sb.length === 1) g2 = e.unsqueeze(g2, [r - 1]);
    const A = sa.length === 1 ? e.unsqueeze(a, [0]) : a;
    const B = sb.length === 1 ? e.unsqueeze(b, [1]) : b;
    const back = (d: string, full: Dim[], lifted: Dim[], orig: Dim[], axis: number) => {
      const summed = e.unbroadcast(d, full, lifted);
      return orig.length === 1 ? e.squeeze(summed, [axis]) : summed;
    };
    const da = needs[0] ? back(e.op('MatMul', [g2, transposeLast(B, b2.length, e)]), [...batch, a2[a2.length - 2], a2[a2.length - 1]], a2, sa, 0) : undefined;
    const db = needs[1] ? back(e.op('MatMul', [transposeLast(A, a2.length, e), g2]), [...batch, b2[b2.length - 2], b2[b2.length - 1]], b2, sb, 1) : undefined;
    return [da, db];
  },
};

export const linearRules: Record<string, OpRule> = { Gemm: gemm, MatMul: matMul };
