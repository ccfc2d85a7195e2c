/**
 * BMCNN speed (ms per 112×112 and per 150×150 face) and denoising quality on the faces14 test split (per
 * identity, sorted files, index % 5 == 4; 98 faces) at σ 15/20/25 with clipped Gaussian noise (seed 0):
 * noisy, pilot, BMCNN and the ablation without block matching, beside the anchors measured on this machine
 * (../shared/spec/bmcnn.md). `bmcnn`/`ablation` use the flip self-ensemble, `*_single` one pass; `bmcnn_native`
 * is the same model on onnxruntime (pilot, matching and main net per slice on the pool workers),
 * `bmcnn_native_inline` the same in one slice on the calling thread (two intra-op threads). `denoise:vjp`: the
 * vector-Jacobian product adaptive attacks run, TF.js against onnxruntime, batch 16 at the built-in backbone's
 * 150×150.
 * Run alone: `node dist/bench/denoise.js`.
 */
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../src/engine/backend.js';
import { decodeImage, imagesToBatch, resizeBilinear, type RgbImage } from '../src/image/index.js';
import { createRandom } from '../src/util/random.js';
import { Bmcnn, DEFAULT_WEIGHTS_DIR } from '../src/denoise/model.js';
import { BACKBONE_INPUT_SIZE } from '../src/models/backbone.js';
import { addNoise, psnr } from '../src/denoise/noise.js';
import { nativeRuntime } from '../src/engine/onnx/runtime.js';

const FACES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/data/faces14');
const SIGMAS = [15, 20, 25] as const;
/** Anchors of the spec (dB): noisy and scikit-image TV-Chambolle (weight 0.9σ/255) on the same split. */
const ANCHORS: Record<number, { noisy: number; tv_chambolle: number }> = {
  15: { noisy: 24.8, tv_chambolle: 30.9 },
  20: { noisy: 22.4, tv_chambolle: 29.5 },
  25: { noisy: 20.6, tv_chambolle: 28.3 },
};

async function testSplit(): Promise<RgbImage[]> {
  const ids = (await fsp.readdir(FACES)).sort();
  const files: string[] = [];
  for (const id of ids) {
    const list = (await fsp.readdir(path.join(FACES, id))).sort();
    list.forEach((f, i) => {
      if (i % 5 === 4) files.push(path.join(FACES, id, f));
    });
  }
  return Promise.all(files.map((f) => decodeImage(f)));
}

const round = (v: number, d = 2): number => Math.round(v * 10 ** d) / 10 ** d;

/** Wall and CPU (all threads) milliseconds per face. */
async function msPerFace(model: Bmcnn, faces: RgbImage[], size: number, batch: number, ensemble: boolean): Promise<[number, number]> {
  const imgs = faces.slice(0, batch).map((f) => (f.height === size ? f : resizeBilinear(f, size, size)));
  const x = imagesToBatch(imgs);
  (await model.denoise(x, 20, { ensemble })).dispose(); // warm-up
  const runs = batch === 1 ? 10 : 2;
  const t = performance.now();
  const cpu = process.cpuUsage();
  for (let r = 0; r < runs; r++) (await model.denoise(x, 20, { ensemble })).dispose();
  const { user, system } = process.cpuUsage(cpu);
  x.dispose();
  return [(performance.now() - t) / runs / batch, (user + system) / 1000 / runs / batch];
}

/** Mean PSNR over the faces at σ for the noisy input, the pilot, and each model with and without the ensemble. */
async function psnrRow(faces: RgbImage[], sigma: number, models: Record<string, Bmcnn>): Promise<Record<string, number>> {
  const rng = createRandom(0);
  const sums: Record<string, number> = { noisy: 0, pilot: 0 };
  for (const k of Object.keys(models)) {
    sums[k] = 0;
    sums[`${k}_single`] = 0;
  }
  const first = Object.values(models)[0];
  for (const img of faces) {
    const noisy = addNoise(img.data, sigma, rng);
    const x = tf.tensor4d(noisy, [1, img.height, img.width, 3]);
    sums.noisy += psnr(noisy, img.data);
    const p = await first.pilotDenoise(x, sigma);
    sums.pilot += psnr((await p.data()) as Float32Array, img.data);
    p.dispose();
    for (const [k, m] of Object.entries(models)) {
      for (const ensemble of [true, false]) {
        const y = await m.denoise(x, sigma, { ensemble });
        sums[ensemble ? k : `${k}_single`] += psnr((await y.data()) as Float32Array, img.data);
        y.dispose();
      }
    }
    x.dispose();
  }
  const out: Record<string, number> = {};
  for (const [k, s] of Object.entries(sums)) out[k] = round(s / faces.length);
  return out;
}

