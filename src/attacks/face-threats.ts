/**
 * The attack suite on an embedding recogniser's face threat models (models/gallery.ts), bare or defended:
 *
 * - identification (1:N, rank-1 over the gallery of enrolled identities): dodging = the probe is no longer
 *   ranked first as itself; impersonation = it is ranked first as the nearest other identity.
 * - verification (1:1 at a threshold τ set at a stated false-accept rate from the clean probes' genuine and
 *   impostor distances): dodging = a genuine probe is rejected for its own identity; impersonation = a probe
 *   claiming the nearest other identity is accepted. Each claimed identity is its own two-class threat model,
 *   so the suite runs once per claimed identity and the runs are merged.
 *
 * The gallery is the mean enrolment descriptor per identity; a defended recogniser enrols through its
 * defence too, as a deployed one would.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Backbone } from '../models/backbones.js';
import type { Classifier } from '../models/classifier.js';
import { ACCEPT, classMeans, DEFAULT_TEMPERATURE, GalleryClassifier, REJECT, thresholdAtFar, VerificationClassifier, type Metric } from '../models/gallery.js';
import type { AttackRequest } from './registry.js';
import { mergeSuites, predictAll, runSuite, runSuitePart, type SuiteOptions, type SuitePart, type SuiteResult } from './suite.js';

/**
 * The threat models of an embedding: classifier head, identification, verification.
 *
 * @example
 * ```ts
 * import { RECOGNISERS } from 'robustify/attacks';
 * console.log(RECOGNISERS); // ['classifier', 'identification', 'verification']
 * ```
 */
export const RECOGNISERS = ['classifier', 'identification', 'verification'] as const;
/** One of `RECOGNISERS`. */
export type Recogniser = (typeof RECOGNISERS)[number];

/** Options of `faceThreatSuite`: the suite and the embedding's threat models. */
export interface FaceThreatOptions extends Omit<SuiteOptions, 'bare'> {
  metric?: Metric;
  temperature?: number;
  /** Verification: the false-accept rate τ is set at (default 1e-3). */
  far?: number;
  /** The defence in front of a threat model (absent: the bare recogniser). */
  defend?: (c: Classifier) => Classifier;
  /**
   * Verification: the clean probes whose genuine and impostor distances set τ (default: the attacked probes).
   * τ belongs to the deployed recogniser, so it may come from more probes than are attacked: a stated FAR needs
   * about 1/FAR impostor pairs to be met at all.
   */
  calibration?: { x: tf.Tensor4D; labels: readonly number[] };
}

/** A suite's results on each threat model of an embedding (identification, verification). */
export interface FaceThreatResult {
  recogniser: 'identification' | 'verification';
  suite: SuiteResult;
  /** Verification: τ (in the metric's distance units, squared for euclidean) and the clean rates there. */
  threshold?: { threshold: number; far: number; tar: number; impostor_pairs: number; genuine_pairs: number };
}

/**
 * Identities enrolled from `enrol` (labels 0..classes−1, every one present), probes x with true labels.
 *
 * @example
 * ```ts
 * import { tf, initEngine, faceThreatSuite, parseSuite } from 'robustify';
 * await initEngine();
 * const net = { descriptorDim: 3, descriptor: (x: tf.Tensor4D) => tf.div(tf.mean(x, [1, 2]), 255) as tf.Tensor2D }; // a toy embedding
 * const enrol = { x: tf.stack([tf.fill([8, 8, 3], 20), tf.fill([8, 8, 3], 230)]) as tf.Tensor4D, labels: [0, 1] };
 * const probes = tf.stack([tf.fill([8, 8, 3], 40), tf.fill([8, 8, 3], 210)]) as tf.Tensor4D;
 * const r = await faceThreatSuite('identification', net, enrol, 2, probes, [0, 1], parseSuite('fgsm'), { eps: 8 });
 * console.log(r.suite.clean_accuracy, r.suite.robust_accuracy);
 * ```
 */
