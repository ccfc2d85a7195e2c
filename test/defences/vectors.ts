/** Shared loader for the ART conformance vectors (../shared/spec/vectors); not a test file itself. */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeImage, readF32 } from '../../src/image/index.js';

/** dist/test/defences → the repository root → ../shared. */
export const VECTORS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../shared/spec/vectors');

export interface VectorCase {
  input: string;
  shape: [number, number, number];
  op: 'jpeg' | 'median' | 'squeeze' | 'tvm';
  params: Record<string, number>;
  output: string;
  mask?: string;
  objective_input?: number[];
  objective_art?: number[];
}

export async function loadCases(): Promise<VectorCase[]> {
  const index = JSON.parse(await fsp.readFile(path.join(VECTORS, 'index.json'), 'utf8')) as { cases: VectorCase[] };
  return index.cases;
}

/** The case's input pixels and ART's output, both HWC float32. */
export async function loadCase(c: VectorCase): Promise<{ input: Float32Array; expected: Float32Array }> {
  const [h, w] = c.shape;
  const input = (await decodeImage(path.join(VECTORS, c.input))).data;
  const expected = (await readF32(path.join(VECTORS, c.output), h, w)).data;
  return { input, expected };
}

export async function loadMask(c: VectorCase): Promise<Uint8Array> {
  if (!c.mask) throw new Error(`case ${c.output} has no mask`);
  return new Uint8Array(await fsp.readFile(path.join(VECTORS, c.mask)));
}
