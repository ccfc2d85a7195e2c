/**
 * Shared CLI plumbing: every user-facing failure becomes one clear line on stderr and a non-zero exit.
 */
import { Command, CommanderError } from 'commander';
import { initEngine, parseBackend, type EngineInfo } from '../engine/backend.js';

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
  return initEngine({ backend: backend ? parseBackend(backend) : undefined, strict: backend !== undefined });
}

export async function runCli(program: Command, argv: string[]): Promise<void> {
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`robustify: ${msg}\n`);
    if (process.env.ROBUSTIFY_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
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
