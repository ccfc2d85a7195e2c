/**
 * The bad-input corpus: hostile, broken and odd inputs across the commands that read them, each with its
 * expected outcome — one clear line naming the file or parameter, a non-zero exit and nothing written; or
 * accepted, with a warning when something was changed. Inputs are generated here (test/helpers/bad-inputs.ts).
 * The CLI runs in-process to keep the ~100 cases fast.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import * as gen from '../helpers/bad-inputs.js';
import { StepCache } from '../../src/study/cache.js';
import { robustifyHere as run, smallDataset, tempDir, type CliResult } from './helpers.js';
import { tinyOnnx } from '../helpers/tiny-onnx.js';

interface Case {
  name: string;
  /** `out`: a fresh path the command may write to; it must not exist after a refusal. */
  args: (out: string) => string[];
  /** A refusal's one line (the file or parameter it names), or for an accepted input a required warning. */
  error?: RegExp;
  warning?: RegExp;
  /** Accepted: exit 0 and `out` written (unless `writes` is false: embed prints). */
  ok?: boolean;
  writes?: boolean;
  /** A reason this case cannot run here (reported as a skip). */
  skip?: string;
  check?: (r: CliResult, out: string) => Promise<void>;
}

let work: string;
let bad: string;
let data: string;
let model: string;
let adv: string;
let outs = 0;
let handled = 0;
let skipped = 0;
let total = 0;
const f = (name: string) => path.join(bad, name);

async function write(name: string, bytes: Buffer | string): Promise<string> {
  await fsp.mkdir(path.dirname(f(name)), { recursive: true });
  await fsp.writeFile(f(name), bytes);
  return f(name);
}

/** A copy of `src` (a folder) with `edit` applied; returns the copy. */
async function variant(src: string, name: string, edit: (dir: string) => Promise<void>): Promise<string> {
  const dir = path.join(work, 'variants', name);
  await fsp.cp(src, dir, { recursive: true });
  await edit(dir);
  return dir;
}

async function editJson(file: string, edit: (j: Record<string, unknown>) => void): Promise<void> {
  const j = JSON.parse(await fsp.readFile(file, 'utf8'));
  edit(j);
  await fsp.writeFile(file, JSON.stringify(j));
}

/** Overwrite the first float32 of a weights shard with NaN. */
async function poisonFirstFloat(file: string): Promise<void> {
  const b = await fsp.readFile(file);
  b.writeFloatLE(Number.NaN, 0);
  await fsp.writeFile(file, b);
}

async function runCases(t: { test: (name: string, fn: () => Promise<void>) => Promise<void>; diagnostic: (m: string) => void }, cases: Case[]): Promise<void> {
  for (const c of cases) {
    total++;
    await t.test(c.name, async (st?: unknown) => {
      if (c.skip) {
        (st as { skip: (m: string) => void }).skip(c.skip);
        skipped++;
        return;
      }
      const out = path.join(work, 'out', `${++outs}-${c.name.replace(/[^\w]+/g, '_')}`);
      await fsp.mkdir(path.dirname(out), { recursive: true });
      const args = c.args(out);
      const r = await run(['--quiet', ...args]);
      if (c.ok) {
        assert.equal(r.code, 0, `${c.name}: ${r.stderr}`);
        if (c.writes !== false) assert.ok(existsSync(out), `${c.name}: ${out} not written`);
        if (c.warning) assert.match(r.stderr, c.warning, c.name);
        else assert.doesNotMatch(r.stderr, /warning/, c.name);
      } else {
        assert.ok(r.code === 1 || r.code === 2, `${c.name}: exit ${r.code}, stderr ${r.stderr}`);
        assert.match(r.stderr, c.error!, c.name);
        assert.equal(r.stderr.trim().split('\n').length, 1, `${c.name}: one line, got ${r.stderr}`);
        assert.doesNotMatch(r.stderr, /\n\s+at /, `${c.name}: stack trace`);
        assert.ok(!existsSync(out), `${c.name}: ${out} written`);
        assert.equal(r.stdout, '', `${c.name}: stdout ${r.stdout}`);
      }
      await c.check?.(r, out);
      handled++;
    });
  }
}

