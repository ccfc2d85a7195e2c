/**
 * Prepare a whole folder of raw photos: folder-per-identity (or CelebA) in, folder-per-identity aligned
 * chips out, plus `manifest.json` describing every source photo — its faces, or that it had none, or why it
 * could not be read. Re-running on the same output resumes: photos already in the manifest with their chips on
 * disk are skipped, and chips the manifest does not list (a killed run wrote them after its last manifest) are
 * removed first. Every file is written atomically.
 */
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { encodePng, ImageDecodeError } from '../../image/index.js';
import { clearStale, hasFormat, writeFileAtomic } from '../../util/fs.js';
import type { OutputKind } from '../../util/output.js';
import type { Point, TemplateName } from './align.js';
import type { Box } from './detector.js';
import { prepareImage, type PrepareOptions } from './prepare.js';
import { ParameterError, param } from '../../util/errors.js';
import { roundTo } from '../../util/round.js';

export type Layout = 'folder' | 'celeba';
export const LAYOUTS: readonly Layout[] = ['folder', 'celeba'];

export function parseLayout(name: string): Layout {
  if ((LAYOUTS as readonly string[]).includes(name)) return name as Layout;
  throw new Error(`layout: unknown layout '${name}' (valid: ${LAYOUTS.join(', ')})`);
}

export const MANIFEST_NAME = 'manifest.json';
const MANIFEST_FORMAT = 'robustify-prepare/1';

/** A prepared folder: its manifest.json says so (resumed, never replaced). */
export const PREPARED_OUTPUT: OutputKind = { what: 'a folder made by robustify prepare', owns: (dir) => hasFormat(path.join(dir, MANIFEST_NAME), MANIFEST_FORMAT) };
const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg', '.webp']);
/** CelebA's identity list, and the folders its photos come in (in-the-wild, or the aligned release). */
const CELEBA_IDENTITIES = 'identity_CelebA.txt';
const CELEBA_IMAGE_DIRS = ['img_celeba', 'img_align_celeba'];

export interface PrepareDirOptions extends PrepareOptions {
  layout?: Layout;
  /** List unreadable or oversized photos as failed and go on, instead of stopping at the first. */
  skipBad?: boolean;
  /** What resuming found and did, one line each (before any photo). */
  onNote?: (line: string) => void;
  /** Called after each photo (skipped ones included). */
  onProgress?: (done: number, total: number, source: string) => void;
}

export interface ManifestFace {
  /** Chip path relative to the output folder. */
  file: string;
  box: Box;
  score: number;
  landmarks: Point[];
}

export interface ManifestEntry {
  /** Photo path relative to the raw folder. */
  source: string;
  status: 'ok' | 'no-face' | 'failed';
  /** Identity the chips are filed under. */
  identity: string;
  width?: number;
  height?: number;
  faces: ManifestFace[];
  /** Why the photo could not be used (status 'failed'). */
  error?: string;
}

/** The settings that decide what a chip looks like; a resumed run must use the same ones. */
interface ManifestSettings {
  layout: Layout;
  template: TemplateName;
  size: number | null;
  margin: number;
  allFaces: boolean;
  minScore: number;
  minFaceSize: number;
  pad: number;
  refine: number;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  settings: ManifestSettings;
  images: ManifestEntry[];
}

/** What `prepareDirectory` did: photos, faces, failures. */
export interface PrepareDirSummary {
  images: number;
  /** Photos done in earlier runs and skipped now. */
  skipped: number;
  withFaces: number;
  noFace: number;
  failed: number;
  chips: number;
  manifest: string;
}

export interface Source {
  /** Path relative to the raw folder (forward slashes). */
  rel: string;
  identity: string;
  /** Chip path relative to the output folder, without the `.png` (and face index). */
  outStem: string;
}

const posix = (p: string): string => p.split(path.sep).join('/');

async function listFolderLayout(rawDir: string): Promise<Source[]> {
  const out: Source[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = (await fsp.readdir(dir, { withFileTypes: true })).sort((p, q) => (p.name < q.name ? -1 : p.name > q.name ? 1 : 0));
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isFile() && IMAGE_EXT.has(path.extname(e.name).toLowerCase())) {
        const rel = posix(path.relative(rawDir, full));
        const identity = posix(path.dirname(rel));
        out.push({ rel, identity: identity === '.' ? '' : identity, outStem: rel.slice(0, rel.length - path.extname(rel).length) });
      }
    }
  };
  await walk(rawDir);
  return disambiguate(out);
}

