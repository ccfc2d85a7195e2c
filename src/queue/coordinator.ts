/**
 * The coordinator's side (`robustify study … --queue redis://…`, `robustify attack … --queue`): every attack
 * batch the study needs and the cache lacks becomes a job (study/steps.ts `BatchRunner`), all of a set's
 * batches at once; the chunks of `robustify attack` and `robustness` likewise (`ChunkRunner`: the attack command keeps a window of
 * batches in flight, a suite step sends all its chunks), and the batches of `robustify evaluate` and of the
 * study's pipeline evaluations; the coordinator
 * follows them by polling their state, reads each result from the artifact store and stores it in its own
 * cache, as a local run would. Restarted, it adds the same job ids (BullMQ keeps one job per id) and reads what
 * is done. A job that is gone (a Redis restarted without persistence) is added again; a job that failed after
 * its attempts ends the study with one line naming it.
 */
import { Job, Queue, type ConnectionOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { readModelJson } from '../engine/onnx/import/tfjs-weights.js';
import { backboneIdentity, type Backbone } from '../models/backbones.js';
import { OnnxBackbone } from '../models/onnx-backbone.js';
import type { EvasionAttack } from '../attacks/index.js';
import type { TrainedModel } from '../study/plan.js';
import type { AttackChunk, AttackedChunk, ChunkRunner } from '../attacks/chunk.js';
import type { EvalBatch, EvalRunner, EvaluatedBatch } from '../models/evaluate.js';
import type { AttackTarget, BatchRunner, ChunkTarget, PgdBatch } from '../study/steps.js';
import { closeWithin, connectionOptions, parseQueueUrl, probe, type QueueAddress } from './address.js';
import { ArtifactMissing, Artifacts, DEFAULT_ARTIFACT_TTL, DirArtifacts, floatsAddress, RedisArtifacts } from './artifacts.js';
import { attackJobId, evaluateJobId, jobId, JOB_FORMAT, PREFIX, projectVersion, queueName, QUEUES_KEY, softwareFingerprint, type AttackJob, type AttackJobResult, type BackboneRef, type EvaluateJob, type EvaluateJobResult, type JobResult, type ModelRef, type PgdJob, type PgdResult } from './jobs.js';
import { roundTo } from '../util/round.js';

/** Where the coordinator's queue is and how it reports. */
export interface CoordinatorOptions {
  url: string;
  artifactsDir?: string;
  /** Attempts per job (a stalled or failed one is retried up to this many times in all). */
  attempts?: number;
  /** Seconds the objects it puts in Redis, and the finished jobs' records, are kept after their last use (0: for ever; default 7 days). */
  artifactTtlSeconds?: number;
  /** Seconds between progress lines (0: on every finished job). */
  progressSeconds?: number;
  /** Told each progress line. */
  onLine?: (line: string) => void;
  version?: string;
}

/** What the queue did for a run: the progress line's figures, as JSON (timings.json `queue`). */
export interface QueueStats {
  queue: string;
  /** Jobs this run awaited (added, or found waiting), found already done, added again (gone from Redis), finished here. */
  submitted: number;
  reused: number;
  resubmitted: number;
  completed: number;
  failed: number;
  /** From the first job added to the last one read back. */
  seconds: number;
  jobs_per_second: number;
  /** Seconds the workers computed, in all and per worker. */
  compute_seconds: number;
  workers: Record<string, { jobs: number; compute_seconds: number }>;
}

type AnyJob = PgdJob | AttackJob | EvaluateJob;
type AnyResult = PgdResult | AttackJobResult | EvaluateJobResult;
type JobName = 'pgd' | 'attack' | 'evaluate';
/** A model's folder as the coordinator sends it. */
type TrainedModelFiles = { dir: string; key: string; engine: string; backbone?: Backbone };

interface Pending {
  what: string;
  submit: () => Promise<void>;
  resolve: (r: AnyResult) => void;
  reject: (e: Error) => void;
}

const POLL_MS = 200;

/**
 * The study's side of a queue (see the module comment): `runner(model)` gives the batch runner a study hands its
 * attack batches to; `close()` disconnects.
 *
 * @example
 * ```ts no-run
 * import { QueueCoordinator } from 'robustify/queue';
 * import { initEngine, runStudy, listDataset, selectTopK, loadStudyConfig } from 'robustify';
 * await initEngine();
 * const coordinator = await QueueCoordinator.open({ url: 'redis://localhost:6379', onLine: console.log });
 * const config = await loadStudyConfig(undefined, true);
 * const selection = selectTopK(await listDataset('data/faces14'), config.identities);
 * try {
 *   const run = await runStudy({ selection, load: {}, config, cacheDir: 'out/cache', remote: (model) => coordinator.runner(model) });
 *   console.log(run.queue); // what the queue did
 * } finally {
 *   await coordinator.close();
 * }
 * ```
 */
export class QueueCoordinator {
  private readonly pending = new Map<string, Pending>();
  private readonly inflight = new Map<string, Promise<AnyResult>>();
  private timer?: NodeJS.Timeout;
  private polling = false;
  private t0?: number;
  private t1 = 0;
  private lastLine = 0;
  private readonly counts = { submitted: 0, reused: 0, resubmitted: 0, completed: 0, failed: 0 };
  private readonly workers: QueueStats['workers'] = {};
  private readonly software: Record<string, string>;

  private constructor(
    private readonly address: QueueAddress,
    private readonly redis: Redis,
    private readonly queue: Queue<AnyJob, AnyResult>,
    private readonly artifacts: Artifacts,
    private readonly opts: CoordinatorOptions,
  ) {
    this.software = softwareFingerprint(opts.version);
  }

  /** Connect to the queue at `url` (one line naming the address when Redis cannot be reached). */
  static async open(opts: CoordinatorOptions): Promise<QueueCoordinator> {
    const address = parseQueueUrl(opts.url);
    await probe(address);
    const redis = new Redis(connectionOptions(address));
    redis.on('error', () => undefined);
    const version = opts.version ?? projectVersion();
    const name = queueName(version);
    // The registry a worker reads to tell "no study yet" from "studies of another version".
    await redis.hset(QUEUES_KEY, name, version);
    const queue = new Queue<AnyJob, AnyResult>(name, { connection: connectionOptions(address) as ConnectionOptions, prefix: PREFIX });
    queue.on('error', () => undefined);
    await queue.waitUntilReady();
    const artifacts = new Artifacts(new RedisArtifacts(redis, undefined, opts.artifactTtlSeconds ?? DEFAULT_ARTIFACT_TTL), opts.artifactsDir ? new DirArtifacts(opts.artifactsDir) : undefined);
    return new QueueCoordinator(address, redis, queue, artifacts, opts);
  }

  get name(): string {
    return this.queue.name;
  }

  private get ttl(): number {
    return this.opts.artifactTtlSeconds ?? DEFAULT_ARTIFACT_TTL;
  }

  /**
   * The model's files in the artifact store: the head's folder, and a user backbone's files with its resolved
   * spec and identity (the built-in net travels with the software). Put again when Redis lost them.
   */
  private async modelRef(model: TrainedModelFiles): Promise<ModelRef> {
    const head = await this.artifacts.putDir(model.dir);
    return { head, key: model.key, engine: model.engine, ...(model.backbone instanceof OnnxBackbone ? { backbone: await this.backboneRef(model.backbone) } : {}) };
  }

  /**
   * Before each job: the model's objects are kept from expiring (touched), or put again when they are gone
   * (expired, or a Redis restarted without its data). Content-addressed, so `ref` stays the same.
   */
  private async keepModel(model: TrainedModelFiles, ref: ModelRef): Promise<void> {
    try {
      await this.artifacts.touchDir(ref.head, `the head of ${ref.key}`);
      if (ref.backbone) await this.artifacts.touchDir(ref.backbone.files, `the backbone of ${ref.key}`);
    } catch (err) {
      if (!(err instanceof ArtifactMissing)) throw err;
      await this.modelRef(model);
    }
  }

  private async backboneRef(net: OnnxBackbone): Promise<BackboneRef> {
    const file = path.basename(net.file);
    const files: Record<string, Uint8Array> = { [file]: await fsp.readFile(net.file) };
    // A TF.js model.json: its weight shards, which must lie beside it (the store's folders are flat).
    if (file.endsWith('.json')) {
      for (const group of (await readModelJson(net.file)).weightsManifest ?? []) {
        for (const p of group.paths) {
          if (path.basename(p) !== p || p.startsWith('.')) throw new Error(`queue: '${net.file}' has the weight shard '${p}' outside its folder; the queue sends a model.json with its shards beside it`);
          files[p] = await fsp.readFile(path.join(path.dirname(net.file), p));
        }
      }
    }
    return { files: await this.artifacts.putFiles(files), file, spec: { ...net.spec }, identity: backboneIdentity(net) };
  }

  /**
   * The runner of a trained model's attack batches: its head (and a user backbone's files) go to the artifact
   * store once; `chunks` gives the runner of attack chunks against it (the robust section's suite and Square).
   */
  async runner(model: TrainedModel): Promise<BatchRunner> {
    const ref = await this.modelRef(model);
    return {
      parallel: true,
      run: async (target: AttackTarget, batch: PgdBatch) => {
        const what = `PGD batch ${batch.index} (${batch.labels.length} images)`;
        const length = batch.images.length;
        return this.result<PgdResult, Float32Array[]>(
          jobId(batch),
          what,
          'pgd',
          async () => {
            await this.keepModel(model, ref);
            return this.payload(ref, target, batch);
          },
          (result) => Promise.all(result.iterates.map((h, i) => this.artifacts.getFloats(h, `iterate ${batch.iterations[i]} of ${jobId(batch)}`, length))),
        );
      },
      chunks: (target) => this.chunks(model, ref, target),
      evaluations: (target) => this.evaluations(model, ref, target),
    };
  }

  /**
   * The runner of attack chunks (attacks/chunk.ts: `robustify attack`'s batches, a suite's steps) against the
   * classifier saved in `model.dir` (its files go to the artifact store once; its key is their address and the
   * engine), bare or behind `target`'s pipeline.
   */
  async chunkRunner(model: { dir: string; engine: string; backbone?: Backbone }, target: ChunkTarget): Promise<ChunkRunner> {
    const { named, ref } = await this.savedModel(model);
    return this.chunks(named, ref, target);
  }

  /** A classifier folder's files in the artifact store, named by their address and the engine. */
  private async savedModel(model: { dir: string; engine: string; backbone?: Backbone }): Promise<{ named: TrainedModelFiles; ref: ModelRef }> {
    const first = await this.modelRef({ ...model, key: '' });
    const named = { ...model, key: `model-${first.head.slice(0, 16)}${first.backbone ? `+${first.backbone.identity}` : ''}@${model.engine}` };
    return { named, ref: { ...first, key: named.key } };
  }

  /**
   * The runner of `robustify evaluate`'s batches (models/evaluate.ts) against the classifier saved in
   * `model.dir`, bare or behind `target`'s pipeline with its seed and draws: each batch is a job whose id
   * hashes the model, target, batch place and labels and the images' address.
   */
  async evaluationRunner(model: { dir: string; engine: string; backbone?: Backbone }, target: { defence?: string; seed: number; draws?: number }): Promise<EvalRunner> {
    const { named, ref } = await this.savedModel(model);
    return this.evaluations(named, ref, target);
  }

  /** Each evaluation batch is a job whose id hashes the model, target, batch and images: a re-run reads back what is done. */
  private evaluations(named: TrainedModelFiles, ref: ModelRef, target: { defence?: string; seed: number; draws?: number }): EvalRunner {
    const run = async (batch: EvalBatch): Promise<EvaluatedBatch> => {
      const job: Omit<EvaluateJob, 'format' | 'software'> = {
        model: ref,
        target: { defence: target.defence, seed: target.seed, draws: target.draws },
        batch: { index: batch.index, shape: batch.shape, labels: batch.labels },
        images: floatsAddress(batch.images),
      };
      const id = evaluateJobId(job);
      // The result is its labels: nothing in the artifact store to read back.
      return this.result<EvaluateJobResult, EvaluatedBatch>(id, `evaluation batch ${batch.index} (${batch.labels.length} images)`, 'evaluate', this.imagesPayload(named, ref, job, batch.images), async (r) => ({
        predictions: r.predictions,
        ...(r.votes ? { votes: r.votes } : {}),
      }));
    };
    return { parallel: true, run };
  }

  /** Each chunk is a job whose id hashes the model, target, attack, chunk and images: a re-run reads back what is done. */
  private chunks(model: TrainedModelFiles, ref: ModelRef, target: ChunkTarget): ChunkRunner {
    const run = async (attack: EvasionAttack, batch: AttackChunk): Promise<AttackedChunk> => {
      const job: Omit<AttackJob, 'format' | 'software'> = {
        model: ref,
        target: { defence: target.defence, eot: target.eot, seed: target.seed },
        attack: { name: attack.name, params: { ...attack.params } },
        batch: { index: batch.index, shape: batch.shape, labels: batch.labels },
        images: floatsAddress(batch.images),
      };
      const id = attackJobId(job);
      const what = `${attack.name} batch ${batch.index} (${batch.labels.length} images)`;
      return this.result<AttackJobResult, AttackedChunk>(id, what, 'attack', this.imagesPayload(model, ref, job, batch.images), async (result) => ({
        adversarial: await this.artifacts.getFloats(result.adversarial, `the adversarial images of ${id}`, batch.images.length),
        predictions: result.predictions,
        queries: result.queries,
      }));
    };
    return { parallel: true, run };
  }

  /** The payload of a job on a batch's images: the model kept in the store and the images put, then the job. */
  private imagesPayload<J extends AttackJob | EvaluateJob>(model: TrainedModelFiles, ref: ModelRef, job: Omit<J, 'format' | 'software'>, images: Float32Array): () => Promise<J> {
    return async () => {
      await this.keepModel(model, ref);
      await this.artifacts.putFloats(images);
      return { format: JOB_FORMAT, software: this.software, ...job } as J;
    };
  }

  private async payload(model: ModelRef, target: AttackTarget, batch: PgdBatch): Promise<PgdJob> {
    const { images, ...rest } = batch;
    return {
      format: JOB_FORMAT,
      software: this.software,
      model,
      target: { defence: target.defence?.text, eot: target.eot, seed: target.seed },
      batch: rest,
      images: await this.artifacts.putFloats(images),
    };
  }

  /**
   * A job's result as `read` makes it of the stored objects; when they have gone from the store (expired),
   * the job is removed and computed again, once.
   */
  private async result<R extends JobResult & AnyResult, T>(id: string, what: string, name: JobName, payload: () => Promise<AnyJob>, read: (r: R) => Promise<T>): Promise<T> {
    const r = await this.attempt<R>(id, what, name, payload);
    try {
      return await read(r);
    } catch (err) {
      if (!(err instanceof ArtifactMissing)) throw err;
      this.line(`queue: the results of job ${id} (${what}) are gone from the artifact store (expired?); computing it again`);
      await (await Job.fromId(this.queue, id))?.remove();
      this.counts.resubmitted++;
      return read(await this.attempt<R>(id, what, name, payload));
    }
  }

  /**
   * The result of a job, awaited once however many ask for it at once (two evaluations whose batches hold the
   * same images under the same pipeline are one job).
   */
  private attempt<R extends JobResult & AnyResult>(id: string, what: string, name: JobName, payload: () => Promise<AnyJob>): Promise<R> {
    const known = this.inflight.get(id);
    if (known) return known as Promise<R>;
    const p = this.attemptOnce<R>(id, what, name, payload);
    this.inflight.set(id, p);
    p.then(() => this.inflight.delete(id), () => this.inflight.delete(id));
    return p;
  }

  /** The result of a job: read back when done, else added (or retried when it had failed) and awaited. */
  private async attemptOnce<R extends JobResult & AnyResult>(id: string, what: string, name: JobName, payload: () => Promise<AnyJob>): Promise<R> {
    this.t0 ??= performance.now();
    const state = await this.queue.getJobState(id);
    if (state === 'completed') {
      const job = await Job.fromId<AnyJob, AnyResult>(this.queue, id);
      if (job?.returnvalue) {
        this.counts.reused++;
        return job.returnvalue as R;
      }
    }
    const add = async (): Promise<void> => {
      // Job records go with their objects: a TTL after they finish (BullMQ removes them lazily).
      const keep = this.ttl > 0 ? { age: this.ttl } : false;
      const options = { jobId: id, attempts: this.opts.attempts ?? 3, backoff: { type: 'fixed', delay: 500 }, removeOnComplete: keep, removeOnFail: keep };
      await this.queue.add(name, await payload(), options);
    };
    const done = new Promise<R>((resolve, reject) => this.pending.set(id, { what, submit: add, resolve: (r) => resolve(r as R), reject }));
    // Waiting, active or delayed: a job an earlier coordinator added, awaited as it is.
    if (state === 'failed') {
      this.line(`queue: retrying the failed job ${id} (${what})`);
      await (await Job.fromId(this.queue, id))?.retry('failed');
    } else if (state === 'unknown') {
      await add();
    }
    this.counts.submitted++;
    this.timer ??= setInterval(() => void this.poll(), POLL_MS);
    return done;
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    let finished = false;
    try {
      for (const [id, p] of [...this.pending]) {
        const state = await this.queue.getJobState(id);
        if (state === 'completed') {
          const job = await Job.fromId<AnyJob, AnyResult>(this.queue, id);
          if (!job?.returnvalue) continue;
          this.pending.delete(id);
          this.counts.completed++;
          const w = (this.workers[job.returnvalue.worker] ??= { jobs: 0, compute_seconds: 0 });
          w.jobs++;
          w.compute_seconds += job.returnvalue.seconds;
          this.t1 = performance.now();
          finished = true;
          p.resolve(job.returnvalue);
        } else if (state === 'failed') {
          const job = await Job.fromId(this.queue, id);
          this.pending.delete(id);
          this.counts.failed++;
          p.reject(new Error(`queue: job ${id} (${p.what}) failed after ${job?.attemptsMade ?? '?'} attempt(s): ${job?.failedReason ?? 'no reason recorded'}`));
        } else if (state === 'unknown') {
          this.line(`queue: job ${id} is gone from ${this.address.shown} (restarted without its data?); adding it again`);
          await p.submit();
          this.counts.resubmitted++;
        }
      }
      const every = (this.opts.progressSeconds ?? 15) * 1000;
      if ((every === 0 && finished) || (every > 0 && performance.now() - this.lastLine >= every)) await this.reportProgress();
    } catch (err) {
      // Redis away: ioredis reconnects; the next poll goes on.
      this.line(`queue: ${(err as Error).message}`);
    } finally {
      this.polling = false;
      if (this.pending.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    }
  }

  /** Say the progress line now (also at the end of a run, whatever the interval). */
  async reportProgress(): Promise<void> {
    this.lastLine = performance.now();
    const c = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
    const s = this.stats();
    const workers = Object.entries(s.workers)
      .map(([w, x]) => `${w} ${x.jobs} (${s.seconds > 0 ? (x.jobs / s.seconds).toFixed(2) : '0'}/s)`)
      .join(', ');
    this.line(
      `queue: ${s.completed + s.reused}/${s.completed + s.reused + this.pending.size} jobs done; depth ${c.waiting + c.delayed} waiting, ${c.active} active, ${c.failed} failed; ` +
        `${s.jobs_per_second.toFixed(2)} jobs/s; workers: ${workers || 'none yet'}`,
    );
  }

  private line(text: string): void {
    this.opts.onLine?.(text);
  }

  /** What the queue did so far (timings.json `queue`). */
  stats(): QueueStats {
    const seconds = this.t0 === undefined ? 0 : Math.max(0, (this.t1 || performance.now()) - this.t0) / 1000;
    const compute = Object.values(this.workers).reduce((a, w) => a + w.compute_seconds, 0);
    const r = (x: number) => roundTo(x, 3);
    return {
      queue: this.queue.name,
      ...this.counts,
      seconds: r(seconds),
      jobs_per_second: r(seconds > 0 ? this.counts.completed / seconds : 0),
      compute_seconds: r(compute),
      workers: Object.fromEntries(Object.entries(this.workers).map(([k, w]) => [k, { jobs: w.jobs, compute_seconds: r(w.compute_seconds) }])),
    };
  }

  /** Stop polling and disconnect (the jobs stay in Redis for a restarted study). */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const p of this.pending.values()) p.reject(new Error('queue: the coordinator was closed'));
    this.pending.clear();
    await closeWithin(this.queue);
    this.redis.disconnect();
  }
}
