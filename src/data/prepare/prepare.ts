/**
 * Raw photo → aligned face chips: detect, take 68 landmarks, fit the five alignment points to a template,
 * warp.
 */
import { CHANNELS, checkImage, decodeImage, DEFAULT_MAX_PIXELS, type RgbImage } from '../../image/index.js';
import {
  applySimilarity,
  fitSimilarity,
  fivePoints,
  invertSimilarity,
  similarityScale,
  templatePoints,
  TEMPLATES,
  warpSimilarity,
  type Point,
  type Similarity,
  type TemplateName,
} from './align.js';
import { detectFaces, landmarksOfChip, type Box, type DetectedFace, type DetectOptions } from './detector.js';

/** The pixel budget every decoder shares (`image/budget.ts`). */
export { DEFAULT_MAX_PIXELS };

export interface PrepareOptions extends DetectOptions {
  /** Smallest accepted face: the shorter side of the detector box, in photo pixels (default 20). */
  minFaceSize?: number;
  /** Keep every face found instead of only the largest (default false). */
  allFaces?: boolean;
  /** Extra border around the template face, as a fraction of the chip (default 0: the template as is). */
  margin?: number;
  /** Chip side in pixels (default: the template's own, 150 or 112). */
  size?: number;
  /** Alignment template (default 'dlib150', what the ResNet-34 backbone expects). */
  template?: TemplateName;
  /** Landmark refinement passes on an upright view of the face (default 2; 0 keeps the first landmarks). */
  refine?: number;
  /**
   * Mid-grey border added on every side before detection, as a fraction of the longer image side (default 0).
   * For photos already cropped to the face (e.g. 112×112 aligned sets): SSD misses faces that fill the frame
   * (on faces14: 88 % found with a 0.5 border of copied edge pixels, 94 % with 0.5 grey, 100 % of a
   * 98-photo sample with 1.5 grey). Chips then show grey where they reach past the photo.
   */
  pad?: number;
  /** For file inputs: refuse photos with more pixels than this before decoding (default DEFAULT_MAX_PIXELS). */
  maxPixels?: number;
}

/** A detected face (its `landmarks` after refinement) and its aligned chip. */
export interface PreparedFace extends DetectedFace {
  /** The aligned `size`×`size` chip. */
  chip: RgbImage;
  /** Photo → chip coordinates (apply to `landmarks` to get them on the chip). */
  toChip: Similarity;
}

/** The aligned face chips found in one photo. */
export interface PreparedImage {
  height: number;
  width: number;
  /** Largest face first; empty when no face passes the filters. */
  faces: PreparedFace[];
}

/** Landmarks mapped by `t` (e.g. a face's landmarks onto its chip with `face.toChip`). */
export function mapPoints(t: Similarity, points: readonly (readonly [number, number])[]): [number, number][] {
  return points.map((p) => applySimilarity(t, p) as [number, number]);
}

/**
 * Detect, align and crop the faces of a photo (an RgbImage, a file path, or encoded bytes).
 *
 * @example
 * ```ts no-run
 * import { initEngine, prepareImage, encodePng } from 'robustify';
 * import { promises as fsp } from 'node:fs';
 * await initEngine();
 * const { faces } = await prepareImage('photos/group.jpg', { allFaces: true, template: 'arcface112' });
 * for (const [i, face] of faces.entries()) await fsp.writeFile(`face-${i}.png`, await encodePng(face.chip));
 * ```
 */
