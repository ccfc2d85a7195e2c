/**
 * What every image-decoding command shares: the pixel budget (`--max-pixels`, checked from each header before
 * decoding) and the warnings for inputs that were accepted but changed.
 */
import { Command, Option } from 'commander';
import { DEFAULT_MAX_PIXELS } from '../image/budget.js';
import { intOption } from './run.js';

export function addMaxPixelsOption(cmd: Command): Command {
  return cmd.addOption(
    new Option('--max-pixels <n>', 'refuse images with more pixels than this, from the header, before decoding').default(String(DEFAULT_MAX_PIXELS)),
  );
}

export function parseMaxPixels(value: string): number {
  return intOption('--max-pixels', value, 1, Number.MAX_SAFE_INTEGER);
}

/** Warnings collected over a run (each once), printed on stderr at the end and kept for JSON outputs. */
export class Warnings {
  readonly list: string[] = [];
  private readonly seen = new Set<string>();

  /** Bound, so it can be passed as a callback. */
  readonly add = (message: string): void => {
    if (this.seen.has(message)) return;
    this.seen.add(message);
    this.list.push(message);
  };

  print(): void {
    for (const w of this.list) process.stderr.write(`warning: ${w}\n`);
  }
}
