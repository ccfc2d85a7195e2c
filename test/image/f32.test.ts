import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { f32Bytes, readF32, writeF32, type RgbImage } from '../../src/image/index.js';

test('.f32 round trip is exact and little-endian', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'robustify-f32-'));
  try {
    const img: RgbImage = { data: Float32Array.from([1, -0.5, 255, 3.25, 1e-7, 128.125]), height: 1, width: 2 };
    const file = path.join(dir, 'adv.f32');
    await writeF32(file, img);
    const bytes = await fsp.readFile(file);
    assert.equal(bytes.length, 24);
    assert.equal(bytes.readFloatLE(4), -0.5);
    assert.deepEqual(await readF32(file, 1, 2), img);
    assert.deepEqual(Array.from(f32Bytes(img).subarray(0, 4)), [0x00, 0x00, 0x80, 0x3f]);
    await assert.rejects(readF32(file, 2, 2), /adv\.f32': 24 bytes, expected 48 for a 2×2×3 float32 image/);
    await assert.rejects(readF32(path.join(dir, 'none.f32'), 1, 1), /none\.f32': no such file/);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});
