import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { AutoProjectedGradientDescent, ProjectedGradientDescent } from '../../src/attacks/index.js';
import { initEngine } from '../../src/engine/backend.js';
import { loadOnnxRuntime } from '../../src/engine/onnx/runtime.js';
import { batches, listDataset } from '../../src/data/index.js';
import { BACKBONE_INPUT_SIZE, FaceRecognitionNet, POOLED_DIM } from '../../src/models/backbone.js';
import { FaceClassifier, newMeta, predictLabels, type Classifier, type Labels } from '../../src/models/classifier.js';
import { DenseHead, featureStats } from '../../src/models/head.js';
import { NativeClassifier, accelerate, nativeGalleryWeights } from '../../src/models/native.js';
import { DEFAULT_TEMPERATURE, GalleryClassifier } from '../../src/models/gallery.js';
import { relError } from '../helpers/numeric.js';

const FACES14 = path.resolve('../shared/data/faces14');
const ort = await loadOnnxRuntime();
const skip = ort ? false : 'onnxruntime-node does not load on this platform';
const CLASSES = 5;


/** Six faces of faces14 (112×112, two per identity) and their identity indices. */
async function faces(): Promise<{ x: tf.Tensor4D; labels: number[] }> {
  const listing = await listDataset(FACES14);
  const samples = listing.identities.slice(0, 3).flatMap((id, label) => id.files.slice(0, 2).map((file) => ({ file, identity: id.name, label })));
  // As stored (112×112), so that the classifiers' own resize to 150×150 is part of what is compared.
  const { value } = await batches(samples, samples.length, { size: 112, chip: 'resize' }).next();
  return { x: value!.x, labels: value!.labels };
}

/** The real backbone under a random head, standardised on the pooled features of `x` (a realistic regime). */
async function randomHeadModel(x: tf.Tensor4D): Promise<FaceClassifier> {
  const backbone = await FaceRecognitionNet.load();
  const pooled = tf.tidy(() => backbone.pooled(tf.image.resizeBilinear(x, [BACKBONE_INPUT_SIZE, BACKBONE_INPUT_SIZE], false, true)));
  const stats = featureStats((await pooled.data()) as Float32Array, POOLED_DIM);
  pooled.dispose();
  const head = DenseHead.create({ inputDim: POOLED_DIM, hidden: 32, classes: CLASSES, dropout: 0.5 }, stats, 17);
  return new FaceClassifier(backbone, head, newMeta(['a', 'b', 'c', 'd', 'e'], { hidden: 32, dropout: 0.5 }));
}

interface Shared {
  x: tf.Tensor4D;
  labels: number[];
  model: FaceClassifier;
  native: NativeClassifier;
}
let shared: Shared | undefined;

/** The six faces, the random-head model on them and its native twin, built once for the tests that compare them. */
async function fixture(): Promise<Shared> {
  if (!shared) {
    await initEngine({ backend: 'wasm', strict: true });
    const { x, labels } = await faces();
    const model = await randomHeadModel(x);
    shared = { x, labels, model, native: await NativeClassifier.create(ort!, model) };
  }
  return shared;
}

after(async () => {
  if (!shared) return;
  await shared.native.dispose();
  shared.model.dispose();
  shared.x.dispose();
});

async function compare(native: Classifier, model: Classifier, x: tf.Tensor4D, labels: number[], what: string) {
  const y = tf.tensor1d(labels, 'int32');
  const [ln, lt, gn, gt] = [await native.predict(x), await model.predict(x), await native.lossGradient(x, y), await model.lossGradient(x, y)];
  assert.deepEqual(ln.shape, [x.shape[0], CLASSES], what);
  assert.deepEqual(gn.shape, x.shape, what);
  const logitsErr = relError(await ln.data(), await lt.data());
  const gradErr = relError(await gn.data(), await gt.data());
  tf.dispose([y, ln, lt, gn, gt]);
  assert.ok(logitsErr <= 1e-4, `${what}: logits relative error ${logitsErr}`);
  assert.ok(gradErr <= 1e-3, `${what}: gradient relative error ${gradErr}`);
  return { logitsErr, gradErr };
}

