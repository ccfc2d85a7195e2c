/**
 * Predictions of the model behind a pipeline on an image set, cached per (model, set, pipeline, seed).
 *
 * Pipelines are applied by the defences' PipelineApplier: the output of every prefix is kept while the
 * pipelines asked for next still start with it (a search that enumerates pipelines depth-first applies each
 * stage once per prefix), and stochastic stages draw by the same rule as `Pipeline.apply` (study seed, prefix,
 * image), so a pipeline gives the same numbers here as through `robustify evaluate --defence` with that seed.
 */
import { formatPipeline, parsePipeline, type StageSpec } from '../defences/index.js';
import { PipelineApplier } from '../defences/applier.js';
import { CHANNELS } from '../image/index.js';
import { predictLabels, type Classifier } from '../models/classifier.js';
import type { StepCache } from './cache.js';
import { batchOf, setLength, withData, type ImageSet } from './imageset.js';

const BATCH = 32;
/** Prefix outputs kept at most (each is a whole image set). */
const MEMO_LIMIT = 8;

export class PipelineEvaluator {
  private readonly applier: PipelineApplier;

  constructor(
    private readonly model: Classifier,
    private readonly modelKey: string,
    private readonly cache: StepCache,
    private readonly seed: number,
  ) {
    this.applier = new PipelineApplier(seed, BATCH, MEMO_LIMIT);
  }

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

  /** The set after the pipeline (through the applier's prefix memo). */
  async defended(stages: readonly StageSpec[], set: ImageSet): Promise<ImageSet> {
    if (!stages.length) return set;
    const data = await this.applier.apply(stages, { key: set.key, height: set.height, width: set.width, channels: CHANNELS, data: set.data });
    return withData(set, data, `${set.key}|${formatPipeline(stages)}`);
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

  /** Drop the kept prefix outputs. */
  clear(): void {
    this.applier.clear();
  }
}

export function accuracyOf(pred: readonly number[], labels: readonly number[]): number {
  if (labels.length === 0) return 0;
  return pred.reduce((n, p, i) => n + (p === labels[i] ? 1 : 0), 0) / labels.length;
}
