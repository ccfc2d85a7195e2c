/**
 * Ordered defence pipelines: parsing, canonical printing, and the composed preprocessor.
 *
 * Compact form: stages separated by ',', each `name[:value][,key=value…]`.
 *   - A bare number after ':' sets the defence's main parameter: median→window_size, jpeg→quality,
 *     gauss→sigma, squeeze→bit_depth, tvm→prob, bmcnn→sigma.
 *   - An item `key=value` (no ':') sets a named parameter of the stage before it, so both
 *     `tvm:prob=0.3,lamb=0.5` and `tvm:0.3,lamb=0.5` work. ';' is accepted wherever ',' is (no shell quoting
 *     issue with ',', hence the canonical form uses ',').
 *   - `none` or empty text: the identity pipeline.
 * Canonical printing lists every parameter by name in declaration order:
 *   `median:window_size=3,jpeg:quality=20`. parse(print(p)) = p.
 * JSON form: `[{ "name": "jpeg", "params": { "quality": 20 } }, …]` (params optional; defaults filled).
 */
import * as tf from '@tensorflow/tfjs-core';
import { applyBatch, prefixesOf } from './applier.js';
import { checkBatch, formatToken, formatValue, labelIndex, resolveParams, type ApplyContext, type Preprocessor } from './preprocessor.js';
import { defenceNames, getDefence } from './registry.js';

export { registerDefence, defenceNames, getDefence, type DefenceFactory, type DefenceEntry, type RegisterOptions } from './registry.js';

/** One stage: a registered defence name and its fully resolved parameters. */
export interface StageSpec {
  name: string;
  params: Record<string, number>;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const NAME = /^[a-z][a-z0-9_]*$/;

function parseValue(where: string, key: string, text: string): number {
  const spec = getDefence(where).params.properties[key];
  if (spec?.labels && !NUMBER.test(text)) return labelIndex(where, key, spec, text);
  if (!NUMBER.test(text)) throw new Error(`pipeline: ${where}: ${key} must be a number, got '${text}'`);
  return Number(text);
}

function resolveStage(name: string, given: Record<string, number | string>): StageSpec {
  const entry = getDefence(name);
  return { name, params: resolveParams(name, entry.params, given) };
}

/**
 * Parse the compact or JSON form (see the module comment); every stage's parameters are validated.
 *
 * @example
 * ```ts
 * import { parsePipeline, formatPipeline } from 'robustify';
 * const stages = parsePipeline('median:3,jpeg:20'); // or JSON: '[{"name":"jpeg","params":{"quality":20}}]'
 * console.log(stages, formatPipeline(stages)); // […], 'median:window_size=3,jpeg:quality=20'
 * ```
 */
export function parsePipeline(text: string): StageSpec[] {
  const t = text.trim();
  if (t === '' || t.toLowerCase() === 'none') return [];
  if (t.startsWith('[')) {
    let value: unknown;
    try {
      value = JSON.parse(t);
    } catch (err) {
      throw new Error(`pipeline: invalid JSON (${(err as Error).message})`);
    }
    return parsePipelineJson(value);
  }
  const stages: { name: string; given: Record<string, number> }[] = [];
  for (const raw of t.split(/[,;]/)) {
    const item = raw.trim();
    if (item === '') throw new Error(`pipeline: empty item in '${text}' (stages are separated by ',')`);
    const colon = item.indexOf(':');
    const eq = item.indexOf('=');
    if (colon < 0 && eq >= 0) {
      // key=value continues the stage before it.
      const stage = stages.at(-1);
      if (!stage) throw new Error(`pipeline: '${item}' comes before any defence name (valid: ${defenceNames().join(', ')})`);
      setParam(stage, item);
      continue;
    }
    const name = (colon < 0 ? item : item.slice(0, colon)).trim().toLowerCase();
    if (!NAME.test(name) || !defenceNames().includes(name)) {
      throw new Error(`pipeline: unknown defence '${name}' in '${item}' (valid: ${defenceNames().join(', ')}, or 'none')`);
    }
    const stage = { name, given: {} as Record<string, number> };
    stages.push(stage);
    if (colon < 0) continue;
    const arg = item.slice(colon + 1).trim();
    if (arg.includes('=')) {
      setParam(stage, arg);
    } else {
      const main = getDefence(name).main;
      if (!main) throw new Error(`pipeline: ${name} takes no positional value ('${item}'); use key=value`);
      stage.given[main] = parseValue(name, main, arg);
    }
  }
  return stages.map((s) => resolveStage(s.name, s.given));
}

function setParam(stage: { name: string; given: Record<string, number> }, item: string): void {
  const eq = item.indexOf('=');
  const key = item.slice(0, eq).trim();
  const value = item.slice(eq + 1).trim();
  const valid = Object.keys(getDefence(stage.name).params.properties);
  if (!valid.includes(key)) throw new Error(`pipeline: ${stage.name}: unknown parameter '${key}' (valid: ${valid.join(', ')})`);
  if (key in stage.given) throw new Error(`pipeline: ${stage.name}: ${key} given twice`);
  stage.given[key] = parseValue(stage.name, key, value);
}

/**
 * The JSON form, already parsed: an array of `{ name, params? }`.
 *
 * @example
 * ```ts
 * import { parsePipelineJson } from 'robustify/defences';
 * console.log(parsePipelineJson([{ name: 'median', params: { window_size: 3 } }, { name: 'jpeg' }])); // defaults filled
 * ```
 */
export function parsePipelineJson(value: unknown): StageSpec[] {
  if (!Array.isArray(value)) throw new Error('pipeline: JSON form must be an array of { "name": …, "params": { … } }');
  return value.map((s: unknown, i) => {
    if (typeof s !== 'object' || s === null || Array.isArray(s)) throw new Error(`pipeline: stage ${i}: expected an object { "name", "params" }`);
    const { name, params = {}, ...rest } = s as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length) throw new Error(`pipeline: stage ${i}: unknown field '${extra[0]}' (valid: name, params)`);
    if (typeof name !== 'string' || !defenceNames().includes(name)) {
      throw new Error(`pipeline: stage ${i}: unknown defence ${JSON.stringify(name)} (valid: ${defenceNames().join(', ')})`);
    }
    if (typeof params !== 'object' || params === null || Array.isArray(params)) {
      throw new Error(`pipeline: stage ${i} (${name}): params must be an object`);
    }
    const specs = getDefence(name).params;
    for (const [k, v] of Object.entries(params)) {
      if (typeof v === 'string' && specs.properties[k]?.labels) continue;
      if (typeof v !== 'number') throw new Error(`pipeline: stage ${i} (${name}): ${k} must be a number, got ${JSON.stringify(v)}`);
    }
    try {
      return resolveStage(name, params as Record<string, number | string>);
    } catch (err) {
      throw new Error(`pipeline: stage ${i}: ${(err as Error).message}`);
    }
  });
}

