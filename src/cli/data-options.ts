/** Options every data-reading command shares (--data, --layout, --chip, --split, --skip-bad …). */
import { Command, Option } from 'commander';
import {
  CHIP_MODES,
  DATASET_LAYOUTS,
  listDataset,
  parseChipMode,
  parseDatasetLayout,
  selectIdentities,
  selectTopK,
  splitDataset,
  type LoadOptions,
  type Sample,
  type Selection,
  type SplitOptions,
} from '../data/index.js';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { parseLayout, prepareDirectory } from '../data/prepare/index.js';
import { addMaxPixelsOption, parseMaxPixels, type Warnings } from './decode-options.js';
import { note, progress } from './progress.js';
import { intOption, UsageError } from './run.js';

/** Where the images come from and how they are read. */
export interface SourceFlags {
  data: string;
  prepare?: boolean;
  prepareCache?: string;
  layout: string;
  chip: string;
  skipBad?: boolean;
  maxPixels: string;
}

export interface DataFlags extends SourceFlags {
  testEvery: string;
  testOffset: string;
}

export const SPLITS = ['test', 'train', 'all'] as const;
export type SplitName = (typeof SPLITS)[number];

/** `split`: whether the command takes --test-every/--test-offset (the study takes its split from its config). */
export function addDataOptions(cmd: Command, required = true, split = true): Command {
  const data = new Option('--data <dir>', 'face images: DIR/<identity>/*.png|jpg, or CelebA layout');
  if (required) data.makeOptionMandatory();
  cmd
    .addOption(data)
    .addOption(new Option('--layout <layout>', 'dataset layout').choices(['auto', ...DATASET_LAYOUTS]).default('auto'))
    .addOption(new Option('--chip <mode>', 'how faces become 150×150 inputs (auto: 112×112 ArcFace crops are re-mapped to the dlib chip)').choices([...CHIP_MODES]).default('auto'))
    .option('--skip-bad', 'skip images that cannot be decoded (listed on stderr) instead of failing')
    .option('--prepare', 'the data are raw photos: detect, align and crop faces first (cached, resumable)')
    .option('--prepare-cache <dir>', 'where --prepare keeps its aligned faces (default: ~/.cache/robustify/prepared/<hash of --data>)');
  addMaxPixelsOption(cmd);
  if (!split) return cmd;
  return cmd
    .option('--test-every <n>', 'split: every n-th image of an identity (sorted by name) is test', '5')
    .option('--test-offset <i>', 'split: …namely those with index % n == i', '4');
}

export function splitOptions(f: DataFlags): Required<SplitOptions> {
  const testEvery = intOption('--test-every', f.testEvery, 2, 1000);
  return { testEvery, testOffset: intOption('--test-offset', f.testOffset, 0, testEvery - 1) };
}

/** How images are decoded; what was accepted but changed goes to `warnings`. */
export function loadOptions(f: SourceFlags, warnings?: Warnings): LoadOptions {
  return { chip: parseChipMode(f.chip), skipBad: Boolean(f.skipBad), maxPixels: parseMaxPixels(f.maxPixels), onWarning: warnings?.add };
}

/**
 * With --prepare (the engine must be started), detect and align the raw photos of --data into the cache (resuming what an earlier run did)
 * and return the folder of aligned faces; otherwise --data itself.
 */
async function preparedData(f: SourceFlags, quiet: boolean): Promise<{ dir: string; layout: string }> {
  if (!f.prepare) return { dir: f.data, layout: f.layout };
  const layout = f.layout === 'auto' ? 'folder' : f.layout;
  const cache = f.prepareCache ?? path.join(os.homedir(), '.cache', 'robustify', 'prepared', createHash('sha256').update(path.resolve(f.data)).digest('hex').slice(0, 16));
  const bar = progress('prepare', 1, quiet);
  const summary = await prepareDirectory(f.data, cache, {
    layout: parseLayout(layout),
    skipBad: Boolean(f.skipBad),
    maxPixels: parseMaxPixels(f.maxPixels),
    onProgress: (done, total) => {
      bar.setTotal(total);
      bar.update(done);
    },
  });
  bar.stop();
  note(quiet, `prepare: ${summary.chips} faces from ${summary.images} photos (${summary.noFace} without a face, ${summary.failed} failed) in ${cache}`);
  return { dir: cache, layout: 'folder' };
}

/** List and select: the top-K identities, or exactly the given ones (a trained model's). */
export async function openSelection(f: SourceFlags, pick: { k: number } | { identities: string[] }, quiet = false): Promise<Selection> {
  const { dir, layout } = await preparedData(f, quiet);
  const listing = await listDataset(dir, { layout: parseDatasetLayout(layout) });
  return 'k' in pick ? selectTopK(listing, pick.k) : selectIdentities(listing, pick.identities);
}

export function pickSplit(samples: readonly Sample[], which: string, opts: SplitOptions): Sample[] {
  if (!(SPLITS as readonly string[]).includes(which)) throw new UsageError(`--split: expected one of ${SPLITS.join(', ')}, got '${which}'`);
  if (which === 'all') return [...samples];
  const s = splitDataset(samples, opts);
  return which === 'test' ? s.test : s.train;
}
