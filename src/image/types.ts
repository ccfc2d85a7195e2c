/** An RGB image: `height × width × 3` float32 values in HWC order, on the 0–255 scale. */
export interface RgbImage {
  data: Float32Array;
  height: number;
  width: number;
}

/** Three channels: robustify images are always RGB. */
export const CHANNELS = 3;

/** Throws unless `img` has positive integer sides and exactly `height·width·3` values. */
export function checkImage(img: RgbImage, what = 'image'): void {
  const { height, width, data } = img;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height <= 0 || width <= 0) {
    throw new Error(`${what}: invalid size ${height}×${width}`);
  }
  if (data.length !== height * width * CHANNELS) {
    throw new Error(`${what}: ${data.length} values for a ${height}×${width}×${CHANNELS} image (expected ${height * width * CHANNELS})`);
  }
}

/** Values rounded to the nearest integer and clipped to 0–255 (what every 8-bit codec stores). */
export function toUint8(img: RgbImage): Uint8Array {
  const src = img.data;
  const out = new Uint8Array(src.length);
  // Uint8Array assignment would wrap out-of-range values and truncate fractions; round and clamp explicitly.
  for (let i = 0; i < src.length; i++) {
    const v = Math.round(src[i]);
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return out;
}
