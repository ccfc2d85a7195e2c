/**
 * Finding a dataset's identities and image files.
 *
 * Layouts:
 * - `folder`: `DIR/<identity>/*.{png,jpg,jpeg,webp}` (extensions case-insensitive). Hidden entries (leading
 *   dot) and other files are ignored; files directly in DIR are ignored.
 * - `celeba`: `DIR/img_align_celeba/<file>` + `DIR/identity_CelebA.txt` with lines `000001.jpg 2880`. Files the
 *   list names but the folder lacks are reported in `missing`, not listed.
 */
import { promises as fsp, type Dirent } from 'node:fs';
import path from 'node:path';
import { ParameterError, param } from '../util/errors.js';

export type DatasetLayout = 'folder' | 'celeba';
export const DATASET_LAYOUTS: readonly DatasetLayout[] = ['folder', 'celeba'];

export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg', '.webp'];
export const CELEBA_IDENTITY_FILE = 'identity_CelebA.txt';
export const CELEBA_IMAGE_DIR = 'img_align_celeba';

/** A dataset problem fit for the user: names the parameter (`data`, `identities`) and the file or folder. */
export class DatasetError extends ParameterError {
  override name = 'DatasetError';
}

export interface IdentityFiles {
  name: string;
  /** Image paths (DIR joined with the relative path), sorted by file name. */
  files: string[];
}

/** A dataset's identities and their image files, as listed from disk. */
export interface DatasetListing {
  root: string;
  layout: DatasetLayout;
  /** Sorted by `compareIdentities` order. */
  identities: IdentityFiles[];
  /** CelebA only: files named in identity_CelebA.txt but absent from img_align_celeba. */
  missing: string[];
}

export interface ListOptions {
  /** Default: `celeba` when DIR holds identity_CelebA.txt and img_align_celeba/, else `folder`. */
  layout?: DatasetLayout | 'auto';
}

export function parseDatasetLayout(name: string): DatasetLayout | 'auto' {
  if (name === 'auto' || (DATASET_LAYOUTS as readonly string[]).includes(name)) return name as DatasetLayout | 'auto';
  throw ParameterError.of`${param('layout')}: unknown layout '${name}' (valid: auto, ${DATASET_LAYOUTS.join(', ')})`;
}

/** Code-unit order: locale-independent, so labels are the same on every machine. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The order identities get their labels in, like scikit-learn's LabelEncoder: numeric when every name is a
 * whole number (CelebA's identity ids: 2 before 10), else code-unit order of the names.
 */
export function identityComparator(names: readonly string[]): (a: string, b: string) => number {
  if (names.length > 0 && names.every((n) => /^\d+$/.test(n))) {
    return (a, b) => {
      const d = BigInt(a) - BigInt(b);
      return d < 0n ? -1 : d > 0n ? 1 : compareText(a, b);
    };
  }
  return compareText;
}

export function isImageFile(name: string): boolean {
  return !name.startsWith('.') && IMAGE_EXTENSIONS.includes(path.extname(name).toLowerCase());
}

async function isDir(p: string): Promise<boolean> {
  return fsp.stat(p).then((s) => s.isDirectory(), () => false);
}

/** Follows symbolic links, which readdir's Dirent does not. */
async function entryIs(dir: string, e: Dirent, kind: 'dir' | 'file'): Promise<boolean> {
  if (e.isSymbolicLink()) {
    const st = await fsp.stat(path.join(dir, e.name)).catch(() => undefined);
    return kind === 'dir' ? Boolean(st?.isDirectory()) : Boolean(st?.isFile());
  }
  return kind === 'dir' ? e.isDirectory() : e.isFile();
}

async function listFolderLayout(root: string): Promise<IdentityFiles[]> {
  const entries = await fsp.readdir(root, { withFileTypes: true });
  const identities: IdentityFiles[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.') || !(await entryIs(root, e, 'dir'))) continue;
    const dir = path.join(root, e.name);
    const files: string[] = [];
    for (const f of await fsp.readdir(dir, { withFileTypes: true })) {
      if (isImageFile(f.name) && (await entryIs(dir, f, 'file'))) files.push(f.name);
    }
    if (files.length === 0) {
      throw DatasetError.of`${param('data')}: identity folder '${dir}' has no images (${IMAGE_EXTENSIONS.join(', ')})`;
    }
    files.sort(compareText);
    identities.push({ name: e.name, files: files.map((f) => path.join(dir, f)) });
  }
  if (identities.length === 0) {
    throw DatasetError.of`${param('data')}: no identity folders in '${root}' (expected DIR/<identity>/*.png|jpg|jpeg|webp, or DIR/${CELEBA_IMAGE_DIR} with DIR/${CELEBA_IDENTITY_FILE})`;
  }
  return identities;
}

