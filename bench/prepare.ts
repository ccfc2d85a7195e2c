/**
 * Speed of face preparation (decode, SSD detection, 68 landmarks + 2 refinement passes, alignment, warp to
 * 150×150 dlib chips, all faces) on face-api's six demo group photos (1920 px wide, 22 faces).
 * Run alone: `node dist/bench/prepare.js`.
 */
import { pathToFileURL } from 'node:url';
import { initEngine } from '../src/engine/backend.js';
import { prepareImage } from '../src/data/prepare/index.js';
import { SAMPLES } from '../test/data/prepare/samples.js';

export async function benchPrepare(): Promise<object[]> {
  await initEngine({ backend: 'wasm', strict: true });
  await prepareImage(SAMPLES[0], { allFaces: true }); // warm-up: weights, kernels, JIT
  const runs = 2;
  let faces = 0;
  const t = performance.now();
  const cpu = process.cpuUsage();
  for (let r = 0; r < runs; r++) {
    faces = 0;
    for (const file of SAMPLES) faces += (await prepareImage(file, { allFaces: true })).faces.length;
  }
  const photos = runs * SAMPLES.length;
  const ms = (performance.now() - t) / photos;
  // CPU time of all the process's threads: the fairer figure on a busy machine.
  const { user, system } = process.cpuUsage(cpu);
  const round = (v: number): number => Math.round(v * 10) / 10;
  return [
    {
      bench: 'prepare',
      ms_per_photo: round(ms),
      cpu_ms_per_photo: round((user + system) / 1000 / photos),
      photos: SAMPLES.length,
      faces,
      template: 'dlib150',
    },
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await benchPrepare()) console.log(JSON.stringify(r));
}
