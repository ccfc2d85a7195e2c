/**
 * `robustify bmcnn train`: train the BMCNN denoiser (pilot, then the block-matching net) into a weights folder.
 */
import { Command } from 'commander';
import { LOSSES, TRAIN_DEFAULTS, trainBmcnn, type LossName } from '../../denoise/train.js';
import { addMaxPixelsOption, parseMaxPixels, Warnings } from '../decode-options.js';
import { globalOptions, intOption, numberOption, startEngine, UsageError } from '../run.js';

function parseLoss(name: string): LossName {
  if ((LOSSES as readonly string[]).includes(name)) return name as LossName;
  throw new UsageError(`--loss: expected ${LOSSES.join(' or ')}, got '${name}'`);
}

interface TrainFlags {
  data: string;
  out: string;
  steps: string;
  pilotSteps: string;
  pilotFrom?: string;
  initFrom?: string;
  sigmaMin: string;
  sigmaMax: string;
  patch: string;
  batch: string;
  seed: string;
  resume?: boolean;
  lr: string;
  loss: string;
  matches: string;
  radius: string;
  width: string;
  depth: string;
  valEvery: string;
  valImages: string;
  maxPixels: string;
}

export function registerBmcnn(program: Command): void {
  const bmcnn = program.command('bmcnn').description('the BMCNN denoiser (block-matching CNN)');
  const d = TRAIN_DEFAULTS;
  addMaxPixelsOption(bmcnn.command('train'))
    .description('train BMCNN on clean images with synthetic Gaussian noise; writes model.json, weights.bin, training.json')
    .requiredOption('--data <dir>', 'clean training images (searched recursively; every 10th is held out for validation)')
    .requiredOption('--out <dir>', 'weights folder (also holds the checkpoint while training)')
    .option('--steps <n>', 'training steps of the block-matching net', String(d.steps))
    .option('--pilot-steps <n>', 'training steps of the pilot denoiser', String(d.pilotSteps))
    .option('--pilot-from <dir>', 'reuse the pilot of an already trained model instead of training one')
    .option('--init-from <dir>', 'continue training a finished model (both nets): --steps more steps of the block-matching net')
    .option('--sigma-min <s>', 'smallest training noise σ (0–255 scale)', String(d.sigmaMin))
    .option('--sigma-max <s>', 'largest training noise σ (0–255 scale)', String(d.sigmaMax))
    .option('--patch <px>', 'side of the training crops (even)', String(d.patch))
    .option('--batch <n>', 'crops per step', String(d.batch))
    .option('--seed <n>', 'seed of initialisation, crops and noise', String(d.seed))
    .option('--resume', 'continue from the checkpoint in --out')
    .option('--lr <rate>', 'Adam learning rate (cosine-decayed to 5%)', String(d.lr))
    .option('--loss <name>', `training loss: ${LOSSES.join(' or ')} (each crop's MSE × (25/σ)²)`, d.loss)
    .option('--matches <k>', 'patches per matched group (1 = ablation without block matching)', String(d.matches))
    .option('--radius <px>', 'block-matching search radius', String(d.radius))
    .option('--width <n>', 'channels of the block-matching net', String(d.width))
    .option('--depth <n>', 'convolutions of the block-matching net', String(d.depth))
    .option('--val-every <n>', 'validate every n steps', String(d.valEvery))
    .option('--val-images <n>', 'held-out images used for validation', String(d.valImages))
    .action(async (flags: TrainFlags, cmd: Command) => {
      const sigmaMin = numberOption('--sigma-min', flags.sigmaMin, 0.5, 100);
      const opts = {
        data: flags.data,
        out: flags.out,
        steps: intOption('--steps', flags.steps, 0),
        pilotSteps: intOption('--pilot-steps', flags.pilotSteps, 0),
        pilotFrom: flags.pilotFrom,
        initFrom: flags.initFrom,
        sigmaMin,
        sigmaMax: numberOption('--sigma-max', flags.sigmaMax, sigmaMin, 100),
        patch: intOption('--patch', flags.patch, 8, 512),
        batch: intOption('--batch', flags.batch, 1, 1024),
        seed: intOption('--seed', flags.seed, 0),
        resume: Boolean(flags.resume),
        lr: numberOption('--lr', flags.lr, 1e-6, 1),
        loss: parseLoss(flags.loss),
        matches: intOption('--matches', flags.matches, 1, 16),
        radius: intOption('--radius', flags.radius, 1, 32),
        width: intOption('--width', flags.width, 4, 256),
        depth: intOption('--depth', flags.depth, 2, 32),
        valEvery: intOption('--val-every', flags.valEvery, 1),
        checkpointEvery: TRAIN_DEFAULTS.checkpointEvery,
        valImages: intOption('--val-images', flags.valImages, 1),
        maxPixels: parseMaxPixels(flags.maxPixels),
      };
      const warnings = new Warnings();
      await startEngine(cmd);
      const quiet = Boolean(globalOptions(cmd).quiet);
      await trainBmcnn({ ...opts, onWarning: warnings.add, log: (line) => { if (!quiet) process.stderr.write(`${line}\n`); } });
      warnings.print();
    });
}
