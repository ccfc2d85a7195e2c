import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../src/engine/backend.js';
import { importTfjsModel, loadModelGraph } from '../../src/engine/onnx/import/index.js';
import { encodeModel, type ModelProto } from '../../src/engine/onnx/proto.js';
import { loadOnnxRuntime } from '../../src/engine/onnx/runtime.js';
import { TfjsOnnxModel } from '../../src/engine/onnx/tfjs-run.js';
import { relError } from '../helpers/numeric.js';
import { mobileFaceNetPath } from '../helpers/test-models.js';

const ort = await loadOnnxRuntime();

/** The graph's single output on ORT (when it loads) and on our TF.js executor. */
async function runBoth(m: ModelProto, input: string, x: tf.Tensor, file: string): Promise<{ ort?: Float32Array; tfjs: Float32Array }> {
  const exec = new TfjsOnnxModel(m, file);
  const out = exec.run({ [input]: x });
  const tfjs = (await out[exec.outputNames[0]].data()) as Float32Array;
  tf.dispose(Object.values(out));
  exec.dispose();
  if (!ort) return { tfjs };
  const s = await ort.InferenceSession.create(encodeModel(m));
  const r = await s.run({ [input]: new ort.Tensor('float32', (await x.data()) as Float32Array, x.shape) });
  await s.release();
  return { ort: r[s.outputNames[0]].data as Float32Array, tfjs };
}

async function tmpDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'robustify-import-'));
}

/** Save a TF.js model (graph or layers) as model.json + one shard in `dir`. */
async function writeModelJson(dir: string, json: Record<string, unknown>, specs: tf.io.WeightsManifestEntry[], data: ArrayBuffer): Promise<string> {
  await fs.writeFile(path.join(dir, 'w.bin'), Buffer.from(data));
  const file = path.join(dir, 'model.json');
  await fs.writeFile(file, JSON.stringify({ ...json, weightsManifest: [{ paths: ['w.bin'], weights: specs }] }));
  return file;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const list = (...v: number[]) => ({ list: { i: v.map(String) } });

/**
 * A small graph model in tfjs-converter's format, with the fused and plain ops face models use, odd sizes,
 * strides 2, 'VALID' and 'SAME' padding, a depth multiplier 2 and PReLU; weights random.
 */
async function smallGraphModel(dir: string): Promise<{ file: string; json: Record<string, unknown>; weights: tf.NamedTensorMap }> {
  const r = (shape: number[], seed: number) => tf.randomUniform(shape, -0.5, 0.5, 'float32', seed);
  const weights: tf.NamedTensorMap = {
    f1: r([3, 3, 3, 5], 1),
    b1: r([5], 2),
    dw: r([3, 3, 5, 2], 3),
    b2: r([10], 4),
    alpha: r([10], 5),
    f3: r([1, 1, 10, 6], 6),
    pads: tf.tensor2d([[0, 0], [1, 0], [0, 1], [0, 0]], [4, 2], 'int32'),
    axes: tf.tensor1d([1, 2], 'int32'),
    w: r([6, 7], 7),
    bw: r([7], 8),
    shape: tf.tensor1d([-1, 7], 'int32'),
    one: tf.tensor1d([1], 'int32'),
    eps: tf.scalar(1e-10),
    half: tf.scalar(0.5),
    six: r([7], 9),
  };
  const conv = (name: string, op: string, inputs: string[], strides: number, padding: string, fused: string[]) => ({
    name,
    op,
    input: inputs,
    attr: { strides: list(1, strides, strides, 1), padding: { s: b64(padding) }, data_format: { s: b64('NHWC') }, dilations: list(1, 1, 1, 1), fused_ops: { list: { s: fused.map(b64) } }, num_args: { i: String(inputs.length - 2) } },
  });
  const node = (name: string, op: string, input: string[], attr: Record<string, unknown> = {}) => ({ name, op, input, attr });
  const nodes = [
    node('x', 'Placeholder', [], { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [{ size: '-1' }, { size: '17' }, { size: '17' }, { size: '3' }] } } }),
    ...Object.keys(weights).map((k) => node(k, 'Const', [])),
    // Listed out of order on purpose: tfjs-converter does not promise a topological order.
    node('out', 'Mul', ['norm', 'rs']),
    conv('c1', '_FusedConv2D', ['x', 'f1', 'b1'], 2, 'VALID', ['BiasAdd', 'Relu']),
    node('p', 'Pad', ['c1', 'pads']),
    conv('d1', 'FusedDepthwiseConv2dNative', ['p', 'dw', 'b2', 'alpha'], 1, 'SAME', ['BiasAdd', 'Prelu']),
    conv('c3', 'Conv2D', ['d1', 'f3'], 2, 'SAME', []),
    node('r6', 'Relu6', ['c3']),
    node('m', 'Mean', ['r6', 'axes'], { keep_dims: { b: false } }),
    node('fc', '_FusedMatMul', ['m', 'w', 'bw'], { num_args: { i: '1' }, transpose_a: { b: false }, transpose_b: { b: false }, fused_ops: { list: { s: [b64('BiasAdd')] } } }),
    node('mx', 'Maximum', ['fc', 'six']),
    node('mn', 'Minimum', ['mx', 'half']),
    node('sub', 'Sub', ['mn', 'fc']),
    node('add', 'AddV2', ['sub', 'fc']),
    node('norm', 'Reshape', ['add', 'shape']),
    node('sq', 'Square', ['norm']),
    node('sum', 'Sum', ['sq', 'one'], { keep_dims: { b: true } }),
    node('mxe', 'Maximum', ['sum', 'eps']),
    node('rs', 'Rsqrt', ['mxe']),
  ];
  const { data, specs } = await tf.io.encodeWeights(weights);
  const json = { format: 'graph-model', generatedBy: 'test', modelTopology: { node: nodes, versions: { producer: 1 } } };
  return { file: await writeModelJson(dir, json, specs, data), json, weights };
}

