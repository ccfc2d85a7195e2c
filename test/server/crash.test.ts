/**
 * kill -9 of `robustify serve` during a burst of enrolments: after a restart every acknowledged enrolment is
 * in the gallery and no face is half-enrolled (SQLite WAL, one transaction per enrolment).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { DESCRIPTOR_MODELS } from '../../src/server/descriptor-model.js';
import { Gallery } from '../../src/server/gallery/gallery.js';
import { API_KEY, facePhotos, spawnServe, tempDir } from './helpers.js';

test('kill -9 during a burst of enrolments: every acknowledged enrolment survives, none is half-written', async () => {
  const { alice, bob } = await facePhotos();
  const dir = await tempDir('crash');
  const file = path.join(dir, 'gallery.sqlite');
  const { child, address, exited } = await spawnServe(file);
  try {
    const acked: { identity: string; id: number }[] = [];
    let n = 0;
    const enrolOne = async (): Promise<void> => {
      const identity = `person${n++}`;
      const res = await fetch(`${address}/v1/identities/${identity}/faces`, { method: 'POST', headers: { 'content-type': 'image/jpeg', 'x-api-key': API_KEY }, body: new Uint8Array(n % 2 ? alice : bob) });
      if (res.status !== 201) throw new Error(`enrolment answered ${res.status}`);
      acked.push({ identity, id: ((await res.json()) as { faces: { id: number }[] }).faces[0].id });
    };
    // Four clients enrol back to back; the server is killed once 4 are acknowledged, with others in flight.
    const clients = Array.from({ length: 4 }, async () => {
      while (acked.length < 4) await enrolOne();
    }).map((p) => p.catch(() => {}));
    while (acked.length < 4) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    assert.equal((await exited).signal, 'SIGKILL');
    await Promise.all(clients);
    const snapshot = [...acked];

    const db = new Database(file, { readonly: true });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      const faces = db.prepare('SELECT id, identity, length(descriptor) AS bytes FROM faces').all() as { id: number; identity: string; bytes: number }[];
      const ids = new Map(faces.map((f) => [f.id, f]));
      for (const a of snapshot) assert.equal(ids.get(a.id)?.identity, a.identity, `acknowledged face ${a.id} of ${a.identity}`);
      for (const f of faces) assert.equal(f.bytes, 4 * DESCRIPTOR_MODELS['face-api'].dim);
      // Identities exist only through enrolment here: each one has its face.
      const empty = db.prepare('SELECT i.id FROM identities i LEFT JOIN faces f ON f.identity = i.id WHERE f.id IS NULL').all();
      assert.deepEqual(empty, []);
    } finally {
      db.close();
    }
    // What a restarted server loads: the same faces.
    const g = await Gallery.open(file, DESCRIPTOR_MODELS['face-api']);
    assert.ok(g.size >= snapshot.length);
    for (const a of snapshot) assert.ok(g.matrix.has(a.id));
    await g.close();
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});
