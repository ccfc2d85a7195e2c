/**
 * ART's JpegCompression through a real codec: sharp (libvips + libjpeg-turbo API), configured like Pillow's
 * defaults — baseline, standard IJG tables scaled by quality, 4:2:0 chroma subsampling, no Huffman
 * optimisation, no trellis or other encoder extras. Matches ART's outputs bit for bit on the vectors.
 */
import os from 'node:os';
import type * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { roundToUint8 } from '../image/round-uint8.js';
import { JPEG_MAX_SIDE, stackImages, stackLayout, unstackImage } from './jpeg-stack.js';
import { IdentityGradientDefence, mapBatch, type ParamSpecs, D, paramSpecs } from './preprocessor.js';

/**
 * `jpeg`'s parameters: quality.
 *
 * @example
 * ```ts
 * import { JPEG_PARAMS, describeDefenceParams } from 'robustify/defences';
 * console.log(describeDefenceParams(JPEG_PARAMS).join('\n')); // {@link JpegCompression}'s parameters
 * ```
 */
export const JPEG_PARAMS: ParamSpecs = paramSpecs({
  quality: D.integer(50, 1, 100, 'JPEG quality (1 worst, 100 best)'),
});

const ENCODER_OPTIONS = {
  chromaSubsampling: '4:2:0',
  mozjpeg: false,
  optimiseCoding: false,
  trellisQuantisation: false,
  overshootDeringing: false,
  optimiseScans: false,
  progressive: false,
  quantisationTable: 0,
} as const;

/** JPEG round trip of one 8-bit image (1 channel → greyscale JPEG, 3 → RGB JPEG). */
async function roundTrip(pixels: Uint8ClampedArray, width: number, height: number, channels: 1 | 3, quality: number): Promise<Buffer> {
  const input = sharp(pixels, { raw: { width, height, channels } });
  const encoded = await (channels === 1 ? input.toColourspace('b-w') : input).jpeg({ quality, ...ENCODER_OPTIONS }).toBuffer();
  // Sequential access: libvips decodes top to bottom without its tile cache (half the time on a tall stack).
  const decoded = sharp(encoded, { sequentialRead: true });
  const { data, info } = await (channels === 1 ? decoded.toColourspace('b-w') : decoded).raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== channels || info.width !== width || info.height !== height) {
    throw new Error(`jpeg: codec returned ${info.width}×${info.height}×${info.channels} for ${width}×${height}×${channels}`);
  }
  return data;
}

/**
 * Compress and decompress each image of an NHWC batch. Values are rounded (ties to even) and clipped to uint8 first
 * (ART truncates; identical on integer input). Three channels make one RGB JPEG; any other count, one greyscale
 * JPEG per channel, as ART does. The batch goes through the codec as a few tall images (see jpeg-stack.ts):
 * identical to a JPEG per image for greyscale, and for RGB heights that are odd or multiples of 16 (at q100, a
 * handful of values per thousand images differ by ≤ 2); for other even heights (150×150 faces) ≤ 0.06% of
 * values differ, mean |Δ| ≤ 0.001, max 13. `exact` gives each image its own JPEG instead, at ~2× the time.
 * Results go to `out` (a new array by default), which may be
 * `src` itself: every image is read before the first result is written.
 */
export async function jpegRoundTrip(
  src: Float32Array,
  shape: readonly [number, number, number, number],
  quality: number,
  { exact = false, out = new Float32Array(src.length) }: { exact?: boolean; out?: Float32Array } = {},
): Promise<Float32Array> {
  const [n, h, w, c] = shape;
  const plane = h * w;
  const group: 1 | 3 = c === 3 ? 3 : 1;
  const rowBytes = w * group;
  // Image j of the stack holds channels first … first+group−1 of batch image i, pixel by pixel.
  const bases: number[] = [];
  for (let i = 0; i < n; i++) for (let first = 0; first < c; first += group) bases.push(i * plane * c + first);
  // One chunk per core, so that one chunk's codec work (on sharp's threads) overlaps the next one's packing.
  const perChunk = exact
    ? 1
    : Math.min(Math.ceil(bases.length / os.availableParallelism()), Math.max(1, Math.floor(JPEG_MAX_SIDE / stackLayout(h, group, 2).slot)));
  const chunks: Promise<void>[] = [];
  for (let from = 0; from < bases.length; from += perChunk) {
    const chunk = bases.slice(from, from + perChunk);
    const layout = stackLayout(h, group, chunk.length);
    const stack = stackImages(chunk.length, rowBytes, layout, group, (j, rows) => {
      const base = chunk[j];
      // Round to nearest (ties to even), clipped to 0–255: a Uint8ClampedArray's store.
      if (group === c) roundToUint8(rows, src.subarray(base, base + plane * c));
      else for (let p = 0; p < plane; p++) rows[p] = src[base + p * c];
    });
    chunks.push(roundTrip(stack, w, layout.slot * chunk.length, group, quality).then((d) => {
      chunk.forEach((base, j) => {
        const img = unstackImage(d, rowBytes, layout, j);
        if (group === c) out.set(img, base);
        else for (let p = 0; p < plane; p++) out[base + p * c] = img[p];
      });
    }));
  }
  await Promise.all(chunks);
  return out;
}

/**
 * JPEG compression (ART's JpegCompression): each image encoded at `quality` and decoded; identity gradient (BPDA).
 *
 * @example
 * ```ts
 * import { tf, initEngine, JpegCompression } from 'robustify';
 * await initEngine();
 * const y = await new JpegCompression({ quality: 20 }).apply(tf.randomUniform([1, 16, 16, 3], 0, 255, 'float32', 1) as tf.Tensor4D);
 * console.log(y.shape); // [1, 16, 16, 3], each image encoded and decoded at quality 20
 * ```
 */
export class JpegCompression extends IdentityGradientDefence<{ quality: number }> {
  /** Each image its own JPEG, bit for bit as ART, instead of the faster batched layout (see jpegRoundTrip). */
  readonly exact: boolean;

  constructor({ exact = false, ...params }: { quality?: number; exact?: boolean } = {}) {
    super('jpeg', JPEG_PARAMS, params);
    this.exact = exact;
  }

  apply(x: tf.Tensor4D): Promise<tf.Tensor4D> {
    // mapBatch hands over a private copy: results overwrite it (one 4-byte-per-value array less to collect).
    return mapBatch(this.name, x, (data, shape) => jpegRoundTrip(data, shape, this.params.quality, { exact: this.exact, out: data }));
  }
}
