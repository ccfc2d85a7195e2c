/**
 * A declared graph of steps and the walker that runs it. Each step names the steps it reads and the slice of
 * the configuration it depends on; its key is a hash of those inputs' keys and that slice (or, for a step
 * whose output is addressed by content, e.g. the data, a key the output names itself). A step whose output is
 * JSON may be `stored`: the walker keeps it in the StepCache under its key, so a resumed run reads it back.
 * Adding a table or a figure to the study is adding one step to its list (plan.ts).
 */
import type { StepCache } from './cache.js';
import { roundTo } from '../util/round.js';

/** One step over the outputs record `O`: `id` is its output's field, `inputs` the fields it reads. */
export interface Step<O, C, K extends keyof O = keyof O, I extends keyof O = keyof O> {
  id: K & string;
  /** What it does, announced when it starts (a step without one is glue: not announced, not timed). */
  what?: string;
  inputs: readonly I[];
  /** The part of the configuration the output depends on (beyond its inputs). */
  config?: (config: C) => unknown;
  /** Keep the (JSON) output in the cache under the step's key. */
  stored?: boolean;
  /** A key named by the output itself (a content hash), replacing the derived one for the steps downstream. */
  keyOf?: (output: O[K]) => string;
  run(inputs: Pick<O, I>, key: string): Promise<O[K]>;
}

/** A step with its types checked against `O`, then erased to sit in a list of steps. */
export function step<O, C>() {
  return <K extends keyof O & string, I extends keyof O>(s: Step<O, C, K, I>): Step<O, C> => s as unknown as Step<O, C>;
}

export interface WalkOptions<C> {
  config: C;
  cache: StepCache;
  onStep?: (id: string, what: string) => void;
  /** Run after each announced step (e.g. to free what the next step may not need). */
  afterStep?: () => Promise<void>;
  /** Seconds per announced step, filled in as they finish. */
  timings: Record<string, number>;
}

/**
 * Check the graph (unique ids, inputs declared before use, so the list order is a topological order and the
 * run order is the reader's order) and run every step once, in that order.
 */
export async function walk<O, C>(steps: readonly Step<O, C>[], opts: WalkOptions<C>): Promise<{ outputs: O; keys: Record<string, string> }> {
  const outputs = {} as O;
  const keys: Record<string, string> = {};
  for (const s of steps) {
    if (s.id in keys) throw new Error(`study graph: step '${s.id}' is declared twice`);
    const missing = s.inputs.find((i) => !((i as string) in keys));
    if (missing !== undefined) throw new Error(`study graph: step '${s.id}' reads '${String(missing)}', which no earlier step makes`);
    const inputs = Object.fromEntries(s.inputs.map((i) => [i, outputs[i]])) as Pick<O, keyof O>;
    const key = opts.cache.key(s.id, { inputs: Object.fromEntries(s.inputs.map((i) => [i, keys[i as string]])), config: s.config?.(opts.config) ?? null });
    const t = performance.now();
    if (s.what) opts.onStep?.(s.id, s.what);
    const out = s.stored ? await opts.cache.json(key, () => s.run(inputs, key)) : await s.run(inputs, key);
    if (s.what) {
      await opts.afterStep?.();
      opts.timings[s.id] = roundTo((performance.now() - t) / 1000, 1);
    }
    outputs[s.id as keyof O] = out;
    keys[s.id] = s.keyOf ? s.keyOf(out) : key;
  }
  return { outputs, keys };
}
