/**
 * TotalVarMin's solver as ART 1.20.1 runs it (`solver=lbfgs`): per channel plane, SciPy's L-BFGS-B from z = x
 * with `options={'maxiter': max_iter}`, no bounds, on ART's objective (see tvm.ts) and with ART's analytic
 * gradient — including its factor p on the TV part for p ≥ 2 (2× the true gradient at p = 2) and its floors of
 * 1e-6 on the norms it divides by. The caller clips to [0,255] afterwards, as ART does.
 *
 * Far from the optimum after ART's 10 iterations; this is the defence the paper and ART measured.
 */
import { LbfgsbWorkspace, minimizeLbfgsb, type LbfgsbResult, type LineObjective } from '../util/lbfgsb.js';
import {
  abs, add, Arena, F64, f64, forRange, get, gt, I32, i32, iadd, iand, ieq, ieqz, ilt, imul, isub, kernels, load, lt, mul, planeSweep, select, set,
  store, sub, when, type Code,
} from '../util/wasm.js';
import type { PlaneSolver } from './tvm-planes.js';

/** ART's floor on the norms its gradient divides by. */
const FLOOR = 1e-6;

/**
 * One h×w channel plane: ART's objective and gradient of z against x and the mask m (0/1), float64.
 * Row-difference i is z[i+1,:] − z[i,:] (one p-norm over j), column-difference j is z[:,j+1] − z[:,j].
 *
 * Its arrays, and the z and g it is called with, live in one wasm arena: the two passes over the plane (norms,
 * then gradient) are wasm kernels (normsCode, gradientCode), this evaluation being most of an L-BFGS-B
 * iteration's cost.
 */
export class TvmPlaneObjective implements LineObjective {
  readonly x: Float64Array;
  readonly m: Float64Array;
  /** Per row, then per column: the difference vectors' norms, then the gradient's scale factors. */
  private readonly rowNorm: Float64Array;
  private readonly colNorm: Float64Array;
  /** t_row(i−1, j) of the row above, during the gradient pass. */
  private readonly above: Float64Array;
  private readonly kernel: TvmKernel;

  /** The arena's doubles an objective takes. */
  static doubles(h: number, w: number): number {
    return 2 * h * w + h + 2 * w;
  }

  constructor(
    readonly h: number,
    readonly w: number,
    readonly norm: number,
    readonly lamb: number,
    private readonly arena: Arena,
  ) {
    this.x = arena.f64(h * w);
    this.m = arena.f64(h * w);
    this.rowNorm = arena.f64(h);
    this.colNorm = arena.f64(w);
    this.above = arena.f64(w);
    this.kernel = tvmKernel(arena.memory);
  }

  /** f(z), with ∇f as ART computes it written into g. */
  valueAndGradient(z: Float64Array, g: Float64Array): number {
    return this.evaluate(z, g);
  }

  /** The line search's trial: z ← t + stp·d, then f(z) with ∇f into g and g'd into `gd[0]` (see LineObjective). */
  alongLine(t: Float64Array, stp: number, d: Float64Array, z: Float64Array, g: Float64Array, gd: Float64Array): number {
    return this.evaluate(z, g, t, stp, d, gd);
  }

  /** f(z) and ∇f; with `t`, z = t + stp·d is formed as the first pass reaches it, and g'd summed as g is written. */
  private evaluate(z: Float64Array, g: Float64Array, t?: Float64Array, stp = 0, d?: Float64Array, gd?: Float64Array): number {
    const { h, w, norm, lamb, rowNorm, colNorm, arena, kernel } = this;
    const l1 = norm === 1 ? 1 : 0;
    const a = (view: Float64Array) => arena.addr(view);
    const along = t && d ? 1 : 0;
    colNorm.fill(0);
    const data = kernel.norms(h, w, l1, along, stp, a(this.x), a(this.m), a(z), along ? a(t!) : 0, along ? a(d!) : 0, a(rowNorm), a(colNorm));
    const dataNorm = Math.sqrt(data);
    let f = dataNorm;
    let tv = 0;
    if (!l1) {
      for (let i = 0; i < h - 1; i++) rowNorm[i] = Math.sqrt(rowNorm[i]);
      for (let j = 0; j < w - 1; j++) colNorm[j] = Math.sqrt(colNorm[j]);
    }
    for (let i = 0; i < h - 1; i++) tv += rowNorm[i];
    for (let j = 0; j < w - 1; j++) tv += colNorm[j];
    f += lamb * tv;

    const dataScale = 1 / Math.max(dataNorm, FLOOR);
    // p = 2: each difference contributes p·d/‖group‖ (ART's factor p); p = 1: sign(d).
    if (!l1) {
      for (let i = 0; i < h - 1; i++) rowNorm[i] = norm / Math.max(rowNorm[i], FLOOR);
      for (let j = 0; j < w - 1; j++) colNorm[j] = norm / Math.max(colNorm[j], FLOOR);
    }
    const gdot = kernel.gradient(h, w, l1, lamb, dataScale, d ? 1 : 0, a(this.x), a(this.m), a(z), a(g), d ? a(d) : 0, a(rowNorm), a(colNorm), a(this.above));
    if (gd) gd[0] = gdot;
    return f;
  }
}

