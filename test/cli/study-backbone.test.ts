import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { tinyOnnx } from '../helpers/tiny-onnx.js';
import { FACES14, robustify, tempDir } from './helpers.js';

/** `study --quick` on a user backbone; returns the run's cache counts and its results' backbone. */
async function study(out: string, model: string, spec: object) {
  const r = await robustify(['study', '--quick', '--data', FACES14, '--backbone', model, '--backbone-spec', JSON.stringify(spec), '--out', out, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const [, reused, computed] = /\((\d+) cached steps reused, (\d+) computed\)/.exec(r.stdout)!.map(Number);
  const results = JSON.parse(await fs.readFile(path.join(out, 'results.json'), 'utf8'));
  return { reused, computed, backbone: results.backbone as { name: string; identity: string } };
}

test('study --backbone: runs on a user network, names it in results.json, and another spec never reuses cached steps', async () => {
  const dir = await tempDir('study-backbone');
  const model = await tinyOnnx(dir, { size: 32 });
  const out = path.join(dir, 'report');
  const first = await study(out, model, { mean: 127.5, std: 128 });
  assert.equal(first.backbone.name, "tiny.onnx (embedding 'emb')");
  assert.match(first.backbone.identity, /^[0-9a-f]{16}$/);
  // The same file with another input scaling is another recogniser: every step is computed again.
  const other = await study(out, model, { mean: 127.5, std: 64 });
  assert.notEqual(other.backbone.identity, first.backbone.identity);
  assert.equal(other.computed, first.computed);
  const again = await study(out, model, { mean: 127.5, std: 64 });
  assert.deepEqual([again.computed, again.backbone], [0, other.backbone]);
  await fs.rm(dir, { recursive: true });
});
