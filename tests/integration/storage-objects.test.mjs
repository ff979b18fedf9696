// Storage plugin: object upload (raw body), download (as the caller or
// public; Range, ETag/304, Content-Disposition), update, upsert, delete, key validation, limits
// and RLS, against the real server, PostgreSQL and blob directory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, disposeServer, databasePlugin, fmt, storagePlugin } from './harness.mjs';
import { openStorageProject } from './storage-helpers.mjs';

let server, ref, anon, service, url, call, upload, sql, blobFiles;
// Raw bytes of a download (the harness decodes as UTF-8).
function getBytes(p, headers = {}, key = service) {
  return new Promise((resolve, reject) => {
    import('node:http').then(({ default: http }) => {
      const req = http.request(
        { host: '127.0.0.1', port: server.port, path: url(p), method: 'GET', headers: { apikey: key, ...headers } },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, bytes: Buffer.concat(chunks) }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  });
}

before(async () => {
  server = await startServer({ plugins: `${databasePlugin},${storagePlugin}` });
  ({ ref, anon, service, url, call, upload, sql, blobFiles } = await openStorageProject(server, 'objects'));
  for (const b of [
    { name: 'private' },
    { name: 'public', public: true },
    { name: 'images', allowed_mime_types: ['image/*'], file_size_limit: 1024 },
  ]) {
    const r = await call('POST', '/bucket', { body: b });
    assert.equal(r.status, 200, fmt(r));
  }
});
after(() => disposeServer(server));

test('round trips are byte-exact (1 byte, 1 MiB) and the answer is {Id, Key}', async () => {
  for (const size of [1, 1024 * 1024]) {
    const bytes = crypto.randomBytes(size);
    const r = await upload(`private/dir/file-${size}.bin`, bytes);
    assert.equal(r.status, 200, fmt(r));
    assert.match(r.json.Id, /^[0-9a-f-]{36}$/);
    assert.equal(r.json.Key, `private/dir/file-${size}.bin`);
    const d = await getBytes(`/object/private/dir/file-${size}.bin`);
    assert.equal(d.status, 200);
    assert.ok(d.bytes.equals(bytes), `download of ${size} bytes differs`);
    assert.equal(d.headers['content-length'], String(size));
    assert.equal(d.headers.etag, `"${crypto.createHash('md5').update(bytes).digest('hex')}"`);
    const a = await getBytes(`/object/authenticated/private/dir/file-${size}.bin`);
    assert.ok(a.bytes.equals(bytes));
  }
  const rows = await sql("select name, metadata->>'size' as size from storage.objects where bucket_id = 'private' order by name");
  assert.deepEqual(rows.map((r) => [r.name, r.size]), [['dir/file-1.bin', '1'], ['dir/file-1048576.bin', '1048576']]);
});

test('Range, If-None-Match, HEAD, Cache-Control and ?download', async () => {
  const bytes = Buffer.from('0123456789');
  await upload('private/range.txt', bytes, { type: 'text/plain', headers: { 'cache-control': 'max-age=60' } });
  let d = await getBytes('/object/private/range.txt', { range: 'bytes=2-5' });
  assert.equal(d.status, 206);
  assert.equal(d.bytes.toString(), '2345');
  assert.equal(d.headers['content-range'], 'bytes 2-5/10');
  d = await getBytes('/object/private/range.txt', { range: 'bytes=-3' });
  assert.equal(d.bytes.toString(), '789');
  d = await getBytes('/object/private/range.txt', { range: 'bytes=20-' });
  assert.equal(d.status, 416);
  d = await getBytes('/object/private/range.txt');
  assert.equal(d.headers['content-type'], 'text/plain');
  assert.equal(d.headers['cache-control'], 'max-age=60');
  assert.ok(d.headers['last-modified']);
  const again = await getBytes('/object/private/range.txt', { 'if-none-match': d.headers.etag });
  assert.equal(again.status, 304);
  assert.equal(again.bytes.length, 0);
  const h = await call('HEAD', '/object/private/range.txt');
  assert.equal(h.status, 200);
  assert.equal(h.headers['content-length'], '10');
  d = await getBytes('/object/private/range.txt?download=my"name.txt');
  assert.equal(d.headers['content-disposition'], 'attachment; filename="myname.txt"');
});

test('public buckets serve /object/public without a key; private ones do not', async () => {
  await upload('public/logo.png', Buffer.from('png'), { type: 'image/png' });
  await upload('private/secret.txt', Buffer.from('s'), { type: 'text/plain' });
  let r = await server.request('GET', url('/object/public/public/logo.png'));
  assert.equal(r.status, 200, fmt(r));
  assert.equal(r.text, 'png');
  r = await server.request('GET', url('/object/public/private/secret.txt'));
  assert.equal(r.status, 404, fmt(r));
  assert.equal(r.json.statusCode, '404');
  r = await call('GET', '/object/private/secret.txt', { key: anon });
  assert.equal(r.status, 404, `anon without a policy must not see it: ${fmt(r)}`);
});

test('duplicates, x-upsert and PUT replace the object; the old blob is removed', async () => {
  const before = blobFiles().length;
  assert.equal((await upload('private/v.txt', Buffer.from('one'))).status, 200);
  let r = await upload('private/v.txt', Buffer.from('two'));
  assert.equal(r.status, 409, fmt(r));
  assert.equal(r.json.error, 'Duplicate');
  r = await upload('private/v.txt', Buffer.from('three'), { headers: { 'x-upsert': 'true' } });
  assert.equal(r.status, 200, fmt(r));
  assert.equal((await getBytes('/object/private/v.txt')).bytes.toString(), 'three');
  r = await upload('private/v.txt', Buffer.from('four'), { method: 'PUT' });
  assert.equal(r.status, 200, fmt(r));
  assert.equal((await getBytes('/object/private/v.txt')).bytes.toString(), 'four');
  r = await upload('private/none.txt', Buffer.from('x'), { method: 'PUT' });
  assert.equal(r.status, 404, fmt(r));
  assert.equal(blobFiles().length, before + 1, 'one blob for v.txt, none left over');
  r = await call('DELETE', '/object/private/v.txt');
  assert.deepEqual(r.json, { message: 'Successfully deleted' });
  assert.equal(blobFiles().length, before);
  assert.equal((await call('GET', '/object/private/v.txt')).status, 404);
  assert.equal((await call('DELETE', '/object/private/v.txt')).status, 404);
});

test('bad keys are refused with 400 and store nothing', async () => {
  const before = blobFiles().length;
  for (const p of ['private/../x', 'private/a/./b', 'private/a//b', 'private/%2e%2e/x', 'private/a%00b', 'private/a%0Ab', 'private/%2Fabs']) {
    const r = await upload(p, Buffer.from('x'));
    assert.equal(r.status, 400, `${p}: ${fmt(r)}`);
    // An encoded NUL is refused by the host before any plugin sees the path.
    assert.equal(r.json.error, p.includes('%00') ? 'Malformed request path' : 'InvalidKey', `${p}: ${fmt(r)}`);
  }
  assert.equal(blobFiles().length, before);
  const rows = await sql("select count(*)::int as n from storage.objects where name like '%..%' or name like '%//%'");
  assert.equal(rows[0].n, 0);
});

test('bucket limits: MIME type 415, size 413, unknown bucket 404; nothing stored', async () => {
  const before = blobFiles().length;
  let r = await upload('images/a.txt', Buffer.from('x'), { type: 'text/plain' });
  assert.equal(r.status, 415, fmt(r));
  r = await upload('images/big.png', crypto.randomBytes(2048), { type: 'image/png' });
  assert.equal(r.status, 413, fmt(r));
  r = await upload('images/ok.png', crypto.randomBytes(1024), { type: 'image/png' });
  assert.equal(r.status, 200, fmt(r));
  r = await upload('nosuch/a.bin', Buffer.from('x'));
  assert.equal(r.status, 404, fmt(r));
  assert.equal(blobFiles().length, before + 1);
});

test('RLS decides who may upload and read', async () => {
  let r = await upload('private/anon.txt', Buffer.from('x'), { key: anon });
  assert.equal(r.status, 403, fmt(r));
  assert.equal(r.json.error, 'Unauthorized');
  await sql("create policy drop_in on storage.objects for insert to anon with check (bucket_id = 'public')");
  await sql("create policy read_public on storage.objects for select to anon using (bucket_id = 'public')");
  r = await upload('public/from-anon.txt', Buffer.from('hello'), { key: anon, type: 'text/plain' });
  assert.equal(r.status, 200, fmt(r));
  r = await call('GET', '/object/authenticated/public/from-anon.txt', { key: anon });
  assert.equal(r.text, 'hello', fmt(r));
  r = await upload('private/anon2.txt', Buffer.from('x'), { key: anon });
  assert.equal(r.status, 403, fmt(r));
});

test('list: one level of the tree, folders with id null, search, sort, paging, RLS', async () => {
  await call('POST', '/bucket', { body: { name: 'tree' } });
  for (const p of ['a.txt', 'b.txt', 'docs/one.md', 'docs/two.md', 'docs/deep/three.md', 'pics/x.png'])
    assert.equal((await upload(`tree/${p}`, Buffer.from(p), { type: 'text/plain' })).status, 200);
  const list = (body, key = service) => call('POST', '/object/list/tree', { key, body });
  let r = await list({ prefix: '' });
  assert.equal(r.status, 200, fmt(r));
  assert.deepEqual(r.json.map((e) => [e.name, e.id === null]), [
    ['a.txt', false], ['b.txt', false], ['docs', true], ['pics', true],
  ]);
  const file = r.json[0];
  assert.equal(file.metadata.size, 5);
  assert.equal(file.metadata.mimetype, 'text/plain');
  assert.deepEqual(Object.keys(r.json[2]).sort(), ['created_at', 'id', 'last_accessed_at', 'metadata', 'name', 'updated_at']);
  r = await list({ prefix: 'docs' });
  assert.deepEqual(r.json.map((e) => e.name), ['deep', 'one.md', 'two.md']);
  r = await list({ prefix: 'docs/', search: 'T' });
  assert.deepEqual(r.json.map((e) => e.name), ['two.md']);
  r = await list({ prefix: '', limit: 2, offset: 1, sortBy: { column: 'name', order: 'desc' } });
  assert.deepEqual(r.json.map((e) => e.name), ['docs', 'b.txt']);
  r = await list({ prefix: '', sortBy: { column: 'name; drop table x', order: 'asc' } });
  assert.equal(r.status, 400, fmt(r));
  r = await list({ prefix: '' }, anon);
  assert.deepEqual(r.json, [], 'anon sees nothing without a policy');
});
