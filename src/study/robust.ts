/**
 * The study's "robust accuracy, worst case over the suite" section: for the bare model, the paper's best
 * pipeline and the searched best, on the adaptive section's faces and eps — the oblivious PGD number, BPDA
 * PGD (the adaptive section's sets, shared through the cache), EOT PGD (only for pipelines whose forward pass
 * is random), Square alone, the attack suite's per-sample worst case (AutoAttack's scheme) and RobFR's median
 * minimum perturbation. One cached JSON row per pipeline; every number is seeded, so a resumed run reads the
 * same bytes a fresh one computes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createAttack, minimumPerturbation, parseAttackToken, parseSuite, runSuite, type PgdParams } from '../attacks/index.js';
import { localChunks } from '../attacks/chunk.js';
import { attackInChunks } from '../attacks/suite.js';
import { buildPipeline, type Pipeline } from '../defences/index.js';
import { predictLabels, type Classifier } from '../models/classifier.js';
import { DefendedClassifier } from '../models/defended.js';
import { hashSeed } from '../util/random.js';
import type { StepCache } from './cache.js';
import type { StudyConfig } from './config.js';
import { accuracyOf } from './evaluator.js';
import { batchOf, setLength, type ImageSet } from './imageset.js';
import { adversarialSets, type AttackTarget, type BatchRunner, type StepProgress } from './steps.js';

export interface RobustRow {
  pipeline: string;
  samples: number;
  clean_accuracy: number;
  oblivious_accuracy: number | null;
  bpda_accuracy: number;
  /** Null for a pipeline whose forward pass is not random (EOT would equal BPDA). */
  eot_accuracy: number | null;
  square_accuracy: number;
  /** Robust accuracy after each attack of the suite, each on the faces still robust. */
  suite: { attack: string; robust_accuracy: number }[];
  worst_case_accuracy: number;
  /** Masking checks of the suite that fired (when the section runs them). */
  flags: string[];
  /** Median minimum L∞ eps (0–255) at which min_attack fools; null when most faces hold at eps_max. */
  min_perturbation_median: number | null;
}

/** The study's robust-accuracy section: one row per pipeline (bare, paper's best, searched best). */
export interface RobustSection {
  eps: number;
  params: Omit<StudyConfig['robust'], 'pipelines'>;
  rows: RobustRow[];
}

export interface RobustInput {
  cache: StepCache;
  config: StudyConfig;
  /** The bare model. */
  target: AttackTarget;
  runner: BatchRunner;
  /** The faces attacked (the adaptive section's first ones) and their oblivious PGD versions. */
  faces: ImageSet;
  oblivious: ImageSet;
  /** BPDA PGD's parameters (the adaptive section's). */
  params: PgdParams;
  pipelines: readonly string[];
  onProgress?: StepProgress;
}

export async function robustSection(inp: RobustInput): Promise<RobustSection> {
  // Rows are keyed without the list, so adding a pipeline to it computes only that pipeline's row.
  const { pipelines: _list, ...r } = inp.config.robust;
  const rows: RobustRow[] = [];
  for (const p of inp.pipelines) {
    // chunks: Square and the suite attack batch_size faces at a time (attacks/chunk.ts); rows made before are not reused.
    const key = inp.cache.key('robust', { model: inp.target.modelKey, pipeline: p, faces: inp.faces.key, oblivious: inp.oblivious.key, params: inp.params, robust: r, seed: inp.config.seed, chunks: 1 });
    rows.push(await inp.cache.json(key, () => robustRow(inp, p)));
  }
  return { eps: inp.params.eps, params: { ...r }, rows };
}

