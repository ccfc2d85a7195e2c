import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { MAX_THREADS, resolveThreads, wasmThreads } from '../../src/engine/threads.js';
import { WorkerPool } from '../../src/engine/pool/pool.js';
import { joinSamples, splitSamples, type BatchData } from '../../src/engine/pool/batch.js';
import { TF_OP } from '../../src/engine/pool/tasks.js';
import { relError } from '../helpers/numeric.js';

/** Runs `fn` on `backend` and returns its output's values (the output is freed). */
async function valuesOn(backend: 'wasm' | 'cpu', fn: () => tf.Tensor): Promise<Float32Array> {
  await tf.setBackend(backend);
  const y = tf.tidy(fn);
  const v = (await y.data()) as Float32Array;
  y.dispose();
  return v;
}


/** Same result (≤ 1e-5 relative) on the threaded wasm backend and the pure-JS cpu reference. */
async function assertSameAsCpu(name: string, fn: () => tf.Tensor): Promise<void> {
  const before = tf.memory().numTensors;
  const cpu = await valuesOn('cpu', fn);
  const wasm = await valuesOn('wasm', fn);
  const rel = relError(wasm, cpu);
  assert.ok(rel <= 1e-5, `${name}: threaded wasm differs from cpu by ${rel.toExponential(2)} (relative)`);
  assert.equal(tf.memory().numTensors, before, `${name}: tensors leaked`);
}

/** Conv → ReLU → two residual blocks → global mean → dense → softmax cross-entropy, He-initialised. */
function tinyResNetLoss(x: tf.Tensor4D, params: tf.Tensor[], labels: tf.Tensor2D): tf.Scalar {
  const [stem, a1, a2, b1, b2, dense] = params;
  const conv = (t: tf.Tensor4D, f: tf.Tensor): tf.Tensor4D => tf.conv2d(t, f as tf.Tensor4D, 1, 'same');
  let h = tf.relu(conv(x, stem));
  for (const [c1, c2] of [[a1, a2], [b1, b2]]) h = tf.relu(tf.add(h, conv(tf.relu(conv(h, c1)), c2)) as tf.Tensor4D);
  const logits = tf.matMul(tf.mean(h, [1, 2]) as tf.Tensor2D, dense as tf.Tensor2D);
  return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
}

test('threaded wasm starts with the threads asked for and matches cpu on conv, matmul and an input gradient', async () => {
  const info = await initEngine({ backend: 'wasm', strict: true, threads: 2 });
  assert.equal(info.backend, 'wasm');
  assert.equal(info.threads, 2);
  assert.equal(wasmThreads(), 2);

  const rnd = (shape: number[], seed: number, scale = 1): tf.Tensor => tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed), scale);
  // Created on cpu and kept there between runs: each op moves its inputs to the active backend.
  await tf.setBackend('cpu');
  const x64 = tf.keep(rnd([4, 19, 19, 64], 1));
  const f64 = tf.keep(rnd([3, 3, 64, 64], 2, 1 / 24));
  const x256 = tf.keep(rnd([2, 6, 6, 256], 3));
  const f256 = tf.keep(rnd([3, 3, 256, 256], 4, 1 / 48));
  const a = tf.keep(rnd([96, 300], 5));
  const b = tf.keep(rnd([300, 200], 6));
  const xs = tf.keep(rnd([3, 12, 12, 3], 7, 50)) as tf.Tensor4D;
  const he = (shape: number[], seed: number): tf.Tensor => tf.keep(rnd(shape, seed, Math.sqrt(2 / (shape[0] * shape[1] * shape[2]))));
  const params = [he([3, 3, 3, 16], 8), he([3, 3, 16, 16], 9), he([3, 3, 16, 16], 10), he([3, 3, 16, 16], 11), he([3, 3, 16, 16], 12), tf.keep(rnd([16, 5], 13, 0.25))];
  // Not oneHot().toFloat(): cpu's int32→float32 cast keeps the Int32Array, whose bits the move to wasm then
  // reads as floats (a tfjs cross-backend pitfall, unrelated to threads).
  const labels = tf.keep(tf.tensor2d([[1, 0, 0, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1]]));
  try {
    await assertSameAsCpu('conv 3×3×64', () => tf.conv2d(x64 as tf.Tensor4D, f64 as tf.Tensor4D, 1, 'same'));
    await assertSameAsCpu('conv 3×3×256', () => tf.conv2d(x256 as tf.Tensor4D, f256 as tf.Tensor4D, 1, 'same'));
    await assertSameAsCpu('matmul', () => tf.matMul(a, b));
    await assertSameAsCpu('input gradient through a small ResNet', () => tf.grad((x: tf.Tensor) => tinyResNetLoss(x as tf.Tensor4D, params, labels))(xs));
  } finally {
    tf.dispose([x64, f64, x256, f256, a, b, xs, labels, ...params]);
    await tf.setBackend('wasm');
  }
});

