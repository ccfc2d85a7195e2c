import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DescriptorMatrix } from '../../src/server/gallery/matrix.js';
import { createRandom } from '../../src/util/random.js';
import { randomDescriptor } from './helpers.js';

for (const dim of [16, 18]) test(`gallery matrix (dim ${dim}): exact top-k identities (nearest face each) equal a brute-force search, across growth and removal`, () => {
  const rng = createRandom(7);
  const m = new DescriptorMatrix(dim, 4);
  const rows: { id: number; who: string; d: Float32Array }[] = [];
  for (let i = 0; i < 300; i++) {
    const r = { id: i + 1, who: `p${i % 37}`, d: randomDescriptor(dim, () => rng.next()) };
    rows.push(r);
    m.add(r.id, r.who, r.d);
  }
  m.add(1, 'p0', rows[0].d); // a repeated notification is ignored
  assert.equal(m.size, 300);
  assert.equal(m.removeIdentity('p5'), rows.filter((r) => r.who === 'p5').length);
  assert.equal(m.removeIdentity('nobody'), 0);
  const live = rows.filter((r) => r.who !== 'p5');
  assert.equal(m.size, live.length);
  assert.equal(m.identities, 36);
  for (let q = 0; q < 10; q++) {
    const query = randomDescriptor(dim, () => rng.next());
    const best = new Map<string, { id: number; dist: number }>();
    for (const r of live) {
      const dist = Math.hypot(...Array.from(r.d, (v, j) => v - query[j]));
      const b = best.get(r.who);
      if (!b || dist < b.dist) best.set(r.who, { id: r.id, dist });
    }
    const want = [...best.entries()].sort((a, b) => a[1].dist - b[1].dist).slice(0, 5);
    const got = m.search(query, 5);
    assert.deepEqual(got.map((g) => [g.identity, g.face_id]), want.map(([who, b]) => [who, b.id]));
    got.forEach((g, i) => assert.ok(Math.abs(g.distance - want[i][1].dist) < 1e-5));
    const near = m.nearestOf(query, 'p3')!;
    assert.equal(near.face_id, best.get('p3')!.id);
  }
  assert.equal(m.nearestOf(rows[0].d, 'p5'), undefined);
  const snap = m.snapshot();
  assert.equal(snap.descriptors.length, live.length * dim);
  assert.equal(new Set(snap.identities).size, 36);
});

test('gallery matrix: wrong descriptor lengths are refused with the sizes', () => {
  const m = new DescriptorMatrix(8);
  assert.throws(() => m.add(1, 'a', new Float32Array(7)), /descriptor of length 7, expected 8/);
  assert.throws(() => m.search(new Float32Array(9), 1), /query of length 9, expected 8/);
});
