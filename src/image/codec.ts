/**
 * PNG / JPEG / WebP decoding and encoding through sharp (libvips).
 *
 * Decoding rules: EXIF orientation is applied; grey inputs are replicated to RGB; an alpha channel is
 * dropped without compositing (the stored colour is kept, like Pillow's `convert('RGB')`; a warning says so
 * when any pixel was not opaque); only the first frame of an animated image is read (with a warning); 16-bit
 * inputs are reduced to 8 bits by libvips (value >> 8). Embedded ICC profiles are converted to sRGB (sharp's
 * default). The pixel budget is checked from the header, and the decode itself waits for its share of the
 * process-wide decode memory (`budget.ts`).
 */
import { promises as fsp } from 'node:fs';
import sharp, { type Metadata, type OutputInfo, type Sharp } from 'sharp';
import { decodeBytes, decodeMemory, DEFAULT_MAX_PIXELS, type ByteBudget } from './budget.js';
import { CHANNELS, checkImage, toUint8, type RgbImage } from './types.js';

/** The formats robustify reads (sharp's `metadata().format` names). */
export const SUPPORTED_FORMATS = ['png', 'jpeg', 'webp'] as const;

const FORMAT_LABEL: Record<string, string> = { png: 'PNG', jpeg: 'JPEG', webp: 'WebP' };

/** An image file that cannot be read; the message names the file and says why. */
export class ImageDecodeError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`cannot decode image '${file}': ${reason}`);
    this.name = 'ImageDecodeError';
  }
}

export interface DecodeOptions {
  /** Refuse images with more pixels than this before any pixel is decoded (default DEFAULT_MAX_PIXELS). */
  maxPixels?: number;
  /** Told what was accepted but changed (alpha dropped, first frame only); each message names the file. */
  onWarning?: (message: string) => void;
  /** Whose bytes the decode waits for (default: the process-wide `decodeMemory`). */
  memory?: ByteBudget;
}

const READ_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EISDIR: 'is a directory',
  ELOOP: 'symbolic link loop',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOTDIR: 'a parent of it is not a folder',
};

/** The format a file's first bytes announce, so a file cut inside its header is still called by its format. */
function sniffFormat(b: Buffer): (typeof SUPPORTED_FORMATS)[number] | undefined {
  if (b.length >= 4 && b.readUInt32BE(0) === 0x89504e47) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 12 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  return undefined;
}

/** sharp's messages carry a library prefix ("vipspng: ", "VipsJpeg: "); keep the part a user can act on. */
function sharpDetail(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg
    .split('\n')[0]
    .replace(/^\w+:\s*/, '')
    .replace(/:\s*$/, '')
    .trim();
}

/** What an image's header says, read without decoding a pixel. */
export interface ImageHeader {
  format: (typeof SUPPORTED_FORMATS)[number];
  width: number;
  height: number;
  /** Frames of an animated image (1 otherwise). */
  pages: number;
}

/**
 * The format and size of encoded bytes from their header alone; refuses (ImageDecodeError) empty, unrecognised,
 * unsupported or cut-in-the-header input and, with `maxPixels`, images larger than that — before any decoding.
 */
export async function readImageHeader(bytes: Buffer, label = '<buffer>', opts: DecodeOptions = {}): Promise<ImageHeader> {
  if (bytes.length === 0) throw new ImageDecodeError(label, 'empty file (0 bytes)');
  const maxPixels = opts.maxPixels;
  if (maxPixels !== undefined && !(Number.isInteger(maxPixels) && maxPixels > 0)) {
    throw new Error(`maxPixels: expected a positive integer, got ${maxPixels}`);
  }
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { failOn: 'error', limitInputPixels: false }).metadata();
  } catch (err) {
    const sniffed = sniffFormat(bytes);
    if (sniffed) throw new ImageDecodeError(label, `truncated or corrupt ${FORMAT_LABEL[sniffed]} (${sharpDetail(err)})`);
    throw new ImageDecodeError(label, 'not a PNG, JPEG or WebP image (unrecognised content)');
  }
  const format = meta.format as string;
  if (!(SUPPORTED_FORMATS as readonly string[]).includes(format)) {
    throw new ImageDecodeError(label, `unsupported format '${format}' (supported: PNG, JPEG, WebP)`);
  }
  const { width = 0, height = 0 } = meta;
  if (maxPixels !== undefined && width * height > maxPixels) {
    throw new ImageDecodeError(label, `${width}×${height} = ${width * height} pixels exceeds the pixel budget of ${maxPixels} (maxPixels)`);
  }
  return { format: format as ImageHeader['format'], width, height, pages: meta.pages ?? 1 };
}

