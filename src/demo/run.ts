/**
 * The zero-data demo (`robustify demo`, `npm run demo`): the faces in the six sample photos shipped with
 * `@vladmandic/face-api` form a re-identification gallery; a transformed view of each face (re-cropped,
 * mirrored, brighter or darker) is matched to it by descriptor distance; a PGD dodging attack on those
 * probes breaks the matching; preprocessing defences and pipelines are applied to the clean and adversarial
 * probes (the oblivious setting: the attack was made against the bare model), and finally the best pipeline
 * is attacked by an adversary who knows it (BPDA), to show what preprocessing is worth against one.
 * Offline: the photos and every weight come from npm packages (and `weights/` for BMCNN, when present).
 */
import * as tf from '@tensorflow/tfjs-core';
import { promises as fsp } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createAttack } from '../attacks/index.js';
import { perSampleLinf } from '../attacks/attack.js';
import { invertSimilarity, prepareImage } from '../data/prepare/index.js';
import { buildPipeline, formatPipeline, parsePipeline, type Pipeline } from '../defences/index.js';
import { DEFAULT_WEIGHTS_DIR } from '../denoise/model.js';
import { engineInfo } from '../engine/backend.js';
import { decodeImage, encodePng, imagesToBatch, tensorToImage, type RgbImage } from '../image/index.js';
import { openBackbone, type Backbone, type BackboneSource } from '../models/backbones.js';
import type { Classifier } from '../models/classifier.js';
import { DefendedClassifier } from '../models/defended.js';
import { accelerateGallery, type NativeClassifier } from '../models/native.js';
import { hasFormat, writeDirAtomic, writeFileAtomic } from '../util/fs.js';
import type { OutputKind } from '../util/output.js';
import { createRandom, hashSeed } from '../util/random.js';
import { DEFAULT_TEMPERATURE, GalleryClassifier, matchBatch, type ProbeMatch } from '../models/gallery.js';
import { drawTransform, makeProbe, type ProbeTransform } from './probes.js';
import { contactSheet, markdownTable, MATCH_THRESHOLD, perturbationImage, summarise, type MatchSummary, type TableRow, type Tile } from './report.js';
import { ParameterError, param } from '../util/errors.js';
import { roundTo } from '../util/round.js';

export { GalleryClassifier, squaredDistances, matchesFromDistances, DEFAULT_TEMPERATURE, type ProbeMatch } from '../models/gallery.js';
export { drawTransform, makeProbe, type ProbeTransform } from './probes.js';
export { formatTable, type MatchSummary, type TableRow } from './report.js';

