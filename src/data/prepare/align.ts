/**
 * Face alignment: a least-squares similarity transform from five landmarks (eye centres, nose tip, mouth
 * corners) to a template, and a bilinear warp that cuts the aligned chip out of the photo.
 *
 * Coordinates are pixel-index coordinates: the centre of pixel (row r, column c) is at (x = c, y = r), the
 * convention of dlib's `extract_image_chip` and OpenCV's `warpAffine`, which the two templates assume.
 */
import { CHANNELS, checkImage, type RgbImage } from '../../image/index.js';

export type Point = readonly [number, number];

/** The alignment targets a chip can be cut to. */
export type TemplateName = 'dlib150' | 'arcface112';
export const TEMPLATE_NAMES: readonly TemplateName[] = ['dlib150', 'arcface112'];

export interface FaceTemplate {
  /** Side of the square chip the points are given for. */
  size: number;
  /** Left eye centre, right eye centre, nose tip, left mouth corner, right mouth corner (image left/right). */
  points: readonly Point[];
}

/**
 * dlib's mean face shape (normalised to the unit square), for the points the 5-point template needs, indexed
 * by 68-point (iBUG 300-W) number: `get_face_chip_details` in dlib's `render_face_detections.h` fits these
 * (with the rest of points 27–67 minus the lower lip) to the detected landmarks.
 */
const DLIB_MEAN_SHAPE: Readonly<Record<number, Point>> = {
  30: [0.490127, 0.515625],
  36: [0.121737, 0.216423], 37: [0.187122, 0.178758], 38: [0.265825, 0.179852],
  39: [0.334606, 0.231733], 40: [0.260918, 0.245099], 41: [0.182743, 0.244077],
  42: [0.645647, 0.231733], 43: [0.714428, 0.179852], 44: [0.793132, 0.178758],
  45: [0.858516, 0.216423], 46: [0.79751, 0.244077], 47: [0.719335, 0.245099],
  48: [0.254149, 0.780233], 54: [0.726104, 0.780233],
};

const LEFT_EYE = [36, 37, 38, 39, 40, 41];
const RIGHT_EYE = [42, 43, 44, 45, 46, 47];
const NOSE_TIP = 30;
const MOUTH_LEFT = 48;
const MOUTH_RIGHT = 54;

function centroid(points: readonly Point[]): Point {
  let x = 0;
  let y = 0;
  for (const p of points) {
    x += p[0];
    y += p[1];
  }
  return [x / points.length, y / points.length];
}

/** The five alignment points of a 68-point landmark set (eye centres are the means of the six eye points). */
export function fivePoints(landmarks68: readonly Point[]): Point[] {
  if (landmarks68.length !== 68) throw new Error(`fivePoints: expected 68 landmarks, got ${landmarks68.length}`);
  return fiveOf((i) => landmarks68[i]);
}

function fiveOf(pick: (index68: number) => Point): Point[] {
  return [centroid(LEFT_EYE.map(pick)), centroid(RIGHT_EYE.map(pick)), pick(NOSE_TIP), pick(MOUTH_LEFT), pick(MOUTH_RIGHT)];
}

/** dlib's chip geometry: mean shape point m lands at (padding + m) / (1 + 2·padding) · size. */
const DLIB_SIZE = 150;
const DLIB_PADDING = 0.25;

function dlibTemplate(): FaceTemplate {
  const unit = fiveOf((i) => DLIB_MEAN_SHAPE[i]);
  const place = (v: number): number => ((DLIB_PADDING + v) / (1 + 2 * DLIB_PADDING)) * DLIB_SIZE;
  return { size: DLIB_SIZE, points: unit.map(([x, y]) => [place(x), place(y)] as Point) };
}

/**
 * The two templates.
 * - `dlib150`: the 150×150 chip of dlib's `get_face_chip_details(det, 150, 0.25)`, which the ResNet-34 face
 *   recogniser was trained on, reduced to five points of its mean shape: eye centres (47.55, 46.60) and
 *   (100.48, 46.60), nose tip (74.01, 76.56), mouth corners (50.41, 103.02) and (97.61, 103.02).
 * - `arcface112`: the standard 112×112 ArcFace (insightface) five-point template, the layout of
 *   `../shared/data`.
 */
export const TEMPLATES: Readonly<Record<TemplateName, FaceTemplate>> = {
  dlib150: dlibTemplate(),
  arcface112: {
    size: 112,
    points: [
      [38.2946, 51.6963],
      [73.5318, 51.5014],
      [56.0252, 71.7366],
      [41.5493, 92.3655],
      [70.7299, 92.2041],
    ],
  },
};

export function parseTemplate(name: string): TemplateName {
  if ((TEMPLATE_NAMES as readonly string[]).includes(name)) return name as TemplateName;
  throw new Error(`template: unknown template '${name}' (valid: ${TEMPLATE_NAMES.join(', ')})`);
}

/**
 * Template points for a `size`×`size` chip with an extra `margin` around the face: the template is scaled to
 * `size`, then shrunk towards the centre by 1 / (1 + 2·margin) (dlib's padding rule applied on top).
 */
