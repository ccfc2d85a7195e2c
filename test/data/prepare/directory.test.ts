import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { Command } from 'commander';
import { initEngine } from '../../../src/engine/backend.js';
import { registerPrepare } from '../../../src/cli/commands/prepare.js';
import { prepareDirectory, type Manifest } from '../../../src/data/prepare/directory.js';
import { SAMPLES } from './samples.js';

let dir: string;
let raw: string;

const grey = (w: number, h: number): Promise<Buffer> =>
  sharp({ create: { width: w, height: h, channels: 3, background: { r: 128, g: 128, b: 128 } } }).png().toBuffer();

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A valid PNG header claiming 20000×20000 RGB with almost no pixel data: only a size check can refuse it. */
function hugePngHeader(): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(20000, 0);
  ihdr.writeUInt32BE(20000, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const signature = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  return Buffer.concat([signature, pngChunk('IHDR', ihdr), pngChunk('IDAT', zlib.deflateSync(Buffer.alloc(64))), pngChunk('IEND', Buffer.alloc(0))]);
}

async function put(rel: string, bytes: Buffer | Promise<Buffer>): Promise<void> {
  const file = path.join(raw, rel);
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(file, await bytes);
}

const readManifest = async (out: string): Promise<Manifest> => JSON.parse(await fsp.readFile(path.join(out, 'manifest.json'), 'utf8')) as Manifest;

before(async () => {
  await initEngine({ backend: 'wasm' });
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'robustify-prepare-'));
  raw = path.join(dir, 'raw');
  await put('alice/photo1.jpg', fsp.readFile(SAMPLES[0]));
  await put('alice/tiny.png', grey(16, 16));
  await put('bob/broken.jpg', fsp.readFile(SAMPLES[1]).then((b) => b.subarray(0, 4000)));
  await put('bob/grey.png', grey(200, 160));
  await put('bob/huge.png', Promise.resolve(hugePngHeader()));
  await put('bob/photo5.jpg', fsp.readFile(SAMPLES[4]));
});
after(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

test('a corrupt photo stops the run with an error naming it; work before it is kept', async () => {
  const out = path.join(dir, 'stop');
  await assert.rejects(prepareDirectory(raw, out), (err: Error) => {
    assert.match(err.message, /bob\/broken\.jpg/);
    assert.match(err.message, /corrupt JPEG/);
    assert.match(err.message, /use skipBad to list bad photos/);
    return true;
  });
  const m = await readManifest(out);
  assert.deepEqual(m.images.map((e) => [e.source, e.status]), [['alice/photo1.jpg', 'ok'], ['alice/tiny.png', 'no-face']]);
  assert.ok(existsSync(path.join(out, 'alice/photo1.png')));
});

test('a 20000×20000 photo is refused from its header, before any pixel is decoded', async () => {
  const only = path.join(dir, 'huge-only');
  await fsp.mkdir(path.join(only, 'x'), { recursive: true });
  await fsp.copyFile(path.join(raw, 'bob/huge.png'), path.join(only, 'x/huge.png'));
  await assert.rejects(prepareDirectory(only, path.join(dir, 'huge-out')), (err: Error) => {
    assert.match(err.message, /x\/huge\.png/);
    assert.match(err.message, /exceeds/);
    assert.match(err.message, /raise maxPixels to allow it/);
    return true;
  });
});

test('--skip-bad lists every photo: faces, no face, failed; chips are 150×150 PNGs', async () => {
  const out = path.join(dir, 'all');
  const s = await prepareDirectory(raw, out, { skipBad: true });
  assert.deepEqual(
    { images: s.images, withFaces: s.withFaces, noFace: s.noFace, failed: s.failed, chips: s.chips, skipped: s.skipped },
    { images: 6, withFaces: 2, noFace: 2, failed: 2, chips: 2, skipped: 0 },
  );
  const m = await readManifest(out);
  assert.equal(m.settings.template, 'dlib150');
  const by = new Map(m.images.map((e) => [e.source, e]));
  assert.deepEqual([...by.keys()], ['alice/photo1.jpg', 'alice/tiny.png', 'bob/broken.jpg', 'bob/grey.png', 'bob/huge.png', 'bob/photo5.jpg']);
  assert.equal(by.get('alice/tiny.png')?.status, 'no-face');
  assert.equal(by.get('bob/grey.png')?.status, 'no-face');
  assert.match(by.get('bob/broken.jpg')?.error ?? '', /corrupt/);
  assert.match(by.get('bob/huge.png')?.error ?? '', /exceeds/);
  const face = by.get('bob/photo5.jpg')?.faces[0];
  assert.ok(face);
  assert.equal(face.file, 'bob/photo5.png');
  assert.equal(face.landmarks.length, 68);
  assert.ok(face.score > 0.5 && face.box.width > 20);
  const meta = await sharp(path.join(out, face.file)).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 150, 150]);
  // Nothing but chips and the manifest (no temporary files left behind).
  const files = (await fsp.readdir(out, { recursive: true })).map(String).sort();
  assert.deepEqual(files, ['alice', 'alice/photo1.png', 'bob', 'bob/photo5.png', 'manifest.json']);
});

