/** Numeric comparisons shared by the tests. */
import assert from 'node:assert/strict';

/** max |got − ref| / max |ref| (the reference must not be all zeros). */
export function relError(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  assert.equal(got.length, ref.length, 'compared arrays differ in length');
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  assert.ok(scale > 0, 'reference is all zeros');
  return diff / scale;
}
