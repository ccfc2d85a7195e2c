/**
 * Progress on stderr for long work: a bar on a terminal, otherwise (logs, CI) a plain line at most every
 * ROBUSTIFY_PROGRESS_SECONDS (default 15 s; 0: every update); nothing with --quiet. Every terminal bar is
 * tracked until stopped, so the CLI can stop those a run left going (a bar's redraw timer keeps the process
 * alive).
 */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, info?: string): void;
  setTotal(total: number): void;
  stop(): void;
}

const running = new Set<Progress>();

/** Stop every bar still drawing (end of a command, an error, an interruption). */
export function stopAllProgress(): void {
  for (const bar of [...running]) bar.stop();
}

export function progress(label: string, total: number, quiet = false): Progress {
  if (quiet) return { update: () => undefined, setTotal: () => undefined, stop: () => undefined };
  if (!process.stderr.isTTY) return lineProgress(label, total);
  const bar = new cliProgress.SingleBar(
    { format: `${label.padEnd(12)} [{bar}] {value}/{total} {info} eta {eta_formatted}`, stream: process.stderr, hideCursor: true, etaBuffer: 20 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { info: '' });
  const p: Progress = {
    update: (done, info = '') => bar.update(done, { info }),
    setTotal: (t) => bar.setTotal(t),
    stop: () => {
      if (running.delete(p)) bar.stop();
    },
  };
  running.add(p);
  return p;
}

/**
 * Progress of labelled tasks run one after another: one bar per label, made on its first report, stopped when
 * it is done or when the next task starts (an early-stopped task never reaches its total).
 */
export function labelledProgress(quiet = false): (label: string, done: number, total: number) => void {
  const bars = new Map<string, Progress>();
  return (label, done, total) => {
    let bar = bars.get(label);
    if (!bar) {
      for (const other of bars.values()) other.stop();
      bars.set(label, (bar = progress(label, total, quiet)));
    }
    bar.update(Math.floor(done));
    if (done >= total) bar.stop();
  };
}

/** A one-line note on stderr (not part of a command's result on stdout). */
export function note(quiet: boolean | undefined, text: string): void {
  if (!quiet) process.stderr.write(`${text}\n`);
}

/** Milliseconds between off-terminal progress lines. */
export function progressInterval(): number {
  const s = Number(process.env.ROBUSTIFY_PROGRESS_SECONDS ?? 15);
  return Number.isFinite(s) && s >= 0 ? s * 1000 : 15000;
}

function lineProgress(label: string, total: number): Progress {
  const every = progressInterval();
  let last = performance.now();
  return {
    update: (done, info = '') => {
      const now = performance.now();
      if (now - last < every) return;
      last = now;
      process.stderr.write(`${label}: ${done}/${total} ${info}\n`);
    },
    setTotal: (t) => {
      total = t;
    },
    stop: () => undefined,
  };
}
