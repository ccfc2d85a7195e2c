/** BMCNN, the block-matching CNN denoiser: model, block matching, training, noise helpers. */
export {
  Bmcnn, DEFAULT_WEIGHTS_DIR, defaultConfig, SIGMA_LIMITS, type BmcnnConfig, type DenoiseOptions, type MatchPlan,
} from './model.js';
export { blockMatch, matchCells, gatherIndices, DEFAULT_MATCH, type MatchOptions } from './match.js';
export { trainBmcnn, TRAIN_DEFAULTS, type TrainOptions, type TrainRecord } from './train.js';
export { addNoise, psnr } from './noise.js';
