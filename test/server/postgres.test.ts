/** Replicas on one PostgreSQL: following each other, and surviving a database restart under load. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DESCRIPTOR_MODELS } from '../../src/server/descriptor-model.js';
import { Gallery } from '../../src/server/gallery/gallery.js';
import { GalleryUnavailable } from '../../src/server/gallery/postgres.js';
import { freshPgDatabase, PG_SKIP, randomDescriptor, testPgUrl } from './helpers.js';

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
