/**
 * `--queue redis://HOST:PORT` and `--artifacts DIR` of the commands whose attack work can run on a queue's
 * workers (study, attack, robustness): the flags, their checks before any work, and the coordinator of the
 * attack and robustness commands' chunks. src/queue (bullmq, ioredis) is imported only when --queue is given.
 */
import type { Command } from 'commander';
import type { ChunkRunner } from '../attacks/chunk.js';
import { FaceClassifier } from '../models/classifier.js';
import type { QueueCoordinator } from '../queue/coordinator.js';
import type { OpenModel } from './model.js';
import { note, progressInterval } from './progress.js';
import { queueUrlFlag, UsageError } from './run.js';

export interface QueueFlags {
  queue?: string;
  artifacts?: string;
}

/** `what`: the work that goes to the workers. */
export function addQueueOptions(cmd: Command, what: string): Command {
  return cmd
    .option('--queue <url>', `run ${what} on workers of a Redis queue (redis://HOST:PORT; see \`robustify worker\`): the same results`)
    .option('--artifacts <dir>', 'with --queue: large-object store, a directory every machine mounts (default: everything in Redis)');
}

/** The flags' own checks, before any work: a usage error naming the flag. */
export async function checkQueueFlags(f: QueueFlags): Promise<void> {
  if (f.artifacts && !f.queue) throw new UsageError('--artifacts: only with --queue');
  if (f.queue) queueUrlFlag((await import('../queue/address.js')).parseQueueUrl, f.queue);
}

/** The coordinator a command hands its chunks to: opened, and said so (one line naming the address if Redis is away). */
export async function openCoordinator(f: QueueFlags & { queue: string }, quiet: boolean | undefined, what: string): Promise<QueueCoordinator> {
  const { QueueCoordinator } = await import('../queue/coordinator.js');
  const queue = await QueueCoordinator.open({ url: f.queue, artifactsDir: f.artifacts, progressSeconds: progressInterval() / 1000, onLine: (l) => note(quiet, l) });
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
  if (!f.queue) return undefined;
  if (!(opened.model instanceof FaceClassifier)) throw new UsageError(`--queue: --model '${f.model}' is a network file; workers take a classifier folder saved by \`robustify train\``);
  const queue = await openCoordinator({ ...f, queue: f.queue }, quiet, what);
  try {
    return { queue, runner: await queue.chunkRunner({ dir: f.model, engine: opened.engine, backbone: opened.model.backbone }, target) };
  } catch (err) {
    await queue.close();
    throw err;
  }
}
