/**
 * TotalVarMin's `solver=pdhg`: ART's objective (tvm.ts) minimised by the primal–dual hybrid gradient method of
 * Chambolle & Pock (2011) on the box [0,255], one channel plane at a time (see PdhgPlane.solve).
 */
import { clip255 } from '../util/clip.js';
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

/** PDHG on one h×w channel plane; its arrays are reused across planes and images. */
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

  constructor(
    readonly h: number,
    readonly w: number,
    private readonly opts: TvmOptions,
  ) {
    const n = h * w;
    [this.x, this.m, this.z, this.zbar, this.q, this.u, this.v] = Array.from({ length: 7 }, () => new Float64Array(n));
    this.rowScale = new Float64Array(h);
    this.colScale = new Float64Array(w);
    this.colSq = new Float64Array(w);
  }

  /**
   * PDHG from z = x, duals 0. u[i,:] holds the dual of row difference i (row h−1 stays 0), v[:,j] that of
   * column difference j (column w−1 stays 0), q the data term's dual.
   *
   * Each iteration is one sweep down the rows: the primal update of row i, then the dual update of row i−1
   * (which needs z̄ of rows i−1 and i). Row i's primal step reads duals of rows i−1 and i that the sweep has
   * not yet updated, so this is exactly the two-pass method, with a working set of a few rows.
   */
  solve(): Float64Array {
    const { opts } = this;
    const { h, x, z, q, u, v, rowScale, colScale, colSq } = this;
    z.set(x);
    q.fill(0);
    u.fill(0);
    v.fill(0);
    rowScale.fill(1);
    colScale.fill(1);
    this.dataScale = 1;
    for (let it = 0; it < opts.iterations; it++) {
      this.dataSq = 0;
      colSq.fill(0);
      for (let i = 0; i < h; i++) {
        this.primalRow(i);
        if (i > 0) this.dualRow(i - 1, opts);
      }
      this.dualRow(h - 1, opts);
      this.dataScale = shrink(this.dataSq, 1);
      if (opts.norm !== 1) for (let j = 0; j < colScale.length; j++) colScale[j] = shrink(colSq[j], opts.lamb);
    }
    return z;
  }

  private dataScale = 1;
  private dataSq = 0;

  /**
   * z ← clip(z − τ·Kᵀy, 0, 255) and z̄ = 2z_new − z on row i. The duals are stored before their ball
   * projection; the projection's scale factors (from the previous dual step) are applied as they are read.
   */
  private primalRow(i: number): void {
    const { w, z, zbar, q, u, v, colScale } = this;
    const tau = STEP_BALANCE / K_NORM;
    const ds = this.dataScale;
    const rs = this.rowScale[i];
    const rsAbove = i > 0 ? this.rowScale[i - 1] : 0;
    const row = i * w;
    const above = i > 0 ? row - w : row; // row −1 contributes nothing (rsAbove = 0)
    let vLeft = 0;
    for (let j = 0; j < w; j++) {
      const e = row + j;
      const ve = v[e] * colScale[j];
      const g = q[e] * ds - u[e] * rs + u[above + j] * rsAbove - ve + vLeft;
      vLeft = ve;
      const old = z[e];
      const zn = clip255(old - tau * g);
      z[e] = zn;
      zbar[e] = 2 * zn - old;
    }
  }

  /**
   * y ← proj(y) + σ·K z̄ on row i, where proj applies the previous step's pending scale factors; then this
   * step's projection: clamps (p = 1) or the groups' squared norms for the next scale factors (p = 2).
   */
  private dualRow(i: number, opts: TvmOptions): void {
    const { h, w, x, m, zbar, q, u, v, colScale, colSq } = this;
    const { lamb } = opts;
    const l1 = opts.norm === 1;
    const sigma = 1 / (STEP_BALANCE * K_NORM);
    const ds = this.dataScale;
    const rs = this.rowScale[i];
    const row = i * w;
    const lastRow = i === h - 1;
    let rowSq = 0;
    let dataSq = 0;
    for (let j = 0; j < w; j++) {
      const e = row + j;
      const zb = zbar[e];
      const qe = (q[e] = q[e] * ds + sigma * m[e] * (zb - x[e]));
      dataSq += qe * qe;
      if (!lastRow) {
        let ue = u[e] * rs + sigma * (zbar[e + w] - zb);
        if (l1) ue = ue > lamb ? lamb : ue < -lamb ? -lamb : ue;
        else rowSq += ue * ue;
        u[e] = ue;
      }
      if (j < w - 1) {
        let ve = v[e] * colScale[j] + sigma * (zbar[e + 1] - zb);
        if (l1) ve = ve > lamb ? lamb : ve < -lamb ? -lamb : ve;
        else colSq[j] += ve * ve;
        v[e] = ve;
      }
    }
    this.dataSq += dataSq;
    if (!l1) this.rowScale[i] = shrink(rowSq, lamb);
  }
}
