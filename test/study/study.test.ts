/**
 * `robustify study --quick` end to end: the tables, curves, search, adaptive and robust sections and the
 * report; a study in a terminal exits (its progress bars stop); a run killed at three points resumes from its
 * cache and ends with the same results.json bytes as the uninterrupted one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { CLI, FACES14, killTree, robustify, robustifyHere, TINY_STUDY, tempDir } from '../cli/helpers.js';
import type { StudyResults } from '../../src/study/run.js';
import { checkReportInBrowser } from '../../src/study/report/index.js';

const QUICK = ['study', '--data', FACES14, '--quick'];

/** Start a study and SIGKILL it once its stderr announces `step`; its stderr so far. */
function killAt(args: string[], step: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes(`study: ${step} `)) killTree(child.pid!);
    });
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve(err) : reject(new Error(`study ended (${code}) before '${step}': ${err}`))));
  });
}

/** Run the CLI under a pseudo-terminal (util-linux `script`), where progress bars draw and must all stop for the process to exit. */
function inTerminal(args: string[]): Promise<{ code: number | null; out: string; hung: boolean }> {
  return new Promise((resolve) => {
    const cmd = [process.execPath, CLI, ...args].map((s) => `'${s.replace(/'/g, "'\\''")}'`).join(' ');
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let hung = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      // Give it a while after the last line; a hung process is killed and reported.
      if (/report: .*report\.html/.test(out)) setTimeout(() => {
        if (child.exitCode === null) {
          hung = true;
          child.kill('SIGKILL');
        }
      }, 60000).unref();
    });
    child.on('exit', (code) => resolve({ code, out, hung }));
  });
}

