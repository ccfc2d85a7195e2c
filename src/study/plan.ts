/**
 * The study as a declared graph of steps (graph.ts): the data, the head, the engine, the test faces, the PGD
 * sets, then one step per section of results.json and one per figure (figures.ts). The walker runs them in
 * this order; a new table or figure is one more entry here.
 */
import { PGD_DEFAULTS, type PgdParams } from '../attacks/index.js';
import type { LoadOptions, Selection } from '../data/index.js';
import { buildPipeline, parsePipeline } from '../defences/index.js';
import type { Backbone, BackboneSource } from '../models/backbones.js';
import type { Classifier, FaceClassifier } from '../models/classifier.js';
import { reportFor } from '../models/evaluate.js';
import { accelerated } from '../models/native.js';
import type { StepCache } from './cache.js';
import type { StudyConfig } from './config.js';
import { PipelineEvaluator } from './evaluator.js';
import { figureSteps, type FigureOutputs } from './figures.js';
import { step, type Step } from './graph.js';
import { subset, type ImageSet } from './imageset.js';
import { robustSection, type RobustSection } from './robust.js';
import type { AdaptiveRow, CurveData, DefenceRow, StudyHooks, TableResult } from './run.js';
import { enumeratePipelines, paretoFront, rank, type SearchRow } from './search.js';
import { adversarialSets, LOCAL_RUNNER, storedSet, studyData, studyModel, testSet, type AttackTarget, type BatchRunner, type StudyData } from './steps.js';
import { paperTables } from './tables.js';

/** The model the attacks and evaluations run on (the fastest engine here; its key names that engine). */
export interface StudyTarget {
  model: Classifier;
  engine: string;
  key: string;
  seed: number;
  evaluator: PipelineEvaluator;
  identities: string[];
  /** Where attack batches run (here, or a queue's workers). */
  runner: BatchRunner;
}

/** The bare model as an attack target. */
export function bare(t: StudyTarget): AttackTarget {
  return { model: t.model, modelKey: t.key, seed: t.seed };
}

/**
 * PGD's sets: the paper's one, and one per eps of the curve (at max_iter) and per iteration (at eps), read
 * back from the cache when asked for (each a whole image set: kept resident, they would stay so to the end).
 */
export interface AttackSets {
  params: PgdParams;
  pgd: ImageSet;
  byEps: Map<number, () => Promise<ImageSet>>;
  byIteration: Map<number, () => Promise<ImageSet>>;
}

/** The adaptive and robust sections' faces (the first attacked ones) and their oblivious PGD versions. */
export interface FirstFaces {
  params: PgdParams;
  faces: ImageSet;
  oblivious: ImageSet;
}

export interface StudyOutputs extends FigureOutputs {
  data: StudyData;
  train: { model: FaceClassifier; key: string; dir: string };
  target: StudyTarget;
  load: ImageSet;
  clean: { predictions: number[]; correct: ImageSet };
  attack: AttackSets;
  tables: TableResult[];
  defences: DefenceRow[];
  search: { evaluated: number; best: string; ranking: SearchRow[]; pareto: SearchRow[]; all: SearchRow[] };
  curves: { eps: CurveData; iterations: CurveData };
  first: FirstFaces;
  adaptive: { params: Omit<PgdParams, 'batch_size'>; rows: AdaptiveRow[] };
  robust: RobustSection;
}

/** The trained head (its cache folder and key) and the engine the study's model runs on, for a remote runner. */
export interface TrainedModel {
  dir: string;
  key: string;
  engine: string;
  identities: string[];
  /** The network under the head (a user's file travels to the workers). */
  backbone?: Backbone;
}

export type RemoteRunner = (model: TrainedModel) => Promise<BatchRunner>;

