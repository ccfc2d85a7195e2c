/** Who may call: the rate limit per client address, and the optional read key (writes always need the key). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveServeOptions } from '../../src/server/options.js';
import { API_KEY, facePhotos, refused, testServer } from './helpers.js';

test('over the rate limit: 429 with a one-line reason and Retry-After; other clients and the health routes keep being served', async () => {
  const { server } = await testServer({ rateLimit: 3 });
  try {
    const get = (ip: string) => server.app.inject({ url: '/v1/identities', remoteAddress: ip });
    for (let i = 0; i < 3; i++) assert.equal((await get('10.0.0.1')).statusCode, 200);
    const over = await get('10.0.0.1');
    refused(over, 429, /rate limit exceeded, retry in 1 minute/i);
    assert.ok(Number(over.headers['retry-after']) > 0, `retry-after: ${over.headers['retry-after']}`);
    assert.equal(over.headers['x-ratelimit-limit'], '3');
    refused(await get('10.0.0.1'), 429, /rate limit/i);
    assert.equal((await get('10.0.0.2')).statusCode, 200, 'another client has its own budget');
    assert.equal((await server.app.inject({ url: '/healthz', remoteAddress: '10.0.0.1' })).statusCode, 200);
    assert.equal((await server.app.inject({ url: '/readyz', remoteAddress: '10.0.0.1' })).statusCode, 200);
    assert.match((await server.app.inject({ url: '/metrics', remoteAddress: '10.0.0.1' })).body, /robustify_http_requests_total\{method="GET",route="\/v1\/identities",status="429"\} 2\b/);
  } finally {
    await server.close();
  }
});

test('with readKey, reads need the key (missing or wrong: 401), the right one is served; writes need it either way', async () => {
  const { alice } = await facePhotos();
  const { server } = await testServer({ readKey: true });
  const inject = server.app.inject.bind(server.app);
  const jpeg = { 'content-type': 'image/jpeg' };
  try {
    for (const url of ['/v1/identities', '/v1/identities/alice', '/v1/config']) {
      refused(await inject({ url }), 401, /missing API key/);
      refused(await inject({ url, headers: { 'x-api-key': 'not-the-key-42' } }), 401, /wrong API key/);
      refused(await inject({ url, headers: { authorization: 'Bearer not-the-key-42' } }), 401, /wrong API key/);
    }
    refused(await inject({ method: 'POST', url: '/v1/identify', headers: jpeg, payload: alice }), 401, /missing API key/);
    refused(await inject({ method: 'POST', url: '/v1/verify?identity=alice', headers: { ...jpeg, 'x-api-key': `${API_KEY}x` }, payload: alice }), 401, /wrong API key/);
    assert.equal((await inject({ url: '/healthz' })).statusCode, 200, 'liveness needs no key');
    assert.equal((await inject({ url: '/' })).statusCode, 200, 'the page itself needs no key (its API calls do)');
    refused(await inject({ method: 'POST', url: '/v1/identities/alice/faces', headers: jpeg, payload: alice }), 401, /missing API key/);
    const enrol = await inject({ method: 'POST', url: '/v1/identities/alice/faces', headers: { ...jpeg, 'x-api-key': API_KEY }, payload: alice });
    assert.equal(enrol.statusCode, 201, enrol.body);
    assert.deepEqual((await inject({ url: '/v1/identities', headers: { 'x-api-key': API_KEY } })).json().identities.map((i: { id: string }) => i.id), ['alice']);
    const id = await inject({ method: 'POST', url: '/v1/identify', headers: { ...jpeg, authorization: `Bearer ${API_KEY}` }, payload: alice });
    assert.equal(id.statusCode, 200, id.body);
    assert.equal(id.json().faces[0].matches[0].identity, 'alice');
    assert.equal((await inject({ url: '/v1/config', headers: { 'x-api-key': API_KEY } })).json().read_key, true);
  } finally {
    await server.close();
  }
});

test('without readKey reads are open, writes still need the key; readKey without an API key is refused at start', async () => {
  const { server } = await testServer({});
  try {
    assert.equal((await server.app.inject({ url: '/v1/identities' })).statusCode, 200);
    refused(await server.app.inject({ method: 'POST', url: '/v1/identities', payload: { id: 'carol' } }), 401, /missing API key/);
    refused(await server.app.inject({ method: 'DELETE', url: '/v1/identities/carol', headers: { 'x-api-key': 'wrong-key-000' } }), 401, /wrong API key/);
  } finally {
    await server.close();
  }
  assert.throws(() => resolveServeOptions({ readKey: true }), /^Error: serve: readKey needs apiKey/);
});
