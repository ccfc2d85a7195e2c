/** robustify's public API: a small surface over the engine, models, attacks and defences. */
export { initEngine, describeEngine, type BackendName, type EngineInfo } from './engine/backend.js';
export { FaceRecognitionNet, BACKBONE_INPUT_SIZE } from './models/backbone.js';
export { FaceClassifier, predictLabels, type Classifier } from './models/classifier.js';
export { DefendedClassifier } from './models/defended.js';
export { trainClassifier, DEFAULT_TRAIN_CLASSIFIER } from './models/train.js';
export { predictAll, reportFor } from './models/evaluate.js';
export * from './attacks/index.js';
export * from './defences/index.js';
export { Bmcnn } from './denoise/index.js';
export { classificationReport, balancedAccuracyScore, formatReport, type ClassificationReport } from './metrics/index.js';
export { listDataset, selectTopK, splitDataset, loadImages, batches, toChip } from './data/index.js';
export { prepareImage, prepareDirectory } from './data/prepare/index.js';
export { decodeImage, encodePng, encodeJpeg, type RgbImage } from './image/index.js';
export { runStudy, type StudyRun, type StudyResults } from './study/run.js';
export { loadStudyConfig, PAPER_CONFIG, type StudyConfig } from './study/config.js';
export { writeStudy } from './study/output.js';
export { QueueCoordinator, type QueueStats } from './queue/coordinator.js';
export { startWorker, type WorkerOptions } from './queue/worker.js';