test('a second run resumes: done photos are skipped, a deleted chip is redone, failed photos are retried', async () => {
  const out = path.join(dir, 'all');
  const first = await readManifest(out);
  const again = await prepareDirectory(raw, out, { skipBad: true });
  assert.equal(again.skipped, 4);
  assert.deepEqual(await readManifest(out), first);
  await fsp.rm(path.join(out, 'alice/photo1.png'));
  const redo = await prepareDirectory(raw, out, { skipBad: true });
  assert.equal(redo.skipped, 3);
  assert.ok(existsSync(path.join(out, 'alice/photo1.png')));
  await assert.rejects(prepareDirectory(raw, out, { skipBad: true, template: 'arcface112' }), /written with template="dlib150"/);
});

test('CelebA layout: identity_CelebA.txt decides the folders; a listed photo that is missing is reported', async () => {
  const celeba = path.join(dir, 'celeba');
  await fsp.mkdir(path.join(celeba, 'img_celeba'), { recursive: true });
  await fsp.copyFile(SAMPLES[4], path.join(celeba, 'img_celeba/000001.jpg'));
  await fsp.writeFile(path.join(celeba, 'img_celeba/000002.png'), await grey(64, 64));
  await fsp.writeFile(path.join(celeba, 'identity_CelebA.txt'), '000001.jpg 2880\n000002.png 2880\n000003.jpg 17\n');
  const out = path.join(dir, 'celeba-out');
  await assert.rejects(prepareDirectory(celeba, out, { layout: 'celeba' }), /000003\.jpg.*no such file/);
  const s = await prepareDirectory(celeba, out, { layout: 'celeba', skipBad: true, template: 'arcface112' }).catch((e: Error) => e);
  // The first run wrote a dlib150 manifest; the layout's output folder is only reused with the same settings.
  assert.ok(s instanceof Error && /template="dlib150"/.test(s.message));
  const done = await prepareDirectory(celeba, out, { layout: 'celeba', skipBad: true });
  assert.deepEqual([done.withFaces, done.noFace, done.failed], [1, 1, 1]);
  assert.ok(existsSync(path.join(out, '2880/000001.png')));
  const m = await readManifest(out);
  assert.deepEqual(m.images.map((e) => [e.source, e.identity, e.status]), [
    ['img_celeba/000001.jpg', '2880', 'ok'],
    ['img_celeba/000002.png', '2880', 'no-face'],
    ['img_celeba/000003.jpg', '17', 'failed'],
  ]);
  await assert.rejects(prepareDirectory(raw, path.join(dir, 'x'), { layout: 'celeba' }), /identity_CelebA\.txt/);
});

test('robustify prepare: options are checked and named; a run writes chips and the manifest', async () => {
  const cli = (...args: string[]): Promise<Command> => {
    const program = new Command('robustify').option('--backend <name>').option('--quiet').exitOverride();
    registerPrepare(program);
    return program.parseAsync(['node', 'robustify', '--quiet', 'prepare', ...args]);
  };
  const out = path.join(dir, 'cli-out');
  await assert.rejects(cli(raw, out, '--template', 'mtcnn'), /--template: unknown template 'mtcnn'/);
  await assert.rejects(cli(raw, out, '--min-score', '2'), /--min-score/);
  await assert.rejects(cli(raw, out, '--layout', 'lfw'), /--layout: unknown layout/);
  await assert.rejects(cli(path.join(dir, 'missing'), out), /no such folder/);
  const one = path.join(dir, 'cli-raw/carol');
  await fsp.mkdir(one, { recursive: true });
  await fsp.copyFile(SAMPLES[2], path.join(one, 'group.jpg'));
  await cli(path.dirname(one), out, '--all-faces', '--template', 'arcface112');
  const m = await readManifest(out);
  assert.equal(m.settings.template, 'arcface112');
  const faces = m.images[0].faces;
  assert.equal(faces.length, 3);
  assert.deepEqual(faces.map((f) => f.file), ['carol/group_0.png', 'carol/group_1.png', 'carol/group_2.png']);
  assert.equal((await sharp(path.join(out, faces[0].file)).metadata()).width, 112);
});
