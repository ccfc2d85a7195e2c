/**
 * The server's parameters: one TypeBox schema that validates them, fills defaults and documents them (the CLI
 * maps its flags onto these names). Errors name the parameter: `serve: queue must be ≥ 0, got -1`.
 */
import os from 'node:os';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { DEFAULT_MAX_PIXELS } from '../data/prepare/index.js';
import { DEFAULT_BACKBONE } from './descriptor-model.js';

/** Pipelines a request may choose besides the server's own (all cheap enough per request). */
export const DEFAULT_ALLOWED_PIPELINES = ['none', 'jpeg:20', 'jpeg:40', 'median:3', 'gauss:8', 'squeeze:5', 'median:3,jpeg:20', 'median:3,jpeg:20,gauss:8'];

export const ServeOptionsSchema = Type.Object(
  {
    gallery: Type.String({ default: 'gallery.sqlite', minLength: 1, description: 'SQLite file (created if missing) or postgres:// URL' }),
    backbone: Type.String({ default: DEFAULT_BACKBONE, description: 'descriptor network' }),
    pipeline: Type.String({ default: 'median:3,jpeg:20', description: 'defence pipeline in front of the network (compact or JSON form)' }),
    allowPipelines: Type.Array(Type.String(), { default: DEFAULT_ALLOWED_PIPELINES, description: 'pipelines a request may pick instead (the server pipeline is always allowed)' }),
    host: Type.String({ default: '127.0.0.1' }),
    port: Type.Integer({ default: 8080, minimum: 0, maximum: 65535 }),
    apiKey: Type.Optional(Type.String({ minLength: 8, description: 'key for writes (enrol, delete); without one writes are refused' })),
    readKey: Type.Boolean({ default: false, description: 'reads need the key too' }),
    allowAttacks: Type.Boolean({ default: false, description: 'enable POST /v1/attack (red team)' }),
    workers: Type.Integer({ default: Math.min(2, os.availableParallelism()), minimum: 1, maximum: 32, description: 'inference worker threads' }),
    queue: Type.Integer({ default: 32, minimum: 0, maximum: 10000, description: 'requests that may wait for a worker before 503' }),
    timeoutMs: Type.Integer({ default: 30000, minimum: 100, description: 'deadline of an identify/verify/enrol request, queueing included' }),
    attackTimeoutMs: Type.Integer({ default: 180000, minimum: 100, description: 'deadline of an attack request' }),
    maxBody: Type.Integer({ default: 10 * 1024 * 1024, minimum: 1024, description: 'largest request body, bytes' }),
    maxPixels: Type.Integer({ default: DEFAULT_MAX_PIXELS, minimum: 1, description: 'largest photo, pixels (checked on the header, before decoding)' }),
    maxFaces: Type.Integer({ default: 20, minimum: 1, maximum: 100, description: 'most faces per photo' }),
    minFaceSize: Type.Number({ default: 20, minimum: 0, description: 'smallest face (detector box side), pixels' }),
    rateLimit: Type.Integer({ default: 600, minimum: 0, description: 'requests per minute per client address (0: no limit)' }),
    threshold: Type.Number({ default: 0.6, exclusiveMinimum: 0, description: 'same-person distance threshold' }),
    maxAttackIter: Type.Integer({ default: 50, minimum: 1, maximum: 1000, description: 'most attack iterations a request may ask for' }),
    logLevel: Type.Union([Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug'), Type.Literal('silent')], { default: 'info' }),
  },
  { additionalProperties: false },
);

export type ServeOptions = Static<typeof ServeOptionsSchema>;

/** Defaults filled in and every value checked; throws one line naming the first bad parameter. */
export function resolveServeOptions(given: Partial<ServeOptions>): ServeOptions {
  const value = Value.Default(ServeOptionsSchema, Value.Clone(given)) as ServeOptions;
  const first = Value.Errors(ServeOptionsSchema, value).First();
  if (first) {
    const name = first.path.replace(/^\//, '').replace(/\//g, '.') || 'options';
    throw new Error(`serve: ${name} ${first.message.toLowerCase()}, got ${JSON.stringify(first.value)}`);
  }
  if (value.readKey && value.apiKey === undefined) throw new Error('serve: readKey needs apiKey (reads would need a key the server does not have)');
  return value;
}
