/**
 * `.f32` files: raw little-endian float32 HWC pixels, no header (the shape travels separately). Used for
 * lossless adversarial images and the conformance vectors.
 */
import { promises as fsp } from 'node:fs';
import { writeFileAtomic } from '../util/fs.js';
import { CHANNELS, checkImage, type RgbImage } from './types.js';

/** Read `file` as a `height × width × 3` float32 image; the byte size must match exactly and every value be finite. */
export async function readF32(file: string, height: number, width: number): Promise<RgbImage> {
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`'${file}': ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message}`);
  }
  const expected = height * width * CHANNELS * 4;
  if (bytes.length !== expected) {
    throw new Error(`'${file}': ${bytes.length} bytes, expected ${expected} for a ${height}×${width}×${CHANNELS} float32 image`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data = new Float32Array(height * width * CHANNELS);
  for (let i = 0; i < data.length; i++) {
    const v = view.getFloat32(i * 4, true);
    // A NaN or infinite pixel would flow silently into every score computed from it.
    if (!Number.isFinite(v)) {
      const p = Math.floor(i / CHANNELS);
      throw new Error(`'${file}': value ${v} at row ${Math.floor(p / width)}, column ${p % width}, channel ${i % CHANNELS} (pixels must be finite)`);
    }
    data[i] = v;
  }
  return { data, height, width };
}

/** The `.f32` bytes of an image (little-endian whatever the host's byte order). */
export function f32Bytes(img: RgbImage): Uint8Array {
  checkImage(img);
  const bytes = new Uint8Array(img.data.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < img.data.length; i++) view.setFloat32(i * 4, img.data[i], true);
  return bytes;
}

/** Write an image as `.f32`, atomically. */
export async function writeF32(file: string, img: RgbImage): Promise<void> {
  await writeFileAtomic(file, f32Bytes(img));
}
