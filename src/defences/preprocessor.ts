/**
 * The common shape of every preprocessing defence, and the helpers they share.
 *
 * A defence maps an NHWC float32 batch on the 0–255 scale to a new batch of the same shape. Defences that are
 * not differentiable give attacks ART's `estimate_gradient`: the identity (BPDA).
 */
import * as tf from '@tensorflow/tfjs-core';
import { randomInt } from 'node:crypto';
import { Type, type TNumber, type TObject } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { hashSeed } from '../util/random.js';
import { mapImageRanges } from '../engine/pool/js-pool.js';
import type { TaskRef } from '../engine/pool/pool.js';
import { poolThreads } from '../engine/threads.js';

/** Per-call options of `Preprocessor.apply`: the seed(s) of stochastic defences. */
export interface ApplyContext {
  /** Seed for stochastic defences (noise, masks); without it every call draws afresh. */
  seed?: number;
  /**
   * One seed per image of the batch (wins over `seed`): image i draws from seeds[i] alone, so its draw does not
   * depend on the batch it came in (see applier.ts).
   */
  seeds?: readonly number[];
}

/** A preprocessing defence: NHWC 0–255 batch in, same shape out, with ART's estimate_gradient. */
export interface Preprocessor {
  /** Pipeline token: 'jpeg', 'gauss', 'median', 'tvm', 'squeeze', 'bmcnn'. */
  readonly name: string;
  /** ART parameter names: quality, sigma, window_size, prob/norm/lamb/max_iter, bit_depth. */
  readonly params: Readonly<Record<string, number>>;
  /** NHWC float32 batch on 0–255 → new tensor of the same shape, values in [0,255]. Does not dispose x. */
  apply(x: tf.Tensor4D, ctx?: ApplyContext): Promise<tf.Tensor4D>;
  /**
   * ART's estimate_gradient: the gradient w.r.t. the input given the gradient w.r.t. the output.
   * 'identity' (BPDA) for non-differentiable defences, exact where differentiable. Does not dispose its args.
   * A promise where the gradient runs off the calling thread (bmcnn's on onnxruntime workers).
   */
  estimateGradient(x: tf.Tensor4D, grad: tf.Tensor4D): tf.Tensor4D | Promise<tf.Tensor4D>;
  readonly gradient: 'exact' | 'identity';
  /** Its pipeline token, e.g. 'jpeg:quality=20'. */
  toString(): string;
}

/**
 * One numeric parameter of a defence, a TypeBox schema (JSON Schema: `default`, `minimum`, `maximum`,
 * `multipleOf` 1 for whole numbers, `enum` for a set of values, `description`). A choice is a whole-number
 * index into `labels`, written and parsed as the label (`solver=lbfgs`).
 */
export type ParamSpec = TNumber & { readonly labels?: readonly string[]; readonly enum?: readonly number[] };

/** A defence's parameters: a TypeBox object of `ParamSpec`s, in the order its pipeline token prints them. */
export type ParamSpecs = TObject<Record<string, ParamSpec>>;

/**
 * Building blocks of defence parameter schemas (`paramSpecs({ quality: D.integer(50, 1, 100, 'JPEG quality') })`).
 *
 * @example
 * ```ts
 * import { D, paramSpecs, describeDefenceParams } from 'robustify';
 * const specs = paramSpecs({ quality: D.integer(50, 1, 100, 'JPEG quality'), mode: D.choice('fast', ['fast', 'exact'], 'how to encode') });
 * console.log(describeDefenceParams(specs).join('\n')); // quality: an integer in [1, 100], default 50 — JPEG quality …
 * ```
 */
export const D = {
  /** A real number in [minimum, maximum]. */
  number: (def: number, minimum: number, maximum: number, description: string): ParamSpec => Type.Number({ default: def, minimum, maximum, description }),
  /** A whole number in [minimum, maximum]. */
  integer: (def: number, minimum: number, maximum: number, description: string): ParamSpec => Type.Number({ default: def, minimum, maximum, multipleOf: 1, description }),
  /** One of `values`. */
  oneOf: (def: number, values: readonly number[], description: string): ParamSpec =>
    Type.Number({ default: def, minimum: Math.min(...values), maximum: Math.max(...values), enum: [...values], description }),
  /** One of `labels`, held as its index and written as the label. */
  choice: (def: string, labels: readonly string[], description: string): ParamSpec =>
    Type.Number({ default: labels.indexOf(def), minimum: 0, maximum: labels.length - 1, multipleOf: 1, labels: [...labels], description }),
};

