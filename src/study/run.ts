/**
 * `robustify study`: the paper's protocol end to end — train the head, the clean report, drop misclassified
 * test images, PGD, every single defence and the paper's pipelines (Tables 2–10), robustness curves over eps
 * and iterations, the pipeline search with its Pareto front, adaptive (BPDA) attacks on chosen pipelines, and
 * the figures. Every expensive step is cached (cache.ts); `results.json` holds only what the seed and the
 * data determine, so two runs give the same bytes.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { PGD_DEFAULTS, type PgdParams } from '../attacks/index.js';
import type { LoadOptions, Selection } from '../data/index.js';
import { formatPipeline, parsePipeline } from '../defences/index.js';
import { engineInfo } from '../engine/backend.js';
import type { RgbImage } from '../image/index.js';
import { reportFor } from '../models/evaluate.js';
import { DefendedClassifier } from '../models/defended.js';
import { backboneIdentity, loadFor, openBackbone, type BackboneSource } from '../models/backbones.js';
import { accelerated } from '../models/native.js';
import { buildPipeline } from '../defences/index.js';
import type { ClassificationReport } from '../metrics/index.js';
import type { TrainProgress } from '../models/train.js';
import type { Classifier } from '../models/classifier.js';
import { StepCache } from './cache.js';
import type { StudyConfig } from './config.js';
import { accuracyOf, PipelineEvaluator } from './evaluator.js';
import { imageAt, subset, type ImageSet } from './imageset.js';
import { enumeratePipelines, paretoFront, rank, type SearchRow } from './search.js';
import { adversarialSets, linfDistances, studyData, studyModel, testSet, type StepProgress } from './steps.js';
import { paperTables, type TableSpec } from './tables.js';
import { robustSection, type RobustSection } from './robust.js';
import { roundTo } from '../util/round.js';

export interface StudyHooks {
  /** A step starts (name, what it does). */
  onStep?: (step: string, what: string) => void;
  onProgress?: StepProgress;
  onTrain?: (p: TrainProgress) => void;
}

export interface TableResult extends TableSpec {
  samples: number;
  accuracy: number;
  report: ClassificationReport;
}

export interface DefenceRow {
  pipeline: string;
  kind: 'none' | 'single' | 'paper';
  clean_accuracy: number;
  adversarial_accuracy: number;
}

export interface CurveData {
  x: number[];
  series: { pipeline: string; accuracy: number[] }[];
}

export interface AdaptiveRow {
  pipeline: string;
  samples: number;
  oblivious_accuracy: number;
  adaptive_accuracy: number;
}

/** Everything a run determines (no timings, no paths): the content of results.json. */
export interface StudyResults {
  format: 'robustify-study';
  version: 1;
  config: StudyConfig;
  software: Record<string, string>;
  /** The face network: its name and identity (backboneIdentity: what the cache keys hold). */
  backbone: { name: string; identity: string };
  data: { identities: string[]; train_images: number; test_images: number; attacked_images: number; dropped: string[] };
  attack: { params: PgdParams; accuracy: number; max_linf: number; mean_linf: number };
  tables: TableResult[];
  defences: DefenceRow[];
  curves: { eps: CurveData; iterations: CurveData };
  search: { evaluated: number; best: string; ranking: SearchRow[]; pareto: SearchRow[]; all: SearchRow[] };
  adaptive: { params: Omit<PgdParams, 'batch_size'>; rows: AdaptiveRow[] };
  robust: RobustSection;
}

/** One labelled image of a figure. */
export interface FigureCell {
  image: RgbImage;
  caption: string[];
  correct?: boolean;
}

export interface StudyFigures {
  attackStrengths: FigureCell[];
  defences: { id: string; title: string; cells: FigureCell[]; columns: number }[];
  pipelines: { id: string; title: string; pipeline: string; stages: FigureCell[] }[];
}

export interface StudyRun {
  results: StudyResults;
  figures: StudyFigures;
  /** Seconds per phase of this run (not part of results.json). */
  timings: Record<string, number>;
  cache: { reused: number; computed: number };
}

export interface StudyInput {
  selection: Selection;
  load: LoadOptions;
  config: StudyConfig;
  cacheDir: string;
  hooks?: StudyHooks;
  /** The face network the head is trained on (default: the built-in one). */
  backbone?: BackboneSource;
}

