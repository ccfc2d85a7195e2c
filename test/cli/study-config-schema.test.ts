/** `robustify study --config-schema` and `--help`: the study.json schema and key list, both from the one TypeBox schema. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PGD_SPEC } from '../../src/attacks/index.js';
import { PAPER_CONFIG } from '../../src/study/config.js';
import { robustifyHere } from './helpers.js';

test('study --config-schema prints the JSON Schema of study.json (every key optional, PGD bounds); --help lists every key', async () => {
  const r = await robustifyHere(['study', '--config-schema']);
  assert.equal(r.code, 0, r.stderr);
  const schema = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(schema.properties), Object.keys(PAPER_CONFIG));
  assert.ok(!r.stdout.includes('"required"'), 'a user file may leave out any key');
  assert.equal(schema.properties.attack.additionalProperties, false);
  assert.equal(schema.properties.attack.properties.eps.maximum, PGD_SPEC.properties.eps.maximum, "the study's attack bounds are PGD's");
  assert.equal(schema.properties.attack.properties.eps.default, PAPER_CONFIG.attack.eps);
  const help = await robustifyHere(['study', '--help']);
  assert.match(help.stdout, /attack\.eps_step: a number > 0 and ≤ 255, default 0\.1 — step size/);
  assert.match(help.stdout, /figures\.jpeg_qualities: a list of at least 1, default \[20,40,80\]/);
});