/**
 * A defence's parameter schemas, as `registerDefence` takes them.
 *
 * @example
 * ```ts
 * import { D, paramSpecs, resolveParams } from 'robustify';
 * const specs = paramSpecs({ block: D.integer(4, 1, 32, 'block side'), gain: D.number(1, 0, 4, 'contrast gain') }); // see {@link D}
 * console.log(resolveParams('pixelate', specs, { block: 8 })); // { block: 8, gain: 1 }
 * ```
 */
export function paramSpecs(properties: Record<string, ParamSpec>): ParamSpecs {
  return Type.Object(properties, { additionalProperties: false });
}

function describeRange(spec: ParamSpec): string {
  if (spec.labels) return `one of ${spec.labels.join(', ')}`;
  if (spec.enum) return `one of ${spec.enum.join(', ')}`;
  return `${spec.multipleOf === 1 ? 'an integer' : 'a number'} in [${spec.minimum}, ${spec.maximum}]`;
}

/**
 * One help line per parameter: `quality: an integer in [1, 100], default 50 — JPEG quality`.
 *
 * @example
 * ```ts
 * import { getDefence, describeDefenceParams } from 'robustify';
 * console.log(describeDefenceParams(getDefence('tvm').params).join('\n'));
 * ```
 */
export function describeDefenceParams(specs: ParamSpecs): string[] {
  return Object.entries(specs.properties).map(([k, s]) => `${k}: ${describeRange(s)}, default ${formatValue(s, s.default as number)} — ${s.description ?? ''}`);
}

/**
 * The common body of a defence whose gradient is ART's identity (BPDA): validated, frozen parameters, the
 * identity `estimateGradient`, and the pipeline token. Subclasses only `apply`.
 *
 * @example
 * ```ts
 * import { tf, initEngine, IdentityGradientDefence, D, paramSpecs, mapBatch, clip255, registerDefence, buildPipeline } from 'robustify';
 * await initEngine();
 * const BRIGHTEN = paramSpecs({ amount: D.number(20, 0, 255, 'added to every pixel') });
 * class Brighten extends IdentityGradientDefence<{ amount: number }> {
 *   constructor(params: { amount?: number } = {}) { super('brighten', BRIGHTEN, params); }
 *   apply(x: tf.Tensor4D): Promise<tf.Tensor4D> { return mapBatch(this.name, x, (data) => data.map((v) => clip255(v + this.params.amount))); }
 * }
 * registerDefence('brighten', (p) => new Brighten(p), BRIGHTEN, { main: 'amount', description: 'adds a constant' });
 * const pipeline = await buildPipeline('brighten:40,median:3');
 * console.log(String(pipeline), (await pipeline.apply(tf.fill([1, 8, 8, 3], 100) as tf.Tensor4D)).dataSync()[0]); // … 140
 * ```
 */
export abstract class IdentityGradientDefence<P extends Record<string, number>> implements Preprocessor {
  readonly gradient = 'identity' as const;
  readonly params: Readonly<P>;

  protected constructor(readonly name: string, private readonly specs: ParamSpecs, given: Readonly<Record<string, number | string | undefined>>) {
    this.params = Object.freeze(resolveParams(name, specs, given) as P);
  }

  abstract apply(x: tf.Tensor4D, ctx?: ApplyContext): Promise<tf.Tensor4D>;

  estimateGradient(x: tf.Tensor4D, grad: tf.Tensor4D): tf.Tensor4D {
    return identityGradient(this.name, x, grad);
  }

  toString(): string {
    return formatToken(this.name, this.params, this.specs);
  }
}

/**
 * Fill defaults and validate `given` against `specs`; messages name the defence and parameter and give the
 * valid range. Unknown keys are refused with the list of valid ones.
 *
 * @example
 * ```ts
 * import { getDefence, resolveParams } from 'robustify';
 * console.log(resolveParams('tvm', getDefence('tvm').params, { prob: 0.5, solver: 'pdhg' })); // every parameter, the choice as its index
 * try { resolveParams('jpeg', getDefence('jpeg').params, { quality: 0 }); } catch (err) { console.log((err as Error).message); }
 * ```
 */