test('a TF.js graph model imports to ONNX whose forward equals TF.js executing the model (ORT and our TF.js executor)', async () => {
  await initEngine({ backend: 'cpu', strict: true });
  const dir = await tmpDir();
  const { file, json, weights } = await smallGraphModel(dir);
  const bin = await fs.readFile(path.join(dir, 'w.bin'));
  const gm = await tf.loadGraphModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology as object, weightSpecs: (await tf.io.encodeWeights(weights)).specs, weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) }),
  );
  const x = tf.randomUniform([2, 17, 17, 3], -1, 1, 'float32', 11);
  const ref = gm.execute(x) as tf.Tensor;
  const refData = (await ref.data()) as Float32Array;
  const m = await importTfjsModel(file);
  const got = await runBoth(m, 'x', x, file);
  assert.ok(relError(got.tfjs, refData) < 1e-5, `tfjs executor: ${relError(got.tfjs, refData)}`);
  if (got.ort) assert.ok(relError(got.ort, refData) < 1e-5, `ORT: ${relError(got.ort, refData)}`);
  tf.dispose([x, ref, ...Object.values(weights)]);
  gm.dispose();
  await fs.rm(dir, { recursive: true });
});

test('a TF.js layers model imports to ONNX whose forward equals model.predict', async () => {
  await initEngine({ backend: 'cpu', strict: true });
  const input = tf.input({ shape: [15, 15, 3] });
  const c1 = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'c1' }).apply(input) as tf.SymbolicTensor;
  const bn = tf.layers.batchNormalization({ name: 'bn' }).apply(c1) as tf.SymbolicTensor;
  const dw = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', name: 'dw' }).apply(bn) as tf.SymbolicTensor;
  const pr = tf.layers.prelu({ name: 'pr', alphaInitializer: 'glorotUniform' }).apply(dw) as tf.SymbolicTensor;
  const sum = tf.layers.add({ name: 'sum' }).apply([pr, bn]) as tf.SymbolicTensor;
  const pool = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(sum) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 5, name: 'fc' }).apply(pool) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  // Non-trivial batch-norm statistics.
  const bnLayer = model.getLayer('bn');
  bnLayer.setWeights(bnLayer.getWeights().map((w, i) => tf.randomUniform(w.shape, i === 3 ? 0.5 : -0.5, i === 3 ? 1.5 : 0.5, 'float32', 20 + i)));
  const dir = await tmpDir();
  let file = '';
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      file = await writeModelJson(dir, { format: 'layers-model', modelTopology: artifacts.modelTopology }, artifacts.weightSpecs!, artifacts.weightData as ArrayBuffer);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const x = tf.randomUniform([3, 15, 15, 3], -1, 1, 'float32', 12);
  const ref = model.predict(x) as tf.Tensor;
  const refData = (await ref.data()) as Float32Array;
  const m = await importTfjsModel(file);
  const got = await runBoth(m, m.graph!.input![0].name!, x, file);
  assert.ok(relError(got.tfjs, refData) < 1e-5, `tfjs executor: ${relError(got.tfjs, refData)}`);
  if (got.ort) assert.ok(relError(got.ort, refData) < 1e-5, `ORT: ${relError(got.ort, refData)}`);
  tf.dispose([x, ref]);
  model.dispose();
  await fs.rm(dir, { recursive: true });
});

