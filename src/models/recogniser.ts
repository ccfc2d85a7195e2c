/**
 * A recogniser's input contract: what the network expects of a face (size, layout, channel order, scaling,
 * alignment template) and which output is the embedding. One TypeBox schema serves validation, the help text
 * and the sidecar file (`<model>.robustify.json` next to the model); presets cover common exports.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value, ValuePointer } from '@sinclair/typebox/value';
import { promises as fs } from 'node:fs';
import path from 'node:path';

const Triple = Type.Union([Type.Number(), Type.Tuple([Type.Number(), Type.Number(), Type.Number()])]);

/**
 * The recogniser input contract as a TypeBox schema (validation, help, sidecar files).
 *
 * @example
 * ```ts
 * import { Value } from '@sinclair/typebox/value';
 * import { RecogniserSpecSchema } from 'robustify';
 * console.log(Value.Check(RecogniserSpecSchema, { channel_order: 'BGR', mean: 127.5, std: 128, alignment: 'arcface112', output_kind: 'embedding' })); // true
 * ```
 */
export const RecogniserSpecSchema = Type.Object(
  {
    input_size: Type.Optional(Type.Integer({ minimum: 8, maximum: 1024, description: 'square input side in pixels (default: from the graph)' })),
    layout: Type.Optional(Type.Union([Type.Literal('NHWC'), Type.Literal('NCHW')], { description: 'input layout (default: from the graph)' })),
    channel_order: Type.Union([Type.Literal('RGB'), Type.Literal('BGR')], { default: 'RGB', description: 'channel order the network was trained on' }),
    mean: Type.Union([Triple], { default: 127.5, description: 'subtracted from 0–255 pixels (one value or per channel, in channel_order)' }),
    std: Type.Union([Triple], { default: 128, description: 'then divided by this' }),
    alignment: Type.Union([Type.Literal('dlib150'), Type.Literal('arcface112')], { default: 'arcface112', description: 'face alignment template the network was trained on' }),
    input: Type.Optional(Type.String({ description: 'graph input to feed (default: the only one)' })),
    output: Type.Optional(Type.String({ description: 'graph output that is the embedding or the logits (default: the first)' })),
    output_kind: Type.Union([Type.Literal('embedding'), Type.Literal('logits')], { default: 'embedding', description: 'what that output is' }),
    labels: Type.Optional(Type.Array(Type.String(), { description: 'class names, for a logits output' })),
  },
  { additionalProperties: false },
);

/** A recogniser's input contract, every field resolved. */
export type RecogniserSpec = Static<typeof RecogniserSpecSchema>;
/** A spec as a user writes it: any field may be left out, and a `preset` supplies defaults. */
export type RecogniserSpecInput = Partial<RecogniserSpec> & { preset?: string };

/** The named input contracts (`--backbone-spec arcface112`, `{ "preset": … }`): built-ins, then plugins'. */
const presets = new Map<string, Partial<RecogniserSpec>>([
  /** InsightFace ArcFace exports (iresnet, MobileFaceNet): 112×112 ArcFace crops, NCHW, (x − 127.5)/127.5. */
  ['arcface112', { input_size: 112, layout: 'NCHW', channel_order: 'RGB', mean: 127.5, std: 127.5, alignment: 'arcface112' }],
  /** facenet-pytorch InceptionResnetV1: 160×160, NCHW, (x − 127.5)/128 (the crop scaled from the ArcFace one). */
  ['facenet160', { input_size: 160, layout: 'NCHW', channel_order: 'RGB', mean: 127.5, std: 128, alignment: 'arcface112' }],
]);

/**
 * Name an input contract, so a model's spec (or `--backbone-spec`) can say `{ "preset": name }`. The fields
 * are checked now, against the schema; refuses a taken name unless `replace`.
 *
 * @example
 * ```ts
 * import { registerRecogniserPreset, recogniserPresets } from 'robustify';
 * registerRecogniserPreset('sphereface96', { input_size: 96, layout: 'NCHW', mean: 127.5, std: 128 });
 * console.log(recogniserPresets()); // ['arcface112', 'facenet160', 'sphereface96']
 * ```
 */
