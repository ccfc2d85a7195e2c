/**
 * `robustify study --data DIR --out REPORT_DIR [--config study.json] [--quick]`: the paper's experiments end to
 * end (see src/study/run.ts), cached in REPORT_DIR/cache so a killed run resumes (said in its first line), then
 * report.html, report.md, results.json, the tables and figures in REPORT_DIR. REPORT_DIR must be new, empty or an
 * earlier study's; nothing else is ever written into.
 */
import { Command, CommanderError } from 'commander';
import { promises as fsp } from 'node:fs';
import { STUDY_CACHE } from '../../study/cache.js';
import { clearStale } from '../../util/fs.js';
import path from 'node:path';
import { describeEngine } from '../../engine/backend.js';
import { configHelp, loadStudyConfig, studyFileSchema } from '../../study/config.js';
import { writeStudy, STUDY_FILES, STUDY_OUTPUT } from '../../study/output.js';
import { runStudy } from '../../study/run.js';
import { addBackboneOptions, backboneFromFlags, type BackboneFlags } from '../backbone-options.js';
import { addDataOptions, loadOptions, openSelection, type SourceFlags } from '../data-options.js';
import { Warnings } from '../decode-options.js';
import { labelledProgress, note } from '../progress.js';
import { addQueueOptions, checkQueueFlags, openCoordinator, type QueueFlags } from '../queue-options.js';
import { claimOutput, globalOptions, setInterruptHint, startEngine } from '../run.js';

interface StudyFlags extends SourceFlags, BackboneFlags, QueueFlags {
  out: string;
  config?: string;
  quick?: boolean;
  cache?: string;
}

export function registerStudy(program: Command): void {
  const cmd = addBackboneOptions(addDataOptions(program.command('study').description("regenerate the paper's tables and figures, robustness curves and a pipeline search"), true, false))
    .requiredOption('--out <report_dir>', 'where to write report.html, report.md, results.json, tables/ and figures/')
    .option('--config <file>', 'study.json: any part of the configuration (defaults: the paper\'s protocol)')
    .option('--quick', 'few identities, iterations and pipelines (a smoke test; minutes)')
    .option('--cache <dir>', 'where finished steps are kept (default REPORT_DIR/cache)')
    .option('--config-schema', 'print the JSON Schema of study.json (for editors and validators) and exit')
    .on('option:config-schema', () => {
      process.stdout.write(`${JSON.stringify(studyFileSchema(), null, 2)}\n`);
      // Answered like --help: before the required options are checked, exit 0.
      throw new CommanderError(0, 'robustify.configSchema', '(config schema printed)');
    })
    .addHelpText('after', `\nstudy.json keys (--config; every key optional):\n  ${configHelp().join('\n  ')}`);
  addQueueOptions(cmd, "the study's attack batches (PGD, BPDA, EOT) and pipeline evaluations")
    .action(async (flags: StudyFlags, cmd: Command) => {
      const { quiet } = globalOptions(cmd);
      const config = await loadStudyConfig(flags.config, Boolean(flags.quick));
      await checkQueueFlags(flags);
      const warnings = new Warnings();
      const load = loadOptions(flags, warnings);
      const inputs = [{ label: '--data', path: flags.data }, { label: '--config', path: flags.config }, { label: '--prepare-cache', path: flags.prepareCache }];
      await claimOutput({ label: '--out', path: flags.out, type: 'dir', kind: STUDY_OUTPUT, existing: 'resume', inputs }, quiet);
      const cacheDir = flags.cache ?? path.join(flags.out, 'cache');
      if (flags.cache) await claimOutput({ label: '--cache', path: cacheDir, type: 'dir', kind: STUDY_CACHE, existing: 'resume', inputs }, quiet);
      for (const line of await clearStale(cacheDir)) note(quiet, `study: ${line}`);
      const cached = (await fsp.readdir(cacheDir).catch(() => [] as string[])).length;
      if (cached > 0) note(quiet, `study: resuming from the cache '${cacheDir}' (${cached} cached entries are reused)`);
      setInterruptHint(`finished steps are cached in '${cacheDir}': run the same command again to resume`);
      const engine = await startEngine(cmd);
      note(quiet, `engine: ${describeEngine(engine)}`);
      const selection = await openSelection(flags, { k: config.identities }, quiet);
      const t0 = performance.now();
      const progress = labelledProgress(quiet);
      const backbone = await backboneFromFlags(flags);
      const queue = flags.queue ? await openCoordinator({ ...flags, queue: flags.queue }, quiet, 'study: attack batches and pipeline evaluations') : undefined;
      const run = await runStudy({
        selection,
        load,
        config,
        cacheDir,
        backbone,
        remote: queue && ((model) => queue.runner(model)),
        hooks: {
          onStep: (step, what) => note(quiet, `study: ${step} — ${what}`),
          onProgress: progress,
          onTrain: (p) => progress(p.phase === 'features' ? 'features' : 'epochs', p.done, p.total),
        },
      }).finally(() => queue?.close());
      run.timings.total = Number(((performance.now() - t0) / 1000).toFixed(1));
      if (queue) run.queue = queue.stats();
      await writeStudy(flags.out, run);
      warnings.print();
      const r = run.results;
      const line = (id: string) => r.tables.find((t) => t.id === id);
      process.stdout.write(
        `clean accuracy ${line('table2')!.accuracy.toFixed(4)} on ${r.data.test_images} test images; PGD eps ${r.attack.params.eps}: ` +
          `${r.attack.accuracy.toFixed(4)} on ${r.data.attacked_images}; best searched pipeline ${r.search.best}\n` +
          `wall time ${run.timings.total} s (${run.cache.reused} cached steps reused, ${run.cache.computed} computed); report: ${path.join(flags.out, STUDY_FILES.html)}\n`,
      );
    });
}