export function templatePoints(name: TemplateName, size: number, margin = 0): Point[] {
  if (!Number.isInteger(size) || size < 8) throw new Error(`size: expected a whole number ≥ 8, got ${size}`);
  if (!Number.isFinite(margin) || margin < 0 || margin > 4) throw new Error(`margin: expected a number in [0, 4], got ${margin}`);
  const t = TEMPLATES[name];
  const place = (v: number): number => ((margin + v / t.size) / (1 + 2 * margin)) * size;
  return t.points.map(([x, y]) => [place(x), place(y)] as Point);
}

/** x' = a·x − b·y + tx, y' = b·x + a·y + ty: rotation by atan2(b, a), scale √(a² + b²), translation. */
export interface Similarity {
  a: number;
  b: number;
  tx: number;
  ty: number;
}

/**
 * The similarity transform T minimising Σ |T(from_i) − to_i|² (Umeyama 1991, without reflection). In 2-D
 * the rotation-and-scale part [a −b; b a] is linear in (a, b), so the least-squares optimum is closed form.
 */
export function fitSimilarity(from: readonly Point[], to: readonly Point[]): Similarity {
  if (from.length !== to.length || from.length < 2) {
    throw new Error(`fitSimilarity: need ≥ 2 point pairs of equal count, got ${from.length} and ${to.length}`);
  }
  const [fx, fy] = centroid(from);
  const [tx, ty] = centroid(to);
  let dot = 0;
  let cross = 0;
  let norm = 0;
  for (let i = 0; i < from.length; i++) {
    const x = from[i][0] - fx;
    const y = from[i][1] - fy;
    const u = to[i][0] - tx;
    const v = to[i][1] - ty;
    dot += x * u + y * v;
    cross += x * v - y * u;
    norm += x * x + y * y;
  }
  if (!(norm > 0)) throw new Error('fitSimilarity: the source points coincide');
  const a = dot / norm;
  const b = cross / norm;
  return { a, b, tx: tx - (a * fx - b * fy), ty: ty - (b * fx + a * fy) };
}

export function applySimilarity(t: Similarity, p: Point): Point {
  return [t.a * p[0] - t.b * p[1] + t.tx, t.b * p[0] + t.a * p[1] + t.ty];
}

export function invertSimilarity(t: Similarity): Similarity {
  const d = t.a * t.a + t.b * t.b;
  if (!(d > 0)) throw new Error('invertSimilarity: degenerate transform');
  const a = t.a / d;
  const b = -t.b / d;
  return { a, b, tx: -(a * t.tx - b * t.ty), ty: -(b * t.tx + a * t.ty) };
}

/** Scale factor of a similarity transform. */
export function similarityScale(t: Similarity): number {
  return Math.hypot(t.a, t.b);
}

/**
 * Cut a `width`×`height` chip from `img`: chip pixel p takes the colour at `chipToImage(p)`, sampled
 * bilinearly; outside the photo is black (as dlib and OpenCV's default border). When the chip is a strong
 * downscale (more than 1.5 photo pixels per chip pixel) each chip pixel averages an n×n grid of bilinear
 * samples over its footprint, so the chip does not alias (dlib uses an image pyramid for the same reason).
 */
export function warpSimilarity(img: RgbImage, chipToImage: Similarity, width: number, height: number): RgbImage {
  checkImage(img);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Error(`warpSimilarity: invalid chip size ${width}×${height}`);
  }
  const { a, b, tx, ty } = chipToImage;
  const scale = similarityScale(chipToImage);
  const n = scale > 1.5 ? Math.min(Math.ceil(scale), 8) : 1;
  const src = img.data;
  const W = img.width;
  const H = img.height;
  const out = new Float32Array(width * height * CHANNELS);
  const acc = [0, 0, 0];
  const add = (x: number, y: number, w: number): void => {
    if (x < 0 || y < 0 || x >= W || y >= H || w === 0) return;
    const i = (y * W + x) * CHANNELS;
    acc[0] += w * src[i];
    acc[1] += w * src[i + 1];
    acc[2] += w * src[i + 2];
  };
  const inv = 1 / (n * n);
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      acc[0] = acc[1] = acc[2] = 0;
      for (let sy = 0; sy < n; sy++) {
        // Sub-sample offsets spread evenly over the chip pixel, centred on it.
        const py = r + (sy + 0.5) / n - 0.5;
        for (let sx = 0; sx < n; sx++) {
          const px = c + (sx + 0.5) / n - 0.5;
          const x = a * px - b * py + tx;
          const y = b * px + a * py + ty;
          const x0 = Math.floor(x);
          const y0 = Math.floor(y);
          const fx = x - x0;
          const fy = y - y0;
          add(x0, y0, (1 - fx) * (1 - fy));
          add(x0 + 1, y0, fx * (1 - fy));
          add(x0, y0 + 1, (1 - fx) * fy);
          add(x0 + 1, y0 + 1, fx * fy);
        }
      }
      const o = (r * width + c) * CHANNELS;
      out[o] = acc[0] * inv;
      out[o + 1] = acc[1] * inv;
      out[o + 2] = acc[2] * inv;
    }
  }
  return { data: out, height, width };
}
