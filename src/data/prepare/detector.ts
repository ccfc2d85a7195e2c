/**
 * Face detection (SSD MobileNet v1) and 68-point landmarks with the networks and weights that ship in
 * `@vladmandic/face-api`, run on robustify's own TF.js engine.
 *
 * face-api's `node-wasm` build `require`s `@tensorflow/tfjs` (the umbrella package) and
 * `@tensorflow/tfjs-backend-wasm`; under Node both resolve to the same CommonJS tfjs-core file our ESM
 * `import '@tensorflow/tfjs-core'` loads, so face-api computes on our engine and backend. `loadDetector`
 * checks that identity and refuses to run on a second copy. Weights are read from the package's `model/`
 * folder on disk: nothing is downloaded.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import path from 'node:path';
import { imageToTensor, type RgbImage } from '../../image/index.js';
import type { Point } from './align.js';

/** The slice of face-api's API used here (its own typings bring a second set of tfjs types). */
interface FaceApiPoint {
  x: number;
  y: number;
}
interface FaceApiResult {
  detection: { score: number; box: { x: number; y: number; width: number; height: number } };
  landmarks: { positions: FaceApiPoint[] };
}
interface FaceApiNet {
  loadFromDisk(dir: string): Promise<void>;
  isLoaded: boolean;
}
interface FaceApi {
  tf: { engine(): unknown; version_core?: string };
  nets: {
    ssdMobilenetv1: FaceApiNet;
    faceLandmark68Net: FaceApiNet & { detectLandmarks(input: tf.Tensor3D): Promise<{ positions: FaceApiPoint[] }> };
  };
  SsdMobilenetv1Options: new (opts: { minConfidence: number; maxResults: number }) => object;
  detectAllFaces(input: tf.Tensor3D, opts: object): { withFaceLandmarks(): Promise<FaceApiResult[]> };
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface DetectedFace {
  /** Detector box in photo pixels. */
  box: Box;
  /** Detector confidence in [0, 1]. */
  score: number;
  /** The 68 iBUG 300-W landmarks in photo pixels. */
  landmarks: Point[];
}

export interface DetectOptions {
  /** Minimum detector confidence (default 0.5). */
  minScore?: number;
  /** Most faces returned per photo (default 100). */
  maxResults?: number;
}

const require = createRequire(import.meta.url);
let loading: Promise<FaceApi> | undefined;

/** Folder holding face-api's weight manifests and shards. */
export function faceApiModelDir(): string {
  return path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
}

/**
 * Load face-api and the SSD MobileNet v1 + 68-point landmark weights once per process. Call after
 * `initEngine`: face-api runs on whatever backend is active.
 */
export function loadDetector(): Promise<FaceApi> {
  loading ??= (async () => {
    const api = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApi;
    if (api.tf.engine() !== tf.engine()) {
      throw new Error('face-api loaded a second copy of @tensorflow/tfjs-core; the project must resolve a single copy');
    }
    const dir = faceApiModelDir();
    if (!api.nets.ssdMobilenetv1.isLoaded) await api.nets.ssdMobilenetv1.loadFromDisk(dir);
    if (!api.nets.faceLandmark68Net.isLoaded) await api.nets.faceLandmark68Net.loadFromDisk(dir);
    return api;
  })();
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}

const toPoints = (ps: FaceApiPoint[]): Point[] => ps.map((p) => [p.x, p.y] as Point);

/** All faces in `img` scoring at least `minScore`, with landmarks, in the detector's order (by score). */
export async function detectFaces(img: RgbImage, opts: DetectOptions = {}): Promise<DetectedFace[]> {
  const minScore = opts.minScore ?? 0.5;
  if (!(minScore >= 0 && minScore <= 1)) throw new Error(`minScore: expected a number in [0, 1], got ${minScore}`);
  const api = await loadDetector();
  const input = imageToTensor(img);
  try {
    const options = new api.SsdMobilenetv1Options({ minConfidence: minScore, maxResults: opts.maxResults ?? 100 });
    const found = await api.detectAllFaces(input, options).withFaceLandmarks();
    return found.map((f) => {
      const { x, y, width, height } = f.detection.box;
      return { box: { x, y, width, height }, score: f.detection.score, landmarks: toPoints(f.landmarks.positions) };
    });
  } finally {
    input.dispose();
  }
}

/**
 * 68 landmarks of a face that fills `img` (e.g. an aligned chip), without detection: the landmark network
 * run on the whole image. Used to check alignment.
 */
export async function landmarksOfChip(img: RgbImage): Promise<Point[]> {
  const api = await loadDetector();
  const input = imageToTensor(img);
  try {
    return toPoints((await api.nets.faceLandmark68Net.detectLandmarks(input)).positions);
  } finally {
    input.dispose();
  }
}