const DEMO_DIR = path.join(path.dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json')), 'demo');
/** face-api's six group photos (1920 px wide): the demo's only input. */
export const SAMPLE_PHOTOS: readonly string[] = [1, 2, 3, 4, 5, 6].map((i) => path.join(DEMO_DIR, `sample${i}.jpg`));

/** The defences and pipelines the full demo tries (bmcnn only when its weights are present). */
export const DEMO_PIPELINES: readonly string[] = [
  'jpeg:20',
  'jpeg:40',
  'median:3',
  'gauss:8',
  'tvm',
  'squeeze:5',
  'median:3,jpeg:20',
  'median:3,jpeg:20,gauss:8',
  'bmcnn:20',
];
const QUICK_PIPELINES: readonly string[] = ['jpeg:20', 'median:3,jpeg:20'];

export const RESULTS_FORMAT = 'robustify-demo/1';
export const RESULTS_FILE = 'results.json';
export const REPORT_FILE = 'report.md';
export const SHEET_FILE = 'contact-sheet.png';

export interface DemoOptions {
  /** Fewer faces, iterations and defences (tests, CI). */
  quick?: boolean;
  /** Seeds probe transforms, stochastic defences and attack restarts (default 0). */
  seed?: number;
  /** PGD L∞ budget on 0–255 (default 4). */
  eps?: number;
  eps_step?: number;
  max_iter?: number;
  /** Defences and pipelines to try (default DEMO_PIPELINES, or two in quick mode). */
  pipelines?: readonly string[];
  /** Photos to take the faces from (default SAMPLE_PHOTOS; quick mode: the first one). */
  photos?: readonly string[];
  /** At most this many faces (default all; quick mode 4). */
  maxFaces?: number;
  /** Attack the best pipeline with BPDA as well (default true). */
  adaptive?: boolean;
  /** The face network whose descriptors form the gallery (default the built-in one). */
  backbone?: BackboneSource;
}

export interface DemoHooks {
  /** A stage begins (a one-line note). */
  note?(text: string): void;
  /** Progress within a long stage. */
  progress?(label: string, done: number, total: number): void;
}

/** Faces smaller than this (detector box side, photo pixels) are not "clearly visible": left out. */
const MIN_FACE = 40;
const ATTACK_BATCH = 8;

interface Settings {
  quick: boolean;
  seed: number;
  eps: number;
  eps_step: number;
  max_iter: number;
  pipelines: string[];
  photos: string[];
  maxFaces: number;
  adaptive: boolean;
  backbone: BackboneSource;
}

function resolveSettings(o: DemoOptions): Settings {
  const quick = o.quick ?? false;
  const s: Settings = {
    quick,
    seed: o.seed ?? 0,
    eps: o.eps ?? 4,
    eps_step: o.eps_step ?? (quick ? 1 : 0.5),
    max_iter: o.max_iter ?? (quick ? 6 : 20),
    pipelines: [...(o.pipelines ?? (quick ? QUICK_PIPELINES : DEMO_PIPELINES))],
    photos: [...(o.photos ?? (quick ? SAMPLE_PHOTOS.slice(0, 1) : SAMPLE_PHOTOS))],
    maxFaces: o.maxFaces ?? (quick ? 4 : Infinity),
    adaptive: o.adaptive ?? true,
    backbone: o.backbone ?? { kind: 'builtin' },
  };
  if (!Number.isInteger(s.seed) || s.seed < 0) throw ParameterError.of`${param('seed')}: expected a whole number ≥ 0, got ${s.seed}`;
  if (!(s.eps > 0 && s.eps <= 255)) throw ParameterError.of`${param('eps')}: expected a number in (0, 255], got ${s.eps}`;
  if (!(s.maxFaces >= 2)) throw new Error(`demo: need at least 2 faces, got maxFaces ${s.maxFaces}`);
  if (s.photos.length === 0) throw new Error('demo: no photos');
  return s;
}

/** A face of the gallery: where it came from. */
export interface GalleryFace {
  id: number;
  photo: string;
  box: [number, number, number, number];
  score: number;
}

export interface DefenceResult {
  pipeline: string;
  /** Canonical form (every parameter). */
  canonical: string;
  clean: MatchSummary;
  adversarial: MatchSummary;
}

/** Everything results.json holds: a function of the options and the seed only (no timings). */
export interface DemoResults {
  format: typeof RESULTS_FORMAT;
  settings: {
    seed: number;
    quick: boolean;
    /** The face network (the built-in one's name, or the model file's). */
    backbone: string;
    backend: string;
    photos: string[];
    temperature: number;
    match_threshold: number;
    attack: { name: string; norm: string; eps: number; eps_step: number; max_iter: number; targeted: false; num_random_init: number };
  };
  gallery: GalleryFace[];
  /** Pairs of gallery faces closer than the match threshold (possibly one person in two photos). */
  gallery_close_pairs: { a: number; b: number; distance: number }[];
  probes: { id: number; transform: ProbeTransform; clean: ProbeMatch; adversarial: ProbeMatch; linf: number }[];
  clean: MatchSummary;
  adversarial: MatchSummary & { max_linf: number };
  defences: DefenceResult[];
  skipped: { pipeline: string; reason: string }[];
  best_pipeline: string | null;
  adaptive: null | {
    pipeline: string;
    method: string;
    /** Adaptive adversarial probes through the pipeline. */
    defended: MatchSummary;
    /** The same adversarial probes without the pipeline. */
    bare: MatchSummary;
  };
}

export interface DemoRun {
  results: DemoResults;
  /** gallery | probe | adversarial | |δ| | adversarial through the best pipeline | adaptive adversarial through it. */
  sheet: RgbImage;
  /** Seconds per stage (not in results.json, which stays byte-identical across runs). */
  timings: Record<string, number>;
}

const r4 = (v: number): number => roundTo(v, 4);
const roundMatch = (m: ProbeMatch): ProbeMatch => ({ pred: m.pred, nearest_distance: r4(m.nearest_distance), true_distance: r4(m.true_distance) });

/** Whether BMCNN weights are installed (the `bmcnn` defence needs them). */
async function bmcnnAvailable(): Promise<boolean> {
  return fsp.access(path.join(DEFAULT_WEIGHTS_DIR, 'model.json')).then(
    () => true,
    () => false,
  );
}

/** Run the demo (the engine must be initialised). Tensors it makes are all released before it returns. */
export async function runDemo(options: DemoOptions = {}, hooks: DemoHooks = {}): Promise<DemoRun> {
  const s = resolveSettings(options);
  const note = (t: string): void => hooks.note?.(t);
  // Refuse a bad pipeline before any work.
  for (const p of s.pipelines) parsePipeline(p);
  const timings: Record<string, number> = {};
  let t0 = performance.now();
  const lap = (name: string): void => {
    const now = performance.now();
    timings[name] = Number(((now - t0) / 1000).toFixed(2));
    t0 = now;
  };

  // The network first: the chips and probes follow its alignment template and input size.
  const net = await openBackbone(s.backbone);
  note(`faces: detecting and aligning the faces of ${s.photos.length} photo(s) (${net.alignment} chips, ${net.inputSize}×${net.inputSize})`);
  let found: Awaited<ReturnType<typeof galleryFaces>>;
  try {
    found = await galleryFaces(s, net, hooks);
  } catch (err) {
    net.dispose();
    throw err;
  }
  const { faces, chips, probeImages, transforms } = found;
  const truth = faces.map((f) => f.id);
  lap('faces');

  const owned: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T): T => {
    owned.push(t);
    return t;
  };
  const pipelines: Pipeline[] = [];
  let gallery: GalleryClassifier | undefined;
  let native: NativeClassifier | undefined;
  try {
    const galleryX = keep(imagesToBatch(chips));
    const probes = keep(imagesToBatch(probeImages));
    const descriptors = keep(net.descriptor(galleryX));
    gallery = new GalleryClassifier(net, descriptors, DEFAULT_TEMPERATURE);
    // Every model call below (matching, attacks, defended passes) on the native engine when it loads.
    native = await accelerateGallery(net, gallery);
    const model: Classifier = native ?? gallery;
    const closePairs = await galleryClosePairs(gallery, descriptors);

    note(`gallery: ${faces.length} faces; matching ${faces.length} probes`);
    const clean = await matchBatch(model, gallery, probes, truth);
    lap('gallery');

    note(`attack: PGD L∞ eps ${s.eps}, eps_step ${s.eps_step}, ${s.max_iter} iterations, dodging (untargeted on the true identity)`);
    const attackParams = { norm: 'inf' as const, eps: s.eps, eps_step: s.eps_step, max_iter: s.max_iter, batch_size: ATTACK_BATCH, seed: s.seed };
    const pgd = createAttack('pgd', attackParams);
    const adv = keep(await pgd.generate(model, probes, truth, { onProgress: (d, t) => hooks.progress?.('attack', d, t) }));
    const advMatches = await matchBatch(model, gallery, adv, truth);
    const linf = await perSampleLinf(adv, probes);
    lap('attack');

    const { defences, skipped, built, advThrough } = await defenceResults(s, hooks, { model, gallery, probes, adv, truth }, pipelines);
    lap('defences');

    const best = bestDefence(defences);
    let adaptive: DemoResults['adaptive'] = null;
    let adaptiveAdv: tf.Tensor4D | undefined;
    let adaptiveThrough: ProbeMatch[] | undefined;
    if (best && s.adaptive) {
      note(`adaptive: PGD through ${best.pipeline} (BPDA: the identity as the gradient of non-differentiable stages)`);
      const pipeline = built.get(best.pipeline)!;
      const defended = new DefendedClassifier(model, pipeline, hashSeed(s.seed, 'adaptive-attack'));
      adaptiveAdv = keep(await pgd.generate(defended, probes, truth, { onProgress: (d, t) => hooks.progress?.('adaptive', d, t) }));
      const through = await defendedMatches(model, gallery, pipeline, adaptiveAdv, truth, hashSeed(s.seed, 'adaptive', best.pipeline));
      adaptiveThrough = through;
      const bare = await matchBatch(model, gallery, adaptiveAdv, truth);
      adaptive = { pipeline: best.pipeline, method: 'PGD through the pipeline, BPDA (identity gradient) for non-differentiable stages', defended: summarise(through, truth), bare: summarise(bare, truth) };
      lap('adaptive');
    }

    // The sheet shows the best pipeline's outputs drawn with the seeds of their evaluation: the same images.
    const bestPipe = best ? built.get(best.pipeline) : undefined;
    const defendedAdv = bestPipe ? keep(await bestPipe.apply(adv, { seed: hashSeed(s.seed, 'adversarial', best!.pipeline) })) : undefined;
    const defendedAdvMatches = best ? advThrough.get(best.pipeline) : undefined;
    const defendedAdaptive = bestPipe && adaptiveAdv ? keep(await bestPipe.apply(adaptiveAdv, { seed: hashSeed(s.seed, 'adaptive', best!.pipeline) })) : undefined;
    const defendedAdaptiveMatches = adaptiveThrough;
    const rows: Tile[][] = [];
    for (let i = 0; i < faces.length; i++) {
      const probe = probeImages[i];
      const advImg = await tensorToImage(adv, i);
      const row: Tile[] = [
        { image: chips[i] },
        { image: probe, matched: clean[i].pred === i },
        { image: advImg, matched: advMatches[i].pred === i },
        { image: perturbationImage(probe, advImg, s.eps) },
      ];
      if (defendedAdv) row.push({ image: await tensorToImage(defendedAdv, i), matched: defendedAdvMatches![i].pred === i });
      if (defendedAdaptive) row.push({ image: await tensorToImage(defendedAdaptive, i), matched: defendedAdaptiveMatches![i].pred === i });
      rows.push(row);
    }
    const sheet = contactSheet(rows);
    lap('sheet');

    const results: DemoResults = {
      format: RESULTS_FORMAT,
      settings: {
        seed: s.seed,
        quick: s.quick,
        backbone: net.name,
        backend: native ? 'onnxruntime' : (engineInfo()?.backend ?? tf.getBackend()),
        photos: s.photos.map((p) => path.basename(p)),
        temperature: DEFAULT_TEMPERATURE,
        match_threshold: MATCH_THRESHOLD,
        attack: { name: pgd.name, norm: 'inf', eps: s.eps, eps_step: s.eps_step, max_iter: s.max_iter, targeted: false, num_random_init: 0 },
      },
      gallery: faces,
      gallery_close_pairs: closePairs,
      probes: faces.map((f, i) => ({ id: f.id, transform: transforms[i], clean: roundMatch(clean[i]), adversarial: roundMatch(advMatches[i]), linf: r4(linf[i]) })),
      clean: summarise(clean, truth),
      adversarial: { ...summarise(advMatches, truth), max_linf: r4(Math.max(...linf)) },
      defences,
      skipped,
      best_pipeline: best?.pipeline ?? null,
      adaptive,
    };
    return { results, sheet, timings };
  } finally {
    pipelines.forEach((p) => p.dispose());
    gallery?.dispose();
    await native?.dispose();
    owned.forEach((t) => t.dispose());
    net.dispose();
  }
}