/**
 * The canonical compact form ('none' for no stages).
 *
 * @example
 * ```ts
 * import { formatPipeline } from 'robustify';
 * console.log(formatPipeline([{ name: 'jpeg', params: { quality: 20 } }]), formatPipeline([])); // 'jpeg:quality=20' 'none'; see {@link parsePipeline}
 * ```
 */
export function formatPipeline(stages: readonly StageSpec[]): string {
  return stages.length ? stages.map((s) => formatToken(s.name, s.params, getDefence(s.name).params)).join(',') : 'none';
}

/**
 * A short text that parses back to the same stages: `jpeg:20` (the main parameter's value) when the other
 * parameters are at their defaults, the canonical token otherwise. For labels; 'none' for no stages.
 *
 * @example
 * ```ts
 * import { parsePipeline, formatPipelineShort } from 'robustify/defences';
 * console.log(formatPipelineShort(parsePipeline('jpeg:quality=20,tvm:prob=0.5'))); // jpeg:20,tvm:0.5 — or tvm's full token when others differ
 * ```
 */
export function formatPipelineShort(stages: readonly StageSpec[]): string {
  if (!stages.length) return 'none';
  return stages
    .map((s) => {
      const entry = getDefence(s.name);
      const others = Object.keys(s.params).filter((k) => k !== entry.main && s.params[k] !== entry.params.properties[k].default);
      if (others.length > 0) return formatToken(s.name, s.params, entry.params);
      return entry.main ? `${s.name}:${formatValue(entry.params.properties[entry.main], s.params[entry.main])}` : s.name;
    })
    .join(',');
}

/**
 * One registered defence, its parameters validated and defaults filled; errors name the defence and the
 * parameter.
 *
 * @example
 * ```ts
 * import { createDefence } from 'robustify/defences';
 * const jpeg = await createDefence('jpeg', { quality: 30 });
 * console.log(String(jpeg)); // jpeg:quality=30
 * ```
 */
export async function createDefence(name: string, params: Readonly<Record<string, number | string>> = {}): Promise<Preprocessor> {
  const stage = resolveStage(name, params);
  return getDefence(name).factory(stage.params);
}

/**
 * Build the preprocessors of a pipeline (text, JSON text, or parsed stages).
 *
 * @example
 * ```ts
 * import { initEngine, tf } from 'robustify';
 * import { buildPipeline } from 'robustify/defences';
 * await initEngine();
 * const pipeline = await buildPipeline('median:3,jpeg:20');
 * const x = tf.fill([1, 16, 16, 3], 128) as tf.Tensor4D;
 * const y = await pipeline.apply(x, { seed: 1 });
 * tf.dispose([x, y]);
 * ```
 */
