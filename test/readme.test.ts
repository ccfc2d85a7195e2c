/** README's "Use it as a library" block, run as it is written (a module importing the package by its name). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

test('README: the library example runs and prints clean, attacked and defended labels', async () => {
  const readme = await fsp.readFile('README.md', 'utf8');
  const code = /## Use it as a library\n```js\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(code, 'README has a js block under "Use it as a library"');
  assert.ok(code.split('\n').filter(Boolean).length <= 10, 'about ten lines');
  // Inside the package, so `import … from 'robustify'` resolves through its exports map, as in a user's project.
  const file = path.resolve('dist', `readme-example.${process.pid}.mjs`);
  await fsp.writeFile(file, code);
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [file], { env: { ...process.env, ROBUSTIFY_THREADS: '1' } });
    assert.match(stdout, /^clean \[( ?\d,?){4} ?\] attacked \[( ?\d,?){4} ?\] defended \[( ?\d,?){4} ?\]\n$/);
  } finally {
    await fsp.rm(file, { force: true });
  }
});
