#!/usr/bin/env node
/**
 * The `robustify` command. Each subcommand lives in `commands/<name>.ts` and registers itself here.
 */
import { Command } from 'commander';
import { runCli } from './run.js';

const program = new Command('robustify')
  .description('Attack a pre-trained face recogniser and defend it with preprocessing pipelines.')
  .option('--backend <name>', 'tensor backend: wasm (default) or cpu')
  .option('--quiet', 'no progress output')
  .showHelpAfterError();


await runCli(program, process.argv);
