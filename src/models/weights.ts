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

/** Load every weight named in `manifestFile`; quantised (uint8/uint16) entries are de-quantised to float32. */
export async function loadWeightsManifest(manifestFile: string): Promise<tf.NamedTensorMap> {
  let manifest: ManifestGroup[];
  try {
    manifest = JSON.parse(await fs.readFile(manifestFile, 'utf8')) as ManifestGroup[];
  } catch (err) {
    throw new Error(`cannot read weights manifest '${manifestFile}': ${(err as Error).message}`);
  }
  const dir = path.dirname(manifestFile);
  const out: tf.NamedTensorMap = {};
  for (const group of manifest) {
    const shards = await Promise.all(group.paths.map((p) => fs.readFile(path.join(dir, p))));
    const buf = Buffer.concat(shards);
    const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    Object.assign(out, tf.io.decodeWeights(ab, group.weights));
  }
  return out;
}

/** Save tensors as `<name>-weights_manifest.json` + `<name>.bin` in `dir` (caller makes the write atomic). */
export async function saveWeightsManifest(dir: string, name: string, tensors: tf.NamedTensorMap): Promise<void> {
  const { data, specs } = await tf.io.encodeWeights(tensors);
  const manifest: ManifestGroup[] = [{ paths: [`${name}.bin`], weights: specs }];
  await fs.writeFile(path.join(dir, `${name}.bin`), Buffer.from(data));
  await fs.writeFile(path.join(dir, `${name}-weights_manifest.json`), JSON.stringify(manifest));
}
