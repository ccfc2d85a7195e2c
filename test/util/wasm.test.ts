import { test } from 'node:test';
import assert from 'node:assert/strict';
import { add, Arena, F64, f64, forRange, get, I32, i32, iadd, kernels, load, mul, set, type WasmFunction } from '../../src/util/wasm.js';

/** dot(a, b, n8): Σ a·b over n8 / 8 values, in index order. */
const dotKernel = kernels<{ dot(a: number, b: number, n8: number): number }>((): WasmFunction[] => [{
  name: 'dot',
  params: [I32, I32, I32],
  results: [F64],
  locals: [I32, F64],
  body: [...set(3, i32(0)), ...set(4, f64(0)), ...forRange(3, get(2), 8, set(4, add(get(4), mul(load(iadd(get(0), get(3))), load(iadd(get(1), get(3))))))), ...get(4)],
}]);

test('wasm kernels: an assembled loop on arena arrays gives the JS loop\'s bits; arenas check their arrays', () => {
  const arena = new Arena(2 * 1000);
  const a = arena.f64(1000);
  const b = arena.f64(1000);
  for (let i = 0; i < a.length; i++) {
    a[i] = Math.sin(i) * 1e3;
    b[i] = 1 / (i + 0.5);
  }
  let js = 0;
  for (let i = 0; i < a.length; i++) js += a[i] * b[i];
  const { dot } = dotKernel(arena.memory);
  assert.ok(Object.is(dot(arena.addr(a), arena.addr(b), a.length * 8), js));
  assert.equal(dot(0, 0, 0), 0);
  assert.throws(() => arena.addr(new Float64Array(4)), /Arena: array is not in this arena/);
});
