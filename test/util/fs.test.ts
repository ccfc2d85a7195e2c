import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../../src/util/fs.js';

test('writeFileAtomic replaces the file and leaves no temporary behind', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'robustify-fs-'));
  try {
    const file = path.join(dir, 'out.json');
    await writeFileAtomic(file, 'old');
    await writeFileAtomic(file, new Uint8Array([104, 105]));
    assert.equal(await fsp.readFile(file, 'utf8'), 'hi');
    assert.deepEqual(await fsp.readdir(dir), ['out.json']);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('writeFileAtomic fails cleanly into a missing directory', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'robustify-fs-'));
  try {
    await assert.rejects(writeFileAtomic(path.join(dir, 'missing', 'out.txt'), 'x'), /ENOENT/);
    assert.deepEqual(await fsp.readdir(dir), []);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});
