/**
 * `robustify study --data DIR --out REPORT_DIR [--config study.json] [--quick]`: the paper's experiments end to
 * end (see src/study/run.ts), cached in REPORT_DIR/cache so a killed run resumes, then report.html, report.md,
 * results.json, the tables and figures in REPORT_DIR.
 */
import { Command } from 'commander';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { describeEngine } from '../../engine/backend.js';
import { loadStudyConfig } from '../../study/config.js';
import { writeStudy, STUDY_FILES } from '../../study/output.js';
import { runStudy } from '../../study/run.js';
import { addDataOptions, loadOptions, openSelection, type SourceFlags } from '../data-options.js';
import { Warnings } from '../decode-options.js';
import { labelledProgress, note } from '../progress.js';
import { globalOptions, startEngine, UsageError } from '../run.js';

interface StudyFlags extends SourceFlags {
  out: string;
  config?: string;
  quick?: boolean;
  cache?: string;
  force?: boolean;
}

export function registerStudy(program: Command): void {
  addDataOptions(program.command('study').description("regenerate the paper's tables and figures, robustness curves and a pipeline search"), true, false)
    .requiredOption('--out <report_dir>', 'where to write report.html, report.md, results.json, tables/ and figures/')
    .option('--config <file>', 'study.json: any part of the configuration (defaults: the paper\'s protocol)')
    .option('--quick', 'few identities, iterations and pipelines (a smoke test; minutes)')
    .option('--cache <dir>', 'where finished steps are kept (default REPORT_DIR/cache)')
    .option('--force', 'write into an existing REPORT_DIR that is not a study report')
    .action(async (flags: StudyFlags, cmd: Command) => {
      const { quiet } = globalOptions(cmd);
      const config = await loadStudyConfig(flags.config, Boolean(flags.quick));
      const warnings = new Warnings();
      const load = loadOptions(flags, warnings);
      await checkReportDir(flags.out, flags.force);
      const engine = await startEngine(cmd);
      note(quiet, `engine: ${describeEngine(engine)}`);
      const selection = await openSelection(flags, { k: config.identities }, quiet);
      const t0 = performance.now();
      const progress = labelledProgress(quiet);
      const run = await runStudy({
        selection,
        load,
        config,
        cacheDir: flags.cache ?? path.join(flags.out, 'cache'),
        hooks: {
          onStep: (step, what) => note(quiet, `study: ${step} — ${what}`),
          onProgress: progress,
          onTrain: (p) => progress(p.phase === 'features' ? 'features' : 'epochs', p.done, p.total),
        },
      });
      run.timings.total = Number(((performance.now() - t0) / 1000).toFixed(1));
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

/** REPORT_DIR must be new, empty, or an earlier study's (to resume or refresh it). */
async function checkReportDir(dir: string, force?: boolean): Promise<void> {
  const entries: string[] = await fsp.readdir(dir).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? [] : Promise.reject(e)));
  if (entries.length === 0 || force) return;
  if (entries.includes(STUDY_FILES.results) || entries.includes('cache')) return;
  throw new UsageError(`--out: '${dir}' is not empty and holds no study (use --force to write into it)`);
}
