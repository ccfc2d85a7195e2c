/** `robustify embed IMAGE... [--json]`: the backbone's 128-d face descriptor of each image. */
import { Command, Option } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { CHIP_MODES, parseChipMode, toChip } from '../../data/index.js';
import { decodeImage, imagesToBatch, type RgbImage } from '../../image/index.js';
import { BACKBONE_INPUT_SIZE, FaceRecognitionNet } from '../../models/backbone.js';
import { addMaxPixelsOption, parseMaxPixels, Warnings } from '../decode-options.js';
import { startEngine } from '../run.js';

interface EmbedFlags {
  json?: boolean;
  chip: string;
  maxPixels: string;
}

/** Images decoded and embedded together: decoded images are held only for one batch. */
const BATCH = 32;

export function registerEmbed(program: Command): void {
  addMaxPixelsOption(program.command('embed'))
    .description('128-d face descriptors (input resized to 150×150 as --chip says)')
    .argument('<image...>', 'face images')
    .option('--json', 'print JSON: [{ "file", "descriptor": [128 numbers], "warnings"?: [what was changed on reading] }]')
    .addOption(new Option('--chip <mode>', 'how faces become 150×150 inputs').choices([...CHIP_MODES]).default('auto'))
    .action(async (files: string[], flags: EmbedFlags, cmd: Command) => {
      const chip = parseChipMode(flags.chip);
      const maxPixels = parseMaxPixels(flags.maxPixels);
      const warnings = new Warnings();
      const perFile: string[][] = files.map(() => []);
      const load = (i: number): Promise<RgbImage> =>
        decodeImage(files[i], undefined, {
          maxPixels,
          onWarning: (m) => {
            perFile[i].push(m);
            warnings.add(m);
          },
        }).then((img) => toChip(img, BACKBONE_INPUT_SIZE, chip));
      // The first batch is decoded before the engine starts, so a bad first file fails at once.
      let images = await Promise.all(files.slice(0, BATCH).map((_, j) => load(j)));
      await startEngine(cmd);
      const net = await FaceRecognitionNet.load();
      const out: { file: string; descriptor: number[]; warnings?: string[] }[] = [];
      try {
        for (let i = 0; i < files.length; i += BATCH) {
          if (i > 0) images = await Promise.all(files.slice(i, i + BATCH).map((_, j) => load(i + j)));
          const x = imagesToBatch(images);
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
