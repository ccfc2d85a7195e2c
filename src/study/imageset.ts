/**
 * A labelled set of same-sized images held as one packed NHWC float32 array (0–255): the clean test faces and
 * every adversarial set of the study. `key` names its content for the step cache.
 */
import * as tf from '@tensorflow/tfjs-core';
import { CHANNELS, type RgbImage } from '../image/index.js';

export interface ImageSet {
  key: string;
  height: number;
  width: number;
  /** n × height × width × 3. */
  data: Float32Array;
  labels: number[];
  /** Where each image came from (the dataset file). */
  sources: string[];
}

export function imageSize(set: Pick<ImageSet, 'height' | 'width'>): number {
  return set.height * set.width * CHANNELS;
}

export function setLength(set: ImageSet): number {
  return set.labels.length;
}

export function packImages(images: readonly RgbImage[]): Float32Array {
  const size = images.length ? images[0].data.length : 0;
  const out = new Float32Array(images.length * size);
  images.forEach((img, i) => out.set(img.data, i * size));
  return out;
}

export function imageAt(set: ImageSet, i: number): RgbImage {
  const size = imageSize(set);
  return { data: set.data.slice(i * size, (i + 1) * size), height: set.height, width: set.width };
}

/** Rows [start, start+count) as a tensor (caller disposes). */
export function batchOf(set: ImageSet, start: number, count: number): tf.Tensor4D {
  const size = imageSize(set);
  return tf.tensor4d(set.data.subarray(start * size, (start + count) * size), [count, set.height, set.width, CHANNELS]);
}

/** The rows `rows` of a set, as a new set under `key`. */
export function subset(set: ImageSet, rows: readonly number[], key: string): ImageSet {
  const size = imageSize(set);
  const data = new Float32Array(rows.length * size);
  rows.forEach((r, i) => data.set(set.data.subarray(r * size, (r + 1) * size), i * size));
  return { key, height: set.height, width: set.width, data, labels: rows.map((r) => set.labels[r]), sources: rows.map((r) => set.sources[r]) };
}

/** The same images and labels with new pixels (an adversarial or defended version). */
export function withData(set: ImageSet, data: Float32Array, key: string): ImageSet {
  if (data.length !== set.data.length) throw new Error(`image set ${key}: ${data.length} values for ${set.data.length}`);
  return { ...set, key, data };
}
