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
 *
 * The passes over the n-vectors are wasm kernels on the workspace's arena (see LbfgsbWorkspace, direction).
 */
import { abs, add, Arena, F64, f64, forRange, get, gt, I32, i32, iadd, kernels, load, mul, neg, set, store, sub, when, type Code } from './wasm.js';

/** Writes ∇f(x) into `g` and returns f(x). */
export type ValueAndGradient = (x: Float64Array, g: Float64Array) => number;

/**
 * An objective that can also take the line search's trials itself: `alongLine` forms x = t + stp·d, writes ∇f(x)
 * into g and g'd into `gd[0]`, and returns f(x) — values identical to x[i] = t[i] + stp·d[i], `valueAndGradient`
 * and Σᵢ g[i]·d[i] summed in index order, but in the objective's own passes over memory.
 */
export interface LineObjective {
  valueAndGradient: ValueAndGradient;
  alongLine(t: Float64Array, stp: number, d: Float64Array, x: Float64Array, g: Float64Array, gd: Float64Array): number;
}

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

/**
 * Arrays for problems of one size, reused across calls (a TVM batch solves thousands of equal-sized planes). They
 * live in a wasm arena, where the iteration's passes over them run as wasm kernels (lbfgsKernel); an objective
 * with wasm kernels of its own puts its arrays in the same arena.
 */
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
  /** d'd and g'd of a new direction; g'd at a line search trial. */
  readonly sums: Float64Array;
  readonly kernel: LbfgsKernel;

  /** The doubles the workspace takes of an arena. */
  static doubles(n: number, m: number = LBFGSB_DEFAULTS.m): number {
    return (4 + 2 * m) * n + 2;
  }

  /** In `arena` (with room for `doubles(n, m)`), or in an arena of its own. */
  constructor(
    readonly n: number,
    readonly m: number = LBFGSB_DEFAULTS.m,
    readonly arena: Arena = new Arena(LbfgsbWorkspace.doubles(n, m)),
  ) {
    [this.g, this.d, this.t, this.r] = Array.from({ length: 4 }, () => arena.f64(n));
    this.s = Array.from({ length: m }, () => arena.f64(n));
    this.y = Array.from({ length: m }, () => arena.f64(n));
    this.sums = arena.f64(2);
    this.rho = new Float64Array(m);
    this.alpha = new Float64Array(m);
    this.kernel = lbfgsKernel(arena.memory);
  }
}

/** Minimise from `x` (overwritten with the result). */
export function minimizeLbfgsb(objective: ValueAndGradient | LineObjective, x: Float64Array, options: LbfgsbOptions, work?: LbfgsbWorkspace): LbfgsbResult {
  const o = { ...LBFGSB_DEFAULTS, ...options };
  const n = x.length;
  if (!(Number.isInteger(o.maxiter) && o.maxiter >= 1)) throw new Error(`lbfgsb: maxiter must be a whole number ≥ 1, got ${o.maxiter}`);
  if (!(Number.isInteger(o.m) && o.m >= 1)) throw new Error(`lbfgsb: m must be a whole number ≥ 1, got ${o.m}`);
  const w = work ?? new LbfgsbWorkspace(n, o.m);
  if (w.n !== n || w.m !== o.m) throw new Error(`lbfgsb: workspace for n=${w.n}, m=${w.m} used for n=${n}, m=${o.m}`);
  const { g, d, t, r, s, y, rho, sums, kernel } = w;
  const a = (view: Float64Array) => w.arena.addr(view);
  const n8 = n * 8;
  const line = typeof objective === 'function' ? undefined : objective;
  const fg = typeof objective === 'function' ? objective : (z: Float64Array, gz: Float64Array) => objective.valueAndGradient(z, gz);

  let f = fg(x, g);
  let evaluations = 1;
  let iterations = 0;
  if (kernel.normInf(a(g), n8) <= o.pgtol) return { f, iterations, evaluations, status: 'pgtol' };
  /** Pairs stored, and the slot of the newest. */
  let col = 0;
  let head = -1;
  let gamma = 1;
  for (;;) {
    direction(w, col, head, gamma);
    const dnorm = Math.sqrt(sums[0]);
    const gdold = sums[1];
    t.set(x);
    r.set(g);
    const fold = f;
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
        if (line) {
          f = line.alongLine(t, stp, d, x, g, sums);
          gd = sums[0];
        } else {
          for (let i = 0; i < n; i++) x[i] = t[i] + stp * d[i];
          f = fg(x, g);
          gd = kernel.dot(a(g), a(d), n8);
        }
        evaluations++;
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
    if (kernel.normInf(a(g), n8) <= o.pgtol) return { f, iterations, evaluations, status: 'pgtol' };
    if (fold - f <= o.ftol * Math.max(Math.abs(fold), Math.abs(f), 1)) return { f, iterations, evaluations, status: 'ftol' };
    // The new pair: s = stp·d, y = g − r; s'y as L-BFGS-B forms it from the directional derivatives.
    const sy = (gd - gdold) * stp;
    if (sy <= EPS * -gdold * stp) continue;
    head = (head + 1) % o.m;
    col = Math.min(col + 1, o.m);
    const yy = kernel.pair(a(s[head]), a(y[head]), a(d), a(g), a(r), stp, n8);
    rho[head] = 1 / sy;
    gamma = sy / yy;
  }
}

