/** Datasets: listing (folder-per-identity, CelebA), top-K identities, deterministic splits, pixel loading. */
export {
  listDataset,
  detectLayout,
  parseDatasetLayout,
  identityComparator,
  compareText,
  isImageFile,
  DatasetError,
  DATASET_LAYOUTS,
  IMAGE_EXTENSIONS,
  CELEBA_IDENTITY_FILE,
  CELEBA_IMAGE_DIR,
  type DatasetLayout,
  type DatasetListing,
  type IdentityFiles,
  type ListOptions,
} from './listing.js';
export { selectTopK, selectIdentities, splitDataset, validationSplit, type Sample, type Selection, type Split, type SplitOptions } from './select.js';
export { CHIP_MODES, parseChipMode, toChip, type ChipMode, type ChipTemplate } from './chip.js';
export { loadImages, batches, readBatches, type LoadOptions, type Loaded, type Skipped, type Batch } from './load.js';
