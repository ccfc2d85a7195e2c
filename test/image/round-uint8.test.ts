/** roundToUint8 against the engine's own Uint8ClampedArray conversion. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { roundToUint8 } from '../../src/image/round-uint8.js';
import { createRandom } from '../../src/util/random.js';

function reference(src: Float32Array): Uint8ClampedArray {
  const out = new Uint8ClampedArray(src.length);
  out.set(src);
  return out;
}

test('ties go to even, values are clipped, NaN becomes 0, as a Uint8ClampedArray stores them', () => {
  const special = [0.5, 1.5, 2.5, 3.5, 254.5, 255.5, -0.5, -0.6, -0, NaN, Infinity, -Infinity, 1e10, -1e10, 127.49999, 127.50001, 0.4999999, 256];
  // 18 values: one SIMD turn of 16 and a tail of 2; then the same values at every offset of a 16-value turn.
  for (let shift = 0; shift < 16; shift++) {
    const src = Float32Array.from({ length: 40 }, (_, i) => special[(i + shift) % special.length]);
    const dst = new Uint8Array(src.length);
    roundToUint8(dst, src);
    assert.deepEqual(Array.from(dst), Array.from(reference(src)), `shift ${shift}`);
  }
  assert.deepEqual(Array.from(reference(new Float32Array([0.5, 1.5, 2.5, NaN, 300, -3]))), [0, 2, 2, 0, 255, 0]);
});

test('long arrays (several kernel blocks, odd length) equal the engine\'s conversion', () => {
  const rng = createRandom(7);
  const src = Float32Array.from({ length: 3 * 65536 + 123 }, () => rng.next() * 300 - 20);
  for (let i = 0; i < src.length; i += 97) src[i] = Math.round(src[i]) + 0.5;
  const dst = new Uint8ClampedArray(src.length);
  roundToUint8(dst, src);
  assert.deepEqual(dst, reference(src));
});

test('a length mismatch is refused', () => {
  assert.throws(() => roundToUint8(new Uint8Array(3), new Float32Array(4)), /roundToUint8: dst has 3 values, src 4/);
});
