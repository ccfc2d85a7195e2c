/**
 * `robustify evaluate --model MODEL_DIR (--data DIR [--split test|train|all] | --adversarial ADV_DIR)
 * [--defence P [--eot K]] [--json FILE] [--batch-size N] [--queue redis://…]`: the classification report of a trained classifier, optionally behind a
 * defence pipeline, on a dataset split or on an adversarial set. With `--eot K` every image is classified under K
 * draws of the (stochastic) defences: the report is of the majority vote, and the share of wrong draws is printed.
 * Each batch (`--batch-size`, 32 faces) is a unit (models/evaluate.ts `evaluateBatch`), computed here or, with `--queue`, as a job
 * on the workers (a window of them in flight, read back in order): the same report.
 */
import { Command, Option } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { checkAdversarialSetComplete, readAdversarialImage, readAdversarialIndex, type AdvIndex } from '../../attacks/adversarial-set.js';
import { readBatches, type Skipped } from '../../data/index.js';
import { buildPipeline, parsePipeline } from '../../defences/index.js';
import { imagesToBatch } from '../../image/index.js';
import { DefendedClassifier } from '../../models/defended.js';
import type { Classifier } from '../../models/classifier.js';
import { formatReport, type ClassificationReport } from '../../metrics/index.js';
import { evaluateBatch, reportFor, type EvaluatedBatch, type Predictions } from '../../models/evaluate.js';
import { scoreDraws, type DrawScores } from '../../models/draws.js';
import type { QueueCoordinator } from '../../queue/coordinator.js';
import { addQueueOptions, checkQueueFlags, evaluationQueue, QUEUE_WINDOW, type QueueFlags } from '../queue-options.js';
import { writeFileAtomic } from '../../util/fs.js';
import { addDataOptions, loadOptions, openSelection, pickSplit, splitOptions, SPLITS, type DataFlags } from '../data-options.js';
import { Warnings } from '../decode-options.js';
import { openModel } from '../model.js';
import { loadFor } from '../../models/backbones.js';
import { addBackboneOptions, backboneFromFlags, type BackboneFlags } from '../backbone-options.js';
import { progress } from '../progress.js';
import { claimJsonReport, globalOptions, intOption, startEngine, UsageError } from '../run.js';

export const REPORT_FORMAT = 'robustify-evaluation/1';

interface EvaluateFlags extends DataFlags, BackboneFlags, QueueFlags {
  model: string;
  split: string;
  json?: string;
  adversarial?: string;
  defence?: string;
  seed: string;
  eot?: string;
  batchSize: string;
}

