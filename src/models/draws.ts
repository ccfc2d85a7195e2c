/**
 * Evaluation over draws of stochastic defences (EOT evaluation): each image is classified under k draws of
 * the defences; its prediction is the majority vote (ties go to the smallest label), and the fraction of
 * draws that are wrong is reported alongside. Draw 0 is the defended classifier's own seed, so k = 1 is the
 * plain evaluation; draw j > 0 is seeded by (seed, 'draw', j).
 */
import * as tf from '@tensorflow/tfjs-core';
import { hashSeed } from '../util/random.js';
import type { DefendedClassifier } from './defended.js';

export function drawSeed(seed: number, j: number): number {
  return j === 0 ? seed : hashSeed(seed, 'draw', j);
}

/** votes[i][j]: the label image i gets under draw j. */
export async function predictDraws(model: DefendedClassifier, x: tf.Tensor4D, draws: number): Promise<number[][]> {
  if (!(Number.isInteger(draws) && draws >= 1)) throw new Error(`draws: the number of draws must be a whole number ≥ 1, got ${String(draws)}`);
  const votes: number[][] = Array.from({ length: x.shape[0] }, () => []);
  for (let j = 0; j < draws; j++) {
    const logits = await model.predictDraw(x, drawSeed(model.seed, j));
    const pred = tf.argMax(logits, 1);
    logits.dispose();
    const labels = await pred.data();
    pred.dispose();
    labels.forEach((l, i) => votes[i].push(l));
  }
  return votes;
}

/** The most frequent label; ties go to the smallest. */
export function majority(labels: readonly number[]): number {
  if (!labels.length) throw new Error('majority: no votes');
  const counts = new Map<number, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  let best = labels[0];
  for (const [l, c] of counts) {
    const cb = counts.get(best)!;
    if (c > cb || (c === cb && l < best)) best = l;
  }
  return best;
}

export interface DrawScores {
  draws: number;
  /** Accuracy of the majority vote. */
  accuracy: number;
  /** Over all images and draws: the share of draws that are wrong. */
  wrong_draw_fraction: number;
  /** Images whose draws disagree. */
  unstable: number;
}

export function scoreDraws(votes: readonly (readonly number[])[], labels: readonly number[]): DrawScores {
  if (votes.length !== labels.length) throw new Error(`draws: ${votes.length} vote lists for ${labels.length} labels`);
  const draws = votes[0]?.length ?? 0;
  let correct = 0;
  let wrong = 0;
  let unstable = 0;
  votes.forEach((v, i) => {
    if (majority(v) === labels[i]) correct++;
    wrong += v.filter((l) => l !== labels[i]).length;
    if (v.some((l) => l !== v[0])) unstable++;
  });
  const n = labels.length;
  return { draws, accuracy: n ? correct / n : 0, wrong_draw_fraction: n && draws ? wrong / (n * draws) : 0, unstable };
}