export interface StudyContext {
  selection: Selection;
  load: LoadOptions;
  config: StudyConfig;
  cache: StepCache;
  hooks: StudyHooks;
  backbone: BackboneSource;
  /** The backbone's identity (backboneIdentity), which the data key covers. */
  network: string;
  /** Attack batches on a queue's workers (src/queue): the runner for the trained model in `dir`. */
  remote?: RemoteRunner;
  /** Run at the end of the study, last first (models and engines to release). */
  release: (() => unknown)[];
  /**
   * Run between steps: free what engines hold between uses (worker threads and their sessions, rebuilt when
   * next used), so one step's sessions are not resident beside the next one's.
   */
  between: (() => Promise<unknown>)[];
}

export type StudyStep = Step<StudyOutputs, StudyConfig>;
const define = step<StudyOutputs, StudyConfig>();

/** A configured pipeline list with the search's best put in for `'@best'`, without repeats. */
export function withBest(pipelines: readonly string[], best: string): string[] {
  return [...new Set(pipelines.map((p) => (p === '@best' ? best : p)))];
}

async function seq<T, R>(items: readonly T[], f: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (const x of items) out.push(await f(x));
  return out;
}

export function studySteps(ctx: StudyContext): StudyStep[] {
  const { config, cache, hooks } = ctx;
  return [
    define({
      id: 'data',
      what: 'hashing the data',
      inputs: [],
      keyOf: (d) => d.key,
      run: () => studyData(ctx.selection, config, ctx.load, ctx.network),
    }),
    define({
      id: 'train',
      what: 'training the head on the frozen backbone',
      inputs: ['data'],
      keyOf: (t) => t.key,
      run: async ({ data }) => {
        const trained = await studyModel(cache, data, config, ctx.load, hooks.onTrain, ctx.backbone);
        ctx.release.push(() => trained.model.dispose());
        const backbone = trained.model.backbone;
        if (backbone.release) ctx.between.push(() => backbone.release!());
        return trained;
      },
    }),
    define({
      id: 'target',
      inputs: ['train'],
      // Engines differ in the last bits, so results are keyed by the one used.
      keyOf: (t) => t.key,
      run: async ({ train }) => {
        const { classifier, engine, release, idle } = await accelerated(train.model);
        const key = `${train.key}@${engine}`;
        const runner = ctx.remote ? await ctx.remote({ dir: train.dir, key, engine, identities: train.model.identities, backbone: train.model.backbone }) : LOCAL_RUNNER;
        const evaluator = new PipelineEvaluator(classifier, key, cache, config.seed, runner.evaluations?.bind(runner));
        ctx.release.push(release, () => evaluator.clear());
        ctx.between.push(idle);
        return { model: classifier, engine, key, seed: config.seed, evaluator, identities: train.model.identities, runner };
      },
    }),
    define({ id: 'load', what: 'loading the test faces', inputs: ['data'], run: ({ data }) => testSet(data, ctx.load) }),
    define({
      id: 'clean',
      inputs: ['load', 'target'],
      run: async ({ load: test, target }) => {
        // The paper's protocol: only the test faces the bare model classifies correctly are attacked.
        const predictions = await target.evaluator.predictions('none', test);
        const correct = subset(test, predictions.flatMap((p, i) => (p === test.labels[i] ? [i] : [])), `${test.key}-correct`);
        if (correct.labels.length === 0) throw new Error('study: the model classifies no test image correctly; nothing to attack');
        return { predictions, correct };
      },
    }),
    define({
      id: 'attack',
      what: 'PGD on the correctly classified test faces',
      inputs: ['clean', 'target'],
      config: (c) => ({ attack: c.attack, seed: c.seed, eps: c.curves.eps, iterations: c.curves.iterations }),
      run: async ({ clean: { correct }, target }) => {
        // Oblivious PGD sets: every eps of the curve; at the paper's eps the intermediate iterates too.
        const params: PgdParams = { ...PGD_DEFAULTS, ...config.attack, seed: config.seed, num_random_init: 0, targeted: false };
        const byEps = new Map<number, () => Promise<ImageSet>>([[0, async () => correct]]);
        const byIteration = new Map<number, () => Promise<ImageSet>>();
        let pgd: ImageSet | undefined;
        const one = async (eps: number) => {
          const atEps = eps === params.eps;
          const req = { target: bare(target), params: { ...params, eps } };
          const made = await adversarialSets(cache, correct, { ...req, snapshots: atEps ? config.curves.iterations : [], step: `pgd eps ${eps}`, runner: target.runner }, hooks.onProgress);
          if (atEps) pgd = made.get(params.max_iter);
          for (const it of made.keys()) {
            const load = () => storedSet(cache, correct, req, it);
            if (it === params.max_iter) byEps.set(eps, load);
            if (atEps) byIteration.set(it, load);
          }
        };
        const epsilons = config.curves.eps.filter((e) => e !== 0);
        // On a queue every set's batches are out at once; here one set after the other.
        if (target.runner.parallel) await Promise.all(epsilons.map(one));
        else await seq(epsilons, one);
        return { params, pgd: pgd!, byEps, byIteration };
      },
    }),
    define({
      id: 'tables',
      what: "the paper's tables",
      inputs: ['load', 'clean', 'attack', 'target'],
      config: (c) => paperTables(c),
      stored: true,
      run: async ({ load: test, clean, attack, target }) => {
        const out: TableResult[] = [];
        const setOf = (s: string) => (s === 'test' ? test : s === 'correct' ? clean.correct : attack.pgd);
        await target.evaluator.prefetch(paperTables(config).filter((s) => s.set !== 'test').map((s) => [s.pipeline, setOf(s.set)] as const));
        for (const spec of paperTables(config)) {
          const set = setOf(spec.set);
          const pred = spec.set === 'test' ? clean.predictions : await target.evaluator.predictions(spec.pipeline, set);
          const report = reportFor({ yTrue: set.labels, yPred: pred }, target.identities);
          out.push({ ...spec, samples: set.labels.length, accuracy: report.accuracy, report });
        }
        return out;
      },
    }),
    define({
      id: 'defences',
      what: "single defences and the paper's pipelines",
      inputs: ['clean', 'attack', 'target'],
      config: (c) => ({ defences: c.defences, pipelines: c.pipelines, more: c.more_pipelines }),
      stored: true,
      run: async ({ clean: { correct }, attack: { pgd }, target: { evaluator } }) => {
        const { table6, table7, table8, table9, best } = config.pipelines;
        const entries: [string, DefenceRow['kind']][] = [
          ['none', 'none'],
          ...config.defences.map((p): [string, DefenceRow['kind']] => [p, 'single']),
          ...[table8, ...config.more_pipelines, table6, table7, table9, best].map((p): [string, DefenceRow['kind']] => [p, 'paper']),
        ];
        const rows: DefenceRow[] = [];
        await evaluator.prefetch(entries.flatMap(([p]) => [[p, correct], [p, pgd]] as const));
        const seen = new Set<string>();
        for (const [p, kind] of entries) {
          if (seen.has(p)) continue;
          seen.add(p);
          rows.push({ pipeline: p, kind, clean_accuracy: await evaluator.accuracy(p, correct), adversarial_accuracy: await evaluator.accuracy(p, pgd) });
        }
        return rows;
      },
    }),
    define({
      id: 'search',
      what: 'pipeline search',
      inputs: ['clean', 'attack', 'target'],
      config: (c) => c.search,
      stored: true,
      run: async ({ clean: { correct }, attack: { pgd }, target: { evaluator } }) => {
        // The bare model takes part as the baseline (length 0): the front then starts at it.
        const all = ['none', ...enumeratePipelines(config.search.candidates, config.search.max_length)];
        const rows: SearchRow[] = [];
        await evaluator.prefetch(all.flatMap((p) => [[p, correct], [p, pgd]] as const));
        for (const [i, p] of all.entries()) {
          rows.push({ pipeline: p, length: parsePipeline(p).length, clean_accuracy: await evaluator.accuracy(p, correct), adversarial_accuracy: await evaluator.accuracy(p, pgd) });
          hooks.onProgress?.('search', i + 1, all.length);
        }
        evaluator.clear();
        const ranking = rank(rows, config.search.min_clean_accuracy);
        return { evaluated: rows.length, best: ranking[0]?.pipeline ?? 'none', ranking: ranking.slice(0, config.search.top), pareto: paretoFront(rows), all: rows };
      },
    }),
    define({
      id: 'curves',
      what: 'robustness curves',
      inputs: ['attack', 'search', 'target'],
      config: (c) => c.curves,
      stored: true,
      run: async ({ attack, search, target: { evaluator } }) => {
        const pipelines = withBest(config.curves.pipelines, search.best);
        // One set resident at a time, every pipeline on it (which also shares their prefixes).
        const curve = async (xs: number[], sets: Map<number, () => Promise<ImageSet>>): Promise<CurveData> => {
          const accuracy = pipelines.map((): number[] => []);
          for (const x of xs) {
            const set = await sets.get(x)!();
            await evaluator.prefetch(pipelines.map((p) => [p, set] as const));
            for (const [i, p] of pipelines.entries()) accuracy[i].push(await evaluator.accuracy(p, set));
          }
          return { x: xs, series: pipelines.map((pipeline, i) => ({ pipeline, accuracy: accuracy[i] })) };
        };
        const eps = await curve(config.curves.eps, attack.byEps);
        const iterations = await curve(config.curves.iterations, attack.byIteration);
        evaluator.clear();
        return { eps, iterations };
      },
    }),
    define({
      id: 'first',
      inputs: ['clean', 'attack'],
      config: (c) => c.adaptive,
      run: async ({ clean: { correct }, attack }) => {
        // The adaptive and robust sections attack the first faces, with BPDA PGD's own parameters.
        const a = config.adaptive;
        const n = Math.min(a.samples, correct.labels.length);
        return {
          params: { ...attack.params, eps: a.eps, eps_step: a.eps_step, max_iter: a.max_iter },
          faces: subset(correct, [...Array(n).keys()], `${correct.key}-first${a.samples}`),
          oblivious: subset(attack.pgd, [...Array(n).keys()], `${attack.pgd.key}-first${a.samples}`),
        };
      },
    }),
    define({
      id: 'adaptive',
      what: 'adaptive (BPDA) attacks on defended models',
      inputs: ['first', 'search', 'target'],
      config: (c) => ({ adaptive: c.adaptive, seed: c.seed }),
      stored: true,
      run: async ({ first, search, target }) => {
        const out: AdaptiveRow[] = [];
        for (const p of withBest(config.adaptive.pipelines, search.best).filter((q) => q !== 'none')) {
          const pipeline = await buildPipeline(p);
          try {
            const defended = { ...bare(target), defence: { text: p, pipeline } };
            const made = await adversarialSets(cache, first.faces, { target: defended, params: first.params, step: `adaptive ${p}`, runner: target.runner }, hooks.onProgress);
            out.push({
              pipeline: p,
              samples: first.faces.labels.length,
              oblivious_accuracy: await target.evaluator.accuracy(p, first.oblivious),
              adaptive_accuracy: await target.evaluator.accuracy(p, made.get(first.params.max_iter)!),
            });
          } finally {
            pipeline.dispose();
          }
        }
        const { batch_size: _omit, ...shown } = first.params;
        return { params: shown, rows: out };
      },
    }),
    define({
      id: 'robust',
      what: "robust accuracy: oblivious, BPDA, EOT, Square, the suite's worst case, minimum perturbation",
      inputs: ['first', 'search', 'target'],
      config: (c) => ({ robust: c.robust, best: c.pipelines.best, seed: c.seed }),
      stored: true,
      run: ({ first, search, target }) =>
        robustSection({
          cache,
          config,
          target: bare(target),
          runner: target.runner,
          faces: first.faces,
          oblivious: first.oblivious,
          params: first.params,
          pipelines: withBest(config.robust.pipelines, search.best),
          onProgress: hooks.onProgress,
        }),
    }),
    ...figureSteps(ctx),
  ];
}