/**
 * Decode a PNG, JPEG or WebP file (or its bytes) to an RGB float image.
 * `name` labels the source in errors (defaults to the path, or `<buffer>`).
 *
 * @example
 * ```ts
 * import { decodeImage, encodePng } from 'robustify';
 * const img = await decodeImage(await encodePng({ width: 4, height: 4, data: new Float32Array(48) })); // or a file path
 * console.log(img.width, img.height, img.data.length); // 4 4 48; see {@link encodePng}
 * ```
 */
export async function decodeImage(source: string | Buffer, name?: string, opts: DecodeOptions = {}): Promise<RgbImage> {
  const label = name ?? (typeof source === 'string' ? source : '<buffer>');
  let bytes: Buffer;
  if (typeof source === 'string') {
    try {
      bytes = await fsp.readFile(source);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new ImageDecodeError(label, READ_ERRORS[code ?? ''] ?? sharpDetail(err));
    }
  } else {
    bytes = source;
  }
  // The header tells the format and size without decoding pixels: check both before the expensive part.
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const { format, width, height, pages } = await readImageHeader(bytes, label, { ...opts, maxPixels });
  if (pages > 1) opts.onWarning?.(`'${label}': animated (${pages} frames): only the first frame is used`);

  let decoded: { data: Buffer; info: OutputInfo };
  try {
    // failOn 'error': truncated or corrupt data aborts instead of yielding a partly grey image; mere
    // warnings (e.g. stray bytes after the end marker) are tolerated. Alpha is kept here and dropped below,
    // so that whether it held anything can be told.
    decoded = await (opts.memory ?? decodeMemory).run(decodeBytes(width, height), () =>
      sharp(bytes, { failOn: 'error', limitInputPixels: maxPixels, autoOrient: true })
        .toColourspace('srgb')
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true }),
    );
  } catch (err) {
    throw new ImageDecodeError(label, `truncated or corrupt ${FORMAT_LABEL[format]} (${sharpDetail(err)})`);
  }
  const { data, info } = decoded;
  const bands = info.channels;
  if (bands !== CHANNELS && bands !== CHANNELS + 1) throw new ImageDecodeError(label, `decoded to ${bands} channels`);
  const n = info.width * info.height;
  const out = new Float32Array(n * CHANNELS);
  let seeThrough = 0;
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < CHANNELS; c++) out[p * CHANNELS + c] = data[p * bands + c];
    if (bands > CHANNELS && data[p * bands + CHANNELS] < 255) seeThrough++;
  }
  if (seeThrough > 0) {
    opts.onWarning?.(`'${label}': alpha channel dropped (${((100 * seeThrough) / n).toFixed(1)} % of pixels not opaque; their stored colour is used)`);
  }
  return { data: out, height: info.height, width: info.width };
}

function rawInput(img: RgbImage): Sharp {
  checkImage(img);
  return sharp(toUint8(img), { raw: { width: img.width, height: img.height, channels: CHANNELS } });
}

/**
 * Lossless PNG of the image (values rounded half up and clipped to 0–255).
 *
 * @example
 * ```ts
 * import { encodePng, encodeJpeg, decodeImage } from 'robustify';
 * const img = { width: 8, height: 8, data: new Float32Array(8 * 8 * 3).fill(200) };
 * const back = await decodeImage(await encodePng(img), 'toy.png'); // lossless
 * const jpeg = await decodeImage(await encodeJpeg(img, 90));
 * console.log(back.data[0], jpeg.width); // 200 8
 * ```
 */
export async function encodePng(img: RgbImage): Promise<Buffer> {
  return rawInput(img).png().toBuffer();
}

/**
 * Baseline JPEG at `quality` (1–100) with 4:2:0 chroma subsampling and standard quantisation tables,
 * the same settings as Pillow's defaults. Values are rounded and clipped to 0–255 first.
 *
 * @example
 * ```ts
 * import { encodeJpeg } from 'robustify';
 * const bytes = await encodeJpeg({ width: 8, height: 8, data: new Float32Array(8 * 8 * 3).fill(50) }, 75); // quality 75
 * console.log(bytes.subarray(0, 2)); // <Buffer ff d8>; see {@link encodePng}
 * ```
 */
export async function encodeJpeg(img: RgbImage, quality: number): Promise<Buffer> {
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw new Error(`quality: expected an integer in 1–100, got ${quality}`);
  }
  return rawInput(img).jpeg({ quality, chromaSubsampling: '4:2:0', mozjpeg: false }).toBuffer();
}
