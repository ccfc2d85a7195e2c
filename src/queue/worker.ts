/**
 * A queue worker (`robustify worker --queue redis://…`): takes PGD batches of studies, batches of the attack
 * and robustness commands (chunks) and of `evaluate` from the queue of its project version, computes them with the same functions
 * as a local run (study/steps.ts `attackBatch`, attacks/chunk.ts `attackChunk`, models/evaluate.ts `evaluateBatch`), stores the results in the artifact store and returns their
 * addresses. Models are fetched once and kept by the hash of
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
import { createAttack } from '../attacks/index.js';
import { attackChunk } from '../attacks/chunk.js';
import { DefendedClassifier } from '../models/defended.js';
import { localEvaluation } from '../models/evaluate.js';
import { attackBatch, targetClassifier, type AttackTarget } from '../study/steps.js';
import { writeDirAtomic } from '../util/fs.js';
import { closeWithin, connectionOptions, parseQueueUrl, probe } from './address.js';
import { Artifacts, contentHash, DEFAULT_ARTIFACT_TTL, DirArtifacts, RedisArtifacts } from './artifacts.js';
import { backboneIdentity } from '../models/backbones.js';
import { canonicalJson } from '../study/cache.js';
import { JOB_FORMAT, PREFIX, projectVersion, queueName, QUEUES_KEY, softwareFingerprint, type AttackJob, type AttackJobResult, type EvaluateJob, type EvaluateJobResult, type ModelRef, type PgdJob, type PgdResult } from './jobs.js';

type AnyJob = PgdJob | AttackJob | EvaluateJob;
type AnyResult = PgdResult | AttackJobResult | EvaluateJobResult;

/** A worker's queue, concurrency and caches. */
export interface WorkerOptions {
  url: string;
  /** Jobs in flight (transfers overlap; computing is one at a time). */
  concurrency?: number;
  /** Where fetched models are kept (default: a folder under the system's temp dir). */
  cacheDir?: string;
  /** The large-object store's directory, when the machines share one. */
  artifactsDir?: string;
  /** Seconds the results it puts in Redis are kept after their last use (0: for ever; default 7 days). */
  artifactTtlSeconds?: number;
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
  const artifacts = new Artifacts(new RedisArtifacts(redis, undefined, opts.artifactTtlSeconds ?? DEFAULT_ARTIFACT_TTL), opts.artifactsDir ? new DirArtifacts(opts.artifactsDir) : undefined);
  const cacheDir = opts.cacheDir ?? path.join(os.tmpdir(), 'robustify-worker');

  const models = new Map<string, Promise<Accelerated & { model: FaceClassifier }>>();
  const pipelines = new Map<string, Promise<Pipeline>>();
  /**
   * The folder behind a manifest in this worker's cache, fetched once: a cached copy is checked against the
   * manifest first (a file changed on disk is refused in one line, never used).
   */
  const cachedDir = async (hash: string, name: string, what: string): Promise<string> => {
    const dir = path.join(cacheDir, `${name}-${hash.slice(0, 16)}`);
    const manifest = await artifacts.getManifest(hash, what);
    const cached = await fsp.readdir(dir).catch(() => undefined);
    if (cached && cached.length > 0) {
      for (const [f, h] of Object.entries(manifest)) {
        const bytes = await fsp.readFile(path.join(dir, f)).catch(() => undefined);
        if (!bytes || contentHash(bytes) !== h) {
          throw new Error(`worker ${me}: its cached ${what} '${dir}' does not hold the files of ${hash.slice(0, 16)}… ('${f}' ${bytes ? 'differs' : 'is missing'}); remove that folder; nothing computed`);
        }
      }
      return dir;
    }
    const files = await artifacts.getDir(hash, what);
    await fsp.mkdir(cacheDir, { recursive: true });
    await writeDirAtomic(dir, async (tmp) => {
      for (const [f, bytes] of Object.entries(files)) await fsp.writeFile(path.join(tmp, f), bytes);
    }, { what: 'worker cache' });
    return dir;
  };
  const modelFor = (ref: ModelRef): Promise<Accelerated & { model: FaceClassifier }> => {
    const id = `${ref.head}+${ref.backbone?.files ?? 'builtin'}`;
    let m = models.get(id);
    if (!m) {
      m = (async () => {
        const dir = await cachedDir(ref.head, 'model', `head of ${ref.key}`);
        const bb = ref.backbone;
        const source = bb ? { kind: 'file' as const, path: path.join(await cachedDir(bb.files, 'backbone', `backbone '${bb.file}' of ${ref.key}`), bb.file), spec: bb.spec } : undefined;
        const model = await FaceClassifier.load(dir, source);
        // The coordinator's network as this worker loads it, or another one's numbers: refused.
        if (bb && backboneIdentity(model.backbone) !== bb.identity) {
          model.dispose();
          throw new UnrecoverableError(`worker ${me}: the backbone '${bb.file}' of ${ref.key} loads here as ${backboneIdentity(model.backbone)}, not ${bb.identity} as on the coordinator; nothing computed`);
        }
        return { ...(await accelerated(model)), model };
      })();
      m.catch(() => models.delete(id));
      models.set(id, m);
    }
    return m;
  };
  const pipelineFor = (text: string): Promise<Pipeline> => {
    let p = pipelines.get(text);
    if (!p) pipelines.set(text, (p = buildPipeline(text)));
    return p;
  };

