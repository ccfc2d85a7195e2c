/**
 * The plugin's one entry: `registerPlugin()` makes `pixelate` nameable in pipelines (`pixelate:4,jpeg:20`)
 * and `noise` in attack lists (`noise:nb_trials=20`, a study's `robust.suite`). Nothing registers on import.
 */
import { registerAttack } from 'robustify/attacks';
import { registerDefence } from 'robustify/defences';
import { NOISE_SPEC, UniformNoiseAttack } from './noise-attack.js';
import { PIXELATE_PARAMS, Pixelate } from './pixelate.js';

export { Pixelate, PIXELATE_PARAMS } from './pixelate.js';
export { UniformNoiseAttack, NOISE_SPEC } from './noise-attack.js';

let registered = false;

/** Register the plugin's defence and attack (once; later calls do nothing). */
export function registerPlugin(): void {
  if (registered) return;
  registerDefence('pixelate', (p) => new Pixelate(p), PIXELATE_PARAMS, { main: 'block_size', description: 'block-average pixelation' });
  registerAttack({ name: 'noise', access: 'score', description: 'uniform L∞ noise, best of nb_trials draws', spec: NOISE_SPEC, factory: (p) => new UniformNoiseAttack(p) });
  registered = true;
}
