/** The HTTP API through Fastify's inject, on a real server (one inference worker, a temp SQLite gallery). */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import type { InjectOptions } from 'fastify';
import type { RobustifyServer } from '../../src/server/app.js';
import { API_KEY, facePhotos, refused, testServer } from './helpers.js';

let server: RobustifyServer;
let photos: Awaited<ReturnType<typeof facePhotos>>;
const MAX_BODY = 2 * 1024 * 1024;
const key = { 'x-api-key': API_KEY };
const jpeg = { 'content-type': 'image/jpeg' };

before(async () => {
  photos = await facePhotos();
  ({ server } = await testServer({ allowAttacks: true, maxBody: MAX_BODY, maxAttackIter: 5, maxFaces: 2 }));
});
after(() => server?.close());

const inject = (o: InjectOptions) => server.app.inject(o);

/** A multipart/form-data body with image fields. */
function multipart(fields: Record<string, Buffer>): { payload: Buffer; headers: Record<string, string> } {
  const b = '----robustify-test-boundary';
  const parts = Object.entries(fields).map(([name, data]) =>
    Buffer.concat([Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="${name}"; filename="${name}.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`), data, Buffer.from('\r\n')]),
  );
  return { payload: Buffer.concat([...parts, Buffer.from(`--${b}--\r\n`)]), headers: { 'content-type': `multipart/form-data; boundary=${b}` } };
}

/** A valid PNG header announcing width×height, with one tiny compressed row (no need to hold the pixels). */
function pngHeader(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf: Buffer): number => {
    let c = 0xffffffff;
    for (const v of buf) c = crcTable[(c ^ v) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(8 + data.length + 4);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(1 + width * 3))), chunk('IEND', Buffer.alloc(0))]);
}

test('ops: healthz, readyz, config, OpenAPI from the same schemas', async () => {
  assert.deepEqual((await inject({ url: '/healthz' })).json(), { status: 'ok' });
  assert.deepEqual((await inject({ url: '/readyz' })).json(), { status: 'ready', faces: 0 });
  const cfg = (await inject({ url: '/v1/config' })).json();
  assert.equal(cfg.pipeline, 'median:window_size=3,jpeg:quality=20');
  assert.ok(cfg.pipelines.includes('none'));
  assert.equal(cfg.attacks, true);
  const doc = (await inject({ url: '/docs/json' })).json();
  assert.deepEqual(doc.paths['/v1/identify'].post.parameters.map((p: { name: string }) => p.name).sort(), ['compare', 'k', 'pipeline']);
  assert.ok(doc.paths['/v1/identities/{id}/faces'].post.requestBody.content['image/jpeg']);
  assert.equal((await inject({ url: '/docs' })).statusCode < 400, true);
});

test('enrol needs the right key; faces are detected, stored and returned with box and quality', async () => {
  refused(await inject({ method: 'POST', url: '/v1/identities/alice/faces', headers: jpeg, payload: photos.alice }), 401, /missing API key/);
  refused(await inject({ method: 'POST', url: '/v1/identities/alice/faces', headers: { ...jpeg, 'x-api-key': 'wrong-key-000' }, payload: photos.alice }), 401, /wrong API key/);
  const a = await inject({ method: 'POST', url: '/v1/identities/alice/faces', headers: { ...jpeg, ...key }, payload: photos.alice });
  assert.equal(a.statusCode, 201, a.body);
  const face = a.json().faces[0];
  assert.ok(face.id > 0 && face.box.width > 60 && face.quality.size > 60 && face.score > 0.5);
  const m = multipart({ image: photos.bob });
  const b = await inject({ method: 'POST', url: '/v1/identities/bob/faces', headers: { ...m.headers, authorization: `Bearer ${API_KEY}` }, payload: m.payload });
  assert.equal(b.statusCode, 201, b.body);
  const list = (await inject({ url: '/v1/identities' })).json();
  assert.deepEqual(list.identities.map((i: { id: string; faces: number }) => [i.id, i.faces]), [['alice', 1], ['bob', 1]]);
  refused(await inject({ method: 'POST', url: '/v1/identities', headers: { 'content-type': 'application/json', ...key }, payload: '{"id": "carol",' }), 400, /JSON/);
  assert.equal((await inject({ method: 'POST', url: '/v1/identities', headers: key, payload: { id: 'carol' } })).statusCode, 201);
  refused(await inject({ method: 'POST', url: '/v1/identities', headers: key, payload: { id: 'carol' } }), 409, /exists already/);
  refused(await inject({ method: 'POST', url: '/v1/identities', headers: key, payload: { id: 'bad id!' } }), 400, /id/);
});