test('bad models: an unsupported op, missing shards and a corrupt ONNX file are one line naming the file and the cause', async () => {
  await initEngine({ backend: 'cpu', strict: true });
  const dir = await tmpDir();
  const { file, json } = await smallGraphModel(dir);
  const topo = json.modelTopology as { node: { name: string; op: string }[] };
  const odd = path.join(dir, 'odd.json');
  const manifest = JSON.parse(await fs.readFile(file, 'utf8')).weightsManifest;
  await fs.writeFile(odd, JSON.stringify({ ...json, modelTopology: { node: topo.node.map((n) => (n.name === 'p' ? { ...n, op: 'Erf' } : n)) }, weightsManifest: manifest }));
  await assert.rejects(importTfjsModel(odd), (e: Error) => e.message === `${odd}: unsupported TF.js op 'Erf' (node 'p')`);
  await fs.rm(path.join(dir, 'w.bin'));
  await assert.rejects(importTfjsModel(file), (e: Error) => e.message.startsWith(`${file}: weight shard '${path.join(dir, 'w.bin')}' is missing`) && !e.message.includes('\n'));
  const corrupt = path.join(dir, 'corrupt.onnx');
  await fs.writeFile(corrupt, Buffer.from([0x08, 0x07, 0xff, 0xff, 0xff, 0x01, 0x42]));
  await assert.rejects(loadModelGraph(corrupt), (e: Error) => e.message.startsWith(`${corrupt}: not an ONNX model`) && !e.message.includes('\n'));
  await fs.rm(dir, { recursive: true });
});

test('MobileFaceNet (human-models, TF.js graph model): the imported ONNX forward equals TF.js executing it', async () => {
  const file = await mobileFaceNetPath();
  if (!file) return;
  await initEngine({ backend: 'wasm', strict: true });
  const json = JSON.parse(await fs.readFile(file, 'utf8'));
  const bin = await fs.readFile(file.replace(/\.json$/, '.bin'));
  const gm = await tf.loadGraphModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) }),
  );
  const x = tf.randomUniform([2, 112, 112, 3], -1, 1, 'float32', 13);
  const ref = gm.execute(x) as tf.Tensor;
  const refData = (await ref.data()) as Float32Array;
  const m = await importTfjsModel(file);
  const got = await runBoth(m, 'img_inputs', x, file);
  assert.ok(relError(got.tfjs, refData) < 1e-5, `tfjs executor: ${relError(got.tfjs, refData)}`);
  if (got.ort) assert.ok(relError(got.ort, refData) < 1e-5, `ORT: ${relError(got.ort, refData)}`);
  tf.dispose([x, ref]);
  gm.dispose();
});
