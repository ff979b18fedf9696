// Storage plugin: multipart uploads, object info, move/copy, bulk delete, bucket empty, signed
// URLs and signed uploads, the management object routes and the upload rate limit, against the
// real server, PostgreSQL and blob directory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, disposeServer, databasePlugin, fmt, randomHex, sleep, storagePlugin } from './harness.mjs';
import { openStorageProject } from './storage-helpers.mjs';

let server, ref, anon, service, url, call, upload, sql, blobFiles;
// A multipart/form-data body: fields [name, value] and files [name, filename, type, bytes].
function form(parts) {
  const boundary = `----alpaca${randomHex(8)}`;
  const chunks = [];
  for (const p of parts) {
    const [name, a, b, c] = p;
    if (p.length === 2)
      chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${a}\r\n`));
    else {
      chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${a}"\r\nContent-Type: ${b}\r\n\r\n`));
      chunks.push(c, Buffer.from('\r\n'));
    }
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), type: `multipart/form-data; boundary=${boundary}` };
}
const bytesOf = async (p, headers = {}) => {
  const r = await fetch(`http://127.0.0.1:${server.port}${p}`, { headers });
  return { status: r.status, headers: r.headers, bytes: Buffer.from(await r.arrayBuffer()) };
};

before(async () => {
  server = await startServer({ plugins: `${databasePlugin},${storagePlugin}`, env: { ALPACA_STORAGE_UPLOAD_RATE_LIMIT: '0' } });
  ({ ref, anon, service, url, call, upload, sql, blobFiles } = await openStorageProject(server, 'ops'));
  for (const b of [{ name: 'docs' }, { name: 'pub', public: true }, { name: 'other' }, { name: 'imgs', allowed_mime_types: ['image/png'], file_size_limit: 100 }]) {
    const r = await call('POST', '/bucket', { body: b });
    assert.equal(r.status, 200, fmt(r));
  }
});
after(() => disposeServer(server));

test('multipart upload: file part type, cacheControl and metadata fields; MIME and size checks', async () => {
  const bytes = crypto.randomBytes(5000);
  const f = form([['cacheControl', '120'], ['metadata', '{"k":"v"}'], ['', 'blob', 'text/csv', bytes]]);
  let r = await upload('docs/m/form.csv', f.body, { type: f.type });
  assert.equal(r.status, 200, fmt(r));
  assert.equal(r.json.Key, 'docs/m/form.csv');
  const d = await bytesOf(url('/object/docs/m/form.csv'), { apikey: service });
  assert.ok(d.bytes.equals(bytes));
  assert.equal(d.headers.get('content-type'), 'text/csv');
  assert.equal(d.headers.get('cache-control'), 'max-age=120');
  const [row] = await sql("select user_metadata::text as u, metadata->>'size' as size from storage.objects where name = 'm/form.csv'");
  assert.deepEqual(row, { u: '{"k": "v"}', size: '5000' });
  // no cacheControl field: no-cache, as Supabase
  const g = form([['', 'blob', 'image/png', Buffer.from('png')]]);
  r = await upload('imgs/a.png', g.body, { type: g.type });
  assert.equal(r.status, 200, fmt(r));
  assert.equal((await bytesOf(url('/object/imgs/a.png'), { apikey: service })).headers.get('cache-control'), 'no-cache');
  const before = blobFiles().length;
  const bad = form([['', 'x.gif', 'image/gif', Buffer.from('gif')]]);
  r = await upload('imgs/b.gif', bad.body, { type: bad.type });
  assert.equal(r.status, 415, fmt(r));
  const big = form([['', 'big.png', 'image/png', Buffer.alloc(101)]]);
  r = await upload('imgs/big.png', big.body, { type: big.type });
  assert.equal(r.status, 413, fmt(r));
  assert.equal(r.json.statusCode, '413');
  const none = form([['cacheControl', '1']]);
  r = await upload('docs/none.txt', none.body, { type: none.type });
  assert.equal(r.status, 400, fmt(r));
  r = await upload('docs/torn.txt', Buffer.from('--x\r\nContent-Disposition: form-data; name="a"; filename="f"\r\n\r\nabc'), { type: 'multipart/form-data; boundary=x' });
  assert.equal(r.status, 400, fmt(r));
  r = await upload('docs/meta.txt', form([['metadata', 'not json'], ['', 'f', 'text/plain', Buffer.from('x')]]).body, { type: 'multipart/form-data; boundary=nope' });
  assert.equal(r.status, 400, fmt(r));
  assert.equal(blobFiles().length, before, 'refused uploads leave no blob');
  assert.deepEqual(await sql("select name from storage.objects where name in ('b.gif','big.png','none.txt','torn.txt','meta.txt')"), []);
});

