/**
 * ART's JpegCompression through a real codec: sharp (libvips + libjpeg-turbo API), configured like Pillow's
 * defaults — baseline, standard IJG tables scaled by quality, 4:2:0 chroma subsampling, no Huffman
 * optimisation, no trellis or other encoder extras. Matches ART's outputs bit for bit on the vectors.
 */
import type * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { IdentityGradientDefence, mapBatch, type ParamSpecs } from './preprocessor.js';

export const JPEG_PARAMS: ParamSpecs = {
  quality: { default: 50, min: 1, max: 100, integer: true },
};

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

/** JPEG round trip of one 8-bit plane set (1 channel → greyscale JPEG, 3 → RGB JPEG). */
async function roundTrip(pixels: Uint8ClampedArray, width: number, height: number, channels: 1 | 3, quality: number): Promise<Buffer> {
  const input = sharp(pixels, { raw: { width, height, channels } });
  const encoded = await (channels === 1 ? input.toColourspace('b-w') : input).jpeg({ quality, ...ENCODER_OPTIONS }).toBuffer();
  const decoded = sharp(encoded);
  const { data, info } = await (channels === 1 ? decoded.toColourspace('b-w') : decoded).raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== channels || info.width !== width || info.height !== height) {
    throw new Error(`jpeg: codec returned ${info.width}×${info.height}×${info.channels} for ${width}×${height}×${channels}`);
  }
  return data;
}

/**
 * Compress and decompress each image of an NHWC batch. Values are rounded (ties to even) and clipped to uint8 first
 * (ART truncates; identical on integer input). Three channels make one RGB JPEG; any other count, one greyscale
 * JPEG per channel, as ART does. Images go to sharp's thread pool concurrently.
 */
export async function jpegRoundTrip(src: Float32Array, shape: readonly [number, number, number, number], quality: number): Promise<Float32Array> {
  const [n, h, w, c] = shape;
  const plane = h * w;
  const group: 1 | 3 = c === 3 ? 3 : 1;
  const out = new Float32Array(src.length);
  const jobs: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    for (let first = 0; first < c; first += group) {
      // The JPEG's pixel buffer holds channels first … first+group−1 of image i, pixel by pixel.
      const base = i * plane * c + first;
      // Uint8ClampedArray stores round-to-nearest (ties to even) clipped to 0–255, natively and fast.
      const px = new Uint8ClampedArray(plane * group);
      for (let p = 0, k = 0; p < plane; p++) for (let g = 0; g < group; g++, k++) px[k] = src[base + p * c + g];
      jobs.push(roundTrip(px, w, h, group, quality).then((d) => {
        for (let p = 0, k = 0; p < plane; p++) for (let g = 0; g < group; g++, k++) out[base + p * c + g] = d[k];
      }));
    }
  }
  await Promise.all(jobs);
  return out;
}

export class JpegCompression extends IdentityGradientDefence<{ quality: number }> {
  constructor(opts: { quality?: number } = {}) {
    super('jpeg', JPEG_PARAMS, opts);
  }

  apply(x: tf.Tensor4D): Promise<tf.Tensor4D> {
    return mapBatch(this.name, x, (data, shape) => jpegRoundTrip(data, shape, this.params.quality));
  }
}
