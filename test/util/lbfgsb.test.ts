import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LbfgsbWorkspace, minimizeLbfgsb } from '../../src/util/lbfgsb.js';

/** The n-dimensional Rosenbrock function, minimum 0 at (1, …, 1). */
function rosenbrock(x: Float64Array, g: Float64Array): number {
  let f = 0;
  g.fill(0);
  for (let i = 0; i < x.length - 1; i++) {
    const a = x[i + 1] - x[i] * x[i];
    const b = 1 - x[i];
    f += 100 * a * a + b * b;
    g[i] += -400 * x[i] * a - 2 * b;
    g[i + 1] += 200 * a;
  }
  return f;
}

test('L-BFGS-B without bounds: converges on Rosenbrock, stops at maxiter, reuses its workspace', () => {
  const x = new Float64Array(8).fill(-1.2);
  const r = minimizeLbfgsb(rosenbrock, x, { maxiter: 500 });
  assert.ok(r.status === 'pgtol' || r.status === 'ftol', r.status);
  assert.ok(r.f < 1e-8, `f ${r.f}`);
  for (const v of x) assert.ok(Math.abs(v - 1) < 1e-3, `x ${v}`);

  const work = new LbfgsbWorkspace(8);
  const y = new Float64Array(8).fill(-1.2);
  const f0 = rosenbrock(y, new Float64Array(8));
  const short = minimizeLbfgsb(rosenbrock, y, { maxiter: 3 }, work);
  assert.deepEqual([short.iterations, short.status], [3, 'max_iter']);
  assert.ok(short.f < f0 && short.evaluations >= 4);
  // A second run in the same workspace starts from a clean memory: the same answer as a fresh one.
  const z1 = new Float64Array(8).fill(-1.2);
  const z2 = new Float64Array(8).fill(-1.2);
  minimizeLbfgsb(rosenbrock, z1, { maxiter: 5 }, work);
  minimizeLbfgsb(rosenbrock, z2, { maxiter: 5 });
  assert.deepEqual(z1, z2);
});

test('L-BFGS-B: the first step has length 1 along −g (SciPy\'s first trial), a quadratic converges', () => {
  // f = ½ Σ dᵢ xᵢ²: the first trial x − g/‖g‖ is accepted when it satisfies the Wolfe conditions.
  const d = Float64Array.from([1, 2, 3, 4]);
  const fg = (x: Float64Array, g: Float64Array) => {
    let f = 0;
    for (let i = 0; i < x.length; i++) {
      g[i] = d[i] * x[i];
      f += 0.5 * d[i] * x[i] * x[i];
    }
    return f;
  };
  const x = Float64Array.from([10, 10, 10, 10]);
  const r = minimizeLbfgsb(fg, x, { maxiter: 100 });
  assert.ok(r.f < 1e-9, `f ${r.f}`);
  assert.throws(() => minimizeLbfgsb(fg, x, { maxiter: 0 }), /lbfgsb: maxiter must be a whole number ≥ 1, got 0/);
});
