/**
 * Predictions of the model behind a pipeline on an image set, cached per (model, set, pipeline, seed).
 *
 * Pipelines are applied stage by stage, and the output of every prefix is kept while the pipelines asked for
 * next still start with it: a search that enumerates pipelines depth-first applies each stage once per
 * prefix instead of once per pipeline. Stochastic stages draw from a seed of (study seed, set, prefix,
 * batch), so a pipeline gives the same numbers whether the tables, the curves or the search asked for it.
 */
import { getDefence, formatPipeline, parsePipeline, type Preprocessor, type StageSpec } from '../defences/index.js';
import { formatToken } from '../defences/preprocessor.js';
import { predictLabels, type Classifier } from '../models/classifier.js';
import { hashSeed } from '../util/random.js';
import type { StepCache } from './cache.js';
import { batchOf, mapBatches, setLength, withData, type ImageSet } from './imageset.js';

const BATCH = 32;
/** Prefix outputs kept at most (each is a whole image set). */
const MEMO_LIMIT = 8;

export class PipelineEvaluator {
  private readonly built = new Map<string, Preprocessor>();
  private readonly memo = new Map<string, ImageSet>();

  constructor(
    private readonly model: Classifier,
    private readonly modelKey: string,
    private readonly cache: StepCache,
    private readonly seed: number,
  ) {}

  /** Predicted labels of the defended model on every image of `set` (pipeline text; 'none' for the bare model). */
  async predictions(pipeline: string, set: ImageSet): Promise<number[]> {
    const stages = parsePipeline(pipeline);
    const text = formatPipeline(stages);
    const key = this.cache.key('eval', { model: this.modelKey, set: set.key, pipeline: text, seed: this.seed });
    const { y_pred } = await this.cache.json(key, async () => ({ y_pred: await this.predict(await this.defended(stages, set)) }));
    return y_pred;
  }

  async accuracy(pipeline: string, set: ImageSet): Promise<number> {
    return accuracyOf(await this.predictions(pipeline, set), set.labels);
  }

  /** The set after the pipeline (through the prefix memo). */
  async defended(stages: readonly StageSpec[], set: ImageSet): Promise<ImageSet> {
    const prefixes = stages.map((_, i) => formatPipeline(stages.slice(0, i + 1)));
    for (const k of [...this.memo.keys()]) {
      const [, prefix] = k.split('\u0000');
      if (!prefixes.includes(prefix)) this.memo.delete(k);
    }
    let cur = set;
    for (let i = 0; i < stages.length; i++) {
      const memoKey = `${set.key}\u0000${prefixes[i]}`;
      const hit = this.memo.get(memoKey);
      if (hit) {
        cur = hit;
        continue;
      }
      const stage = await this.stage(stages[i]);
      const input = cur;
      const data = await mapBatches(input, BATCH, (x, _start, b) => stage.apply(x, { seed: hashSeed(this.seed, set.key, prefixes[i], b) }));
      cur = withData(input, data, `${set.key}|${prefixes[i]}`);
      this.memo.set(memoKey, cur);
      while (this.memo.size > MEMO_LIMIT) this.memo.delete(this.memo.keys().next().value as string);
    }
    return cur;
  }

  private async stage(spec: StageSpec): Promise<Preprocessor> {
    const token = formatToken(spec.name, spec.params);
    let p = this.built.get(token);
    if (!p) {
      p = await getDefence(spec.name).factory(spec.params);
      this.built.set(token, p);
    }
    return p;
  }

  private async predict(set: ImageSet): Promise<number[]> {
    const out: number[] = [];
    for (let start = 0; start < setLength(set); start += BATCH) {
      const x = batchOf(set, start, Math.min(BATCH, setLength(set) - start));
      try {
        out.push(...(await predictLabels(this.model, x)));
      } finally {
        x.dispose();
      }
    }
    return out;
  }

  /** Drop the kept prefix outputs (single stages hold no tensors; BMCNN's weights are shared per process). */
  clear(): void {
    this.memo.clear();
  }
}

export function accuracyOf(pred: readonly number[], labels: readonly number[]): number {
  if (labels.length === 0) return 0;
  return pred.reduce((n, p, i) => n + (p === labels[i] ? 1 : 0), 0) / labels.length;
}
