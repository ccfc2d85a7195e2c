/** Loading sample pixels: decode, resize to the model's input size, and batch into tensors. */
import type * as tf from '@tensorflow/tfjs-core';
import { decodeImage, ImageDecodeError, imagesToBatch, type RgbImage } from '../image/index.js';
import { toChip, type ChipMode, type ChipTemplate } from './chip.js';
import type { Sample } from './select.js';

/** How images are decoded and made into network inputs (size, chip mode, budgets). */
export interface LoadOptions {
  /** Square side to resize to, bilinear (default 150, the backbone's input); `null` keeps decoded sizes. */
  size?: number | null;
  /** How a face becomes a size×size input (default `auto`: ArcFace 112 crops are re-mapped, see chip.ts). */
  chip?: ChipMode;
  /** The alignment template the network was trained on (default dlib150, the built-in backbone's). */
  template?: ChipTemplate;
  /** Skip files that cannot be decoded (listing them in `skipped`) instead of failing on the first. */
  skipBad?: boolean;
  /** Refuse images with more pixels than this, from the header (default DEFAULT_MAX_PIXELS, see decodeImage). */
  maxPixels?: number;
  /**
   * Files in flight at once (default 4, libuv's thread pool where sharp decodes). Decodes also wait for their
   * bytes in the process-wide decode budget, so large images run fewer at a time.
   */
  concurrency?: number;
  /** Told what was accepted but changed (alpha dropped, first frame only, a tiny face upscaled); names the file. */
  onWarning?: (message: string) => void;
  /** Called after each file. */
  onProgress?: (done: number, total: number) => void;
}

/** A face whose shorter side is less than 1/TINY_FACTOR of the input size carries little detail: say so. */
const TINY_FACTOR = 4;

export interface Skipped {
  file: string;
  reason: string;
}

/** Decoded images with their samples, and what was skipped. */
export interface Loaded<S extends Sample = Sample> {
  images: RgbImage[];
  /** The samples that loaded, in input order, parallel to `images`. */
  samples: S[];
  skipped: Skipped[];
}

/**
 * Decode and resize `samples`. Without `skipBad` the first bad file (in sample order) throws its
 * ImageDecodeError, naming the file.
 *
 * @example
 * ```ts
 * import { initEngine, encodePng, loadImages } from 'robustify';
 * import { promises as fsp } from 'node:fs';
 * import os from 'node:os';
 * import path from 'node:path';
 * await initEngine();
 * const file = path.join(os.tmpdir(), `face-${process.pid}.png`);
 * await fsp.writeFile(file, await encodePng({ width: 8, height: 8, data: new Float32Array(8 * 8 * 3).fill(99) }));
 * const { images, skipped } = await loadImages([{ file, identity: 'alice', label: 0 }, { file: 'missing.png', identity: 'bob', label: 1 }], { size: 16, skipBad: true });
 * console.log(images[0].width, skipped); // 16, and missing.png with its reason; see {@link listDataset}
 * await fsp.rm(file);
 * ```
 */
export async function loadImages<S extends Sample>(samples: readonly S[], opts: LoadOptions = {}): Promise<Loaded<S>> {
  const size = opts.size === undefined ? 150 : opts.size;
  if (size !== null && !(Number.isInteger(size) && size > 0)) throw new Error(`size: expected a positive whole number, got ${size}`);
  const concurrency = opts.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`concurrency: expected a whole number ≥ 1, got ${concurrency}`);

  const results: (RgbImage | ImageDecodeError | undefined)[] = new Array(samples.length);
  let next = 0;
  let done = 0;
  let stop = false;
  const worker = async (): Promise<void> => {
    while (!stop && next < samples.length) {
      const i = next++;
      try {
        const file = samples[i].file;
        const img = await decodeImage(file, undefined, { maxPixels: opts.maxPixels, onWarning: opts.onWarning });
        if (size !== null && Math.min(img.width, img.height) * TINY_FACTOR < size) {
          opts.onWarning?.(`'${file}': a tiny face (${img.width}×${img.height}) is upscaled to ${size}×${size}`);
        }
        results[i] = size === null ? img : toChip(img, size, opts.chip ?? 'auto', opts.template);
      } catch (err) {
        if (!(err instanceof ImageDecodeError)) {
          stop = true;
          throw err;
        }
        results[i] = err;
        // Files after this one are not started; those already started finish, so the earliest failure is known.
        if (!opts.skipBad) stop = true;
      }
      opts.onProgress?.(++done, samples.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, samples.length) }, worker));

  const out: Loaded<S> = { images: [], samples: [], skipped: [] };
  for (let i = 0; i < samples.length; i++) {
    const r = results[i];
    if (r === undefined) continue; // not started after a failure
    if (r instanceof ImageDecodeError) {
      if (!opts.skipBad) throw r;
      out.skipped.push({ file: samples[i].file, reason: r.reason });
    } else {
      out.images.push(r);
      out.samples.push(samples[i]);
    }
  }
  return out;
}

/** One batch of decoded images with their samples (and the files skipped in it). */
export interface Batch<S extends Sample = Sample> {
  /** `[n, size, size, 3]`, 0–255; the caller disposes it. */
  x: tf.Tensor4D;
  samples: S[];
  labels: number[];
  /** Files of this chunk that were skipped (skipBad). */
  skipped: Skipped[];
}

/**
 * Iterate over `samples` in batches of up to `batchSize` (fewer when files are skipped; a chunk whose files
 * all fail is passed over). The next chunk is decoded while the caller works on the current one.
 * Each batch's tensor belongs to the caller: dispose it.
 *
 * @example
 * ```ts
 * import { batches, type Sample } from 'robustify';
 * const train: Sample[] = []; // as from splitDataset; see {@link listDataset}
 * for await (const { x, labels } of batches(train, 32, { size: 150 })) {
 *   console.log(labels, x.shape);
 *   x.dispose();
 * }
 * ```
 */
export async function* batches<S extends Sample>(samples: readonly S[], batchSize: number, opts: LoadOptions = {}): AsyncGenerator<Batch<S>> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize: expected a whole number ≥ 1, got ${batchSize}`);
  if (opts.size === null) throw new Error('batches: size must be a number (a batch needs one image size)');
  const load = (start: number): Promise<Loaded<S>> => loadImages(samples.slice(start, start + batchSize), opts);
  let pending: Promise<Loaded<S>> | undefined = samples.length > 0 ? load(0) : undefined;
  for (let start = 0; pending; start += batchSize) {
    const current: Promise<Loaded<S>> = pending;
    pending = start + batchSize < samples.length ? load(start + batchSize) : undefined;
    // If the caller stops early or this batch fails, the prefetch's failure must not surface as unhandled.
    pending?.catch(() => undefined);
    const loaded = await current;
    if (loaded.images.length === 0) continue;
    yield { x: imagesToBatch(loaded.images), samples: loaded.samples, labels: loaded.samples.map((s) => s.label), skipped: loaded.skipped };
  }
}

/**
 * `batches`, for consumers that only read each batch: its tensor is disposed once the consumer moves on, and
 * skipped files are appended to `skipped`.
 */
export async function* readBatches<S extends Sample>(samples: readonly S[], batchSize: number, opts: LoadOptions, skipped: Skipped[]): AsyncGenerator<Batch<S>> {
  for await (const b of batches(samples, batchSize, opts)) {
    skipped.push(...b.skipped);
    try {
      yield b;
    } finally {
      b.x.dispose();
    }
  }
}
