/**
 * The output discipline seen from the command line: --force replaces only robustify's own outputs and never an
 * input, outputs are checked before any work with one clear line naming the user's path, resumed sets are
 * verified, exit codes (2 usage, 1 failure), --version, unknown options first. The commands run in-process
 * (robustifyHere) but for the shared model and the --version/--help/usage cases, which want a fresh process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { robustify, robustifyHere, smallDataset, tempDir } from './helpers.js';

const TRAIN = ['--identities', '2', '--epochs', '2', '--hidden', '16', '--patience', '1', '--quiet'];
const ATTACK = ['--eps', '4', '--eps-step', '1', '--max-iter', '2', '--batch-size', '1', '--quiet'];

async function count(dir: string): Promise<number> {
  let n = 0;
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) n += e.isDirectory() ? await count(path.join(dir, e.name)) : 1;
  return n;
}

/** One line naming the path, no errno code, no temporary's name. */
function clearLine(stderr: string, names: string): void {
  const first = stderr.split('\n')[0];
  assert.ok(first.includes(names), `names '${names}': ${first}`);
  assert.doesNotMatch(first, /E[A-Z]{3,}:|\.tmp\b/, first);
}

const shared = (async () => {
  const data = await smallDataset(2, 6);
  const work = await tempDir('outputs');
  const model = path.join(work, 'model');
  const r = await robustify(['train', '--data', data, '--out', model, ...TRAIN]);
  assert.equal(r.code, 0, r.stderr);
  const notes = path.join(work, 'notes');
  await fsp.mkdir(notes);
  await fsp.writeFile(path.join(notes, 'mine.txt'), 'keep me');
  return { data, work, model, notes };
})();

