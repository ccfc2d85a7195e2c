/**
 * Head training on faces14 as the study does it (top 14, default split, 10 % validation, mirrored copies,
 * batch-1 SGD with early stopping): seconds for the SGD epochs alone, and the test accuracy of the trained head
 * on the test faces' features. The features are extracted once and kept in the system temp dir.
 * Run alone: `node dist/bench/head.js`.
 */
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { initEngine } from '../src/engine/backend.js';
import { listDataset, readBatches, selectTopK, splitDataset, validationSplit, type Sample } from '../src/data/index.js';
import { FaceRecognitionNet } from '../src/models/backbone.js';
import { DEFAULT_TRAIN_CLASSIFIER, extractFeatures, scoreHead, trainHead, type FeatureSet } from '../src/models/train.js';

const FACES14 = path.join(path.resolve(process.env.ROBUSTIFY_SHARED ?? '../shared'), 'data/faces14');

/** Train (with mirrored copies), validation and test features of faces14, cached across runs. */
async function faces14Features(): Promise<{ train: FeatureSet; validation: FeatureSet; test: FeatureSet; classes: number }> {
  const sel = selectTopK(await listDataset(FACES14), 14);
  const split = splitDataset(sel.samples);
  const parts = validationSplit(split.train, DEFAULT_TRAIN_CLASSIFIER.validationFraction, DEFAULT_TRAIN_CLASSIFIER.seed);
  const file = path.join(os.tmpdir(), 'robustify-bench-faces14-features.json');
  const sets: Record<string, { features: number[]; labels: number[] }> = existsSync(file) ? JSON.parse(await fsp.readFile(file, 'utf8')) : {};
  if (!sets.train) {
    const backbone = await FaceRecognitionNet.load();
    const extract = async (samples: Sample[], flip: boolean) => {
      const set = await extractFeatures(backbone, readBatches(samples, 32, {}, []), { flip });
      return { features: Array.from(set.features), labels: Array.from(set.labels) };
    };
    sets.train = await extract(parts.train, true);
    sets.validation = await extract(parts.validation, false);
    sets.test = await extract(split.test, false);
    backbone.dispose();
    await fsp.writeFile(file, JSON.stringify(sets));
  }
  const typed = (s: { features: number[]; labels: number[] }) => ({ features: Float32Array.from(s.features), labels: Int32Array.from(s.labels) });
  return { train: typed(sets.train), validation: typed(sets.validation), test: typed(sets.test), classes: sel.identities.length };
}

export async function benchHead(): Promise<object[]> {
  await initEngine({ backend: 'wasm', strict: true });
  const { train, validation, test, classes } = await faces14Features();
  const load = os.loadavg()[0];
  const cpu = process.cpuUsage();
  const t = performance.now();
  const { head, history, bestEpoch } = await trainHead(train, validation, classes, DEFAULT_TRAIN_CLASSIFIER);
  const seconds = (performance.now() - t) / 1000;
  const { user, system } = process.cpuUsage(cpu);
  const score = await scoreHead(head, test);
  head.dispose();
  return [
    {
      bench: 'head',
      train_samples: train.labels.length,
      test_images: test.labels.length,
      epochs_run: history.length,
      best_epoch: bestEpoch,
      train_s: Number(seconds.toFixed(2)),
      // CPU time of the training alone: the fairer figure on a busy machine (the steps are single-threaded).
      train_cpu_s: Number(((user + system) / 1e6).toFixed(2)),
      test_accuracy: Number(score.accuracy.toFixed(4)),
      test_correct: Math.round(score.accuracy * test.labels.length),
      load_avg_before: load,
      load_avg: os.loadavg()[0],
    },
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await benchHead()) console.log(JSON.stringify(r));
}