before(async () => {
  work = await tempDir('corpus');
  bad = path.join(work, 'in');
  data = await smallDataset(2, 6);
  model = path.join(work, 'model');
  const tr = await run(['--quiet', 'train', '--data', data, '--identities', '2', '--out', model, '--epochs', '1', '--hidden', '16', '--validation', '0.3']);
  assert.equal(tr.code, 0, tr.stderr);
  adv = path.join(work, 'adv');
  const at = await run(['--quiet', 'attack', '--model', model, '--data', data, '--out', adv, '--max-iter', '1', '--eps-step', '1', '--batch-size', '2']);
  assert.equal(at.code, 0, at.stderr);

  const good = await gen.png(40, 40);
  await write('good.png', good);
  await write('empty.png', Buffer.alloc(0));
  await write('truncated.png', good.subarray(0, Math.floor(good.length / 2)));
  await write('text.jpg', 'not an image\n');
  await write('deep16.png', await gen.png16(40, 40));
  await write('alpha.png', await gen.pngAlpha(40, 40));
  await write('opaque-alpha.png', await gen.pngOpaqueAlpha(40, 40));
  await write('grey.png', await gen.pngGrey(40, 40));
  await write('cmyk.jpg', await gen.jpegCmyk(40, 40));
  await write('animated.webp', await gen.webpAnimated(40, 40));
  await write('animated.gif', await gen.gifAnimated(40, 40));
  await write('one.png', await gen.png(1, 1));
  // A real bomb (a valid 7000² PNG of ~100 KB that decodes to 147 MB) and a 20000² header.
  await write('bomb.png', await gen.pngBomb(7000, 7000));
  await write('huge20k.png', gen.pngHeaderOnly(20000, 20000));
  await write('locked.png', good);
  await fsp.chmod(f('locked.png'), 0o000);
  await gen.symlinkLoop(bad, 'loop.png');
  await fsp.mkdir(f('folder.png'));
  await write('Zoë dir/ä b.png', good);
});

