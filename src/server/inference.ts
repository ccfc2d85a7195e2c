/**
 * What the server's worker threads run (tasks of src/engine/pool): decode a posted photo, detect and align
 * its faces, compute descriptors through a defence pipeline and/or the bare network, and attack a face. Each
 * worker keeps its network and built pipelines warm across requests. Results are plain data: an expected
 * failure (an undecodable image, too many faces) comes back as `{ error }` so the server can answer 4xx with
 * the reason, never a stack.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createAttack } from '../attacks/index.js';
import { loadDetector, prepareImage, type PreparedFace } from '../data/prepare/index.js';
import { buildPipeline, type Pipeline } from '../defences/index.js';
import { decodeImage, encodePng, ImageDecodeError, imagesToBatch, tensorToImage, type RgbImage } from '../image/index.js';
import type { FaceRecognitionNet } from '../models/backbone.js';
import { DefendedClassifier } from '../models/defended.js';
import { GalleryClassifier, squaredDistances } from '../models/gallery.js';
import { perturbationImage } from '../demo/report.js';
import type { TaskRef } from '../engine/pool/pool.js';
import { descriptorModel, loadDescriptorNet } from './descriptor-model.js';

/** An expected, user-caused failure: HTTP status and one-line reason. */
export interface TaskError {
  error: { status: number; message: string };
}

export interface FaceOptions {
  /** Encoded photo. */
  bytes: Uint8Array;
  /** Names the image in errors ('body', 'a', …). */
  label: string;
  backbone: string;
  maxPixels: number;
  maxFaces: number;
  minFaceSize: number;
}

export interface AnalysePayload extends FaceOptions {
  /** Only the largest face (enrolment, verification) instead of all. */
  largestOnly: boolean;
  /** Canonical pipeline for the defended descriptors, or null for none wanted. */
  pipeline: string | null;
  /** Also the bare network's descriptors. */
  bare: boolean;
  seed: number;
}

export interface AnalysedFace {
  box: { x: number; y: number; width: number; height: number };
  score: number;
  defended: Float32Array | null;
  bare: Float32Array | null;
}

export interface AnalyseResult {
  width: number;
  height: number;
  faces: AnalysedFace[];
}

let net: Promise<FaceRecognitionNet> | undefined;
const pipelines = new Map<string, Promise<Pipeline>>();

function network(backbone: string): Promise<FaceRecognitionNet> {
  net ??= loadDescriptorNet(descriptorModel(backbone));
  return net;
}

function pipelineOf(spec: string): Promise<Pipeline> {
  let p = pipelines.get(spec);
  if (!p) pipelines.set(spec, (p = buildPipeline(spec)));
  return p;
}

async function facesOf(o: FaceOptions, largestOnly: boolean): Promise<{ img: RgbImage; faces: PreparedFace[] } | TaskError> {
  let img: RgbImage;
  try {
    img = await decodeImage(Buffer.from(o.bytes.buffer, o.bytes.byteOffset, o.bytes.byteLength), o.label, { maxPixels: o.maxPixels });
  } catch (e) {
    if (e instanceof ImageDecodeError) return { error: { status: /exceeds the pixel budget/.test(e.reason) ? 413 : 400, message: e.message } };
    throw e;
  }
  // One more than allowed, so "too many" is told apart from "exactly the limit".
  const prepared = await prepareImage(img, { allFaces: !largestOnly, minFaceSize: o.minFaceSize, maxResults: o.maxFaces + 1 });
  if (prepared.faces.length > o.maxFaces) {
    return { error: { status: 422, message: `${o.label}: more than ${o.maxFaces} faces in the image (limit maxFaces)` } };
  }
  return { img, faces: prepared.faces };
}

/** Descriptors of `chips` ([N,150,150,3]) through `pipeline` (or bare when null). */
async function describe(n: FaceRecognitionNet, x: tf.Tensor4D, pipeline: string | null, seed: number): Promise<Float32Array[]> {
  const xd = pipeline === null ? x : await (await pipelineOf(pipeline)).apply(x, { seed });
  try {
    const d = n.descriptor(xd);
    const flat = (await d.data()) as Float32Array;
    d.dispose();
    const dim = flat.length / x.shape[0];
    return Array.from({ length: x.shape[0] }, (_, i) => flat.slice(i * dim, (i + 1) * dim));
  } finally {
    if (xd !== x) xd.dispose();
  }
}

