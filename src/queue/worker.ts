/**
 * A queue worker (`robustify worker --queue redis://…`): takes PGD batches from the queue of its project
 * version, computes them with the study's own batch function (study/steps.ts `attackBatch`), stores the
 * iterates in the artifact store and returns their addresses. Models are fetched once and kept by the hash of
 * their files; batches run one at a time per process (one engine, all its threads), `concurrency` only overlaps
 * the transfers. A job whose software fingerprint differs from ours fails at once (UnrecoverableError): its
 * numbers would not be the coordinator's.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { buildPipeline, type Pipeline } from '../defences/index.js';
import { FaceClassifier } from '../models/classifier.js';
import { accelerated, type Accelerated } from '../models/native.js';
import { attackBatch, type AttackTarget } from '../study/steps.js';
import { writeDirAtomic } from '../util/fs.js';
import { closeWithin, connectionOptions, parseQueueUrl, probe } from './address.js';
import { Artifacts, DirArtifacts, RedisArtifacts } from './artifacts.js';
import { canonicalJson } from '../study/cache.js';
import { JOB_FORMAT, PREFIX, projectVersion, queueName, QUEUES_KEY, softwareFingerprint, type PgdJob, type PgdResult } from './jobs.js';

/** A worker's queue, concurrency and caches. */
export interface WorkerOptions {
  url: string;
  /** Jobs in flight (transfers overlap; computing is one at a time). */
  concurrency?: number;
  /** Where fetched models are kept (default: a folder under the system's temp dir). */
  cacheDir?: string;
  /** The large-object store's directory, when the machines share one. */
  artifactsDir?: string;
  /** Seconds without a lock renewal after which a job counts as stalled and is retried elsewhere. */
  stallSeconds?: number;
  /** This worker's name in the coordinator's progress (default host:pid). */
  name?: string;
  /** The project version it serves (default: this one's). */
  version?: string;
  /** Told each progress line. */
  onLine?: (line: string) => void;
}

/** A started worker. */
export interface RunningWorker {
  name: string;
  /** Stop taking jobs, finish the ones running, disconnect. */
  close(): Promise<void>;
}

/** Check the queue's registry: a Redis that serves only other versions' studies is a mistake worth one line. */
async function checkVersion(redis: Redis, name: string, version: string, shown: string): Promise<void> {
  const queues = await redis.hgetall(QUEUES_KEY);
  if (Object.keys(queues).length > 0 && !(name in queues)) {
    const others = [...new Set(Object.values(queues))].sort().join(', ');
    throw new Error(`worker: the queue at ${shown} serves studies of robustify ${others}; this worker is robustify ${version} (start a worker of that version)`);
  }
}

/**
 * Serve a queue: take the attack batches studies add, compute them here and store the results (see the
 * module comment); `close()` finishes the running jobs and disconnects.
 *
 * @example
 * ```ts no-run
 * import { startWorker } from 'robustify/queue';
 * import { initEngine } from 'robustify';
 * await initEngine();
 * const worker = await startWorker({ url: 'redis://localhost:6379', concurrency: 2, onLine: console.log });
 * process.once('SIGINT', () => void worker.close());
 * ```
 */