/** The faces of the sample photos (at most `maxFaces`), their chips, and one transformed probe of each. */
async function galleryFaces(s: Settings, net: Backbone, hooks: DemoHooks): Promise<{ faces: GalleryFace[]; chips: RgbImage[]; probeImages: RgbImage[]; transforms: ProbeTransform[] }> {
  const faces: GalleryFace[] = [];
  const chips: RgbImage[] = [];
  const probeImages: RgbImage[] = [];
  const transforms: ProbeTransform[] = [];
  const rng = createRandom(hashSeed(s.seed, 'demo-probes'));
  for (const [k, file] of s.photos.entries()) {
    const photo = await decodeImage(file);
    const prepared = await prepareImage(photo, { allFaces: true, minFaceSize: MIN_FACE, template: net.alignment, size: net.inputSize });
    for (const f of prepared.faces) {
      if (faces.length >= s.maxFaces) break;
      const id = faces.length;
      const t = drawTransform(rng.fork(id));
      faces.push({ id, photo: path.basename(file), box: [f.box.x, f.box.y, f.box.width, f.box.height].map((v) => Number(v.toFixed(1))) as GalleryFace['box'], score: r4(f.score) });
      chips.push(f.chip);
      transforms.push(t);
      probeImages.push(makeProbe(photo, invertSimilarity(f.toChip), net.inputSize, t));
    }
    hooks.progress?.('faces', k + 1, s.photos.length);
  }
  if (faces.length < 2) throw new Error(`demo: found ${faces.length} face(s) in ${s.photos.join(', ')}; a gallery needs at least 2`);
  return { faces, chips, probeImages, transforms };
}

