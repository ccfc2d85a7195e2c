/** `robustify embed IMAGE... [--json] [--backbone PATH]`: the backbone's face descriptor of each image. */
import { Command, Option } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { CHIP_MODES, parseChipMode, toChip } from '../../data/index.js';
import { decodeImage, imagesToBatch } from '../../image/index.js';
import { backboneSource, openBackbone } from '../../models/backbones.js';
import { addBackboneOptions, backboneFromFlags, type BackboneFlags } from '../backbone-options.js';
import { startEngine } from '../run.js';

interface EmbedFlags extends BackboneFlags {
  json?: boolean;
  chip: string;
}

export function registerEmbed(program: Command): void {
  addBackboneOptions(program.command('embed').description("face descriptors (the built-in net's 128-d, or --backbone's embedding; inputs fitted as --chip says)"))
    .argument('<image...>', 'face images')
    .option('--json', 'print JSON: [{ "file", "descriptor": [numbers] }]')
    .addOption(new Option('--chip <mode>', "how faces become the network's inputs").choices([...CHIP_MODES]).default('auto'))
    .action(async (files: string[], flags: EmbedFlags, cmd: Command) => {
      const chip = parseChipMode(flags.chip);
      const source = (await backboneFromFlags(flags)) ?? backboneSource(undefined);
      await startEngine(cmd);
      const net = await openBackbone(source);
      const images = await Promise.all(files.map(async (f) => toChip(await decodeImage(f), net.inputSize, chip, net.alignment))).catch((err) => {
        net.dispose();
        throw err;
      });
      const out: { file: string; descriptor: number[] }[] = [];
      for (let i = 0; i < images.length; i += 32) {
        const x = imagesToBatch(images.slice(i, i + 32));
        const d = net.descriptor(x);
        const rows = (await d.array()) as number[][];
        tf.dispose([x, d]);
        rows.forEach((descriptor, j) => out.push({ file: files[i + j], descriptor }));
      }
      net.dispose();
      if (flags.json) process.stdout.write(JSON.stringify(out) + '\n');
      else for (const r of out) process.stdout.write(`${r.file}\t${r.descriptor.map((v) => v.toFixed(6)).join(' ')}\n`);
    });
}
