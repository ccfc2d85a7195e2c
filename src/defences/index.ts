/**
 * `robustify/defences`: preprocessing defences with ART's semantics, ordered pipelines, and what a plugin
 * needs to write and register its own (`registerDefence`, `IdentityGradientDefence`, `checkBatch`,
 * `mapBatch`, `resolveSeed`, `imageSeeds`).
 *
 * @example
 * ```ts
 * import { buildPipeline, defenceNames } from 'robustify/defences';
 * console.log(defenceNames()); // ['jpeg', 'gauss', 'median', 'tvm', 'squeeze', 'bmcnn']
 * const pipeline = await buildPipeline('median:3,jpeg:20');
 * ```
 * @module
 */
export {
  type Preprocessor,
  type ApplyContext,
  type ParamSpec,
  type ParamSpecs,
  D,
  paramSpecs,
  describeDefenceParams,
  IdentityGradientDefence,
  identityGradient,
  checkBatch,
  mapBatch,
  resolveSeed,
  imageSeeds,
  resolveParams,
  formatToken,
  clip255,
} from './preprocessor.js';
export { JpegCompression, JPEG_PARAMS } from './jpeg.js';
export { GaussianAugmentation, GAUSS_PARAMS } from './gaussian.js';
export { SpatialSmoothing, MEDIAN_PARAMS } from './median.js';
export { TotalVarMin, TVM_PARAMS } from './tvm.js';
export { FeatureSqueezing, SQUEEZE_PARAMS } from './squeeze.js';
export {
  Pipeline,
  parsePipeline,
  parsePipelineJson,
  formatPipeline,
  formatPipelineShort,
  buildPipeline,
  createDefence,
  type StageSpec,
} from './pipeline.js';
export { registerDefence, defenceNames, getDefence, type DefenceFactory, type DefenceEntry, type RegisterOptions } from './registry.js';
