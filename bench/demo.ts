/**
 * Wall and CPU time of the zero-data demo, stage by stage (`runDemo`, what `npm run demo` runs).
 * Run alone: `node dist/bench/demo.js [--quick]`; one JSON line per run. Nothing is written to disk.
 */
import { pathToFileURL } from 'node:url';
import { describeEngine, initEngine } from '../src/engine/backend.js';
import { runDemo } from '../src/demo/run.js';

export async function benchDemo(quick = false): Promise<object[]> {
  const engine = await initEngine({ backend: 'wasm', strict: true });
  const cpu = process.cpuUsage();
  const t = performance.now();
  const { results, timings } = await runDemo({ quick });
  const { user, system } = process.cpuUsage(cpu);
  return [
    {
      bench: 'demo',
      quick,
      engine: describeEngine(engine),
      faces: results.gallery.length,
      defences: results.defences.length,
      wall_s: Number(((performance.now() - t) / 1000).toFixed(1)),
      // CPU time of all the process's threads: the fairer figure on a busy machine.
      cpu_s: Number(((user + system) / 1e6).toFixed(1)),
      stages_s: timings,
      clean_rank1: results.clean.rank1,
      adversarial_rank1: results.adversarial.rank1,
    },
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await benchDemo(process.argv.includes('--quick'))) console.log(JSON.stringify(r));
}
