/**
 * L-BFGS-B (Byrd, Lu, Nocedal & Zhu 1995; Zhu et al.'s code, version 3.0, as SciPy's `minimize(method='L-BFGS-B')`
 * runs it) for problems without bounds, which is how ART's TotalVarMin calls it. Without bounds the generalized
 * Cauchy point search has no breakpoints and every variable is free, so an iteration is:
 *
 *   - direction d = −H·g, H the limited-memory inverse BFGS matrix of the last m pairs with H₀ = (s'y / y'y)·I of
 *     the newest pair (the compact form's θ; computed here by the two-loop recursion, the same matrix);
 *     with no pairs yet, d = −g;
 *   - a Moré–Thuente line search (MINPACK-2 dcsrch; ftol 1e-3, gtol 0.9, xtol 0.1, step in [0, 1e10]) from step
 *     1/‖d‖ on the very first iteration and 1 afterwards, at most `maxls` evaluations;
 *   - the pair (s, y) is kept unless s'y ≤ ε·(−g'·s) (ε = 2⁻⁵²); a failed line search restores the previous
 *     iterate and restarts from steepest descent with an empty memory (or stops, if the memory was empty).
 *
 * Stopping as SciPy: `maxiter` accepted iterates (SciPy counts an iteration at each new x), ‖g‖∞ ≤ pgtol, or a
 * relative reduction (f_old − f) ≤ ftol·max(|f_old|, |f|, 1), or `maxfun` evaluations exceeded. Defaults are
 * SciPy's: m = 10, ftol = 2.220446049250313e-09 (factr 1e7 × ε), pgtol (SciPy's gtol) = 1e-5, maxls = 20,
 * maxfun = 15000.
 */

/** Writes ∇f(x) into `g` and returns f(x). */
export type ValueAndGradient = (x: Float64Array, g: Float64Array) => number;

export interface LbfgsbOptions {
  maxiter: number;
  /** Stored correction pairs (SciPy's maxcor). */
  m?: number;
  ftol?: number;
  /** Projected-gradient tolerance (SciPy's gtol). */
  pgtol?: number;
  maxls?: number;
  maxfun?: number;
}

export type LbfgsbStatus = 'max_iter' | 'pgtol' | 'ftol' | 'max_fun' | 'abnormal';

export interface LbfgsbResult {
  f: number;
  iterations: number;
  evaluations: number;
  status: LbfgsbStatus;
}

const EPS = 2.220446049250313e-16;
export const LBFGSB_DEFAULTS = { m: 10, ftol: 1e7 * EPS, pgtol: 1e-5, maxls: 20, maxfun: 15000 } as const;

/** Arrays for problems of one size, reused across calls (a TVM batch solves thousands of equal-sized planes). */
export class LbfgsbWorkspace {
  readonly g: Float64Array;
  readonly d: Float64Array;
  /** The iterate and gradient before the line search (L-BFGS-B's t and r). */
  readonly t: Float64Array;
  readonly r: Float64Array;
  readonly s: Float64Array[];
  readonly y: Float64Array[];
  readonly rho: Float64Array;
  readonly alpha: Float64Array;

  constructor(
    readonly n: number,
    readonly m: number = LBFGSB_DEFAULTS.m,
  ) {
    [this.g, this.d, this.t, this.r] = Array.from({ length: 4 }, () => new Float64Array(n));
    this.s = Array.from({ length: m }, () => new Float64Array(n));
    this.y = Array.from({ length: m }, () => new Float64Array(n));
    this.rho = new Float64Array(m);
    this.alpha = new Float64Array(m);
  }
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function normInf(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i]);
    if (v > s) s = v;
  }
  return s;
}

