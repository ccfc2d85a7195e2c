/**
 * Which network makes the gallery's descriptors. Every stored face carries the model id and version, and a
 * server refuses a gallery made by another model (descriptors of two networks are not comparable). This is the
 * one place that names them: a new backbone is one more row here.
 */
import { createRequire } from 'node:module';
import { DESCRIPTOR_DIM, FaceRecognitionNet } from '../models/backbone.js';

export interface DescriptorModel {
  /** The `--backbone` name. */
  name: string;
  /** Stored with every face. */
  id: string;
  version: string;
  dim: number;
}

const require = createRequire(import.meta.url);
const faceApiVersion = (require('@vladmandic/face-api/package.json') as { version: string }).version;

/** The backbones a server can run, by `--backbone` name. */
export const DESCRIPTOR_MODELS: Readonly<Record<string, DescriptorModel>> = {
  'face-api': { name: 'face-api', id: 'face-api/face_recognition_model', version: faceApiVersion, dim: DESCRIPTOR_DIM },
};

export const DEFAULT_BACKBONE = 'face-api';

export function descriptorModel(name: string): DescriptorModel {
  const m = DESCRIPTOR_MODELS[name];
  if (!m) throw new Error(`backbone: unknown backbone '${name}' (valid: ${Object.keys(DESCRIPTOR_MODELS).join(', ')})`);
  return m;
}

/** Loads the network that computes `model`'s descriptors (in the calling thread's engine). */
export async function loadDescriptorNet(model: DescriptorModel): Promise<FaceRecognitionNet> {
  if (model.name !== 'face-api') throw new Error(`backbone: no loader for '${model.name}'`);
  return FaceRecognitionNet.load();
}
