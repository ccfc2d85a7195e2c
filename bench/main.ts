/**
 * `npm run bench [-- --only NAME[,NAME…]]`: speed figures as JSON lines `{"bench": NAME, …}`.
 * Not part of the tests; run it on an otherwise idle machine.
 */
import { benchApgd, benchAttacks } from './attacks.js';
import { benchDefences } from './defences.js';
import { benchDemo } from './demo.js';
import { benchDenoise } from './denoise.js';
import { benchHead } from './head.js';
import { benchKernels } from './kernels.js';
import { benchOnnx } from './onnx.js';
import { benchPgd } from './pgd.js';
import { benchPools } from './pools.js';
import { benchPrepare } from './prepare.js';
import { benchQueue } from './queue.js';
import { benchServer } from './server.js';
import { benchStudy } from './study.js';
import { benchThreads } from './threads.js';
import { benchTvm } from './tvm.js';

/** An optional whole-number setting from the environment (the benches' knobs). */
function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new Error(`${name}: expected a whole number ≥ 1, got '${v}'`);
  return Number(v);
}

const BENCHES: Record<string, () => Promise<object[]>> = {
  // ROBUSTIFY_BENCH_PGD_IMAGES (64), ROBUSTIFY_BENCH_PGD_WASM=0 / _STEPWISE=0 skip the slower comparisons.
  pgd: () => benchPgd({
    images: envInt('ROBUSTIFY_BENCH_PGD_IMAGES'),
    wasm: process.env.ROBUSTIFY_BENCH_PGD_WASM !== '0',
    stepwise: process.env.ROBUSTIFY_BENCH_PGD_STEPWISE !== '0',
  }),
  onnx: benchOnnx,
  attacks: () => benchAttacks(),
  // ROBUSTIFY_BENCH_APGD_IMAGES (32) / _ITERS (100) / _ROUNDS (1: each engine once; more alternate their order).
  apgd: () => benchApgd({ images: envInt('ROBUSTIFY_BENCH_APGD_IMAGES'), iters: envInt('ROBUSTIFY_BENCH_APGD_ITERS'), rounds: envInt('ROBUSTIFY_BENCH_APGD_ROUNDS') }),
  head: benchHead,
  kernels: benchKernels,
  threads: () => benchThreads(),
  defences: benchDefences,
  // ROBUSTIFY_BENCH_TVM_AGAINST=DIR: the same runs on another build, interleaved (see bench/tvm.ts).
  tvm: () => benchTvm(),
  denoise: benchDenoise,
  prepare: benchPrepare,
  demo: () => benchDemo(),
  server: benchServer,
  pools: benchPools,
  // ROBUSTIFY_BENCH_QUEUE_FACES / _ITERS / _BATCH / _WORKERS reduce it (see bench/queue.ts).
  queue: benchQueue,
  // The full study from an empty cache (ROBUSTIFY_BENCH_STUDY_ROBUST=bare (default)|all|0: the robust section's pipelines).
  study: benchStudy,
};

function selected(argv: string[]): string[] {
  const i = argv.indexOf('--only');
  if (i < 0) return Object.keys(BENCHES);
  const names = (argv[i + 1] ?? '').split(',').filter(Boolean);
  const unknown = names.filter((n) => !(n in BENCHES));
  if (names.length === 0 || unknown.length > 0) {
    throw new Error(`--only: unknown bench '${unknown.join(',') || ''}' (valid: ${Object.keys(BENCHES).join(', ')})`);
  }
  return names;
}

try {
  for (const name of selected(process.argv.slice(2))) {
    for (const record of await BENCHES[name]()) process.stdout.write(JSON.stringify(record) + '\n');
  }
} catch (err) {
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
