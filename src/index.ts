/**
 * robustify's public API (`import … from 'robustify'`): the engine, models and classifiers, attacks,
 * defences and pipelines, the registries plugins add to, metrics, data and images, and the study. Subpaths:
 * `robustify/attacks`, `robustify/defences` (the same names, each family alone), `robustify/queue` (the
 * study's BullMQ coordinator and worker, apart so that this entry does not load bullmq).
 *
 * @example
 * ```ts
 * import { tf, initEngine, classifierFromLogits, createAttack, buildPipeline, DefendedClassifier, predictLabels } from 'robustify';
 * await initEngine();
 * const w = tf.randomNormal([12 * 12 * 3, 3], 0, 0.01, 'float32', 1);
 * const model = classifierFromLogits(3, (x) => tf.matMul(tf.reshape(tf.div(x, 255), [x.shape[0], -1]), w) as tf.Tensor2D);
 * const x = tf.randomUniform([4, 12, 12, 3], 0, 255, 'float32', 2) as tf.Tensor4D;
 * const adv = await createAttack('pgd', { eps: 8, eps_step: 1, max_iter: 10 }).generate(model, x);
 * const defended = new DefendedClassifier(model, await buildPipeline('median:3,jpeg:20'));
 * console.log(await predictLabels(model, adv), await predictLabels(defended, adv));
 * ```
 * @module
 */
/** The TF.js core robustify runs on: use this instance for tensors you hand to it (one engine, one registry of kernels). */
export * as tf from '@tensorflow/tfjs-core';
export { initEngine, describeEngine, type BackendName, type EngineInfo } from './engine/backend.js';
/** Await before `process.exit()` in your own signal handler: robustify's worker threads end between two native calls (exiting inside one aborts). */
export { stopWorkers } from './engine/pool/quit.js';

export { FaceRecognitionNet, BACKBONE_INPUT_SIZE } from './models/backbone.js';
export { FaceClassifier, classifierFromLogits, logitsLossGradient, predictLabels, type Classifier, type ClassifierMeta, type Labels, type PgdLoop } from './models/classifier.js';
export type { DenseHead } from './models/head.js';
export { DefendedClassifier } from './models/defended.js';
export { GalleryClassifier, VerificationClassifier, type GalleryOptions } from './models/gallery.js';
export { accelerate } from './models/native.js';
export { trainClassifier, DEFAULT_TRAIN_CLASSIFIER, type TrainClassifierOptions } from './models/train.js';
export { predictAll, reportFor, type Predictions } from './models/evaluate.js';
export { backboneSource, openBackbone, type Backbone, type BackboneSource } from './models/backbones.js';
export { registerRecogniserPreset, recogniserPresets, resolveSpec, RecogniserSpecSchema, type RecogniserSpec, type RecogniserSpecInput } from './models/recogniser.js';

export {
  type EvasionAttack, type Norm, type AttackHooks, type AttackProgress, SpecifiedAttack, project, checkLabels,
  ProjectedGradientDescent, FastGradientMethod, BasicIterativeMethod, AutoProjectedGradientDescent, TargetedAutoProjectedGradientDescent, SquareAttack,
  ExpectationOverTransformation, PGD_SPEC, type PgdParams,
  P, resolveAttackParams, describeParams, type AttackParams,
  registerAttack, attackNames, getAttack, createAttack, parseAttackToken, type AttackEntry, type AttackRequest,
  runSuite, parseSuite, SUITES, type SuiteResult, type SuiteOptions, minimumPerturbation, faceThreatSuite,
} from './attacks/index.js';

export {
  type Preprocessor, type ApplyContext, type ParamSpec, type ParamSpecs, D, paramSpecs, describeDefenceParams,
  IdentityGradientDefence, identityGradient, checkBatch, mapBatch, resolveSeed, imageSeeds, resolveParams, clip255,
  JpegCompression, GaussianAugmentation, SpatialSmoothing, TotalVarMin, FeatureSqueezing,
  Pipeline, parsePipeline, formatPipeline, buildPipeline, createDefence, type StageSpec,
  registerDefence, defenceNames, getDefence, type DefenceFactory, type DefenceEntry, type RegisterOptions,
} from './defences/index.js';
export { Bmcnn, type BmcnnConfig } from './denoise/model.js';
export type { ConvNet } from './denoise/net.js';

export { classificationReport, accuracyScore, balancedAccuracyScore, formatReport, type ClassificationReport, type ClassMetrics, type AverageMetrics } from './metrics/index.js';
export { listDataset, selectTopK, splitDataset, loadImages, batches, toChip, type Sample, type Selection, type Split, type Batch, type Loaded, type LoadOptions, type DatasetListing } from './data/index.js';
export { prepareImage, prepareDirectory, type PreparedImage, type PrepareDirSummary } from './data/prepare/index.js';
export { decodeImage, encodePng, encodeJpeg, imagesToBatch, tensorToImage, type RgbImage } from './image/index.js';

export { runStudy, type StudyInput, type StudyRun, type StudyResults, type StudyHooks, type StudyFigures, type DefenceRow, type TableResult } from './study/run.js';
export type { RobustSection } from './study/robust.js';
export { loadStudyConfig, mergeConfig, PAPER_CONFIG, QUICK_OVERRIDES, type StudyConfig, type PartialConfig } from './study/config.js';
export { writeStudy } from './study/output.js';
// The queue (bullmq, ioredis) is `robustify/queue`; only its stats type is here, as part of a study's run.
export type { QueueStats } from './queue/coordinator.js';