test('native classifier: logits and input gradient equal the TF.js (wasm) classifier\'s on real faces', { skip }, async (t) => {
  const { x, labels, model, native } = await fixture();
  const x150 = tf.image.resizeBilinear(x, [BACKBONE_INPUT_SIZE, BACKBONE_INPUT_SIZE], false, true);
  const noise = tf.randomUniform([3, BACKBONE_INPUT_SIZE, BACKBONE_INPUT_SIZE, 3], 0, 255, 'float32', 5) as tf.Tensor4D;
  const cases: Array<[string, tf.Tensor4D, number[]]> = [
    ['150×150 faces, batch 1', tf.slice(x150, 0, 1), labels.slice(0, 1)],
    ['150×150 faces, batch 3', tf.slice(x150, 1, 3), labels.slice(1, 4)],
    ['112×112 faces (resized in TF.js), batch 3', tf.slice(x, 3, 3), labels.slice(3, 6)],
    ['uniform noise, batch 3', noise, [4, 0, 2]],
  ];
  for (const [what, xs, ys] of cases) {
    const { logitsErr, gradErr } = await compare(native, model, xs, ys, what);
    t.diagnostic(`${what}: logits ${logitsErr.toExponential(1)}, gradient ${gradErr.toExponential(1)}`);
    if (xs !== noise) xs.dispose();
  }
  tf.dispose([x150, noise]);
});

test('native classifier: no tensors leak across calls; PGD finds the same adversarial predictions as TF.js', { skip }, async (t) => {
  const { x, labels, model, native } = await fixture();
  assert.equal(native.classes, CLASSES);
  const y = tf.tensor1d(labels, 'int32');
  const call = async () => tf.dispose([await native.predict(x), await native.lossGradient(x, y)]);
  await call();
  const before = tf.memory().numTensors;
  await call();
  await call();
  assert.equal(tf.memory().numTensors, before, 'numTensors grew across native calls');

  // Attack towards the head's own predictions so every face starts correctly "classified".
  const clean = await predictLabels(model, x);
  const attack = new ProjectedGradientDescent({ eps: 4, eps_step: 1, max_iter: 4, batch_size: 3 });
  const advNative = await attack.generate(native, x, clean);
  const advTfjs = await attack.generate(model, x, clean);
  const predNative = await predictLabels(model, advNative);
  assert.deepEqual(predNative, await predictLabels(model, advTfjs));
  assert.deepEqual(await predictLabels(native, advNative), predNative);
  assert.notDeepEqual(predNative, clean, 'the attack changed no prediction: nothing compared');
  // Pixels whose gradient is ~0 may take the other sign; on average the two attacks must stay close (eps 4).
  const meanDiff = tf.tidy(() => tf.mean(tf.abs(tf.sub(advNative, advTfjs))).dataSync()[0]);
  t.diagnostic(`mean |adv native − adv TF.js| = ${meanDiff.toFixed(4)}`);
  assert.ok(meanDiff < 0.1, `mean |adv native − adv TF.js| = ${meanDiff}`);
  tf.dispose([y, advNative, advTfjs]);
});

