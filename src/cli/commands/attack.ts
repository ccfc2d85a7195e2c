/**
 * `robustify attack --model MODEL_DIR --data DIR --out ADV_DIR [--attack pgd|apgd|square|…] [--eps 4]
 * [--<parameter> V]… [--param k=v]… [--only-correct] [--defence P [--eot K]] [--queue redis://…]`: adversarial
 * examples of a dataset split, stored losslessly with previews and an index; an interrupted run resumes where it
 * stopped. The attack's flags come from the attack registry (see ../attack-options.ts). Each batch is one
 * chunk (attacks/chunk.ts), computed here or, with --queue, as a job on the workers (a window of them in
 * flight, written in order), so both give the same ADV_DIR.
 */
import { Command, Option } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { ADV_OUTPUT, AdversarialSetConflict, AdversarialSetWriter } from '../../attacks/adversarial-set.js';
import { median, perSampleLinf } from '../../attacks/attack.js';
import { readBatches, type Skipped } from '../../data/index.js';
import { buildPipeline, parsePipeline } from '../../defences/index.js';
import { predictLabels } from '../../models/classifier.js';
import type { QueueCoordinator } from '../../queue/coordinator.js';
import { callsPerChunk, localChunks } from '../../attacks/chunk.js';
import { targetClassifier } from '../../study/steps.js';
import { addDataOptions, loadOptions, openSelection, pickSplit, splitOptions, SPLITS, type DataFlags } from '../data-options.js';
import { Warnings } from '../decode-options.js';
import { openModel } from '../model.js';
import { loadFor } from '../../models/backbones.js';
import { addBackboneOptions, backboneFromFlags, type BackboneFlags } from '../backbone-options.js';
import { note, progress } from '../progress.js';
import { addQueueOptions, checkQueueFlags, chunkQueue, QUEUE_WINDOW, type QueueFlags } from '../queue-options.js';
import { addAttackOptions, attackFromFlags, type AttackFlags as AttackChoice } from '../attack-options.js';
import { claimOutput, globalOptions, intOption, setInterruptHint, startEngine, UsageError } from '../run.js';

interface AttackFlags extends DataFlags, AttackChoice, BackboneFlags, QueueFlags {
  model: string;
  out: string;
  split: string;
  onlyCorrect?: boolean;
  defence?: string;
  eot?: string;
  force?: boolean;
}