export async function runStudy({ selection, load: given, config, cacheDir, hooks = {}, backbone = { kind: 'builtin' } }: StudyInput): Promise<StudyRun> {
  const cache = new StepCache(cacheDir);
  const timings: Record<string, number> = {};
  const t0 = performance.now();
  const phase = async <T>(name: string, what: string, f: () => Promise<T>): Promise<T> => {
    hooks.onStep?.(name, what);
    const t = performance.now();
    try {
      return await f();
    } finally {
      timings[name] = round((performance.now() - t) / 1000, 1);
    }
  };

  const net = await openBackbone(backbone);
  const network = { name: net.name, identity: backboneIdentity(net) };
  // A user backbone's input size and alignment (the built-in one's are the loaders' defaults).
  const load = backbone.kind === 'file' ? { ...given, ...loadFor(net) } : given;
  net.dispose();
  const data = await phase('data', 'hashing the data', () => studyData(selection, config, load, network.identity));
  const trained = await phase('train', 'training the head on the frozen backbone', () => studyModel(cache, data, config, load, hooks.onTrain, backbone));
  const identities = trained.model.identities;
  // Attacks and evaluations run on the fastest engine here; results are keyed by it (engines differ in the last bits).
  const { classifier: model, engine, release } = await accelerated(trained.model);
  const modelKey = `${trained.key}@${engine}`;
  const evaluator = new PipelineEvaluator(model, modelKey, cache, config.seed);
  try {
    const test = await phase('load', 'loading the test faces', () => testSet(data, load));
    // The paper's protocol: only the test faces the bare model classifies correctly are attacked.
    const cleanPred = await evaluator.predictions('none', test);
    const correct = subset(test, cleanPred.flatMap((p, i) => (p === test.labels[i] ? [i] : [])), `${test.key}-correct`);
    if (correct.labels.length === 0) throw new Error('study: the model classifies no test image correctly; nothing to attack');

    // Oblivious PGD sets: every eps of the curve; at the paper's eps the intermediate iterates too.
    const params: PgdParams = { ...PGD_DEFAULTS, ...config.attack, seed: config.seed, num_random_init: 0, targeted: false };
    const sets = new Map<string, ImageSet>();
    await phase('attack', 'PGD on the correctly classified test faces', async () => {
      for (const eps of config.curves.eps) {
        if (eps === 0) continue;
        const atEps = eps === params.eps;
        const made = await adversarialSets(
          cache,
          correct,
          { targetKey: modelKey, target: model, params: { ...params, eps }, snapshots: atEps ? config.curves.iterations : [], step: `pgd eps ${eps}` },
          hooks.onProgress,
        );
        for (const [it, s] of made) if (atEps || it === params.max_iter) sets.set(`eps${eps}-it${it}`, s);
      }
    });
    const pgd = sets.get(`eps${params.eps}-it${params.max_iter}`)!;
    const setFor = (eps: number, it: number): ImageSet => (eps === 0 ? correct : sets.get(`eps${eps}-it${it}`)!);
    const linf = linfDistances(correct, pgd);
    const pgdPred = await evaluator.predictions('none', pgd);

    const tables = await phase('tables', 'the paper\'s tables', async () => {
      const out: TableResult[] = [];
      for (const spec of paperTables(config)) {
        const set = spec.set === 'test' ? test : spec.set === 'correct' ? correct : pgd;
        const pred = spec.set === 'test' ? cleanPred : await evaluator.predictions(spec.pipeline, set);
        const report = reportFor({ yTrue: set.labels, yPred: pred }, identities);
        out.push({ ...spec, samples: set.labels.length, accuracy: report.accuracy, report });
      }
      return out;
    });

    const defences = await phase('defences', 'single defences and the paper\'s pipelines', async () => {
      const rows: DefenceRow[] = [];
      const { table6, table7, table8, table9, best } = config.pipelines;
      const paper = [table8, ...config.more_pipelines, table6, table7, table9, best];
      const entries: [string, DefenceRow['kind']][] = [['none', 'none'], ...config.defences.map((p): [string, DefenceRow['kind']] => [p, 'single']), ...paper.map((p): [string, DefenceRow['kind']] => [p, 'paper'])];
      const seen = new Set<string>();
      for (const [p, kind] of entries) {
        if (seen.has(p)) continue;
        seen.add(p);
        rows.push({ pipeline: p, kind, clean_accuracy: await evaluator.accuracy(p, correct), adversarial_accuracy: await evaluator.accuracy(p, pgd) });
      }
      return rows;
    });

    const search = await phase('search', 'pipeline search', async () => {
      // The bare model takes part as the baseline (length 0): the front then starts at it.
      const all = ['none', ...enumeratePipelines(config.search.candidates, config.search.max_length)];
      const rows: SearchRow[] = [];
      for (const [i, p] of all.entries()) {
        rows.push({ pipeline: p, length: parsePipeline(p).length, clean_accuracy: await evaluator.accuracy(p, correct), adversarial_accuracy: await evaluator.accuracy(p, pgd) });
        hooks.onProgress?.('search', i + 1, all.length);
      }
      evaluator.clear();
      const ranking = rank(rows, config.search.min_clean_accuracy);
      return { evaluated: rows.length, best: ranking[0]?.pipeline ?? 'none', ranking: ranking.slice(0, config.search.top), pareto: paretoFront(rows), all: rows };
    });
    const resolve = (p: string): string => (p === '@best' ? search.best : p);

    const curves = await phase('curves', 'robustness curves', async () => {
      const pipelines = [...new Set(config.curves.pipelines.map(resolve))];
      const curve = async (xs: number[], set: (x: number) => ImageSet): Promise<CurveData> => ({
        x: xs,
        series: await seq(pipelines, async (p) => ({ pipeline: p, accuracy: await seq(xs, async (x) => evaluator.accuracy(p, set(x))) })),
      });
      const eps = await curve(config.curves.eps, (e) => setFor(e, params.max_iter));
      const iterations = await curve(config.curves.iterations, (it) => setFor(params.eps, it));
      evaluator.clear();
      return { eps, iterations };
    });

    // The adaptive and robust sections attack the first faces, with BPDA PGD's own parameters.
    const a = config.adaptive;
    const aParams: PgdParams = { ...params, eps: a.eps, eps_step: a.eps_step, max_iter: a.max_iter };
    const first = subset(correct, [...Array(Math.min(a.samples, correct.labels.length)).keys()], `${correct.key}-first${a.samples}`);
    const obliviousSet = subset(pgd, [...Array(first.labels.length).keys()], `${pgd.key}-first${a.samples}`);
    const adaptive = await phase('adaptive', 'adaptive (BPDA) attacks on defended models', async () => {
      const rows = [...new Set(a.pipelines.map(resolve))].filter((p) => p !== 'none');
      const out: AdaptiveRow[] = [];
      for (const p of rows) {
        const pipeline = await buildPipeline(p);
        try {
          const target = new DefendedClassifier(model, pipeline, config.seed);
          const made = await adversarialSets(cache, first, { targetKey: `${modelKey}+${p}`, target, params: aParams, step: `adaptive ${p}` }, hooks.onProgress);
          out.push({
            pipeline: p,
            samples: first.labels.length,
            oblivious_accuracy: await evaluator.accuracy(p, obliviousSet),
            adaptive_accuracy: await evaluator.accuracy(p, made.get(aParams.max_iter)!),
          });
        } finally {
          pipeline.dispose();
        }
      }
      const { batch_size: _omit, ...shown } = aParams;
      return { params: shown, rows: out };
    });

    const robust = await phase('robust', "robust accuracy: oblivious, BPDA, EOT, Square, the suite's worst case, minimum perturbation", () =>
      robustSection({ cache, config, model, modelKey, faces: first, oblivious: obliviousSet, params: aParams, pipelines: [...new Set(['none', config.pipelines.best, search.best])], onProgress: hooks.onProgress }),
    );

    const figures = await phase('figures', 'figures', () => studyFigures(config, cache, modelKey, model, evaluator, correct, pgd, params, identities));
    const results: StudyResults = {
      format: 'robustify-study',
      version: 1,
      config,
      software: { ...software(), engine },
      backbone: network,
      data: {
        identities,
        train_images: data.train.length,
        test_images: test.labels.length,
        attacked_images: correct.labels.length,
        dropped: test.sources.filter((_, i) => cleanPred[i] !== test.labels[i]).map(shortName),
      },
      attack: {
        params,
        accuracy: accuracyOf(pgdPred, pgd.labels),
        max_linf: round(Math.max(...linf), 6),
        mean_linf: round(linf.reduce((s, v) => s + v, 0) / linf.length, 6),
      },
      tables,
      defences,
      curves,
      search,
      adaptive,
      robust,
    };
    timings.total = round((performance.now() - t0) / 1000, 1);
    return { results, figures, timings, cache: { reused: cache.stats.reused.length, computed: cache.stats.computed.length } };
  } finally {
    evaluator.clear();
    await release();
    trained.model.dispose();
  }
}

