/**
 * Bilinear resizing in plain typed arrays.
 *
 * Convention: half-pixel centres (align_corners = false), as tf.image.resizeBilinear with
 * `halfPixelCenters: true`, PyTorch's `interpolate(..., align_corners=False)` and OpenCV's INTER_LINEAR.
 * Output pixel `o` samples the input at `(o + 0.5) · in/out − 0.5`; positions outside the image are clamped to
 * the edge pixels. No antialiasing: strong downscales alias, as in those libraries.
 */
import { CHANNELS, checkImage, type RgbImage } from './types.js';

interface Taps {
  lo: Int32Array;
  hi: Int32Array;
  /** Weight of `hi`; `lo` gets 1 − frac. */
  frac: Float32Array;
}

function taps(inSize: number, outSize: number): Taps {
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const frac = new Float32Array(outSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const src = (o + 0.5) * scale - 0.5;
    const f = Math.floor(src);
    lo[o] = Math.min(Math.max(f, 0), inSize - 1);
    hi[o] = Math.min(Math.max(f + 1, 0), inSize - 1);
    frac[o] = src - f;
  }
  return { lo, hi, frac };
}

/** Resize to `height × width`; returns `img` itself when the size already matches. */
export function resizeBilinear(img: RgbImage, height: number, width: number): RgbImage {
  checkImage(img);
  if (!Number.isInteger(height) || !Number.isInteger(width) || height <= 0 || width <= 0) {
    throw new Error(`resizeBilinear: invalid target size ${height}×${width}`);
  }
  if (height === img.height && width === img.width) return img;
  const src = img.data;
  const out = new Float32Array(height * width * CHANNELS);
  const ys = taps(img.height, height);
  const xs = taps(img.width, width);
  const rowStride = img.width * CHANNELS;
  for (let y = 0; y < height; y++) {
    const top = ys.lo[y] * rowStride;
    const bottom = ys.hi[y] * rowStride;
    const fy = ys.frac[y];
    let o = y * width * CHANNELS;
    for (let x = 0; x < width; x++) {
      const left = xs.lo[x] * CHANNELS;
      const right = xs.hi[x] * CHANNELS;
      const fx = xs.frac[x];
      for (let c = 0; c < CHANNELS; c++) {
        const t = src[top + left + c] + (src[top + right + c] - src[top + left + c]) * fx;
        const b = src[bottom + left + c] + (src[bottom + right + c] - src[bottom + left + c]) * fx;
        out[o++] = t + (b - t) * fy;
      }
    }
  }
  return { data: out, height, width };
}