export function registerEvaluate(program: Command): void {
  const cmd = addBackboneOptions(addDataOptions(program.command('evaluate').description('classification report of a trained classifier'), false), "where the model's backbone file is now, when it moved (default: as recorded in MODEL_DIR)")
    .requiredOption('--model <model_dir>', 'a classifier saved by `robustify train`, or a network file (ONNX / TF.js model.json) whose recogniser spec says its output is logits')
    .addOption(new Option('--split <split>', 'which part of the data').choices([...SPLITS]).default('test'))
    .option('--adversarial <adv_dir>', 'evaluate on an adversarial set made by `robustify attack` instead of --data')
    .option('--defence <pipeline>', 'put a defence pipeline in front of the model, e.g. median:3,jpeg:20')
    .option('--seed <n>', 'seed for stochastic defences', '0')
    .option('--eot <k>', 'classify under K draws of the defences: majority vote and share of wrong draws')
    .option('--json <file>', 'also write the report as JSON')
    .option('--batch-size <n>', 'faces per batch (with --queue: per job)', '32');
  addQueueOptions(cmd, 'the evaluation batches')
    .action(async (flags: EvaluateFlags, cmd: Command) => {
      const { quiet } = globalOptions(cmd);
      if (!flags.data === !flags.adversarial) throw new UsageError('evaluate: give exactly one of --data DIR or --adversarial ADV_DIR');
      if (flags.eot !== undefined && !flags.defence) throw new UsageError('--eot: needs --defence (draws of the defences)');
      const draws = flags.eot === undefined ? undefined : intOption('--eot', flags.eot, 1, 10000);
      const seed = intOption('--seed', flags.seed, 0, 2 ** 31 - 1);
      const batchSize = intOption('--batch-size', flags.batchSize, 1, 4096);
      await checkQueueFlags(flags);
      const split = flags.data ? splitOptions(flags) : undefined;
      const warnings = new Warnings();
      const load = flags.data ? loadOptions(flags, warnings) : undefined;
      // An unfinished or damaged set is refused before any work: scoring part of a set reads as a result.
      let index: AdvIndex | undefined;
      if (flags.adversarial) {
        index = await readAdversarialIndex(flags.adversarial);
        await checkAdversarialSetComplete(flags.adversarial, index);
      }
      // Parsed (and so checked) before any work; built once the engine runs (bmcnn loads tensors).
      const stages = flags.defence ? parsePipeline(flags.defence) : undefined;
      if (flags.json) {
        const inputs = [{ label: '--model', path: flags.model }, { label: '--data', path: flags.data }, { label: '--adversarial', path: flags.adversarial }];
        await claimJsonReport(flags.json, REPORT_FORMAT, 'evaluate', inputs, quiet);
      }
      await startEngine(cmd);
      const pipeline = stages ? await buildPipeline(stages) : undefined;
      const opened = await openModel(flags.model, await backboneFromFlags(flags));
      const { model, classifier, close } = opened;
      let queue: QueueCoordinator | undefined;
      try {
        const remote = await evaluationQueue(flags, opened, { defence: pipeline?.toString(), seed, draws }, quiet);
        queue = remote?.queue;
        const defended = pipeline ? new DefendedClassifier(classifier, pipeline, seed) : undefined;
        const target: Classifier = defended ?? classifier;
        const skipped: Skipped[] = [];
        let source: Record<string, unknown>;
        let batches: AsyncIterable<{ x: tf.Tensor4D; labels: number[] }>;
        let total: number;
        if (flags.adversarial && index) {
          if (index.identities.join('\n') !== model.identities.join('\n')) {
            throw new UsageError(`--adversarial: '${flags.adversarial}' was made for other identities than --model '${flags.model}'`);
          }
          source = { model: flags.model, adversarial: flags.adversarial, attack: index.attack };
          batches = adversarialBatches(flags.adversarial, index, batchSize);
          total = index.items.length;
        } else {
          const selection = await openSelection(flags, { identities: model.identities }, quiet);
          const samples = pickSplit(selection.samples, flags.split, split!);
          source = { model: flags.model, data: flags.data, split: flags.split };
          batches = readBatches(samples, batchSize, { ...load!, ...loadFor(model.backbone) }, skipped);
          total = samples.length;
        }
        const bar = progress('evaluate', total, quiet);
        const preds: Predictions = { yTrue: [], yPred: [] };
        const votes: number[][] = [];
        const take = (labels: number[], r: EvaluatedBatch): void => {
          preds.yPred.push(...r.predictions);
          preds.yTrue.push(...labels);
          if (r.votes) votes.push(...r.votes);
          bar.update(preds.yTrue.length);
        };
        // With a queue up to QUEUE_WINDOW batches are computing at once, taken in batch order.
        const inFlight: { labels: number[]; result: Promise<EvaluatedBatch> }[] = [];
        const takeNext = async (): Promise<void> => {
          const next = inFlight.shift()!;
          take(next.labels, await next.result);
        };
        let b = 0;
        for await (const { x, labels } of batches) {
          if (remote) {
            const result = remote.runner.run({ index: b, images: (await x.data()) as Float32Array, shape: x.shape, labels });
            // Awaited in order below; a failure meanwhile is not an unhandled rejection.
            result.catch(() => undefined);
            inFlight.push({ labels, result });
            while (inFlight.length >= QUEUE_WINDOW) await takeNext();
          } else {
            take(labels, await evaluateBatch(target, x, draws));
          }
          b++;
        }
        while (inFlight.length > 0) await takeNext();
        const overDraws: DrawScores | undefined = draws !== undefined ? scoreDraws(votes, preds.yTrue) : undefined;
        if (queue) await queue.reportProgress();
        bar.stop();
        for (const s of skipped) process.stderr.write(`skipped ${s.file}: ${s.reason}\n`);
        warnings.print();
        const report = reportFor(preds, model.identities);
        const json = reportJson(report, { ...source, defence: pipeline ? pipeline.toString() : null, ...(overDraws ? { eot: overDraws } : {}), skipped, warnings: warnings.list });
        if (flags.json) await writeFileAtomic(flags.json, JSON.stringify(json, null, 2) + '\n');
        process.stdout.write(`${formatReport(report)}\n`);
        if (overDraws) {
          const o = overDraws;
          process.stdout.write(`eot: ${o.draws} draws; majority-vote accuracy ${o.accuracy.toFixed(4)}; wrong draws ${o.wrong_draw_fraction.toFixed(4)}; ${o.unstable} images with disagreeing draws\n`);
        }
      } finally {
        await queue?.close();
        await close();
        pipeline?.dispose();
      }
    });
}

/** The lossless images of an adversarial set, in batches (each disposed after use). */
async function* adversarialBatches(dir: string, index: AdvIndex, size: number) {
  for (let i = 0; i < index.items.length; i += size) {
    const items = index.items.slice(i, i + size);
    const x = imagesToBatch(await Promise.all(items.map((it) => readAdversarialImage(dir, index, it))));
    try {
      yield { x, labels: items.map((it) => it.label) };
    } finally {
      x.dispose();
    }
  }
}

/** The report in the JSON shape the CLI promises, with where it came from. */
export function reportJson(report: ClassificationReport, source: Record<string, unknown>): Record<string, unknown> {
  return {
    format: REPORT_FORMAT,
    ...source,
    accuracy: report.accuracy,
    balanced_accuracy: report.balanced_accuracy,
    macro_avg: report.macro_avg,
    weighted_avg: report.weighted_avg,
    per_class: report.per_class,
  };
}