test('native PGD iterations: every iterate equals PGD stepping in TF.js on the native gradient (L∞, L2, targeted)', { skip }, async (t) => {
  const { x: x112, labels, native } = await fixture();
  // The same gradients without the native loop: pgd.ts then steps in TF.js.
  const stepwise: Classifier = { classes: native.classes, predict: (x) => native.predict(x), lossGradient: (x, y) => native.lossGradient(x, y) };
  const x = tf.image.resizeBilinear(tf.slice(x112, 0, 4), [BACKBONE_INPUT_SIZE, BACKBONE_INPUT_SIZE], false, true) as tf.Tensor4D;
  const y = labels.slice(0, 4);
  const cases: Array<[string, ConstructorParameters<typeof ProjectedGradientDescent>[0]]> = [
    ['L∞, projection active', { eps: 2, eps_step: 1, max_iter: 4 }],
    ['L∞ targeted, two batches', { eps: 4, eps_step: 0.5, max_iter: 3, targeted: true, batch_size: 3 }],
    ['L2 from a random start, projection active', { norm: 2, eps: 400, eps_step: 250, max_iter: 1, num_random_init: 1 }],
    ['L2', { norm: 2, eps: 400, eps_step: 20, max_iter: 3 }],
  ];
  for (const [what, params] of cases) {
    const attack = new ProjectedGradientDescent(params);
    const iterates = async (clf: Classifier) => {
      const out: Float32Array[] = [];
      const last = await attack.generate(clf, x, y, { onIteration: async (_, a) => void out.push(Float32Array.from(await a.data())) });
      out.push(Float32Array.from(await last.data()));
      last.dispose();
      return out;
    };
    const before = tf.memory().numTensors;
    const ours = await iterates(native);
    assert.equal(tf.memory().numTensors, before, `${what}: numTensors grew`);
    const ref = await iterates(stepwise);
    assert.equal(ours.length, ref.length, what);
    // L∞ iterates come out bit-identical; L2's differ by the summation order of the norms (a large L2 step
    // amplifies that from one iterate to the next, hence a single step from a random start for the projection).
    ours.forEach((a, k) => {
      let max = 0;
      for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - ref[k][i]));
      if (k === ours.length - 1) t.diagnostic(`${what}: max |Δ| of the last iterate ${max.toExponential(1)}`);
      assert.ok(max <= 1e-3, `${what}: iterate ${k + 1} differs by ${max}`);
    });
  }
  let asked = 0;
  const adv = await new ProjectedGradientDescent({ max_iter: 5 }).generate(native, x, y, { iterates: [2, 4], onIteration: (i) => void (asked += i) });
  assert.equal(asked, 6, 'onIteration called for other iterations than asked');
  tf.dispose([x, adv]);
});

test('native PGD on worker threads (the batch split, NCHW iterates) equals the one-session loop, iterate by iterate', { skip }, async () => {
  const { x: x112, labels, model, native } = await fixture();
  const one = await NativeClassifier.create(ort!, model, { pgdWorkers: 1 });
  const x = tf.image.resizeBilinear(tf.slice(x112, 0, 5), [BACKBONE_INPUT_SIZE, BACKBONE_INPUT_SIZE], false, true) as tf.Tensor4D;
  try {
    for (const params of [{ eps: 2, eps_step: 0.5, max_iter: 3 }, { norm: 2 as const, eps: 300, eps_step: 40, max_iter: 2, targeted: true }]) {
      const attack = new ProjectedGradientDescent(params);
      const run = async (clf: Classifier) => {
        const out: number[][] = [];
        const last = await attack.generate(clf, x, labels.slice(0, 5), { onIteration: async (_, a) => void out.push(Array.from(await a.data())) });
        out.push(Array.from(await last.data()));
        last.dispose();
        return out;
      };
      const [split, single] = [await run(native), await run(one)];
      assert.equal(split.length, single.length);
      // L∞ iterates are bit-identical; L2's norms sum in another order over NCHW than over NHWC.
      const tol = 'norm' in params ? 1e-3 : 0;
      split.forEach((a, k) => {
        const max = a.reduce((m, v, i) => Math.max(m, Math.abs(v - single[k][i])), 0);
        assert.ok(max <= tol, `${JSON.stringify(params)}: iterate ${k + 1} differs by ${max}`);
      });
    }
  } finally {
    x.dispose();
    await one.dispose();
  }
});

