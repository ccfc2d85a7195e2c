/** `robustify embed IMAGE... [--json]`: the backbone's 128-d face descriptor of each image. */
import { Command, Option } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { CHIP_MODES, parseChipMode, toChip } from '../../data/index.js';
import { decodeImage, imagesToBatch } from '../../image/index.js';
import { BACKBONE_INPUT_SIZE, FaceRecognitionNet } from '../../models/backbone.js';
import { startEngine } from '../run.js';

interface EmbedFlags {
  json?: boolean;
  chip: string;
}

export function registerEmbed(program: Command): void {
  program
    .command('embed')
    .description('128-d face descriptors (input resized to 150×150 as --chip says)')
    .argument('<image...>', 'face images')
    .option('--json', 'print JSON: [{ "file", "descriptor": [128 numbers] }]')
    .addOption(new Option('--chip <mode>', 'how faces become 150×150 inputs').choices([...CHIP_MODES]).default('auto'))
    .action(async (files: string[], flags: EmbedFlags, cmd: Command) => {
      const chip = parseChipMode(flags.chip);
      const images = await Promise.all(files.map(async (f) => toChip(await decodeImage(f), BACKBONE_INPUT_SIZE, chip)));
      await startEngine(cmd);
      const net = await FaceRecognitionNet.load();
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
