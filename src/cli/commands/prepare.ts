/**
 * `robustify prepare RAW_DIR OUT_DIR`: detect, align and crop the faces of raw photos into a
 * folder-per-identity dataset with a manifest.
 */
import { Command } from 'commander';
import cliProgress from 'cli-progress';
import { parseTemplate } from '../../data/prepare/align.js';
import { parseLayout, prepareDirectory } from '../../data/prepare/directory.js';
import { addMaxPixelsOption, parseMaxPixels } from '../decode-options.js';
import { globalOptions, intOption, numberOption, startEngine, UsageError } from '../run.js';

interface PrepareFlags {
  layout: string;
  allFaces?: boolean;
  size?: string;
  template: string;
  margin: string;
  minScore: string;
  minFaceSize: string;
  maxPixels: string;
  pad: string;
  skipBad?: boolean;
}

function usage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new UsageError(`--${(err as Error).message}`);
  }
}

export function registerPrepare(program: Command): void {
  addMaxPixelsOption(program.command('prepare'))
    .description('detect, align and crop faces of raw photos into OUT_DIR/<identity>/*.png with a manifest.json')
    .argument('<RAW_DIR>', 'raw photos: <identity>/<photo> folders (--layout folder) or a CelebA folder')
    .argument('<OUT_DIR>', 'output folder (resumed if it holds a manifest.json from an earlier run)')
    .option('--layout <layout>', 'folder (folder per identity) or celeba (identity_CelebA.txt + img_celeba/)', 'folder')
    .option('--all-faces', 'keep every face of a photo (<name>_<k>.png), not only the largest')
    .option('--template <name>', 'alignment: dlib150 (the backbone\'s chips) or arcface112', 'dlib150')
    .option('--size <px>', 'chip side in pixels (default: the template\'s, 150 or 112)')
    .option('--margin <fraction>', 'extra border around the template face, as a fraction of the chip', '0')
    .option('--min-score <p>', 'minimum detector confidence', '0.5')
    .option('--min-face-size <px>', 'ignore faces whose detector box is smaller than this', '20')
    .option('--pad <fraction>', 'grey border added before detection, as a fraction of the photo side (for photos cropped to the face: 1.5)', '0')
    .option('--skip-bad', 'list unreadable or oversized photos as failed in the manifest and go on')
    .action(async (rawDir: string, outDir: string, flags: PrepareFlags, cmd: Command) => {
      const opts = {
        layout: usage(() => parseLayout(flags.layout)),
        template: usage(() => parseTemplate(flags.template)),
        allFaces: Boolean(flags.allFaces),
        size: flags.size === undefined ? undefined : intOption('--size', flags.size, 8, 4096),
        margin: numberOption('--margin', flags.margin, 0, 4),
        minScore: numberOption('--min-score', flags.minScore, 0, 1),
        minFaceSize: numberOption('--min-face-size', flags.minFaceSize, 0),
        maxPixels: parseMaxPixels(flags.maxPixels),
        pad: numberOption('--pad', flags.pad, 0, 2),
        skipBad: Boolean(flags.skipBad),
      };
      await startEngine(cmd);
      const quiet = Boolean(globalOptions(cmd).quiet);
      const bar = new cliProgress.SingleBar(
        { stream: process.stderr, format: 'prepare [{bar}] {value}/{total} photos | {eta_formatted} left | {source}', noTTYOutput: true, notTTYSchedule: 10_000 },
        cliProgress.Presets.legacy,
      );
      let started = false;
      let summary;
      try {
        summary = await prepareDirectory(rawDir, outDir, {
          ...opts,
          onProgress: quiet
            ? undefined
            : (done, total, source) => {
                if (!started) {
                  bar.start(total, 0, { source });
                  started = true;
                }
                bar.update(done, { source });
              },
        });
      } finally {
        if (started) bar.stop();
      }
      const s = summary;
      process.stderr.write(
        `prepare: ${s.images} photos (${s.skipped} already done): ${s.withFaces} with faces, ${s.noFace} without, ${s.failed} failed; ` +
          `${s.chips} chips; manifest ${s.manifest}\n`,
      );
    });
}