test('GET /object/info: Supabase fields; 404 for missing; public info needs a public bucket', async () => {
  const meta = Buffer.from(JSON.stringify({ owner: 'me' })).toString('base64');
  await upload('docs/info.txt', Buffer.from('hello'), { type: 'text/plain', headers: { 'x-metadata': meta, 'cache-control': 'max-age=9' } });
  let r = await call('GET', '/object/info/docs/info.txt');
  assert.equal(r.status, 200, fmt(r));
  assert.equal(r.json.name, 'info.txt');
  assert.equal(r.json.bucket_id, 'docs');
  assert.equal(r.json.size, 5);
  assert.equal(r.json.content_type, 'text/plain');
  assert.equal(r.json.cache_control, 'max-age=9');
  assert.equal(r.json.etag, `"${crypto.createHash('md5').update('hello').digest('hex')}"`);
  assert.deepEqual(r.json.metadata, { owner: 'me' });
  assert.match(r.json.id, /^[0-9a-f-]{36}$/);
  assert.ok(r.json.last_modified && r.json.created_at);
  r = await call('GET', '/object/info/docs/missing.txt');
  assert.equal(r.status, 404, fmt(r));
  r = await server.request('GET', url('/object/info/public/docs/info.txt'));
  assert.equal(r.status, 404, fmt(r));
  await upload('pub/p.txt', Buffer.from('p'), { type: 'text/plain' });
  r = await server.request('GET', url('/object/info/public/pub/p.txt'));
  assert.equal(r.status, 200, fmt(r));
  assert.equal(r.json.size, 1);
});