export function resolveParams(defence: string, specs: ParamSpecs, given: Readonly<Record<string, number | string | undefined>> = {}): Record<string, number> {
  const keys = Object.keys(specs.properties);
  for (const k of Object.keys(given)) {
    if (!(k in specs.properties)) {
      throw new Error(`${defence}: unknown parameter '${k}' (valid: ${keys.length ? keys.join(', ') : 'none'})`);
    }
  }
  const out: Record<string, number> = {};
  for (const k of keys) {
    const spec = specs.properties[k];
    const raw = given[k] ?? (spec.default as number);
    const v = typeof raw === 'string' ? labelIndex(defence, k, spec, raw) : raw;
    const ok = typeof v === 'number' && Number.isFinite(v) && Value.Check(spec, v) && (!spec.enum || spec.enum.includes(v));
    if (!ok) throw new Error(`${defence}: ${k} must be ${describeRange(spec)}, got ${String(v)}`);
    out[k] = v;
  }
  return out;
}

/** The index of a choice parameter's label; the error lists the labels. */
export function labelIndex(defence: string, key: string, spec: ParamSpec, label: string): number {
  const i = spec.labels ? spec.labels.indexOf(label.trim().toLowerCase()) : -1;
  if (i < 0) throw new Error(`${defence}: ${key} must be ${describeRange(spec)}, got '${label}'`);
  return i;
}

/** A parameter's value as tokens write it: the label of a choice, else the number. */
export function formatValue(spec: ParamSpec | undefined, v: number): string {
  return spec?.labels?.[v] ?? String(v);
}

/**
 * The canonical pipeline token: every parameter, in declaration order (`tvm:prob=0.3,norm=2,...`); with the
 * defence's specs, choices are written by label.
 *
 * @example
 * ```ts
 * import { formatToken, getDefence } from 'robustify/defences';
 * console.log(formatToken('tvm', { prob: 0.3, norm: 2, lamb: 0.5, max_iter: 10, solver: 0 }, getDefence('tvm').params)); // tvm:prob=0.3,…,solver=lbfgs
 * ```
 */
export function formatToken(name: string, params: Readonly<Record<string, number>>, specs?: ParamSpecs): string {
  const parts = Object.entries(params).map(([k, v]) => `${k}=${formatValue(specs?.properties[k], v)}`);
  return parts.length ? `${name}:${parts.join(',')}` : name;
}

/**
 * Shape checks every defence does on entry; the message names the defence.
 *
 * @example
 * ```ts
 * import { tf, checkBatch } from 'robustify';
 * const [n, h, w, c] = checkBatch('mine', tf.zeros([2, 8, 8, 3])); // throws, naming 'mine', on anything but [n, h, w, 3]
 * console.log(n, h, w, c);
 * ```
 */
export function checkBatch(defence: string, x: tf.Tensor): [number, number, number, number] {
  if (x.rank !== 4) throw new Error(`${defence}: expected an NHWC batch (rank 4), got rank ${x.rank} [${x.shape.join(', ')}]`);
  if (x.dtype !== 'float32') throw new Error(`${defence}: expected float32 input, got ${x.dtype}`);
  return x.shape as [number, number, number, number];
}

/**
 * BPDA with the identity: the output gradient passes through unchanged (a new handle to the same values).
 *
 * @example
 * ```ts
 * import { tf, identityGradient } from 'robustify';
 * const x = tf.zeros([1, 8, 8, 3]) as tf.Tensor4D;
 * const g = identityGradient('mine', x, tf.ones([1, 8, 8, 3]) as tf.Tensor4D); // the output gradient, as the input's (BPDA)
 * console.log(g.shape);
 * ```
 */
export function identityGradient(defence: string, x: tf.Tensor4D, grad: tf.Tensor4D): tf.Tensor4D {
  checkBatch(defence, x);
  if (!tf.util.arraysEqual(x.shape, grad.shape)) {
    throw new Error(`${defence}: gradient shape [${grad.shape.join(', ')}] differs from input shape [${x.shape.join(', ')}]`);
  }
  return grad.clone();
}

