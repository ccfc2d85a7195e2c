/**
 * `robustify demo [--out DIR] [--quick] [--seed N] [--backbone PATH|builtin]`: the zero-data demo (see src/demo/run.ts) — gallery
 * re-identification on face-api's sample photos, a PGD dodging attack, the defences; a table on stdout and
 * report.md, results.json and contact-sheet.png in DIR (default ./demo-out).
 */
import { Command } from 'commander';
import { adaptiveLine, DEMO_OUTPUT, formatTable, headline, runDemo, tableRows, writeDemo, REPORT_FILE } from '../../demo/run.js';
import { addBackboneOptions, backboneFromFlags, type BackboneFlags } from '../backbone-options.js';
import { labelledProgress, note } from '../progress.js';
import { claimOutput, globalOptions, intOption, numberOption, startEngine } from '../run.js';

interface DemoFlags extends BackboneFlags {
  out: string;
  quick?: boolean;
  seed: string;
  eps?: string;
  maxIter?: string;
}

export function registerDemo(program: Command): void {
  addBackboneOptions(program.command('demo'), "the face network whose descriptors form the gallery: 'builtin' (default), an ONNX file or a TF.js model.json")
    .description('offline demo: re-identify the faces of face-api\'s sample photos, attack them (PGD), defend them')
    .option('--out <dir>', 'where to write report.md, results.json and contact-sheet.png', 'demo-out')
    .option('--quick', 'few faces, iterations and defences (a smoke test)')
    .option('--seed <n>', 'seed for probe transforms and stochastic defences', '0')
    .option('--eps <eps>', 'PGD L∞ budget, 0–255 units (default 4)')
    .option('--max-iter <n>', 'PGD iterations (default 20; quick 6)')
    .action(async (flags: DemoFlags, cmd: Command) => {
      const { quiet } = globalOptions(cmd);
      const seed = intOption('--seed', flags.seed, 0, 2 ** 31 - 1);
      const eps = flags.eps === undefined ? undefined : numberOption('--eps', flags.eps, 0.01, 255);
      const maxIter = flags.maxIter === undefined ? undefined : intOption('--max-iter', flags.maxIter, 1, 10000);
      const backbone = await backboneFromFlags(flags);
      await claimOutput({ label: '--out', path: flags.out, type: 'dir', kind: DEMO_OUTPUT, existing: 'resume' }, quiet);
      await startEngine(cmd);
      const t0 = performance.now();
      const run = await runDemo({ quick: flags.quick, seed, eps, max_iter: maxIter, backbone }, { note: (text) => note(quiet, text), progress: labelledProgress(quiet) });
      const seconds = (performance.now() - t0) / 1000;
      run.timings.total = Number(seconds.toFixed(1));
      await writeDemo(flags.out, run);
      process.stdout.write(`${headline(run.results)}\n\n${formatTable(tableRows(run.results))}${adaptiveLine(run.results)}`);
      for (const s of run.results.skipped) process.stdout.write(`skipped ${s.pipeline}: ${s.reason}\n`);
      process.stdout.write(`\nwall time ${seconds.toFixed(1)} s; report: ${flags.out}/${REPORT_FILE}\n`);
    });
}
