/**
 * `robustify study`: the paper's protocol end to end — train the head, the clean report, drop misclassified
 * test images, PGD, every single defence and the paper's pipelines (Tables 2–10), robustness curves over eps
 * and iterations, the pipeline search with its Pareto front, adaptive (BPDA) attacks on chosen pipelines, and
 * the figures. The steps are declared in plan.ts and figures.ts and walked by graph.ts; every expensive one
 * is cached (cache.ts); `results.json` holds only what the seed and the data determine, so two runs give the
 * same bytes.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import type { PgdParams } from '../attacks/index.js';
import type { LoadOptions, Selection } from '../data/index.js';
import { engineInfo } from '../engine/backend.js';
import { releaseJsPool } from '../engine/pool/js-pool.js';
import type { RgbImage } from '../image/index.js';
import { backboneIdentity, loadFor, openBackbone, type BackboneSource } from '../models/backbones.js';
import type { ClassificationReport } from '../metrics/index.js';
import type { TrainProgress } from '../models/train.js';
import type { QueueStats } from '../queue/coordinator.js';
import { StepCache } from './cache.js';
import type { StudyConfig } from './config.js';
import { walk } from './graph.js';
import { studySteps, type RemoteRunner } from './plan.js';
import type { SearchRow } from './search.js';
import { linfDistances, type StepProgress } from './steps.js';
import type { TableSpec } from './tables.js';
import type { RobustSection } from './robust.js';
import { roundTo } from '../util/round.js';

/** What a study run tells as it goes. */
export interface StudyHooks {
  /** A step starts (name, what it does). */
  onStep?: (step: string, what: string) => void;
  onProgress?: StepProgress;
  /** Head training: features extracted, epochs. */
  onTrain?: (p: TrainProgress) => void;
}

/** One of the paper's tables (2–10): the set, its samples and the classification report. */
export interface TableResult extends TableSpec {
  samples: number;
  accuracy: number;
  report: ClassificationReport;
}

/** One row of the defence table: a pipeline's clean and adversarial accuracy. */
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

/** The figures of the report: images by attack strength, by defence, and per pipeline stage. */
export interface StudyFigures {
  attackStrengths: FigureCell[];
  defences: { id: string; title: string; cells: FigureCell[]; columns: number }[];
  pipelines: { id: string; title: string; pipeline: string; stages: FigureCell[] }[];
}

/** A finished run: the results, the figures, and what the run did (timings, cache use, queue). */
export interface StudyRun {
  results: StudyResults;
  figures: StudyFigures;
  /** Seconds per phase of this run (not part of results.json). */
  timings: Record<string, number>;
  cache: { reused: number; computed: number };
  /** What the queue did, when the attacks ran on one (timings.json `queue`). */
  queue?: QueueStats;
}

/** What {@link runStudy} needs: the data, the configuration, a cache folder, and optionally hooks, a backbone and a queue. */
export interface StudyInput {
  selection: Selection;
  load: LoadOptions;
  config: StudyConfig;
  cacheDir: string;
  hooks?: StudyHooks;
  /** The face network the head is trained on (default: the built-in one). */
  backbone?: BackboneSource;
  /** Attack batches on a queue's workers (src/queue); without it everything runs here. */
  remote?: RemoteRunner;
}

/**
 * Run the study (see the module comment): every step cached under `cacheDir`, so a rerun reuses what it can.
 * The result's `results` is what results.json holds; `writeStudy` writes the whole report.
 *
 * @example
 * ```ts no-run
 * import { initEngine, runStudy, writeStudy, listDataset, selectTopK, loadStudyConfig } from 'robustify';
 * await initEngine();
 * const config = await loadStudyConfig(undefined, true); // the quick preset over the paper's protocol
 * const selection = selectTopK(await listDataset('data/faces14'), config.identities);
 * const run = await runStudy({ selection, load: {}, config, cacheDir: 'out/cache', hooks: { onStep: (s, what) => console.log(s, what) } });
 * await writeStudy('out', run);
 * console.log(run.results.attack.accuracy, run.cache);
 * ```
 */
export async function runStudy({ selection, load: given, config, cacheDir, hooks = {}, backbone = { kind: 'builtin' }, remote }: StudyInput): Promise<StudyRun> {
  const cache = new StepCache(cacheDir);
  const timings: Record<string, number> = {};
  const t0 = performance.now();
  const net = await openBackbone(backbone);
  const network = { name: net.name, identity: backboneIdentity(net) };
  // A user backbone's input size and alignment (the built-in one's are the loaders' defaults).
  const load = backbone.kind === 'file' ? { ...given, ...loadFor(net) } : given;
  net.dispose();
  const release: (() => unknown)[] = [];
  // The JS pool's workers hold BMCNN's sessions (hundreds of MB for its VJP) and TVM's kernels.
  const between: (() => Promise<unknown>)[] = [releaseJsPool];
  try {
    const steps = studySteps({ selection, load, config, cache, hooks, backbone, network: network.identity, remote, release, between });
    const afterStep = async () => {
      for (const f of between) await f();
    };
    const { outputs: o } = await walk(steps, { config, cache, onStep: hooks.onStep, timings, afterStep });
    const { correct, predictions } = o.clean;
    const { pgd, params } = o.attack;
    const linf = linfDistances(correct, pgd);
    const results: StudyResults = {
      format: 'robustify-study',
      version: 1,
      config,
      software: { ...software(), engine: o.target.engine },
      backbone: network,
      data: {
        identities: o.target.identities,
        train_images: o.data.train.length,
        test_images: o.load.labels.length,
        attacked_images: correct.labels.length,
        dropped: o.load.sources.filter((_, i) => predictions[i] !== o.load.labels[i]).map(shortName),
      },
      attack: {
        params,
        accuracy: await o.target.evaluator.accuracy('none', pgd),
        max_linf: roundTo(Math.max(...linf), 6),
        mean_linf: roundTo(linf.reduce((s, v) => s + v, 0) / linf.length, 6),
      },
      tables: o.tables,
      defences: o.defences,
      curves: o.curves,
      search: o.search,
      adaptive: o.adaptive,
      robust: o.robust,
    };
    timings.total = roundTo((performance.now() - t0) / 1000, 1);
    return { results, figures: o.figures, timings, cache: { reused: cache.stats.reused.length, computed: cache.stats.computed.length } };
  } finally {
    for (const f of release.reverse()) await f();
  }
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

const shortName = (file: string): string => file.split(/[\\/]/).slice(-2).join('/');

