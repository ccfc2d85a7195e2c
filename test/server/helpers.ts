/** Fixtures of the server tests: face photos cut from face-api's samples, a server on a temp gallery, the test PostgreSQL. */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { createServer, type RobustifyServer } from '../../src/server/app.js';
import type { ServeOptions } from '../../src/server/options.js';
import { SAMPLES } from '../data/prepare/samples.js';

export const API_KEY = 'test-key-0123456789';

/** The largest face of a sample photo with a wide margin (photo pixels), then resized to `width`. */
async function cut(sample: number, box: [number, number, number, number], margin: number, width: number): Promise<Buffer> {
  const [x, y, w, h] = box;
  const [mx, my] = [Math.round(w * margin), Math.round(h * margin)];
  return sharp(SAMPLES[sample - 1])
    .extract({ left: x - mx, top: y - my, width: w + 2 * mx, height: h + 2 * my })
    .resize({ width })
    .jpeg({ quality: 92 })
    .toBuffer();
}

/** Two people's enrolment photos, a second view of the first (a probe), a photo of two others and a group of three. */
export async function facePhotos(): Promise<{ alice: Buffer; bob: Buffer; aliceProbe: Buffer; group: Buffer; pair: Buffer }> {
  const [alice, bob, aliceProbe, group, pair] = await Promise.all([
    cut(1, [1476, 199, 203, 240], 0.6, 320),
    cut(2, [1447, 153, 193, 242], 0.6, 320),
    cut(1, [1476, 199, 203, 240], 0.35, 260),
    sharp(SAMPLES[0]).resize({ width: 960 }).jpeg({ quality: 90 }).toBuffer(),
    sharp(SAMPLES[0]).extract({ left: 300, top: 250, width: 850, height: 500 }).jpeg({ quality: 90 }).toBuffer(),
  ]);
  return { alice, bob, aliceProbe, group, pair };
}

export async function tempDir(prefix: string): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), `robustify-${prefix}-`));
}

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

/**
 * `robustify serve` as a child process (one worker, no rate limit, the test key) on a free port: its address once
 * it logged that it is ready, its JSON log lines so far (stdout), and its exit.
 */
export async function spawnServe(gallery: string): Promise<{ child: ChildProcess; address: string; logs: string[]; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--gallery', gallery, '--port', '0', '--workers', '1', '--rate-limit', '0'], {
    env: { ...process.env, ROBUSTIFY_API_KEY: API_KEY },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const logs: string[] = [];
  const address = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const line of lines) {
        logs.push(line);
        if (line.includes('robustify serve ready')) resolve(JSON.parse(line).address as string);
      }
    });
    child.on('exit', () => reject(new Error('serve exited before it was ready')));
  });
  return { child, address, logs, exited };
}

/** A quiet server with one worker on a fresh SQLite gallery (unless `gallery` is given). */
export async function testServer(opts: Partial<ServeOptions> = {}): Promise<{ server: RobustifyServer; dir: string }> {
  const dir = await tempDir('server');
  const server = await createServer({ gallery: path.join(dir, 'gallery.sqlite'), workers: 1, logLevel: 'silent', apiKey: API_KEY, rateLimit: 0, ...opts });
  return { server, dir };
}

/**
 * The throw-away PostgreSQL cluster `.ci/run` starts (`bash .ci/postgres.sh start`). Missing in CI is a
 * failure; elsewhere the PostgreSQL tests are skipped with the command that starts one.
 */
export function testPgUrl(): string | undefined {
  const url = process.env.ROBUSTIFY_TEST_PG_URL;
  if (!url && process.env.CI) throw new Error('ROBUSTIFY_TEST_PG_URL is not set: .ci/run starts the test cluster with `bash .ci/postgres.sh start`');
  return url;
}

export const PG_SKIP = testPgUrl() ? false : 'no test PostgreSQL: export ROBUSTIFY_TEST_PG_URL=$(bash .ci/postgres.sh start)';

/** A fresh database on the test cluster (so test files never see each other's galleries). */
export async function freshPgDatabase(url: string, name: string): Promise<string> {
  const pg = (await import('pg')).default;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A synthetic unit-norm-ish descriptor (face descriptors have norm ≈ 1). */
export function randomDescriptor(dim: number, rnd: () => number = Math.random): Float32Array {
  const d = new Float32Array(dim);
  let n = 0;
  for (let i = 0; i < dim; i++) n += (d[i] = rnd() - 0.5) ** 2;
  const s = 1 / Math.sqrt(n);
  for (let i = 0; i < dim; i++) d[i] *= s;
  return d;
}

/** A 4xx with a one-line reason that reveals no path. */
export function refused(res: { statusCode: number; body: string }, status: number, reason: RegExp): void {
  assert.equal(res.statusCode, status, res.body);
  const { error } = JSON.parse(res.body) as { error: string };
  assert.match(error, reason);
  assert.ok(!error.includes('\n') && !/\/(work|tmp|home|usr)\//.test(error) && !/at .*\.js:\d+/.test(error), `one clean line: ${error}`);
}
