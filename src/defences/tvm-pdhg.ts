/**
 * TotalVarMin's `solver=pdhg`: ART's objective (tvm.ts) minimised by the primal–dual hybrid gradient method of
 * Chambolle & Pock (2011) on the box [0,255], one channel plane at a time (see PdhgPlane.solve).
 */
import {
  add, Arena, div, F64, f64, get, gt, I32, i32, iadd, ilt, imul, isub, kernels, le, load, lt, mul, neg, planeSweep, select, set, sqrt, store, sub, when,
  type Code,
} from '../util/wasm.js';
import type { PlaneSolver } from './tvm-planes.js';

/**
 * Primal/dual step balance: τ = S/‖K‖, σ = 1/(S·‖K‖) with ‖K‖ ≤ 3 (masked identity plus two difference
 * operators). Primal values span 0–255 while dual values are bounded by 1 and lamb, so the primal step is
 * made much larger than the dual one.
 */
const STEP_BALANCE = 160;
const K_NORM = 3;

export interface TvmOptions {
  norm: number;
  lamb: number;
  iterations: number;
}

/** Scale factor projecting a vector of squared norm `sq` onto the ball of radius `r`. */
function shrink(sq: number, r: number): number {
  return sq > r * r ? r / Math.sqrt(sq) : 1;
}

/** PDHG on one h×w channel plane; its arrays (in one wasm memory) are reused across planes and images. */
export class PdhgPlane implements PlaneSolver {
  readonly x: Float64Array;
  /** The mask as 0/1 multipliers: the data dual stays 0 where the mask is 0, so no branch is needed. */
  readonly m: Float64Array;
  readonly z: Float64Array;
  readonly zbar: Float64Array;
  readonly q: Float64Array;
  readonly u: Float64Array;
  readonly v: Float64Array;
  readonly rowScale: Float64Array;
  readonly colScale: Float64Array;
  readonly colSq: Float64Array;
  private readonly arena: Arena;
  private readonly kernel: PdhgKernel;

  constructor(
    readonly h: number,
    readonly w: number,
    private readonly opts: TvmOptions,
  ) {
    const n = h * w;
    this.arena = new Arena(7 * n + h + 2 * w);
    [this.x, this.m, this.z, this.zbar, this.q, this.u, this.v] = Array.from({ length: 7 }, () => this.arena.f64(n));
    this.rowScale = this.arena.f64(h);
    this.colScale = this.arena.f64(w);
    this.colSq = this.arena.f64(w);
    this.kernel = pdhgKernel(this.arena.memory);
  }

  /**
   * PDHG from z = x, duals 0. u[i,:] holds the dual of row difference i (row h−1 stays 0), v[:,j] that of
   * column difference j (column w−1 stays 0), q the data term's dual.
   *
   * Each iteration is one sweep down the rows (the kernel's `sweep`, see sweepCode), and one pass along row i
   * does the primal update of row i and the dual update of row i−1 (which needs z̄ of rows i−1 and i) column by
   * column. The primal step at (i, j) reads duals the sweep has not yet updated, so this is exactly the two-pass
   * method, with a working set of a few rows.
   */
  solve(): Float64Array {
    const { opts, h, w, x, z, q, u, v, rowScale, colScale, colSq, arena } = this;
    const a = (view: Float64Array) => arena.addr(view);
    z.set(x);
    q.fill(0);
    u.fill(0);
    v.fill(0);
    rowScale.fill(1);
    colScale.fill(1);
    let dataScale = 1;
    const tau = STEP_BALANCE / K_NORM;
    const sigma = 1 / (STEP_BALANCE * K_NORM);
    const l1 = opts.norm === 1 ? 1 : 0;
    for (let it = 0; it < opts.iterations; it++) {
      colSq.fill(0);
      const dataSq = this.kernel.sweep(h, w, l1, dataScale, opts.lamb, tau, sigma,
        a(x), a(this.m), a(z), a(this.zbar), a(q), a(u), a(v), a(rowScale), a(colScale), a(colSq));
      dataScale = shrink(dataSq, 1);
      if (!l1) for (let j = 0; j < colScale.length; j++) colScale[j] = shrink(colSq[j], opts.lamb);
    }
    return z;
  }
}

interface PdhgKernel {
  sweep(h: number, w: number, l1: number, ds: number, lamb: number, tau: number, sigma: number,
    x: number, m: number, z: number, zbar: number, q: number, u: number, v: number, rowScale: number, colScale: number, colSq: number): number;
}

/**
 * One PDHG iteration's sweep over rows i = 0…h, returning Σ of the data dual's squares. Row i's primal step
 * (i < h) and row i−1's dual step (i > 0), column by column:
 *
 * Primal: z ← clip(z − τ·Kᵀy, 0, 255), z̄ = 2z_new − z. The duals are stored before their ball projection and the
 * projection's scale factors (from the previous dual step) are applied as they are read; the primal step stores
 * the scaled values back, which are exactly what the dual step of the same row (one pass later) and the primal
 * step of the row below read.
 *
 * Dual: y ← proj(y) + σ·K z̄, then this step's projection: clamps (p = 1) or the groups' squared norms for the
 * next scale factors (p = 2: rowScale of row i−1 here, colScale from colSq by the caller).
 */