test('threaded wasm survives heap growth: a 64 MB batch round-trips through an identity 1×1 conv', async () => {
  await initEngine({ backend: 'wasm', strict: true, threads: 2 });
  const [h, w, c] = [1024, 1024, 16];
  const values = new Float32Array(h * w * c).map((_, i) => (i % 1999) - 999);
  const y = tf.tidy(() => tf.conv2d(tf.tensor4d(values, [1, h, w, c]), tf.eye(c).reshape([1, 1, c, c]) as tf.Tensor4D, 1, 'valid'));
  const out = y.dataSync();
  y.dispose();
  assert.deepEqual(out, values);
});

const backendJs = fileURLToPath(new URL('../../src/engine/backend.js', import.meta.url));

/** Runs an ES-module script in a fresh Node process from the project directory (same node_modules). */
function childRun(lines: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string; signal: string | null } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', lines.join('\n')], {
    cwd: fileURLToPath(new URL('../../..', import.meta.url)),
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

test('a process using threaded wasm exits on its own; ROBUSTIFY_THREADS=1 forces one thread', () => {
  for (const threads of [2, 1]) {
    // The script does a conv and simply ends: nothing closes the workers.
    const r = childRun(
      [
        `const tf = await import('@tensorflow/tfjs-core');`,
        `const { initEngine } = await import(${JSON.stringify(backendJs)});`,
        `const info = await initEngine({ backend: 'wasm', strict: true });`,
        `const y = tf.conv2d(tf.ones([2, 16, 16, 32]), tf.ones([3, 3, 32, 32]), 1, 'same');`,
        `console.log(JSON.stringify({ threads: info.threads, centre: (await y.data())[8 * 16 * 32 + 8 * 32] }));`,
      ],
      { ROBUSTIFY_THREADS: String(threads), ROBUSTIFY_BACKEND: 'wasm' },
    );
    assert.equal(r.signal, null, `child with ${threads} thread(s) did not exit by itself (killed: ${r.signal}); stderr: ${r.stderr}`);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim()), { threads, centre: 9 * 32 });
  }
});

test('if the threaded build cannot start, wasm falls back to one thread with a warning', () => {
  const r = childRun([
    // Break the worker-script write, the threaded build's first step.
    `const fs = (await import('node:fs')).default;`,
    `fs.mkdtempSync = () => { throw new Error('no temp dir'); };`,
    `const { initEngine } = await import(${JSON.stringify(backendJs)});`,
    `const info = await initEngine({ backend: 'wasm', strict: true, threads: 2 });`,
    `console.log(JSON.stringify([info.backend, info.threads]));`,
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), '["wasm",1]');
  assert.match(r.stderr, /no temp dir.*single-threaded wasm build/);
});

test('resolveThreads: option, then ROBUSTIFY_THREADS, then the cores; capped; bad values named', () => {
  const saved = process.env.ROBUSTIFY_THREADS;
  try {
    process.env.ROBUSTIFY_THREADS = '3';
    assert.equal(resolveThreads(), 3);
    assert.equal(resolveThreads(1), 1);
    assert.equal(resolveThreads(64), MAX_THREADS);
    process.env.ROBUSTIFY_THREADS = 'two';
    assert.throws(() => resolveThreads(), /ROBUSTIFY_THREADS: expected a positive integer thread count, got 'two'/);
    delete process.env.ROBUSTIFY_THREADS;
    assert.equal(resolveThreads(), Math.min(MAX_THREADS, os.availableParallelism()));
    assert.throws(() => resolveThreads(0), /threads: expected a positive integer/);
    assert.throws(() => resolveThreads(1.5), /threads: expected a positive integer/);
  } finally {
    if (saved === undefined) delete process.env.ROBUSTIFY_THREADS;
    else process.env.ROBUSTIFY_THREADS = saved;
  }
});

