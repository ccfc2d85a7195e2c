/**
 * The full study on faces14 from an empty cache, as a user runs it (`robustify study`, a child process of the
 * built CLI): wall time, each step's seconds (its timings.json), peak RSS (the child's VmHWM, worker threads
 * included) and the headline results. `ROBUSTIFY_BENCH_STUDY_ROBUST` picks the robust section's pipelines:
 * `bare` (default: the bare model's row), `all` (the study's own list) or `0` (skipped). The defended rows are
 * left out by default because Square's 5000 queries and EOT's draws through BMCNN make them hours on 2 cores
 * (DEVELOPERS.md, "The study's cost").
 * Run alone: `node dist/bench/study.js`. The temp folder is removed afterwards.
 */
import { spawn } from 'node:child_process';
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(HERE, '../src/cli/main.js');
const FACES14 = path.join(path.resolve(process.env.ROBUSTIFY_SHARED ?? path.resolve(HERE, '../../../shared')), 'data/faces14');

/** The robust section's pipelines for a `ROBUSTIFY_BENCH_STUDY_ROBUST` value (undefined: the study's own list). */
function robustPipelines(v: string | undefined): string[] | undefined {
  if (v === 'all') return undefined;
  if (v === undefined || v === '' || v === 'bare') return ['none'];
  if (v === '0') return [];
  throw new Error(`ROBUSTIFY_BENCH_STUDY_ROBUST: expected all, bare or 0, got '${v}'`);
}

/** A running process's resident set in MB (Linux's VmRSS, or VmHWM: its peak), or undefined once it has gone. */
function rss(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** A running process's CPU seconds so far, all its threads (utime + stime of /proc/PID/stat, USER_HZ 100). */
function cpuSeconds(pid: number): number | undefined {
  try {
    // Fields after the parenthesised command name, which may itself hold spaces.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** The process doing the work: the CLI's child where it runs itself again (src/cli/respawn.ts), else `pid`. */
function workingPid(pid: number): number {
  try {
    const [child] = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return child ? Number(child) : pid;
  } catch {
    return pid;
  }
}

const round = (v: number, d = 1): number => Math.round(v * 10 ** d) / 10 ** d;

export async function benchStudy(): Promise<object[]> {
  if (!existsSync(FACES14)) throw new Error(`study bench: no faces14 at ${FACES14} (set ROBUSTIFY_SHARED)`);
  const pipelines = robustPipelines(process.env.ROBUSTIFY_BENCH_STUDY_ROBUST);
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'robustify-bench-study-'));
  try {
    const out = path.join(dir, 'report');
    const args = [CLI, 'study', '--data', FACES14, '--out', out];
    if (pipelines) {
      await fsp.writeFile(path.join(dir, 'study.json'), JSON.stringify({ robust: { pipelines } }));
      args.push('--config', path.join(dir, 'study.json'));
    }
    const load = [round(os.loadavg()[0])];
    const t = performance.now();
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let peak = 0;
    // The resident set sampled under the step announced last ('study: <step> — …' on stderr).
    let step = 'start';
    const byStep: Record<string, number> = {};
    // CPU and wall seconds under each step, between samples: how many of the cores each step kept busy.
    const cpuByStep: Record<string, { cpu: number; wall: number }> = {};
    let last: { pid: number; cpu: number; at: number } | undefined;
    const poll = setInterval(() => {
      const pid = workingPid(child.pid!);
      peak = Math.max(peak, rss(pid, 'VmHWM') ?? 0);
      byStep[step] = Math.round(Math.max(byStep[step] ?? 0, rss(pid, 'VmRSS') ?? 0));
      const cpu = cpuSeconds(pid);
      const at = performance.now() / 1000;
      if (cpu !== undefined && last?.pid === pid) {
        const acc = (cpuByStep[step] ??= { cpu: 0, wall: 0 });
        acc.cpu += cpu - last.cpu;
        acc.wall += at - last.at;
      }
      last = cpu === undefined ? undefined : { pid, cpu, at };
    }, 500);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      const text = d.toString();
      for (const m of text.matchAll(/^study: (\S+) — /gm)) step = m[1];
      stderr = (stderr + text).slice(-4000);
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    clearInterval(poll);
    if (code !== 0) throw new Error(`study bench: the study exited ${code}: ${stderr.trim().split('\n').pop()}`);
    const wall = (performance.now() - t) / 1000;
    load.push(round(os.loadavg()[0]));
    const { seconds } = JSON.parse(await fsp.readFile(path.join(out, 'timings.json'), 'utf8')) as { seconds: Record<string, number> };
    const r = JSON.parse(await fsp.readFile(path.join(out, 'results.json'), 'utf8'));
    const robust = seconds.robust ?? 0;
    return [
      {
        bench: 'study',
        data: 'faces14',
        robust_pipelines: r.robust.rows.map((x: { pipeline: string }) => x.pipeline),
        wall_s: round(wall),
        // Everything but the robust section: the study as #14 measured it (≈ 1841 s then).
        without_robust_s: round(wall - robust),
        peak_rss_mb: Math.round(peak),
        // Sampled every 0.5 s, so a peak shorter than that can be missed here (not in peak_rss_mb).
        rss_mb_by_step: byStep,
        // CPU seconds per wall second (2 = both cores busy), from the same samples.
        cores_busy_by_step: Object.fromEntries(Object.entries(cpuByStep).map(([k, v]) => [k, v.wall > 0 ? round(v.cpu / v.wall, 2) : null])),
        steps_s: seconds,
        load_avg: load,
        clean_accuracy: r.tables.find((x: { set: string }) => x.set === 'test')?.accuracy,
        pgd_accuracy: r.attack.accuracy,
        search_best: r.search.best,
        adaptive: r.adaptive.rows.map((x: { pipeline: string; adaptive_accuracy: number }) => [x.pipeline, x.adaptive_accuracy]),
        robust_worst_case: r.robust.rows.map((x: { pipeline: string; worst_case_accuracy: number }) => [x.pipeline, x.worst_case_accuracy]),
      },
    ];
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await benchStudy()) console.log(JSON.stringify(r));
}
