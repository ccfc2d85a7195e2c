import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatFixed, formatRepr } from '../../src/metrics/index.js';

test("formatFixed is Python's format(x, '.Nf'): exact binary ties round to even", () => {
  // Expected strings from CPython 3.
  const cases: [number, number, string][] = [
    [0.125, 2, '0.12'],
    [0.375, 2, '0.38'],
    [2.5, 0, '2'],
    [3.5, 0, '4'],
    [0.5, 0, '0'],
    [0.015, 2, '0.01'], // 0.015 is stored just below the tie
    [0.045, 2, '0.04'],
    [0.285, 2, '0.28'],
    [0.6666666666666666, 2, '0.67'],
    [1, 2, '1.00'],
    [-0.125, 2, '-0.12'],
    [1e22, 1, '10000000000000000000000.0'],
  ];
  for (const [x, d, want] of cases) assert.equal(formatFixed(x, d), want, `${x} with ${d} digits`);
});

test("formatRepr is Python's repr(float)", () => {
  const cases: [number, string][] = [
    [95 / 98, '0.9693877551020408'],
    [1, '1.0'],
    [0, '0.0'],
    [0.1, '0.1'],
    [1e-4, '0.0001'],
    [1e-5, '1e-05'],
    [1.5e-5, '1.5e-05'],
    [1e16, '1e+16'],
    [123456789012345.6, '123456789012345.6'],
    [2 / 3, '0.6666666666666666'],
  ];
  for (const [x, want] of cases) assert.equal(formatRepr(x), want);
});
