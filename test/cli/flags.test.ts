/** Library errors name parameters; the CLI prints the flags that set them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cliMessage, flagOf } from '../../src/cli/flags.js';
import { ParameterError, param } from '../../src/util/errors.js';
import { listDataset } from '../../src/data/index.js';

test('flags: a parameter error reads as parameters in the library and as flags in the CLI', async () => {
  const err = ParameterError.of`${param('sigmaMin')}/${param('sigmaMax')}: need 0 < min ≤ max, got 3, 2`;
  assert.equal(err.message, 'sigmaMin/sigmaMax: need 0 < min ≤ max, got 3, 2');
  assert.deepEqual(err.params, ['sigmaMin', 'sigmaMax']);
  assert.equal(cliMessage(err), '--sigma-min/--sigma-max: need 0 < min ≤ max, got 3, 2');
  assert.equal(flagOf('model'), '--model');
  assert.equal(cliMessage(new Error('plain')), 'plain');
  const missing = '/nonexistent/faces';
  const e = await listDataset(missing).catch((x: unknown) => x);
  assert.equal((e as Error).message, `data: no such directory '${missing}'`);
  assert.equal(cliMessage(e), `--data: no such directory '${missing}'`);
});
