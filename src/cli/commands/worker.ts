/**
 * `robustify worker --queue redis://HOST:6379 [--concurrency N]`: a queue worker (src/queue/worker.ts) for
 * studies run elsewhere with `study --queue`. It runs until SIGINT/SIGTERM, which lets the running jobs finish.
 */
import { Command } from 'commander';
import { describeEngine } from '../../engine/backend.js';
import { note } from '../progress.js';
import { addArtifactTtlOption, artifactTtlSeconds, type QueueFlags } from '../queue-options.js';
import { globalOptions, intOption, numberOption, queueUrlFlag, startEngine, takeOverSignals } from '../run.js';

interface WorkerFlags extends Pick<QueueFlags, 'artifactTtl'> {
  queue: string;
  concurrency?: string;
  cache?: string;
  artifacts?: string;
  stallSeconds?: string;
  name?: string;
}

export function registerWorker(program: Command): void {
  const cmd = program
    .command('worker')
    .description('take study jobs (PGD batches) from a Redis queue and compute them (see study --queue)')
    .requiredOption('--queue <url>', 'the queue: redis://HOST:PORT[/DB]')
    .option('--concurrency <n>', 'jobs in flight (transfers overlap; one batch computes at a time)', '1')
    .option('--cache <dir>', 'where fetched models are kept (default: the system temp dir)')
    .option('--artifacts <dir>', 'large-object store: a directory every machine mounts (default: everything in Redis)')
    .option('--stall-seconds <s>', 'a job whose worker is silent this long is retried elsewhere', '30')
    .option('--name <name>', 'this worker in the progress line (default host:pid)');
  addArtifactTtlOption(cmd)
    .action(async (flags: WorkerFlags, cmd: Command) => {
      const { quiet } = globalOptions(cmd);
      const concurrency = intOption('--concurrency', flags.concurrency ?? '1', 1, 64);
      const stallSeconds = numberOption('--stall-seconds', flags.stallSeconds ?? '30', 0.5, 3600);
      const ttl = artifactTtlSeconds(flags);
      queueUrlFlag((await import('../../queue/address.js')).parseQueueUrl, flags.queue);
      const engine = await startEngine(cmd);
      note(quiet, `engine: ${describeEngine(engine)}`);
      const { startWorker } = await import('../../queue/worker.js');
      const worker = await startWorker({
        url: flags.queue,
        concurrency,
        cacheDir: flags.cache,
        artifactsDir: flags.artifacts,
        artifactTtlSeconds: ttl,
        stallSeconds,
        name: flags.name,
        onLine: (l) => note(quiet, l),
      });
      await new Promise<void>((resolve, reject) => {
        takeOverSignals((signal) => {
          note(quiet, `worker ${worker.name}: ${signal}, finishing the running jobs`);
          worker.close().then(resolve, reject);
        });
      });
    });
}
