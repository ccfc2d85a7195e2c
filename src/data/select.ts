/** Choosing the identities to classify, and splitting their samples. */
import path from 'node:path';
import { createRandom } from '../util/random.js';
import { compareText, DatasetError, identityComparator, type DatasetListing } from './listing.js';
import { param } from '../util/errors.js';

/** One image of a dataset: file, identity, label. */
export interface Sample {
  file: string;
  identity: string;
  label: number;
}

/** The identities chosen from a listing and their samples. */
export interface Selection {
  /** The chosen identities; label i is identities[i]. */
  identities: string[];
  /** Images per chosen identity, same order. */
  counts: number[];
  /** Every image of the chosen identities, by label then file name. */
  samples: Sample[];
}

/**
 * The `k` most populated identities. Ties in population are broken by identity order (the order labels use:
 * numeric for all-number names, else code-unit order), the earlier name winning. Labels 0..k−1 then follow
 * that identity order, independent of population.
 *
 * @example
 * ```ts
 * import { selectTopK } from 'robustify';
 * const listing = { root: 'data', layout: 'folder' as const, identities: [{ name: 'alice', files: ['a/1.png', 'a/2.png'] }, { name: 'bob', files: ['b/1.png'] }], missing: [] };
 * console.log(selectTopK(listing, 1).identities); // ['alice']; with a real folder see {@link listDataset}
 * ```
 */
export function selectTopK(listing: DatasetListing, k: number): Selection {
  const available = listing.identities.length;
  if (!Number.isInteger(k) || k < 1) throw DatasetError.of`${param('identities')}: expected a whole number ≥ 1, got ${k}`;
  if (k > available) {
    throw DatasetError.of`${param('identities')}: ${k} requested but '${listing.root}' has only ${available} identit${available === 1 ? 'y' : 'ies'}`;
  }
  const order = identityComparator(listing.identities.map((i) => i.name));
  const chosen = [...listing.identities]
    .sort((a, b) => b.files.length - a.files.length || order(a.name, b.name))
    .slice(0, k)
    .sort((a, b) => order(a.name, b.name));
  return {
    identities: chosen.map((i) => i.name),
    counts: chosen.map((i) => i.files.length),
    samples: chosen.flatMap((id, label) => id.files.map((file) => ({ file, identity: id.name, label }))),
  };
}

/** The named identities (e.g. a trained model's, in its label order); every one must be in the listing. */
export function selectIdentities(listing: DatasetListing, names: readonly string[]): Selection {
  const byName = new Map(listing.identities.map((i) => [i.name, i]));
  const missing = names.filter((n) => !byName.has(n));
  if (missing.length > 0) {
    throw DatasetError.of`${param('data')}: '${listing.root}' lacks ${missing.length} of the model's identities (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''})`;
  }
  const chosen = names.map((n) => byName.get(n)!);
  return {
    identities: [...names],
    counts: chosen.map((i) => i.files.length),
    samples: chosen.flatMap((id, label) => id.files.map((file) => ({ file, identity: id.name, label }))),
  };
}

/** Samples grouped by label (ascending), each group sorted by file name, then by full path. */
function byLabel(samples: readonly Sample[]): Sample[][] {
  const groups = new Map<number, Sample[]>();
  for (const s of samples) {
    const g = groups.get(s.label);
    if (g) g.push(s);
    else groups.set(s.label, [s]);
  }
  return [...groups.keys()]
    .sort((a, b) => a - b)
    .map((label) => (groups.get(label) as Sample[]).sort((p, q) => compareText(path.basename(p.file), path.basename(q.file)) || compareText(p.file, q.file)));
}

export interface SplitOptions {
  /** Every `testEvery`-th image of an identity goes to test (default 5). */
  testEvery?: number;
  /** …namely those whose index i (0-based, files sorted by name) has i % testEvery == testOffset (default 4). */
  testOffset?: number;
}

/** A train/test split of samples. */
export interface Split {
  train: Sample[];
  test: Sample[];
}

/**
 * Deterministic train/test split per identity: files sorted by name, index % testEvery == testOffset → test.
 * The defaults put 7 of every 35 images in test (faces14: 392 train / 98 test, like the paper's 98).
 *
 * @example
 * ```ts
 * import { splitDataset } from 'robustify';
 * const samples = [0, 1, 2, 3, 4].map((i) => ({ file: `alice/${i}.png`, identity: 'alice', label: 0 }));
 * console.log(splitDataset(samples).test); // the image at index 4 (every 5th, offset 4); see {@link listDataset}
 * ```
 */
export function splitDataset(samples: readonly Sample[], opts: SplitOptions = {}): Split {
  const every = opts.testEvery ?? 5;
  const offset = opts.testOffset ?? 4;
  if (!Number.isInteger(every) || every < 1) throw new Error(`testEvery: expected a whole number ≥ 1, got ${every}`);
  if (!Number.isInteger(offset) || offset < 0 || offset >= every) {
    throw new Error(`testOffset: expected a whole number in 0…${every - 1}, got ${offset}`);
  }
  const split: Split = { train: [], test: [] };
  for (const group of byLabel(samples)) group.forEach((s, i) => (i % every === offset ? split.test : split.train).push(s));
  return split;
}

/**
 * Carve a validation part out of a training split (for early stopping), stratified per identity:
 * round(n · fraction) of each identity's n samples, chosen by a generator seeded with `seed` and the label,
 * but never an identity's last training sample. Both parts keep the input order.
 */
export function validationSplit(train: readonly Sample[], fraction: number, seed: number | string): { train: Sample[]; validation: Sample[] } {
  if (!(fraction >= 0 && fraction < 1)) throw new Error(`validation fraction: expected a number in [0, 1), got ${fraction}`);
  const rng = createRandom(seed);
  const held = new Set<Sample>();
  for (const group of byLabel(train)) {
    const n = Math.min(Math.round(group.length * fraction), group.length - 1);
    // A generator per label: an identity's choice does not depend on the other identities.
    for (const s of rng.fork(group[0].label).shuffle([...group]).slice(0, n)) held.add(s);
  }
  return { train: train.filter((s) => !held.has(s)), validation: train.filter((s) => held.has(s)) };
}
