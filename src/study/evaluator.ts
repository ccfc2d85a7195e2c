/**
 * Predictions of the model behind a pipeline on an image set, cached per (model, set, pipeline, seed).
 *
 * Pipelines are applied by the defences' PipelineApplier: the output of every prefix is kept while the
 * pipelines asked for next still start with it (a search that enumerates pipelines depth-first applies each
 * stage once per prefix), and stochastic stages draw by the same rule as `Pipeline.apply` (study seed, prefix,
 * image), so a pipeline gives the same numbers here as through `robustify evaluate --defence` with that seed.
 * With a queue's runner (`remote`) a set's batches of 32 are jobs instead (models/evaluate.ts `evaluateBatch`
 * behind `Pipeline.apply`, which draws by the same rule, on the same batches): the same labels.
 */
import { formatPipeline, parsePipeline, type StageSpec } from '../defences/index.js';
import { PipelineApplier } from '../defences/applier.js';
import { CHANNELS } from '../image/index.js';
import { predictLabels, type Classifier } from '../models/classifier.js';
import type { StepCache } from './cache.js';
import { batchOf, imageSize, setLength, withData, type ImageSet } from './imageset.js';
import type { EvalRunner } from '../models/evaluate.js';

const BATCH = 32;
/** Pipeline evaluations in flight on a queue (each sends all its set's batches). */
const PREFETCH = 8;
/** Prefix outputs kept at most (each is a whole image set). */
const MEMO_LIMIT = 8;

export class PipelineEvaluator {
  private readonly applier: PipelineApplier;

  constructor(
    private readonly model: Classifier,
    private readonly modelKey: string,
    private readonly cache: StepCache,
    private readonly seed: number,
    private readonly remote?: (target: { defence?: string; seed: number }) => EvalRunner,
  ) {
    this.applier = new PipelineApplier(seed, BATCH, MEMO_LIMIT);
  }

  /** Predicted labels of the defended model on every image of `set` (pipeline text; 'none' for the bare model). */
  async predictions(pipeline: string, set: ImageSet): Promise<number[]> {
    const stages = parsePipeline(pipeline);
    const text = formatPipeline(stages);
    const key = this.cache.key('eval', { model: this.modelKey, set: set.key, pipeline: text, seed: this.seed });
    const { y_pred } = await this.cache.json(key, async () => ({ y_pred: this.remote ? await this.predictRemote(this.remote({ defence: text || undefined, seed: this.seed }), set) : await this.predict(await this.defended(stages, set)) }));
    return y_pred;
  }

  /**
   * With a queue's runner: the predictions of every (pipeline, set) a step will ask for, PREFETCH at a time
   * (their batches all on the queue together), into the cache the step then reads in its own order. Locally
   * nothing: the applier's prefix memo wants the step's order.
   */
  async prefetch(requests: readonly (readonly [string, ImageSet])[]): Promise<void> {
    if (!this.remote) return;
    // Each (pipeline, set) once: two evaluations of one key at once would compute it twice.
    const queue = [...new Map(requests.map((r) => [`${formatPipeline(parsePipeline(r[0]))}\u0000${r[1].key}`, r])).values()];
    const next = async (): Promise<void> => {
      for (let r = queue.shift(); r; r = queue.shift()) await this.predictions(r[0], r[1]);
    };
    await Promise.all(Array.from({ length: Math.min(PREFETCH, queue.length) }, next));
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

  /** The set's labels from a queue's workers: all its batches at once. */
  private async predictRemote(runner: EvalRunner, set: ImageSet): Promise<number[]> {
    const size = imageSize(set);
    const n = setLength(set);
    const batches: Promise<number[]>[] = [];
    for (let start = 0, index = 0; start < n; start += BATCH, index++) {
      const count = Math.min(BATCH, n - start);
      const images = set.data.subarray(start * size, (start + count) * size);
      batches.push(runner.run({ index, images, shape: [count, set.height, set.width, CHANNELS], labels: set.labels.slice(start, start + count) }).then((r) => r.predictions));
    }
    return (await Promise.all(batches)).flat();
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
