/**
 * The `robustify` command tree: each subcommand lives in `commands/<name>.ts` and registers itself here. Built
 * by a function so that tests can run the CLI in-process, one fresh tree per invocation. Only the subcommand a
 * command line names is imported (its modules and what they load cost most of a start); `--version` alone
 * imports none; without a subcommand otherwise (`--help`, a mistyped name) every one is, so the listing and
 * suggestions are complete.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';

type Register = (program: Command) => void;

/** In the order `--help` lists them. */
const COMMANDS: Record<string, () => Promise<Register>> = {
  demo: async () => (await import('./commands/demo.js')).registerDemo,
  study: async () => (await import('./commands/study.js')).registerStudy,
  train: async () => (await import('./commands/train.js')).registerTrain,
  evaluate: async () => (await import('./commands/evaluate.js')).registerEvaluate,
  attack: async () => (await import('./commands/attack.js')).registerAttack,
  robustness: async () => (await import('./commands/robustness.js')).registerRobustness,
  embed: async () => (await import('./commands/embed.js')).registerEmbed,
  defend: async () => (await import('./commands/defend.js')).registerDefend,
  prepare: async () => (await import('./commands/prepare.js')).registerPrepare,
  bmcnn: async () => (await import('./commands/bmcnn.js')).registerBmcnn,
  denoise: async () => (await import('./commands/denoise.js')).registerDenoise,
  serve: async () => (await import('./commands/serve.js')).registerServe,
  worker: async () => (await import('./commands/worker.js')).registerWorker,
};

// dist/src/cli/program.js → the package's package.json.
const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

/** The subcommands to import for `argv` (node, script, …): the one named past the global options (`help NAME`: NAME). */
export function commandsFor(argv: readonly string[]): string[] {
  const words = argv.slice(2);
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w === '--backend') i++;
    else if (w === '-V' || w === '--version') return [];
    else if (!w.startsWith('-')) {
      const name = w === 'help' ? words[i + 1] : w;
      if (name !== undefined && name in COMMANDS) return [name];
      break;
    }
  }
  return Object.keys(COMMANDS);
}

export async function createProgram(argv: readonly string[]): Promise<Command> {
  const program = new Command('robustify')
    .version(pkg.version, '-V, --version', 'print the version and exit')
    .description('Attack a pre-trained face recogniser and defend it with preprocessing pipelines.')
    .option('--backend <name>', 'tensor backend: wasm (default) or cpu')
    .option('--quiet', 'no progress output')
    .showHelpAfterError();
  for (const register of await Promise.all(commandsFor(argv).map((name) => COMMANDS[name]()))) register(program);
  return program;
}
