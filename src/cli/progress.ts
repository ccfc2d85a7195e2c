/**
 * Progress on stderr for long work: a bar on a terminal, otherwise (logs, CI) a plain line at most every
 * 15 s; nothing with --quiet.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, info?: string): void;
  setTotal(total: number): void;
  stop(): void;
}

export function progress(label: string, total: number, quiet = false): Progress {
  if (quiet) return { update: () => undefined, setTotal: () => undefined, stop: () => undefined };
  if (!process.stderr.isTTY) return lineProgress(label, total);
  const bar = new cliProgress.SingleBar(
    { format: `${label.padEnd(12)} [{bar}] {value}/{total} {info} eta {eta_formatted}`, stream: process.stderr, hideCursor: true, etaBuffer: 20 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { info: '' });
  return {
    update: (done, info = '') => bar.update(done, { info }),
    setTotal: (t) => bar.setTotal(t),
    stop: () => bar.stop(),
  };
}

/** Progress of several labelled tasks: one bar per label, made on its first report, stopped when it is done. */
export function labelledProgress(quiet = false): (label: string, done: number, total: number) => void {
  const bars = new Map<string, Progress>();
  return (label, done, total) => {
    let bar = bars.get(label);
    if (!bar) bars.set(label, (bar = progress(label, total, quiet)));
    bar.update(Math.floor(done));
    if (done >= total) bar.stop();
  };
}

/** A one-line note on stderr (not part of a command's result on stdout). */
export function note(quiet: boolean | undefined, text: string): void {
  if (!quiet) process.stderr.write(`${text}\n`);
}

function lineProgress(label: string, total: number): Progress {
  let last = performance.now();
  return {
    update: (done, info = '') => {
      const now = performance.now();
      if (now - last < 15000) return;
      last = now;
      process.stderr.write(`${label}: ${done}/${total} ${info}\n`);
    },
    setTotal: (t) => {
      total = t;
    },
    stop: () => undefined,
  };
}