export async function startWorker(opts: WorkerOptions): Promise<RunningWorker> {
  const address = parseQueueUrl(opts.url);
  await probe(address);
  const version = opts.version ?? projectVersion();
  const name = queueName(version);
  const software = canonicalJson(softwareFingerprint(version));
  const me = opts.name ?? `${os.hostname()}:${process.pid}`;
  const say = opts.onLine ?? (() => undefined);
  const redis = new Redis(connectionOptions(address));
  redis.on('error', () => undefined);
  await checkVersion(redis, name, version, address.shown).catch((err: Error) => {
    redis.disconnect();
    throw err;
  });
  const artifacts = new Artifacts(new RedisArtifacts(redis), opts.artifactsDir ? new DirArtifacts(opts.artifactsDir) : undefined);
  const cacheDir = opts.cacheDir ?? path.join(os.tmpdir(), 'robustify-worker');

  const models = new Map<string, Promise<Accelerated & { model: FaceClassifier }>>();
  const pipelines = new Map<string, Promise<Pipeline>>();
  const modelFor = (job: PgdJob): Promise<Accelerated & { model: FaceClassifier }> => {
    let m = models.get(job.model.head);
    if (!m) {
      m = (async () => {
        const dir = path.join(cacheDir, `model-${job.model.head.slice(0, 16)}`);
        if (!(await fsp.readdir(dir).then((e) => e.length > 0, () => false))) {
          const files = await artifacts.getDir(job.model.head, `the head of ${job.model.key}`);
          await fsp.mkdir(cacheDir, { recursive: true });
          await writeDirAtomic(dir, async (tmp) => {
            for (const [f, bytes] of Object.entries(files)) await fsp.writeFile(path.join(tmp, f), bytes);
          }, { what: 'worker cache' });
        }
        const model = await FaceClassifier.load(dir);
        return { ...(await accelerated(model)), model };
      })();
      m.catch(() => models.delete(job.model.head));
      models.set(job.model.head, m);
    }
    return m;
  };
  const pipelineFor = (text: string): Promise<Pipeline> => {
    let p = pipelines.get(text);
    if (!p) pipelines.set(text, (p = buildPipeline(text)));
    return p;
  };

  let computing: Promise<unknown> = Promise.resolve();
  const processJob = async (job: Job<PgdJob, PgdResult>): Promise<PgdResult> => {
    const d = job.data;
    if (d.format !== JOB_FORMAT) throw new UnrecoverableError(`worker ${me}: job ${job.id} has format ${String(d.format)}, this worker reads ${JOB_FORMAT}`);
    if (canonicalJson(d.software) !== software) {
      throw new UnrecoverableError(`worker ${me}: job ${job.id} was made with ${canonicalJson(d.software)}, this worker has ${software}; nothing computed`);
    }
    const [model, images] = await Promise.all([modelFor(d), artifacts.getFloats(d.images, `the images of ${job.id}`, d.batch.shape.reduce((a, b) => a * b, 1))]);
    if (model.engine !== d.model.engine) throw new UnrecoverableError(`worker ${me}: job ${job.id} runs on ${d.model.engine}, this worker's engine is ${model.engine}; nothing computed`);
    const target: AttackTarget = {
      model: model.classifier,
      modelKey: d.model.key,
      seed: d.target.seed,
      defence: d.target.defence ? { text: d.target.defence, pipeline: await pipelineFor(d.target.defence) } : undefined,
      eot: d.target.eot,
    };
    const run = computing.then(async () => {
      const t = performance.now();
      const iterates = await attackBatch(target, { ...d.batch, images });
      return { iterates, seconds: (performance.now() - t) / 1000 };
    });
    computing = run.catch(() => undefined);
    const { iterates, seconds } = await run;
    const addresses: string[] = [];
    for (const it of iterates) addresses.push(await artifacts.putFloats(it));
    say(`worker ${me}: ${job.id} done in ${seconds.toFixed(2)} s`);
    return { iterates: addresses, worker: me, seconds };
  };

  const lock = Math.round((opts.stallSeconds ?? 30) * 1000);
  const worker = new Worker<PgdJob, PgdResult>(name, processJob, {
    connection: connectionOptions(address) as ConnectionOptions,
    prefix: PREFIX,
    concurrency: opts.concurrency ?? 1,
    lockDuration: lock,
    stalledInterval: lock,
    maxStalledCount: 2,
  });
  worker.on('error', (err) => say(`worker ${me}: ${err.message}`));
  worker.on('failed', (job, err) => say(`worker ${me}: ${job?.id ?? '?'} failed: ${err.message}`));
  await worker.waitUntilReady();
  say(`worker ${me}: taking jobs of ${name} from ${address.shown}`);
  return {
    name: me,
    close: async () => {
      await closeWithin(worker);
      for (const m of models.values()) await m.then((x) => x.release().then(() => x.model.dispose()), () => undefined);
      for (const p of pipelines.values()) await p.then((x) => x.dispose(), () => undefined);
      redis.disconnect();
    },
  };
}