const BIG = 1e10;

/**
 * d = −H·g by the two-loop recursion over the `col` newest pairs (newest at `head`), H₀ = gamma·I; `sums` gets
 * d'd and g'd. Each pass over memory finishes one update of d and starts the dot product the next needs, so the
 * recursion takes 2·col + 1 passes instead of 4·col + 4; every value is computed as in the plain recursion (the
 * same operations in the same order; d − a·y as d + (−a)·y, the same number in IEEE arithmetic), which is what
 * keeps the iterates bit for bit.
 */
function direction(work: LbfgsbWorkspace, col: number, head: number, gamma: number): void {
  const { g, d, s, y, rho, alpha, sums, kernel, m, n } = work;
  const a = (view: Float64Array) => work.arena.addr(view);
  const n8 = n * 8;
  const slot = (k: number): number => (head - k + m) % m;
  if (col === 0) {
    kernel.finish(a(d), 0, 0, a(g), a(sums), n8, 1);
    return;
  }
  // First loop, newest pair first: a_j = rho_j·s_j'd, then d −= a_j·y_j.
  let j = slot(0);
  let acc = kernel.first(a(g), a(d), a(s[j]), n8);
  for (let k = 1; k < col; k++) {
    alpha[j] = rho[j] * acc;
    const yj = y[j];
    const c = -alpha[j];
    j = slot(k);
    acc = kernel.update(a(d), a(yj), c, 1, 0, a(s[j]), n8);
  }
  // The oldest pair's update, the scaling by H₀, and the second loop's first product (the oldest pair again).
  alpha[j] = rho[j] * acc;
  acc = kernel.update(a(d), a(y[j]), -alpha[j], gamma, 1, a(y[j]), n8);
  // Second loop, oldest pair first: d += (a_j − rho_j·y_j'd)·s_j; the last pass also forms d'd and g'd.
  for (let k = col - 1; k > 0; k--) {
    const c = alpha[j] - rho[j] * acc;
    const sj = s[j];
    j = slot(k - 1);
    acc = kernel.update(a(d), a(sj), c, 1, 0, a(y[j]), n8);
  }
  kernel.finish(a(d), a(s[j]), alpha[j] - rho[j] * acc, a(g), a(sums), n8, 0);
}

interface LbfgsKernel {
  /** d = −g; returns Σ s·d. */
  first(g: number, d: number, s: number, n8: number): number;
  /** d = (d + c·v)·scale (`scaled`) or d + c·v; returns Σ w·d. */
  update(d: number, v: number, c: number, scale: number, scaled: number, w: number, n8: number): number;
  /** d = −g (`neg`) or d + c·v; sums = [Σ d·d, Σ g·d]. */
  finish(d: number, v: number, c: number, g: number, sums: number, n8: number, neg: number): void;
  /** s = stp·d, y = g − r; returns Σ y·y. */
  pair(s: number, y: number, d: number, g: number, r: number, stp: number, n8: number): number;
  dot(a: number, b: number, n8: number): number;
  normInf(a: number, n8: number): number;
}