test('move and copy: bytes follow, names are checked, taken destinations 409, upsert copy', async () => {
  const bytes = crypto.randomBytes(3000);
  await upload('docs/mv/src.bin', bytes);
  let r = await call('POST', '/object/move', { body: { bucketId: 'docs', sourceKey: 'mv/src.bin', destinationKey: 'mv/dst.bin' } });
  assert.equal(r.status, 200, fmt(r));
  assert.equal(r.json.message, 'Successfully moved');
  assert.equal((await bytesOf(url('/object/docs/mv/src.bin'), { apikey: service })).status, 404);
  assert.ok((await bytesOf(url('/object/docs/mv/dst.bin'), { apikey: service })).bytes.equals(bytes));
  r = await call('POST', '/object/copy', { body: { bucketId: 'docs', sourceKey: 'mv/dst.bin', destinationKey: 'cp.bin', destinationBucket: 'other' } });
  assert.equal(r.status, 200, fmt(r));
  assert.equal(r.json.Key, 'other/cp.bin');
  assert.ok((await bytesOf(url('/object/other/cp.bin'), { apikey: service })).bytes.equals(bytes));
  // copies are independent: deleting the source keeps the copy's bytes
  const blobs = blobFiles().length;
  await call('DELETE', '/object/docs/mv/dst.bin');
  assert.equal(blobFiles().length, blobs - 1);
  assert.ok((await bytesOf(url('/object/other/cp.bin'), { apikey: service })).bytes.equals(bytes));
  await upload('other/taken.bin', Buffer.from('t'));
  r = await call('POST', '/object/copy', { body: { bucketId: 'other', sourceKey: 'cp.bin', destinationKey: 'taken.bin' } });
  assert.equal(r.status, 409, fmt(r));
  r = await call('POST', '/object/move', { body: { bucketId: 'other', sourceKey: 'cp.bin', destinationKey: 'taken.bin' } });
  assert.equal(r.status, 409, fmt(r));
  r = await call('POST', '/object/copy', { body: { bucketId: 'other', sourceKey: 'cp.bin', destinationKey: 'taken.bin' }, headers: { 'x-upsert': 'true' } });
  assert.equal(r.status, 200, fmt(r));
  assert.ok((await bytesOf(url('/object/other/taken.bin'), { apikey: service })).bytes.equals(bytes));
  for (const bad of ['../x', 'a//b', '/abs', 'a/./b']) {
    r = await call('POST', '/object/move', { body: { bucketId: 'other', sourceKey: 'cp.bin', destinationKey: bad } });
    assert.equal(r.status, 400, `move to ${bad}: ${fmt(r)}`);
    assert.equal(r.json.error, 'InvalidKey');
    r = await call('POST', '/object/copy', { body: { bucketId: 'other', sourceKey: 'cp.bin', destinationKey: bad } });
    assert.equal(r.status, 400, `copy to ${bad}: ${fmt(r)}`);
  }
  r = await call('POST', '/object/move', { body: { bucketId: 'other', sourceKey: 'nope', destinationKey: 'x' } });
  assert.equal(r.status, 404, fmt(r));
  r = await call('POST', '/object/move', { body: '{bad json' });
  assert.equal(r.status, 400, fmt(r));
  // copy keeps user metadata unless told otherwise
  const meta = Buffer.from('{"a":1}').toString('base64');
  await upload('other/meta.bin', Buffer.from('m'), { headers: { 'x-metadata': meta } });
  await call('POST', '/object/copy', { body: { bucketId: 'other', sourceKey: 'meta.bin', destinationKey: 'meta2.bin' } });
  await call('POST', '/object/copy', { body: { bucketId: 'other', sourceKey: 'meta.bin', destinationKey: 'meta3.bin', copyMetadata: false, metadata: { b: 2 } } });
  const rows = await sql("select name, user_metadata::text as u from storage.objects where name like 'meta%' order by name");
  assert.deepEqual(rows, [{ name: 'meta.bin', u: '{"a": 1}' }, { name: 'meta2.bin', u: '{"a": 1}' }, { name: 'meta3.bin', u: '{"b": 2}' }]);
});

test('DELETE /object/:bucket {prefixes} and POST /bucket/:id/empty remove rows and blobs', async () => {
  for (const n of ['a', 'b', 'c']) await upload(`other/bulk/${n}`, Buffer.from(n));
  const blobs = blobFiles().length;
  let r = await call('DELETE', '/object/other', { body: { prefixes: ['bulk/a', 'bulk/b', 'bulk/none'] } });
  assert.equal(r.status, 200, fmt(r));
  assert.deepEqual(r.json.map((o) => o.name).sort(), ['bulk/a', 'bulk/b']);
  assert.equal(r.json[0].bucket_id, 'other');
  assert.equal(blobFiles().length, blobs - 2);
  r = await call('DELETE', '/object/other', { body: { prefixes: 'bulk/c' } });
  assert.equal(r.status, 400, fmt(r));
  r = await call('DELETE', '/object/other', { body: { prefixes: ['bulk/c'] }, key: anon });
  assert.deepEqual(r.json, [], 'anon without a policy deletes nothing');
  const left = (await sql("select count(*)::int as n from storage.objects where bucket_id = 'other'"))[0].n;
  assert.ok(left > 0);
  r = await call('POST', '/bucket/other/empty');
  assert.equal(r.status, 200, fmt(r));
  assert.equal(r.json.message, 'Successfully emptied');
  assert.equal((await sql("select count(*)::int as n from storage.objects where bucket_id = 'other'"))[0].n, 0);
  assert.equal(blobFiles().length, blobs - 2 - left);
  r = await call('POST', '/bucket/nope/empty');
  assert.equal(r.status, 404, fmt(r));
  r = await call('DELETE', '/bucket/other');
  assert.equal(r.status, 200, fmt(r));
});

