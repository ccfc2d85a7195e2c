/**
 * An adversarial set on disk (ADV_DIR): the adversarial images as lossless raw float32 (`.f32`, HWC 0–255),
 * PNG previews, and `index.json` — the attack, where the images came from, and one item per image. The index is
 * rewritten atomically after every batch, so an interrupted attack resumes where it stopped: reopening checks
 * every listed file (a missing or damaged one is attacked again) and removes what the index does not list.
 */
import { promises as fsp, rmSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { encodePng, readF32, tensorToImage, writeF32, type RgbImage } from '../image/index.js';
import { clearStale, hasFormat, writeFileAtomic } from '../util/fs.js';
import { onInterrupt } from '../util/interrupt.js';
import type { OutputKind } from '../util/output.js';

export const ADV_FORMAT = 'robustify-adversarial';
const INDEX = 'index.json';

/** An adversarial set's folder: its index.json says so. */
export const ADV_OUTPUT: OutputKind = { what: 'an adversarial set made by robustify attack', owns: (dir) => hasFormat(path.join(dir, INDEX), ADV_FORMAT) };

const ITEM_RE = /^(\d{5,})\.(f32|png)$/;

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

/** The folder holds a set of another run (attack, model, data or split differ) and replacing was not asked for. */
export class AdversarialSetConflict extends Error {}

export class AdversarialSetWriter {
  /** What reopening found and did, one line each (for the command to state first). */
  readonly notes: string[] = [];
  /** The number of the next item's files (never reuses one, so a re-attacked item cannot overwrite another). */
  private next: number;
  private forgetEmpty: (() => void) | undefined;

  private constructor(
    readonly dir: string,
    private readonly index: AdvIndex,
    private readonly created: boolean,
  ) {
    this.next = 1 + Math.max(-1, ...index.items.map((it) => Number(ITEM_RE.exec(path.basename(it.file))?.[1] ?? -1)));
    // A set this run created and never added to is removed on interruption: it holds nothing to resume.
    if (created) this.forgetEmpty = onInterrupt(() => rmSync(dir, { recursive: true, force: true }));
  }

  /**
   * Open `dir` for `header`: a new set, or the unfinished (or finished) set of the same run to resume. A set of a
   * different run is replaced only when `replace`; a folder holding anything else is always refused.
   */
  static async open(dir: string, header: AdvHeader, replace = false): Promise<AdversarialSetWriter> {
    const existing = await readAdversarialIndex(dir).catch(() => undefined);
    if (existing && sameHeader(existing, header) && !replace) {
      const w = new AdversarialSetWriter(dir, existing, false);
      await w.repair();
      return w;
    }
    const entries = await fsp.readdir(dir).catch(() => [] as string[]);
    if (entries.length > 0 && !existing) throw new Error(`adversarial set: '${dir}' holds files that are not an adversarial set; nothing there is replaced`);
    if (entries.length > 0 && !replace) throw new AdversarialSetConflict(`adversarial set: '${dir}' holds an adversarial set of a different run`);
    if (existing) await fsp.rm(dir, { recursive: true, force: true });
    await fsp.mkdir(path.join(dir, 'previews'), { recursive: true });
    const index: AdvIndex = { format: ADV_FORMAT, version: 1, ...header, complete: false, dropped: 0, items: [] };
    const w = new AdversarialSetWriter(dir, index, true);
    await w.flush();
    return w;
  }

  /**
   * Resuming: keep the items whose image and preview are on disk whole, drop the others (attacked again), and
   * remove files and temporaries the index does not list (a killed run wrote them after its last index).
   */
  private async repair(): Promise<void> {
    const [h, w, c] = this.index.shape;
    const bytes = h * w * c * 4;
    const size = (f: string) => fsp.stat(path.join(this.dir, f)).then((st) => (st.isFile() ? st.size : -1), () => -1);
    const kept: AdvItem[] = [];
    for (const it of this.index.items) {
      if ((await size(it.file)) === bytes && (await size(it.preview)) > 0) kept.push(it);
    }
    const lost = this.index.items.length - kept.length;
    const cleared = [...(await clearStale(this.dir)), ...(await clearStale(path.join(this.dir, 'previews')))];
    const listed = new Set(kept.flatMap((it) => [it.file, it.preview]));
    let orphans = 0;
    for (const sub of ['', 'previews']) {
      for (const name of await fsp.readdir(path.join(this.dir, sub)).catch(() => [] as string[])) {
        const rel = sub ? `${sub}/${name}` : name;
        if (ITEM_RE.test(name) && !listed.has(rel)) {
          await fsp.rm(path.join(this.dir, rel), { force: true });
          orphans++;
        }
      }
    }
    const done = `${kept.length} image${kept.length === 1 ? '' : 's'} done`;
    this.notes.push(`resuming the adversarial set '${this.dir}' (${this.index.complete && lost === 0 ? 'complete' : 'unfinished'}, ${done})`);
    if (lost > 0) this.notes.push(`${lost} listed image${lost === 1 ? ' is' : 's are'} missing or damaged and will be attacked again`);
    if (orphans + cleared.length > 0) this.notes.push(`removed ${orphans + cleared.length} unlisted file(s) of an interrupted run`);
    await fsp.mkdir(path.join(this.dir, 'previews'), { recursive: true });
    if (lost > 0) {
      this.index.items = kept;
      this.index.complete = false;
      await this.flush();
    }
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
      const name = String(this.next++).padStart(5, '0');
      const img = await tensorToImage(adv, i);
      const file = `${name}.f32`;
      const preview = `previews/${name}.png`;
      await writeF32(path.join(this.dir, file), img);
      await writeFileAtomic(path.join(this.dir, preview), await encodePng(img));
      this.index.items.push({ ...items[i], file, preview });
    }
    await this.flush();
    this.forgetEmpty?.();
    this.forgetEmpty = undefined;
  }

  async finish(dropped: number): Promise<AdvIndex> {
    this.index.dropped = dropped;
    this.index.complete = true;
    await this.flush();
    this.forgetEmpty?.();
    this.forgetEmpty = undefined;
    return this.index;
  }

  /** After a failure: a set this run created and never added to holds nothing to resume, so it goes. */
  async abandon(): Promise<void> {
    this.forgetEmpty?.();
    this.forgetEmpty = undefined;
    if (this.created && this.index.items.length === 0) await fsp.rm(this.dir, { recursive: true, force: true });
  }

  private flush(): Promise<void> {
    return writeFileAtomic(path.join(this.dir, INDEX), JSON.stringify(this.index, null, 1) + '\n');
  }
}
