/**
 * The jobs on the queue: one PGD batch of one image set against one target (the study, job name 'pgd'), or
 * one chunk of `robustify attack` or `robustness` (any registered attack, job name 'attack'), or one batch of
 * `robustify evaluate` (job name 'evaluate'). A job's id is a hash of its
 * inputs (a PGD batch's cache key plus the iterations it keeps), so adding it twice is adding it once, and a
 * restarted coordinator finds the jobs it had added. The queue's name carries the project version, so workers of another version never
 * take a job; the payload carries the software fingerprint, which a worker checks before computing.
 */
import { createRequire } from 'node:module';
import type { PgdParams } from '../attacks/index.js';
import type { RecogniserSpecInput } from '../models/recogniser.js';
import { hashOf } from '../study/cache.js';

/** BullMQ's key prefix and our own keys' (artifacts, the registry of queues). */
export const PREFIX = 'robustify';
export const QUEUES_KEY = `${PREFIX}:queues`;
export const JOB_FORMAT = 1;

const require = createRequire(import.meta.url);
const versionOf = (pkg: string): string => {
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return 'absent';
  }
};

export function projectVersion(): string {
  return (require('../../../package.json') as { version: string }).version;
}

/** The queue of a project version: a worker of another version listens on another one. */
export function queueName(version = projectVersion()): string {
  return `study-v${version}`;
}

/** What decides a job's numbers besides its payload: the versions of the code and of the weights it loads. */
export function softwareFingerprint(version = projectVersion()): Record<string, string> {
  return { robustify: version, 'face-api weights': versionOf('@vladmandic/face-api'), 'onnxruntime-node': versionOf('onnxruntime-node') };
}

/** A user's backbone file as it travels: its files, which one to open, its resolved spec and identity. */
export interface BackboneRef {
  /** The network's files (a folder manifest): the ONNX file, or a TF.js model.json and its weight shards. */
  files: string;
  /** The file to open among them (its name is part of the network's name, which the head records). */
  file: string;
  /** The recogniser spec as the coordinator resolved it (sidecar included), given whole to the worker. */
  spec: RecogniserSpecInput;
  /** backboneIdentity of the network as the coordinator loaded it: a worker that loads another refuses. */
  identity: string;
}

/**
 * The trained model a job runs: the head's files (a folder manifest in the artifact store), key and engine,
 * and the backbone's files when it is a user's (absent: the built-in net every worker has).
 */
export interface ModelRef {
  head: string;
  key: string;
  engine: string;
  backbone?: BackboneRef;
}

export interface PgdJob {
  format: typeof JOB_FORMAT;
  software: Record<string, string>;
  model: ModelRef;
  /** The attack's target relative to the model: a pipeline in front (BPDA), EOT's draws. */
  target: { defence?: string; eot?: number; seed: number };
  batch: { key: string; index: number; params: PgdParams; iterations: number[]; shape: [number, number, number, number]; labels: number[] };
  /** The clean images (float32, the artifact store's address). */
  images: string;
}

/** What every job's result says of its worker. */
export interface JobResult {
  worker: string;
  /** Seconds the worker computed (not waiting, not transfers). */
  seconds: number;
}

export interface PgdResult extends JobResult {
  /** Addresses of the iterates, in `batch.iterations` order. */
  iterates: string[];
}

/** One chunk of `robustify attack` or of a suite's step (attacks/chunk.ts `attackChunk`). */
export interface AttackJob {
  format: typeof JOB_FORMAT;
  software: Record<string, string>;
  model: ModelRef;
  target: { defence?: string; eot?: number; seed: number };
  /** A registered attack and its resolved parameters (createAttack on the worker). */
  attack: { name: string; params: Record<string, unknown> };
  batch: { index: number; shape: [number, number, number, number]; labels: number[] };
  images: string;
}

export interface AttackJobResult extends JobResult {
  /** The adversarial images (float32, the artifact store's address). */
  adversarial: string;
  predictions: number[];
  queries: number[];
}

/** An attack job's id: a hash of everything that decides its output (the images by their address). */
export function attackJobId(job: Omit<AttackJob, 'software' | 'format'>): string {
  return `attack-${hashOf(job)}`;
}

/** One batch of `robustify evaluate` (models/evaluate.ts `evaluateBatch`): a pipeline (or none) on a batch of faces. */
export interface EvaluateJob {
  format: typeof JOB_FORMAT;
  software: Record<string, string>;
  model: ModelRef;
  /** The defence pipeline, its seed, and the draws each image is classified under (absent: one, the seed's). */
  target: { defence?: string; seed: number; draws?: number };
  batch: { index: number; shape: [number, number, number, number]; labels: number[] };
  images: string;
}

export interface EvaluateJobResult extends JobResult {
  predictions: number[];
  votes?: number[][];
}

/** An evaluation batch's job id: a hash of everything that decides its output (the images by their address). */
export function evaluateJobId(job: Omit<EvaluateJob, 'software' | 'format'>): string {
  return `evaluate-${hashOf(job)}`;
}

/** The job id of a batch: its cache key and the iterations it keeps (BullMQ ids must not hold ':'). */
export function jobId(batch: { key: string; iterations: readonly number[] }): string {
  return `${batch.key}-i${hashOf(batch.iterations).slice(0, 8)}`;
}
