/**
 * The service under load (a bench, not a test): `robustify serve` as a child process on loopback, autocannon
 * posting one face photo to /v1/identify at concurrency 1, 4 and 16 (ROBUSTIFY_BENCH_SECONDS each, default 60),
 * first with a 2-identity gallery, then with 10⁵ synthetic descriptors; throughput, p50/p99 latency, status
 * counts (503s are the queue's deliberate refusals; other_5xx must be 0), the server's RSS before and after.
 * Each level starts on an idle server; requests still in flight when a level's time is up are not counted.
 * Plus the exact 1:N search over 10⁵ descriptors alone. Run alone: `node dist/bench/server.js`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import { DESCRIPTOR_MODELS } from '../src/server/descriptor-model.js';
import { DescriptorMatrix } from '../src/server/gallery/matrix.js';
import { SqliteStore } from '../src/server/gallery/sqlite.js';
import { createRandom } from '../src/util/random.js';
import { API_KEY, facePhotos, randomDescriptor, tempDir } from '../test/server/helpers.js';

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');
const MODEL = DESCRIPTOR_MODELS['face-api'];
const LARGE = 100_000;
const round = (v: number, d = 1): number => Number(v.toFixed(d));

/** 10⁵ synthetic descriptors, 100 per identity: exact search time per query. */
function benchSearch(): object {
  const rng = createRandom(1);
  const m = new DescriptorMatrix(MODEL.dim);
  for (let i = 0; i < LARGE; i++) m.add(i + 1, `synthetic${Math.floor(i / 100)}`, randomDescriptor(MODEL.dim, () => rng.next()));
  const queries = Array.from({ length: 50 }, () => randomDescriptor(MODEL.dim, () => rng.next()));
  m.search(queries[0], 5); // warm-up (JIT)
  const cpu = process.cpuUsage();
  const times = queries.map((q) => {
    const t = performance.now();
    m.search(q, 5);
    return performance.now() - t;
  });
  // CPU time per search: the fairer figure on a busy machine (this runs on one thread).
  const { user, system } = process.cpuUsage(cpu);
  times.sort((a, b) => a - b);
  return { bench: 'server-search', descriptors: LARGE, dim: MODEL.dim, identities: LARGE / 100, ms_p50: round(times[25], 2), ms_max: round(times.at(-1)!, 2), cpu_ms_per_search: round((user + system) / 1000 / queries.length, 2) };
}

/** Fills an SQLite gallery with `n` synthetic faces (1000 identities, one transaction each). */
async function syntheticGallery(file: string, n: number): Promise<void> {
  const store = new SqliteStore(file);
  await store.open(MODEL);
  const rng = createRandom(2);
  const per = n / 1000;
  for (let i = 0; i < 1000; i++) {
    await store.enrol(`synthetic${i}`, Array.from({ length: per }, () => ({ descriptor: randomDescriptor(MODEL.dim, () => rng.next()), box: { x: 0, y: 0, width: 100, height: 100 }, score: 1 })));
  }
  await store.close();
}

async function startServe(gallery: string): Promise<{ child: ChildProcess; address: string }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--gallery', gallery, '--port', '0', '--rate-limit', '0', '--log-level', 'warn'], {
    env: { ...process.env, ROBUSTIFY_API_KEY: API_KEY },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // At log level warn the ready line is not printed: poll readyz on the port the server reports via /proc.
  const address = await new Promise<string>((resolve, reject) => {
    child.on('exit', () => reject(new Error('serve exited before it was ready')));
    const poll = setInterval(() => {
      void listeningPort(child.pid!).then(async (port) => {
        if (!port) return;
        const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
        if (res?.ok) {
          clearInterval(poll);
          resolve(`http://127.0.0.1:${port}`);
        }
      });
    }, 500);
  });
  return { child, address };
}