export async function prepareImage(input: RgbImage | string | Buffer, opts: PrepareOptions = {}): Promise<PreparedImage> {
  const template = opts.template ?? 'dlib150';
  const size = opts.size ?? TEMPLATES[template].size;
  const minFaceSize = opts.minFaceSize ?? 20;
  if (!(minFaceSize >= 0)) throw new Error(`minFaceSize: expected a number ≥ 0, got ${minFaceSize}`);
  const pad = opts.pad ?? 0;
  if (!(pad >= 0 && pad <= 2)) throw new Error(`pad: expected a number in [0, 2], got ${pad}`);
  const refine = opts.refine ?? 2;
  if (!Number.isInteger(refine) || refine < 0 || refine > 10) throw new Error(`refine: expected a whole number in [0, 10], got ${refine}`);
  // Validates size and margin before any decoding or detection work.
  const target = templatePoints(template, size, opts.margin ?? 0);

  const img =
    typeof input === 'string' || Buffer.isBuffer(input)
      ? await decodeImage(input, undefined, { maxPixels: opts.maxPixels ?? DEFAULT_MAX_PIXELS })
      : input;
  checkImage(img);
  const border = Math.round(pad * Math.max(img.height, img.width));
  const work = border > 0 ? padGrey(img, border) : img;

  const area = (f: DetectedFace): number => f.box.width * f.box.height;
  let found = (await detectFaces(work, opts))
    .filter((f) => Math.min(f.box.width, f.box.height) >= minFaceSize)
    .sort((p, q) => area(q) - area(p));
  if (!opts.allFaces) found = found.slice(0, 1);

  const faces: PreparedFace[] = [];
  for (const f of found) {
    const landmarks = await refineLandmarks(work, f.box, f.landmarks, refine);
    const chipToImage = fitSimilarity(target, fivePoints(landmarks));
    const chip = warpSimilarity(work, chipToImage, size, size);
    // Report everything in the caller's image: undo the border shift (x_work = x + border).
    const toChip = invertSimilarity(chipToImage);
    faces.push({
      box: { ...f.box, x: f.box.x - border, y: f.box.y - border },
      score: f.score,
      landmarks: landmarks.map(([x, y]) => [x - border, y - border] as Point),
      chip,
      toChip: { ...toChip, tx: toChip.tx + (toChip.a - toChip.b) * border, ty: toChip.ty + (toChip.a + toChip.b) * border },
    });
  }
  return { height: img.height, width: img.width, faces };
}

/** `img` in the middle of a mid-grey canvas `border` pixels wider on every side. */
function padGrey(img: RgbImage, border: number): RgbImage {
  const width = img.width + 2 * border;
  const height = img.height + 2 * border;
  const data = new Float32Array(width * height * CHANNELS).fill(128);
  const row = img.width * CHANNELS;
  for (let y = 0; y < img.height; y++) data.set(img.data.subarray(y * row, (y + 1) * row), ((y + border) * width + border) * CHANNELS);
  return { data, height, width };
}

/** The upright view the landmark network is re-run on: the dlib chip, framed much like a detector box. */
const VIEW_SIZE = 150;
const VIEW_POINTS = templatePoints('dlib150', VIEW_SIZE);

/**
 * The landmark network, trained on upright faces, misplaces points on tilted heads. Each pass cuts an upright
 * view of the face using the current landmarks and runs the network again on it; landmarks found there are
 * mapped back to the photo. Two passes bring a face rolled by 25° to within a pixel or so of the chip of the
 * same face upright; beyond about 30° of roll the first estimate can be too far off to recover.
 * On faces the network cannot read (profiles) the passes can wander off the face: a pass whose view no longer
 * frames the detector box is discarded and refinement stops there.
 */
async function refineLandmarks(img: RgbImage, box: Box, landmarks: Point[], passes: number): Promise<Point[]> {
  let current = landmarks;
  for (let k = 0; k < passes; k++) {
    const viewToImage = fitSimilarity(VIEW_POINTS, fivePoints(current));
    const found = await landmarksOfChip(warpSimilarity(img, viewToImage, VIEW_SIZE, VIEW_SIZE));
    const next = found.map((p) => applySimilarity(viewToImage, p));
    if (!framesBox(fitSimilarity(VIEW_POINTS, fivePoints(next)), box)) break;
    current = next;
  }
  return current;
}

/**
 * Whether the view cut by `viewToImage` shows the detector's face: the box centre lies in the view's middle
 * 70 % and the box is 0.35–1.5 views wide (upright faces of the demo photos: centre within 30–70 %, 0.6–0.9
 * wide).
 */
function framesBox(viewToImage: Similarity, box: Box): boolean {
  const toView = invertSimilarity(viewToImage);
  const [cx, cy] = applySimilarity(toView, [box.x + box.width / 2, box.y + box.height / 2]);
  const width = (similarityScale(toView) * box.width) / VIEW_SIZE;
  const inside = (v: number): boolean => v >= 0.15 * VIEW_SIZE && v <= 0.85 * VIEW_SIZE;
  return inside(cx) && inside(cy) && width >= 0.35 && width <= 1.5;
}