/** Image files: every decoding class through `defend` (file → file) and `embed` (file → stdout). */
test('bad images through defend and embed', async (t) => {
  const classes: { file: string; error?: RegExp; warning?: RegExp; skip?: string }[] = [
    { file: 'empty.png', error: /'.*empty\.png': empty file \(0 bytes\)/ },
    { file: 'truncated.png', error: /'.*truncated\.png': truncated or corrupt PNG/ },
    { file: 'text.jpg', error: /'.*text\.jpg': not a PNG, JPEG or WebP image/ },
    { file: 'deep16.png' },
    { file: 'alpha.png', warning: /warning: '.*alpha\.png': alpha channel dropped \(50\.0 % of pixels not opaque/ },
    { file: 'opaque-alpha.png' },
    { file: 'grey.png' },
    { file: 'cmyk.jpg' },
    { file: 'animated.webp', warning: /warning: '.*animated\.webp': animated \(2 frames\): only the first frame is used/ },
    { file: 'animated.gif', error: /'.*animated\.gif': unsupported format 'gif'/ },
    { file: 'one.png' },
    { file: 'bomb.png', error: /'.*bomb\.png': 7000×7000 = 49000000 pixels exceeds the pixel budget of 40000000/ },
    { file: 'huge20k.png', error: /'.*huge20k\.png': 20000×20000 = 400000000 pixels exceeds the pixel budget/ },
    { file: 'locked.png', error: /'.*locked\.png': permission denied/, skip: gen.chmodStopsReads() ? undefined : 'running as root: chmod 000 does not stop reads' },
    { file: 'loop.png', error: /loop\.png'?: symbolic link loop/ },
    { file: 'missing.png', error: /missing\.png'?: no such file/ },
    { file: 'Zoë dir/ä b.png' },
  ];
  const cases: Case[] = [];
  for (const c of classes) {
    cases.push({ name: `defend ${c.file}`, args: (out) => ['defend', '--pipeline', 'median:3', f(c.file), `${out} ö.png`], error: c.error, warning: c.warning, ok: !c.error, writes: false, skip: c.skip,
      check: async (_r, out) => assert.equal(existsSync(`${out} ö.png`), !c.error) });
    if (c.error) cases.push({ name: `embed ${c.file}`, args: () => ['embed', '--json', f(c.file)], error: c.error, skip: c.skip });
  }
  await runCases(t, cases);
  cases.length = 0;

  // The accepted files through one `embed` (one backbone load): a row each, with its warnings in the JSON.
  const accepted = classes.filter((c) => !c.error);
  const r = await run(['--quiet', 'embed', '--json', ...accepted.map((c) => f(c.file))]);
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as { file: string; descriptor: number[]; warnings?: string[] }[];
  for (const [i, c] of accepted.entries()) {
    total++;
    await t.test(`embed ${c.file}`, async () => {
      assert.equal(rows[i].file, f(c.file));
      assert.equal(rows[i].descriptor.length, 128);
      assert.ok(rows[i].descriptor.every(Number.isFinite));
      const warning = c.warning && new RegExp(c.warning.source.replace(/^warning: /, ''));
      if (warning) {
        assert.match(rows[i].warnings!.join('\n'), warning);
        assert.match(r.stderr, c.warning!);
      } else {
        assert.equal(rows[i].warnings, undefined);
      }
      handled++;
    });
  }
  cases.push(
    { name: 'embed a folder given for a file', args: () => ['embed', f('folder.png')], error: /'.*folder\.png': is a directory/ },
    { name: 'defend --max-pixels lowered refuses a 40×40 image', args: (out) => ['defend', '--pipeline', 'none', '--max-pixels', '1000', f('good.png'), `${out}.png`], error: /40×40 = 1600 pixels exceeds the pixel budget of 1000/ },
    { name: 'defend --max-pixels at the image size accepts it', args: (out) => ['defend', '--pipeline', 'none', '--max-pixels', '1600', f('good.png'), `${out}.f32`],
      ok: true, writes: false, check: async (_r, out) => assert.equal((await fsp.stat(`${out}.f32`)).size, 40 * 40 * 12) },
    { name: 'defend --format f32 with a .png name', args: (out) => ['defend', '--pipeline', 'none', '--format', 'f32', f('good.png'), `${out}.png`], error: /--format f32 contradicts OUT '.*\.png'/,
      check: async (_r, out) => assert.ok(!existsSync(`${out}.png`)) },
    { name: 'defend --format png with a .png name', args: (out) => ['defend', '--pipeline', 'none', '--format', 'png', f('good.png'), out + '.png'], ok: true, writes: false },
    { name: 'defend a folder with a bad image leaves no OUT', args: (out) => ['defend', '--pipeline', 'none', bad, out], error: /cannot decode image/ },
  );
  await runCases(t, cases);
});

/** Every numeric parameter of every command, out of range: refused before any work, naming the parameter. */
test('numeric parameters out of range', async (t) => {
  const img = () => f('good.png');
  const table: [string, (out: string) => string[], string, string][] = [];
  const train = (out: string) => ['train', '--data', data, '--out', out];
  for (const [flag, v] of [['--identities', '1'], ['--identities', '0'], ['--epochs', '0'], ['--lr', '0'], ['--batch-size', '0'], ['--patience', '0'], ['--dropout', '1'],
    ['--hidden', '0'], ['--validation', '0.95'], ['--seed', '-1'], ['--test-every', '1'], ['--test-offset', '5'], ['--max-pixels', '0']]) table.push(['train', train, flag, v]);
  const attack = (out: string) => ['attack', '--model', model, '--data', data, '--out', out];
  for (const [flag, v] of [['--eps', '-1'], ['--eps-step', '0'], ['--max-iter', '0'], ['--num-random-init', '-1'], ['--batch-size', '0'], ['--seed', 'x'], ['--test-every', '0'], ['--max-pixels', '-5']]) {
    table.push(['attack', attack, flag, v]);
  }
  const evaluate = () => ['evaluate', '--model', model, '--data', data];
  for (const [flag, v] of [['--seed', '-1'], ['--max-pixels', 'many'], ['--test-offset', '9']]) table.push(['evaluate', evaluate, flag, v]);
  for (const [flag, v] of [['--seed', '-1'], ['--max-pixels', '0']]) table.push(['defend', (out) => ['defend', '--pipeline', 'none', img(), `${out}.png`], flag, v]);
  for (const [flag, v] of [['--sigma', '0'], ['--sigma', '1000'], ['--max-pixels', '0']]) table.push(['denoise', (out) => ['denoise', '--sigma', '25', img(), `${out}.png`], flag, v]);
  table.push(['embed', () => ['embed', img()], '--max-pixels', '0']);
  for (const [flag, v] of [['--size', '4'], ['--margin', '5'], ['--min-score', '2'], ['--min-face-size', '-1'], ['--pad', '3'], ['--max-pixels', '0']]) {
    table.push(['prepare', (out) => ['prepare', data, out], flag, v]);
  }
  for (const [flag, v] of [['--steps', '-1'], ['--pilot-steps', '-1'], ['--sigma-min', '0'], ['--sigma-max', '1000'], ['--patch', '4'], ['--batch', '0'], ['--seed', '-1'], ['--lr', '0'],
    ['--matches', '0'], ['--radius', '0'], ['--width', '1'], ['--depth', '1'], ['--val-every', '0'], ['--val-images', '0'], ['--max-pixels', '0']]) {
    table.push(['bmcnn train', (out) => ['bmcnn', 'train', '--data', bad, '--out', out], flag, v]);
  }
  table.push(['study', (out) => ['study', '--data', data, '--out', out, '--quick'], '--max-pixels', '0']);
  for (const [flag, v] of [['--seed', '-1'], ['--eps', '0'], ['--max-iter', '0']]) table.push(['demo', (out) => ['demo', '--out', out], flag, v]);
  const esc = (s: string) => s.replace(/[-]/g, '\\-');
  await runCases(t, table.map(([cmd, base, flag, v]) => {
    // --flag must come after the subcommand's words: append it.
    return { name: `${cmd} ${flag} ${v}`, args: (out) => [...base(out), flag, v], error: new RegExp(`${esc(flag)}: .*(expected|must be) .*got '?${v}'?$`, 'm') };
  }));
});

/** Broken user backbones (`--backbone`): each refused at load in one line naming the file and the cause. */
test('bad backbones: corrupt ONNX, unsupported op, declared size the graph disagrees with, TF.js shard missing', async (t) => {
  const train = (backbone: string, ...more: string[]) => (out: string) => ['train', '--data', data, '--identities', '2', '--out', out, '--backbone', backbone, ...more];
  const tiny = await tinyOnnx(await fsp.mkdtemp(path.join(work, 'tiny-')));
  const cases: Case[] = [
    { name: 'corrupt ONNX', args: train(await write('nets/corrupt.onnx', Buffer.from([0x08, 0x07, 0xff, 0xff, 0xff, 0x01, 0x42]))), error: /corrupt\.onnx: not an ONNX model/ },
    { name: 'ONNX with an unsupported op', args: train(await write('nets/lrn.onnx', gen.onnxWithOp('LRN'))), error: /lrn\.onnx: ONNX op 'LRN' is not supported .*\(node 'l'\)/ },
    { name: 'declared input size the graph disagrees with', args: train(tiny, '--backbone-spec', '{"input_size":112}'), error: /tiny\.onnx: declared input_size 112 disagrees with graph input 'input' \[\?,3,9,9\]/ },
    { name: 'TF.js model.json with its shard missing', args: train(await write('nets/tfjs/model.json', gen.tfjsWithoutShard())), error: /model\.json: weight shard '.*w\.bin' is missing/ },
  ];
  await runCases(t, cases);
});

/** Damaged robustify files: model folders, BMCNN weights, adversarial sets, the study cache. */
test('corrupt model, weights, index and cache files', async (t) => {
  const m = (name: string, edit: (dir: string) => Promise<void>) => variant(model, name, edit);
  const evalModel = (dir: string) => () => ['evaluate', '--model', dir, '--data', data];
  const bmcnn = path.resolve('weights/bmcnn');
  const a = (name: string, edit: (dir: string) => Promise<void>) => variant(adv, name, edit);
  const evalAdv = (dir: string) => () => ['evaluate', '--model', model, '--adversarial', dir];
  const firstItem = JSON.parse(await fsp.readFile(path.join(adv, 'index.json'), 'utf8')).items[0].file as string;

  const cases: Case[] = [
    { name: 'model.json not JSON', args: evalModel(await m('notjson', (d) => fsp.writeFile(path.join(d, 'model.json'), '{"format": "robustify-class'))), error: /--model: cannot read '.*notjson\/model\.json'/ },
    { name: 'model.json of version 2', args: evalModel(await m('v2', (d) => editJson(path.join(d, 'model.json'), (j) => (j.version = 2)))), error: /'.*v2\/model\.json' has format version 2; this robustify reads version 1/ },
    { name: 'model.json head of the wrong shape', args: evalModel(await m('shape', (d) => editJson(path.join(d, 'model.json'), (j) => ((j.head as { classes: number }).classes = 5)))), error: /'.*shape\/model\.json' has head .*classes 2/ },
    { name: 'model.json with one identity', args: evalModel(await m('oneid', (d) => editJson(path.join(d, 'model.json'), (j) => (j.identities = ['x'])))), error: /'.*oneid\/model\.json' needs identities/ },
    { name: 'head weights with NaN', args: evalModel(await m('nan', (d) => poisonFirstFloat(path.join(d, 'head.bin')))), error: /weights '.*nan\/head-weights_manifest\.json': weight '.*' holds NaN at index 0/ },
    { name: 'head weights truncated', args: evalModel(await m('short', async (d) => fsp.truncate(path.join(d, 'head.bin'), 100))), error: /'.*short\/head-weights_manifest\.json': shards hold 100 bytes/ },
    { name: 'head manifest not a manifest', args: evalModel(await m('manifest', (d) => fsp.writeFile(path.join(d, 'head-weights_manifest.json'), '{"a":1}'))), error: /'.*manifest\/head-weights_manifest\.json': not a TF\.js weights manifest/ },
    { name: '--model given BMCNN weights', args: evalModel(bmcnn), error: /is not a robustify classifier \(it looks like BMCNN denoiser weights\)/ },
    { name: '--model given a file', args: evalModel(path.join(data)), error: /--model: no model at/ },
    { name: 'denoise --weights given a classifier', args: (out) => ['denoise', '--sigma', '25', '--weights', model, f('good.png'), `${out}.png`], error: /model\/model\.json: is a robustify classifier .*not BMCNN denoiser weights/ },
    { name: 'denoise --weights with NaN', args: (out) => ['denoise', '--sigma', '25', '--weights', path.join(work, 'variants', 'bnan'), f('good.png'), `${out}.png`], error: /bnan\/model\.json: weight '.*' holds NaN/ },
    { name: 'denoise --weights of format 2', args: (out) => ['denoise', '--sigma', '25', '--weights', path.join(work, 'variants', 'bv2'), f('good.png'), `${out}.png`], error: /BMCNN weights of format 'robustify-bmcnn\/2'/ },
    { name: 'adversarial set unfinished', args: evalAdv(await a('partial', (d) => editJson(path.join(d, 'index.json'), (j) => (j.complete = false)))), error: /adversarial set: '.*partial' is unfinished \(\d+ images so far; the attack was interrupted\)/ },
    { name: 'adversarial image missing', args: evalAdv(await a('lost', (d) => fsp.rm(path.join(d, firstItem)))), error: new RegExp(`'.*lost/${firstItem}' is missing`) },
    { name: 'adversarial image of the wrong size', args: evalAdv(await a('cut', (d) => fsp.truncate(path.join(d, firstItem), 12))), error: /has 12 bytes, expected 270000/ },
    { name: 'adversarial image with a NaN pixel', args: evalAdv(await a('nanpx', (d) => fsp.writeFile(path.join(d, firstItem), gen.f32(150, 150, 4)))), error: new RegExp(`'.*nanpx/${firstItem}': value NaN at row 0, column 1, channel 1`) },
    { name: 'index.json of version 2', args: evalAdv(await a('iv2', (d) => editJson(path.join(d, 'index.json'), (j) => (j.version = 2)))), error: /'.*iv2\/index\.json' has format version 2/ },
    { name: 'index.json with a bad shape', args: evalAdv(await a('ishape', (d) => editJson(path.join(d, 'index.json'), (j) => (j.shape = [150, 150])))), error: /'.*ishape\/index\.json' has shape \[150,150\]/ },
    { name: 'index.json item outside the set', args: evalAdv(await a('escape', (d) => editJson(path.join(d, 'index.json'), (j) => ((j.items as { file: string }[])[0].file = '../../x.f32')))), error: /item 0: file "\.\.\/\.\.\/x\.f32" is not a \.f32 name inside the set/ },
    { name: 'index.json not JSON', args: evalAdv(await a('ijson', (d) => fsp.writeFile(path.join(d, 'index.json'), '{'))), error: /adversarial set: cannot read '.*ijson\/index\.json'/ },
    { name: 'no index.json', args: evalAdv(path.join(work, 'in')), error: /no adversarial set at '.*in' \(missing index\.json\)/ },
  ];
  await variant(bmcnn, 'bnan', (d) => poisonFirstFloat(path.join(d, 'weights.bin')));
  await variant(bmcnn, 'bv2', (d) => editJson(path.join(d, 'model.json'), (j) => (j.format = 'robustify-bmcnn/2')));
  await runCases(t, cases);

  // The study cache, read by the library (a study run takes minutes): a corrupt entry names its file.
  for (const [name, file, bytes, read] of [
    ['study cache: JSON entry not JSON', 'step-0.json', '{"y_pred": [1,', (c: StepCache) => c.json('step-0', async () => ({}))],
    ['study cache: float entry of the wrong length', 'pgd-0.f32', Buffer.alloc(10), (c: StepCache) => c.floats('pgd-0', async () => new Float32Array(1), 3)],
    ['study cache: float entry with NaN', 'pgd-1.f32', Buffer.from(new Float32Array([1, Number.NaN, 3]).buffer), (c: StepCache) => c.floats('pgd-1', async () => new Float32Array(3), 3)],
  ] as const) {
    total++;
    await t.test(name, async () => {
      const root = path.join(work, 'cache', name.replace(/\W+/g, '_'));
      await fsp.mkdir(root, { recursive: true });
      await fsp.writeFile(path.join(root, file), bytes);
      await assert.rejects((read as (c: StepCache) => Promise<unknown>)(new StepCache(root)), new RegExp(`study cache: '.*${file.replace('.', '\\.')}' is corrupt`));
      handled++;
    });
  }
});

/** Datasets with odd members: refused naming the file, or trained on with a warning kept in model.json. */
test('datasets: bombs refused, tiny and see-through faces and empty validation splits warned about', async (t) => {
  const withFile = async (name: string, file: string, bytes: Buffer) => {
    const d = await variant(data, name, async () => undefined);
    const id = (await fsp.readdir(d)).sort()[0];
    await fsp.writeFile(path.join(d, id, file), bytes);
    return d;
  };
  const quick = ['--identities', '2', '--epochs', '2', '--hidden', '8'];
  const bombData = await withFile('dbomb', '007.png', await fsp.readFile(f('bomb.png')));
  const oddData = await withFile('dodd', '000.png', await fsp.readFile(f('alpha.png')));
  await fsp.writeFile(path.join(oddData, (await fsp.readdir(oddData)).sort()[1], '000.png'), await fsp.readFile(f('one.png')));
  const trainJson = async (out: string) => JSON.parse(await fsp.readFile(path.join(out, 'model.json'), 'utf8')).training;
  await runCases(t, [
    { name: 'train on a dataset with a bomb', args: (out) => ['train', '--data', bombData, '--out', out, ...quick, '--test-every', '3', '--test-offset', '2'], error: /'.*dbomb\/.*\/007\.png': 7000×7000 = 49000000 pixels exceeds the pixel budget/ },
    { name: 'train with --skip-bad lists the bomb', args: (out) => ['train', '--data', bombData, '--out', out, ...quick, '--test-every', '3', '--test-offset', '2', '--skip-bad'], ok: true, warning: /skipped .*007\.png: 7000×7000/ },
    { name: 'evaluate on a dataset with a bomb', args: () => ['evaluate', '--model', model, '--data', bombData, '--split', 'all'], error: /007\.png': 7000×7000 = 49000000 pixels exceeds the pixel budget/ },
    {
      name: 'train on see-through and 1×1 faces', args: (out) => ['train', '--data', oddData, '--out', out, ...quick, '--validation', '0.3'], ok: true,
      warning: /warning: '.*000\.png': alpha channel dropped[\s\S]*warning: '.*000\.png': a tiny face \(1×1\) is upscaled to 150×150/,
      check: async (_r, out) => assert.match((await trainJson(out)).warnings.join('\n'), /alpha channel dropped[\s\S]*tiny face/),
    },
    {
      name: 'evaluate --json carries the warnings', args: (out) => ['evaluate', '--model', model, '--data', oddData, '--split', 'all', '--json', out], ok: true, warning: /alpha channel dropped/,
      check: async (_r, out) => assert.match(JSON.parse(await fsp.readFile(out, 'utf8')).warnings.join('\n'), /alpha channel dropped[\s\S]*tiny face/),
    },
    {
      // 2 × 6 images, every 5th is test: 5 train images per identity, 10 % of which rounds to none.
      name: 'train with a 0-image validation split', args: (out) => ['train', '--data', data, '--out', out, ...quick, '--validation', '0.05'], ok: true,
      warning: /warning: validation: validationFraction 0\.05 of 10 training images holds out 0 .*no early stopping, the last of 2 epochs is kept/,
      check: async (_r, out) => {
        const tr = await trainJson(out);
        assert.equal(tr.best_epoch, 2);
        assert.equal(tr.history[0].val_loss, null);
      },
    },
  ]);
});

test('corpus count', (t) => {
  t.diagnostic(`bad-input corpus: ${total} cases, ${handled} handled, ${skipped} skipped`);
  assert.equal(handled + skipped, total);
});
