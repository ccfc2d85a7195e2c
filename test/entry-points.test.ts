/** `import 'robustify'` stays light: its static import graph (dist) reaches neither bullmq nor ioredis; `robustify/queue` does. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** The bare (package) specifiers a built module imports, statically or by `import()`, through its relative imports. */
async function packagesReached(entry: string): Promise<Set<string>> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = async (file: string): Promise<void> => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const { fileName } of ts.preProcessFile(await fsp.readFile(file, 'utf8'), true, true).importedFiles) {
      if (fileName.startsWith('.')) await visit(path.resolve(path.dirname(file), fileName));
      else packages.add(fileName.split('/').slice(0, fileName.startsWith('@') ? 2 : 1).join('/'));
    }
  };
  await visit(path.resolve(entry));
  return packages;
}

test("entry points: 'robustify' does not load bullmq or ioredis, 'robustify/queue' does", async () => {
  const main = await packagesReached('dist/src/index.js');
  assert.ok(main.has('@tensorflow/tfjs-core'), [...main].join(', '));
  assert.ok(!main.has('bullmq') && !main.has('ioredis'), [...main].join(', '));
  const queue = await packagesReached('dist/src/queue/index.js');
  assert.ok(queue.has('bullmq') && queue.has('ioredis'), [...queue].join(', '));
});
