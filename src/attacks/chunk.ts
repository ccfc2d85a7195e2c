/**
 * One chunk of an attack run: at most one batch of images, attacked against a target made for that chunk
 * alone. It is the unit of work of `robustify attack` (a batch of the dataset) and of a suite's attack steps
 * (a batch of the faces still robust), the same here and on a queue's worker (src/queue). A chunk's output
 * depends only on its inputs and its place: the stochastic defences' gradient draws start at call
 * index × the attack's calls per chunk, whatever ran before it, where or in which order.
 */
import * as tf from '@tensorflow/tfjs-core';
import { predictLabels, type Classifier } from '../models/classifier.js';
import { DefendedClassifier } from '../models/defended.js';
import type { EvasionAttack } from './attack.js';
import { ExpectationOverTransformation } from './eot.js';

/** The images of a chunk (NHWC float32 0–255), their labels (targets for a targeted attack) and its place. */
export interface AttackChunk {
  /** The chunk's place in its run (batch b of the dataset, or of a suite step's rows). */
  index: number;
  images: Float32Array;
  shape: [number, number, number, number];
  labels: number[];
}

/** What a chunk gives: the adversarial images, the target's predictions on them, queries per image. */
export interface AttackedChunk {
  adversarial: Float32Array;
  predictions: number[];
  /** Score-based attacks: model queries per image (empty for the others). */
  queries: number[];
}

/**
 * Where chunks are computed: `localChunks` here, one after the other, or a queue's workers, all at once
 * (`parallel`); either way the result is `attackChunk`'s.
 */
export interface ChunkRunner {
  readonly parallel: boolean;
  run(attack: EvasionAttack, chunk: AttackChunk, onProgress?: (done: number, total: number) => void): Promise<AttackedChunk>;
}

/** Gradient (or query) calls an attack makes on a chunk, as its parameters count them: max_iter, else nb_queries. */
export function callsPerChunk(attack: EvasionAttack): number {
  return Number(attack.params.max_iter ?? attack.params.nb_queries ?? 1);
}

/** `classifier` with its defences' gradient draws starting at call `firstCall` (other classifiers have none). */
export function fromCall(classifier: Classifier, firstCall: number): Classifier {
  if (classifier instanceof ExpectationOverTransformation) return new ExpectationOverTransformation(classifier.defended, classifier.params, firstCall);
  if (classifier instanceof DefendedClassifier) return new DefendedClassifier(classifier.model, classifier.pipeline, classifier.seed, firstCall);
  return classifier;
}

/** `attack` on one chunk against `classifier` made for it (see the module comment). */
export async function attackChunk(classifier: Classifier, attack: EvasionAttack, chunk: AttackChunk, onProgress?: (done: number, total: number) => void): Promise<AttackedChunk> {
  const target = fromCall(classifier, chunk.index * callsPerChunk(attack));
  const x = tf.tensor4d(chunk.images, chunk.shape);
  const queries: number[] = [];
  try {
    const adv = await attack.generate(target, x, chunk.labels, { onProgress, onQueries: (_, q) => queries.push(...q) });
    try {
      const predictions = await predictLabels(target, adv);
      return { adversarial: (await adv.data()) as Float32Array, predictions, queries };
    } finally {
      adv.dispose();
    }
  } finally {
    x.dispose();
  }
}

/** The chunks of attacks on `classifier`, computed here one after the other. */
export function localChunks(classifier: Classifier): ChunkRunner {
  return { parallel: false, run: (attack, chunk, onProgress) => attackChunk(classifier, attack, chunk, onProgress) };
}