test('native lossGradient on worker threads (the batch split) equals the one-session one; so do APGD\'s iterates; predict is this thread\'s either way', { skip }, async (t) => {
  const { x: x112, labels, model, native } = await fixture();
  const one = await NativeClassifier.create(ort!, model, { pgdWorkers: 1 });
  const x150 = tf.image.resizeBilinear(tf.slice(x112, 0, 5), [BACKBONE_INPUT_SIZE, BACKBONE_INPUT_SIZE], false, true) as tf.Tensor4D;
  const y = labels.slice(0, 5);
  // Within float rounding, not bit for bit: MLAS rounds some of this small head's products differently for a
  // batch of 5 than for its slices of 2 and 3 (the one-session loop on those slices gives the workers' bits).
  let worst = 0;
  const close = (a: ArrayLike<number>, b: ArrayLike<number>, what: string, tol = 1e-5) => {
    const err = relError(a, b);
    worst = Math.max(worst, err);
    assert.ok(err <= tol, `${what}: relative error ${err} between the workers and one session`);
  };
  try {
    // 150×150 (split in ORT) and 112×112 (resized in TF.js first); label indices and label weights.
    const weights = tf.tidy(() => tf.softmax(tf.randomNormal([5, CLASSES], 0, 1, 'float32', 3))) as tf.Tensor2D;
    for (const [what, xs] of [['150×150', x150], ['112×112', tf.slice(x112, 0, 5)]] as const) {
      for (const [kind, l] of [['indices', tf.tensor1d(y, 'int32')], ['weights', weights]] as const) {
        const [gs, go] = [await native.lossGradient(xs, l), await one.lossGradient(xs, l)];
        close(await gs.data(), await go.data(), `${what} lossGradient (${kind})`);
        tf.dispose(kind === 'indices' ? [gs, go, l] : [gs, go]);
      }
      // The same session kind on this thread for both: the same bits.
      const [ps, po] = [await native.predict(xs), await one.predict(xs)];
      assert.deepEqual(await ps.data(), await po.data(), `${what} predict`);
      tf.dispose(xs === x150 ? [ps, po] : [ps, po, xs]);
    }
    weights.dispose();
    t.diagnostic(`lossGradient: relative error at most ${worst.toExponential(1)}`);
    // Every iterate APGD takes a gradient at, recorded: the worker path must walk the same points.
    const recording = (clf: Classifier, iterates: Float32Array[]): Classifier => ({
      classes: clf.classes,
      predict: (x) => clf.predict(x),
      lossGradient: async (x, l) => {
        iterates.push(Float32Array.from(await x.data()));
        return clf.lossGradient(x, l);
      },
    });
    const cases: Array<NonNullable<ConstructorParameters<typeof AutoProjectedGradientDescent>[0]>> = [
      { eps: 2, max_iter: 6 },
      { norm: 2, eps: 300, max_iter: 4, loss_type: 'difference_logits_ratio', targeted: true },
    ];
    for (const params of cases) {
      const attack = new AutoProjectedGradientDescent({ ...params, batch_size: 5 });
      const target = params.targeted ? y.map((v) => (v + 1) % CLASSES) : y;
      const [walked, walkedOne]: Float32Array[][] = [[], []];
      const before = tf.memory().numTensors;
      const adv = await attack.generate(recording(native, walked), x150, target);
      assert.equal(tf.memory().numTensors, before + 1, `${JSON.stringify(params)}: numTensors grew`);
      const advOne = await attack.generate(recording(one, walkedOne), x150, target);
      assert.equal(walked.length, walkedOne.length);
      worst = 0;
      walked.forEach((a, k) => close(a, walkedOne[k], `${JSON.stringify(params)}: iterate ${k}`, 1e-5));
      close(await adv.data(), await advOne.data(), `${JSON.stringify(params)}: adversarials`, 1e-5);
      t.diagnostic(`${JSON.stringify(params)}: ${walked.length} iterates, relative error at most ${worst.toExponential(1)}`);
      tf.dispose([adv, advOne]);
    }
  } finally {
    x150.dispose();
    await one.dispose();
  }
});

test('native logitsAndGradient: the gradient pass\'s logits and gradient equal predict and lossGradient; APGD-CE through it walks the same iterates', { skip }, async (t) => {
  const { x: x112, labels, model, native } = await fixture();
  const one = await NativeClassifier.create(ort!, model, { pgdWorkers: 1 });
  const x = tf.image.resizeBilinear(tf.slice(x112, 0, 5), [BACKBONE_INPUT_SIZE, BACKBONE_INPUT_SIZE], false, true) as tf.Tensor4D;
  const y = labels.slice(0, 5);
  const yt = tf.tensor1d(y, 'int32');
  try {
    for (const [what, clf] of [['workers', native], ['one session', one]] as const) {
      const before = tf.memory().numTensors;
      const { logits, grad } = await clf.logitsAndGradient(x, yt);
      const [p, g] = [await clf.predict(x), await clf.lossGradient(x, yt)];
      const [le, ge] = [relError(await logits.data(), await p.data()), relError(await grad.data(), await g.data())];
      t.diagnostic(`${what}: logits ${le.toExponential(1)}, gradient ${ge.toExponential(1)}`);
      assert.ok(le <= 1e-5, `${what}: logits relative error ${le}`);
      assert.equal(ge, 0, `${what}: the same gradient pass`);
      assert.deepEqual(logits.shape, [5, CLASSES]);
      tf.dispose([logits, grad, p, g]);
      assert.equal(tf.memory().numTensors, before);
    }
    // APGD-CE on the classifier itself (one call an iteration) and through a wrapper without the capability (two).
    const walk = (clf: Classifier, iterates: Float32Array[]): Classifier => ({
      classes: clf.classes,
      predict: (v) => clf.predict(v),
      lossGradient: async (v, l) => {
        iterates.push(Float32Array.from(await v.data()));
        return clf.lossGradient(v, l);
      },
      ...(clf.logitsAndGradient && {
        logitsAndGradient: async (v: tf.Tensor4D, l: Labels) => {
          iterates.push(Float32Array.from(await v.data()));
          return clf.logitsAndGradient!(v, l);
        },
      }),
    });
    const attack = new AutoProjectedGradientDescent({ eps: 2, max_iter: 6, batch_size: 5 });
    const [fused, split]: Float32Array[][] = [[], []];
    const a = await attack.generate(walk(native, fused), x, y);
    const b = await attack.generate(walk({ classes: native.classes, predict: (v) => native.predict(v), lossGradient: (v, l) => native.lossGradient(v, l) }, split), x, y);
    assert.equal(fused.length, split.length);
    fused.forEach((v, k) => assert.ok(relError(v, split[k]) <= 1e-5, `iterate ${k}`));
    assert.deepEqual(await predictLabels(native, a), await predictLabels(native, b));
    tf.dispose([a, b]);
  } finally {
    tf.dispose([x, yt]);
    await one.dispose();
  }
});