export async function buildPipeline(spec: string | readonly StageSpec[]): Promise<Pipeline> {
  const stages = typeof spec === 'string' ? parsePipeline(spec) : spec.map((s) => resolveStage(s.name, s.params));
  const built: Preprocessor[] = [];
  for (const s of stages) built.push(await getDefence(s.name).factory(s.params));
  return new Pipeline(built);
}

/**
 * Stages applied in order; gradients estimated in reverse order. A seeded call draws every image's randomness
 * from the seed, the stage's prefix and the image (applier.ts), as the study's evaluator does.
 *
 * An 'exact' stage after the first needs its own input to differentiate at, so when there is one the
 * pipeline keeps the intermediates of its latest apply() (disposed by the next apply or dispose()), and
 * estimateGradient(x, grad) must follow apply(x) on the same x — the same random draw, as ART's attacks use.
 *
 * @example
 * ```ts
 * import { tf, initEngine, Pipeline, SpatialSmoothing, JpegCompression } from 'robustify';
 * await initEngine();
 * const pipeline = new Pipeline([new SpatialSmoothing({ window_size: 3 }), new JpegCompression({ quality: 30 })]);
 * const x = tf.randomUniform([1, 16, 16, 3], 0, 255, 'float32', 1) as tf.Tensor4D;
 * const y = await pipeline.apply(x);
 * const g = await pipeline.estimateGradient(x, tf.onesLike(y)); // after apply on the same x
 * console.log(String(pipeline), g.shape);
 * pipeline.dispose();
 * ```
 */
export class Pipeline implements Preprocessor {
  readonly name = 'pipeline';
  readonly params: Readonly<Record<string, number>> = Object.freeze({});
  /** 'exact' only when every stage is exact (the empty pipeline is the identity, exactly). */
  readonly gradient: 'exact' | 'identity';
  readonly stages: readonly Preprocessor[];
  private readonly keepsTrace: boolean;
  private trace: { inputId: number; inputs: tf.Tensor4D[] } | undefined;

  /** prefixes[i]: the canonical text of stages 0…i (the seed rule of applier.ts). */
  private readonly prefixes: readonly string[];

  constructor(stages: readonly Preprocessor[]) {
    this.stages = Object.freeze([...stages]);
    this.prefixes = prefixesOf(this.toJSON());
    this.gradient = stages.every((s) => s.gradient === 'exact') ? 'exact' : 'identity';
    this.keepsTrace = stages.slice(1).some((s) => s.gradient === 'exact');
  }

  async apply(x: tf.Tensor4D, ctx?: ApplyContext): Promise<tf.Tensor4D> {
    checkBatch(this.name, x);
    if (ctx?.seeds) throw new Error(`pipeline: takes one seed per call (its stages get per-image seeds from it), not seeds`);
    const kept: tf.Tensor4D[] = [];
    let out: tf.Tensor4D;
    try {
      out = await applyBatch(this.stages, this.prefixes, x, ctx?.seed, (t) => this.keepsTrace && kept.push(t) > 0);
    } catch (err) {
      kept.forEach((t) => t.dispose());
      throw err;
    }
    if (this.keepsTrace) {
      // Replaced only now, so overlapping apply() calls each release the trace they replace.
      this.dispose();
      this.trace = { inputId: x.id, inputs: kept };
    }
    return out === x ? x.clone() : out;
  }

  async estimateGradient(x: tf.Tensor4D, grad: tf.Tensor4D): Promise<tf.Tensor4D> {
    checkBatch(this.name, x);
    if (!tf.util.arraysEqual(x.shape, grad.shape)) {
      throw new Error(`pipeline: gradient shape [${grad.shape.join(', ')}] differs from input shape [${x.shape.join(', ')}]`);
    }
    if (this.keepsTrace && this.trace?.inputId !== x.id) {
      throw new Error(`pipeline '${this}': estimateGradient(x, grad) needs apply(x) on the same x first (an exact stage differentiates at its own input)`);
    }
    // Stage inputs read before the first await, as the check above saw them.
    const inputs = this.stages.map((_, i) => (i === 0 || !this.trace ? x : this.trace.inputs[i - 1]));
    let g = grad.clone();
    for (let i = this.stages.length - 1; i >= 0; i--) {
      // Identity stages only check shapes, so any same-shaped tensor serves as their input.
      try {
        const next = await this.stages[i].estimateGradient(inputs[i], g);
        g.dispose();
        g = next;
      } catch (err) {
        g.dispose();
        throw err;
      }
    }
    return g;
  }

  /** Release the intermediates kept for estimateGradient (none unless an exact stage follows another). */
  dispose(): void {
    this.trace?.inputs.forEach((t) => t.dispose());
    this.trace = undefined;
  }

  /** The stages as the JSON pipeline form (`JSON.stringify(pipeline)`). */
  toJSON(): StageSpec[] {
    return this.stages.map((s) => ({ name: s.name, params: { ...s.params } }));
  }

  toString(): string {
    return this.stages.length ? this.stages.map((s) => s.toString()).join(',') : 'none';
  }
}
