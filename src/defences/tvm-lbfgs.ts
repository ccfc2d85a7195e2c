/**
 * TotalVarMin's solver as ART 1.20.1 runs it (`solver=lbfgs`): per channel plane, SciPy's L-BFGS-B from z = x
 * with `options={'maxiter': max_iter}`, no bounds, on ART's objective (see tvm.ts) and with ART's analytic
 * gradient — including its factor p on the TV part for p ≥ 2 (2× the true gradient at p = 2) and its floors of
 * 1e-6 on the norms it divides by. The caller clips to [0,255] afterwards, as ART does.
 *
 * Far from the optimum after ART's 10 iterations; this is the defence the paper and ART measured.
 */
import { LbfgsbWorkspace, minimizeLbfgsb, type LbfgsbResult } from '../util/lbfgsb.js';
import type { PlaneSolver } from './tvm-planes.js';

/** ART's floor on the norms its gradient divides by. */
const FLOOR = 1e-6;

/**
 * One h×w channel plane: ART's objective and gradient of z against x and the mask m (0/1), float64.
 * Row-difference i is z[i+1,:] − z[i,:] (one p-norm over j), column-difference j is z[:,j+1] − z[:,j].
 */
export class TvmPlaneObjective {
  readonly x: Float64Array;
  readonly m: Float64Array;
  private readonly rowNorm: Float64Array;
  private readonly colNorm: Float64Array;

  constructor(
    readonly h: number,
    readonly w: number,
    readonly norm: number,
    readonly lamb: number,
  ) {
    this.x = new Float64Array(h * w);
    this.m = new Float64Array(h * w);
    this.rowNorm = new Float64Array(h);
    this.colNorm = new Float64Array(w);
  }

  /** f(z), with ∇f as ART computes it written into g. */
  valueAndGradient(z: Float64Array, g: Float64Array): number {
    const { h, w, x, m, norm, lamb, rowNorm, colNorm } = this;
    const l1 = norm === 1;
    let data = 0;
    rowNorm.fill(0);
    colNorm.fill(0);
    for (let i = 0; i < h; i++) {
      const row = i * w;
      for (let j = 0; j < w; j++) {
        const e = row + j;
        const r = z[e] - x[e];
        data += r * r * m[e];
        if (i < h - 1) rowNorm[i] += l1 ? Math.abs(z[e + w] - z[e]) : (z[e + w] - z[e]) ** 2;
        if (j < w - 1) colNorm[j] += l1 ? Math.abs(z[e + 1] - z[e]) : (z[e + 1] - z[e]) ** 2;
      }
    }
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
    for (let e = 0; e < g.length; e++) g[e] = (z[e] - x[e]) * m[e] * dataScale;
    for (let i = 0; i < h; i++) {
      const row = i * w;
      for (let j = 0; j < w; j++) {
        const e = row + j;
        if (i < h - 1) {
          const d = z[e + w] - z[e];
          const t = lamb * (l1 ? Math.sign(d) : d * rowNorm[i]);
          g[e] -= t;
          g[e + w] += t;
        }
        if (j < w - 1) {
          const d = z[e + 1] - z[e];
          const t = lamb * (l1 ? Math.sign(d) : d * colNorm[j]);
          g[e] -= t;
          g[e + 1] += t;
        }
      }
    }
    return f;
  }
}

/** ART's L-BFGS-B run on one plane. */
export class LbfgsPlane implements PlaneSolver {
  private readonly objective: TvmPlaneObjective;
  private readonly work: LbfgsbWorkspace;
  private readonly z: Float64Array;
  private readonly fg: (z: Float64Array, g: Float64Array) => number;

  constructor(
    h: number,
    w: number,
    private readonly opts: TvmLbfgsOptions,
    private readonly stats?: TvmLbfgsStats,
  ) {
    this.objective = new TvmPlaneObjective(h, w, opts.norm, opts.lamb);
    this.work = new LbfgsbWorkspace(h * w);
    this.z = new Float64Array(h * w);
    this.fg = (z, g) => this.objective.valueAndGradient(z, g);
  }

  get x(): Float64Array {
    return this.objective.x;
  }

  get m(): Float64Array {
    return this.objective.m;
  }

  solve(): Float64Array {
    this.z.set(this.objective.x);
    const run = minimizeLbfgsb(this.fg, this.z, { maxiter: this.opts.max_iter }, this.work);
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
