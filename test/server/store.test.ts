/** Both gallery stores pass the same checks (SQLite always; PostgreSQL on the test cluster). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { DESCRIPTOR_MODELS } from '../../src/server/descriptor-model.js';
import { Gallery } from '../../src/server/gallery/gallery.js';
import { openStore } from '../../src/server/gallery/store.js';
import { freshPgDatabase, PG_SKIP, randomDescriptor, tempDir, testPgUrl } from './helpers.js';

const MODEL = DESCRIPTOR_MODELS['face-api'];
const OTHER = { ...MODEL, id: 'another/net', version: '9' };
const box = { x: 1, y: 2, width: 30, height: 40 };

async function conformance(location: string): Promise<void> {
  const g = await Gallery.open(location, MODEL);
  try {
    const d1 = randomDescriptor(MODEL.dim);
    const d2 = randomDescriptor(MODEL.dim);
    const [f1] = await g.enrol('alice', [{ descriptor: d1, box, score: 0.9 }]);
    const [f2, f3] = await g.enrol('bob', [
      { descriptor: d2, box, score: 0.8 },
      { descriptor: randomDescriptor(MODEL.dim), box, score: 0.7 },
    ]);
    assert.ok(f1.id < f2.id && f2.id < f3.id);
    assert.deepEqual(Array.from(f1.descriptor), Array.from(d1));
    assert.equal(await g.store.createIdentity('carol', 'Carol C.'), true);
    assert.equal(await g.store.createIdentity('carol', null), false);
    assert.deepEqual((await g.store.identities()).map((i) => [i.id, i.faces, i.display_name]), [['alice', 1, null], ['bob', 2, null], ['carol', 0, 'Carol C.']]);
    const bob = (await g.store.identity('bob'))!;
    assert.deepEqual(bob.face_list.map((f) => f.id), [f2.id, f3.id]);
    assert.deepEqual(bob.face_list[0].box, box);
    assert.match(bob.created_at, /^\d{4}-\d\d-\d\dT/);
    assert.equal(await g.store.identity('nobody'), undefined);
    assert.equal(g.search(d2, 1)[0].identity, 'bob');
    assert.ok(g.search(d2, 1)[0].distance < 1e-6);
    assert.equal(await g.deleteIdentity('bob'), true);
    assert.equal(await g.deleteIdentity('bob'), false);
    assert.equal(g.size, 1);
    assert.deepEqual((await g.store.allFaces()).map((f) => f.id), [f1.id]);
  } finally {
    await g.close();
  }
  // Reopened: the same faces; another model's server refuses the gallery.
  const again = await Gallery.open(location, MODEL);
  assert.equal(again.size, 1);
  assert.equal(again.search(randomDescriptor(MODEL.dim), 3)[0].identity, 'alice');
  await again.close();
  await assert.rejects(Gallery.open(location, OTHER), /made by face-api\/face_recognition_model@.*; this server computes another\/net@9/);
}

test('SQLite gallery store: enrol, list, delete, reopen, refuse another model', async () => {
  const dir = await tempDir('sqlite');
  await conformance(path.join(dir, 'g.sqlite'));
  const store = await openStore(path.join(dir, 'g.sqlite'));
  assert.equal(store.kind, 'sqlite');
  await assert.rejects(openStore(path.join(dir, 'missing-dir', 'g.sqlite')).then((s) => s.open(MODEL)), /cannot open SQLite file/);
});

test('PostgreSQL gallery store: the same behaviour', { skip: PG_SKIP }, async () => {
  await conformance(await freshPgDatabase(testPgUrl()!, 'robustify_store_test'));
});
