/**
 * `--queue redis://HOST:PORT` and `--artifacts DIR` of the commands whose attack work can run on a queue's
 * workers (study, attack, robustness, evaluate): the flags, their checks before any work, and the coordinator of the
 * attack and robustness commands' chunks and of evaluate's batches. src/queue (bullmq, ioredis) is imported only when --queue is given.
 */
import type { Command } from 'commander';
import type { ChunkRunner } from '../attacks/chunk.js';
import { FaceClassifier } from '../models/classifier.js';
import type { EvalRunner } from '../models/evaluate.js';
import type { QueueCoordinator } from '../queue/coordinator.js';
import type { OpenModel } from './model.js';
import { note, progressInterval } from './progress.js';
import { numberOption, queueUrlFlag, UsageError } from './run.js';

/** Batches in flight on a queue: enough to keep many workers busy, few enough to bound the coordinator's memory. */
export const QUEUE_WINDOW = 32;

export interface QueueFlags {
  queue?: string;
  artifacts?: string;
  artifactTtl?: string;
}

const TTL_HELP = "hours the objects in Redis (images, models, results) and the finished jobs' records are kept after their last use (0: for ever)";

/** `--artifact-ttl HOURS` in seconds (default 7 days). */
export function artifactTtlSeconds(f: QueueFlags): number | undefined {
  return f.artifactTtl === undefined ? undefined : numberOption('--artifact-ttl', f.artifactTtl, 0, 24 * 365 * 10) * 3600;
}

/** The worker's --artifact-ttl (its results' expiry). */
export function addArtifactTtlOption(cmd: Command): Command {
  return cmd.option('--artifact-ttl <hours>', `${TTL_HELP}; default 168`);
}

/** `what`: the work that goes to the workers. */
export function addQueueOptions(cmd: Command, what: string): Command {
  return cmd
    .option('--queue <url>', `run ${what} on workers of a Redis queue (redis://HOST:PORT; see \`robustify worker\`): the same results`)
    .option('--artifacts <dir>', 'with --queue: large-object store, a directory every machine mounts (default: everything in Redis)')
    .option('--artifact-ttl <hours>', `with --queue: ${TTL_HELP}; default 168`);
}

/** The flags' own checks, before any work: a usage error naming the flag. */
export async function checkQueueFlags(f: QueueFlags): Promise<void> {
  if (f.artifacts && !f.queue) throw new UsageError('--artifacts: only with --queue');
  if (f.artifactTtl !== undefined && !f.queue) throw new UsageError('--artifact-ttl: only with --queue');
  artifactTtlSeconds(f);
  if (f.queue) queueUrlFlag((await import('../queue/address.js')).parseQueueUrl, f.queue);
}

/** The coordinator a command hands its chunks to: opened, and said so (one line naming the address if Redis is away). */
export async function openCoordinator(f: QueueFlags & { queue: string }, quiet: boolean | undefined, what: string): Promise<QueueCoordinator> {
  const { QueueCoordinator } = await import('../queue/coordinator.js');
  const queue = await QueueCoordinator.open({ url: f.queue, artifactsDir: f.artifacts, artifactTtlSeconds: artifactTtlSeconds(f), progressSeconds: progressInterval() / 1000, onLine: (l) => note(quiet, l) });
  note(quiet, `${what} go to the queue ${queue.name} at ${f.queue}`);
  return queue;
}

/**
 * With --queue: the coordinator and the runner of the attack chunks against the classifier saved in `--model`
 * (bare, or behind `target`'s pipeline). Workers load the folder `robustify train` wrote (and a user backbone's
 * files, sent with it); a network file as --model is refused.
 */
export async function chunkQueue(
  f: QueueFlags & { model: string },
  opened: Pick<OpenModel, 'model' | 'engine'>,
  target: { defence?: string; eot?: number; seed: number },
  quiet: boolean | undefined,
  what: string,
): Promise<{ queue: QueueCoordinator; runner: ChunkRunner } | undefined> {
  return modelQueue(f, opened, quiet, what, (queue, model) => queue.chunkRunner(model, target));
}

/** With --queue: the coordinator and the runner of `evaluate`'s batches against the classifier saved in `--model` (as `chunkQueue`). */
export async function evaluationQueue(
  f: QueueFlags & { model: string },
  opened: Pick<OpenModel, 'model' | 'engine'>,
  target: { defence?: string; seed: number; draws?: number },
  quiet: boolean | undefined,
): Promise<{ queue: QueueCoordinator; runner: EvalRunner } | undefined> {
  return modelQueue(f, opened, quiet, 'evaluate: batches', (queue, model) => queue.evaluationRunner(model, target));
}

/** The coordinator and a runner against `--model`'s folder; a network file is refused (workers load folders). */
async function modelQueue<R>(
  f: QueueFlags & { model: string },
  opened: Pick<OpenModel, 'model' | 'engine'>,
  quiet: boolean | undefined,
  what: string,
  runnerOf: (queue: QueueCoordinator, model: { dir: string; engine: string; backbone: FaceClassifier['backbone'] }) => Promise<R>,
): Promise<{ queue: QueueCoordinator; runner: R } | undefined> {
  if (!f.queue) return undefined;
  if (!(opened.model instanceof FaceClassifier)) throw new UsageError(`--queue: --model '${f.model}' is a network file; workers take a classifier folder saved by \`robustify train\``);
  const queue = await openCoordinator({ ...f, queue: f.queue }, quiet, what);
  try {
    return { queue, runner: await runnerOf(queue, { dir: f.model, engine: opened.engine, backbone: opened.model.backbone }) };
  } catch (err) {
    await queue.close();
    throw err;
  }
}
