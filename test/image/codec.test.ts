import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { decodeImage, encodeJpeg, encodePng, ImageDecodeError, readF32, type RgbImage } from '../../src/image/index.js';

const VECTORS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../shared/spec/vectors');
const FACE = path.resolve(VECTORS, '../../data/faces14/Drew_Barrymore/000.png');

let dir: string;
before(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'robustify-image-'));
});
after(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

/** A 3×2 image whose every value differs, to catch channel or pixel order mistakes. */
function patterned(h = 2, w = 3): RgbImage {
  const data = new Float32Array(h * w * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 41 + 7) % 256;
  return { data, height: h, width: w };
}

async function writeFixture(name: string, bytes: Buffer): Promise<string> {
  const file = path.join(dir, name);
  await fsp.writeFile(file, bytes);
  return file;
}

test('PNG round trip is exact', async () => {
  const img = patterned(5, 7);
  const back = await decodeImage(await encodePng(img));
  assert.deepEqual(back, img);
});

test('encodePng rounds half up and clips to 0–255', async () => {
  const img: RgbImage = { data: Float32Array.from([-3, 0.49, 0.5, 254.5, 255.2, 1000]), height: 1, width: 2 };
  const back = await decodeImage(await encodePng(img));
  assert.deepEqual(Array.from(back.data), [0, 0, 1, 255, 255, 255]);
});

test('grey PNG is replicated to RGB', async () => {
  const grey = Buffer.from([0, 50, 100, 150, 200, 255]);
  const png = await sharp(grey, { raw: { width: 3, height: 2, channels: 1 } }).toColourspace('b-w').png().toBuffer();
  assert.equal((await sharp(png).metadata()).channels, 1);
  const img = await decodeImage(await writeFixture('grey.png', png));
  assert.equal(img.height, 2);
  assert.equal(img.width, 3);
  assert.deepEqual(Array.from(img.data), Array.from(grey).flatMap((v) => [v, v, v]));
});

test('grey+alpha PNG keeps the grey value and drops alpha', async () => {
  const ga = Buffer.from([10, 255, 20, 128, 30, 0, 40, 50]);
  const png = await sharp(ga, { raw: { width: 2, height: 2, channels: 2 } }).toColourspace('b-w').png().toBuffer();
  const meta = await sharp(png).metadata();
  assert.equal(meta.channels, 2);
  assert.equal(meta.hasAlpha, true);
  const img = await decodeImage(await writeFixture('ga.png', png));
  assert.deepEqual(Array.from(img.data), [10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40]);
});

test('RGBA PNG drops alpha without compositing (even fully transparent pixels keep their colour)', async () => {
  const rgba = Buffer.from([200, 100, 50, 0, 1, 2, 3, 255]);
  const png = await sharp(rgba, { raw: { width: 2, height: 1, channels: 4 } }).png().toBuffer();
  assert.equal((await sharp(png).metadata()).channels, 4);
  const img = await decodeImage(await writeFixture('rgba.png', png));
  assert.deepEqual(Array.from(img.data), [200, 100, 50, 1, 2, 3]);
});

test('16-bit PNG is reduced to 8 bits (high byte)', async () => {
  const u16 = Uint16Array.from([0, 65535, 30000, 256, 511, 4099]);
  const png = await sharp(u16, { raw: { width: 2, height: 1, channels: 3 } }).toColourspace('rgb16').png().toBuffer();
  assert.equal((await sharp(png).metadata()).depth, 'ushort');
  const img = await decodeImage(await writeFixture('deep.png', png));
  assert.deepEqual(Array.from(img.data), Array.from(u16, (v) => v >> 8));
});

test('JPEG and WebP decode to RGB close to the source', async () => {
  const src = await decodeImage(FACE);
  for (const [name, bytes] of [
    ['face.jpg', await encodeJpeg(src, 95)],
    ['face.webp', await sharp(await encodePng(src)).webp({ quality: 95 }).toBuffer()],
  ] as const) {
    const img = await decodeImage(await writeFixture(name, bytes));
    assert.equal(img.height, src.height);
    assert.equal(img.width, src.width);
    let err = 0;
    for (let i = 0; i < img.data.length; i++) err += Math.abs(img.data[i] - src.data[i]);
    assert.ok(err / img.data.length < 4, `${name}: mean abs error ${err / img.data.length}`);
  }
});

test('encodeJpeg + decodeImage reproduce Pillow (ART) JPEG outputs exactly', async () => {
  const index = JSON.parse(await fsp.readFile(path.join(VECTORS, 'index.json'), 'utf8')) as {
    cases: { input: string; shape: [number, number, number]; op: string; params: { quality?: number }; output: string }[];
  };
  const cases = index.cases.filter((c) => c.op === 'jpeg');
  assert.ok(cases.length >= 3);
  for (const c of cases) {
    const input = await decodeImage(path.join(VECTORS, c.input));
    const ref = await readF32(path.join(VECTORS, c.output), c.shape[0], c.shape[1]);
    const out = await decodeImage(await encodeJpeg(input, c.params.quality as number));
    assert.deepEqual(out.data, ref.data, `${c.output}`);
  }
});

async function decodeError(file: string): Promise<ImageDecodeError> {
  try {
    await decodeImage(file);
  } catch (err) {
    assert.ok(err instanceof ImageDecodeError, `expected ImageDecodeError, got ${err}`);
    return err;
  }
  assert.fail(`'${file}' decoded`);
}

test('a 0-byte file fails with a message naming the file', async () => {
  const file = await writeFixture('empty.png', Buffer.alloc(0));
  const err = await decodeError(file);
  assert.equal(err.file, file);
  assert.equal(err.message, `cannot decode image '${file}': empty file (0 bytes)`);
});

test('a truncated PNG fails instead of decoding partly', async () => {
  const whole = await fsp.readFile(FACE);
  for (const keep of [20, Math.floor(whole.length * 0.3), Math.floor(whole.length * 0.9)]) {
    const file = await writeFixture(`cut${keep}.png`, whole.subarray(0, keep));
    const err = await decodeError(file);
    assert.match(err.message, new RegExp(`^cannot decode image '${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}': truncated or corrupt PNG`));
  }
});

test('a PNG with a corrupted byte fails', async () => {
  const bytes = Buffer.from(await fsp.readFile(FACE));
  bytes[bytes.length >> 1] ^= 0xff;
  const err = await decodeError(await writeFixture('flipped.png', bytes));
  assert.match(err.message, /truncated or corrupt PNG/);
});

test('a truncated JPEG fails', async () => {
  const jpeg = await encodeJpeg(await decodeImage(FACE), 90);
  const err = await decodeError(await writeFixture('cut.jpg', jpeg.subarray(0, jpeg.length >> 1)));
  assert.match(err.message, /truncated or corrupt JPEG/);
});

test('a text file named .jpg fails', async () => {
  const file = await writeFixture('notes.jpg', Buffer.from('these are not pixels\n'));
  const err = await decodeError(file);
  assert.match(err.message, /^cannot decode image '.*notes\.jpg': not a PNG, JPEG or WebP image/);
});

test('an unsupported format (GIF) fails, naming the format', async () => {
  const gif = await sharp(await encodePng(patterned())).gif().toBuffer();
  const err = await decodeError(await writeFixture('anim.gif', gif));
  assert.match(err.message, /unsupported format 'gif'/);
});

test('a missing file fails as a decode error naming it', async () => {
  const err = await decodeError(path.join(dir, 'nope.png'));
  assert.match(err.message, /nope\.png': no such file$/);
});

test('maxPixels refuses large images before decoding', async () => {
  const file = await writeFixture('big.png', await encodePng(patterned(40, 50)));
  await assert.rejects(decodeImage(file, 'big.png', { maxPixels: 1999 }), /cannot decode image 'big\.png': 50×40 = 2000 pixels exceeds the pixel budget of 1999 \(maxPixels\)/);
  const img = await decodeImage(file, 'big.png', { maxPixels: 2000 });
  assert.equal(img.data.length, 2000 * 3);
});

test('buffers are labelled by name in errors', async () => {
  await assert.rejects(decodeImage(Buffer.from('x'), 'upload #3'), /^ImageDecodeError: cannot decode image 'upload #3'/);
});

test('encodeJpeg validates quality', async () => {
  await assert.rejects(encodeJpeg(patterned(), 0), /quality: expected an integer in 1–100, got 0/);
});