/** Minimise from `x` (overwritten with the result). */
export function minimizeLbfgsb(fg: ValueAndGradient, x: Float64Array, options: LbfgsbOptions, work?: LbfgsbWorkspace): LbfgsbResult {
  const o = { ...LBFGSB_DEFAULTS, ...options };
  const n = x.length;
  if (!(Number.isInteger(o.maxiter) && o.maxiter >= 1)) throw new Error(`lbfgsb: maxiter must be a whole number ≥ 1, got ${o.maxiter}`);
  if (!(Number.isInteger(o.m) && o.m >= 1)) throw new Error(`lbfgsb: m must be a whole number ≥ 1, got ${o.m}`);
  const w = work ?? new LbfgsbWorkspace(n, o.m);
  if (w.n !== n || w.m !== o.m) throw new Error(`lbfgsb: workspace for n=${w.n}, m=${w.m} used for n=${n}, m=${o.m}`);
  const { g, d, t, r, s, y, rho, alpha } = w;

  let f = fg(x, g);
  let evaluations = 1;
  let iterations = 0;
  if (normInf(g) <= o.pgtol) return { f, iterations, evaluations, status: 'pgtol' };
  /** Pairs stored, and the slot of the newest. */
  let col = 0;
  let head = -1;
  let gamma = 1;
  for (;;) {
    direction(g, d, s, y, rho, alpha, col, head, gamma);
    const dnorm = Math.sqrt(dot(d, d));
    t.set(x);
    r.set(g);
    const fold = f;
    const gdold = dot(g, d);
    let stp = iterations === 0 ? Math.min(1 / dnorm, BIG) : 1;
    let ok = gdold < 0;
    let gd = gdold;
    if (ok) {
      const search = new LineSearch(f, gdold, stp);
      for (let trials = 0; ; trials++) {
        if (trials >= o.maxls) {
          ok = false;
          break;
        }
        for (let i = 0; i < n; i++) x[i] = t[i] + stp * d[i];
        f = fg(x, g);
        evaluations++;
        gd = dot(g, d);
        const next = search.next(f, gd);
        if (next === undefined) break;
        stp = next;
      }
    }
    if (!ok) {
      x.set(t);
      g.set(r);
      f = fold;
      if (col === 0) return { f, iterations, evaluations, status: 'abnormal' };
      col = 0;
      head = -1;
      gamma = 1;
      continue;
    }
    iterations++;
    if (iterations >= o.maxiter) return { f, iterations, evaluations, status: 'max_iter' };
    if (evaluations > o.maxfun) return { f, iterations, evaluations, status: 'max_fun' };
    if (normInf(g) <= o.pgtol) return { f, iterations, evaluations, status: 'pgtol' };
    if (fold - f <= o.ftol * Math.max(Math.abs(fold), Math.abs(f), 1)) return { f, iterations, evaluations, status: 'ftol' };
    // The new pair: s = stp·d, y = g − r; s'y as L-BFGS-B forms it from the directional derivatives.
    const sy = (gd - gdold) * stp;
    if (sy <= EPS * -gdold * stp) continue;
    head = (head + 1) % o.m;
    col = Math.min(col + 1, o.m);
    const sh = s[head];
    const yh = y[head];
    for (let i = 0; i < n; i++) {
      sh[i] = stp * d[i];
      yh[i] = g[i] - r[i];
    }
    rho[head] = 1 / sy;
    gamma = sy / dot(yh, yh);
  }
}

const BIG = 1e10;

/** d = −H·g by the two-loop recursion over the `col` newest pairs (newest at `head`), H₀ = gamma·I. */
function direction(g: Float64Array, d: Float64Array, s: Float64Array[], y: Float64Array[], rho: Float64Array, alpha: Float64Array, col: number, head: number, gamma: number): void {
  const n = g.length;
  const m = s.length;
  for (let i = 0; i < n; i++) d[i] = -g[i];
  for (let k = 0; k < col; k++) {
    const j = (head - k + m) % m;
    const a = rho[j] * dot(s[j], d);
    alpha[j] = a;
    const yj = y[j];
    for (let i = 0; i < n; i++) d[i] -= a * yj[i];
  }
  if (col > 0) for (let i = 0; i < n; i++) d[i] *= gamma;
  for (let k = col - 1; k >= 0; k--) {
    const j = (head - k + m) % m;
    const b = rho[j] * dot(y[j], d);
    const sj = s[j];
    const c = alpha[j] - b;
    for (let i = 0; i < n; i++) d[i] += c * sj[i];
  }
}

/** L-BFGS-B's line search parameters (lnsrlb). */
const LS_FTOL = 1e-3;
const LS_GTOL = 0.9;
const LS_XTOL = 0.1;
const XTRAPL = 1.1;
const XTRAPU = 4;