interface TvmKernel {
  norms(h: number, w: number, l1: number, along: number, stp: number, x: number, m: number, z: number, t: number, d: number, rowNorm: number, colNorm: number): number;
  gradient(h: number, w: number, l1: number, lamb: number, dataScale: number, hasDir: number,
    x: number, m: number, z: number, g: number, d: number, rowNorm: number, colNorm: number, above: number): number;
}

/** Shared parameters' positions: h, w, l1, then each kernel's own. */
const [H, W, L1] = [0, 1, 2];
const at = (base: number, offset: number): Code => iadd(get(base), get(offset));

/**
 * Σ m·(z − x)² in index order, with the row and column sums of d² (p = 2) or |d| (p = 1) into rowNorm and colNorm
 * (zeroed by the caller). With `along`, z = t + stp·d is written row by row just before it is read (row 0 first,
 * row i+1 by row i's differences), the same values as a separate pass.
 */
function normsCode(): Code {
  const [ALONG, STP, X, M, Z, T, D, ROWNORM, COLNORM] = [3, 4, 5, 6, 7, 8, 9, 10, 11];
  const [I, J, ROW, WB, E, LASTCOL, LAST] = [12, 13, 14, 15, 16, 17, 18];
  const [DATA, ROWSUM, ZE, ZR, ZB, DD] = [19, 20, 21, 22, 23, 24];
  // Each sum's next term in its own branch of the (loop-invariant) norm test: a select would compute both.
  const addTerm = (sum: (term: Code) => Code) => when(get(L1), sum(abs(get(DD))), sum(mul(get(DD), get(DD))));
  const below = iadd(get(E), get(WB));
  return [
    ...set(DATA, f64(0)),
    ...planeSweep({ i: I, row: ROW, j: J, wb: WB, lastCol: LASTCOL }, get(W), get(H), [
      ...set(LAST, ieq(get(I), isub(get(H), i32(1)))),
      ...set(ROWSUM, f64(0)),
      ...set(J, i32(0)),
      ...when(iand(ieqz(get(I)), get(ALONG)), forRange(J, get(WB), 8, store(at(Z, J), add(load(at(T, J)), mul(get(STP), load(at(D, J))))))),
      ...set(ZR, load(at(Z, ROW))),
    ], [
        ...set(E, iadd(get(ROW), get(J))),
        ...set(ZE, get(ZR)),
        ...set(DD, sub(get(ZE), load(at(X, E)))),
        ...set(DATA, add(get(DATA), mul(mul(get(DD), get(DD)), load(at(M, E))))),
        ...when(get(LAST), [], [
          ...when(get(ALONG),
            [...set(ZB, add(load(iadd(get(T), below)), mul(get(STP), load(iadd(get(D), below))))), ...store(iadd(get(Z), below), get(ZB))],
            set(ZB, load(iadd(get(Z), below)))),
          ...set(DD, sub(get(ZB), get(ZE))),
          ...addTerm((term) => set(ROWSUM, add(get(ROWSUM), term))),
        ]),
        ...when(ilt(get(J), get(LASTCOL)), [
          ...set(ZR, load(at(Z, E), 8)),
          ...set(DD, sub(get(ZR), get(ZE))),
          ...addTerm((term) => store(at(COLNORM, J), add(load(at(COLNORM, J)), term))),
        ]),
    ], store(iadd(get(ROWNORM), imul(get(I), i32(8))), select(f64(0), get(ROWSUM), get(LAST)))),
    ...get(DATA),
  ];
}

/**
 * g from the scale factors in rowNorm and colNorm (p = 2: p/‖group‖; p = 1: unused, sign(d)), each value's
 * arithmetic in the order of the plain formulation: g[i,j] = data + t_row(i−1,j) + t_col(i,j−1) − t_row(i,j) −
 * t_col(i,j), terms absent at the edges skipped (not added as 0). Returns Σ g·d in index order (with `hasDir`).
 */