function sweepCode(): Code {
  // Parameters, then locals (byte offsets are i32; j and the row's start are byte offsets too).
  const [H, W, L1, DS, LAMB, TAU, SIGMA, X, M, Z, ZBAR, Q, U, V, ROWSCALE, COLSCALE, COLSQ] = Array.from({ length: 17 }, (_, k) => k);
  const [I, J, ROW, WB, E, EA, LASTCOL] = [17, 18, 19, 20, 21, 22, 23];
  const [RS, VLEFT, ROWSQ, DSQ, TOTAL, QS, UE, US, VS, UUP, G, OLD, ZN, ZB, ZU, QE, T] = Array.from({ length: 17 }, (_, k) => 24 + k);
  const at = (base: number, offset: number) => iadd(get(base), get(offset));
  const primal = ilt(get(I), get(H));
  const dual = ilt(i32(0), get(I));
  const clamp = (local: number) => when(gt(get(local), get(LAMB)), set(local, get(LAMB)), when(lt(get(local), neg(get(LAMB))), set(local, neg(get(LAMB)))));
  const shrinkRow = select(div(get(LAMB), sqrt(get(ROWSQ))), f64(1), gt(get(ROWSQ), mul(get(LAMB), get(LAMB))));
  const primalStep: Code = [
    ...set(E, iadd(get(ROW), get(J))),
    ...set(QS, mul(load(at(Q, E)), get(DS))),
    ...set(UE, load(at(U, E))),
    ...set(US, mul(get(UE), get(RS))),
    ...set(VS, mul(load(at(V, E)), load(at(COLSCALE, J)))),
    ...store(at(Q, E), get(QS)),
    ...store(at(U, E), get(US)),
    ...store(at(V, E), get(VS)),
    // Row 0 has no row above: the formulation adds its own u times a zero scale there.
    ...when(dual, set(UUP, load(isub(at(U, E), get(WB)))), set(UUP, mul(get(UE), f64(0)))),
    ...set(G, add(sub(add(sub(get(QS), get(US)), get(UUP)), get(VS)), get(VLEFT))),
    ...set(VLEFT, get(VS)),
    ...set(OLD, load(at(Z, E))),
    ...set(T, sub(get(OLD), mul(get(TAU), get(G)))),
    // clip255 as branches: V8's code for a float select is slower than a well-predicted branch.
    ...when(le(get(T), f64(0)), set(ZN, f64(0)), when(gt(get(T), f64(255)), set(ZN, f64(255)), set(ZN, get(T)))),
    ...store(at(Z, E), get(ZN)),
    ...set(ZB, sub(mul(f64(2), get(ZN)), get(OLD))),
    ...store(at(ZBAR, E), get(ZB)),
  ];
  const dualStep: Code = [
    ...set(EA, isub(iadd(get(ROW), get(J)), get(WB))),
    ...set(ZU, load(at(ZBAR, EA))),
    ...set(QE, add(load(at(Q, EA)), mul(mul(get(SIGMA), load(at(M, EA))), sub(get(ZU), load(at(X, EA)))))),
    ...store(at(Q, EA), get(QE)),
    ...set(DSQ, add(get(DSQ), mul(get(QE), get(QE)))),
    // Row i−1's row difference exists when row i does.
    ...when(primal, [
      ...set(UE, add(get(UUP), mul(get(SIGMA), sub(get(ZB), get(ZU))))),
      ...when(get(L1), clamp(UE), set(ROWSQ, add(get(ROWSQ), mul(get(UE), get(UE))))),
      ...store(at(U, EA), get(UE)),
    ]),
    ...when(ilt(get(J), get(LASTCOL)), [
      ...set(T, add(load(at(V, EA)), mul(get(SIGMA), sub(load(at(ZBAR, EA), 8), get(ZU))))),
      ...when(get(L1), clamp(T), store(at(COLSQ, J), add(load(at(COLSQ, J)), mul(get(T), get(T))))),
      ...store(at(V, EA), get(T)),
    ]),
  ];
  return [
    ...set(TOTAL, f64(0)),
    ...planeSweep({ i: I, row: ROW, j: J, wb: WB, lastCol: LASTCOL }, get(W), iadd(get(H), i32(1)), [
      ...set(RS, f64(0)),
      ...when(primal, set(RS, load(iadd(get(ROWSCALE), imul(get(I), i32(8)))))),
      ...set(VLEFT, f64(0)),
      ...set(ROWSQ, f64(0)),
      ...set(DSQ, f64(0)),
    ], [
      ...set(ZB, f64(0)),
      ...set(UUP, f64(0)),
      ...when(primal, primalStep),
      ...when(dual, dualStep),
    ], when(dual, [
      ...set(TOTAL, add(get(TOTAL), get(DSQ))),
      ...when(get(L1), [], store(isub(iadd(get(ROWSCALE), imul(get(I), i32(8))), i32(8)), shrinkRow)),
    ])),
    ...get(TOTAL),
  ];
}

const pdhgKernel = kernels<PdhgKernel>(() => [{
  name: 'sweep',
  params: [I32, I32, I32, F64, F64, F64, F64, ...Array<number>(10).fill(I32)],
  results: [F64],
  locals: [...Array<number>(7).fill(I32), ...Array<number>(17).fill(F64)],
  body: sweepCode(),
}]);