test('--force never deletes an input or a folder robustify did not write (train, attack)', async () => {
  const { model, notes } = await shared;
  // Its own copy: before the fix the first case deleted the dataset.
  const data = await smallDataset(2, 6);
  const files = await count(data);
  const cases = [
    { args: ['train', '--data', data, '--out', data, '--force', ...TRAIN], expect: /--out '.*' is the input --data/ },
    { args: ['train', '--data', data, '--out', notes, '--force', ...TRAIN], expect: /--out '.*notes' exists and holds files robustify did not write .*--force replaces only robustify's own/ },
    { args: ['attack', '--model', model, '--data', data, '--out', notes, '--force', ...ATTACK], expect: /--out '.*notes' exists and holds files robustify did not write/ },
    { args: ['attack', '--model', model, '--data', data, '--out', model, '--force', ...ATTACK], expect: /--out '.*model' is the input --model/ },
    { args: ['attack', '--model', model, '--data', data, '--out', path.join(data, 'adv'), ...ATTACK], expect: /--out '.*adv' is inside the input --data/ },
    { args: ['train', '--data', path.join(data, (await fsp.readdir(data))[0]), '--out', data, ...TRAIN], expect: /--out '.*' contains the input --data/ },
  ];
  for (const c of cases) {
    const r = await robustifyHere(c.args);
    assert.equal(r.code, 2, `${c.args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, c.expect);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  assert.equal(await count(data), files, 'the dataset is untouched');
  assert.equal(await fsp.readFile(path.join(notes, 'mine.txt'), 'utf8'), 'keep me');
  assert.ok(existsSync(path.join(model, 'model.json')));
  assert.ok(!existsSync(path.join(data, 'adv')));
});

test('--force replaces a model robustify saved; without it the model is kept', async () => {
  const { data, work } = await shared;
  const out = path.join(work, 'model2');
  assert.equal((await robustifyHere(['train', '--data', data, '--out', out, ...TRAIN])).code, 0);
  const again = await robustifyHere(['train', '--data', data, '--out', out, ...TRAIN]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /holds a classifier saved by robustify train from an earlier run; use --force/);
  const forced = await robustifyHere(['train', '--data', data, '--out', out, '--force', ...TRAIN, '--seed', '3']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(JSON.parse(await fsp.readFile(path.join(out, 'model.json'), 'utf8')).training.seed, 3);
  assert.deepEqual((await fsp.readdir(work)).filter((n) => n.startsWith('.')), [], 'no temporaries left');
});

test('outputs are checked before any work, in one line naming the user\'s path (not a temporary, no errno)', async () => {
  const { data, model, notes, work } = await shared;
  const json = await robustifyHere(['evaluate', '--model', model, '--data', data, '--json', path.join(work, 'missing', 'r.json'), '--quiet']);
  assert.equal(json.code, 2);
  assert.equal(json.stdout, '', 'refused before the evaluation (no report printed, then lost)');
  clearLine(json.stderr, `--json '${path.join(work, 'missing', 'r.json')}': its folder`);
  const other = await robustifyHere(['evaluate', '--model', model, '--data', data, '--json', path.join(notes, 'mine.txt'), '--quiet']);
  assert.equal(other.code, 2);
  assert.match(other.stderr, /--json '.*mine\.txt' exists and was not written by robustify/);
  const underFile = path.join(notes, 'mine.txt', 'model');
  const r = await robustifyHere(['train', '--data', data, '--out', underFile, ...TRAIN]);
  assert.equal(r.code, 2);
  clearLine(r.stderr, `--out '${underFile}': cannot create it, '${path.join(notes, 'mine.txt')}' is a file`);
  const isFile = await robustifyHere(['attack', '--model', model, '--data', data, '--out', path.join(notes, 'mine.txt'), ...ATTACK]);
  assert.equal(isFile.code, 2);
  clearLine(isFile.stderr, `--out '${path.join(notes, 'mine.txt')}' is a file, not a folder`);
  // A report evaluate wrote may be rewritten.
  const ok = path.join(work, 'r.json');
  for (let i = 0; i < 2; i++) {
    const ev = await robustifyHere(['evaluate', '--model', model, '--data', data, '--json', ok, '--quiet']);
    assert.equal(ev.code, 0, ev.stderr);
  }
  assert.equal(JSON.parse(await fsp.readFile(ok, 'utf8')).format, 'robustify-evaluation/1');
  const dir = await tempDir('outputs-defend');
  const face = path.join(data, (await fsp.readdir(data))[0], '000.png');
  const same = await robustifyHere(['defend', '--pipeline', 'jpeg:50', face, face]);
  assert.equal(same.code, 2);
  assert.match(same.stderr, /OUT '.*000\.png' is the input IN/);
  const out = path.join(dir, 'o.png');
  assert.equal((await robustifyHere(['defend', '--pipeline', 'jpeg:50', face, out])).code, 0);
  const twice = await robustifyHere(['defend', '--pipeline', 'jpeg:50', face, out]);
  assert.equal(twice.code, 2);
  assert.match(twice.stderr, /OUT '.*o\.png' exists; robustify does not overwrite files/);
});

test('attack: a bad image without --skip-bad leaves no set; a lost image of a finished set is attacked again', async () => {
  const { data, model, work } = await shared;
  const bad = await tempDir('outputs-bad');
  await fsp.cp(data, bad, { recursive: true });
  const first = (await fsp.readdir(bad)).sort()[0];
  await fsp.writeFile(path.join(bad, first, '0.png'), 'not a png');
  const out = path.join(work, 'adv-bad');
  const r = await robustifyHere(['attack', '--model', model, '--data', bad, '--split', 'all', '--out', out, ...ATTACK]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /0\.png/);
  assert.ok(!existsSync(out), 'no 0-item set left behind');

  const adv = path.join(work, 'adv');
  const args = ['attack', '--model', model, '--data', data, '--out', adv, ...ATTACK];
  assert.equal((await robustifyHere(args)).code, 0);
  const index = JSON.parse(await fsp.readFile(path.join(adv, 'index.json'), 'utf8'));
  assert.equal(index.items.length, 2);
  await fsp.rm(path.join(adv, index.items[0].file));
  const again = await robustifyHere(args.filter((a) => a !== '--quiet'));
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr.split('\n')[0], /resuming the adversarial set .*1 image done/);
  assert.match(again.stderr, /1 listed image is missing or damaged and will be attacked again/);
  const fixed = JSON.parse(await fsp.readFile(path.join(adv, 'index.json'), 'utf8'));
  assert.equal(fixed.complete, true);
  assert.equal(fixed.items.length, 2);
  assert.deepEqual(new Set(fixed.items.map((i: { source: string }) => i.source)), new Set(index.items.map((i: { source: string }) => i.source)));
  for (const it of fixed.items) assert.equal((await fsp.stat(path.join(adv, it.file))).size, 150 * 150 * 3 * 4);
  assert.deepEqual((await fsp.readdir(adv)).filter((n) => n.endsWith('.f32')).sort(), fixed.items.map((i: { file: string }) => i.file).sort(), 'no unlisted file');
});

test('--version, --help; usage errors exit 2, failures 1; a mistyped option is named before a missing required one', async () => {
  const pkg = JSON.parse(await fsp.readFile('package.json', 'utf8'));
  const v = await robustify(['--version']);
  assert.equal(v.code, 0);
  assert.equal(v.stdout.trim(), pkg.version);
  // Commands are imported lazily: the listing and each command's help stay complete.
  const help = await robustify(['--help']);
  assert.equal(help.code, 0);
  for (const name of ['demo', 'study', 'train', 'evaluate', 'attack', 'robustness', 'embed', 'defend', 'prepare', 'bmcnn', 'denoise', 'serve', 'worker']) {
    assert.match(help.stdout, new RegExp(`^  ${name} `, 'm'), `--help lists ${name}`);
  }
  const attackHelp = await robustify(['attack', '--help']);
  assert.equal(attackHelp.code, 0, attackHelp.stderr);
  assert.match(attackHelp.stdout, /^Usage: robustify attack \[options\]$/m);
  assert.match(attackHelp.stdout, /--eps-step <value> /);
  assert.equal((await robustify(['help', 'attack'])).stdout, attackHelp.stdout);
  const nested = await robustify(['--quiet', 'bmcnn', 'train', '-h']);
  assert.equal(nested.code, 0, nested.stderr);
  assert.match(nested.stdout, /^Usage: robustify bmcnn train \[options\]$/m);
  const unknownCmd = await robustify(['atack']);
  assert.equal(unknownCmd.code, 2);
  assert.match(unknownCmd.stderr, /unknown command 'atack'\n\(Did you mean attack\?\)/);
  const typo = await robustify(['train', '--dat', 'x', '--out', 'y']);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr.split('\n')[0], /unknown option '--dat'/);
  const sub = await robustify(['bmcnn', 'train', '--dta', 'x']);
  assert.equal(sub.code, 2);
  assert.match(sub.stderr.split('\n')[0], /unknown option '--dta'/);
  const missing = await robustify(['attack', '--data', 'x']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /required option '--model/);
  const range = await robustify(['train', '--data', 'x', '--out', 'y', '--epochs', '0']);
  assert.equal(range.code, 2);
  assert.match(range.stderr, /--epochs: expected a whole number/);
  const { work } = await shared;
  const fail = await robustify(['train', '--data', path.join(work, 'nope'), '--out', path.join(work, 'm-nope'), '--quiet']);
  assert.equal(fail.code, 1);
  assert.match(fail.stderr, /--data: no such directory/);
});
