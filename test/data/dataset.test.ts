import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodePng, type RgbImage } from '../../src/image/index.js';
import { DatasetError, listDataset, selectTopK, splitDataset, validationSplit, type Sample } from '../../src/data/index.js';

const FACES14 = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../shared/data/faces14');

let tmp: string;
let png: Buffer;
before(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'robustify-data-'));
  const img: RgbImage = { data: new Float32Array(4 * 4 * 3).fill(128), height: 4, width: 4 };
  png = await encodePng(img);
});
after(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

/** Creates `files` (relative paths) under a fresh folder; image names get real PNG bytes, others text. */
async function fixture(name: string, files: string[]): Promise<string> {
  const root = path.join(tmp, name);
  for (const f of files) {
    const file = path.join(root, f);
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await fsp.writeFile(file, /\.(png|jpe?g|webp)$/i.test(f) ? png : 'text\n');
  }
  await fsp.mkdir(root, { recursive: true });
  return root;
}

async function datasetError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof DatasetError, `expected a DatasetError, got ${err}`);
    return err.message;
  }
  assert.fail('no error');
}

test('faces14: 14 identities × 35, top-14 labels in name order, 392 train / 98 test', async () => {
  const listing = await listDataset(FACES14);
  assert.equal(listing.layout, 'folder');
  assert.equal(listing.identities.length, 14);
  assert.ok(listing.identities.every((i) => i.files.length === 35));
  const sel = selectTopK(listing, 14);
  assert.deepEqual(sel.identities, [...sel.identities].sort());
  assert.equal(sel.identities[0], 'Drew_Barrymore');
  assert.equal(sel.samples.length, 490);
  const { train, test: testSet } = splitDataset(sel.samples);
  assert.equal(train.length, 392);
  assert.equal(testSet.length, 98);
  for (let label = 0; label < 14; label++) {
    const t = testSet.filter((s) => s.label === label).map((s) => path.basename(s.file));
    assert.deepEqual(t, ['004.png', '009.png', '014.png', '019.png', '024.png', '029.png', '034.png']);
    assert.ok(testSet.filter((s) => s.label === label).every((s) => s.identity === sel.identities[label]));
  }
  // 5 of 35 all-equal identities: ties broken by name, so the first five names win.
  assert.deepEqual(selectTopK(listing, 5).identities, sel.identities.slice(0, 5));
});

test('folder layout: case-insensitive extensions; hidden, non-image and top-level files ignored', async () => {
  const root = await fixture('exts', [
    'ann/a.PNG',
    'ann/b.Jpeg',
    'ann/c.jpg',
    'ann/d.webp',
    'ann/notes.txt',
    'ann/.hidden.png',
    'ann/e.gif',
    '.cache/x.png',
    'README.md',
    'top.png',
    'ben/1.png',
  ]);
  const listing = await listDataset(root);
  assert.deepEqual(
    listing.identities.map((i) => [i.name, i.files.map((f) => path.relative(root, f))]),
    [
      ['ann', ['ann/a.PNG', 'ann/b.Jpeg', 'ann/c.jpg', 'ann/d.webp']],
      ['ben', ['ben/1.png']],
    ],
  );
});

test('top-K: most populated first, ties broken by name; labels follow name order', async () => {
  const root = await fixture('ties', [
    ...['1', '2', '3'].map((f) => `dave/${f}.png`),
    ...['1', '2'].map((f) => `carol/${f}.png`),
    ...['1', '2', '3'].map((f) => `bob/${f}.png`),
    ...['1', '2', '3', '4'].map((f) => `zed/${f}.png`),
    ...['1', '2', '3'].map((f) => `Eve/${f}.png`), // upper case sorts before lower case (code-unit order)
  ]);
  const listing = await listDataset(root);
  assert.deepEqual(selectTopK(listing, 1).identities, ['zed']);
  // zed (4) then the 3-image tie Eve < bob < dave: Eve and bob win; labels in name order.
  const sel = selectTopK(listing, 3);
  assert.deepEqual(sel.identities, ['Eve', 'bob', 'zed']);
  assert.deepEqual(sel.counts, [3, 3, 4]);
  assert.deepEqual([...new Set(sel.samples.map((s) => `${s.label}:${s.identity}`))], ['0:Eve', '1:bob', '2:zed']);
  assert.deepEqual(selectTopK(listing, 5).identities, ['Eve', 'bob', 'carol', 'dave', 'zed']);
});

test('bad --identities values name the option and the number available', async () => {
  const listing = await listDataset(FACES14);
  assert.equal(await datasetError(Promise.resolve().then(() => selectTopK(listing, 0))), 'identities: expected a whole number ≥ 1, got 0');
  assert.match(await datasetError(Promise.resolve().then(() => selectTopK(listing, 15))), /^identities: 15 requested but '.*faces14' has only 14 identities$/);
});