test('quick study in a terminal: tables 2–10, curves, search, adaptive and robust rows, report; killed at 3 points it resumes to the same results.json', async () => {
  const work = await tempDir('study');
  // Early stopping within max_epochs: the terminal check is that an unfinished epochs bar stops too.
  const config = path.join(work, 'study.json');
  await fsp.writeFile(config, JSON.stringify({ train: { max_epochs: 30, patience: 1 } }));
  const base = [...QUICK, '--config', config];
  const a = path.join(work, 'a');
  const first = await inTerminal([...base, '--out', a]);
  assert.equal(first.hung, false, 'the study printed its report path and then did not exit');
  assert.equal(first.code, 0, first.out);
  assert.match(first.out, /\[[█░]+\]/, 'bars were drawn');
  assert.match(first.out, /clean accuracy [\d.]+ on 12 test images; PGD eps 4: [\d.]+ on \d+/);
  const text = await fsp.readFile(path.join(a, 'results.json'), 'utf8');
  const r = JSON.parse(text) as StudyResults;
  assert.deepEqual(r.tables.map((t) => t.id), ['table2', 'table3', 'table4', 'table5', 'table6', 'table7', 'table8', 'table9', 'table10']);
  assert.equal(r.data.identities.length, 3);
  assert.equal(r.data.attacked_images + r.data.dropped.length, r.data.test_images);
  assert.ok(r.attack.max_linf <= 4 + 1e-4, `max |δ| ${r.attack.max_linf}`);
  assert.ok(r.attack.accuracy <= 0.2, `PGD leaves accuracy ${r.attack.accuracy}`);
  // The undefended rows: the clean set is the correctly classified one (accuracy 1), the PGD row equals Table 3.
  const none = r.defences.find((d) => d.pipeline === 'none')!;
  assert.equal(none.clean_accuracy, 1);
  assert.equal(none.adversarial_accuracy, r.tables[1].accuracy);
  for (const c of [r.curves.eps, r.curves.iterations]) {
    assert.ok(c.series.length >= 2);
    for (const s of c.series) assert.equal(s.accuracy.length, c.x.length);
  }
  assert.equal(r.curves.eps.series[0].accuracy[0], 1, 'eps 0 is the clean set');
  assert.equal(r.search.evaluated, 1 + 3 + 6, 'the bare model and every ordered pipeline of ≤ 2 of 3 candidates');
  assert.equal(r.search.all[0].pipeline, 'none');
  assert.equal(r.search.pareto[0].clean_accuracy, 1, 'the front starts at clean accuracy 1 (the bare model or better)');
  assert.equal(r.adaptive.rows[0].pipeline, r.search.best);
  // The robust section: bare, the paper's best, the searched best; its BPDA and oblivious numbers are the
  // adaptive section's (the same cached sets, scored by the same applier).
  assert.deepEqual(r.robust.rows.map((x) => x.pipeline), [...new Set(['none', r.config.pipelines.best, r.search.best])]);
  for (const x of r.robust.rows) {
    assert.equal(x.suite.length, 2);
    assert.ok(x.worst_case_accuracy <= Math.min(x.clean_accuracy, ...x.suite.map((s) => s.robust_accuracy)) + 1e-9);
    assert.equal(x.eot_accuracy === null, !/gauss/.test(x.pipeline), `EOT only where the forward pass is random: ${x.pipeline}`);
    assert.equal(x.oblivious_accuracy === null, x.pipeline === 'none');
  }
  const robustBest = r.robust.rows.find((x) => x.pipeline === r.search.best)!;
  if (r.search.best !== 'none') {
    assert.equal(robustBest.bpda_accuracy, r.adaptive.rows[0].adaptive_accuracy);
    assert.equal(robustBest.oblivious_accuracy, r.adaptive.rows[0].oblivious_accuracy);
  }
  for (const f of ['table2.txt', 'table2.md', 'table2.json', 'table10.txt']) await fsp.access(path.join(a, 'tables', f));
  assert.match(await fsp.readFile(path.join(a, 'tables', 'table2.txt'), 'utf8'), /Label\tPrecision\tRecall\tf1-Score\n/);

  // The real report in headless Chromium: every table, figure and plot renders, nothing is fetched.
  const seen = await checkReportInBrowser(path.join(a, 'report.html'), path.join(a, 'screenshot.png'));
  assert.ok(seen.tables.length >= r.tables.length + 8, `${seen.tables.length} tables`);
  for (const t of seen.tables) assert.ok(t.rows > 0, `table ${t.id} has rows`);
  assert.equal(seen.images.length, 8, 'figures 1–8');
  for (const img of seen.images) assert.ok(img.loaded && img.naturalWidth > 0, `image ${img.alt} renders`);
  assert.equal(seen.svgs.length, 3, 'two curves and the search plot');
  for (const svg of seen.svgs) assert.ok(svg.width > 0 && svg.height > 0);
  assert.equal(seen.tocLinks.resolved, seen.tocLinks.total);
  assert.deepEqual(seen.externalRequests, []);
  assert.deepEqual(seen.errors, []);

  // Killed at three points from an empty cache, each next run says first what it resumes; the last completes.
  const b = path.join(work, 'b');
  for (const [i, step] of ['load', 'tables', 'search'].entries()) {
    const stderr = await killAt([...base, '--out', b], step);
    if (i > 0) assert.match(stderr.split('\n')[0], /^study: resuming from the cache/, `run ${i + 1} says first what the killed one left`);
    await assert.rejects(fsp.access(path.join(b, 'results.json')), 'a killed run leaves no results.json');
  }
  const resumed = await robustify([...base, '--out', b]);
  assert.equal(resumed.code, 0, resumed.stderr);
  const [, reused] = /\((\d+) cached steps reused/.exec(resumed.stdout) ?? [];
  assert.ok(Number(reused) > 0, resumed.stdout);
  assert.equal(await fsp.readFile(path.join(b, 'results.json'), 'utf8'), text, 'same seed, same bytes');
  assert.deepEqual((await fsp.readdir(path.join(b, 'cache'))).filter((n) => /\.tmp(\.old|\.owner)?$/.test(n)), [], 'no temporaries left in the cache');
});

test('study: a bad configuration names the key, exits non-zero, writes nothing', async () => {
  const dir = await tempDir('study-bad');
  const config = path.join(dir, 'study.json');
  await fsp.writeFile(config, JSON.stringify({ attack: { eps_step: 0 } }));
  const out = path.join(dir, 'report');
  const r = await robustifyHere([...QUICK, '--out', out, '--config', config]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /attack\.eps_step must be a number > 0/);
  await assert.rejects(fsp.access(out));
  const notStudy = await tempDir('study-other');
  await fsp.writeFile(path.join(notStudy, 'notes.txt'), 'mine');
  const r2 = await robustifyHere([...QUICK, '--out', notStudy]);
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /--out '.*' exists and holds files robustify did not write \(it is not a study report\)/);
  assert.equal(await fsp.readFile(path.join(notStudy, 'notes.txt'), 'utf8'), 'mine');
});

test('study --prepare: raw photos are detected and aligned first (cached), then studied', async () => {
  const raw = await tempDir('study-raw');
  for (const who of (await fsp.readdir(FACES14)).sort().slice(0, 2)) {
    await fsp.mkdir(path.join(raw, who));
    for (const f of (await fsp.readdir(path.join(FACES14, who))).sort().slice(0, 10)) await fsp.copyFile(path.join(FACES14, who, f), path.join(raw, who, f));
  }
  const work = await tempDir('study-prep');
  const config = path.join(work, 'study.json');
  await fsp.writeFile(config, JSON.stringify(TINY_STUDY));
  const cache = path.join(work, 'prepared');
  const out = path.join(work, 'report');
  const r = await robustify(['study', '--data', raw, '--prepare', '--prepare-cache', cache, '--quick', '--config', config, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /prepare: \d+ faces from 20 photos/);
  const manifest = JSON.parse(await fsp.readFile(path.join(cache, 'manifest.json'), 'utf8')) as { images: { status: string; faces?: unknown[] }[] };
  assert.equal(manifest.images.length, 20, 'every photo is listed, found or not');
  const found = manifest.images.reduce((n, i) => n + (i.faces?.length ?? 0), 0);
  assert.ok(found >= 10, `${found} faces found`);
  const results = JSON.parse(await fsp.readFile(path.join(out, 'results.json'), 'utf8')) as StudyResults;
  assert.equal(results.data.identities.length, 2);
  assert.equal(results.data.train_images + results.data.test_images, found, 'the study reads the aligned faces');
  await fsp.access(path.join(out, 'report.html'));
});