/**
 * Run a typed-array transform over a batch: reads the values once, hands them (a private copy) to `fn`,
 * and wraps the returned array as a tensor of the same shape.
 *
 * @example
 * ```ts
 * import { initEngine, mapBatch, tf } from 'robustify';
 * await initEngine();
 * const x = tf.fill([1, 2, 2, 3], 100) as tf.Tensor4D;
 * const inverted = await mapBatch('invert', x, (data) => data.map((v) => 255 - v));
 * ```
 */
export async function mapBatch(
  defence: string,
  x: tf.Tensor4D,
  fn: (data: Float32Array, shape: [number, number, number, number]) => Float32Array | Promise<Float32Array>,
): Promise<tf.Tensor4D> {
  const shape = checkBatch(defence, x);
  // Our backends are synchronous: dataSync is one copy out of the heap, data() costs 2.5× that for the same copy.
  const values = x.dataSync() as Float32Array;
  // wasm returns a fresh copy of its heap; the cpu backend hands out its own backing array, which must not
  // be written, so copy there.
  const data = tf.getBackend() === 'wasm' ? values : new Float32Array(values);
  const out = await fn(data, shape);
  return tf.tensor4d(out, shape, 'float32');
}

/** One range of a batch's images for a per-image pure-JS defence: its values (NHWC) and shape. */
export interface ImagesPart<P> {
  data: Float32Array;
  shape: [number, number, number, number];
  /** The defence's parameters for these images (per-image ones sliced to the range). */
  params: P;
}

/**
 * mapBatch for a defence that treats every image on its own in plain JS: the batch's images split over the JS
 * worker pool (engine/pool/js-pool.ts), `task` (an export of the defence's module, the same function as
 * `inline`) run on each range, so both cores work and the output bits are the inline ones. `params(a, b)`:
 * the parameters of images a…b−1.
 */
export function mapImages<P>(
  defence: string, x: tf.Tensor4D, task: TaskRef, inline: (part: ImagesPart<P>) => Float32Array, params: (a: number, b: number) => P,
): Promise<tf.Tensor4D> {
  return mapBatch(defence, x, async (data, shape) => {
    const [n, h, w, c] = shape;
    const size = h * w * c;
    const part = (a: number, b: number): ImagesPart<P> => ({
      data: a === 0 && b === n ? data : data.slice(a * size, b * size), shape: [b - a, h, w, c], params: params(a, b),
    });
    const { ranges, results } = await mapImageRanges(n, poolThreads(), task, part, inline);
    if (results.length === 1) return results[0];
    results.forEach((r, k) => data.set(r, ranges[k][0] * size));
    return data;
  });
}

export { clip255 } from '../util/clip.js';

/**
 * The seed a stochastic defence uses: the call's, else the instance's, else a fresh one (ART draws anew each call).
 *
 * @example
 * ```ts
 * import { resolveSeed } from 'robustify';
 * console.log(resolveSeed({ seed: 5 }, 1), resolveSeed(undefined, 1)); // 5 1; with neither, a fresh random seed
 * ```
 */
export function resolveSeed(ctx: ApplyContext | undefined, own: number | undefined): number {
  return ctx?.seed ?? own ?? randomInt(0, 2 ** 32);
}

/**
 * One seed per image of an n-image batch: the call's `seeds`, else derived from the resolved batch seed and
 * the image's position. The message names the defence when `seeds` has the wrong length.
 *
 * @example
 * ```ts
 * import { imageSeeds } from 'robustify';
 * console.log(imageSeeds('gauss', { seed: 5 }, undefined, 3)); // one seed per image, derived from 5
 * console.log(imageSeeds('gauss', { seeds: [1, 2, 3] }, undefined, 3)); // [1, 2, 3]
 * ```
 */
export function imageSeeds(defence: string, ctx: ApplyContext | undefined, own: number | undefined, n: number): number[] {
  if (ctx?.seeds) {
    if (ctx.seeds.length !== n) throw new Error(`${defence}: ${ctx.seeds.length} seeds for a batch of ${n} images`);
    return [...ctx.seeds];
  }
  const seed = resolveSeed(ctx, own);
  return Array.from({ length: n }, (_, i) => hashSeed(seed, 'image', i));
}
