/**
 * Generators of hostile and odd inputs, written at test time (nothing binary is committed): broken and unusual
 * images, a decompression bomb, paths that cannot be read, damaged robustify files, and face networks a
 * user might bring broken (an op we lack, a TF.js model without its weights).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { crc32, createDeflate, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { encodeModel, floatValueInfo, model, node } from '../../src/engine/onnx/proto.js';

/** A w×h RGB image with a gradient, so that decoders have real content to keep. */
export function gradient(w: number, h: number, channels = 3): Buffer {
  const b = Buffer.alloc(w * h * channels);
  for (let i = 0; i < b.length; i++) b[i] = (i * 7 + Math.floor(i / (w * channels)) * 13) % 256;
  return b;
}

export async function png(w: number, h: number): Promise<Buffer> {
  return sharp(gradient(w, h), { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

function ihdr(w: number, h: number): Buffer {
  const d = Buffer.alloc(13);
  d.writeUInt32BE(w, 0);
  d.writeUInt32BE(h, 4);
  d[8] = 8; // bit depth
  d[9] = 2; // RGB
  return chunk('IHDR', d);
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * A valid black RGB PNG of w×h: its IDAT is a deflated stream of zero rows, so a 12000² image (432 MB of
 * pixels) is ~420 KB on disk — a decompression bomb.
 */
export async function pngBomb(w: number, h: number): Promise<Buffer> {
  const deflate = createDeflate({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on('data', (b: Buffer) => parts.push(b));
  const done = new Promise((resolve, reject) => deflate.on('end', resolve).on('error', reject));
  const row = Buffer.alloc(1 + 3 * w); // filter byte 0 + zero pixels
  for (let y = 0; y < h; y++) {
    if (!deflate.write(row)) await new Promise((r) => deflate.once('drain', r));
  }
  deflate.end();
  await done;
  return Buffer.concat([SIGNATURE, ihdr(w, h), chunk('IDAT', Buffer.concat(parts)), chunk('IEND', Buffer.alloc(0))]);
}

/**
 * The header of a w×h PNG followed by the start of its image stream (one zero row): what a size check reads,
 * made in microseconds whatever the size. Decoding it would fail (truncated), so a refusal must come first.
 */
export function pngHeaderOnly(w: number, h: number): Buffer {
  const idat = deflateSync(Buffer.alloc(1 + 3 * w));
  return Buffer.concat([SIGNATURE, ihdr(w, h), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

export async function png16(w: number, h: number): Promise<Buffer> {
  return sharp(gradient(w, h), { raw: { width: w, height: h, channels: 3 } }).toColourspace('rgb16').png().toBuffer();
}

/** RGBA with alpha falling from 255 to 0 across the image: half the pixels are see-through. */
export async function pngAlpha(w: number, h: number): Promise<Buffer> {
  const b = gradient(w, h, 4);
  for (let p = 0; p < w * h; p++) b[p * 4 + 3] = p % w < w / 2 ? 255 : 0;
  return sharp(b, { raw: { width: w, height: h, channels: 4 } }).png().toBuffer();
}

/** RGBA whose alpha is fully opaque everywhere: nothing is lost by dropping it. */
export async function pngOpaqueAlpha(w: number, h: number): Promise<Buffer> {
  const b = gradient(w, h, 4);
  for (let p = 0; p < w * h; p++) b[p * 4 + 3] = 255;
  return sharp(b, { raw: { width: w, height: h, channels: 4 } }).png().toBuffer();
}

export async function pngGrey(w: number, h: number): Promise<Buffer> {
  return sharp(gradient(w, h, 1), { raw: { width: w, height: h, channels: 1 } }).toColourspace('b-w').png().toBuffer();
}

export async function jpegCmyk(w: number, h: number): Promise<Buffer> {
  return sharp(await png(w, h)).toColourspace('cmyk').jpeg().toBuffer();
}

async function frames(w: number, h: number): Promise<Buffer[]> {
  const a = await png(w, h);
  const b = await sharp(a).negate().png().toBuffer();
  return [a, b];
}

export async function webpAnimated(w: number, h: number): Promise<Buffer> {
  return sharp(await frames(w, h), { join: { animated: true } }).webp({ lossless: true }).toBuffer();
}

export async function gifAnimated(w: number, h: number): Promise<Buffer> {
  return sharp(await frames(w, h), { join: { animated: true } }).gif().toBuffer();
}

/** `n` raw float32 HWC images of h×w (the `.f32` format), with `nan` at value index `nanAt` when given. */
export function f32(h: number, w: number, nanAt?: number): Buffer {
  const v = new Float32Array(h * w * 3).map((_, i) => i % 256);
  if (nanAt !== undefined) v[nanAt] = Number.NaN;
  return Buffer.from(v.buffer);
}

/** Two symbolic links pointing at each other (reading either gives ELOOP). */
export async function symlinkLoop(dir: string, name: string): Promise<string> {
  const a = path.join(dir, name);
  const b = path.join(dir, `.${name}.other`);
  await fsp.symlink(b, a);
  await fsp.symlink(a, b);
  return a;
}

/** Whether chmod 000 makes a file unreadable here (not as root, which reads it anyway). */
export function chmodStopsReads(): boolean {
  return typeof process.getuid === 'function' && process.getuid() !== 0;
}

/** An ONNX embedding net whose first node is `op` (node 'l'), e.g. one outside the differentiator's set. */
export function onnxWithOp(op: string): Buffer {
  const nodes = [node(op, ['input'], ['l'], { size: { i: 3 } }), node('GlobalAveragePool', ['l'], ['p']), node('Flatten', ['p'], ['emb'])];
  return Buffer.from(encodeModel(model({ name: 'odd', node: nodes, initializer: [], input: [floatValueInfo('input', ['N', 3, 9, 9])], output: [floatValueInfo('emb')] })));
}

/** A TF.js graph model.json (x · w) whose weights manifest names the shard `w.bin`, which is not written. */
export function tfjsWithoutShard(): string {
  const dims = (...d: number[]) => ({ dim: d.map((size) => ({ size: String(size) })) });
  const nodes = [
    { name: 'x', op: 'Placeholder', attr: { shape: { shape: dims(-1, 9, 9, 3) }, dtype: { type: 'DT_FLOAT' } } },
    { name: 'w', op: 'Const', attr: { dtype: { type: 'DT_FLOAT' }, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: dims(1) } } } },
    { name: 'y', op: 'Mul', input: ['x', 'w'] },
  ];
  return JSON.stringify({ format: 'graph-model', modelTopology: { node: nodes }, weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'w', shape: [1], dtype: 'float32' }] }] });
}
