/** Running the built CLI in a child process, and small datasets made from ../shared/data for CLI tests. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const CLI = path.resolve('dist/src/cli/main.js');
export const FACES14 = path.resolve('../shared/data/faces14');

/**
 * A `--config` over `--quick` for tests whose point is not the study's numbers (preparing, resuming, another
 * backbone): every section still runs, on 2 identities, with cheap pipelines and a few attack steps.
 */
export const TINY_STUDY = {
  identities: 2,
  train: { hidden: 32 },
  attack: { max_iter: 2 },
  defences: ['jpeg:20'],
  pipelines: { table6: 'median:3,jpeg:20', table7: 'jpeg:20', table8: 'median:3,jpeg:20', table9: 'jpeg:20', best: 'jpeg:20' },
  more_pipelines: [],
  curves: { eps: [0, 4], iterations: [1, 2], pipelines: ['none'] },
  search: { candidates: ['jpeg:20'], max_length: 1, min_clean_accuracy: 0 },
  adaptive: { pipelines: [] },
  robust: { suite: 'apgd:max_iter=1,square:nb_queries=2', square_queries: 2, min_attack: 'pgd:max_iter=1:eps_step=1' },
  figures: { attack_eps: [0, 4] },
};

/**
 * SIGKILL a CLI process and what it started, its descendants first (a study runs as the CLI's child, see
 * src/cli/respawn.ts, which outlives a killed parent by up to 0.1 s): when the process's exit is seen, all are gone.
 */
export function killTree(pid: number): void {
  let kids: number[] = [];
  try {
    kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // Not Linux, or gone already: the process alone.
  }
  for (const k of kids) killTree(k);
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function robustify(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

export interface CliProcess {
  child: ChildProcess;
  /** Its stderr so far. */
  err: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The CLI in a child process left running (progress lines on every update); `wrap`: a command to run it under. */
export function spawnCli(args: string[], wrap: string[] = [], opts: { cwd?: string; env?: Record<string, string> } = {}): CliProcess {
  const [cmd, ...pre] = [...wrap, process.execPath];
  const child = spawn(cmd, [...pre, CLI, ...args], { cwd: opts.cwd, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ROBUSTIFY_PROGRESS_SECONDS: '0', ...opts.env } });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, err: () => err, exit };
}

export async function tempDir(prefix: string): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), `robustify-${prefix}-`));
}

/** `identities` × `perIdentity` faces of faces14 copied into a new folder-per-identity dataset. */
export async function smallDataset(identities: number, perIdentity: number): Promise<string> {
  const dir = await tempDir('data');
  const names = (await fsp.readdir(FACES14)).sort().slice(0, identities);
  for (const name of names) {
    await fsp.mkdir(path.join(dir, name));
    const files = (await fsp.readdir(path.join(FACES14, name))).sort().slice(0, perIdentity);
    for (const f of files) await fsp.copyFile(path.join(FACES14, name, f), path.join(dir, name, f));
  }
  return dir;
}

/**
 * A small trained classifier for tests about what happens after training: 3 identities × 10 faces of faces14
 * (6 test faces), a narrow head, 3 epochs. `extra`: more `train` flags (e.g. a backbone).
 */
export async function trainSmall(work: string, extra: string[] = []): Promise<{ data: string; model: string }> {
  const data = await smallDataset(3, 10);
  const model = path.join(work, 'model');
  const tr = await robustify(['train', '--data', data, '--out', model, '--identities', '3', '--epochs', '3', '--hidden', '32', '--patience', '2', '--validation', '0.15', '--quiet', ...extra]);
  if (tr.code !== 0) throw new Error(`train failed: ${tr.stderr}`);
  return { data, model };
}

/**
 * The CLI run in this process (a fresh command tree per call, stdout/stderr captured): for suites of many
 * short cases, where a child process per case would cost its start-up each time. Calls must not overlap.
 */
export async function robustifyHere(args: string[]): Promise<CliResult> {
  const { createProgram } = await import('../../src/cli/program.js');
  const { runCli } = await import('../../src/cli/run.js');
  const out = { stdout: '', stderr: '' };
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write };
  const capture = (key: 'stdout' | 'stderr') =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      // Commands write strings; bytes are the test runner's own messages to its parent: let them through.
      if (typeof chunk !== 'string') return (writes[key] as (c: Uint8Array, ...r: unknown[]) => boolean).call(process[key], chunk, ...rest);
      out[key] += chunk;
      const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      cb?.();
      return true;
    }) as typeof process.stdout.write;
  const savedCode = process.exitCode;
  process.exitCode = undefined;
  process.stdout.write = capture('stdout');
  process.stderr.write = capture('stderr');
  try {
    const argv = ['node', 'robustify', ...args];
    await runCli(await createProgram(argv), argv);
  } finally {
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = savedCode;
  return { code, ...out };
}
