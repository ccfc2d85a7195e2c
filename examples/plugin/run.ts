/**
 * The plugin in use: its defence in a pipeline in front of a classifier, its attack through the registry,
 * and both in a study (`node dist/examples/plugin/run.js DATA_DIR OUT_DIR`).
 */
import {
  buildPipeline, createAttack, DefendedClassifier, listDataset, mergeConfig, PAPER_CONFIG, predictLabels, runStudy, selectTopK, writeStudy,
  type BackboneSource, type Classifier, type PartialConfig, type StudyRun, tf,
} from 'robustify';
import path from 'node:path';
import { registerPlugin } from './index.js';

/** Labels of `x` bare, under the noise attack, and under that attack behind `pixelate:2,median:3`. */
export async function pipelineDemo(model: Classifier, x: tf.Tensor4D): Promise<{ clean: number[]; attacked: number[]; defended: number[] }> {
  registerPlugin();
  const adv = await createAttack('noise', { eps: 16, nb_trials: 5 }).generate(model, x);
  const defended = new DefendedClassifier(model, await buildPipeline('pixelate:2,median:3'));
  try {
    return { clean: await predictLabels(model, x), attacked: await predictLabels(model, adv), defended: await predictLabels(defended, adv) };
  } finally {
    adv.dispose();
  }
}

/** A study small enough for a laptop in seconds: the plugin's defence among the defences, its attack in the suite. */
export const TINY_STUDY: PartialConfig = {
  identities: 2,
  train: { hidden: 16, max_epochs: 3, patience: 1 },
  attack: { eps_step: 1, max_iter: 2 },
  defences: ['pixelate:2', 'jpeg:20'],
  pipelines: { table6: 'pixelate:2,jpeg:20', table7: 'pixelate:2', table8: 'jpeg:20', table9: 'pixelate:4', best: 'pixelate:2,jpeg:20' },
  more_pipelines: [],
  curves: { eps: [0, 4], iterations: [1, 2], pipelines: ['none', 'pixelate:2'] },
  search: { candidates: ['pixelate:2', 'jpeg:20'], max_length: 1, min_clean_accuracy: 0, top: 3 },
  adaptive: { pipelines: ['pixelate:2'], samples: 2, eps_step: 1, max_iter: 2 },
  robust: { suite: 'noise:nb_trials=3', eot_samples: 1, square_queries: 5, min_attack: 'noise:nb_trials=2', eps_max: 8, checks: false },
  figures: { attack_eps: [0, 4], gauss_sigmas: [15], jpeg_qualities: [20] },
};

/** The tiny study on `dataDir` (folder per identity), written to `outDir`. */
export async function pluginStudy(dataDir: string, outDir: string, backbone?: BackboneSource): Promise<StudyRun> {
  registerPlugin();
  const config = mergeConfig(PAPER_CONFIG, TINY_STUDY);
  const selection = selectTopK(await listDataset(dataDir), config.identities);
  const run = await runStudy({ selection, load: {}, config, cacheDir: path.join(outDir, 'cache'), backbone });
  await writeStudy(outDir, run);
  return run;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [data, out] = process.argv.slice(2);
  const run = await pluginStudy(data, out);
  console.log(run.results.defences.map((d) => `${d.pipeline}: clean ${d.clean_accuracy}, adversarial ${d.adversarial_accuracy}`).join('\n'));
}
