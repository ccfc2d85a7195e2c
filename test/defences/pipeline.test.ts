/** Pipeline parsing, printing, the registry hook, composition forwards and backwards. */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import {
  JpegCompression,
  Pipeline,
  SpatialSmoothing,
  buildPipeline,
  defenceNames,
  formatPipeline,
  formatPipelineShort,
  parsePipeline,
  registerDefence,
  D,
  paramSpecs,
  type Preprocessor,
} from '../../src/defences/index.js';

before(async () => {
  await initEngine({ backend: 'wasm' });
});

test('compact form: positional main parameters, named parameters, defaults filled', () => {
  const stages = parsePipeline('median:3,jpeg:20,gauss:15,tvm,squeeze:5,bmcnn:20');
  assert.deepEqual(stages, [
    { name: 'median', params: { window_size: 3 } },
    { name: 'jpeg', params: { quality: 20 } },
    { name: 'gauss', params: { sigma: 15 } },
    { name: 'tvm', params: { prob: 0.3, norm: 2, lamb: 0.5, max_iter: 10, solver: 0 } },
    { name: 'squeeze', params: { bit_depth: 5 } },
    { name: 'bmcnn', params: { sigma: 20, ensemble: 0 } },
  ]);
  const tvm = { name: 'tvm', params: { prob: 0.4, norm: 1, lamb: 0.2, max_iter: 10, solver: 0 } };
  assert.deepEqual(parsePipeline('tvm:prob=0.4,lamb=0.2,norm=1'), [tvm]);
  assert.deepEqual(parsePipeline('tvm:0.4;lamb=0.2;norm=1'), [tvm]);
  assert.deepEqual(parsePipeline(' TVM : 0.4 , lamb = 0.2, norm=1 '), [tvm]);
  assert.deepEqual(parsePipeline('none'), []);
  assert.deepEqual(parsePipeline(''), []);
  assert.equal(formatPipeline([]), 'none');
});

test('canonical printing round-trips (parse → print → parse)', () => {
  for (const text of ['median:3,jpeg:20,gauss:15,tvm,squeeze:5,bmcnn:20', 'tvm:0.5,lamb=0.25,max_iter=3,jpeg', 'gauss:2.5', 'none']) {
    const printed = formatPipeline(parsePipeline(text));
    assert.deepEqual(parsePipeline(printed), parsePipeline(text), printed);
    assert.equal(formatPipeline(parsePipeline(printed)), printed);
  }
  assert.equal(formatPipeline(parsePipeline('median:3,tvm:lamb=0.2')), 'median:window_size=3,tvm:prob=0.3,norm=2,lamb=0.2,max_iter=10,solver=lbfgs');
});

test('short printing: the main value where the rest is default, and it parses back', () => {
  const cases: [string, string][] = [
    ['median:3,jpeg:20,gauss:15,tvm:0.4,squeeze:5', 'median:3,jpeg:20,gauss:15,tvm:0.4,squeeze:5'],
    ['tvm:prob=0.3,lamb=0.2', 'tvm:prob=0.3,norm=2,lamb=0.2,max_iter=10,solver=lbfgs'],
    ['jpeg', 'jpeg:50'],
    ['none', 'none'],
  ];
  for (const [text, short] of cases) {
    assert.equal(formatPipelineShort(parsePipeline(text)), short);
    assert.deepEqual(parsePipeline(short), parsePipeline(text));
  }
});

test('JSON form equals the compact form; Pipeline.toJSON round-trips', async () => {
  const json = '[{ "name": "jpeg", "params": { "quality": 20 } }, { "name": "median" }, { "name": "tvm", "params": { "lamb": 0.2 } }]';
  assert.deepEqual(parsePipeline(json), parsePipeline('jpeg:20,median,tvm:lamb=0.2'));
  const p = await buildPipeline(json);
  assert.deepEqual(parsePipeline(JSON.stringify(p)), parsePipeline(json));
  assert.equal(p.toString(), formatPipeline(parsePipeline(json)));
});

test('malformed pipelines name the problem and the valid choices', () => {
  const names = /valid: jpeg, gauss, median, tvm, squeeze, bmcnn/;
  assert.throws(() => parsePipeline('foo:3'), /unknown defence 'foo'/);
  assert.throws(() => parsePipeline('foo:3'), names);
  assert.throws(() => parsePipeline('jpeg:abc'), /jpeg: quality must be a number, got 'abc'/);
  assert.throws(() => parsePipeline('jpeg:0x10'), /must be a number, got '0x10'/);
  assert.throws(() => parsePipeline('jpeg:0'), /jpeg: quality must be an integer in \[1, 100\], got 0/);
  assert.throws(() => parsePipeline('median:2.5'), /median: window_size must be an integer in \[1, 63\]/);
  assert.throws(() => parsePipeline('jpeg:20,,median'), /empty item/);
  assert.throws(() => parsePipeline('lamb=0.5,tvm'), /'lamb=0.5' comes before any defence name/);
  assert.throws(() => parsePipeline('jpeg:quality=20,quality=30'), /jpeg: quality given twice/);
  assert.throws(() => parsePipeline('median:size=3'), /median: unknown parameter 'size' \(valid: window_size\)/);
  assert.throws(() => parsePipeline('tvm:norm=3'), /tvm: norm must be one of 1, 2, got 3/);
  assert.throws(() => parsePipeline('[{"name":"jpeg","params":{"quality":"20"}}]'), /stage 0 \(jpeg\): quality must be a number, got "20"/);
  assert.throws(() => parsePipeline('[{"name":"blur"}]'), names);
  assert.throws(() => parsePipeline('[{"name":"jpeg","quality":20}]'), /unknown field 'quality'/);
  assert.throws(() => parsePipeline('[{"name":"jpeg"'), /invalid JSON/);
});

