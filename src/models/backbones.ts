/**
 * What a classifier or gallery needs of a face network, whichever it is: the built-in face-api net
 * (backbone.ts) or a user's ONNX / TF.js model (onnx-backbone.ts). `openBackbone` turns `--backbone`'s value
 * and its recogniser spec into one; `BackboneSource` is what a saved classifier records to reopen it.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { encodeModel } from '../engine/onnx/proto.js';
import type { LoadOptions } from '../data/index.js';
import { FaceRecognitionNet } from './backbone.js';
import { OnnxBackbone } from './onnx-backbone.js';
import type { RecogniserSpec, RecogniserSpecInput } from './recogniser.js';

/** A frozen face network: features for the head, descriptors for galleries, its input contract. */
export interface Backbone {
  /** Identifies the network (recorded in a saved classifier). */
  readonly name: string;
  /** Square input side; inputs are NHWC 0–255 RGB batches of this size. */
  readonly inputSize: number;
  /** Alignment template the faces must follow (see data/chip.ts). */
  readonly alignment: RecogniserSpec['alignment'];
  /** Width of `features` (what the paper's head is trained on). */
  readonly featureDim: number;
  /** Width of `descriptor` (what galleries match). */
  readonly descriptorDim: number;
  /** Features of a batch (what a head is trained on). */
  features(x: tf.Tensor4D): tf.Tensor2D;
  /** Face descriptors of a batch (what galleries match). */
  descriptor(x: tf.Tensor4D): tf.Tensor2D;
  /** `features` without a gradient, on the fastest engine here (a backbone may run it natively). */
  inferFeatures?(x: tf.Tensor4D): Promise<tf.Tensor2D>;
  /** Free what `inferFeatures` holds natively until its next call (the network stays usable). */
  release?(): Promise<void>;
  /** Release the network. */
  dispose(): void;
}

/** How to reopen a backbone: the built-in one, or a model file with the spec it was opened with. */
export type BackboneSource = { kind: 'builtin' } | { kind: 'file'; path: string; spec: RecogniserSpecInput };

export const BUILTIN = 'builtin';

/**
 * `ref` = 'builtin' (or undefined) or a path to an ONNX file / TF.js model.json.
 *
 * @example
 * ```ts
 * import { backboneSource } from 'robustify';
 * console.log(backboneSource(undefined)); // { kind: 'builtin' }
 * console.log(backboneSource('nets/arcface.onnx', { preset: 'arcface112' })); // { kind: 'file', … }
 * ```
 */
export function backboneSource(ref: string | undefined, spec: RecogniserSpecInput = {}): BackboneSource {
  return ref === undefined || ref === BUILTIN ? { kind: 'builtin' } : { kind: 'file', path: ref, spec };
}

/**
 * Open the network a `BackboneSource` names (the built-in one, or an ONNX / TF.js file with its spec).
 *
 * @example
 * ```ts
 * import { initEngine, backboneSource, openBackbone } from 'robustify';
 * await initEngine();
 * const net = await openBackbone(backboneSource('builtin'));
 * console.log(net.name, net.inputSize, net.descriptorDim);
 * net.dispose();
 * ```
 */
export async function openBackbone(source: BackboneSource): Promise<Backbone> {
  return source.kind === 'builtin' ? FaceRecognitionNet.load() : OnnxBackbone.open(source.path, source.spec);
}

/**
 * What makes a backbone this backbone, for cache keys: 'builtin', or a hash of the network as loaded (graph and
 * weights) and its resolved spec — the same file with another input scaling is another recogniser.
 */
export function backboneIdentity(backbone: Backbone): string {
  if (!(backbone instanceof OnnxBackbone)) return BUILTIN;
  const h = createHash('sha256');
  h.update(encodeModel(backbone.graph()));
  h.update(JSON.stringify(backbone.spec));
  return h.digest('hex').slice(0, 16);
}

/** How data must be loaded for `backbone`: its input size and alignment template. */
export function loadFor(backbone: Pick<Backbone, 'inputSize' | 'alignment'>): Pick<LoadOptions, 'size' | 'template'> {
  return { size: backbone.inputSize, template: backbone.alignment };
}