/**
 * Each pipeline on the clean and the (oblivious) adversarial probes; one that cannot be built is skipped
 * with its reason. Built pipelines are added to `pipelines` (the caller disposes them).
 */
async function defenceResults(
  s: Settings,
  hooks: DemoHooks,
  m: { model: Classifier; gallery: GalleryClassifier; probes: tf.Tensor4D; adv: tf.Tensor4D; truth: readonly number[] },
  pipelines: Pipeline[],
): Promise<{ defences: DefenceResult[]; skipped: DemoResults['skipped']; built: Map<string, Pipeline>; advThrough: Map<string, ProbeMatch[]> }> {
  const defences: DefenceResult[] = [];
  const skipped: DemoResults['skipped'] = [];
  const built = new Map<string, Pipeline>();
  const advThrough = new Map<string, ProbeMatch[]>();
  for (const [k, spec] of s.pipelines.entries()) {
    const stages = parsePipeline(spec);
    if (stages.some((st) => st.name === 'bmcnn') && !(await bmcnnAvailable())) {
      skipped.push({ pipeline: spec, reason: `no BMCNN weights in ${DEFAULT_WEIGHTS_DIR} (train them with \`robustify bmcnn\`)` });
      hooks.note?.(`defence ${spec}: skipped, no BMCNN weights`);
      continue;
    }
    let pipeline: Pipeline;
    try {
      pipeline = await buildPipeline(stages);
    } catch (err) {
      skipped.push({ pipeline: spec, reason: (err as Error).message });
      hooks.note?.(`defence ${spec}: skipped (${(err as Error).message})`);
      continue;
    }
    pipelines.push(pipeline);
    built.set(spec, pipeline);
    const c = await defendedMatches(m.model, m.gallery, pipeline, m.probes, m.truth, hashSeed(s.seed, 'clean', spec));
    const a = await defendedMatches(m.model, m.gallery, pipeline, m.adv, m.truth, hashSeed(s.seed, 'adversarial', spec));
    advThrough.set(spec, a);
    defences.push({ pipeline: spec, canonical: formatPipeline(stages), clean: summarise(c, m.truth), adversarial: summarise(a, m.truth) });
    hooks.progress?.('defences', k + 1, s.pipelines.length);
  }
  return { defences, skipped, built, advThrough };
}