async function robustRow(inp: RobustInput, p: string): Promise<RobustRow> {
  const { config, faces, params } = inp;
  const { model } = inp.target;
  const r = config.robust;
  const seed = config.seed;
  const pipeline: Pipeline | undefined = p === 'none' ? undefined : await buildPipeline(p);
  // A fresh defended classifier per measure: its draws follow its own call count, so each is reproducible alone.
  const target = (): Classifier => (pipeline ? new DefendedClassifier(model, pipeline, seed) : model);
  const x = batchOf(faces, 0, setLength(faces));
  const labels = faces.labels;
  const accuracy = async (adv: tf.Tensor4D | ImageSet): Promise<number> => {
    const t = adv instanceof tf.Tensor ? adv : batchOf(adv, 0, setLength(adv));
    try {
      return accuracyOf(await predictLabels(target(), t), labels);
    } finally {
      if (t !== adv) t.dispose();
    }
  };
  const step = (what: string) => `robust ${p}: ${what}`;
  try {
    const stochastic = pipeline ? await randomForward(pipeline, x, seed) : false;
    const defended: AttackTarget = pipeline ? { ...inp.target, defence: { text: p, pipeline } } : inp.target;
    const attacked = async (t: AttackTarget, what: string) => (await adversarialSets(inp.cache, faces, { target: t, params, step: step(what), runner: inp.runner }, inp.onProgress)).get(params.max_iter)!;
    const bpda = await attacked(defended, pipeline ? 'BPDA PGD' : 'PGD');
    const eot = stochastic && pipeline ? await accuracy(await attacked({ ...defended, eot: r.eot_samples }, `EOT PGD (${r.eot_samples} draws)`)) : null;
    // Square and the suite chunk by chunk: on a queue's workers when the runner has them, else here.
    const chunks = inp.runner.chunks?.({ defence: pipeline ? p : undefined, seed });
    const square = createAttack('square', { eps: params.eps, norm: params.norm, nb_queries: r.square_queries, seed, batch_size: params.batch_size });
    const rows = labels.map((_, i) => i);
    const squareOut = await attackInChunks(chunks ?? localChunks(target()), square, x, rows, labels, (d, t) => inp.onProgress?.(step('Square'), d, t));
    const squareAccuracy = accuracyOf(squareOut.pred, labels);
    const suite = await runSuite(target(), x, labels, parseSuite(r.suite), {
      runner: chunks,
      eps: params.eps,
      norm: params.norm,
      batch_size: params.batch_size,
      seed,
      bare: pipeline ? model : undefined,
      checks: r.checks,
      onProgress: (s, d, t) => inp.onProgress?.(step(s), d, t),
    });
    const min = await minimumPerturbation(target(), x, labels, { attack: parseAttackToken(r.min_attack), eps_max: r.eps_max, onProgress: (d, t) => inp.onProgress?.(step('minimum perturbation'), d, t) });
    return {
      pipeline: p,
      samples: labels.length,
      clean_accuracy: await accuracy(x),
      oblivious_accuracy: pipeline ? await accuracy(inp.oblivious) : null,
      bpda_accuracy: await accuracy(bpda),
      eot_accuracy: eot,
      square_accuracy: squareAccuracy,
      suite: suite.steps.map((s) => ({ attack: s.attack, robust_accuracy: s.robust_accuracy })),
      worst_case_accuracy: suite.robust_accuracy,
      flags: suite.checks.filter((c) => c.flagged).map((c) => c.check),
      min_perturbation_median: Number.isFinite(min.median) ? min.median : null,
    };
  } finally {
    x.dispose();
    pipeline?.dispose();
  }
}

/** Whether two seeded draws of the pipeline differ on these faces (a random forward pass: Gaussian noise, masks). */
async function randomForward(pipeline: Pipeline, x: tf.Tensor4D, seed: number): Promise<boolean> {
  const a = await pipeline.apply(x, { seed: hashSeed(seed, 'draw', 0) });
  const b = await pipeline.apply(x, { seed: hashSeed(seed, 'draw', 1) });
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
  const differ = (await d.data())[0] > 0;
  tf.dispose([a, b, d]);
  return differ;
}
