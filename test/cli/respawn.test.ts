/**
 * The study under glibc's fixed mmap threshold (src/cli/respawn.ts): on Linux with glibc it runs as a child with
 * MALLOC_MMAP_THRESHOLD_ set; a signal to the parent reaches the child, and a killed parent leaves no child.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MALLOC_ENV, needsRespawn, subcommand } from '../../src/cli/respawn.js';
import { CLI, FACES14 } from './helpers.js';

const study = ['node', 'robustify', 'study', '--data', 'd'];
const skip = needsRespawn(study, {}) ? false : 'not Linux with glibc';

test('needsRespawn: a study (after the global options), unless the setting is made already', () => {
  assert.equal(subcommand(study), 'study');
  assert.equal(subcommand(['node', 'robustify', '--backend', 'cpu', '--quiet', 'study']), 'study');
  assert.equal(subcommand(['node', 'robustify', '--help']), undefined);
  assert.equal(needsRespawn(study, { MALLOC_MMAP_THRESHOLD_: '65536' }), false);
  assert.equal(needsRespawn(['node', 'robustify', 'attack', '--images', 'd'], {}), false);
  assert.deepEqual(MALLOC_ENV, { MALLOC_MMAP_THRESHOLD_: '131072' });
});

/** The child processes of `pid`. */
const children = (pid: number): number[] =>
  readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await sleep(50)) if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
}

for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
  test(`a study's parent ${signal === 'SIGKILL' ? 'killed: its child ends too' : 'sent SIGTERM: the child gets it and its exit is the parent\'s'}`, { skip }, async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'robustify-respawn-'));
    try {
      const env = { ...process.env };
      delete env.MALLOC_MMAP_THRESHOLD_;
      const parent = spawn(process.execPath, [CLI, 'study', '--data', FACES14, '--out', path.join(dir, 'out'), '--quick'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      parent.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<[number | null, string | null]>((resolve) => parent.on('exit', (c, s) => resolve([c, s])));
      await until('the study to start', () => stderr.includes('study: data'));
      const [child] = children(parent.pid!);
      assert.ok(child, 'the CLI runs in a child');
      assert.match(readFileSync(`/proc/${child}/environ`, 'utf8'), /(^|\0)MALLOC_MMAP_THRESHOLD_=131072\0/);
      parent.kill(signal);
      const [code, sig] = await exited;
      await until('the child to end', () => !alive(child), 5000);
      if (signal === 'SIGKILL') assert.equal(sig, 'SIGKILL');
      // The study's own answer to SIGTERM (interrupted: temporaries removed, a non-zero exit), passed on.
      else assert.ok(code !== 0 || sig === 'SIGTERM', `exit ${code} ${sig}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}
