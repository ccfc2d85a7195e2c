/** Conversions between RgbImage and TF.js tensors (HWC / NHWC, float32, 0–255). */
import * as tf from '@tensorflow/tfjs-core';
import { CHANNELS, checkImage, type RgbImage } from './types.js';

/** A `[h, w, 3]` tensor holding a copy of the pixels (the cpu backend would otherwise alias the array). */
export function imageToTensor(img: RgbImage): tf.Tensor3D {
  checkImage(img);
  return tf.tensor3d(img.data.slice(), [img.height, img.width, CHANNELS], 'float32');
}

/**
 * Stack same-sized images into one `[n, h, w, 3]` batch.
 *
 * @example
 * ```ts
 * import { initEngine, imagesToBatch, tensorToImage } from 'robustify';
 * await initEngine();
 * const img = { width: 8, height: 8, data: new Float32Array(8 * 8 * 3).fill(30) };
 * const x = imagesToBatch([img, img]); // [2, 8, 8, 3], 0–255
 * console.log(x.shape, (await tensorToImage(x, 1)).width);
 * x.dispose();
 * ```
 */
export function imagesToBatch(imgs: readonly RgbImage[]): tf.Tensor4D {
  if (imgs.length === 0) throw new Error('imagesToBatch: no images');
  const { height, width } = imgs[0];
  const size = height * width * CHANNELS;
  const data = new Float32Array(imgs.length * size);
  imgs.forEach((img, i) => {
    checkImage(img, `image ${i}`);
    if (img.height !== height || img.width !== width) {
      throw new Error(`imagesToBatch: image ${i} is ${img.height}×${img.width}, image 0 is ${height}×${width}`);
    }
    data.set(img.data, i * size);
  });
  return tf.tensor4d(data, [imgs.length, height, width, CHANNELS], 'float32');
}

/**
 * Read a `[h, w, 3]` tensor, or element `index` of a `[n, h, w, 3]` batch, back into an RgbImage.
 * The input tensor is not disposed.
 *
 * @example
 * ```ts
 * import { tf, initEngine, tensorToImage, encodePng } from 'robustify';
 * await initEngine();
 * const png = await encodePng(await tensorToImage(tf.fill([1, 8, 8, 3], 255) as tf.Tensor4D)); // see {@link imagesToBatch}
 * console.log(png.length);
 * ```
 */
export async function tensorToImage(t: tf.Tensor3D | tf.Tensor4D, index = 0): Promise<RgbImage> {
  if (t.shape[t.rank - 1] !== CHANNELS) throw new Error(`tensorToImage: expected 3 channels, got shape [${t.shape.join(', ')}]`);
  let one: tf.Tensor3D;
  if (t.rank === 4) {
    const [n, h, w] = t.shape as [number, number, number, number];
    if (!Number.isInteger(index) || index < 0 || index >= n) throw new Error(`tensorToImage: index ${index} outside a batch of ${n}`);
    one = tf.tidy(() => tf.reshape(tf.slice(t as tf.Tensor4D, [index, 0, 0, 0], [1, h, w, CHANNELS]), [h, w, CHANNELS]) as tf.Tensor3D);
  } else if (t.rank === 3) {
    one = t as tf.Tensor3D;
  } else {
    throw new Error(`tensorToImage: expected a rank-3 or rank-4 tensor, got rank ${t.rank}`);
  }
  try {
    const values = await one.data();
    // The cpu backend may hand back its own storage (or a view of the batch's): always copy.
    return { data: Float32Array.from(values), height: one.shape[0], width: one.shape[1] };
  } finally {
    if (one !== t) one.dispose();
  }
}