/** The figures: attack strengths (Fig. 1), each defence's effect (Figs 2–5), pipelines stage by stage (6–8). */
async function studyFigures(
  config: StudyConfig,
  cache: StepCache,
  modelKey: string,
  model: Classifier,
  evaluator: PipelineEvaluator,
  correct: ImageSet,
  pgd: ImageSet,
  params: PgdParams,
  identities: string[],
): Promise<StudyFigures> {
  const f = Math.min(config.figures.face, correct.labels.length - 1);
  const face = subset(correct, [f], `${correct.key}-face${f}`);
  const advFace = subset(pgd, [f], `${pgd.key}-face${f}`);
  const truth = face.labels[0];
  const cell = async (set: ImageSet, pipeline: string, caption: string): Promise<FigureCell> => {
    const [pred] = await evaluator.predictions(pipeline, set);
    const shown = pipeline === 'none' ? set : await evaluator.defended(parsePipeline(pipeline), set);
    return { image: imageAt(shown, 0), caption: [caption, `→ ${identities[pred]}`], correct: pred === truth };
  };

  const attackStrengths: FigureCell[] = [];
  for (const eps of config.figures.attack_eps) {
    const set = eps === 0 ? face : (await adversarialSets(cache, face, { targetKey: modelKey, target: model, params: { ...params, eps }, step: `figure 1, eps ${eps}` })).get(params.max_iter)!;
    const reached = Math.max(...linfDistances(face, set));
    const c = await cell(set, 'none', eps === 0 ? 'clean' : `eps ${eps} (|δ|∞ ${reached.toFixed(1)})`);
    attackStrengths.push(c);
  }

  const row = async (title: string, id: string, pipelines: [string, string][]) => {
    const cells: FigureCell[] = [];
    for (const [set, label] of [[face, 'clean'], [advFace, `PGD eps ${params.eps}`]] as const) {
      cells.push(await cell(set, 'none', `${label}, no defence`));
      for (const [p, name] of pipelines) cells.push(await cell(set, p, `${label}, ${name}`));
    }
    return { id, title, cells, columns: pipelines.length + 1 };
  };
  const defences = [
    await row('JPEG compression', 'fig2', config.figures.jpeg_qualities.map((q): [string, string] => [`jpeg:${q}`, `JPEG ${q}`])),
    await row('Gaussian augmentation', 'fig3', config.figures.gauss_sigmas.map((s): [string, string] => [`gauss:${s}`, `σ ${round(s, 2)} (255/${round(255 / s, 1)})`])),
    await row('Spatial smoothing (median)', 'fig4', [['median:3', 'median 3×3']]),
    await row('Total variation minimisation', 'fig5', [['tvm', 'TVM (ART\'s L-BFGS-B)'], ['tvm:solver=pdhg', 'TVM (pdhg)']]),
  ];

  const stagesOf = async (p: string): Promise<FigureCell[]> => {
    const stages = parsePipeline(p);
    const out = [await cell(advFace, 'none', 'PGD input')];
    for (let i = 1; i <= stages.length; i++) {
      const prefix = formatPipeline(stages.slice(0, i));
      out.push(await cell(advFace, prefix, `+ ${stages[i - 1].name}`));
    }
    return out;
  };
  const pipelines = [
    { id: 'fig6', title: 'All the defences', pipeline: config.pipelines.table6, stages: await stagesOf(config.pipelines.table6) },
    { id: 'fig7', title: 'All but TVM', pipeline: config.pipelines.table7, stages: await stagesOf(config.pipelines.table7) },
    { id: 'fig8', title: "The paper's best pipeline", pipeline: config.pipelines.best, stages: await stagesOf(config.pipelines.best) },
  ];
  return { attackStrengths, defences, pipelines };
}

function software(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const version = (pkg: string): string => (require(`${pkg}/package.json`) as { version: string }).version;
  const engine = engineInfo();
  return {
    robustify: (require('../../../package.json') as { version: string }).version,
    node: process.version,
    'tfjs-core': tf.version_core,
    backend: engine ? `${engine.backend}${engine.threads ? ` (${engine.threads} threads)` : ''}` : tf.getBackend(),
    sharp: `${sharp.versions.sharp} (libvips ${sharp.versions.vips}, mozjpeg ${sharp.versions.mozjpeg})`,
    'face-api weights': version('@vladmandic/face-api'),
  };
}

async function seq<T, R>(items: readonly T[], f: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (const x of items) out.push(await f(x));
  return out;
}

const shortName = (file: string): string => file.split(/[\\/]/).slice(-2).join('/');

const round = roundTo;
