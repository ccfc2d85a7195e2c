/**
 * An adversarial set on disk (ADV_DIR): the adversarial images as lossless raw float32 (`.f32`, HWC 0–255),
 * PNG previews, and `index.json` — the attack, where the images came from, and one item per image. The index is
 * rewritten atomically after every batch, so an interrupted attack resumes where it stopped.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { encodePng, readF32, tensorToImage, writeF32, type RgbImage } from '../image/index.js';
import { writeFileAtomic } from '../util/fs.js';

export const ADV_FORMAT = 'robustify-adversarial';
const INDEX = 'index.json';

export interface AdvItem {
  source: string;
  identity: string;
  label: number;
  clean_pred: number;
  adv_pred: number;
  linf: number;
  l2: number;
  /** The lossless image, relative to the set's directory. */
  file: string;
  preview: string;
}

/** What identifies a run: resuming requires the same header. */
export interface AdvHeader {
  attack: Record<string, unknown>;
  model: string;
  data: string;
  split: string;
  only_correct: boolean;
  identities: string[];
  /** [height, width, 3] of every image. */
  shape: [number, number, number];
}

export interface AdvIndex extends AdvHeader {
  format: typeof ADV_FORMAT;
  version: 1;
  complete: boolean;
  /** Samples dropped by --only-correct (misclassified before the attack). */
  dropped: number;
  items: AdvItem[];
}

/** Read and check ADV_DIR's index (format, version, shapes, items); an unfinished set is returned as such. */
export async function readAdversarialIndex(dir: string): Promise<AdvIndex> {
  const file = path.join(dir, INDEX);
  let raw: unknown;
  try {
    raw = JSON.parse(await fsp.readFile(file, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(e.code === 'ENOENT' ? `adversarial set: no adversarial set at '${dir}' (missing ${INDEX})` : `adversarial set: cannot read '${file}': ${e.message}`);
  }
  return checkIndex(raw, file);
}

function checkIndex(raw: unknown, file: string): AdvIndex {
  const bad = (why: string) => new Error(`adversarial set: '${file}' ${why}`);
  const index = raw as AdvIndex;
  if (!index || typeof index !== 'object' || index.format !== ADV_FORMAT) throw bad('is not a robustify adversarial set');
  if (index.version !== 1) throw bad(`has format version ${JSON.stringify(index.version)}; this robustify reads version 1`);
  const { identities, shape, items } = index;
  if (!Array.isArray(identities) || identities.length === 0 || !identities.every((s) => typeof s === 'string')) throw bad('has no identities list');
  if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0) || shape[2] !== 3) {
    throw bad(`has shape ${JSON.stringify(shape)}; expected [height, width, 3]`);
  }
  if (!Array.isArray(items) || typeof index.complete !== 'boolean') throw bad('has no items list or complete flag');
  items.forEach((it, k) => {
    const where = `item ${k}`;
    if (!it || typeof it.file !== 'string' || !/^[\w.-]+\.f32$/.test(it.file)) throw bad(`${where}: file ${JSON.stringify(it?.file)} is not a .f32 name inside the set`);
    if (!Number.isInteger(it.label) || it.label < 0 || it.label >= identities.length) throw bad(`${where}: label ${JSON.stringify(it.label)} is not one of the ${identities.length} identities`);
  });
  return index;
}

/**
 * Refuse a set a reader must not score: unfinished (an interrupted attack), or with an image file missing or of
 * the wrong size. Checked before any work, from the index and the files' sizes.
 */
export async function checkAdversarialSetComplete(dir: string, index: AdvIndex): Promise<void> {
  if (!index.complete) {
    throw new Error(
      `adversarial set: '${dir}' is unfinished (${index.items.length} images so far; the attack was interrupted): ` +
        'run the same attack again to finish it',
    );
  }
  const bytes = index.shape[0] * index.shape[1] * index.shape[2] * 4;
  for (const it of index.items) {
    const f = path.join(dir, it.file);
    const st = await fsp.stat(f).catch(() => undefined);
    if (!st?.isFile()) throw new Error(`adversarial set: '${f}' is missing (listed in ${INDEX})`);
    if (st.size !== bytes) throw new Error(`adversarial set: '${f}' has ${st.size} bytes, expected ${bytes} for ${index.shape.join('×')} float32`);
  }
}

/** The lossless adversarial image of an item. */
export function readAdversarialImage(dir: string, index: AdvIndex, item: AdvItem): Promise<RgbImage> {
  return readF32(path.join(dir, item.file), index.shape[0], index.shape[1]);
}

function sameHeader(a: AdvHeader, b: AdvHeader): boolean {
  const pick = (h: AdvHeader) => JSON.stringify([h.attack, h.model, h.data, h.split, h.only_correct, h.identities, h.shape]);
  return pick(a) === pick(b);
}

export class AdversarialSetWriter {
  private constructor(
    readonly dir: string,
    private readonly index: AdvIndex,
  ) {}

  /**
   * Open `dir` for `header`: a new set, or the unfinished (or finished) set of the same run to resume. A set of a
   * different run is refused unless `replace`.
   */
  static async open(dir: string, header: AdvHeader, replace = false): Promise<AdversarialSetWriter> {
    const existing = await readAdversarialIndex(dir).catch(() => undefined);
    if (existing && sameHeader(existing, header) && !replace) return new AdversarialSetWriter(dir, existing);
    const entries = await fsp.readdir(dir).catch(() => [] as string[]);
    if (entries.length > 0 && !replace) {
      throw new Error(`--out: '${dir}' holds ${existing ? 'an adversarial set of a different run' : 'other files'} (use --force to replace it)`);
    }
    if (replace) await fsp.rm(dir, { recursive: true, force: true });
    await fsp.mkdir(path.join(dir, 'previews'), { recursive: true });
    const index: AdvIndex = { format: ADV_FORMAT, version: 1, ...header, complete: false, dropped: 0, items: [] };
    const w = new AdversarialSetWriter(dir, index);
    await w.flush();
    return w;
  }

  /** Sources already done (to skip when resuming). */
  done(): Set<string> {
    return new Set(this.index.items.map((i) => i.source));
  }

  get complete(): boolean {
    return this.index.complete;
  }

  /** Write one batch of adversarial images (NHWC) and their items, then the index. */
  async add(adv: tf.Tensor4D, items: Omit<AdvItem, 'file' | 'preview'>[]): Promise<void> {
    for (let i = 0; i < items.length; i++) {
      const n = this.index.items.length;
      const name = String(n).padStart(5, '0');
      const img = await tensorToImage(adv, i);
      const file = `${name}.f32`;
      const preview = `previews/${name}.png`;
      await writeF32(path.join(this.dir, file), img);
      await writeFileAtomic(path.join(this.dir, preview), await encodePng(img));
      this.index.items.push({ ...items[i], file, preview });
    }
    await this.flush();
  }

  async finish(dropped: number): Promise<AdvIndex> {
    this.index.dropped = dropped;
    this.index.complete = true;
    await this.flush();
    return this.index;
  }

  private flush(): Promise<void> {
    return writeFileAtomic(path.join(this.dir, INDEX), JSON.stringify(this.index, null, 1) + '\n');
  }
}
