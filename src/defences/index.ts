/** Preprocessing defences (ART semantics, see ../../../shared/spec/art-semantics.md) and ordered pipelines. */
export {
  type Preprocessor,
  type ApplyContext,
  type ParamSpec,
  type ParamSpecs,
  resolveParams,
  formatToken,
  formatValue,
  imageSeeds,
  identityGradient,
  IdentityGradientDefence,
} from './preprocessor.js';
export { JpegCompression, JPEG_PARAMS, jpegRoundTrip } from './jpeg.js';
export { GaussianAugmentation, GAUSS_PARAMS } from './gaussian.js';
export { SpatialSmoothing, MEDIAN_PARAMS, medianFilter } from './median.js';
export { TvmPlaneObjective, type TvmLbfgsOptions, type TvmLbfgsStats } from './tvm-lbfgs.js';
export { totalVarMinimise, totalVarMinimiseLbfgs } from './tvm-planes.js';
export type { TvmOptions } from './tvm-pdhg.js';
export { PipelineApplier, imageKeys, stageContext, prefixesOf, type PackedImages } from './applier.js';
export { TotalVarMin, TVM_PARAMS, TVM_SOLVER, ITERATIONS_PER_MAX_ITER, pdhgIterations, tvmObjective, drawMask } from './tvm.js';
export { FeatureSqueezing, SQUEEZE_PARAMS, squeezeValues } from './squeeze.js';
export {
  Pipeline,
  parsePipeline,
  parsePipelineJson,
  formatPipeline,
  formatPipelineShort,
  buildPipeline,
  registerDefence,
  defenceNames,
  getDefence,
  type StageSpec,
  type DefenceFactory,
  type DefenceEntry,
  type RegisterOptions,
} from './pipeline.js';