/**
 * Moré & Thuente's line search (MINPACK-2 dcsrch) for a step satisfying the strong Wolfe conditions, on
 * [0, BIG]. Construct with f(0), f'(0) < 0 and the first trial step; `next(f, g)` takes the value and
 * directional derivative at the current trial and returns the next trial step, or undefined when the current
 * one is accepted (converged, or stopped by a warning: rounding errors, xtol, or a bound of the interval).
 */
class LineSearch {
  private brackt = false;
  private stage = 1;
  private readonly ginit: number;
  private readonly gtest: number;
  private width = BIG;
  private width1 = 2 * BIG;
  private stx = 0;
  private fx: number;
  private gx: number;
  private sty = 0;
  private fy: number;
  private gy: number;
  private stmin = 0;
  private stmax: number;

  constructor(
    private readonly finit: number,
    ginit: number,
    private stp: number,
  ) {
    this.ginit = ginit;
    this.gtest = LS_FTOL * ginit;
    this.fx = this.fy = finit;
    this.gx = this.gy = ginit;
    this.stmax = stp + XTRAPU * stp;
  }

  next(f: number, g: number): number | undefined {
    const { gtest, ginit } = this;
    const stpmin = 0;
    const stpmax = BIG;
    const ftest = this.finit + this.stp * gtest;
    if (this.stage === 1 && f <= ftest && g >= 0) this.stage = 2;
    if (this.brackt && (this.stp <= this.stmin || this.stp >= this.stmax)) return undefined;
    if (this.brackt && this.stmax - this.stmin <= LS_XTOL * this.stmax) return undefined;
    if (this.stp === stpmax && f <= ftest && g <= gtest) return undefined;
    if (this.stp === stpmin && (f > ftest || g >= gtest)) return undefined;
    if (f <= ftest && Math.abs(g) <= LS_GTOL * -ginit) return undefined;

    if (this.stage === 1 && f <= this.fx && f > ftest) {
      // The modified function ψ(α) = f(α) − f(0) − gtest·α until a step has f ≤ ftest and f' ≥ 0.
      const st: Interval = {
        stx: this.stx, fx: this.fx - this.stx * gtest, dx: this.gx - gtest,
        sty: this.sty, fy: this.fy - this.sty * gtest, dy: this.gy - gtest,
        brackt: this.brackt,
      };
      this.stp = cstep(st, this.stp, f - this.stp * gtest, g - gtest, this.stmin, this.stmax);
      this.take(st);
      this.fx = st.fx + st.stx * gtest;
      this.fy = st.fy + st.sty * gtest;
      this.gx = st.dx + gtest;
      this.gy = st.dy + gtest;
    } else {
      const st: Interval = { stx: this.stx, fx: this.fx, dx: this.gx, sty: this.sty, fy: this.fy, dy: this.gy, brackt: this.brackt };
      this.stp = cstep(st, this.stp, f, g, this.stmin, this.stmax);
      this.take(st);
      this.fx = st.fx;
      this.fy = st.fy;
      this.gx = st.dx;
      this.gy = st.dy;
    }
    if (this.brackt) {
      // Force a sufficient decrease of the interval's width.
      if (Math.abs(this.sty - this.stx) >= 0.66 * this.width1) this.stp = this.stx + 0.5 * (this.sty - this.stx);
      this.width1 = this.width;
      this.width = Math.abs(this.sty - this.stx);
      this.stmin = Math.min(this.stx, this.sty);
      this.stmax = Math.max(this.stx, this.sty);
    } else {
      this.stmin = this.stp + XTRAPL * (this.stp - this.stx);
      this.stmax = this.stp + XTRAPU * (this.stp - this.stx);
    }
    this.stp = Math.min(Math.max(this.stp, stpmin), stpmax);
    if ((this.brackt && (this.stp <= this.stmin || this.stp >= this.stmax)) || (this.brackt && this.stmax - this.stmin <= LS_XTOL * this.stmax)) {
      this.stp = this.stx;
    }
    return this.stp;
  }

  private take(st: Interval): void {
    this.stx = st.stx;
    this.sty = st.sty;
    this.brackt = st.brackt;
  }
}

/** The interval of uncertainty of the line search: best step so far (x) and the other end (y). */
interface Interval {
  stx: number;
  fx: number;
  dx: number;
  sty: number;
  fy: number;
  dy: number;
  brackt: boolean;
}

