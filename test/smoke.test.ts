import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine } from '../src/engine/backend.js';

test('engine starts on wasm with SIMD', async () => {
  const info = await initEngine({ backend: 'wasm', strict: true });
  assert.equal(info.backend, 'wasm');
  assert.equal(info.simd, true);
});
