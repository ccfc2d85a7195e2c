/** What every route group needs: options, model, gallery, workers, metrics, the pipeline allow-list. */
import { formatPipeline, parsePipeline } from '../defences/index.js';
import type { DescriptorModel } from './descriptor-model.js';
import { HttpError } from './errors.js';
import type { Gallery } from './gallery/gallery.js';
import type { ServerMetrics } from './metrics.js';
import type { ServeOptions } from './options.js';
import type { InferenceQueue } from './queue.js';

export interface ServerContext {
  options: ServeOptions;
  model: DescriptorModel;
  gallery: Gallery;
  queue: InferenceQueue;
  metrics: ServerMetrics;
  /** Canonical forms of the pipelines a request may choose; the first is the server's. */
  pipelines: string[];
  /** A fresh seed per request (stochastic defences draw anew, reproducibly per server run). */
  nextSeed(): number;
  /** False once shutdown has begun (readyz answers 503). */
  ready: boolean;
}

export function canonicalPipeline(spec: string, what: string): string {
  try {
    return formatPipeline(parsePipeline(spec));
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`);
  }
}

/** The canonical form of a requested pipeline, or the server's when none is asked for; 400 when not allowed. */
export function pickPipeline(ctx: ServerContext, requested: string | undefined): string {
  if (requested === undefined || requested === '') return ctx.pipelines[0];
  let canonical: string;
  try {
    canonical = formatPipeline(parsePipeline(requested));
  } catch (e) {
    throw new HttpError(400, (e as Error).message);
  }
  if (!ctx.pipelines.includes(canonical)) throw new HttpError(400, `pipeline: '${requested}' is not allowed on this server (allowed: ${ctx.pipelines.map((p) => p || 'none').join(' | ')})`);
  return canonical;
}
