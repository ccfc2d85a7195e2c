/**
 * Reading and writing weights in the TF.js layers format (a JSON manifest + binary shards), the format both
 * face-api's shipped models and our own trained heads use.
 */
import * as tf from '@tensorflow/tfjs-core';
import { promises as fs } from 'node:fs';
import path from 'node:path';

interface ManifestGroup {
  paths: string[];
  weights: tf.io.WeightsManifestEntry[];
}

/**
 * Load every weight named in `manifestFile`; quantised (uint8/uint16) entries are de-quantised to float32. The
 * manifest's shape, its shard sizes and the finiteness of every weight are checked; errors name the file.
 */
export async function loadWeightsManifest(manifestFile: string): Promise<tf.NamedTensorMap> {
  let manifest: ManifestGroup[];
  try {
    manifest = JSON.parse(await fs.readFile(manifestFile, 'utf8')) as ManifestGroup[];
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(`cannot read weights manifest '${manifestFile}': ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
  const okGroup = (g: ManifestGroup) =>
    g && Array.isArray(g.paths) && g.paths.every((p) => typeof p === 'string' && !p.includes('..') && !path.isAbsolute(p)) && Array.isArray(g.weights);
  if (!Array.isArray(manifest) || !manifest.every(okGroup)) {
    throw new Error(`weights manifest '${manifestFile}': not a TF.js weights manifest (expected [{ paths, weights }])`);
  }
  const dir = path.dirname(manifestFile);
  const out: tf.NamedTensorMap = {};
  try {
    for (const group of manifest) {
      const shards = await Promise.all(
        group.paths.map((p) => fs.readFile(path.join(dir, p)).catch(() => Promise.reject(new Error(`weights manifest '${manifestFile}': cannot read shard '${path.join(dir, p)}'`)))),
      );
      const buf = Buffer.concat(shards);
      const need = group.weights.reduce((sum, w) => sum + entryBytes(w), 0);
      if (buf.length !== need) throw new Error(`weights manifest '${manifestFile}': shards hold ${buf.length} bytes, the manifest needs ${need}`);
      const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
      Object.assign(out, tf.io.decodeWeights(ab, group.weights));
    }
    checkFinite(out, `weights '${manifestFile}'`);
  } catch (err) {
    tf.dispose(out);
    throw err;
  }
  return out;
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

/** Bytes an entry takes in its shard (quantised entries store their quantised type). */
function entryBytes(w: tf.io.WeightsManifestEntry): number {
  const n = (w.shape ?? []).reduce((a, b) => a * b, 1);
  const dtype = w.quantization?.dtype ?? w.dtype;
  const size = DTYPE_BYTES[dtype];
  if (!Number.isInteger(n) || n < 0 || size === undefined) throw new Error(`weights entry '${w.name}': shape ${JSON.stringify(w.shape)} / dtype '${dtype}' not supported`);
  return n * size;
}

/** Throw, naming `what` and the weight, if any value is NaN or infinite: such a model gives numbers, all wrong. */
export function checkFinite(tensors: tf.NamedTensorMap, what: string): void {
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype !== 'float32') continue;
    const v = t.dataSync();
    for (let i = 0; i < v.length; i++) {
      if (!Number.isFinite(v[i])) throw new Error(`${what}: weight '${name}' holds ${v[i]} at index ${i} (weights must be finite)`);
    }
  }
}

/** Save tensors as `<name>-weights_manifest.json` + `<name>.bin` in `dir` (caller makes the write atomic). */
export async function saveWeightsManifest(dir: string, name: string, tensors: tf.NamedTensorMap): Promise<void> {
  const { data, specs } = await tf.io.encodeWeights(tensors);
  const manifest: ManifestGroup[] = [{ paths: [`${name}.bin`], weights: specs }];
  await fs.writeFile(path.join(dir, `${name}.bin`), Buffer.from(data));
  await fs.writeFile(path.join(dir, `${name}-weights_manifest.json`), JSON.stringify(manifest));
}
