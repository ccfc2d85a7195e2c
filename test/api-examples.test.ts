/**
 * The TSDoc examples of the public API hold: every value a package entry point (package.json `exports`)
 * exports carries an `@example`, or links with `{@link}` to one that does; every example type-checks against
 * the package's types; and every self-contained one (importing only the package and TF.js) runs — all in one
 * child process, each example a module of its own, a failing one named by its file and line. An example
 * marked ```` ```ts no-run ```` (one that trains, reads a dataset or needs Redis) is only type-checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';

interface Example { where: string; code: string; run: boolean }

async function examples(): Promise<Example[]> {
  const out: Example[] = [];
  const files = (await fsp.readdir('src', { recursive: true })).filter((f) => f.endsWith('.ts')).sort();
  for (const f of files) {
    const file = path.join('src', f);
    const text = await fsp.readFile(file, 'utf8');
    for (const m of text.matchAll(/@example\n[ \t]*\* ```ts( no-run)?\n([\s\S]*?)\n[ \t]*\* ```/g)) {
      const code = m[2].split('\n').map((l) => l.replace(/^[ \t]*\* ?/, '')).join('\n');
      // Examples that lean on a plugin's own files (examples/plugin) run in test/examples instead.
      if (/from '\.\.?\//.test(code)) continue;
      out.push({ where: `${file}:${text.slice(0, m.index).split('\n').length}`, code, run: !m[1] });
    }
  }
  return out;
}

/** The package's entry points, as their declaration files (package.json `exports` types). */
async function entryPoints(): Promise<string[]> {
  const pkg = JSON.parse(await fsp.readFile('package.json', 'utf8')) as { exports: Record<string, string | { types: string }> };
  return Object.values(pkg.exports).flatMap((e) => (typeof e === 'string' ? [] : [path.resolve(e.types)]));
}

/** Exported values of the entry points whose documentation neither has an example nor links to an export that has one. */
function undocumented(program: ts.Program, entries: string[]): string[] {
  const checker = program.getTypeChecker();
  const docs = new Map<string, { example: boolean; links: string[] }>();
  for (const entry of entries) {
    const sf = program.getSourceFile(entry);
    assert.ok(sf, entry);
    for (const s of checker.getExportsOfModule(checker.getSymbolAtLocation(sf)!)) {
      const spec = s.declarations?.[0];
      if (spec && ts.isExportSpecifier(spec) && (spec.isTypeOnly || spec.parent.parent.isTypeOnly)) continue;
      const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
      const decl = target.declarations?.[0];
      // Values only, and only ours (`tf` is TF.js, documented by the module's own example).
      if (!(target.flags & ts.SymbolFlags.Value) || !decl || !decl.getSourceFile().fileName.startsWith(path.resolve('dist'))) continue;
      const text = ts.getJSDocCommentsAndTags(decl).map((d) => d.getText()).join('\n');
      docs.set(s.name, { example: /@example/.test(text), links: [...text.matchAll(/\{@link\s+(\w+)/g)].map((l) => l[1]) });
    }
  }
  assert.ok(docs.size >= 90, `${docs.size} exported values`);
  return [...docs].filter(([, d]) => !d.example && !d.links.some((l) => docs.get(l)?.example)).map(([name]) => name);
}

test('API examples: every public export has one, all type-check, the self-contained ones run', async () => {
  const found = await examples();
  assert.ok(found.length >= 8, `${found.length} examples`);
  // Inside the package, so `robustify` resolves through its exports map as in a user's project.
  const dir = path.resolve('dist', `api-examples.${process.pid}`);
  await fsp.mkdir(dir, { recursive: true });
  try {
    const where = new Map<string, string>();
    await Promise.all(found.map(async (e, i) => {
      const file = path.join(dir, `e${i}.mts`);
      where.set(file, e.where);
      await fsp.writeFile(file, `${e.code}\nexport {};\n`);
    }));
    const entries = await entryPoints();
    const program = ts.createProgram([...where.keys(), ...entries], {
      module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022,
      strict: true, skipLibCheck: true, noEmit: true, types: ['node'],
    });
    const errors = ts.getPreEmitDiagnostics(program).map((d) => {
      const at = d.file && where.has(d.file.fileName) ? `${where.get(d.file.fileName)} +${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line}` : d.file?.fileName;
      return `${at}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
    assert.deepEqual(errors, [], 'the examples type-check');

    const running = found.map((e, i) => ({ ...e, i })).filter((e) => e.run);
    for (const e of running) {
      const js = ts.transpileModule(e.code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
      await fsp.writeFile(path.join(dir, `e${e.i}.mjs`), js);
    }
    // One process for them all (TF.js starts once): each example imported in turn, failures collected.
    await fsp.writeFile(path.join(dir, 'run.mjs'), [
      `import { writeFileSync } from 'node:fs';`,
      `const failed = [];`,
      `for (const [where, file] of ${JSON.stringify(running.map((e) => [e.where, `./e${e.i}.mjs`]))}) {`,
      `  try { await import(file); } catch (err) { failed.push(where + ': ' + (err?.stack ?? err)); }`,
      `}`,
      `writeFileSync(new URL('./failed.json', import.meta.url), JSON.stringify(failed));`,
      `process.exit(0);`,
    ].join('\n'));
    await promisify(execFile)(process.execPath, [path.join(dir, 'run.mjs')], { env: { ...process.env, ROBUSTIFY_THREADS: '1' }, maxBuffer: 1 << 26 });
    assert.deepEqual(JSON.parse(await fsp.readFile(path.join(dir, 'failed.json'), 'utf8')), [], 'the examples run');
    assert.ok(running.length >= 8, `${running.length} examples run`);
    assert.deepEqual(undocumented(program, entries), [], 'exported values without an @example (or a {@link} to one)');
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});