async function listCelebaLayout(rawDir: string): Promise<Source[]> {
  const idFile = path.join(rawDir, CELEBA_IDENTITIES);
  const imgDir = CELEBA_IMAGE_DIRS.find((d) => existsSync(path.join(rawDir, d)));
  if (!existsSync(idFile) || !imgDir) {
    throw new Error(`'${rawDir}': a CelebA folder needs ${CELEBA_IDENTITIES} and one of ${CELEBA_IMAGE_DIRS.join(' / ')}`);
  }
  const text = await fsp.readFile(idFile, 'utf8');
  const out: Source[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (!t) return;
    const m = /^(\S+)\s+(\d+)$/.exec(t);
    if (!m || m[1].includes('/') || m[1].includes('\\')) throw new Error(`'${idFile}' line ${i + 1}: expected '<file> <identity>', got '${t}'`);
    const [, file, identity] = m;
    out.push({ rel: `${imgDir}/${file}`, identity, outStem: `${identity}/${file.slice(0, file.length - path.extname(file).length)}` });
  });
  return disambiguate(out);
}

/** Photos whose names differ only by extension (a.jpg, a.png) would share a chip name: keep the extension. */
function disambiguate(sources: Source[]): Source[] {
  const count = new Map<string, number>();
  for (const s of sources) count.set(s.outStem, (count.get(s.outStem) ?? 0) + 1);
  return sources.map((s) => ((count.get(s.outStem) ?? 0) > 1 ? { ...s, outStem: `${s.outStem}_${path.extname(s.rel).slice(1)}` } : s));
}

export async function listSources(rawDir: string, layout: Layout): Promise<Source[]> {
  let st;
  try {
    st = await fsp.stat(rawDir);
  } catch {
    throw new Error(`'${rawDir}': no such folder`);
  }
  if (!st.isDirectory()) throw new Error(`'${rawDir}': not a folder`);
  return layout === 'celeba' ? listCelebaLayout(rawDir) : listFolderLayout(rawDir);
}

async function readManifest(file: string, settings: ManifestSettings): Promise<Map<string, ManifestEntry>> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw err;
  }
  let m: Manifest;
  try {
    m = JSON.parse(text) as Manifest;
  } catch {
    throw new Error(`'${file}': not valid JSON; remove it or choose another output folder`);
  }
  if (m.format !== MANIFEST_FORMAT || !Array.isArray(m.images)) throw new Error(`'${file}': not a ${MANIFEST_FORMAT} manifest`);
  const differ = (Object.keys(settings) as (keyof ManifestSettings)[]).filter((k) => m.settings?.[k] !== settings[k]);
  if (differ.length > 0) {
    const was = differ.map((k) => `${k}=${JSON.stringify(m.settings?.[k])}`).join(', ');
    throw new Error(`'${file}' was written with ${was}; resume with the same settings or choose another output folder`);
  }
  return new Map(m.images.map((e) => [e.source, e]));
}

const round2 = (v: number): number => roundTo(v, 2);

/**
 * Detect, align and crop every photo under `rawDir` into `outDir`, resuming a previous run.
 *
 * @example
 * ```ts no-run
 * import { initEngine, prepareDirectory } from 'robustify';
 * await initEngine();
 * const summary = await prepareDirectory('photos', 'data/faces', { skipBad: true, onNote: console.log }); // resumable
 * console.log(summary.images, summary.withFaces, summary.noFace, summary.failed);
 * ```
 */
