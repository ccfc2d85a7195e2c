/** `robustify embed IMAGE... [--json] [--backbone PATH]`: the backbone's face descriptor of each image. */
import { Command, Option } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { CHIP_MODES, parseChipMode, toChip } from '../../data/index.js';
import { decodeImage, imagesToBatch, type RgbImage } from '../../image/index.js';
import { backboneSource, openBackbone } from '../../models/backbones.js';
import { addBackboneOptions, backboneFromFlags, type BackboneFlags } from '../backbone-options.js';
import { addMaxPixelsOption, parseMaxPixels, Warnings } from '../decode-options.js';
import { startEngine } from '../run.js';

interface EmbedFlags extends BackboneFlags {
  json?: boolean;
  chip: string;
  maxPixels: string;
}

/** Images decoded and embedded together: decoded images are held only for one batch. */
const BATCH = 32;

export function registerEmbed(program: Command): void {
  addMaxPixelsOption(addBackboneOptions(program.command('embed')))
    .description("face descriptors (the built-in net's 128-d, or --backbone's embedding; inputs fitted as --chip says)")
    .argument('<image...>', 'face images')
    .option('--json', 'print JSON: [{ "file", "descriptor": [numbers], "warnings"?: [what was changed on reading] }]')
    .addOption(new Option('--chip <mode>', "how faces become the network's inputs").choices([...CHIP_MODES]).default('auto'))
    .action(async (files: string[], flags: EmbedFlags, cmd: Command) => {
      const chip = parseChipMode(flags.chip);
      const maxPixels = parseMaxPixels(flags.maxPixels);
      const source = (await backboneFromFlags(flags)) ?? backboneSource(undefined);
      const warnings = new Warnings();
      const perFile: string[][] = files.map(() => []);
      const decode = (i: number): Promise<RgbImage> =>
        decodeImage(files[i], undefined, {
          maxPixels,
          onWarning: (m) => {
            perFile[i].push(m);
            warnings.add(m);
          },
        });
      // The first batch is decoded before the engine starts, so a bad first file fails at once.
      let decoded: RgbImage[] | undefined = await Promise.all(files.slice(0, BATCH).map((_, j) => decode(j)));
      await startEngine(cmd);
      const net = await openBackbone(source);
      const out: { file: string; descriptor: number[]; warnings?: string[] }[] = [];
      try {
        for (let i = 0; i < files.length; i += BATCH) {
          const raw = decoded ?? (await Promise.all(files.slice(i, i + BATCH).map((_, j) => decode(i + j))));
          decoded = undefined;
          const x = imagesToBatch(raw.map((img) => toChip(img, net.inputSize, chip, net.alignment)));
          const d = net.descriptor(x);
          const rows = (await d.array()) as number[][];
          tf.dispose([x, d]);
          rows.forEach((descriptor, j) => out.push({ file: files[i + j], descriptor, ...(perFile[i + j].length > 0 ? { warnings: perFile[i + j] } : {}) }));
        }
      } finally {
        net.dispose();
      }
      warnings.print();
      if (flags.json) process.stdout.write(JSON.stringify(out) + '\n');
      else for (const r of out) process.stdout.write(`${r.file}\t${r.descriptor.map((v) => v.toFixed(6)).join(' ')}\n`);
    });
}