test('signed URLs: one and many, no key needed, ?download, expiry and tampering refused', async () => {
  const bytes = crypto.randomBytes(2048);
  await upload('docs/s/one.bin', bytes);
  let r = await call('POST', '/object/sign/docs/s/one.bin', { body: { expiresIn: 60 } });
  assert.equal(r.status, 200, fmt(r));
  assert.match(r.json.signedURL, /^\/object\/sign\/docs\/s\/one\.bin\?token=[\w-]+\.[\w-]+\.[\w-]+$/);
  const signed = r.json.signedURL;
  let d = await bytesOf(url(signed));
  assert.equal(d.status, 200);
  assert.ok(d.bytes.equals(bytes));
  d = await bytesOf(url(`${signed}&download=`));
  assert.equal(d.headers.get('content-disposition'), 'attachment; filename="one.bin"');
  // the token names one object
  await upload('docs/s/two.bin', Buffer.from('2'));
  const token = signed.split('token=')[1];
  r = await server.request('GET', url(`/object/sign/docs/s/two.bin?token=${token}`));
  assert.equal(r.status, 400, fmt(r));
  assert.equal(r.json.error, 'InvalidSignature');
  const [h, p, s] = token.split('.');
  const payload = JSON.parse(Buffer.from(p, 'base64url'));
  payload.url = 'docs/s/two.bin';
  const forged = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
  r = await server.request('GET', url(`/object/sign/docs/s/two.bin?token=${forged}`));
  assert.equal(r.status, 400, fmt(r));
  assert.equal(r.json.error, 'InvalidJWT');
  const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.`;
  r = await server.request('GET', url(`/object/sign/docs/s/two.bin?token=${none}`));
  assert.equal(r.status, 400, fmt(r));
  r = await server.request('GET', url('/object/sign/docs/s/one.bin'));
  assert.equal(r.status, 400, fmt(r));
  r = await call('POST', '/object/sign/docs/s/one.bin', { body: { expiresIn: 1 } });
  await sleep(2100);
  r = await server.request('GET', url(r.json.signedURL));
  assert.equal(r.status, 400, fmt(r));
  assert.deepEqual([r.json.error, r.json.message], ['InvalidJWT', 'jwt expired']);
  r = await call('POST', '/object/sign/docs/s/missing.bin', { body: { expiresIn: 60 } });
  assert.equal(r.status, 404, fmt(r));
  r = await call('POST', '/object/sign/docs/s/one.bin', { body: { expiresIn: 60 }, key: anon });
  assert.equal(r.status, 404, `anon may not sign what it cannot read: ${fmt(r)}`);
  r = await call('POST', '/object/sign/docs/s/one.bin', { body: { expiresIn: 'soon' } });
  assert.equal(r.status, 400, fmt(r));
  r = await call('POST', '/object/sign/docs', { body: { expiresIn: 60, paths: ['s/one.bin', 's/none.bin'] } });
  assert.equal(r.status, 200, fmt(r));
  assert.equal(r.json.length, 2);
  assert.deepEqual([r.json[0].error, r.json[0].path], [null, 's/one.bin']);
  assert.deepEqual(r.json[1], { error: 'Either the object does not exist or you do not have access to it', path: 's/none.bin', signedURL: null });
  d = await bytesOf(url(r.json[0].signedURL));
  assert.ok(d.bytes.equals(bytes));
  // the signing key is not readable through the API roles
  const k = await server.request('POST', `/p/${ref}/rest/v1/rpc/x`, { headers: { apikey: service } });
  assert.notEqual(k.status, 200);
});

test('signed uploads: the token uploads one object once allowed; upsert from the token', async () => {
  let r = await call('POST', '/object/upload/sign/docs/up/file.txt', { body: {} });
  assert.equal(r.status, 200, fmt(r));
  assert.match(r.json.url, /^\/object\/upload\/sign\/docs\/up\/file\.txt\?token=/);
  const token = r.json.token;
  assert.equal(r.json.url.split('token=')[1], token);
  r = await server.request('PUT', url(`/object/upload/sign/docs/up/file.txt?token=${token}`), { body: Buffer.from('signed!'), headers: { 'content-type': 'text/plain' } });
  assert.equal(r.status, 200, fmt(r));
  assert.equal(r.json.Key, 'docs/up/file.txt');
  assert.equal((await bytesOf(url('/object/docs/up/file.txt'), { apikey: service })).bytes.toString(), 'signed!');
  // not upsert: a second upload with the same token is a duplicate
  r = await server.request('PUT', url(`/object/upload/sign/docs/up/file.txt?token=${token}`), { body: Buffer.from('again') });
  assert.equal(r.status, 409, fmt(r));
  r = await server.request('PUT', url(`/object/upload/sign/docs/up/other.txt?token=${token}`), { body: Buffer.from('x') });
  assert.equal(r.status, 400, fmt(r));
  r = await server.request('PUT', url('/object/upload/sign/docs/up/other.txt?token=abc'), { body: Buffer.from('x') });
  assert.equal(r.status, 400, fmt(r));
  r = await call('POST', '/object/upload/sign/docs/up/file.txt', { body: {} });
  assert.equal(r.status, 409, `signing an upload over an existing object without upsert: ${fmt(r)}`);
  r = await call('POST', '/object/upload/sign/docs/up/file.txt', { body: {}, headers: { 'x-upsert': 'true' } });
  assert.equal(r.status, 200, fmt(r));
  const f = form([['', 'blob', 'text/plain', Buffer.from('replaced')]]);
  r = await server.request('PUT', url(`/object/upload/sign/docs/up/file.txt?token=${r.json.token}`), { body: f.body, headers: { 'content-type': f.type } });
  assert.equal(r.status, 200, fmt(r));
  assert.equal((await bytesOf(url('/object/docs/up/file.txt'), { apikey: service })).bytes.toString(), 'replaced');
  r = await call('POST', '/object/upload/sign/docs/up/anon.txt', { body: {}, key: anon });
  assert.equal(r.status, 403, `anon without a policy may not sign an upload: ${fmt(r)}`);
  r = await call('POST', '/object/upload/sign/nobucket/x.txt', { body: {} });
  assert.equal(r.status, 404, fmt(r));
  assert.deepEqual(await sql("select count(*)::int as n from storage.objects where name = 'up/anon.txt' or bucket_id = 'nobucket'"), [{ n: 0 }]);
});

test('management routes: list objects with prefix and paging, multipart upload with path, delete', async () => {
  const m = (method, p, opts) => server.api(method, `/projects/${ref}/storage${p}`, opts);
  for (const n of ['x/1.txt', 'x/2.txt', 'y/3.txt']) {
    const f = form([['path', n], ['file', 'f.txt', 'text/plain', Buffer.from(n)]]);
    const r = await m('POST', '/buckets/pub/upload', { body: f.body, headers: { 'content-type': f.type } });
    assert.equal(r.status, 201, fmt(r));
    assert.deepEqual([r.json.bucket, r.json.path, r.json.size, r.json.content_type], ['pub', n, n.length, 'text/plain']);
  }
  // path after the file part works too
  const late = form([['file', 'f.txt', 'text/plain', Buffer.from('late')], ['path', 'x/late.txt']]);
  let r = await m('POST', '/buckets/pub/upload', { body: late.body, headers: { 'content-type': late.type } });
  assert.equal(r.status, 201, fmt(r));
  const dup = form([['path', 'x/1.txt'], ['file', 'f.txt', 'text/plain', Buffer.from('dup')]]);
  r = await m('POST', '/buckets/pub/upload', { body: dup.body, headers: { 'content-type': dup.type } });
  assert.equal(r.status, 409, fmt(r));
  assert.ok(r.json.error, 'management errors are {error, detail}');
  const nopath = form([['file', 'f.txt', 'text/plain', Buffer.from('?')]]);
  r = await m('POST', '/buckets/pub/upload', { body: nopath.body, headers: { 'content-type': nopath.type } });
  assert.equal(r.status, 400, fmt(r));
  const evil = form([['path', '../../etc/x'], ['file', 'f.txt', 'text/plain', Buffer.from('?')]]);
  r = await m('POST', '/buckets/pub/upload', { body: evil.body, headers: { 'content-type': evil.type } });
  assert.equal(r.status, 400, fmt(r));
  r = await m('GET', '/buckets/pub/objects?prefix=x/');
  assert.equal(r.status, 200, fmt(r));
  assert.deepEqual(r.json.map((o) => o.name), ['x/1.txt', 'x/2.txt', 'x/late.txt']);
  assert.equal(r.json[0].size, 7);
  r = await m('GET', '/buckets/pub/objects?prefix=x/&limit=1&offset=1');
  assert.deepEqual(r.json.map((o) => o.name), ['x/2.txt']);
  r = await m('GET', '/buckets/pub/objects?limit=abc');
  assert.equal(r.status, 400, fmt(r));
  r = await m('GET', '/buckets/nope/objects');
  assert.equal(r.status, 404, fmt(r));
  r = await m('DELETE', '/buckets/pub/objects/x/1.txt');
  assert.equal(r.status, 200, fmt(r));
  assert.deepEqual(r.json, { deleted: 'x/1.txt' });
  r = await m('DELETE', '/buckets/pub/objects/x/1.txt');
  assert.equal(r.status, 404, fmt(r));
  r = await server.request('GET', `/projects/${ref}/storage/buckets/pub/objects`, { headers: { authorization: `Bearer ${anon}` } });
  assert.equal(r.status, 403, fmt(r));
});

test('upload rate limit: 429 in Supabase\'s shape over storage.upload_rate_limit per minute', async () => {
  const s2 = await startServer({ plugins: `${databasePlugin},${storagePlugin}`, env: { ALPACA_STORAGE_UPLOAD_RATE_LIMIT: '3' } });
  try {
    const rl = await openStorageProject(s2, 'rl');
    await rl.call('POST', '/bucket', { body: { name: 'b' } });
    const codes = [];
    for (let i = 0; i < 5; i++) {
      const r = await rl.upload(`b/f${i}`, 'x', { type: 'text/plain' });
      codes.push(r.status);
      if (r.status === 429) {
        assert.equal(r.json.statusCode, '429');
        assert.match(r.json.message, /3 objects per minute/);
      }
    }
    assert.deepEqual(codes, [200, 200, 200, 429, 429]);
    // downloads are not uploads
    const r = await rl.call('GET', '/object/b/f0');
    assert.equal(r.status, 200, fmt(r));
  } finally {
    await disposeServer(s2);
  }
});

test('public downloads are remembered a moment, but a write through the API shows at once', async () => {
  await call('POST', '/bucket', { body: { name: 'hot', public: true } });
  await upload('hot/a.txt', Buffer.from('one'), { type: 'text/plain' });
  const get = () => bytesOf(url('/object/public/hot/a.txt'));
  assert.equal((await get()).bytes.toString(), 'one');
  await upload('hot/a.txt', Buffer.from('two'), { method: 'PUT', type: 'text/plain' });
  assert.equal((await get()).bytes.toString(), 'two', 'an update is served at once');
  let r = await call('PUT', '/bucket/hot', { body: { public: false } });
  assert.equal(r.status, 200, fmt(r));
  assert.equal((await get()).status, 404, 'a bucket made private stops serving at once');
  await call('PUT', '/bucket/hot', { body: { public: true } });
  assert.equal((await get()).status, 200);
  await call('DELETE', '/object/hot/a.txt');
  assert.equal((await get()).status, 404, 'a deleted object is gone at once');
  // a change made behind the API (SQL) shows within storage.public_cache_ttl_ms (1 s)
  await upload('hot/b.txt', Buffer.from('b'), { type: 'text/plain' });
  const getB = () => bytesOf(url('/object/public/hot/b.txt'));
  assert.equal((await getB()).status, 200);
  await sql("update storage.buckets set public = false where id = 'hot'");
  await sleep(1100);
  assert.equal((await getB()).status, 404);
});
