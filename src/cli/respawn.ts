/**
 * The study under glibc's fixed mmap threshold. glibc's malloc raises its mmap threshold to the size of every
 * mmapped block freed (up to 32 MB), after which blocks of that size come from heaps that keep freed memory
 * resident. The study's phases free hundreds of MB at a time (worker threads' ORT sessions, image batches), so
 * its resident set climbed to the largest phase's plus what earlier phases left behind. With
 * MALLOC_MMAP_THRESHOLD_ set, blocks of 128 KB and more are mmapped and given back when freed. Measured on a
 * reduced study (attack.max_iter 10, search length 2, the bare robust row): peak 2.24 GB → 1.57 GB; BMCNN's
 * VJP at batch 32 left 341 MB resident after its workers ended, 220 MB with the setting; PGD's speed equal
 * within the runs' noise (±3 %).
 *
 * glibc reads the setting only at process start, so on Linux with glibc `robustify study` (the command whose
 * phases free GBs; the others run one phase each) runs itself once more as a child with it set. The parent
 * only relays: the signals it is sent to the child, the child's exit status back. The child ends when the
 * parent goes, so a killed `robustify` leaves nothing running. Set MALLOC_MMAP_THRESHOLD_ yourself (any value)
 * to run in one process.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

export const MALLOC_ENV = { MALLOC_MMAP_THRESHOLD_: String(128 * 1024) };

/** The subcommand of a `robustify` command line (`argv` as process.argv), after the global options. */
export function subcommand(argv: readonly string[]): string | undefined {
  for (let i = 2; i < argv.length; i++) {
    if (argv[i] === '--backend') i++;
    else if (!argv[i].startsWith('-')) return argv[i];
  }
  return undefined;
}

/** Whether the CLI should run again under MALLOC_ENV: a study, on Linux with glibc, the setting not made. */
export function needsRespawn(argv: readonly string[] = process.argv, env: NodeJS.ProcessEnv = process.env): boolean {
  if (subcommand(argv) !== 'study' || process.platform !== 'linux' || env.MALLOC_MMAP_THRESHOLD_ !== undefined) return false;
  try {
    return /\/libc\.so\.6$/m.test(readFileSync('/proc/self/maps', 'utf8'));
  } catch {
    return false;
  }
}

/**
 * A thread that ends this process within 0.1 s of its parent's end (its parent id changes), even while the main
 * thread is busy: a killed parent's child must not go on writing into what a rerun reads.
 */
function watchParent(): void {
  const code = `const { workerData: parent } = require('node:worker_threads');
setInterval(() => { if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL'); }, 100);`;
  new Worker(code, { eval: true, workerData: process.ppid }).unref();
}

const RELAYED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
/** Marks the child's environment. */
const CHILD = 'ROBUSTIFY_RESPAWNED';

/**
 * Run the CLI as a child under MALLOC_ENV when needsRespawn: resolves true in the parent once the child has
 * ended (this process then ends as it did), false where the CLI should run here (the child, or no glibc).
 */
export async function respawn(): Promise<boolean> {
  if (process.env[CHILD] !== undefined) {
    // The child: gone with the parent, whatever ended it. (Not passed on to what it starts.)
    delete process.env[CHILD];
    watchParent();
    return false;
  }
  if (!needsRespawn()) return false;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, ...MALLOC_ENV, [CHILD]: '1' },
  });
  // A terminal's Ctrl-C reaches both processes; a signal sent to this one alone is passed on.
  const relay = (signal: NodeJS.Signals) => child.kill(signal);
  for (const s of RELAYED) process.on(s, relay);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (c, s) => resolve([c, s]));
  });
  for (const s of RELAYED) process.off(s, relay);
  if (signal) process.kill(process.pid, signal);
  else process.exitCode = code ?? 1;
  return true;
}