/** Rank-1 matches of `x` after the pipeline (one seeded draw for stochastic stages), `model` the gallery's classifier. */
async function defendedMatches(model: Classifier, gallery: GalleryClassifier, pipeline: Pipeline, x: tf.Tensor4D, truth: readonly number[], seed: number): Promise<ProbeMatch[]> {
  const xd = await pipeline.apply(x, { seed });
  try {
    return await matchBatch(model, gallery, xd, truth);
  } finally {
    xd.dispose();
  }
}

/** The pipeline that recovers most adversarial probes; ties go to the higher clean rank-1, then list order. */
function bestDefence(defences: readonly DefenceResult[]): DefenceResult | undefined {
  let best: DefenceResult | undefined;
  for (const d of defences) {
    if (!best || d.adversarial.correct > best.adversarial.correct || (d.adversarial.correct === best.adversarial.correct && d.clean.correct > best.clean.correct)) best = d;
  }
  return best;
}

async function galleryClosePairs(gallery: GalleryClassifier, descriptors: tf.Tensor2D): Promise<DemoResults['gallery_close_pairs']> {
  const dist = tf.tidy(() => gallery.distancesFromLogits(gallery.logitsOfDescriptors(descriptors)));
  const d = await dist.data();
  dist.dispose();
  const n = descriptors.shape[0];
  const out: DemoResults['gallery_close_pairs'] = [];
  for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) if (d[a * n + b] < MATCH_THRESHOLD) out.push({ a, b, distance: r4(d[a * n + b]) });
  return out;
}