export async function faceThreatSuite(
  recogniser: 'identification' | 'verification',
  net: Pick<Backbone, 'descriptor' | 'descriptorDim'>,
  enrol: { x: tf.Tensor4D; labels: readonly number[] },
  classes: number,
  x: tf.Tensor4D,
  labels: readonly number[],
  attacks: readonly AttackRequest[],
  opts: FaceThreatOptions,
): Promise<FaceThreatResult> {
  const galleryOpts = { metric: opts.metric ?? 'euclidean', temperature: opts.temperature ?? DEFAULT_TEMPERATURE };
  const enrolled = await enrolDescriptors(net, enrol.x, opts);
  const means = tf.tidy(() => classMeans(enrolled, enrol.labels, classes));
  enrolled.dispose();
  const gallery = new GalleryClassifier(net, means, galleryOpts);
  const guard = <C extends Classifier>(c: C) => ({ bare: c, target: opts.defend ? opts.defend(c) : c });
  const suiteOpts = (bare: Classifier): SuiteOptions => ({ ...opts, bare: opts.defend ? bare : undefined });
  try {
    if (recogniser === 'identification') {
      const { bare, target } = guard(gallery);
      return { recogniser, suite: await runSuite(target, x, labels, attacks, suiteOpts(bare)) };
    }
    // Distances in VerificationClassifier's units, from the (defended) gallery logits −dist/T.
    const distances = async (probes: tf.Tensor4D) => (await predictAll(guard(gallery).target, probes, opts.batch_size ?? 32)).logits.map((z) => Math.max(0, -z * gallery.temperature));
    const d = await distances(x);
    const cal = opts.calibration ? { d: await distances(opts.calibration.x), labels: opts.calibration.labels } : { d, labels };
    const genuine = cal.labels.map((y, i) => cal.d[i * classes + y]);
    const impostor = cal.labels.flatMap((y, i) => Array.from({ length: classes }, (_, k) => k).filter((k) => k !== y).map((k) => cal.d[i * classes + k]));
    const tau = thresholdAtFar(impostor, opts.far ?? 1e-3, genuine);
    const dodging = (opts.threat ?? 'dodging') === 'dodging';
    // The claimed identity: its own (dodging) or the nearest other (impersonation), on the clean probe.
    const claims = labels.map((y, i) => (dodging ? y : nearestOther(d.subarray(i * classes, (i + 1) * classes), y)));
    const parts: SuitePart[] = [];
    const order: number[] = [];
    for (let c = 0; c < classes; c++) {
      const rows = claims.flatMap((k, i) => (k === c ? [i] : []));
      if (rows.length === 0) continue;
      const reference = tf.tidy(() => tf.slice(means, [c, 0], [1, -1]));
      const verifier = new VerificationClassifier(net, reference, tau.threshold, galleryOpts);
      reference.dispose();
      const xs = tf.gather(x, rows) as tf.Tensor4D;
      try {
        const { bare, target } = guard(verifier);
        parts.push(await runSuitePart(target, xs, rows.map(() => (dodging ? ACCEPT : REJECT)), attacks, suiteOpts(bare)));
        order.push(...rows);
      } finally {
        xs.dispose();
        verifier.dispose();
      }
    }
    const suite = mergeSuites(parts);
    const byRow = new Array<SuiteResult['per_sample'][number]>(labels.length);
    order.forEach((i, k) => (byRow[i] = suite.per_sample[k]));
    suite.per_sample = byRow;
    return { recogniser, suite, threshold: { ...tau, impostor_pairs: impostor.length, genuine_pairs: genuine.length } };
  } finally {
    gallery.dispose();
    means.dispose();
  }
}

/** Enrolment descriptors [N, D], through the defence when there is one. */
async function enrolDescriptors(net: Pick<Backbone, 'descriptor' | 'descriptorDim'>, x: tf.Tensor4D, opts: FaceThreatOptions): Promise<tf.Tensor2D> {
  const describe: Classifier = {
    classes: net.descriptorDim,
    predict: async (xb) => net.descriptor(xb),
    lossGradient: async () => {
      throw new Error('enrolment: descriptors are not attacked');
    },
  };
  const { logits } = await predictAll(opts.defend ? opts.defend(describe) : describe, x, opts.batch_size ?? 32);
  return tf.tensor2d(logits, [x.shape[0], net.descriptorDim]);
}

function nearestOther(d: Float32Array, y: number): number {
  let best = y === 0 ? 1 : 0;
  for (let k = 0; k < d.length; k++) if (k !== y && d[k] < d[best]) best = k;
  return best;
}