function gradientCode(): Code {
  const [LAMB, DATASCALE, HASDIR, X, M, Z, G, D, ROWNORM, COLNORM, ABOVE] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
  const [I, J, ROW, WB, E, LASTCOL, LAST] = [14, 15, 16, 17, 18, 19, 20];
  const [GD, RS, LEFT, ZE, ZR, V, DD, T] = [21, 22, 23, 24, 25, 26, 27, 28];
  // lamb·sign(d) (Math.sign: ±1, or d itself for ±0 and NaN) or lamb·d·scale.
  const sign = when(gt(get(DD), f64(0)), set(T, f64(1)), when(lt(get(DD), f64(0)), set(T, f64(-1)), set(T, get(DD))));
  const tvTerm = (scale: Code) => when(get(L1), [...sign, ...set(T, mul(get(LAMB), get(T)))], set(T, mul(get(LAMB), mul(get(DD), scale))));
  return [
    ...set(GD, f64(0)),
    ...planeSweep({ i: I, row: ROW, j: J, wb: WB, lastCol: LASTCOL }, get(W), get(H), [
      ...set(LAST, ieq(get(I), isub(get(H), i32(1)))),
      ...set(RS, load(iadd(get(ROWNORM), imul(get(I), i32(8))))),
      ...set(LEFT, f64(0)),
      ...set(ZR, load(at(Z, ROW))),
    ], [
        ...set(E, iadd(get(ROW), get(J))),
        ...set(ZE, get(ZR)),
        ...set(V, mul(mul(sub(get(ZE), load(at(X, E))), load(at(M, E))), get(DATASCALE))),
        ...when(get(I), set(V, add(get(V), load(at(ABOVE, J))))),
        ...when(get(J), set(V, add(get(V), get(LEFT)))),
        ...when(get(LAST), [], [
          ...set(DD, sub(load(iadd(at(Z, E), get(WB))), get(ZE))),
          ...tvTerm(get(RS)),
          ...set(V, sub(get(V), get(T))),
          ...store(at(ABOVE, J), get(T)),
        ]),
        ...when(ilt(get(J), get(LASTCOL)), [
          ...set(ZR, load(at(Z, E), 8)),
          ...set(DD, sub(get(ZR), get(ZE))),
          ...tvTerm(load(at(COLNORM, J))),
          ...set(V, sub(get(V), get(T))),
          ...set(LEFT, get(T)),
        ]),
        ...store(at(G, E), get(V)),
        ...when(get(HASDIR), set(GD, add(get(GD), mul(get(V), load(at(D, E)))))),
    ], []),
    ...get(GD),
  ];
}

const tvmKernel = kernels<TvmKernel>(() => [
  {
    name: 'norms',
    params: [I32, I32, I32, I32, F64, ...Array<number>(7).fill(I32)],
    results: [F64],
    locals: [...Array<number>(7).fill(I32), ...Array<number>(6).fill(F64)],
    body: normsCode(),
  },
  {
    name: 'gradient',
    params: [I32, I32, I32, F64, F64, I32, ...Array<number>(8).fill(I32)],
    results: [F64],
    locals: [...Array<number>(7).fill(I32), ...Array<number>(8).fill(F64)],
    body: gradientCode(),
  },
]);

/** ART's L-BFGS-B run on one plane; the objective, the iterate and the solver's arrays in one arena. */
export class LbfgsPlane implements PlaneSolver {
  private readonly objective: TvmPlaneObjective;
  private readonly work: LbfgsbWorkspace;
  private readonly z: Float64Array;

  constructor(
    h: number,
    w: number,
    private readonly opts: TvmLbfgsOptions,
    private readonly stats?: TvmLbfgsStats,
  ) {
    const n = h * w;
    const arena = new Arena(TvmPlaneObjective.doubles(h, w) + LbfgsbWorkspace.doubles(n) + n);
    this.objective = new TvmPlaneObjective(h, w, opts.norm, opts.lamb, arena);
    this.work = new LbfgsbWorkspace(n, undefined, arena);
    this.z = arena.f64(n);
  }

  get x(): Float64Array {
    return this.objective.x;
  }

  get m(): Float64Array {
    return this.objective.m;
  }

  solve(): Float64Array {
    this.z.set(this.objective.x);
    const run = minimizeLbfgsb(this.objective, this.z, { maxiter: this.opts.max_iter }, this.work);
    this.stats?.runs.push(run);
    return this.z;
  }
}

export interface TvmLbfgsOptions {
  norm: number;
  lamb: number;
  max_iter: number;
}

/** What the solver did per plane (for tests and benches). */
export interface TvmLbfgsStats {
  runs: LbfgsbResult[];
}