test('WorkerPool: a conv batch split over 2 single-threaded workers equals the in-process result', async () => {
  await initEngine({ backend: 'wasm', strict: true, threads: 2 });
  const pool = await WorkerPool.create({ workers: 2 });
  try {
    assert.deepEqual(pool.engines.map((e) => [e?.backend, e?.threads]), [['wasm', 1], ['wasm', 1]]);
    const x = tf.randomNormal([5, 9, 9, 8], 0, 1, 'float32', 21) as tf.Tensor4D;
    const f = tf.randomNormal([3, 3, 8, 4], 0, 1, 'float32', 22) as tf.Tensor4D;
    const want = tf.tidy(() => tf.conv2d(x, f, 1, 'same'));
    const filter: BatchData = { data: f.dataSync() as Float32Array, shape: f.shape };
    const parts = splitSamples({ data: x.dataSync() as Float32Array, shape: x.shape }, pool.size);
    assert.deepEqual(parts.map((p) => p.shape[0]), [3, 2]);
    const outs = await pool.map<BatchData>(
      TF_OP,
      parts.map((part) => ({ op: 'conv2d', inputs: [part, filter], args: [1, 'same'] })),
      parts.map((part) => [part.data.buffer as ArrayBuffer]),
    );
    const got = joinSamples(outs);
    assert.deepEqual(got.shape, want.shape);
    assert.ok(relError(got.data, want.dataSync() as Float32Array) <= 1e-5);
    tf.dispose([x, f, want]);
    await assert.rejects(pool.run(TF_OP, { op: 'noSuchOp', inputs: [] }), /no tf\.noSuchOp function/);
    // A failed task fails alone: the pool keeps working.
    const relu = await pool.run<BatchData>(TF_OP, { op: 'relu', inputs: [{ data: new Float32Array([-3, 4]), shape: [2] }] });
    assert.deepEqual(Array.from(relu.data), [0, 4]);
  } finally {
    await pool.close();
  }
  await assert.rejects(pool.run(TF_OP, { op: 'relu', inputs: [] }), /closed/);
});

test('WorkerPool: an idle, unclosed pool does not keep the process alive', () => {
  const poolJs = fileURLToPath(new URL('../../src/engine/pool/pool.js', import.meta.url));
  const tasksJs = fileURLToPath(new URL('../../src/engine/pool/tasks.js', import.meta.url));
  const r = childRun([
    `const { WorkerPool } = await import(${JSON.stringify(poolJs)});`,
    `const { TF_OP } = await import(${JSON.stringify(tasksJs)});`,
    `const pool = await WorkerPool.create({ workers: 2 });`,
    `const y = await pool.run(TF_OP, { op: 'relu', inputs: [{ data: new Float32Array([-1, 2]), shape: [2] }] });`,
    `console.log(JSON.stringify(Array.from(y.data)));`,
  ]);
  assert.equal(r.signal, null, `child did not exit by itself; stderr: ${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), '[0,2]');
});

test('splitSamples / joinSamples: even parts, round trip, named errors', () => {
  const batch: BatchData = { data: Float32Array.from({ length: 7 * 2 }, (_, i) => i), shape: [7, 2] };
  const parts = splitSamples(batch, 3);
  assert.deepEqual(parts.map((p) => p.shape), [[3, 2], [2, 2], [2, 2]]);
  assert.deepEqual(joinSamples(parts), batch);
  assert.equal(splitSamples(batch, 20).length, 7);
  assert.throws(() => splitSamples({ data: new Float32Array(5), shape: [2, 2] }, 2), /splitSamples: shape \[2,2\] needs 4 values, got 5/);
  assert.throws(() => splitSamples(batch, 0), /splitSamples: parts must be a positive integer/);
  assert.throws(() => joinSamples([parts[0], { data: new Float32Array(3), shape: [1, 3] }]), /joinSamples: part shape \[1,3\]/);
});