export function registerAttack(program: Command): void {
  const cmd = addBackboneOptions(addDataOptions(program.command('attack').description('craft adversarial examples against a trained classifier')), "where the model's backbone file is now, when it moved (default: as recorded in MODEL_DIR)")
    .requiredOption('--model <model_dir>', 'a classifier saved by `robustify train`, or a network file (ONNX / TF.js model.json) whose recogniser spec says its output is logits')
    .requiredOption('--out <adv_dir>', 'where to store the adversarial set')
    .addOption(new Option('--split <split>', 'which part of the data').choices([...SPLITS]).default('test'));
  addAttackOptions(cmd)
    .option('--only-correct', 'first drop samples the model misclassifies (the paper\'s protocol)')
    .option('--defence <pipeline>', 'attack the defended model (pipeline then model; BPDA through non-differentiable stages)')
    .option('--eot <k>', 'with --defence: gradients averaged over K draws of stochastic defences (EOT, BPDA through non-differentiable stages)')
    .option('--force', 'replace an existing ADV_DIR of a different run (only an adversarial set robustify wrote)');
  addQueueOptions(cmd, 'the attack batches')
    .action(async (flags: AttackFlags, cmd: Command) => {
      const { quiet } = globalOptions(cmd);
      const attack = attackFromFlags(flags);
      if (attack.params.targeted === true) throw new UsageError('--targeted: `attack` moves away from the true labels; for targeted (impersonation) attacks use `robustify robustness --threat impersonation`');
      const params = { batch_size: Number(attack.params.batch_size ?? 32), seed: Number(attack.params.seed ?? 0), max_iter: Number(attack.params.max_iter ?? attack.params.nb_queries ?? 1) };
      if (flags.eot !== undefined && !flags.defence) throw new UsageError('--eot: needs --defence (draws of the defences)');
      const eot = flags.eot === undefined ? undefined : intOption('--eot', flags.eot, 1, 10000);
      await checkQueueFlags(flags);
      const warnings = new Warnings();
      const load = loadOptions(flags, warnings);
      const split = splitOptions(flags);
      // Parsed (and so checked) before any work; built once the engine runs (bmcnn loads tensors).
      const stages = flags.defence ? parsePipeline(flags.defence) : undefined;
      // The same run's set is resumed; another run's is replaced only with --force.
      await claimOutput(
        {
          label: '--out',
          path: flags.out,
          type: 'dir',
          kind: ADV_OUTPUT,
          existing: 'resume',
          replace: flags.force,
          inputs: [{ label: '--model', path: flags.model }, { label: '--data', path: flags.data }, { label: '--prepare-cache', path: flags.prepareCache }],
        },
        quiet,
      );
      await startEngine(cmd);
      const pipeline = stages ? await buildPipeline(stages) : undefined;
      const opened = await openModel(flags.model, await backboneFromFlags(flags));
      const { model, classifier, close } = opened;
      let queue: QueueCoordinator | undefined;
      try {
        const target = { model: classifier, defence: pipeline ? { text: pipeline.toString(), pipeline } : undefined, eot, seed: params.seed };
        const remote = await chunkQueue(flags, opened, { defence: target.defence?.text, eot, seed: params.seed }, quiet, 'attack: batches');
        queue = remote?.queue;
        const runner = remote?.runner ?? localChunks(targetClassifier(target, 0));
        const selection = await openSelection(flags, { identities: model.identities }, quiet);
        const samples = pickSplit(selection.samples, flags.split, split);
        const backboneLoad = { ...load, ...loadFor(model.backbone) };
        const writer = await AdversarialSetWriter.open(
          flags.out,
          {
            attack: { name: attack.name, ...attack.params, defence: pipeline ? pipeline.toString() : null, ...(eot ? { eot } : {}) },
            model: flags.model,
            data: flags.data,
            split: flags.split,
            only_correct: Boolean(flags.onlyCorrect),
            identities: model.identities,
            shape: [model.meta.input_size, model.meta.input_size, 3],
          },
          flags.force,
        ).catch((err: Error) => {
          throw err instanceof AdversarialSetConflict ? new UsageError(`${err.message.replace(/^adversarial set: /, '--out: ')} (use --force to replace it)`) : err;
        });
        for (const line of writer.notes) note(quiet, `attack: ${line}`);
        setInterruptHint(`the adversarial set '${flags.out}' is resumable: run the same command again`);
        const done = writer.done();
        const skipped: Skipped[] = [];
        const t0 = performance.now();
        let dropped = 0;
        let attacked = 0;
        const queries: number[] = [];
        const bar = progress('attack', samples.length, quiet);
        // Each batch's write, in batch order; with a queue up to QUEUE_WINDOW are computing at once.
        const inFlight: Promise<() => Promise<void>>[] = [];
        const writeNext = async () => (await inFlight.shift()!)();
        let nextBatch = 0;
        try {
          for await (const b of readBatches(samples, params.batch_size, backboneLoad, skipped)) {
            const batchIndex = nextBatch++;
            // The clean predictions of a target made for this batch, as the attack's own (attackChunk).
            const clean = await predictLabels(targetClassifier(target, batchIndex * callsPerChunk(attack)), b.x);
            const keep = b.samples.map((s, i) => !(flags.onlyCorrect && clean[i] !== s.label));
            dropped += keep.filter((k) => !k).length;
            const rows = b.samples.map((_, i) => i).filter((i) => keep[i] && !done.has(b.samples[i].file));
            const size = b.samples.length;
            if (rows.length === 0) {
              inFlight.push(Promise.resolve(async () => bar.update((attacked += size))));
            } else {
              const x = tf.tidy(() => tf.gather(b.x, rows) as tf.Tensor4D);
              const batch = { index: batchIndex, images: (await x.data()) as Float32Array, shape: x.shape, labels: rows.map((i) => b.samples[i].label) };
              x.dispose();
              const onProgress = (d: number, t: number) => bar.update(Math.floor(attacked + size * (d / t)), `step ${Math.round((d / t) * params.max_iter)}/${params.max_iter}`);
              const result = runner.run(attack, batch, onProgress);
              const write = result.then((r) => async () => {
                queries.push(...r.queries);
                const items = rows.map((i, k) => ({ source: b.samples[i].file, identity: b.samples[i].identity, label: b.samples[i].label, clean_pred: clean[i], adv_pred: r.predictions[k] }));
                await writeBatch(writer, batch.images, r.adversarial, batch.shape, items);
                bar.update((attacked += size));
              });
              // Awaited in order below; a failure is seen there, not as an unhandled rejection here.
              write.catch(() => undefined);
              inFlight.push(write);
            }
            while (inFlight.length >= (runner.parallel ? QUEUE_WINDOW : 1)) await writeNext();
          }
          while (inFlight.length > 0) await writeNext();
        } catch (err) {
          await writer.abandon();
          throw err;
        }
        if (queue) await queue.reportProgress();
        bar.stop();
        for (const s of skipped) process.stderr.write(`skipped ${s.file}: ${s.reason}\n`);
        warnings.print();
        const index = await writer.finish(dropped);
        const correct = index.items.filter((i) => i.adv_pred === i.label).length;
        // Score-based attacks: the model queries of this run (resumed batches are not counted).
        if (queries.length > 0) process.stdout.write(`${attack.name}: model queries per image median ${median(queries)}, mean ${(queries.reduce((a, b) => a + b, 0) / queries.length).toFixed(1)}, max ${Math.max(...queries)}\n`);
        const maxLinf = Math.max(0, ...index.items.map((i) => i.linf));
        process.stdout.write(
          `${attack.name} on ${index.items.length} images (${dropped} misclassified dropped): adversarial accuracy ` +
            `${(correct / Math.max(1, index.items.length)).toFixed(4)}, max |δ|∞ ${maxLinf.toFixed(4)}; saved ${flags.out}\n`,
        );
        note(quiet, `attack wall time ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      } finally {
        await queue?.close();
        await close();
        pipeline?.dispose();
      }
    });
}

/** Store one attacked batch: its images, their predictions and distances to the clean ones. */
async function writeBatch(
  writer: AdversarialSetWriter,
  images: Float32Array,
  adversarial: Float32Array,
  shape: [number, number, number, number],
  items: { source: string; identity: string; label: number; clean_pred: number; adv_pred: number }[],
): Promise<void> {
  const x = tf.tensor4d(images, shape);
  const adv = tf.tensor4d(adversarial, shape);
  try {
    const li = await perSampleLinf(adv, x);
    const l2 = tf.tidy(() => tf.sqrt(tf.sum(tf.square(tf.sub(adv, x)), [1, 2, 3])));
    const l2d = await l2.data();
    l2.dispose();
    await writer.add(
      adv,
      items.map((it, k) => ({ ...it, linf: li[k], l2: l2d[k] })),
    );
  } finally {
    tf.dispose([x, adv]);
  }
}