test('bmcnn is a built-in of the one table (no import registers it); a taken name needs replace', () => {
  assert.deepEqual(defenceNames(), ['jpeg', 'gauss', 'median', 'tvm', 'squeeze', 'bmcnn']);
  assert.deepEqual(parsePipeline('bmcnn:20;ensemble=1'), [{ name: 'bmcnn', params: { sigma: 20, ensemble: 1 } }]);
  assert.throws(() => registerDefence('jpeg', () => new JpegCompression(), paramSpecs({})), /registerDefence: 'jpeg' is already registered/);
});

/** A differentiable test defence: y = x/2 + 64, exact gradient grad/2. */
class Halve implements Preprocessor {
  readonly name = 'halve';
  readonly gradient = 'exact' as const;
  readonly inputs: number[] = [];
  constructor(readonly params: Readonly<Record<string, number>>) {}
  async apply(x: tf.Tensor4D): Promise<tf.Tensor4D> {
    return tf.tidy(() => tf.add(tf.mul(x, 0.5), 64) as tf.Tensor4D);
  }
  estimateGradient(x: tf.Tensor4D, grad: tf.Tensor4D): tf.Tensor4D {
    this.inputs.push(x.id);
    return tf.mul(grad, 0.5);
  }
  toString(): string {
    return 'halve';
  }
}

test('registerDefence plugs a defence in without touching the parser', async () => {
  registerDefence('halve', (p) => new Halve(p), paramSpecs({ k: D.integer(1, 0, 9, 'k') }), { main: 'k' });
  assert.throws(() => registerDefence('halve', (p) => new Halve(p), paramSpecs({})), /'halve' is already registered/);
  assert.throws(() => registerDefence('Bad-Name', (p) => new Halve(p), paramSpecs({})), /invalid name/);
  assert.deepEqual(parsePipeline('halve:3'), [{ name: 'halve', params: { k: 3 } }]);
  const p = await buildPipeline('median:3,halve');
  assert.ok(p.stages[1] instanceof Halve);
  assert.equal(p.gradient, 'identity');
  assert.equal((await buildPipeline('halve,halve')).gradient, 'exact');
});

test('a pipeline applies its stages in order and estimates gradients in reverse order', async () => {
  const shape: [number, number, number, number] = [2, 10, 8, 3];
  const x = tf.tidy(() => tf.floor(tf.randomUniform(shape, 0, 256, 'float32', 1)) as tf.Tensor4D);
  const grad = tf.randomNormal(shape, 0, 1, 'float32', 2) as tf.Tensor4D;

  // Forward: same result as the stages one after another.
  const p = await buildPipeline('median:3,jpeg:30');
  assert.ok(p instanceof Pipeline);
  const y = await p.apply(x);
  const m = await new SpatialSmoothing({ window_size: 3 }).apply(x);
  const j = await new JpegCompression({ quality: 30 }).apply(m);
  assert.deepEqual(await y.data(), await j.data());
  tf.dispose([y, m, j]);

  // Identity pipeline: a copy of the input, identity gradient.
  const none = await buildPipeline('none');
  const yn = await none.apply(x);
  assert.notEqual(yn, x);
  assert.deepEqual(await yn.data(), await x.data());
  const gn = await none.estimateGradient(x, grad);
  assert.deepEqual(await gn.data(), await grad.data());
  tf.dispose([yn, gn]);

  // Seeded stochastic stages repeat; unseeded ones differ.
  const noisy = await buildPipeline('gauss:10,tvm:max_iter=1');
  const [a, b, c] = [await noisy.apply(x, { seed: 4 }), await noisy.apply(x, { seed: 4 }), await noisy.apply(x)];
  assert.deepEqual(await a.data(), await b.data());
  assert.notDeepEqual(await a.data(), await c.data());
  tf.dispose([a, b, c]);

  // Backward through an exact stage after an identity one: the exact stage sees its own input.
  const h = await buildPipeline('squeeze:4,halve,halve');
  await assert.rejects(Promise.resolve().then(() => h.estimateGradient(x, grad)), /needs apply\(x\) on the same x first/);
  const yh = await h.apply(x);
  const gh = await h.estimateGradient(x, grad);
  const expected = tf.mul(grad, 0.25);
  assert.deepEqual(await gh.data(), await expected.data());
  const stages = h.stages as Halve[];
  assert.notEqual(stages[1].inputs[0], x.id, 'halve #1 differentiates at squeeze(x), not x');
  assert.notEqual(stages[2].inputs[0], stages[1].inputs[0]);
  tf.dispose([yh, gh, expected]);
  h.dispose();

  // No growth in tensors across repeated calls (the trace is replaced, then released by dispose()).
  const start = tf.memory().numTensors;
  for (const pipe of [p, noisy, h]) {
    for (let r = 0; r < 3; r++) {
      const out = await pipe.apply(x, { seed: r });
      const g = await pipe.estimateGradient(x, grad);
      tf.dispose([out, g]);
    }
    pipe.dispose();
  }
  // Overlapping calls: each releases the trace it replaces.
  tf.dispose(await Promise.all([h.apply(x), h.apply(x), h.apply(x)]));
  h.dispose();
  assert.equal(tf.memory().numTensors, start);
  tf.dispose([x, grad]);
});