test('identify through the pipeline (and bare with compare); verify two photos or a photo and an identity', async () => {
  const r = await inject({ method: 'POST', url: '/v1/identify?compare=true&k=2', headers: jpeg, payload: photos.aliceProbe });
  assert.equal(r.statusCode, 200, r.body);
  const body = r.json();
  assert.equal(body.pipeline, 'median:window_size=3,jpeg:quality=20');
  assert.equal(body.faces.length, 1);
  assert.equal(body.faces[0].matches[0].identity, 'alice');
  assert.equal(body.faces[0].matches[0].same, true);
  assert.equal(body.faces[0].matches.length, 2);
  assert.equal(body.faces[0].undefended[0].identity, 'alice');
  const pair = (await inject({ method: 'POST', url: '/v1/identify?pipeline=none', headers: jpeg, payload: photos.pair })).json();
  assert.equal(pair.pipeline, 'none');
  assert.equal(pair.faces.length, 2);
  for (const f of pair.faces) assert.equal(f.matches[0].same, false, 'neither of the two is enrolled');
  const m = multipart({ a: photos.alice, b: photos.aliceProbe });
  const v = (await inject({ method: 'POST', url: '/v1/verify', headers: m.headers, payload: m.payload })).json();
  assert.equal(v.same, true, JSON.stringify(v));
  const vi = (await inject({ method: 'POST', url: '/v1/verify?identity=bob', headers: jpeg, payload: photos.aliceProbe })).json();
  assert.equal(vi.same, false, JSON.stringify(vi));
  assert.ok(vi.distance > 0.6);
  refused(await inject({ method: 'POST', url: '/v1/verify?identity=carol', headers: jpeg, payload: photos.aliceProbe }), 404, /no enrolled faces for identity 'carol'/);
  refused(await inject({ method: 'POST', url: '/v1/verify', headers: jpeg, payload: photos.alice }), 400, /missing image 'b'/);
});

test('bad input gets a 4xx with a one-line reason, and the server keeps serving', async () => {
  const id = (q = '', headers: Record<string, string> = jpeg, payload: Buffer | string = photos.aliceProbe) => inject({ method: 'POST', url: `/v1/identify${q}`, headers, payload });
  refused(await id('', jpeg, Buffer.alloc(0)), 400, /empty file \(0 bytes\)/);
  refused(await id('', jpeg, photos.alice.subarray(0, photos.alice.length >> 1)), 400, /truncated or corrupt JPEG/);
  refused(await id('', { 'content-type': 'image/png' }, Buffer.from('this is not an image at all')), 400, /not a PNG, JPEG or WebP image/);
  refused(await id('', { 'content-type': 'image/png' }, pngHeader(20000, 20000)), 413, /20000×20000 = 400000000 pixels exceeds the pixel budget/);
  refused(await id('', { 'content-type': 'text/plain' }, 'hello'), 415, /text\/plain/);
  refused(await id('', { 'content-type': 'application/json' }, '{"image": 1}'), 415, /expected an image body/);
  refused(await id('', jpeg, Buffer.alloc(MAX_BODY + 1024, 0xff)), 413, /too large/i);
  refused(await id('', jpeg, photos.group), 422, /image: more than 2 faces in the image \(limit maxFaces\)/);
  refused(await id('?pipeline=nonsense:3'), 400, /unknown defence 'nonsense'/);
  refused(await id('?pipeline=jpeg:33'), 400, /not allowed on this server/);
  refused(await id('?k=0'), 400, /k must be >= 1/);
  refused(await id('?colour=red'), 400, /additional properties/);
  refused(await inject({ method: 'DELETE', url: '/v1/identities/bob' }), 401, /missing API key/);
  refused(await inject({ url: '/v1/nothing' }), 404, /no route GET \/v1\/nothing/);
  const ok = await id();
  assert.equal(ok.statusCode, 200);
  assert.equal(ok.json().faces[0].matches[0].identity, 'alice');
});

test('attack: the adversarial face, the perturbation, and what the bare and defended models answer', async () => {
  refused(await inject({ method: 'POST', url: '/v1/attack?max_iter=3', headers: jpeg, payload: photos.aliceProbe }), 401, /missing API key/);
  refused(await inject({ method: 'POST', url: '/v1/attack?max_iter=6', headers: { ...jpeg, ...key }, payload: photos.aliceProbe }), 400, /max_iter must be ≤ 5/);
  const r = await inject({ method: 'POST', url: '/v1/attack?max_iter=3&eps=4&eps_step=1.5', headers: { ...jpeg, ...key }, payload: photos.aliceProbe });
  assert.equal(r.statusCode, 200, r.body);
  const a = r.json();
  assert.equal(a.source_identity, 'alice');
  assert.ok(a.linf > 0 && a.linf <= 4 + 1e-3, `L∞ ${a.linf}`);
  for (const k of ['clean', 'adversarial', 'perturbation']) assert.match(a.images[k], /^data:image\/png;base64,iVBOR/);
  assert.equal(a.bare.clean[0].identity, 'alice');
  // The attack moves the face away from alice on the model it differentiates.
  const dist = (ms: { identity: string; distance: number }[]) => ms.find((m) => m.identity === 'alice')!.distance;
  assert.ok(dist(a.bare.adversarial) > dist(a.bare.clean), `bare: ${dist(a.bare.clean)} → ${dist(a.bare.adversarial)}`);
  assert.ok(a.defended.clean.length > 0 && a.defended.adversarial.length > 0);
});

test('delete, metrics, and a graceful close that lets an in-flight request finish', async () => {
  assert.equal((await inject({ method: 'DELETE', url: '/v1/identities/bob', headers: key })).statusCode, 204);
  refused(await inject({ url: '/v1/identities/bob' }), 404, /no identity 'bob'/);
  const metrics = (await inject({ url: '/metrics' })).body;
  assert.match(metrics, /robustify_http_requests_total\{method="POST",route="\/v1\/identify",status="200"\} \d+/);
  assert.match(metrics, /robustify_http_request_duration_seconds_bucket\{le="[\d.]+",method="POST",route="\/v1\/identify"\}/);
  assert.match(metrics, /robustify_gallery_faces 1\b/);
  assert.match(metrics, /robustify_inference_queue_depth 0\b/);
  const inflight = inject({ method: 'POST', url: '/v1/identify', headers: jpeg, payload: photos.aliceProbe });
  await new Promise((r) => setTimeout(r, 50));
  await server.close();
  assert.equal((await inflight).statusCode, 200);
});
