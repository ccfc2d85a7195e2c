/**
 * `robustify denoise --sigma 20 IN OUT`: BMCNN-denoise one image or a folder of images.
 * Output format by extension for a file (.png, or .f32 = raw little-endian float32 HWC, lossless); for a
 * folder, --format. Folder outputs are written to a temporary sibling folder and renamed into place.
 */
import { Command } from 'commander';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { decodeImage, encodePng, imageToTensor, tensorToImage, writeF32 } from '../../image/index.js';
import { writeFileAtomic } from '../../util/fs.js';
import { Bmcnn, DEFAULT_WEIGHTS_DIR } from '../../denoise/model.js';
import { listImages } from '../../denoise/train.js';
import { globalOptions, numberOption, startEngine, UsageError } from '../run.js';

interface DenoiseFlags {
  sigma: string;
  ensemble: boolean;
  weights: string;
  format: string;
}

const FORMATS = ['png', 'f32'] as const;
type Format = (typeof FORMATS)[number];

async function denoiseFile(model: Bmcnn, sigma: number, src: string, dst: string, format: Format): Promise<void> {
  // One image per call: images in a folder may differ in size.
  const img = await decodeImage(src);
  const x = tf.tidy(() => tf.expandDims(imageToTensor(img), 0) as tf.Tensor4D);
  try {
    const y = await model.denoise(x, sigma);
    const out = await tensorToImage(y);
    y.dispose();
    if (format === 'png') await writeFileAtomic(dst, await encodePng(out));
    else await writeF32(dst, out);
  } finally {
    x.dispose();
  }
}

function formatOf(file: string): Format {
  const ext = path.extname(file).slice(1).toLowerCase();
  if ((FORMATS as readonly string[]).includes(ext)) return ext as Format;
  throw new UsageError(`OUT ${file}: extension must be .png or .f32`);
}

export function registerDenoise(program: Command): void {
  program
    .command('denoise')
    .description('remove Gaussian noise of level --sigma with BMCNN (file → file, or folder → folder)')
    .argument('<IN>', 'an image (png, jpg, webp) or a folder of them (searched recursively)')
    .argument('<OUT>', 'output file (.png or .f32) or, for a folder IN, a new folder')
    .requiredOption('--sigma <s>', 'noise standard deviation on the 0–255 scale (trained for 5–50)')
    .option('--weights <dir>', 'BMCNN weights folder (model.json + weights.bin)', DEFAULT_WEIGHTS_DIR)
    .option('--no-ensemble', 'one pass instead of the flip self-ensemble (half the time, ~0.5 dB less)')
    .option('--format <fmt>', 'output format for a folder: png or f32 (raw float32 HWC, lossless)', 'png')
    .action(async (input: string, output: string, flags: DenoiseFlags, cmd: Command) => {
      const sigma = numberOption('--sigma', flags.sigma, 0.5, 100);
      if (!(FORMATS as readonly string[]).includes(flags.format)) throw new UsageError(`--format: expected png or f32, got '${flags.format}'`);
      const stat = await fsp.stat(input).catch(() => undefined);
      if (!stat) throw new UsageError(`IN ${input}: no such file or folder`);
      const fileFormat = stat.isDirectory() ? undefined : formatOf(output);
      await startEngine(cmd);
      const model = await Bmcnn.load(flags.weights);
      model.ensemble = flags.ensemble;
      const quiet = Boolean(globalOptions(cmd).quiet);
      try {
        if (fileFormat) {
          await denoiseFile(model, sigma, input, output, fileFormat);
          return;
        }
        const files = await listImages(input);
        if (files.length === 0) throw new UsageError(`IN ${input}: no images (png, jpg, jpeg, webp) found`);
        const existing = await fsp.readdir(output).catch(() => undefined);
        if (existing && existing.length > 0) throw new UsageError(`OUT ${output}: folder exists and is not empty`);
        const tmp = `${output.replace(/[\\/]+$/, '')}.tmp-${process.pid}`;
        await fsp.rm(tmp, { recursive: true, force: true });
        try {
          for (const [i, f] of files.entries()) {
            const rel = path.relative(input, f);
            const dst = path.join(tmp, rel.slice(0, rel.length - path.extname(rel).length) + `.${flags.format}`);
            await fsp.mkdir(path.dirname(dst), { recursive: true });
            await denoiseFile(model, sigma, f, dst, flags.format as Format);
            if (!quiet) process.stderr.write(`denoise ${i + 1}/${files.length} ${rel}\n`);
          }
          if (existing) await fsp.rmdir(output);
          await fsp.rename(tmp, output);
        } catch (err) {
          await fsp.rm(tmp, { recursive: true, force: true });
          throw err;
        }
      } finally {
        model.dispose();
      }
    });
}