export async function prepareDirectory(rawDir: string, outDir: string, opts: PrepareDirOptions = {}): Promise<PrepareDirSummary> {
  const layout = opts.layout ?? 'folder';
  const settings: ManifestSettings = {
    layout,
    template: opts.template ?? 'dlib150',
    size: opts.size ?? null,
    margin: opts.margin ?? 0,
    allFaces: opts.allFaces ?? false,
    minScore: opts.minScore ?? 0.5,
    minFaceSize: opts.minFaceSize ?? 20,
    pad: opts.pad ?? 0,
    refine: opts.refine ?? 2,
  };
  const sources = await listSources(rawDir, layout);
  await fsp.mkdir(outDir, { recursive: true });
  const manifestFile = path.join(outDir, MANIFEST_NAME);
  // An earlier run's manifest (even one that recorded no photo yet) means a resume: say so, and clear its strays.
  const resuming = existsSync(manifestFile);
  const previous = await readManifest(manifestFile, settings);
  if (resuming) {
    const removed = await removeUnlisted(outDir, previous);
    opts.onNote?.(`resuming '${outDir}': ${previous.size} photos recorded in its manifest${removed > 0 ? `; removed ${removed} unlisted file(s) of an interrupted run` : ''}`);
  }

  const entries = new Map<string, ManifestEntry>();
  const summary: PrepareDirSummary = { images: sources.length, skipped: 0, withFaces: 0, noFace: 0, failed: 0, chips: 0, manifest: manifestFile };
  const save = async (): Promise<void> => {
    // Entries of photos no longer in the raw folder are kept: resuming never forgets written chips.
    const images = [...new Map([...previous, ...entries]).values()].sort((p, q) => (p.source < q.source ? -1 : p.source > q.source ? 1 : 0));
    // One photo per line: readable, diffable, and a tenth of the size of fully indented JSON.
    const head = JSON.stringify({ format: MANIFEST_FORMAT, settings } satisfies Omit<Manifest, 'images'>).slice(0, -1);
    const body = images.map((e) => JSON.stringify(e)).join(',\n');
    await writeFileAtomic(manifestFile, `${head},"images":[\n${body}\n]}\n`);
  };
  const count = (e: ManifestEntry): void => {
    if (e.status === 'ok') summary.withFaces++;
    else if (e.status === 'no-face') summary.noFace++;
    else summary.failed++;
    summary.chips += e.faces.length;
  };

  // Before any chip: the folder is recognisably a prepared one (to resume) even if the first photo is never done.
  if (!existsSync(manifestFile)) await save();
  let lastSave = Date.now();
  let dirty = false;
  try {
    for (const [i, src] of sources.entries()) {
      const done = previous.get(src.rel);
      if (done && done.status !== 'failed' && done.faces.every((f) => existsSync(path.join(outDir, f.file)))) {
        entries.set(src.rel, done);
        summary.skipped++;
        count(done);
        opts.onProgress?.(i + 1, sources.length, src.rel);
        continue;
      }
      const entry = await prepareOne(rawDir, outDir, src, opts);
      entries.set(src.rel, entry);
      count(entry);
      dirty = true;
      // Rewriting the manifest after every photo would be quadratic on CelebA-sized folders.
      if (Date.now() - lastSave > 10_000) {
        await save();
        lastSave = Date.now();
        dirty = false;
      }
      opts.onProgress?.(i + 1, sources.length, src.rel);
    }
  } finally {
    if (dirty || !existsSync(manifestFile)) await save();
  }
  return summary;
}

/** Remove the chips (and temporaries) under `outDir` that no manifest entry lists; returns how many. */
async function removeUnlisted(outDir: string, manifest: Map<string, ManifestEntry>): Promise<number> {
  const listed = new Set([...manifest.values()].flatMap((e) => e.faces.map((f) => path.normalize(f.file))));
  let removed = 0;
  const walk = async (rel: string): Promise<void> => {
    const dir = path.join(outDir, rel);
    removed += (await clearStale(dir)).length;
    for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) await walk(r);
      else if (e.isFile() && path.extname(e.name) === '.png' && !listed.has(r)) {
        await fsp.rm(path.join(outDir, r), { force: true });
        removed++;
      }
    }
  };
  await walk('');
  return removed;
}

async function prepareOne(rawDir: string, outDir: string, src: Source, opts: PrepareDirOptions): Promise<ManifestEntry> {
  const file = path.join(rawDir, src.rel);
  let prepared;
  try {
    prepared = await prepareImage(file, opts);
  } catch (err) {
    if (!(err instanceof ImageDecodeError)) throw err;
    if (!opts.skipBad) {
      const hint = /exceeds/.test(err.message) ? ['raise ', param('maxPixels'), ' to allow it, or '] : [];
      throw new ParameterError([`${err.message} (`, ...hint, 'use ', param('skipBad'), ' to list bad photos as failed and go on)']);
    }
    return { source: src.rel, status: 'failed', identity: src.identity, faces: [], error: err.message };
  }
  const faces: ManifestFace[] = [];
  for (const [k, f] of prepared.faces.entries()) {
    const rel = opts.allFaces ? `${src.outStem}_${k}.png` : `${src.outStem}.png`;
    const out = path.join(outDir, rel);
    await fsp.mkdir(path.dirname(out), { recursive: true });
    await writeFileAtomic(out, await encodePng(f.chip));
    faces.push({
      file: rel,
      box: { x: round2(f.box.x), y: round2(f.box.y), width: round2(f.box.width), height: round2(f.box.height) },
      score: Math.round(f.score * 1e4) / 1e4,
      landmarks: f.landmarks.map(([x, y]) => [round2(x), round2(y)] as Point),
    });
  }
  return {
    source: src.rel,
    status: faces.length > 0 ? 'ok' : 'no-face',
    identity: src.identity,
    width: prepared.width,
    height: prepared.height,
    faces,
  };
}
