/**
 * `robustify robustness --model M --data D [--defence P] [--suite standard|quick|LIST] [--threat
 * dodging|impersonation] [--recogniser classifier|identification|verification] [--far 1e-3] [--eps 4]
 * [--min-perturbation] [--json FILE]`: robust accuracy over an attack suite (AutoAttack's scheme: each attack
 * only on the faces still robust; the per-sample worst case), masking checks, and optionally RobFR's minimum
 * perturbation. The recogniser is the model's head, or its backbone's embedding matched against a gallery
 * enrolled from the other split (rank-1 identification, or verification at a threshold set at --far). Against a defence, gradients pass through
 * non-differentiable stages as the identity (BPDA) and the oblivious number (the attack crafted on the bare
 * model) is reported beside the suite's. With --queue the suite's attack chunks (each attack's batches of the
 * faces still robust, and the masking checks' re-runs) are jobs on the workers; the report is the local one.
 */
import { Command, Option } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { faceThreatSuite, formatSuite, minimumPerturbation, RECOGNISERS, type FaceThreatResult, type Recogniser, parseAttackToken, parseSuite, runSuite, THREATS, type MinPerturbationResult, type SuiteResult, type Threat, describeSchema } from '../../attacks/index.js';
import { loadImages } from '../../data/index.js';
import { buildPipeline, parsePipeline } from '../../defences/index.js';
import { imagesToBatch } from '../../image/index.js';
import type { Classifier } from '../../models/classifier.js';
import type { QueueCoordinator } from '../../queue/coordinator.js';
import { DefendedClassifier } from '../../models/defended.js';
import { METRICS, type Metric } from '../../models/gallery.js';
import { loadFor } from '../../models/backbones.js';
import { writeFileAtomic } from '../../util/fs.js';
import { attackParamOption, EPS } from '../attack-options.js';
import { addBackboneOptions, backboneFromFlags, type BackboneFlags } from '../backbone-options.js';
import { addDataOptions, loadOptions, openSelection, pickSplit, splitOptions, SPLITS, type DataFlags } from '../data-options.js';
import { openModel } from '../model.js';
import { labelledProgress, note } from '../progress.js';
import { addQueueOptions, checkQueueFlags, chunkQueue, type QueueFlags } from '../queue-options.js';
import { claimJsonReport, globalOptions, intOption, numberOption, startEngine, UsageError } from '../run.js';

const REPORT_FORMAT = 'robustify-robustness/1';

interface RobustnessFlags extends DataFlags, BackboneFlags, QueueFlags {
  model: string;
  split: string;
  defence?: string;
  suite: string;
  threat: string;
  recogniser: string;
  far: string;
  metric: string;
  eps: string;
  norm: string;
  batchSize: string;
  seed: string;
  limit?: string;
  checks: boolean;
  minPerturbation?: boolean;
  minAttack: string;
  epsMax: string;
  json?: string;
}

