/**
 * Throw-away Redis servers for the queue's tests: Debian's `redis-server` on a free loopback port, no
 * persistence, killed after. Missing in CI ($CI set) is a failure; elsewhere the test is skipped with a note.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import type { TestContext } from 'node:test';

export interface TestRedis {
  url: string;
  port: number;
  /** Kill it (SIGKILL: everything in it is lost, as no persistence is configured). */
  kill(): Promise<void>;
  /** Start it again on the same port (empty). */
  start(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** A started server, or undefined (the test skipped) when redis-server is not installed outside CI. */
export async function testRedis(t: TestContext, opts: { bind?: string[] } = {}): Promise<TestRedis | undefined> {
  if (spawnSync('redis-server', ['--version']).error) {
    const why = 'redis-server not found: apt-get install -y redis-server';
    if (process.env.CI) throw new Error(why);
    t.skip(why);
    process.stderr.write(`# skipped: ${why}\n`);
    return undefined;
  }
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = () =>
    new Promise<void>((resolve, reject) => {
      const bind = opts.bind ?? ['127.0.0.1'];
      // Other addresses than loopback (other network namespaces) need protected mode off: no password here.
      const args = ['--port', String(port), '--bind', ...bind, '--protected-mode', bind.length > 1 ? 'no' : 'yes', '--save', '', '--appendonly', 'no', '--daemonize', 'no'];
      const c = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      let out = '';
      c.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) resolve();
      });
      c.on('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
    });
  const kill = () =>
    new Promise<void>((resolve) => {
      if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  await start();
  t.after(kill);
  return { url: `redis://127.0.0.1:${port}`, port, kill, start };
}
