/**
 * The TSDoc examples of the public API run as written: each self-contained `@example` block (one that imports
 * only the package and TF.js) of a public entry point's declarations, transpiled and run as a module.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';

const SOURCES = ['src/index.ts', 'src/attacks/index.ts', 'src/defences/index.ts', 'src/defences/pipeline.ts', 'src/defences/preprocessor.ts', 'src/attacks/registry.ts',
  'src/models/classifier.ts', 'src/models/recogniser.ts', 'src/study/config.ts', 'src/engine/backend.ts'];

async function examples(): Promise<{ where: string; code: string }[]> {
  const out: { where: string; code: string }[] = [];
  for (const file of SOURCES) {
    const text = await fsp.readFile(file, 'utf8');
    for (const m of text.matchAll(/@example\n \* ```ts\n([\s\S]*?) \* ```/g)) {
      const code = m[1].split('\n').map((l) => l.replace(/^ \* ?/, '')).join('\n');
      // Examples that lean on a plugin's own files (examples/plugin) run in test/examples instead.
      if (/from '\.\.?\//.test(code)) continue;
      out.push({ where: `${file}:${text.slice(0, m.index).split('\n').length}`, code });
    }
  }
  return out;
}

test('API examples: every self-contained @example of the public entries runs', async () => {
  const found = await examples();
  assert.ok(found.length >= 8, `${found.length} examples`);
  for (const { where, code } of found) {
    const js = ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
    // Inside the package, so `robustify` resolves through its exports map as in a user's project.
    const file = path.resolve('dist', `api-example.${process.pid}.mjs`);
    await fsp.writeFile(file, js);
    try {
      await promisify(execFile)(process.execPath, [file], { env: { ...process.env, ROBUSTIFY_THREADS: '1' } });
    } catch (err) {
      assert.fail(`${where}: ${(err as { stderr?: string }).stderr ?? err}`);
    } finally {
      await fsp.rm(file, { force: true });
    }
  }
});