  let computing: Promise<unknown> = Promise.resolve();
  /** One computation at a time in this process (one engine, all its threads); transfers overlap. */
  const serially = <T>(f: () => Promise<T>): Promise<{ value: T; seconds: number }> => {
    const run = computing.then(async () => {
      const t = performance.now();
      const value = await f();
      return { value, seconds: (performance.now() - t) / 1000 };
    });
    computing = run.catch(() => undefined);
    return run;
  };
  /** The model and target a job names, once its format, software and engine are ours. */
  const targetOf = async (job: Job<PgdJob | AttackJob | EvaluateJob>): Promise<AttackTarget> => {
    const d = job.data;
    if (d.format !== JOB_FORMAT) throw new UnrecoverableError(`worker ${me}: job ${job.id} has format ${String(d.format)}, this worker reads ${JOB_FORMAT}`);
    if (canonicalJson(d.software) !== software) {
      throw new UnrecoverableError(`worker ${me}: job ${job.id} was made with ${canonicalJson(d.software)}, this worker has ${software}; nothing computed`);
    }
    const model = await modelFor(d.model);
    if (model.engine !== d.model.engine) throw new UnrecoverableError(`worker ${me}: job ${job.id} runs on ${d.model.engine}, this worker's engine is ${model.engine}; nothing computed`);
    return {
      model: model.classifier,
      modelKey: d.model.key,
      seed: d.target.seed,
      defence: d.target.defence ? { text: d.target.defence, pipeline: await pipelineFor(d.target.defence) } : undefined,
      eot: 'eot' in d.target ? d.target.eot : undefined,
    };
  };
  const imagesOf = (job: Job<PgdJob | AttackJob | EvaluateJob>): Promise<Float32Array> =>
    artifacts.getFloats(job.data.images, `the images of ${job.id}`, job.data.batch.shape.reduce((a, b) => a * b, 1));

  const pgdJob = async (job: Job<PgdJob>): Promise<PgdResult> => {
    const d = job.data;
    const [target, images] = await Promise.all([targetOf(job), imagesOf(job)]);
    const { value: iterates, seconds } = await serially(() => attackBatch(target, { ...d.batch, images }));
    const addresses: string[] = [];
    for (const it of iterates) addresses.push(await artifacts.putFloats(it));
    say(`worker ${me}: ${job.id} done in ${seconds.toFixed(2)} s`);
    return { iterates: addresses, worker: me, seconds };
  };
  const attackJob = async (job: Job<AttackJob>): Promise<AttackJobResult> => {
    const d = job.data;
    const [target, images] = await Promise.all([targetOf(job), imagesOf(job)]);
    let attack;
    try {
      attack = createAttack(d.attack.name, d.attack.params);
    } catch (err) {
      // A plugin attack this worker has not registered, or parameters it does not take: no attempt would do.
      throw new UnrecoverableError(`worker ${me}: job ${job.id}: ${(err as Error).message}; nothing computed`);
    }
    const { value, seconds } = await serially(() => attackChunk(targetClassifier(target, 0), attack, { ...d.batch, images }));
    const adversarial = await artifacts.putFloats(value.adversarial);
    say(`worker ${me}: ${job.id} done in ${seconds.toFixed(2)} s`);
    return { adversarial, predictions: value.predictions, queries: value.queries, worker: me, seconds };
  };
  const evaluateJob = async (job: Job<EvaluateJob>): Promise<EvaluateJobResult> => {
    const d = job.data;
    const [target, images] = await Promise.all([targetOf(job), imagesOf(job)]);
    const classifier = target.defence ? new DefendedClassifier(target.model, target.defence.pipeline, d.target.seed) : target.model;
    const run = localEvaluation(classifier, d.target.draws);
    const { value, seconds } = await serially(() => run.run({ ...d.batch, images }));
    say(`worker ${me}: ${job.id} done in ${seconds.toFixed(2)} s`);
    return { ...value, worker: me, seconds };
  };
  const processJob = async (job: Job<AnyJob, AnyResult>): Promise<AnyResult> => {
    if (job.name === 'pgd') return pgdJob(job as Job<PgdJob>);
    if (job.name === 'attack') return attackJob(job as Job<AttackJob>);
    if (job.name === 'evaluate') return evaluateJob(job as Job<EvaluateJob>);
    throw new UnrecoverableError(`worker ${me}: job ${job.id} is a '${job.name}' job, which this worker does not compute`);
  };

  const lock = Math.round((opts.stallSeconds ?? 30) * 1000);
  const worker = new Worker<AnyJob, AnyResult>(name, processJob, {
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
