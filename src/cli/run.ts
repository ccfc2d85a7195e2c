/**
 * Shared CLI plumbing: every user-facing failure becomes one clear line on stderr and a non-zero exit (2: the
 * command line asks for something robustify will not do; 1: the work failed); an interruption (SIGINT,
 * SIGTERM) removes the temporaries in flight, stops the progress bars and says what is left.
 */
import { Command, CommanderError } from 'commander';
import type { EngineInfo } from '../engine/backend.js';
import { stopWorkers } from '../engine/pool/quit.js';
import { runInterruptCleanups } from '../util/interrupt.js';
import { hasFormat } from '../util/fs.js';
import { checkOutput, OutputRefused, type OutputInput, type OutputSpec, type OutputState } from '../util/output.js';
import { cliMessage } from './flags.js';
import { note, stopAllProgress } from './progress.js';

/** An error whose message is already fit for the user (names the file or parameter). */
export class UsageError extends Error {}

export interface GlobalOptions {
  backend?: string;
  quiet?: boolean;
}

export function globalOptions(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

export async function startEngine(cmd: Command): Promise<EngineInfo> {
  const { backend } = globalOptions(cmd);
  // Loaded here, not at start: commands refused before any work never load TF.js.
  const { initEngine, parseBackend } = await import('../engine/backend.js');
  return initEngine({ backend: backend ? parseBackend(backend) : undefined, strict: backend !== undefined });
}

/** Check an output before any work and state (first) what was cleared of killed runs; see util/output.ts. */
export async function claimOutput(spec: OutputSpec, quiet?: boolean): Promise<OutputState> {
  const state = await checkOutput(spec);
  for (const line of state.notes) note(quiet, `robustify: ${line}`);
  return state;
}

/**
 * A `--json FILE` report, checked before any work (a report that cannot be written would be lost at the end):
 * a new file, or one the same command wrote (its `format`), never anything else or an input.
 */
export async function claimJsonReport(file: string, format: string, command: string, inputs: OutputInput[], quiet?: boolean): Promise<void> {
  const kind = { what: `a report written by robustify ${command}`, owns: (f: string) => hasFormat(f, format) };
  await claimOutput({ label: '--json', path: file, type: 'file', kind, existing: 'resume', inputs }, quiet);
}

/** What the user is told when the process is interrupted, set by a command whose output can be resumed. */
let interruptHint = '';
export function setInterruptHint(text: string): void {
  interruptHint = text;
}

let interrupted = false;

/**
 * Temporaries removed, the user told, then the exit once the worker threads have ended between two of their
 * native calls (engine/pool/quit.ts: exiting during an onnxruntime run aborts the process). What the work does
 * meanwhile (workers gone under it) is not reported. A second signal exits at once.
 */
function onSignal(signal: NodeJS.Signals): void {
  const code = signal === 'SIGINT' ? 130 : 143;
  runInterruptCleanups();
  if (interrupted) process.exit(code);
  interrupted = true;
  process.exitCode = code;
  stopAllProgress();
  process.stderr.write(`\nrobustify: interrupted (${signal})${interruptHint ? `; ${interruptHint}` : '; nothing half-written was left'}\n`);
  void stopWorkers().finally(() => {
    // Anything the work registered while the workers were stopping.
    runInterruptCleanups();
    process.exit(code);
  });
}

/** `--queue URL` checked by the queue's own parser (passed in: run.ts loads nothing heavy), as a usage error. */
export function queueUrlFlag(parse: (url: string) => unknown, url: string): void {
  try {
    parse(url);
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^queue:/, '--queue:'));
  }
}

/**
 * For a command that stops itself cleanly on a signal (serve drains its in-flight requests): the default
 * handler, which exits at once, is replaced by `stop` for the first SIGINT/SIGTERM; a second one kills.
 */
export function takeOverSignals(stop: (signal: NodeJS.Signals) => void): void {
  for (const s of ['SIGINT', 'SIGTERM'] as const) {
    process.off(s, onSignal);
    process.once(s, stop);
  }
}

/** Every command (and subcommand) throws instead of exiting, and reports an unknown option before anything else. */
function configure(cmd: Command): void {
  cmd.exitOverride();
  for (const sub of cmd.commands) {
    // Commander checks required options before unknown ones; a mistyped option would hide behind "required option".
    if (sub.commands.length === 0) {
      cmd.hook('preSubcommand', (_parent, actionCommand) => {
        if (actionCommand !== sub) return;
        const { unknown } = sub.parseOptions(_parent.args.slice(1));
        // `--help` is not an option commander parses: it is answered after this hook.
        const first = unknown.find((a) => a.startsWith('-') && a !== '--help' && a !== '-h');
        // Commander's own message (with its "did you mean" suggestion); not in its typings.
        if (first) (sub as unknown as { unknownOption(flag: string): never }).unknownOption(first);
      });
    }
    configure(sub);
  }
}

export async function runCli(program: Command, argv: string[]): Promise<void> {
  configure(program);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (interrupted) return;
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    process.stderr.write(`robustify: ${cliMessage(err)}\n`);
    if (process.env.ROBUSTIFY_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exitCode = err instanceof UsageError || err instanceof OutputRefused ? 2 : 1;
  } finally {
    // A bar that never reached its total (early stopping, an error) would keep the process alive.
    stopAllProgress();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Parse a whole number option with bounds; the message names the option. */
export function intOption(name: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${name}: expected a whole number in [${min}, ${max}], got '${value}'`);
  }
  return n;
}

export function numberOption(name: string, value: string, min = -Infinity, max = Infinity): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`${name}: expected a number in [${min}, ${max}], got '${value}'`);
  }
  return n;
}
