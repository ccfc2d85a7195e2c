/** Replicas on one PostgreSQL: following each other, and surviving a database restart under load (gallery layer and HTTP). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DESCRIPTOR_MODELS } from '../../src/server/descriptor-model.js';
import { Gallery } from '../../src/server/gallery/gallery.js';
import { GalleryUnavailable } from '../../src/server/gallery/postgres.js';
import { API_KEY, facePhotos, freshPgDatabase, PG_SKIP, randomDescriptor, testPgUrl, testServer } from './helpers.js';

const MODEL = DESCRIPTOR_MODELS['face-api'];
const box = { x: 0, y: 0, width: 50, height: 50 };
const run = promisify(execFile);

async function until(what: string, ms: number, ok: () => boolean): Promise<number> {
  const t0 = performance.now();
  while (!ok()) {
    if (performance.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return performance.now() - t0;
}

test('a second replica sees an enrolment and a deletion made on the first within a second', { skip: PG_SKIP }, async () => {
  const url = await freshPgDatabase(testPgUrl()!, 'robustify_replica_test');
  const a = await Gallery.open(url, MODEL);
  const b = await Gallery.open(url, MODEL);
  try {
    const d = randomDescriptor(MODEL.dim);
    const [f] = await a.enrol('alice', [{ descriptor: d, box, score: 1 }]);
    await until('replica sees the enrolment', 1000, () => b.matrix.has(f.id));
    assert.equal(b.search(d, 1)[0].identity, 'alice');
    await b.deleteIdentity('alice');
    await until('first replica sees the deletion', 1000, () => a.size === 0);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test('PostgreSQL restarted under a stream of enrolments: writes fail cleanly while it is down, none acknowledged is lost, replicas reconnect', { skip: PG_SKIP }, async () => {
  const url = await freshPgDatabase(testPgUrl()!, 'robustify_restart_test');
  const writer = await Gallery.open(url, MODEL);
  const follower = await Gallery.open(url, MODEL);
  const acked: number[] = [];
  let refused = 0;
  let stop = false;
  try {
    const load = (async () => {
      for (let i = 0; !stop && i < 2000; i++) {
        try {
          const [f] = await writer.enrol(`p${i % 50}`, [{ descriptor: randomDescriptor(MODEL.dim), box, score: 1 }]);
          acked.push(f.id);
        } catch (e) {
          assert.ok(e instanceof GalleryUnavailable, `a write during the restart fails as unavailable, got: ${(e as Error).message}`);
          refused++;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    })();
    await until('some writes before the restart', 20000, () => acked.length >= 20);
    await run('bash', ['.ci/postgres.sh', 'restart']);
    const before = acked.length;
    await until('writes resume after the restart', 20000, () => acked.length >= before + 20);
    stop = true;
    await load;
    const stored = new Set((await writer.store.allFaces()).map((f) => f.id));
    for (const id of acked) assert.ok(stored.has(id), `acknowledged face ${id} is in the database`);
    // The follower's listening connection died with the server; it reconnected and resynced.
    await until('follower matrix equals the database', 5000, () => follower.size === stored.size);
    const [f] = await writer.enrol('late', [{ descriptor: randomDescriptor(MODEL.dim), box, score: 1 }]);
    await until('follower follows new writes again', 1000, () => follower.matrix.has(f.id));
    process.stdout.write(`# ${acked.length} acknowledged, ${refused} refused during the restart\n`);
  } finally {
    stop = true;
    await Promise.all([writer.close(), follower.close()]);
  }
});

test('PostgreSQL stopped and started again while enrolments are posted over HTTP: 503s without a stack meanwhile, readyz tells, no acknowledged enrolment lost', { skip: PG_SKIP }, async () => {
  const url = await freshPgDatabase(testPgUrl()!, 'robustify_http_restart_test');
  const { alice, bob } = await facePhotos();
  const { server } = await testServer({ gallery: url, port: 0 });
  const address = await server.listen();
  const acked: number[] = [];
  const failed: { status: number; body: string; retryAfter: string | null }[] = [];
  const ready: number[] = [];
  let stop = false;
  const client = async (photo: Buffer, who: string): Promise<void> => {
    for (let i = 0; !stop; i++) {
      const res = await fetch(`${address}/v1/identities/${who}${i % 5}/faces`, { method: 'POST', headers: { 'content-type': 'image/jpeg', 'x-api-key': API_KEY }, body: new Uint8Array(photo) });
      const body = await res.text();
      if (res.status === 201) acked.push(...(JSON.parse(body) as { faces: { id: number }[] }).faces.map((f) => f.id));
      else failed.push({ status: res.status, body, retryAfter: res.headers.get('retry-after') });
    }
  };
  const poll = async (): Promise<void> => {
    while (!stop) {
      ready.push((await fetch(`${address}/readyz`)).status);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  try {
    const load = Promise.all([client(alice, 'a'), client(bob, 'b'), poll()]);
    await until('enrolments before the outage', 60000, () => acked.length >= 4);
    await run('bash', ['.ci/postgres.sh', 'stop']);
    await until('readyz reports the outage', 10000, () => ready.at(-1) === 503);
    await until('an enrolment refused during the outage', 60000, () => failed.length >= 1);
    await run('bash', ['.ci/postgres.sh', 'start']);
    const before = acked.length;
    await until('enrolments acknowledged again after the restart', 60000, () => acked.length >= before + 4);
    await until('readyz ready again', 10000, () => ready.at(-1) === 200);
    stop = true;
    await load;
    for (const f of failed) {
      assert.equal(f.status, 503, f.body);
      const { error } = JSON.parse(f.body) as { error: string };
      assert.equal(error, 'gallery database unavailable; retry shortly');
      assert.equal(f.retryAfter, '1');
    }
    const pg = (await import('pg')).default;
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const stored = new Set((await c.query<{ id: string }>('SELECT id FROM faces')).rows.map((r) => Number(r.id)));
    await c.end();
    for (const id of acked) assert.ok(stored.has(id), `acknowledged face ${id} is in the database`);
    // A write whose commit reached the database but whose reply was lost is stored though refused: the
    // server's reconnected listener resyncs, so its matrix equals the database either way.
    await until('the served gallery equals the database', 5000, () => server.ctx.gallery.size === stored.size);
    process.stdout.write(`# ${acked.length} acknowledged, ${failed.length} refused (503), readyz: ${ready.filter((s) => s === 503).length} of ${ready.length} polls 503\n`);
  } finally {
    stop = true;
    await run('bash', ['.ci/postgres.sh', 'start']);
    await server.close();
  }
});
