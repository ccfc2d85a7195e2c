/** Small ONNX face-network stand-ins the tests write themselves (no Python, no downloads). */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { floatTensor, floatValueInfo, encodeModel, model, node } from '../../src/engine/onnx/proto.js';

/**
 * A tiny NCHW net: conv 3→4 (3×3, stride 2) → ReLU → max-pool 2×2 → global average pool → flatten → `emb`;
 * with `logits: K`, a Gemm to K classes after it (output `logits`). Written to `dir/tiny.onnx`.
 */
export async function tinyOnnx(dir: string, opts: { size?: number; logits?: number } = {}): Promise<string> {
  const size = opts.size ?? 9;
  const w = Float32Array.from({ length: 4 * 3 * 9 }, (_, i) => Math.sin(i * 1.7) * 0.3);
  const nodes = [
    node('Conv', ['input', 'w'], ['c'], { kernel_shape: { ints: [3, 3] }, strides: { ints: [2, 2] }, pads: { ints: [1, 1, 1, 1] } }),
    node('Relu', ['c'], ['r']),
    node('MaxPool', ['r'], ['m'], { kernel_shape: { ints: [2, 2] }, strides: { ints: [1, 1] } }),
    node('GlobalAveragePool', ['m'], ['p']),
    node('Flatten', ['p'], ['emb']),
  ];
  const initializer = [floatTensor('w', w, [4, 3, 3, 3])];
  const k = opts.logits;
  if (k) {
    nodes.push(node('Gemm', ['emb', 'fc', 'fc_b'], ['logits'], { transB: { i: 1 } }));
    initializer.push(floatTensor('fc', Float32Array.from({ length: k * 4 }, (_, i) => Math.cos(i * 2.3)), [k, 4]), floatTensor('fc_b', Float32Array.from({ length: k }, (_, i) => 0.1 * i), [k]));
  }
  const g = { name: 'tiny', node: nodes, initializer, input: [floatValueInfo('input', ['N', 3, size, size])], output: [floatValueInfo(k ? 'logits' : 'emb')] };
  const file = path.join(dir, 'tiny.onnx');
  await fs.writeFile(file, encodeModel(model(g)));
  return file;
}