/** The passes over n values (byte offset o = 0, 8, … < n8), each sum in index order from 0. */
const lbfgsKernel = kernels<LbfgsKernel>(() => {
  const at = (base: number, o: number): Code => iadd(get(base), get(o));
  const pass = (o: number, n8: number, body: Code): Code => [...set(o, i32(0)), ...forRange(o, get(n8), 8, body)];
  // first(g 0, d 1, s 2, n8 3); locals o 4, acc 5, di 6
  const first: Code = [
    ...set(5, f64(0)),
    ...pass(4, 3, [...set(6, neg(load(at(0, 4)))), ...store(at(1, 4), get(6)), ...set(5, add(get(5), mul(load(at(2, 4)), get(6))))]),
    ...get(5),
  ];
  // update(d 0, v 1, c 2, scale 3, scaled 4, w 5, n8 6); locals o 7, acc 8, di 9
  const update: Code = [
    ...set(8, f64(0)),
    ...pass(7, 6, [
      ...set(9, add(load(at(0, 7)), mul(get(2), load(at(1, 7))))),
      ...when(get(4), set(9, mul(get(9), get(3)))),
      ...store(at(0, 7), get(9)),
      ...set(8, add(get(8), mul(load(at(5, 7)), get(9)))),
    ]),
    ...get(8),
  ];
  // finish(d 0, v 1, c 2, g 3, sums 4, n8 5, neg 6); locals o 7, dd 8, gd 9, di 10
  const finish: Code = [
    ...set(8, f64(0)),
    ...set(9, f64(0)),
    ...pass(7, 5, [
      ...when(get(6), set(10, neg(load(at(3, 7)))), set(10, add(load(at(0, 7)), mul(get(2), load(at(1, 7)))))),
      ...store(at(0, 7), get(10)),
      ...set(8, add(get(8), mul(get(10), get(10)))),
      ...set(9, add(get(9), mul(load(at(3, 7)), get(10)))),
    ]),
    ...store(get(4), get(8)),
    ...store(get(4), get(9), 8),
  ];
  // pair(s 0, y 1, d 2, g 3, r 4, stp 5, n8 6); locals o 7, yy 8, yi 9
  const pair: Code = [
    ...set(8, f64(0)),
    ...pass(7, 6, [
      ...store(at(0, 7), mul(get(5), load(at(2, 7)))),
      ...set(9, sub(load(at(3, 7)), load(at(4, 7)))),
      ...store(at(1, 7), get(9)),
      ...set(8, add(get(8), mul(get(9), get(9)))),
    ]),
    ...get(8),
  ];
  // dot(a 0, b 1, n8 2); locals o 3, acc 4
  const dot: Code = [...set(4, f64(0)), ...pass(3, 2, set(4, add(get(4), mul(load(at(0, 3)), load(at(1, 3)))))), ...get(4)];
  // normInf(a 0, n8 1); locals o 2, max 3, v 4
  const normInf: Code = [
    ...set(3, f64(0)),
    ...pass(2, 1, [...set(4, abs(load(at(0, 2)))), ...when(gt(get(4), get(3)), set(3, get(4)))]),
    ...get(3),
  ];
  return [
    { name: 'first', params: [I32, I32, I32, I32], results: [F64], locals: [I32, F64, F64], body: first },
    { name: 'update', params: [I32, I32, F64, F64, I32, I32, I32], results: [F64], locals: [I32, F64, F64], body: update },
    { name: 'finish', params: [I32, I32, F64, I32, I32, I32, I32], results: [], locals: [I32, F64, F64, F64], body: finish },
    { name: 'pair', params: [I32, I32, I32, I32, I32, F64, I32], results: [F64], locals: [I32, F64, F64], body: pair },
    { name: 'dot', params: [I32, I32, I32], results: [F64], locals: [I32, F64], body: dot },
    { name: 'normInf', params: [I32, I32], results: [F64], locals: [I32, F64, F64], body: normInf },
  ];
});

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