/** ms per face of each model's VJP on `faces` (resized to the backbone's side) at σ 20, and their largest relative difference. */
async function vjpRow(models: Record<string, Bmcnn>, faces: RgbImage[]): Promise<Record<string, number>> {
  const size = BACKBONE_INPUT_SIZE;
  const x = imagesToBatch(faces.map((f) => (f.height === size ? f : resizeBilinear(f, size, size))));
  const grad = tf.randomNormal(x.shape, 0, 1, 'float32', 5) as tf.Tensor4D;
  const row: Record<string, number> = {};
  const outs: Float32Array[] = [];
  for (const [k, m] of Object.entries(models)) {
    const first = await m.vjp(x, 20, grad); // warm-up (sessions, graphs)
    outs.push((await first.data()) as Float32Array);
    first.dispose();
    const t = performance.now();
    (await m.vjp(x, 20, grad)).dispose();
    row[`${k}_ms_per_face`] = round((performance.now() - t) / faces.length, 1);
  }
  tf.dispose([x, grad]);
  const [a, b] = outs;
  const scale = a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  row.max_rel_diff = round(a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0) / scale, 6);
  // Where float rounding flips a match choice the gradient differs locally; elsewhere only by rounding.
  row.share_over_1e_4 = round(a.reduce((c, v, i) => c + (Math.abs(v - b[i]) > 1e-4 * scale ? 1 : 0), 0) / a.length, 6);
  return row;
}

/** Largest |Δ| (0–255 scale) between two models' outputs on the same faces at σ 20. */
async function maxDiff(a: Bmcnn, b: Bmcnn, faces: RgbImage[]): Promise<number> {
  const x = imagesToBatch(faces.map((f) => (f.height === 150 ? f : resizeBilinear(f, 150, 150))));
  const [ya, yb] = [await a.denoise(x, 20), await b.denoise(x, 20)];
  const [va, vb] = [ya.dataSync() as Float32Array, yb.dataSync() as Float32Array];
  tf.dispose([x, ya, yb]);
  return round(va.reduce((m, v, i) => Math.max(m, Math.abs(v - vb[i])), 0), 5);
}

export async function benchDenoise(): Promise<object[]> {
  const info = await initEngine({ backend: 'wasm', strict: true });
  const faces = await testSplit();
  const models: Record<string, Bmcnn> = { bmcnn: await Bmcnn.load() };
  const ablationDir = path.join(DEFAULT_WEIGHTS_DIR, 'ablation');
  if (existsSync(path.join(ablationDir, 'model.json'))) models.ablation = await Bmcnn.load(ablationDir);
  const records: object[] = [];
  // The same weights with the nets on onnxruntime (what the `bmcnn` defence runs where ORT loads).
  const ort = await nativeRuntime();
  if (ort) {
    const native = await Bmcnn.load();
    native.accelerate();
    models.bmcnn_native = native;
    const inline = await Bmcnn.load();
    inline.accelerate(1);
    models.bmcnn_native_inline = inline;
    records.push({ bench: 'denoise:native', faces: 16, max_abs_diff_vs_tfjs: await maxDiff(models.bmcnn, native, faces.slice(0, 16)) });
    records.push({ bench: 'denoise:vjp', size: BACKBONE_INPUT_SIZE, batch: 16, ...(await vjpRow({ tfjs: models.bmcnn, native }, faces.slice(0, 16))) });
  }
  for (const size of [112, 150]) {
    for (const batch of [1, 16]) {
      for (const ensemble of [true, false]) {
        const row: Record<string, unknown> = { bench: 'denoise:speed', size, batch, ensemble, threads: info.threads };
        for (const [k, m] of Object.entries(models)) {
          const [wall, cpu] = await msPerFace(m, faces, size, batch, ensemble);
          row[`${k}_ms_per_face`] = round(wall, 1);
          row[`${k}_cpu_ms_per_face`] = round(cpu, 1);
        }
        records.push(row);
      }
    }
  }
  for (const sigma of SIGMAS) {
    // The inline model computes what bmcnn_native does (its slices are the same images).
    const row = await psnrRow(faces, sigma, Object.fromEntries(Object.entries(models).filter(([k]) => k !== 'bmcnn_native_inline')));
    const a = ANCHORS[sigma];
    records.push({
      bench: 'denoise:psnr', sigma, faces: faces.length, ...row,
      anchor_noisy: a.noisy, anchor_tv_chambolle: a.tv_chambolle, bmcnn_minus_tv: round(row.bmcnn - a.tv_chambolle),
    });
  }
  for (const m of Object.values(models)) m.dispose();
  return records;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await benchDenoise()) console.log(JSON.stringify(r));
}