/** Task: the faces of a photo and their descriptors. */
export async function analyse(p: AnalysePayload): Promise<AnalyseResult | TaskError> {
  const found = await facesOf(p, p.largestOnly);
  if ('error' in found) return found;
  const { img, faces } = found;
  const out: AnalyseResult = { width: img.width, height: img.height, faces: [] };
  if (faces.length === 0) return out;
  const n = await network(p.backbone);
  const x = imagesToBatch(faces.map((f) => f.chip));
  try {
    const defended = p.pipeline === null ? null : await describe(n, x, p.pipeline, p.seed);
    const bare = p.bare ? await describe(n, x, null, p.seed) : null;
    out.faces = faces.map((f, i) => ({ box: f.box, score: f.score, defended: defended?.[i] ?? null, bare: bare?.[i] ?? null }));
    return out;
  } finally {
    x.dispose();
  }
}

export interface AttackPayload extends FaceOptions {
  /** Canonical pipeline of the defended model. */
  pipeline: string;
  /** The gallery's descriptors, [rows, dim] row-major (the attack's classes are its faces). */
  gallery: Float32Array;
  /** Attack the bare network or the defended one (BPDA through non-differentiable stages). */
  against: 'bare' | 'defended';
  attack: string;
  params: { norm: 'inf' | 2; eps: number; eps_step: number; max_iter: number };
  seed: number;
}

export interface AttackResult {
  box: AnalysedFace['box'];
  /** PNGs of the aligned face, the adversarial face and |δ| scaled so that eps is white. */
  clean_png: Uint8Array;
  adversarial_png: Uint8Array;
  perturbation_png: Uint8Array;
  linf: number;
  /** The gallery row the attack moves away from (the clean face's nearest under the bare network). */
  label: number;
  /** Descriptors of the clean and adversarial face, bare and through the pipeline. */
  descriptors: { clean_bare: Float32Array; clean_defended: Float32Array; adversarial_bare: Float32Array; adversarial_defended: Float32Array };
}

/** Task: an evasion attack (dodging: away from the face's own nearest gallery face) on the largest face. */
export async function attack(p: AttackPayload): Promise<AttackResult | TaskError> {
  const found = await facesOf(p, true);
  if ('error' in found) return found;
  const face = found.faces[0];
  if (!face) return { error: { status: 422, message: `${p.label}: no face found in the image` } };
  const n = await network(p.backbone);
  const pipeline = await pipelineOf(p.pipeline);
  const dim = descriptorModel(p.backbone).dim;
  const owned: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T): T => (owned.push(t), t);
  let gallery: GalleryClassifier | undefined;
  try {
    const g = keep(tf.tensor2d(p.gallery, [p.gallery.length / dim, dim]));
    gallery = new GalleryClassifier(n, g);
    const x = keep(imagesToBatch([face.chip]));
    const cleanBare = keep(n.descriptor(x));
    const label = (await keep(tf.tidy(() => tf.argMin(squaredDistances(cleanBare, g), 1))).data())[0];
    const model = p.against === 'bare' ? gallery : new DefendedClassifier(gallery, pipeline, p.seed);
    const adv = keep(await createAttack(p.attack, { ...p.params, batch_size: 1, seed: p.seed }).generate(model, x, [label]));
    const cleanImg = await tensorToImage(x);
    const advImg = await tensorToImage(adv);
    const linf = (await keep(tf.tidy(() => tf.max(tf.abs(tf.sub(adv, x))))).data())[0];
    const [cleanDefended] = await describe(n, x, p.pipeline, p.seed);
    const [advDefended] = await describe(n, adv, p.pipeline, p.seed);
    const [advBare] = await describe(n, adv, null, p.seed);
    return {
      box: face.box,
      clean_png: await encodePng(cleanImg),
      adversarial_png: await encodePng(advImg),
      perturbation_png: await encodePng(perturbationImage(cleanImg, advImg, p.params.eps)),
      linf,
      label,
      descriptors: { clean_bare: (await cleanBare.data()) as Float32Array, clean_defended: cleanDefended, adversarial_bare: advBare, adversarial_defended: advDefended },
    };
  } finally {
    gallery?.dispose();
    tf.dispose(owned);
  }
}

export const ANALYSE: TaskRef = { module: import.meta.url, name: 'analyse' };
export const ATTACK: TaskRef = { module: import.meta.url, name: 'attack' };

/** Task: load the networks and build `pipeline` (a worker's warm-up). */
export async function warm(p: { backbone: string; pipeline: string }): Promise<void> {
  await Promise.all([network(p.backbone), pipelineOf(p.pipeline), loadDetector()]);
}

export const WARM: TaskRef = { module: import.meta.url, name: 'warm' };
