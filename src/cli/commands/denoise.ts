/**
 * `robustify denoise --sigma 20 IN OUT`: BMCNN-denoise one image or a folder of images.
 * Output format by extension for a file (.png, or .f32 = raw little-endian float32 HWC, lossless); for a
 * folder, --format. Folder outputs are written to a temporary sibling folder and renamed into place.
 */
import { Command } from 'commander';
import { Bmcnn, DEFAULT_WEIGHTS_DIR } from '../../denoise/model.js';
import { addMaxPixelsOption, Warnings } from '../decode-options.js';
import { transformImages, transformOptions } from '../image-files.js';
import { numberOption, startEngine } from '../run.js';

interface DenoiseFlags {
  sigma: string;
  ensemble?: boolean;
  weights: string;
  format: string;
  maxPixels: string;
}

export function registerDenoise(program: Command): void {
  const cmd = program.command('denoise');
  addMaxPixelsOption(cmd)
    .description('remove Gaussian noise of level --sigma with BMCNN (file → file, or folder → folder)')
    .argument('<IN>', 'an image (png, jpg, webp) or a folder of them (searched recursively)')
    .argument('<OUT>', 'output file (.png or .f32) or, for a folder IN, a new folder')
    .requiredOption('--sigma <s>', 'noise standard deviation on the 0–255 scale (trained for 5–50)')
    .option('--weights <dir>', 'BMCNN weights folder (model.json + weights.bin)', DEFAULT_WEIGHTS_DIR)
    .option('--ensemble', 'flip self-ensemble: also denoise the mirror image and average (twice the time, ~0.6 dB more)')
    .option('--format <fmt>', 'output format for a folder: png or f32 (raw float32 HWC, lossless)', 'png')
    .action(async (input: string, output: string, flags: DenoiseFlags, cmd: Command) => {
      const sigma = numberOption('--sigma', flags.sigma, 0.5, 100);
      const warnings = new Warnings();
      const opts = transformOptions('denoise', flags, cmd, warnings);
      let model: Bmcnn | undefined;
      try {
        await transformImages(input, output, opts, {
          prepare: async () => {
            await startEngine(cmd);
            model = await Bmcnn.load(flags.weights);
            model.ensemble = Boolean(flags.ensemble);
          },
          // One image per call: images in a folder may differ in size.
          transform: (x) => model!.denoise(x, sigma),
        });
        warnings.print();
      } finally {
        model?.dispose();
      }
    });
}
