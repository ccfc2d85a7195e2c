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
import { accelerated } from '../src/models/native.js';
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

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