test('native gallery classifier: logits and input gradient equal the TF.js GalleryClassifier\'s', { skip }, async (t) => {
  await initEngine({ backend: 'wasm', strict: true });
  const { x: x112, labels } = await faces();
  const net = await FaceRecognitionNet.load();
  const x = tf.image.resizeBilinear(x112, [BACKBONE_INPUT_SIZE, BACKBONE_INPUT_SIZE], false, true) as tf.Tensor4D;
  // The gallery: descriptors of the first face of each identity; the probes: all six faces.
  const descriptors = tf.tidy(() => net.descriptor(tf.gather(x, [0, 2, 4])));
  const gallery = new GalleryClassifier(net, descriptors, DEFAULT_TEMPERATURE);
  const native = await NativeClassifier.fromWeights(ort!, nativeGalleryWeights(net, descriptors, DEFAULT_TEMPERATURE));
  const y = tf.tensor1d(labels, 'int32');
  const [ln, lt, gn, gt] = [await native.predict(x), await gallery.predict(x), await native.lossGradient(x, y), await gallery.lossGradient(x, y)];
  const logitsErr = relError(await ln.data(), await lt.data());
  const gradErr = relError(await gn.data(), await gt.data());
  t.diagnostic(`gallery: logits ${logitsErr.toExponential(1)}, gradient ${gradErr.toExponential(1)}`);
  assert.ok(logitsErr <= 1e-4, `logits relative error ${logitsErr}`);
  assert.ok(gradErr <= 1e-3, `gradient relative error ${gradErr}`);
  tf.dispose([x, x112, descriptors, y, ln, lt, gn, gt]);
  gallery.dispose();
  await native.dispose();
  net.dispose();
});

test('accelerate: native when onnxruntime-node loads, the TF.js model itself with ROBUSTIFY_NATIVE=0', { skip }, async () => {
  await initEngine({ backend: 'wasm', strict: true });
  const x = tf.zeros([1, 8, 8, 3]) as tf.Tensor4D;
  const model = await randomHeadModel(x);
  const fast = await accelerate(model);
  assert.ok(fast instanceof NativeClassifier);
  const gray = tf.zeros([1, 150, 150, 1]) as tf.Tensor4D;
  await assert.rejects(fast.predict(gray), /input must be an NHWC batch of RGB images \[N,H,W,3\], got \[1,150,150,1\]/);
  const twoLabels = tf.tensor1d([0, 1], 'int32');
  await assert.rejects(fast.lossGradient(x, twoLabels), /2 labels for 1 images/);
  tf.dispose([gray, twoLabels]);
  await fast.dispose();
  process.env.ROBUSTIFY_NATIVE = '0';
  try {
    assert.equal(await accelerate(model), model);
  } finally {
    delete process.env.ROBUSTIFY_NATIVE;
  }
  x.dispose();
  model.dispose();
});