/** The table rows: the bare model, then each defence (the adaptive figures on the best one's row). */
export function tableRows(r: DemoResults): TableRow[] {
  return [
    { pipeline: 'none', clean: r.clean, adversarial: r.adversarial },
    ...r.defences.map((d) => ({
      pipeline: d.pipeline,
      clean: d.clean,
      adversarial: d.adversarial,
      adaptive: r.adaptive?.pipeline === d.pipeline ? r.adaptive.defended : undefined,
    })),
  ];
}

/** The adaptive attack in one line (empty without one). */
export function adaptiveLine(r: DemoResults): string {
  const a = r.adaptive;
  if (!a) return '';
  return `Adaptive PGD (BPDA) through ${a.pipeline}: ${a.defended.correct}/${a.defended.total} probes still matched through it, ${a.bare.correct}/${a.bare.total} on the bare model\n`;
}

/** The one-paragraph headline of a run. */
export function headline(r: DemoResults): string {
  const a = r.settings.attack;
  return (
    `${r.gallery.length} faces from ${r.settings.photos.length} photo(s) form the gallery; one transformed probe per face. ` +
    `PGD dodging attack: L∞ eps ${a.eps} (0–255), eps_step ${a.eps_step}, ${a.max_iter} iterations, untargeted on the true identity ` +
    `(logits −‖d(x) − g_k‖²/${r.settings.temperature}).`
  );
}

export function reportMarkdown(r: DemoResults, timings: Record<string, number>): string {
  const lines = [
    '# robustify demo: face re-identification under attack',
    '',
    headline(r),
    '',
    markdownTable(tableRows(r)),
    'Rank-1: the probe\'s nearest gallery descriptor is its own face. *Oblivious*: the adversarial probes were made ' +
      'against the bare model and then passed through the defence. *Adaptive*: PGD run through the defence itself ' +
      '(BPDA: non-differentiable stages pass the gradient unchanged); the attacker knows the pipeline. ' +
      `Distances are Euclidean between ${r.settings.backbone}'s descriptors (face-api treats < 0.6 as the same person for its built-in net's).`,
    '',
  ];
  if (r.adaptive) lines.push(`${adaptiveLine(r).trim()} (the oblivious attack left ${r.defences.find((d) => d.pipeline === r.adaptive!.pipeline)!.adversarial.correct}).`, '');
  if (r.skipped.length) lines.push('Skipped:', ...r.skipped.map((s) => `- \`${s.pipeline}\`: ${s.reason}`), '');
  if (r.gallery_close_pairs.length) {
    lines.push(`Gallery pairs closer than face-api's same-person threshold ${r.settings.match_threshold} (look-alikes to this network, or one person twice): ${r.gallery_close_pairs.map((p) => `${p.a}–${p.b} (${p.distance})`).join(', ')}.`, '');
  }
  lines.push(
    `![contact sheet](${SHEET_FILE})`,
    '',
    `Contact sheet, one row per face: gallery chip | probe | adversarial probe | |δ| (eps = white) | adversarial through \`${r.best_pipeline ?? '—'}\`` +
      (r.adaptive ? ' | adaptive adversarial through it' : '') +
      '. Frames: green = matched to its own face, red = matched to someone else, grey = not a match.',
    '',
    `Seed ${r.settings.seed}, backend ${r.settings.backend}${r.settings.quick ? ', quick mode' : ''}. ` +
      `Wall time per stage (s): ${Object.entries(timings).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
    '',
  );
  return lines.join('\n');
}

/**
 * Write results.json, report.md and the contact sheet into `out`, atomically (a temporary sibling renamed into
 * place). An existing `out` is replaced only when it is empty or holds a previous demo's results.
 */
export async function writeDemo(out: string, run: DemoRun): Promise<void> {
  await writeDirAtomic(
    out,
    async (tmp) => {
      await writeFileAtomic(path.join(tmp, RESULTS_FILE), JSON.stringify(run.results, null, 2) + '\n');
      await writeFileAtomic(path.join(tmp, REPORT_FILE), reportMarkdown(run.results, run.timings));
      await writeFileAtomic(path.join(tmp, SHEET_FILE), await encodePng(run.sheet));
    },
    { replaceIf: DEMO_OUTPUT.owns, what: 'demo' },
  );
}

/** A demo's output folder: its results.json says so (a later demo may replace it). */
export const DEMO_OUTPUT: OutputKind = { what: 'a robustify demo', owns: (dir) => hasFormat(path.join(dir, RESULTS_FILE), RESULTS_FORMAT) };
