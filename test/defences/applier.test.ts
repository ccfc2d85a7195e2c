/** One rule for applying pipelines: batches, positions and sets do not change an image's draw (16×16 images: JPEG encodes a batch as one stacked image, exact per image at multiples of 16 px). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { buildPipeline, parsePipeline } from '../../src/defences/index.js';
import { PipelineApplier } from '../../src/defences/applier.js';

function images(n: number, seed: number): Float32Array {
  return tf.tidy(() => tf.randomUniform([n, 16, 16, 3], 0, 255, 'float32', seed).dataSync() as Float32Array).slice();
}

const SIZE = 16 * 16 * 3;

test('a seeded stochastic pipeline gives an image the same draw in any batch, position or set', async () => {
  await initEngine({ backend: 'wasm' });
  const before = tf.memory().numTensors;
  const data = images(5, 1);
  for (const text of ['gauss:15', 'jpeg:50,gauss:20,tvm:max_iter=3', 'tvm:solver=pdhg,max_iter=2']) {
    const pipeline = await buildPipeline(text);
    const whole = tf.tensor4d(data, [5, 16, 16, 3]);
    const all = await pipeline.apply(whole, { seed: 7 });
    const expected = await all.data();
    // Image 3 alone, and images 3–4 reversed.
    const one = tf.tensor4d(data.subarray(3 * SIZE, 4 * SIZE), [1, 16, 16, 3]);
    const single = await pipeline.apply(one, { seed: 7 });
    assert.deepEqual(await single.data(), expected.subarray(3 * SIZE, 4 * SIZE), `${text}: image 3 alone`);
    const swapped = new Float32Array(2 * SIZE);
    swapped.set(data.subarray(4 * SIZE, 5 * SIZE), 0);
    swapped.set(data.subarray(3 * SIZE, 4 * SIZE), SIZE);
    const pair = tf.tensor4d(swapped, [2, 16, 16, 3]);
    const pairOut = await pipeline.apply(pair, { seed: 7 });
    assert.deepEqual((await pairOut.data()).subarray(SIZE), expected.subarray(3 * SIZE, 4 * SIZE), `${text}: image 3 second in another batch`);
    // Another seed, another draw.
    const other = await pipeline.apply(whole, { seed: 8 });
    assert.notDeepEqual(await other.data(), expected, `${text}: seed 8`);

    // The set applier (the study's, batches of 2, prefix memo) gives the same pixels.
    const applier = new PipelineApplier(7, 2);
    const viaSet = await applier.apply(parsePipeline(text), { key: 'set', height: 16, width: 16, channels: 3, data });
    assert.deepEqual(viaSet, expected, `${text}: PipelineApplier`);
    tf.dispose([whole, all, one, single, pair, pairOut, other]);
    pipeline.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
});

test('the set applier shares prefixes: a pipeline extending a kept prefix applies only its last stage', async () => {
  await initEngine({ backend: 'wasm' });
  const data = images(3, 2);
  const applier = new PipelineApplier(3, 2);
  const set = { key: 's', height: 16, width: 16, channels: 3, data };
  const prefix = await applier.apply(parsePipeline('gauss:10'), set);
  const longer = await applier.apply(parsePipeline('gauss:10,median:3'), set);
  const fresh = await new PipelineApplier(3, 2).apply(parsePipeline('gauss:10,median:3'), set);
  assert.deepEqual(longer, fresh);
  assert.notDeepEqual(prefix, longer);
  // The same prefix's output again comes from the memo (the same array).
  assert.equal(await applier.apply(parsePipeline('gauss:10'), set), prefix);
});