async function listCelebaLayout(root: string): Promise<{ identities: IdentityFiles[]; missing: string[] }> {
  const listFile = path.join(root, CELEBA_IDENTITY_FILE);
  const imageDir = path.join(root, CELEBA_IMAGE_DIR);
  let text: string;
  try {
    text = await fsp.readFile(listFile, 'utf8');
  } catch {
    throw DatasetError.of`${param('data')}: CelebA layout needs '${listFile}'`;
  }
  if (!(await isDir(imageDir))) throw DatasetError.of`${param('data')}: CelebA layout needs the folder '${imageDir}'`;
  const present = new Set(await fsp.readdir(imageDir));
  const byIdentity = new Map<string, string[]>();
  const missing: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const fields = line.trim().split(/\s+/);
    if (fields[0] === '') return;
    if (fields.length !== 2 || !/^\d+$/.test(fields[1])) {
      throw DatasetError.of`${param('data')}: '${listFile}' line ${i + 1}: expected '<file> <identity>', got '${line.trim()}'`;
    }
    const [file, identity] = fields;
    if (!present.has(file)) {
      missing.push(file);
      return;
    }
    const files = byIdentity.get(identity) ?? [];
    files.push(file);
    byIdentity.set(identity, files);
  });
  if (byIdentity.size === 0) {
    throw DatasetError.of`${param('data')}: none of the ${missing.length} files named in '${listFile}' is in '${imageDir}'`;
  }
  const identities = [...byIdentity].map(([name, files]) => ({ name, files: files.sort(compareText).map((f) => path.join(imageDir, f)) }));
  return { identities, missing };
}

/** The layout of `dir`: CelebA when its identity list and image folder are there, else folder-per-identity. */
export async function detectLayout(dir: string): Promise<DatasetLayout> {
  const celeba = (await isDir(path.join(dir, CELEBA_IMAGE_DIR))) && (await fsp.stat(path.join(dir, CELEBA_IDENTITY_FILE)).then((s) => s.isFile(), () => false));
  return celeba ? 'celeba' : 'folder';
}

/**
 * Every identity of the dataset in `dir` with its image files.
 *
 * @example
 * ```ts
 * import os from 'node:os';
 * import path from 'node:path';
 * import { promises as fsp } from 'node:fs';
 * import { initEngine, encodePng, listDataset, selectTopK, splitDataset, loadImages, batches } from 'robustify';
 * await initEngine();
 * const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'faces-')); // a toy dataset: one folder per identity
 * for (const [who, n] of [['alice', 4], ['bob', 2], ['carol', 3]] as const) {
 *   await fsp.mkdir(path.join(root, who));
 *   for (let i = 0; i < n; i++) await fsp.writeFile(path.join(root, who, `${i}.png`), await encodePng({ width: 8, height: 8, data: new Float32Array(8 * 8 * 3).fill(40 * i) }));
 * }
 * const selection = selectTopK(await listDataset(root), 2); // alice and carol, the most images
 * const { train, test } = splitDataset(selection.samples, { testEvery: 2, testOffset: 1 });
 * const { images } = await loadImages(test, { size: 16 });
 * for await (const batch of batches(train, 2, { size: 16 })) {
 *   console.log(batch.labels, batch.x.shape);
 *   batch.x.dispose();
 * }
 * console.log(selection.identities, images.length);
 * await fsp.rm(root, { recursive: true });
 * ```
 */
export async function listDataset(dir: string, opts: ListOptions = {}): Promise<DatasetListing> {
  const st = await fsp.stat(dir).catch(() => undefined);
  if (!st) throw DatasetError.of`${param('data')}: no such directory '${dir}'`;
  if (!st.isDirectory()) throw DatasetError.of`${param('data')}: '${dir}' is not a directory`;
  const layout = opts.layout === undefined || opts.layout === 'auto' ? await detectLayout(dir) : opts.layout;
  const { identities, missing } = layout === 'celeba' ? await listCelebaLayout(dir) : { identities: await listFolderLayout(dir), missing: [] };
  const order = identityComparator(identities.map((i) => i.name));
  identities.sort((a, b) => order(a.name, b.name));
  return { root: dir, layout, identities, missing };
}
