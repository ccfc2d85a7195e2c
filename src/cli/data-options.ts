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
import { intOption, UsageError } from './run.js';

export interface DataFlags {
  data: string;
  layout: string;
  chip: string;
  skipBad?: boolean;
  testEvery: string;
  testOffset: string;
}

export const SPLITS = ['test', 'train', 'all'] as const;
export type SplitName = (typeof SPLITS)[number];

export function addDataOptions(cmd: Command, required = true): Command {
  const data = new Option('--data <dir>', 'face images: DIR/<identity>/*.png|jpg, or CelebA layout');
  if (required) data.makeOptionMandatory();
  return cmd
    .addOption(data)
    .addOption(new Option('--layout <layout>', 'dataset layout').choices(['auto', ...DATASET_LAYOUTS]).default('auto'))
    .addOption(new Option('--chip <mode>', 'how faces become 150×150 inputs (auto: 112×112 ArcFace crops are re-mapped to the dlib chip)').choices([...CHIP_MODES]).default('auto'))
    .option('--skip-bad', 'skip images that cannot be decoded (listed on stderr) instead of failing')
    .option('--test-every <n>', 'split: every n-th image of an identity (sorted by name) is test', '5')
    .option('--test-offset <i>', 'split: …namely those with index % n == i', '4');
}

export function splitOptions(f: DataFlags): Required<SplitOptions> {
  const testEvery = intOption('--test-every', f.testEvery, 2, 1000);
  return { testEvery, testOffset: intOption('--test-offset', f.testOffset, 0, testEvery - 1) };
}

export function loadOptions(f: DataFlags): LoadOptions {
  return { chip: parseChipMode(f.chip), skipBad: Boolean(f.skipBad) };
}

/** List and select: the top-K identities, or exactly the given ones (a trained model's). */
export async function openSelection(f: DataFlags, pick: { k: number } | { identities: string[] }): Promise<Selection> {
  const listing = await listDataset(f.data, { layout: parseDatasetLayout(f.layout) });
  return 'k' in pick ? selectTopK(listing, pick.k) : selectIdentities(listing, pick.identities);
}

export function pickSplit(samples: readonly Sample[], which: string, opts: SplitOptions): Sample[] {
  if (!(SPLITS as readonly string[]).includes(which)) throw new UsageError(`--split: expected one of ${SPLITS.join(', ')}, got '${which}'`);
  if (which === 'all') return [...samples];
  const s = splitDataset(samples, opts);
  return which === 'test' ? s.test : s.train;
}