/** The TCP port a process listens on (from /proc: its sockets in LISTEN state on 127.0.0.1). */
async function listeningPort(pid: number): Promise<number | undefined> {
  const { readFile, readdir, readlink } = await import('node:fs/promises');
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [])) {
    const l = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(l);
    if (m) inodes.add(m[1]);
  }
  for (const line of (await readFile('/proc/net/tcp', 'utf8')).split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[3] === '0A' && inodes.has(f[9])) return parseInt(f[1].split(':')[1], 16);
  }
  return undefined;
}

async function rssMiB(address: string): Promise<number> {
  const text = await (await fetch(`${address}/metrics`)).text();
  const m = /^robustify_process_resident_memory_bytes (\d+)/m.exec(text);
  return m ? round(Number(m[1]) / 2 ** 20) : NaN;
}

/** Waits until the server has no request queued or running (those of a previous level run on after autocannon stops). */
async function idle(address: string): Promise<void> {
  for (;;) {
    const text = await (await fetch(`${address}/metrics`)).text();
    const busy = ['robustify_inference_queue_depth', 'robustify_inference_active'].some((m) => Number(new RegExp(`^${m} (\\d+)`, 'm').exec(text)?.[1] ?? 1) > 0);
    if (!busy) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function benchLoad(label: string, gallery: string, photo: Buffer, seconds: number, enrol: Record<string, Buffer>): Promise<object[]> {
  const { child, address } = await startServe(gallery);
  const out: object[] = [];
  try {
    for (const [who, bytes] of Object.entries(enrol)) {
      const r = await fetch(`${address}/v1/identities/${who}/faces`, { method: 'POST', headers: { 'content-type': 'image/jpeg', 'x-api-key': API_KEY }, body: new Uint8Array(bytes) });
      if (r.status !== 201) throw new Error(`enrolment of ${who}: ${r.status} ${await r.text()}`);
    }
    const faces = Number(/^robustify_gallery_faces (\d+)/m.exec(await (await fetch(`${address}/metrics`)).text())?.[1]);
    // Warm-up: JIT, first kernel runs.
    await autocannon({ url: `${address}/v1/identify`, method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: photo, connections: 2, amount: 4, timeout: 120 });
    const rssStart = await rssMiB(address);
    for (const connections of [1, 4, 16]) {
      await idle(address);
      const r = await autocannon({ url: `${address}/v1/identify`, method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: photo, connections, duration: seconds, timeout: 120 });
      const codes = Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([k, v]) => [k, v?.count ?? 0]));
      const fiveXX = Object.entries(codes).filter(([k]) => k.startsWith('5') && k !== '503').reduce((s, [, v]) => s + v, 0);
      out.push({
        bench: 'server-identify',
        gallery: label,
        gallery_faces: faces,
        connections,
        seconds,
        requests: r.requests.total,
        req_per_s: round(r.requests.average, 2),
        latency_ms_p50: r.latency.p50,
        latency_ms_p99: r.latency.p99,
        status: codes,
        errors: r.errors + r.timeouts,
        other_5xx: fiveXX,
        rss_mib_start: rssStart,
        rss_mib_end: await rssMiB(address),
      });
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  return out;
}

export async function benchServer(): Promise<object[]> {
  if (process.env.ROBUSTIFY_BENCH_SEARCH_ONLY === '1') return [benchSearch()];
  const seconds = Number(process.env.ROBUSTIFY_BENCH_SECONDS ?? 60);
  if (!(seconds > 0)) throw new Error(`ROBUSTIFY_BENCH_SECONDS: expected a number > 0, got '${process.env.ROBUSTIFY_BENCH_SECONDS}'`);
  const photos = await facePhotos();
  const dir = await tempDir('bench-server');
  const records: object[] = [benchSearch()];
  records.push(...(await benchLoad('2 identities', path.join(dir, 'small.sqlite'), photos.aliceProbe, seconds, { alice: photos.alice, bob: photos.bob })));
  const large = path.join(dir, 'large.sqlite');
  await syntheticGallery(large, LARGE);
  records.push(...(await benchLoad('1e5 synthetic + 2 identities', large, photos.aliceProbe, seconds, { alice: photos.alice, bob: photos.bob })));
  return records;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await benchServer()) console.log(JSON.stringify(r));
}
