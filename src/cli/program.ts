/**
 * The `robustify` command tree: each subcommand lives in `commands/<name>.ts` and registers itself here. Built
 * by a function so that tests can run the CLI in-process, one fresh tree per invocation.
 */
import { Command } from 'commander';
import { registerAttack } from './commands/attack.js';
import { registerBmcnn } from './commands/bmcnn.js';
import { registerDefend } from './commands/defend.js';
import { registerDemo } from './commands/demo.js';
import { registerDenoise } from './commands/denoise.js';
import { registerEmbed } from './commands/embed.js';
import { registerEvaluate } from './commands/evaluate.js';
import { registerPrepare } from './commands/prepare.js';
import { registerRobustness } from './commands/robustness.js';
import { registerServe } from './commands/serve.js';
import { registerStudy } from './commands/study.js';
import { registerTrain } from './commands/train.js';

export function createProgram(): Command {
  const program = new Command('robustify')
    .description('Attack a pre-trained face recogniser and defend it with preprocessing pipelines.')
    .option('--backend <name>', 'tensor backend: wasm (default) or cpu')
    .option('--quiet', 'no progress output')
    .showHelpAfterError();

  registerDemo(program);
  registerStudy(program);
  registerTrain(program);
  registerEvaluate(program);
  registerAttack(program);
  registerRobustness(program);
  registerEmbed(program);
  registerDefend(program);
  registerPrepare(program);
  registerBmcnn(program);
  registerDenoise(program);
  registerServe(program);
  return program;
}