export function registerRobustness(program: Command): void {
  const cmd = addBackboneOptions(addDataOptions(program.command('robustness').description('robust accuracy over an attack suite, masking checks, minimum perturbation')), "where the model's backbone file is now, when it moved (default: as recorded in MODEL_DIR)")
    .requiredOption('--model <model_dir>', 'a classifier saved by `robustify train`, or a network file (ONNX / TF.js model.json) whose recogniser spec says its output is logits')
    .addOption(new Option('--split <split>', 'which part of the data').choices([...SPLITS]).default('test'))
    .option('--defence <pipeline>', 'evaluate the defended model (BPDA through non-differentiable stages)')
    .option('--suite <suite>', "standard (APGD-CE, APGD-T over 9 targets, Square), quick, none, or attack tokens such as 'apgd:max_iter=50,square:nb_queries=1000'", 'standard')
    .addOption(new Option('--threat <threat>', 'dodging (untargeted) or impersonation (targeted at the nearest other identity)').choices([...THREATS]).default('dodging'))
    .addOption(new Option('--recogniser <kind>', "what is attacked: the model's classifier head, or its embedding against a gallery enrolled from the other split (rank-1 identification, 1:1 verification)").choices([...RECOGNISERS]).default('classifier'))
    .option('--far <rate>', 'verification: the false-accept rate the threshold is set at, from the clean genuine/impostor distances of the whole split (also with --limit)', '1e-3')
    .addOption(new Option('--metric <metric>', 'identification/verification: descriptor distance').choices([...METRICS]).default('euclidean'))
    .option('--eps <eps>', `${EPS.description} for every attack: ${describeSchema(EPS)}`, '4')
    .addOption(new Option('--norm <norm>', 'perturbation norm of every attack').choices(['inf', '2']).default('inf'))
    .option('--batch-size <n>', 'images attacked together', '32')
    .option('--seed <n>', 'seed of the attacks and of stochastic defences', '0')
    .option('--limit <n>', 'only the first n faces of the split')
    .option('--no-checks', 'skip the masking checks')
    .option('--min-perturbation', "also RobFR's minimum perturbation: per face the smallest eps at which --min-attack fools the model")
    .option('--min-attack <token>', 'the fixed attack of the minimum-perturbation search', 'pgd:max_iter=10')
    .option('--eps-max <eps>', 'upper end of the minimum-perturbation search', '16')
    .option('--json <file>', 'also write the results as JSON');
  addQueueOptions(cmd, "the suite's attack batches")
    .action(async (flags: RobustnessFlags, cmd: Command) => {
      const { quiet } = globalOptions(cmd);
      const eps = attackParamOption('--eps', EPS, flags.eps);
      const batch = intOption('--batch-size', flags.batchSize, 1, 4096);
      const seed = intOption('--seed', flags.seed, 0, 2 ** 31 - 1);
      const limit = flags.limit === undefined ? Infinity : intOption('--limit', flags.limit, 1);
      const epsMax = numberOption('--eps-max', flags.epsMax, 1e-3, 255);
      const threat = flags.threat as Threat;
      const recogniser = flags.recogniser as Recogniser;
      const far = numberOption('--far', flags.far, 0, 1);
      const usage = <T>(flag: string, f: () => T): T => {
        try {
          return f();
        } catch (err) {
          throw new UsageError(`${flag}: ${(err as Error).message}`);
        }
      };
      const suite = flags.suite === 'none' ? [] : usage('--suite', () => parseSuite(flags.suite));
      if (recogniser !== 'classifier' && flags.minPerturbation) throw new UsageError('--min-perturbation: runs on the classifier head only (--recogniser classifier)');
      const minAttack = flags.minPerturbation ? usage('--min-attack', () => parseAttackToken(flags.minAttack)) : undefined;
      await checkQueueFlags(flags);
      if (flags.queue && recogniser !== 'classifier') throw new UsageError(`--queue: workers attack the classifier head only (--recogniser classifier), not the ${recogniser} gallery`);
      // Parsed (and so checked) before any work; built once the engine runs (bmcnn loads tensors).
      const stages = flags.defence ? parsePipeline(flags.defence) : undefined;
      if (flags.json) await claimJsonReport(flags.json, REPORT_FORMAT, 'robustness', [{ label: '--model', path: flags.model }, { label: '--data', path: flags.data }], quiet);
      await startEngine(cmd);
      const pipeline = stages ? await buildPipeline(stages) : undefined;
      const opened = await openModel(flags.model, await backboneFromFlags(flags));
      const { model, classifier, close } = opened;
      let queue: QueueCoordinator | undefined;
      let x: tf.Tensor4D | undefined;
      let enrol: tf.Tensor4D | undefined;
      let calibrationX: tf.Tensor4D | undefined;
      try {
        const target: Classifier = pipeline ? new DefendedClassifier(classifier, pipeline, seed) : classifier;
        const remote = await chunkQueue(flags, opened, { defence: pipeline?.toString(), seed }, quiet, 'robustness: attack batches');
        queue = remote?.queue;
        const runner = remote?.runner;
        const selection = await openSelection(flags, { identities: model.identities }, quiet);
        const split = pickSplit(selection.samples, flags.split, splitOptions(flags));
        const samples = split.slice(0, limit);
        // Faces at the backbone's input size and alignment, so eps bounds the pixels the network sees.
        const load = { ...loadOptions(flags), ...loadFor(model.backbone) };
        const { images, samples: loaded } = await loadImages(samples, load);
        if (images.length === 0) throw new UsageError(`--data: no faces of the model's identities in '${flags.data}'`);
        x = imagesToBatch(images);
        const labels = loaded.map((s) => s.label);
        const onProgress = labelledProgress(quiet);
        const title = `${pipeline ? `defence ${pipeline.toString()}` : 'bare model'}${recogniser === 'classifier' ? '' : `, ${recogniser}`}`;
        let result: SuiteResult | undefined;
        let face: FaceThreatResult | undefined;
        let min: MinPerturbationResult | undefined;
        const suiteOpts = { threat, eps, norm: flags.norm === '2' ? (2 as const) : ('inf' as const), batch_size: batch, seed, checks: flags.checks, onProgress };
        if (suite.length > 0 && recogniser === 'classifier') result = await runSuite(target, x, labels, suite, { ...suiteOpts, bare: pipeline ? classifier : undefined, runner });
        if (queue) await queue.reportProgress();
        if (suite.length > 0 && recogniser !== 'classifier') {
          const other = flags.split === 'train' ? 'test' : 'train';
          const enrolled = await loadImages(pickSplit(selection.samples, other, splitOptions(flags)), load);
          enrol = imagesToBatch(enrolled.images);
          // Verification's τ comes from the whole split's clean probes, also when --limit attacks fewer.
          let calibration: { x: tf.Tensor4D; labels: number[] } | undefined;
          if (recogniser === 'verification' && samples.length < split.length) {
            const all = await loadImages(split, load);
            calibrationX = imagesToBatch(all.images);
            calibration = { x: calibrationX, labels: all.samples.map((s) => s.label) };
          }
          face = await faceThreatSuite(recogniser, model.backbone, { x: enrol, labels: enrolled.samples.map((s) => s.label) }, model.identities.length, x, labels, suite, {
            ...suiteOpts,
            far,
            metric: flags.metric as Metric,
            defend: pipeline ? (c) => new DefendedClassifier(c, pipeline, seed) : undefined,
            calibration,
          });
          result = face.suite;
          note(quiet, `gallery: ${model.identities.length} identities enrolled from ${enrolled.images.length} faces of the ${other} split`);
          if (face.threshold) {
            const t = face.threshold;
            process.stdout.write(`${title}: threshold ${t.threshold.toPrecision(4)} at FAR ${t.far.toPrecision(3)} (asked ${far}; ${t.impostor_pairs} impostor pairs), TAR ${t.tar.toFixed(4)} on ${t.genuine_pairs} genuine pairs\n`);
          }
        }
        if (result) process.stdout.write(formatSuite(result, title) + '\n');
        if (minAttack) {
          min = await minimumPerturbation(target, x, labels, { attack: minAttack, eps_max: epsMax, onProgress: (d, t) => onProgress('min-perturbation', d, t) });
          const curve = min.curve.map((c) => `${c.eps}: ${c.success_rate.toFixed(3)}`).join(', ');
          process.stdout.write(`${title}: minimum perturbation (${flags.minAttack}, L∞) median ${min.median.toFixed(3)} on 0–255; success rate vs eps ${curve}\n`);
        }
        if (flags.json) {
          const json = { format: REPORT_FORMAT, model: flags.model, data: flags.data, split: flags.split, defence: pipeline ? pipeline.toString() : null, recogniser, threshold: face?.threshold ?? null, suite: result ?? null, min_perturbation: min ?? null };
          await writeFileAtomic(flags.json, JSON.stringify(json, (_, v) => (v === Infinity ? 'Infinity' : v), 1) + '\n');
        }
        note(quiet, `faces: ${labels.length} of the ${flags.split} split`);
      } finally {
        x?.dispose();
        enrol?.dispose();
        calibrationX?.dispose();
        await queue?.close();
        await close();
        pipeline?.dispose();
      }
    });
}
