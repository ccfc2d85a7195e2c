/**
 * The attack family's speed on the faces14 classifier (native engine when it loads, else TF.js), in one run so
 * the ratios hold under load: PGD, APGD-CE and APGD-DLR at equal iterations (s per image, and APGD's cost
 * relative to PGD: one extra forward per step for the loss values), and Square's time per model query.
 */
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { createAttack } from '../src/attacks/index.js';
import { batches, listDataset, selectTopK, splitDataset } from '../src/data/index.js';
import { initEngine } from '../src/engine/backend.js';
import { accelerated, nativeRuntime, NativeClassifier } from '../src/models/native.js';
import { benchModel } from './pgd.js';

const FACES14 = path.join(path.resolve(process.env.ROBUSTIFY_SHARED ?? '../shared'), 'data/faces14');

export async function benchAttacks(opts: { images?: number; iters?: number } = {}): Promise<object[]> {
  const images = opts.images ?? 32;
  const iters = opts.iters ?? 20;
  await initEngine({ backend: 'wasm', strict: true });
  const model = await benchModel();
  const { classifier, engine, release } = await accelerated(model);
  const sel = selectTopK(await listDataset(FACES14), 14);
  const { value } = await batches(splitDataset(sel.samples).test.slice(0, images), images).next();
  const x = value!.x;
  const records: Record<string, unknown>[] = [];
  const time = async (name: string, params: Record<string, unknown>) => {
    let queries = 0;
    const t = performance.now();
    const adv = await createAttack(name, { eps: 4, batch_size: 32, ...params }).generate(classifier, x, value!.labels, { onQueries: (_, q) => (queries += q.reduce((a, b) => a + b, 0)) });
    const s = (performance.now() - t) / 1000;
    adv.dispose();
    return { s, queries };
  };
  const pgd = await time('pgd', { max_iter: iters, eps_step: 0.1 });
  records.push({ bench: 'attacks', attack: 'pgd', engine, images, iters, s_per_image: round(pgd.s / images) });
  for (const loss_type of ['cross_entropy', 'difference_logits_ratio']) {
    const a = await time('apgd', { max_iter: iters, loss_type });
    records.push({ bench: 'attacks', attack: `apgd ${loss_type}`, engine, images, iters, s_per_image: round(a.s / images), ratio_vs_pgd: round(a.s / pgd.s) });
  }
  // A small eps so that Square does not stop at once: the time per query is what matters.
  const sq = await time('square', { eps: 0.5, nb_queries: 200 });
  records.push({ bench: 'attacks', attack: 'square', engine, images, eps: 0.5, nb_queries: 200, queries: sq.queries, ms_per_query: round((sq.s * 1000) / Math.max(1, sq.queries)) });
  tf.dispose(x);
  await release();
  model.dispose();
  const load = os.loadavg()[0];
  return records.map((r) => ({ ...r, load_avg: load }));
}

/**
 * APGD's inner loop on the native engine: APGD-CE (eps 4, 100 iterations, batch 32) with `predict` and
 * `lossGradient` split over one-thread worker sessions (the default) and on one session with ORT's intra-op
 * threads (`pgdWorkers: 1`), interleaved in one run, and PGD-100 (whole iterations in the workers) beside them.
 */
export async function benchApgd(opts: { images?: number; iters?: number; rounds?: number } = {}): Promise<object[]> {
  const images = opts.images ?? 32;
  const iters = opts.iters ?? 100;
  await initEngine({ backend: 'wasm', strict: true });
  const ort = await nativeRuntime();
  if (!ort) return [{ bench: 'apgd', skipped: 'onnxruntime-node does not load on this platform' }];
  const model = await benchModel();
  const sel = selectTopK(await listDataset(FACES14), 14);
  const { value } = await batches(splitDataset(sel.samples).test.slice(0, images), images).next();
  const { x, labels } = value!;
  const engines: Array<[string, NativeClassifier]> = [
    ['workers', await NativeClassifier.create(ort, model)],
    ['one session', await NativeClassifier.create(ort, model, { pgdWorkers: 1 })],
  ];
  const records: object[] = [];
  const time = async (engine: string, classifier: NativeClassifier, name: string, params: Record<string, unknown>) => {
    const load = os.loadavg()[0];
    const tensors = tf.memory().numTensors;
    const t = performance.now();
    const adv = await createAttack(name, { eps: 4, max_iter: iters, batch_size: 32, ...params }).generate(classifier, x, labels);
    const s = (performance.now() - t) / 1000;
    adv.dispose();
    records.push({ bench: 'apgd', attack: name, engine, images, iters, s_per_image: round(s / images), num_tensors_grew: tf.memory().numTensors - tensors, load_avg_before: load, load_avg: os.loadavg()[0] });
  };
  // Warm-up: every session and worker started before anything is timed.
  for (const [, c] of engines) await createAttack('apgd', { eps: 4, max_iter: 1 }).generate(c, tf.slice(x, 0, 2) as tf.Tensor4D, labels.slice(0, 2)).then((a) => a.dispose());
  for (let r = 0; r < (opts.rounds ?? 1); r++) {
    for (const [engine, c] of r % 2 ? [...engines].reverse() : engines) await time(engine, c, 'apgd', { loss_type: 'cross_entropy' });
    await time('workers', engines[0][1], 'pgd', { eps_step: 0.1 });
  }
  tf.dispose(x);
  for (const [, c] of engines) await c.dispose();
  model.dispose();
  return records;
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
