// Storage plugin: Supabase Storage's bucket routes at /p/<ref>/storage/v1
// under RLS, and the management API's /projects/:id/storage/buckets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, disposeServer, databasePlugin, fmt, randomHex, storagePlugin } from './harness.mjs';

let server, ref, anon, service;
const storage = (method, p, { key = service, body, token } = {}) =>
  server.request(method, `/p/${ref}/storage/v1${p}`, {
    headers: { apikey: key, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
  });

before(async () => {
  server = await startServer({ plugins: `${databasePlugin},${storagePlugin}` });
  const p = await server.api('POST', '/projects', { body: { name: `storage-${randomHex(3)}` } });
  assert.equal(p.status, 201, fmt(p));
  ref = p.json.id;
  const keys = (await server.api('GET', `/projects/${ref}/api-keys`)).json;
  anon = keys.find((k) => k.name === 'anon').api_key;
  service = keys.find((k) => k.name === 'service_role').api_key;
});
after(() => disposeServer(server));

test('service_role creates, reads, updates and deletes a bucket', async () => {
  let r = await storage('POST', '/bucket', {
    body: { name: 'avatars', public: true, file_size_limit: '1MB', allowed_mime_types: ['image/png', 'image/*'] },
  });
  assert.equal(r.status, 200, fmt(r));
  assert.deepEqual(r.json, { name: 'avatars' });
  r = await storage('GET', '/bucket/avatars');
  assert.equal(r.status, 200, fmt(r));
  assert.equal(r.json.id, 'avatars');
  assert.equal(r.json.public, true);
  assert.equal(r.json.file_size_limit, 1048576);
  assert.deepEqual(r.json.allowed_mime_types, ['image/png', 'image/*']);
  r = await storage('GET', '/bucket');
  assert.ok(r.json.some((b) => b.id === 'avatars'), fmt(r));
  r = await storage('PUT', '/bucket/avatars', { body: { public: false, file_size_limit: null } });
  assert.equal(r.status, 200, fmt(r));
  assert.deepEqual(r.json, { message: 'Successfully updated' });
  r = await storage('GET', '/bucket/avatars');
  assert.equal(r.json.public, false);
  assert.equal(r.json.file_size_limit, null);
  r = await storage('DELETE', '/bucket/avatars');
  assert.deepEqual(r.json, { message: 'Successfully deleted' });
  r = await storage('GET', '/bucket/avatars');
  assert.equal(r.status, 404, fmt(r));
  assert.deepEqual([r.json.statusCode, r.json.error], ['404', 'Bucket not found']);
});

test('bad input: duplicate, names, sizes, MIME types, JSON; nothing changes', async () => {
  assert.equal((await storage('POST', '/bucket', { body: { name: 'dup' } })).status, 200);
  let r = await storage('POST', '/bucket', { body: { name: 'dup' } });
  assert.equal(r.status, 409, fmt(r));
  assert.equal(r.json.error, 'Duplicate');
  for (const name of ['../x', 'a/b', '.hidden', '', 'x'.repeat(101)]) {
    r = await storage('POST', '/bucket', { body: { name } });
    assert.equal(r.status, 400, `${name}: ${fmt(r)}`);
  }
  r = await storage('POST', '/bucket', { body: { name: 'sz', file_size_limit: 'lots' } });
  assert.equal(r.status, 400, fmt(r));
  r = await storage('POST', '/bucket', { body: { name: 'mt', allowed_mime_types: ['image/png"};drop'] } });
  assert.equal(r.status, 400, fmt(r));
  r = await server.request('POST', `/p/${ref}/storage/v1/bucket`, {
    headers: { apikey: service, 'content-type': 'application/json' },
    body: '{"name":',
  });
  assert.equal(r.status, 400, fmt(r));
  const list = (await storage('GET', '/bucket')).json.map((b) => b.id).sort();
  assert.deepEqual(list, ['dup']);
});

test('RLS decides: anon sees no bucket and may not create one without a policy', async () => {
  let r = await storage('GET', '/bucket', { key: anon });
  assert.equal(r.status, 200, fmt(r));
  assert.deepEqual(r.json, []);
  r = await storage('POST', '/bucket', { key: anon, body: { name: 'mine' } });
  assert.equal(r.status, 403, fmt(r));
  assert.equal(r.json.error, 'Unauthorized');
  // A policy opens reading public buckets to everyone.
  const q = await server.api('POST', `/projects/${ref}/query`, {
    body: { sql: "create policy read_public on storage.buckets for select using (public)" },
  });
  assert.equal(q.status, 200, fmt(q));
  await storage('POST', '/bucket', { body: { name: 'open', public: true } });
  r = await storage('GET', '/bucket', { key: anon });
  assert.deepEqual(r.json.map((b) => b.id), ['open']);
});

test('management routes list, create and delete buckets', async () => {
  let r = await server.api('POST', `/projects/${ref}/storage/buckets`, { body: { name: 'docs', public: false } });
  assert.equal(r.status, 201, fmt(r));
  assert.equal(r.json.id, 'docs');
  r = await server.api('GET', `/projects/${ref}/storage/buckets`);
  assert.ok(r.json.some((b) => b.id === 'docs'), fmt(r));
  r = await server.api('DELETE', `/projects/${ref}/storage/buckets/docs`);
  assert.equal(r.status, 200, fmt(r));
  r = await server.api('DELETE', `/projects/${ref}/storage/buckets/docs`);
  assert.equal(r.status, 404, fmt(r));
  assert.ok(r.json.error && r.json.detail, fmt(r));
});
