/**
 * `robustify defend --pipeline P IN OUT [--seed N]`: run a defence pipeline over one image or a folder.
 *
 * OUT's extension picks the format for a file (.png, or .f32 = raw little-endian float32 HWC, lossless);
 * for a folder, --format, with the relative names mirrored. Each image gets its own seed derived from --seed
 * and its path relative to IN (its file name for a single file), so an image's output does not depend on
 * which other images are processed with it. Files are written atomically; a folder is built in a temporary
 * sibling and renamed into place, so a failure leaves nothing half-written.
 */
import { Command } from 'commander';
import { hashSeed } from '../../util/random.js';
import { buildPipeline, defenceNames, describeDefenceParams, getDefence, parsePipeline, formatPipeline, type Pipeline } from '../../defences/index.js';
// Registers the `bmcnn` stage (its weights load only when a pipeline uses it).
import { addMaxPixelsOption, Warnings } from '../decode-options.js';
import { transformImages, transformOptions } from '../image-files.js';
import { intOption, startEngine, UsageError } from '../run.js';

interface DefendFlags {
  pipeline: string;
  seed?: string;
  format: string;
  maxPixels: string;
}

export function registerDefend(program: Command): void {
  const cmd = program.command('defend');
  addMaxPixelsOption(cmd)
    .description('apply a preprocessing defence pipeline to an image or a folder of images')
    .argument('<IN>', 'an image (png, jpg, webp) or a folder of them (searched recursively)')
    .argument('<OUT>', 'output file (.png or .f32) or, for a folder IN, a new folder')
    .requiredOption(
      '--pipeline <P>',
      "stages in order, e.g. 'median:3,jpeg:20', 'tvm:prob=0.3,lamb=0.5', or JSON [{\"name\":\"jpeg\",\"params\":{\"quality\":20}}]; 'none' = identity",
    )
    .option('--seed <n>', 'seed for stochastic stages (gauss, tvm); default: fresh randomness each run')
    .option('--format <fmt>', 'output format for a folder: png or f32 (raw float32 HWC, lossless)', 'png')
    .addHelpText('after', () => `\nDefences (a bare number sets the main parameter: jpeg:20 = jpeg:quality=20):\n${defenceHelp()}`)
    .action(async (input: string, output: string, flags: DefendFlags, cmd: Command) => {
      let stages;
      try {
        stages = parsePipeline(flags.pipeline);
      } catch (err) {
        throw new UsageError(`--pipeline: ${(err as Error).message.replace(/^pipeline: /, '')}`);
      }
      const seed = flags.seed === undefined ? undefined : intOption('--seed', flags.seed, 0, 2 ** 32 - 1);
      const warnings = new Warnings();
      const opts = transformOptions('defend', flags, cmd, warnings);
      const { quiet } = opts;
      let pipeline: Pipeline | undefined;
      const count = await transformImages(input, output, opts, {
        prepare: async () => {
          await startEngine(cmd);
          pipeline = await buildPipeline(stages);
        },
        // Each image's seed comes from --seed and its relative path, not from the other images.
        transform: (x, rel) => pipeline!.apply(x, { seed: seed === undefined ? undefined : hashSeed(seed, rel) }),
      }).finally(() => pipeline?.dispose());
      warnings.print();
      if (!quiet) process.stderr.write(`defend: ${count} images through ${formatPipeline(stages)} → ${output}\n`);
    });
}

/** Each registered defence and its parameters, from their schemas. */
function defenceHelp(): string {
  return defenceNames()
    .map((name) => {
      const e = getDefence(name);
      const params = describeDefenceParams(e.params).map((l) => (l.startsWith(`${e.main}:`) ? `    ${l} (main)` : `    ${l}`));
      return [`  ${name} — ${e.description}`, ...params].join('\n');
    })
    .join('\n');
}
