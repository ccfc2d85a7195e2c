/** Face preparation: detect, align and crop faces of raw photos (single photos or whole folders). */
export {
  TEMPLATES,
  TEMPLATE_NAMES,
  parseTemplate,
  templatePoints,
  fivePoints,
  fitSimilarity,
  applySimilarity,
  invertSimilarity,
  warpSimilarity,
  type Point,
  type FaceTemplate,
  type Similarity,
  type TemplateName,
} from './align.js';
export { detectFaces, landmarksOfChip, loadDetector, faceApiModelDir, type Box, type DetectedFace, type DetectOptions } from './detector.js';
export { prepareImage, mapPoints, DEFAULT_MAX_PIXELS, type PrepareOptions, type PreparedFace, type PreparedImage } from './prepare.js';
export {
  prepareDirectory,
  listSources,
  parseLayout,
  LAYOUTS,
  MANIFEST_NAME,
  type Layout,
  type Manifest,
  type ManifestEntry,
  type ManifestFace,
  type PrepareDirOptions,
  type PrepareDirSummary,
} from './directory.js';
