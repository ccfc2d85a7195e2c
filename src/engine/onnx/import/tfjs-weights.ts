/**
 * The weights of a TF.js model.json (GraphModel or LayersModel): every shard named by its weightsManifest,
 * read next to the model file and decoded (quantised and float16 entries de-quantised) into plain arrays.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { promises as fs } from 'node:fs';
import path from 'node:path';

export interface ConstValue {
  dtype: 'float32' | 'int32';
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface ModelJson {
  format?: string;
  modelTopology: unknown;
  weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  signature?: unknown;
}

/** Parse `file` as a TF.js model.json; errors name the file. */
export async function readModelJson(file: string): Promise<ModelJson> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let json: ModelJson;
  try {
    json = JSON.parse(text) as ModelJson;
  } catch (err) {
    throw new Error(`${file}: not JSON (${(err as Error).message})`);
  }
  if (!json || typeof json !== 'object' || !json.modelTopology) throw new Error(`${file}: not a TF.js model.json (no modelTopology)`);
  return json;
}

/** All weights of the model, by name. A missing or short shard is one error naming it. */
export async function readWeights(file: string, json: ModelJson): Promise<Map<string, ConstValue>> {
  const dir = path.dirname(file);
  const out = new Map<string, ConstValue>();
  for (const group of json.weightsManifest ?? []) {
    const shards: Buffer[] = [];
    for (const p of group.paths) {
      const shard = path.join(dir, p);
      try {
        shards.push(await fs.readFile(shard));
      } catch (err) {
        throw new Error(`${file}: weight shard '${shard}' is missing (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
    }
    const buf = Buffer.concat(shards);
    const need = group.weights.reduce((sum, w) => sum + byteSize(w), 0);
    if (buf.byteLength < need) throw new Error(`${file}: weight shards [${group.paths.join(', ')}] hold ${buf.byteLength} bytes, the manifest needs ${need}`);
    let offset = 0;
    for (const w of group.weights) {
      out.set(w.name, decode(buf, offset, w, file));
      offset += byteSize(w);
    }
  }
  return out;
}

/** One manifest entry from the shard bytes (no TF.js backend needed: the importer runs before one exists). */
function decode(buf: Buffer, offset: number, w: tf.io.WeightsManifestEntry, file: string): ConstValue {
  const n = w.shape.reduce((a, b) => a * b, 1);
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset + offset, byteSize(w)).slice();
  const q = w.quantization;
  const dtype = w.dtype === 'int32' ? 'int32' : 'float32';
  if (w.dtype !== 'float32' && w.dtype !== 'int32') throw new Error(`${file}: weight '${w.name}' has dtype ${w.dtype} (float32 and int32 only)`);
  if (!q) return { dtype, shape: w.shape, data: dtype === 'int32' ? new Int32Array(bytes.buffer) : new Float32Array(bytes.buffer) };
  const values = new Float32Array(n);
  if (q.dtype === 'float16') {
    const h = new Uint16Array(bytes.buffer);
    for (let i = 0; i < n; i++) values[i] = halfToFloat(h[i]);
  } else {
    const raw = q.dtype === 'uint8' ? bytes : new Uint16Array(bytes.buffer);
    const scale = q.scale ?? 1;
    const min = q.min ?? 0;
    for (let i = 0; i < n; i++) values[i] = raw[i] * scale + min;
  }
  return { dtype, shape: w.shape, data: dtype === 'int32' ? Int32Array.from(values, Math.round) : values };
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

function byteSize(w: tf.io.WeightsManifestEntry): number {
  const n = w.shape.reduce((a, b) => a * b, 1);
  const q = w.quantization?.dtype;
  return n * (q === 'uint8' ? 1 : q === 'uint16' || q === 'float16' ? 2 : 4);
}
