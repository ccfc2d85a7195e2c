/**
 * `robustify train --data DIR [--identities 14] --out MODEL_DIR`: the paper's transfer learning on the
 * frozen backbone, then the clean report on the test split. MODEL_DIR appears only when everything succeeded.
 */
import { Command } from 'commander';
import { readBatches, splitDataset } from '../../data/index.js';
import { formatReport } from '../../metrics/index.js';
import { predictAll, reportFor } from '../../models/evaluate.js';
import { MODEL_OUTPUT } from '../../models/classifier.js';
import { DEFAULT_TRAIN_CLASSIFIER, trainClassifier } from '../../models/train.js';
import { writeDirAtomic } from '../../util/fs.js';
import { addDataOptions, loadOptions, openSelection, splitOptions, type DataFlags } from '../data-options.js';
import { Warnings } from '../decode-options.js';
import { note, progress } from '../progress.js';
import { claimOutput, globalOptions, intOption, numberOption, startEngine } from '../run.js';
import { describeEngine } from '../../engine/backend.js';
import { loadFor } from '../../models/backbones.js';
import { addBackboneOptions, backboneFromFlags, type BackboneFlags } from '../backbone-options.js';
import { roundTo } from '../../util/round.js';

interface TrainFlags extends DataFlags, BackboneFlags {
  out: string;
  identities: string;
  epochs: string;
  lr: string;
  batchSize: string;
  patience: string;
  dropout: string;
  hidden: string;
  validation: string;
  seed: string;
  flip: boolean;
  force?: boolean;
}

export function registerTrain(program: Command): void {
  const d = DEFAULT_TRAIN_CLASSIFIER;
  addBackboneOptions(addDataOptions(program.command('train').description('train the classification head on a face dataset (backbone frozen)')))
    .requiredOption('--out <model_dir>', 'where to save the trained classifier')
    .option('--identities <k>', 'the K most populated identities', '14')
    .option('--epochs <n>', 'at most this many epochs (early stopping)', String(d.maxEpochs))
    .option('--lr <rate>', 'SGD learning rate', String(d.learningRate))
    .option('--batch-size <n>', 'SGD batch size', String(d.batchSize))
    .option('--patience <n>', 'early stopping: epochs without a better validation loss', String(d.patience))
    .option('--dropout <rate>', 'dropout rate after the hidden layer', String(d.dropout))
    .option('--hidden <n>', 'hidden units', String(d.hidden))
    .option('--validation <fraction>', 'part of the training split held out for early stopping', String(d.validationFraction))
    .option('--seed <n>', 'seed for initialisation, shuffling, dropout and the validation split', String(d.seed))
    .option('--no-flip', 'no mirrored copies of the training images')
    .option('--force', 'replace an existing MODEL_DIR saved by robustify train (nothing else)')
    .action(async (flags: TrainFlags, cmd: Command) => {
      const { quiet } = globalOptions(cmd);
      const warnings = new Warnings();
      const opts = {
        ...d,
        maxEpochs: intOption('--epochs', flags.epochs, 1, 10000),
        learningRate: numberOption('--lr', flags.lr, 1e-9, 100),
        batchSize: intOption('--batch-size', flags.batchSize, 1, 100000),
        patience: intOption('--patience', flags.patience, 1, 10000),
        dropout: numberOption('--dropout', flags.dropout, 0, 0.99),
        hidden: intOption('--hidden', flags.hidden, 1, 65536),
        validationFraction: numberOption('--validation', flags.validation, 0.01, 0.9),
        seed: intOption('--seed', flags.seed, 0, 2 ** 31 - 1),
        flip: flags.flip,
        load: loadOptions(flags, warnings),
        backbone: await backboneFromFlags(flags),
      };
      const split = splitOptions(flags);
      // A classifier needs two classes.
      const k = intOption('--identities', flags.identities, 2, 1_000_000);
      await claimOutput(
        {
          label: '--out',
          path: flags.out,
          type: 'dir',
          kind: MODEL_OUTPUT,
          existing: 'replace',
          replace: flags.force,
          replaceHint: 'use --force to replace it',
          inputs: [{ label: '--data', path: flags.data }, { label: '--prepare-cache', path: flags.prepareCache }],
        },
        quiet,
      );
      const engine = await startEngine(cmd);
      const selection = await openSelection(flags, { k }, quiet);
      note(quiet, `engine: ${describeEngine(engine)}`);
      const { train, test } = splitDataset(selection.samples, split);
      note(quiet, `data: ${selection.identities.length} identities, ${train.length} train / ${test.length} test images`);

      const t0 = performance.now();
      let bar = progress('features', train.length, quiet);
      let phase = 'features';
      const { classifier, skipped, warnings: trainWarnings } = await trainClassifier(train, selection.identities, opts, (p) => {
        if (p.phase !== phase) {
          bar.stop();
          bar = progress('epochs', p.total, quiet);
          phase = p.phase;
        }
        const e = p.epoch;
        const val = e && e.val_loss !== null ? ` val_loss ${e.val_loss.toFixed(4)} val_acc ${e.val_accuracy!.toFixed(3)}` : '';
        bar.update(p.done, e ? `loss ${e.loss.toFixed(4)}${val}` : '');
      });
      bar.stop();
      trainWarnings.forEach(warnings.add);
      try {
        const trainSeconds = (performance.now() - t0) / 1000;
        const t1 = performance.now();
        const evalBar = progress('evaluate', test.length, quiet);
        const preds = await predictAll(classifier, readBatches(test, 32, { ...opts.load, ...loadFor(classifier.backbone) }, skipped), (n) => evalBar.update(n));
        evalBar.stop();
        // A split with no (readable) test image still yields a model, just no clean scores.
        const report = preds.yTrue.length > 0 ? reportFor(preds, selection.identities) : undefined;
        classifier.meta.training = {
          ...classifier.meta.training,
          data: flags.data,
          backbone: classifier.backbone.name,
          layout: flags.layout,
          split,
          wall_seconds: round(trainSeconds),
          ...(warnings.list.length > 0 ? { warnings: warnings.list } : {}),
        };
        if (report) {
          classifier.meta.clean_scores = {
            split: 'test',
            samples: preds.yTrue.length,
            accuracy: report.accuracy,
            balanced_accuracy: report.balanced_accuracy,
            macro_f1: report.macro_avg.f1,
            evaluate_seconds: round((performance.now() - t1) / 1000),
          };
        }
        await writeDirAtomic(flags.out, (tmp) => classifier.saveTo(tmp), { replaceIf: flags.force ? MODEL_OUTPUT.owns : undefined, what: '--out' });
        for (const s of skipped) process.stderr.write(`skipped ${s.file}: ${s.reason}\n`);
        warnings.print();
        const best = classifier.meta.training.best_epoch;
        process.stdout.write(report ? `${formatReport(report)}\n` : 'no test images: no clean report\n');
        note(quiet, `trained in ${round(trainSeconds)} s (best epoch ${best}); saved ${flags.out}`);
      } finally {
        classifier.dispose();
      }
    });
}

const round = (x: number): number => roundTo(x, 2);