export function registerRecogniserPreset(name: string, spec: Partial<RecogniserSpec>, opts: { replace?: boolean } = {}): void {
  if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`registerRecogniserPreset: invalid name '${name}' (lower-case letters, digits, '_')`);
  if (presets.has(name) && !opts.replace) throw new Error(`registerRecogniserPreset: '${name}' is already registered`);
  checkSpec(spec, `preset ${name}`);
  presets.set(name, { ...spec });
}

/**
 * Names of the registered recogniser presets, built-ins first.
 *
 * @example
 * ```ts
 * import { recogniserPresets } from 'robustify';
 * console.log(recogniserPresets()); // ['arcface112', 'facenet160', …]
 * ```
 */
export function recogniserPresets(): string[] {
  return [...presets.keys()];
}

/** A registered preset's fields; the error lists the valid names. */
export function getRecogniserPreset(name: string): Partial<RecogniserSpec> {
  const p = presets.get(name);
  if (!p) throw new Error(`recogniser: unknown preset '${name}' (valid: ${recogniserPresets().join(', ')})`);
  return p;
}

/** The sidecar that describes `model` (`dir/name.robustify.json` for `dir/name.onnx` / `dir/name.json`). */
export function sidecarPath(model: string): string {
  return path.join(path.dirname(model), `${path.basename(model, path.extname(model))}.robustify.json`);
}

/** Read a spec from a JSON file; errors name it. */
export async function readSpecFile(file: string): Promise<RecogniserSpecInput> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`${file}: cannot read recogniser spec (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    return JSON.parse(text) as RecogniserSpecInput;
  } catch (err) {
    throw new Error(`${file}: recogniser spec is not JSON (${(err as Error).message})`);
  }
}

/**
 * The spec for `model`: defaults ← preset ← sidecar ← `given` (later wins), validated. `given` may name a
 * preset too. `where` names the source in errors.
 *
 * @example
 * ```ts
 * import { resolveSpec } from 'robustify';
 * const spec = await resolveSpec('nets/arcface.onnx', { preset: 'arcface112', std: 128 }); // no sidecar next to it
 * console.log(spec.input_size, spec.layout, spec.std); // 112 'NCHW' 128
 * ```
 */
export async function resolveSpec(model: string, given: RecogniserSpecInput = {}): Promise<RecogniserSpec> {
  const side = sidecarPath(model);
  const sidecar = await fs.access(side).then(
    () => readSpecFile(side),
    () => ({}) as RecogniserSpecInput,
  );
  const presetName = given.preset ?? sidecar.preset;
  const preset = presetName === undefined ? {} : getRecogniserPreset(presetName);
  const { preset: _a, ...s } = sidecar;
  const { preset: _b, ...g } = given;
  void _a;
  void _b;
  return checkSpec({ ...preset, ...s, ...g }, model);
}

/** Defaults filled in and every field checked; the error names the field and the model. */
export function checkSpec(input: Partial<RecogniserSpec>, model: string): RecogniserSpec {
  const spec = Value.Default(RecogniserSpecSchema, structuredClone(input)) as RecogniserSpec;
  const first = Value.Errors(RecogniserSpecSchema, spec).First();
  if (first) {
    const field = first.path.replace(/^\//, '') || '(spec)';
    throw new Error(`recogniser '${model}': ${field} ${first.message.toLowerCase()}, got ${JSON.stringify(ValuePointer.Get(spec, first.path) ?? null)}`);
  }
  const std = typeof spec.std === 'number' ? [spec.std] : spec.std;
  if (std.some((v) => v === 0)) throw new Error(`recogniser '${model}': std must not be 0`);
  return spec;
}

/** Per-channel (RGB order of our images) mean and std. */
export function channelScaling(spec: RecogniserSpec): { mean: [number, number, number]; std: [number, number, number] } {
  const triple = (v: RecogniserSpec['mean']): [number, number, number] => (typeof v === 'number' ? [v, v, v] : [...v]);
  // Values are given in the network's channel order; our pixels are RGB, so a BGR spec is read back to front.
  const order = (t: [number, number, number]): [number, number, number] => (spec.channel_order === 'BGR' ? [t[2], t[1], t[0]] : t);
  return { mean: order(triple(spec.mean)), std: order(triple(spec.std)) };
}

/** One help line per field, from the schema. */
export function specHelp(): string {
  return Object.entries(RecogniserSpecSchema.properties)
    .map(([k, v]) => `${k}: ${(v as { description?: string }).description ?? ''}`)
    .join('; ');
}