/**
 * MINPACK-2 dcstep: a safeguarded cubic/quadratic step from the interval `st` and the trial (stp, fp, dp);
 * updates `st` in place and returns the new trial step.
 */
function cstep(st: Interval, stp: number, fp: number, dp: number, stpmin: number, stpmax: number): number {
  const { stx, fx, dx, sty, fy, dy } = st;
  const sgnd = dp * Math.sign(dx);
  let stpf: number;
  if (fp > fx) {
    // A higher value: the minimum is bracketed.
    const theta = (3 * (fx - fp)) / (stp - stx) + dx + dp;
    const s = Math.max(Math.abs(theta), Math.abs(dx), Math.abs(dp));
    let gamma = s * Math.sqrt((theta / s) ** 2 - (dx / s) * (dp / s));
    if (stp < stx) gamma = -gamma;
    const p = gamma - dx + theta;
    const q = gamma - dx + gamma + dp;
    const stpc = stx + (p / q) * (stp - stx);
    const stpq = stx + (dx / ((fx - fp) / (stp - stx) + dx) / 2) * (stp - stx);
    stpf = Math.abs(stpc - stx) < Math.abs(stpq - stx) ? stpc : stpc + (stpq - stpc) / 2;
    st.brackt = true;
  } else if (sgnd < 0) {
    // Derivatives of opposite sign: bracketed.
    const theta = (3 * (fx - fp)) / (stp - stx) + dx + dp;
    const s = Math.max(Math.abs(theta), Math.abs(dx), Math.abs(dp));
    let gamma = s * Math.sqrt((theta / s) ** 2 - (dx / s) * (dp / s));
    if (stp > stx) gamma = -gamma;
    const p = gamma - dp + theta;
    const q = gamma - dp + gamma + dx;
    const stpc = stp + (p / q) * (stx - stp);
    const stpq = stp + (dp / (dp - dx)) * (stx - stp);
    stpf = Math.abs(stpc - stp) > Math.abs(stpq - stp) ? stpc : stpq;
    st.brackt = true;
  } else if (Math.abs(dp) < Math.abs(dx)) {
    // Same sign, the derivative's magnitude decreases.
    const theta = (3 * (fx - fp)) / (stp - stx) + dx + dp;
    const s = Math.max(Math.abs(theta), Math.abs(dx), Math.abs(dp));
    let gamma = s * Math.sqrt(Math.max(0, (theta / s) ** 2 - (dx / s) * (dp / s)));
    if (stp > stx) gamma = -gamma;
    const p = gamma - dp + theta;
    const q = gamma + (dx - dp) + gamma;
    const r = p / q;
    let stpc: number;
    if (r < 0 && gamma !== 0) stpc = stp + r * (stx - stp);
    else if (stp > stx) stpc = stpmax;
    else stpc = stpmin;
    const stpq = stp + (dp / (dp - dx)) * (stx - stp);
    if (st.brackt) {
      stpf = Math.abs(stpc - stp) < Math.abs(stpq - stp) ? stpc : stpq;
      stpf = stp > stx ? Math.min(stp + 0.66 * (sty - stp), stpf) : Math.max(stp + 0.66 * (sty - stp), stpf);
    } else {
      stpf = Math.abs(stpc - stp) > Math.abs(stpq - stp) ? stpc : stpq;
      stpf = Math.max(stpmin, Math.min(stpmax, stpf));
    }
  } else if (st.brackt) {
    // Same sign, no decrease in magnitude, bracketed: the cubic through stp and sty.
    const theta = (3 * (fp - fy)) / (sty - stp) + dy + dp;
    const s = Math.max(Math.abs(theta), Math.abs(dy), Math.abs(dp));
    let gamma = s * Math.sqrt((theta / s) ** 2 - (dy / s) * (dp / s));
    if (stp > sty) gamma = -gamma;
    const p = gamma - dp + theta;
    const q = gamma - dp + gamma + dy;
    stpf = stp + (p / q) * (sty - stp);
  } else {
    stpf = stp > stx ? stpmax : stpmin;
  }
  if (fp > fx) {
    st.sty = stp;
    st.fy = fp;
    st.dy = dp;
  } else {
    if (sgnd < 0) {
      st.sty = stx;
      st.fy = fx;
      st.dy = dx;
    }
    st.stx = stp;
    st.fx = fp;
    st.dx = dp;
  }
  return stpf;
}