test('missing directory, empty dataset and an empty identity folder are errors naming the path', async () => {
  const missing = path.join(tmp, 'does-not-exist');
  assert.equal(await datasetError(listDataset(missing)), `data: no such directory '${missing}'`);
  const empty = await fixture('empty', ['README.md']);
  assert.match(await datasetError(listDataset(empty)), /^data: no identity folders in '.*empty'/);
  const hollow = await fixture('hollow', ['ann/1.png', 'ben/notes.txt', 'ben/.x.png']);
  assert.equal(await datasetError(listDataset(hollow)), `data: identity folder '${path.join(hollow, 'ben')}' has no images (.png, .jpg, .jpeg, .webp)`);
  const file = path.join(hollow, 'ann', '1.png');
  assert.equal(await datasetError(listDataset(file)), `data: '${file}' is not a directory`);
});

test('CelebA layout: detected, identities ordered numerically, missing files reported', async () => {
  const root = await fixture('celeba', ['img_align_celeba/000001.jpg', 'img_align_celeba/000002.jpg', 'img_align_celeba/000003.jpg', 'img_align_celeba/000005.jpg', 'img_align_celeba/000006.jpg']);
  // sharp sniffs content, so PNG bytes under .jpg names are fine for listing and loading.
  await fsp.writeFile(path.join(root, 'identity_CelebA.txt'), '000001.jpg 10\n000002.jpg 2\n000003.jpg 2880\n000004.jpg 2\n000005.jpg 10\r\n000006.jpg 2\n\n');
  const listing = await listDataset(root);
  assert.equal(listing.layout, 'celeba');
  assert.deepEqual(listing.missing, ['000004.jpg']);
  assert.deepEqual(
    listing.identities.map((i) => [i.name, i.files.map((f) => path.basename(f))]),
    [
      ['2', ['000002.jpg', '000006.jpg']],
      ['10', ['000001.jpg', '000005.jpg']],
      ['2880', ['000003.jpg']],
    ],
  );
  assert.ok(listing.identities[0].files[0].startsWith(path.join(root, 'img_align_celeba')));
  const sel = selectTopK(listing, 2);
  assert.deepEqual(sel.identities, ['2', '10']);
  // Forcing the folder layout on it sees img_align_celeba as one identity.
  const asFolder = await listDataset(root, { layout: 'folder' });
  assert.deepEqual(asFolder.identities.map((i) => i.name), ['img_align_celeba']);
  // A malformed identity list is reported with its line number.
  await fsp.writeFile(path.join(root, 'identity_CelebA.txt'), '000001.jpg 10\n000002.jpg\n');
  assert.match(await datasetError(listDataset(root)), /identity_CelebA\.txt' line 2: expected '<file> <identity>', got '000002\.jpg'/);
  const noList = await fixture('celeba-nolist', ['img_align_celeba/000001.jpg']);
  assert.match(await datasetError(listDataset(noList, { layout: 'celeba' })), /CelebA layout needs '.*identity_CelebA\.txt'/);
});

test('split options and validation split are deterministic and stratified', () => {
  const samples: Sample[] = [];
  for (let label = 0; label < 3; label++) {
    // Insert in reverse to check that the split sorts by file name.
    for (let i = 9; i >= 0; i--) samples.push({ file: `/d/id${label}/${String(i).padStart(3, '0')}.png`, identity: `id${label}`, label });
  }
  const { train, test: testSet } = splitDataset(samples, { testEvery: 3, testOffset: 0 });
  assert.deepEqual(
    testSet.filter((s) => s.label === 1).map((s) => path.basename(s.file)),
    ['000.png', '003.png', '006.png', '009.png'],
  );
  assert.equal(train.length, 18);
  assert.throws(() => splitDataset(samples, { testEvery: 5, testOffset: 5 }), /testOffset: expected a whole number in 0…4, got 5/);

  const v1 = validationSplit(train, 0.34, 7);
  const v2 = validationSplit(train, 0.34, 7);
  assert.deepEqual(v1, v2);
  for (let label = 0; label < 3; label++) assert.equal(v1.validation.filter((s) => s.label === label).length, 2); // round(6 · 0.34)
  assert.equal(v1.train.length + v1.validation.length, train.length);
  assert.ok(v1.validation.every((s) => !v1.train.includes(s)));
  assert.notDeepEqual(validationSplit(train, 0.34, 8).validation, v1.validation);
  // Never takes an identity's last training sample.
  const tiny = validationSplit(train.filter((s) => s.label === 0).slice(0, 1), 0.5, 1);
  assert.equal(tiny.train.length, 1);
  assert.throws(() => validationSplit(train, 1, 1), /validation fraction: expected a number in \[0, 1\), got 1/);
});
