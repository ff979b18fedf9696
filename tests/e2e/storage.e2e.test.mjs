// supabase.storage.* (storage-js as bundled by supabase-js v2) against /storage/v1: buckets
// (create/get/list/update/empty/delete, errors), uploads (raw Buffer/Uint8Array with
// contentType/cacheControl/upsert/x-metadata, multipart Blob), update(), bucket limits, byte-exact
// round trips (1 B, 1 MiB, 100 MiB), info()/exists(), list() (folders, prefix, paging, sort,
// search), move/copy/remove, signed URLs (download, tampered, expired, batch), signed uploads,
// public URLs, and RLS on storage.objects per user. Expected `statusCode` strings, `error` codes
// and messages are those of supabase/storage's handlers. HTTP statuses are the real ones (404, 409,
// 413, ...), as the storage plugin answers: Supabase itself answers 400 for every 4xx and keeps the
// real one only in the body's statusCode, which storage-js exposes as error.statusCode.
import crypto, { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { defineSuite, assert, collect } from './lib.mjs';
import {
  storagePlugins,
  sha256,
  md5,
  blobBytes,
  sfails,
  sok,
  plainFetcher,
  tamper,
  assertRecent,
} from './storage-lib.mjs';

// storage.max_file_size (Supabase's FILE_SIZE_LIMIT, 50 MB by default) raised for the 100 MiB round trip.
const ctx = defineSuite('storage', { plugins: storagePlugins, env: { ALPACA_STORAGE_MAX_FILE_SIZE: '200MB' } });
const t = ctx.test;
const http = plainFetcher(ctx.log);

const A = randomUUID();
const B = randomUUID();
let service, anon, asA, asB;

const storageUrl = () => `${ctx.project.url}/storage/v1`;

t('setup: clients', async () => {
  service = ctx.service();
  anon = ctx.anon();
  asA = ctx.user(A, 'alice@example.com');
  asB = ctx.user(B, 'bob@example.com');
  assert.equal(service.storage.url, storageUrl());
});

// ---------------------------------------------------------------------------------------------
// buckets

t('createBucket: private, public, with fileSizeLimit and allowedMimeTypes → { name }', async () => {
  assert.deepEqual(sok(await service.storage.createBucket('files')), { name: 'files' });
  assert.deepEqual(sok(await service.storage.createBucket('pub', { public: true })), { name: 'pub' });
  assert.deepEqual(
    sok(await service.storage.createBucket('imgs', { public: false, fileSizeLimit: 1024, allowedMimeTypes: ['image/png', 'image/jpeg'] })),
    { name: 'imgs' },
  );
  assert.deepEqual(sok(await service.storage.createBucket('sized', { fileSizeLimit: '1MB', allowedMimeTypes: ['text/*'] })), {
    name: 'sized',
  });
});

t('getBucket: id, name, owner, public, file_size_limit, allowed_mime_types, timestamps', async () => {
  const b = sok(await service.storage.getBucket('imgs'));
  assert.equal(b.id, 'imgs');
  assert.equal(b.name, 'imgs');
  assert.equal(b.public, false);
  assert.equal(b.file_size_limit, 1024);
  assert.deepEqual(b.allowed_mime_types, ['image/png', 'image/jpeg']);
  assert.equal(b.owner, '', 'created with the service key: no owner');
  assertRecent(b.created_at, 'created_at');
  assertRecent(b.updated_at, 'updated_at');
  for (const k of ['id', 'name', 'owner', 'public', 'file_size_limit', 'allowed_mime_types', 'created_at', 'updated_at'])
    assert.ok(k in b, `bucket has no ${k}: ${JSON.stringify(b)}`);
  const p = sok(await service.storage.getBucket('pub'));
  assert.equal(p.public, true);
  assert.equal(p.file_size_limit, null);
  assert.equal(p.allowed_mime_types, null);
  const s = sok(await service.storage.getBucket('sized'));
  assert.equal(s.file_size_limit, 1048576, '"1MB" is 1048576 bytes');
  assert.deepEqual(s.allowed_mime_types, ['text/*']);
});

t('listBuckets: every bucket', async () => {
  const list = sok(await service.storage.listBuckets());
  assert.deepEqual(list.map((b) => b.name).sort(), ['files', 'imgs', 'pub', 'sized']);
  assert.equal(list.find((b) => b.id === 'pub').public, true);
});

t('updateBucket: public, fileSizeLimit, allowedMimeTypes → { message: "Successfully updated" }', async () => {
  sok(await service.storage.createBucket('upd'));
  assert.deepEqual(
    sok(await service.storage.updateBucket('upd', { public: true, fileSizeLimit: 2048, allowedMimeTypes: ['application/json'] })),
    { message: 'Successfully updated' },
  );
  let b = sok(await service.storage.getBucket('upd'));
  assert.deepEqual([b.public, b.file_size_limit, b.allowed_mime_types], [true, 2048, ['application/json']]);
  sok(await service.storage.updateBucket('upd', { public: false, fileSizeLimit: null, allowedMimeTypes: null }));
  b = sok(await service.storage.getBucket('upd'));
  assert.deepEqual([b.public, b.file_size_limit, b.allowed_mime_types], [false, null, null]);
});

t('bucket errors: unknown bucket 404, duplicate 409, non-empty delete 409, anon create 403', async () => {
  sfails(await service.storage.getBucket('nope'), { status: 404, statusCode: '404', message: 'Bucket not found', error: 'Bucket not found', log: ctx.log }, 'getBucket(nope)');
  sfails(await service.storage.createBucket('files'), { status: 409, statusCode: '409', message: 'The resource already exists', error: 'Duplicate', log: ctx.log }, 'createBucket(files) again');
  sfails(await service.storage.updateBucket('nope', { public: true }), { status: 404, statusCode: '404', message: 'Bucket not found' }, 'updateBucket(nope)');
  sfails(await service.storage.deleteBucket('nope'), { status: 404, statusCode: '404', message: 'Bucket not found' }, 'deleteBucket(nope)');
  sok(await service.storage.from('upd').upload('x.txt', Buffer.from('x')));
  sfails(
    await service.storage.deleteBucket('upd'),
    { status: 409, statusCode: '409', message: 'The bucket you tried to delete is not empty' },
    'deleteBucket(non-empty)',
  );
  // Without a policy on storage.buckets only service_role may create (RLS: 403 Unauthorized).
  sfails(await anon.storage.createBucket('by-anon'), { status: 403, statusCode: '403', message: /row-level security/, error: 'Unauthorized', log: ctx.log }, 'anon createBucket');
  assert.deepEqual(sok(await anon.storage.listBuckets()), [], 'anon sees no buckets without a policy');
});

t('createBucket with an invalid name → 400 "Bucket name invalid"', async () => {
  const c = collect();
  // (supabase/storage's isValidBucketName: 1-100 of \w ! - . * ' ( ) space & $ @ = ; : + , ?)
  for (const name of ['a/b', 'a\\b', 'x'.repeat(101), 'ü']) {
    const label = `createBucket(${JSON.stringify(name.slice(0, 10))})`;
    await c.equal(
      label,
      service.storage.createBucket(name).then((r) => [r.error?.status, r.error?.statusCode, r.error?.message, JSON.parse(ctx.log.at(-1).response).error]),
      [400, '400', 'Bucket name invalid', 'Invalid Input'],
    );
  }
  c.done();
  assert.deepEqual(sok(await service.storage.listBuckets()).map((b) => b.name).sort(), ['files', 'imgs', 'pub', 'sized', 'upd']);
});

t('emptyBucket → { message: "Successfully emptied" }, then deleteBucket → { message: "Successfully deleted" }', async () => {
  sok(await service.storage.createBucket('tmp'));
  for (const p of ['a.txt', 'b.txt', 'dir/c.txt', 'dir/deeper/d.txt'])
    sok(await service.storage.from('tmp').upload(p, Buffer.from(p)), `upload ${p}`);
  assert.deepEqual(sok(await service.storage.emptyBucket('tmp')), { message: 'Successfully emptied' });
  assert.deepEqual(sok(await service.storage.from('tmp').list()), []);
  assert.deepEqual(sok(await service.storage.from('tmp').list('dir')), []);
  assert.deepEqual(sok(await service.storage.deleteBucket('tmp')), { message: 'Successfully deleted' });
  sfails(await service.storage.getBucket('tmp'), { status: 404, statusCode: '404', message: 'Bucket not found' });
  sfails(await service.storage.emptyBucket('tmp'), { status: 404, statusCode: '404', message: 'Bucket not found' }, 'emptyBucket(gone)');
});

// ---------------------------------------------------------------------------------------------
// uploads

t('upload (Buffer): { path, id, fullPath }; contentType, cacheControl, metadata are stored', async () => {
  const bytes = Buffer.from('hello storage');
  const d = sok(
    await service.storage.from('files').upload('dir/hello.txt', bytes, {
      contentType: 'text/plain',
      cacheControl: '60',
      metadata: { owner: 'alice', n: 1, nested: { ok: true } },
    }),
  );
  assert.equal(d.path, 'dir/hello.txt');
  assert.equal(d.fullPath, 'files/dir/hello.txt');
  assert.match(d.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  const blob = sok(await service.storage.from('files').download('dir/hello.txt'));
  assert.equal(blob.type, 'text/plain');
  assert.equal((await blobBytes(blob)).toString(), 'hello storage');
  const dl = ctx.log.at(-1);
  assert.equal(dl.resHeaders['cache-control'], 'max-age=60');
  assert.equal(dl.resHeaders.etag, `"${md5(bytes)}"`);
  const info = sok(await service.storage.from('files').info('dir/hello.txt'));
  assert.deepEqual(info.metadata, { owner: 'alice', n: 1, nested: { ok: true } });
  assert.equal(info.cacheControl, 'max-age=60');
  assert.equal(info.contentType, 'text/plain');
});

t('upload (Uint8Array) with the default contentType text/plain;charset=UTF-8 and cacheControl 3600', async () => {
  const d = sok(await service.storage.from('files').upload('u8.bin', new Uint8Array([0, 1, 2, 255])));
  assert.deepEqual([d.path, d.fullPath], ['u8.bin', 'files/u8.bin']);
  const blob = sok(await service.storage.from('files').download('u8.bin'));
  assert.deepEqual([...(await blobBytes(blob))], [0, 1, 2, 255]);
  assert.equal(blob.type, 'text/plain;charset=utf-8');
  const info = sok(await service.storage.from('files').info('u8.bin'));
  assert.equal(info.contentType, 'text/plain;charset=UTF-8');
  assert.equal(info.cacheControl, 'max-age=3600');
  assert.equal(info.size, 4);
});

t('upload (Blob) as multipart/form-data: the file part type, cacheControl and metadata fields', async () => {
  const bytes = crypto.randomBytes(3000);
  const blob = new Blob([bytes], { type: 'image/png' });
  const d = sok(
    await service.storage.from('files').upload('multi/pic.png', blob, { cacheControl: '120', metadata: { kind: 'avatar' } }),
  );
  assert.deepEqual([d.path, d.fullPath], ['multi/pic.png', 'files/multi/pic.png']);
  assert.match(d.id, /^[0-9a-f-]{36}$/);
  const up = ctx.log.find((e) => e.method === 'POST' && e.url.endsWith('/object/files/multi/pic.png'));
  assert.ok(up && up.body instanceof FormData, 'supabase-js sent a FormData body');
  const got = sok(await service.storage.from('files').download('multi/pic.png'));
  assert.equal(got.type, 'image/png');
  const back = await blobBytes(got);
  assert.equal(back.length, 3000);
  assert.equal(sha256(back), sha256(bytes), 'the stored bytes are the file part only');
  const info = sok(await service.storage.from('files').info('multi/pic.png'));
  assert.equal(info.contentType, 'image/png');
  assert.equal(info.cacheControl, 'max-age=120');
  assert.equal(info.size, 3000);
  assert.deepEqual(info.metadata, { kind: 'avatar' });
  // A Blob without a type is sent as application/octet-stream; a File keeps its name out of the key.
  sok(await service.storage.from('files').upload('multi/raw', new Blob([Buffer.from('abc')])));
  const i2 = sok(await service.storage.from('files').info('multi/raw'));
  assert.equal(i2.contentType, 'application/octet-stream');
  assert.equal(i2.size, 3);
  // storage-js drops a leading slash and empty folders from the path
  const clean = sok(await service.storage.from('files').upload('/multi//clean/', new Blob(['c'])));
  assert.deepEqual([clean.path, clean.fullPath], ['multi/clean', 'files/multi/clean']);
  sok(await service.storage.from('files').upload('multi/f.txt', new File(['file body'], 'other-name.bin', { type: 'text/plain' })));
  assert.equal((await blobBytes(sok(await service.storage.from('files').download('multi/f.txt')))).toString(), 'file body');
});

t('upload to an existing path: upsert false → 409 Duplicate; upsert true → replaced; update() replaces', async () => {
  const f = service.storage.from('files');
  sok(await f.upload('v.txt', Buffer.from('one'), { contentType: 'text/plain' }));
  sfails(
    await f.upload('v.txt', Buffer.from('two'), { contentType: 'text/plain' }),
    { status: 409, statusCode: '409', message: 'The resource already exists', error: 'Duplicate', log: ctx.log },
    'upload without upsert',
  );
  assert.equal(ctx.log.at(-1).headers['x-upsert'], 'false');
  assert.equal((await blobBytes(sok(await f.download('v.txt')))).toString(), 'one');
  sok(await f.upload('v.txt', Buffer.from('three'), { contentType: 'text/plain', upsert: true }));
  assert.equal((await blobBytes(sok(await f.download('v.txt')))).toString(), 'three');
  const u = sok(await f.update('v.txt', Buffer.from('four!'), { contentType: 'text/markdown', cacheControl: '10' }));
  assert.deepEqual([u.path, u.fullPath], ['v.txt', 'files/v.txt']);
  assert.match(u.id, /^[0-9a-f-]{36}$/);
  const blob = sok(await f.download('v.txt'));
  assert.equal((await blobBytes(blob)).toString(), 'four!');
  assert.equal(blob.type, 'text/markdown');
  const info = sok(await f.info('v.txt'));
  assert.deepEqual([info.size, info.contentType, info.cacheControl], [5, 'text/markdown', 'max-age=10']);
  // update() of a path that does not exist
  sfails(await f.update('never.txt', Buffer.from('x')), { status: 404, statusCode: '404', message: 'Object not found' }, 'update(missing)');
  // a Blob upsert (multipart) replaces too
  sok(await f.upload('v.txt', new Blob(['five'], { type: 'text/plain' }), { upsert: true }));
  assert.equal((await blobBytes(sok(await f.download('v.txt')))).toString(), 'five');
});

t('bucket limits: over fileSizeLimit → 413, MIME type not allowed → 415; nothing stored', async () => {
  const imgs = service.storage.from('imgs');
  sfails(
    await imgs.upload('big.png', crypto.randomBytes(1025), { contentType: 'image/png' }),
    { status: 413, statusCode: '413', message: 'The object exceeded the maximum allowed size', error: 'Payload too large', log: ctx.log },
    'over the size limit',
  );
  sfails(
    await imgs.upload('note.txt', Buffer.from('x'), { contentType: 'text/plain' }),
    { status: 415, statusCode: '415', message: 'mime type text/plain is not supported', error: 'invalid_mime_type', log: ctx.log },
    'MIME type not allowed',
  );
  // the same limits apply to multipart uploads
  sfails(
    await imgs.upload('big2.png', new Blob([crypto.randomBytes(2048)], { type: 'image/png' })),
    { status: 413, statusCode: '413', message: 'The object exceeded the maximum allowed size' },
    'multipart over the size limit',
  );
  sfails(
    await imgs.upload('doc.pdf', new Blob([Buffer.from('%PDF')], { type: 'application/pdf' })),
    { status: 415, statusCode: '415', message: 'mime type application/pdf is not supported' },
    'multipart MIME type not allowed',
  );
  sok(await imgs.upload('ok.png', crypto.randomBytes(1024), { contentType: 'image/png' }), 'exactly the limit');
  sok(await service.storage.from('sized').upload('a.md', Buffer.from('# md'), { contentType: 'text/markdown' }), 'text/* wildcard');
  assert.deepEqual(sok(await imgs.list()).map((e) => e.name), ['ok.png']);
  sfails(
    await service.storage.from('nosuch').upload('a.txt', Buffer.from('x')),
    { status: 404, statusCode: '404', message: 'Bucket not found' },
    'upload into an unknown bucket',
  );
});

for (const [label, size, timeout] of [
  ['1 byte', 1, 30000],
  ['1 MiB', 1024 * 1024, 30000],
  ['100 MiB', 100 * 1024 * 1024, 180000],
]) {
  t(
    `byte-exact round trip via upload()/download(): ${label} of random bytes (sha256)`,
    async () => {
      const bytes = crypto.randomBytes(size);
      // The 100 MiB exchange is not logged (the logging fetch clones bodies as text).
      const client = size > 8 * 1024 * 1024 ? ctx.client(ctx.project.serviceKey, undefined, { global: { fetch } }) : service;
      const f = client.storage.from('files');
      const d = sok(await f.upload(`rt/${size}.bin`, bytes, { contentType: 'application/octet-stream' }), `upload ${label}`);
      assert.equal(d.fullPath, `files/rt/${size}.bin`);
      const blob = sok(await f.download(`rt/${size}.bin`), `download ${label}`);
      assert.equal(blob.size, size);
      assert.equal(sha256(await blobBytes(blob)), sha256(bytes));
      const info = sok(await f.info(`rt/${size}.bin`));
      assert.equal(info.size, size);
      assert.equal(info.etag, `"${md5(bytes)}"`);
    },
    { timeout },
  );
}

t('download of a missing path or bucket → 404 "Object not found" / "Bucket not found"', async () => {
  sfails(
    await service.storage.from('files').download('no/such.txt'),
    { status: 404, statusCode: '404', message: 'Object not found', error: 'not_found', log: ctx.log },
    'download(missing)',
  );
  sfails(await service.storage.from('nosuch').download('a.txt'), { status: [400, 404], statusCode: '404', message: ['Bucket not found', 'Object not found'] }, 'download from unknown bucket');
});

// ---------------------------------------------------------------------------------------------
// info, exists

t('info(): Supabase\'s object info, camelCased', async () => {
  const bytes = Buffer.from('{"a":1}');
  const up = sok(
    await service.storage.from('files').upload('info/data.json', bytes, { contentType: 'application/json', cacheControl: '300', metadata: { tag: 'x' } }),
  );
  const info = sok(await service.storage.from('files').info('info/data.json'));
  assert.deepEqual(Object.keys(info).sort(), [
    'bucketId', 'cacheControl', 'contentType', 'createdAt', 'etag', 'id', 'lastModified', 'metadata', 'name', 'size', 'version',
  ]);
  assert.equal(info.id, up.id);
  assert.equal(info.name, 'info/data.json');
  assert.equal(info.bucketId, 'files');
  assert.equal(info.size, 7);
  assert.equal(info.contentType, 'application/json');
  assert.equal(info.cacheControl, 'max-age=300');
  assert.equal(info.etag, `"${md5(bytes)}"`);
  assert.deepEqual(info.metadata, { tag: 'x' });
  assert.equal(typeof info.version, 'string');
  assertRecent(info.lastModified, 'lastModified');
  assertRecent(info.createdAt, 'createdAt');
  // without user metadata: null
  const plain = sok(await service.storage.from('files').info('u8.bin'));
  assert.equal(plain.metadata, null);
  sfails(await service.storage.from('files').info('info/none.json'), { status: 404, statusCode: '404', message: 'Object not found' }, 'info(missing)');
});

t('exists(): true for an object, false (with the 404 error) for a missing one', async () => {
  const yes = await service.storage.from('files').exists('info/data.json');
  assert.deepEqual([yes.data, yes.error], [true, null]);
  const no = await service.storage.from('files').exists('info/none.json');
  assert.equal(no.data, false);
  assert.equal(no.error?.statusCode, '404');
  // RLS: anon without a policy does not see it
  const hidden = await anon.storage.from('files').exists('info/data.json');
  assert.equal(hidden.data, false);
});

// ---------------------------------------------------------------------------------------------
// list

t('list(): one level, folders (id null, metadata null) and files (metadata), prefix with or without /', async () => {
  sok(await service.storage.createBucket('tree'));
  const tree = service.storage.from('tree');
  for (const p of ['b.txt', 'a.txt', 'docs/one.md', 'docs/two.md', 'docs/three.md', 'docs/deep/x.md', 'pics/b.png', 'pics/a.png']) {
    sok(await tree.upload(p, Buffer.from(p), { contentType: p.endsWith('.png') ? 'image/png' : 'text/plain', cacheControl: '100' }), p);
    await sleep(5);
  }
  const root = sok(await tree.list());
  assert.deepEqual(root.map((e) => [e.name, e.id === null]), [
    ['a.txt', false], ['b.txt', false], ['docs', true], ['pics', true],
  ]);
  const a = root[0];
  assert.match(a.id, /^[0-9a-f-]{36}$/);
  assert.equal(a.metadata.size, 5);
  assert.equal(a.metadata.mimetype, 'text/plain');
  assert.equal(a.metadata.cacheControl, 'max-age=100');
  assert.equal(a.metadata.eTag, `"${md5(Buffer.from('a.txt'))}"`);
  assertRecent(a.created_at, 'created_at');
  assertRecent(a.updated_at, 'updated_at');
  assert.equal(root[2].metadata, null, 'a folder has no metadata');
  const ls = ['a.txt', 'b.txt', 'docs', 'pics'];
  assert.deepEqual(sok(await tree.list('')).map((e) => e.name), ls);
  assert.deepEqual(sok(await tree.list('docs')).map((e) => e.name), ['deep', 'one.md', 'three.md', 'two.md']);
  assert.deepEqual(sok(await tree.list('docs/')).map((e) => e.name), ['deep', 'one.md', 'three.md', 'two.md']);
  assert.deepEqual(sok(await tree.list('docs/deep')).map((e) => e.name), ['x.md']);
  assert.deepEqual(sok(await tree.list('nothing-here')), []);
});

t("list(): a file's metadata is Supabase's object metadata (eTag, size, mimetype, cacheControl, lastModified, contentLength, httpStatusCode)", async () => {
  const [a] = sok(await service.storage.from('tree').list('', { limit: 1 }));
  assert.equal(a.name, 'a.txt');
  assert.deepEqual(Object.keys(a.metadata).sort(), ['cacheControl', 'contentLength', 'eTag', 'httpStatusCode', 'lastModified', 'mimetype', 'size']);
  assert.equal(a.metadata.contentLength, 5);
  assert.equal(a.metadata.httpStatusCode, 200);
  assertRecent(a.metadata.lastModified, 'metadata.lastModified');
  assert.deepEqual(Object.keys(a).sort(), ['created_at', 'id', 'last_accessed_at', 'metadata', 'name', 'updated_at']);
});

t('list(): limit/offset, sortBy name desc and created_at, search', async () => {
  const tree = service.storage.from('tree');
  assert.deepEqual(sok(await tree.list('', { limit: 2 })).map((e) => e.name), ['a.txt', 'b.txt']);
  assert.deepEqual(sok(await tree.list('', { limit: 2, offset: 2 })).map((e) => e.name), ['docs', 'pics']);
  assert.deepEqual(sok(await tree.list('', { limit: 2, offset: 1, sortBy: { column: 'name', order: 'desc' } })).map((e) => e.name), ['docs', 'b.txt']);
  assert.deepEqual(sok(await tree.list('docs', { sortBy: { column: 'name', order: 'desc' } })).map((e) => e.name), ['two.md', 'three.md', 'one.md', 'deep']);
  // pics/b.png was uploaded before pics/a.png
  assert.deepEqual(sok(await tree.list('pics', { sortBy: { column: 'created_at', order: 'asc' } })).map((e) => e.name), ['b.png', 'a.png']);
  assert.deepEqual(sok(await tree.list('pics', { sortBy: { column: 'created_at', order: 'desc' } })).map((e) => e.name), ['a.png', 'b.png']);
  assert.deepEqual(sok(await tree.list('pics', { sortBy: { column: 'name' } })).map((e) => e.name), ['a.png', 'b.png']);
  // search: a case-insensitive match on the names of that level
  assert.deepEqual(sok(await tree.list('docs', { search: 'T' })).map((e) => e.name), ['three.md', 'two.md']);
  assert.deepEqual(sok(await tree.list('', { search: 'doc' })).map((e) => e.name), ['docs']);
  assert.deepEqual(sok(await tree.list('', { search: 'zzz' })), []);
  // RLS: anon sees nothing without a policy
  assert.deepEqual(sok(await anon.storage.from('tree').list()), []);
});

// ---------------------------------------------------------------------------------------------
// move, copy, remove

t('move(): { message: "Successfully moved" }; the source is gone, the destination has the bytes and metadata', async () => {
  const f = service.storage.from('files');
  const bytes = crypto.randomBytes(5000);
  const up = sok(await f.upload('mv/src.bin', bytes, { contentType: 'application/x-thing', metadata: { m: 1 } }));
  const d = sok(await f.move('mv/src.bin', 'mv/sub/dst.bin'));
  assert.equal(d.message, 'Successfully moved');
  sfails(await f.download('mv/src.bin'), { status: 404, statusCode: '404', message: 'Object not found' }, 'source after move');
  const blob = sok(await f.download('mv/sub/dst.bin'));
  assert.equal(sha256(await blobBytes(blob)), sha256(bytes));
  const info = sok(await f.info('mv/sub/dst.bin'));
  assert.equal(info.id, up.id, 'move keeps the object id');
  assert.equal(info.contentType, 'application/x-thing');
  assert.deepEqual(info.metadata, { m: 1 });
  assert.deepEqual(sok(await f.list('mv')).map((e) => e.name), ['sub']);
  // missing source; destination in another bucket
  sfails(await f.move('mv/none.bin', 'mv/x.bin'), { status: 404, statusCode: '404', message: 'Object not found' }, 'move(missing)');
  sok(await f.move('mv/sub/dst.bin', 'moved.bin', { destinationBucket: 'tree' }));
  assert.equal(sha256(await blobBytes(sok(await service.storage.from('tree').download('moved.bin')))), sha256(bytes));
  sfails(await f.download('mv/sub/dst.bin'), { status: 404, statusCode: '404', message: 'Object not found' });
});

t('move() onto an existing object → 409 Duplicate, both unchanged', async () => {
  const f = service.storage.from('files');
  sok(await f.upload('mv2/a.txt', Buffer.from('A')));
  sok(await f.upload('mv2/b.txt', Buffer.from('B')));
  sfails(await f.move('mv2/a.txt', 'mv2/b.txt'), { status: 409, statusCode: '409', message: 'The resource already exists' }, 'move onto existing');
  assert.equal((await blobBytes(sok(await f.download('mv2/a.txt')))).toString(), 'A');
  assert.equal((await blobBytes(sok(await f.download('mv2/b.txt')))).toString(), 'B');
});

t('copy(): { path: "<bucket>/<dest>" }; both download right; content type and metadata copied', async () => {
  const f = service.storage.from('files');
  const bytes = crypto.randomBytes(4096);
  const up = sok(await f.upload('cp/src.bin', bytes, { contentType: 'image/webp', cacheControl: '77', metadata: { c: 'y' } }));
  const d = sok(await f.copy('cp/src.bin', 'cp/dst.bin'));
  assert.deepEqual(d, { path: 'files/cp/dst.bin' });
  for (const p of ['cp/src.bin', 'cp/dst.bin']) {
    const blob = sok(await f.download(p), p);
    assert.equal(sha256(await blobBytes(blob)), sha256(bytes), p);
    assert.equal(blob.type, 'image/webp', p);
  }
  const info = sok(await f.info('cp/dst.bin'));
  assert.notEqual(info.id, up.id, 'the copy is a new object');
  assert.deepEqual([info.contentType, info.cacheControl, info.size], ['image/webp', 'max-age=77', 4096]);
  assert.deepEqual(info.metadata, { c: 'y' });
  // the copy is independent of its source
  sok(await f.update('cp/src.bin', Buffer.from('changed')));
  assert.equal(sha256(await blobBytes(sok(await f.download('cp/dst.bin')))), sha256(bytes));
  // to another bucket; onto an existing object; from a missing source
  assert.deepEqual(sok(await f.copy('cp/dst.bin', 'copied.bin', { destinationBucket: 'tree' })), { path: 'tree/copied.bin' });
  assert.equal(sha256(await blobBytes(sok(await service.storage.from('tree').download('copied.bin')))), sha256(bytes));
  sfails(await f.copy('cp/src.bin', 'cp/dst.bin'), { status: 409, statusCode: '409', message: 'The resource already exists' }, 'copy onto existing');
  sfails(await f.copy('cp/none.bin', 'cp/x.bin'), { status: 404, statusCode: '404', message: 'Object not found' }, 'copy(missing)');
});

t('remove([paths]): returns the removed objects; missing paths and folder names are ignored', async () => {
  const f = service.storage.from('files');
  for (const p of ['rm/a.txt', 'rm/b.txt', 'rm/keep.txt', 'rm/sub/c.txt']) sok(await f.upload(p, Buffer.from(p)));
  const removed = sok(await f.remove(['rm/a.txt', 'rm/b.txt', 'rm/missing.txt']));
  assert.ok(Array.isArray(removed), `remove returns an array: ${JSON.stringify(removed)}`);
  assert.deepEqual(removed.map((o) => o.name).sort(), ['rm/a.txt', 'rm/b.txt']);
  for (const o of removed) {
    assert.equal(o.bucket_id, 'files');
    assert.match(o.id, /^[0-9a-f-]{36}$/);
  }
  assert.deepEqual(sok(await f.list('rm')).map((e) => e.name), ['keep.txt', 'sub']);
  // Supabase deletes exact names: a folder name removes nothing
  assert.deepEqual(sok(await f.remove(['rm/sub'])), []);
  assert.deepEqual(sok(await f.list('rm/sub')).map((e) => e.name), ['c.txt']);
  assert.deepEqual(sok(await f.remove(['rm/keep.txt', 'rm/sub/c.txt'])).map((o) => o.name).sort(), ['rm/keep.txt', 'rm/sub/c.txt']);
  assert.deepEqual(sok(await f.list('rm')), []);
  sfails(await f.download('rm/a.txt'), { status: 404, statusCode: '404', message: 'Object not found' });
  // RLS: anon removes nothing
  sok(await f.upload('rm/guarded.txt', Buffer.from('g')));
  assert.deepEqual(sok(await anon.storage.from('files').remove(['rm/guarded.txt'])), []);
  sok(await f.download('rm/guarded.txt'));
});

// ---------------------------------------------------------------------------------------------
// signed URLs

t('createSignedUrl: { signedUrl } under /object/sign; plain GET → 200 with the bytes, type, Expires', async () => {
  const f = service.storage.from('files');
  const bytes = crypto.randomBytes(2345);
  sok(await f.upload('signed/photo.jpg', bytes, { contentType: 'image/jpeg', cacheControl: '30' }));
  const { signedUrl } = sok(await f.createSignedUrl('signed/photo.jpg', 60));
  const prefix = `${storageUrl()}/object/sign/files/signed/photo.jpg?token=`;
  assert.ok(signedUrl.startsWith(prefix), `signedUrl ${signedUrl} does not start with ${prefix}`);
  const token = new URL(signedUrl).searchParams.get('token');
  const payload = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
  assert.equal(payload.url, 'files/signed/photo.jpg');
  assert.equal(payload.exp - payload.iat, 60);
  const r = await http(signedUrl);
  assert.equal(r.status, 200, r.text);
  assert.equal(sha256(r.bytes), sha256(bytes));
  assert.equal(r.headers.get('content-type'), 'image/jpeg');
  assert.equal(r.headers.get('content-length'), '2345');
  // Supabase answers a signed URL with Expires (the token's exp) instead of the object's Cache-Control
  assert.equal(r.headers.get('expires'), new Date(payload.exp * 1000).toUTCString(), `Expires (cache-control was ${r.headers.get('cache-control')})`);
  assert.equal(r.headers.get('etag'), `"${md5(bytes)}"`);
  assert.equal(r.headers.get('content-disposition'), null, 'no attachment without download');
  // Range works on signed URLs too
  const part = await http(signedUrl, { headers: { range: 'bytes=0-9' } });
  assert.equal(part.status, 206);
  assert.ok(part.bytes.equals(bytes.subarray(0, 10)));
  // a signed URL for a path with spaces and unicode
  sok(await f.upload('signed/my file ü.txt', Buffer.from('spaced'), { contentType: 'text/plain' }));
  const s2 = sok(await f.createSignedUrl('signed/my file ü.txt', 60)).signedUrl;
  const r2 = await http(s2);
  assert.equal(r2.status, 200, r2.text);
  assert.equal(r2.text, 'spaced');
});

t('createSignedUrl with { download: true | "name" } → Content-Disposition: attachment', async () => {
  const f = service.storage.from('files');
  const { signedUrl } = sok(await f.createSignedUrl('signed/photo.jpg', 60, { download: true }));
  assert.ok(signedUrl.endsWith('&download='), signedUrl);
  let r = await http(signedUrl);
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('content-disposition') || '', /^attachment/);
  const named = sok(await f.createSignedUrl('signed/photo.jpg', 60, { download: 'holiday.jpg' })).signedUrl;
  assert.ok(named.endsWith('&download=holiday.jpg'), named);
  r = await http(named);
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('content-disposition') || '', /^attachment; filename="?holiday\.jpg"?/);
});

t('signed URLs: tampered token → 400 InvalidJWT, expired (expiresIn 1) → 400 "jwt expired", other path → 400', async () => {
  const f = service.storage.from('files');
  const { signedUrl } = sok(await f.createSignedUrl('signed/photo.jpg', 1));
  const u = new URL(signedUrl);
  const token = u.searchParams.get('token');
  u.searchParams.set('token', tamper(token));
  let r = await http(u.href);
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json?.statusCode, '400', r.text);
  assert.equal(r.json?.error, 'InvalidJWT', r.text);
  assert.equal(r.json?.message, 'invalid signature', r.text);
  // the token of one path on another path
  sok(await f.upload('signed/other.txt', Buffer.from('other')));
  r = await http(`${storageUrl()}/object/sign/files/signed/other.txt?token=${token}`);
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json?.statusCode, '400', r.text);
  assert.equal(r.json?.error, 'InvalidSignature', r.text);
  assert.ok(['The url do not match the signature', 'Invalid signature'].includes(r.json?.message), r.text);
  // no token
  r = await http(`${storageUrl()}/object/sign/files/signed/photo.jpg`);
  assert.equal(r.status, 400, r.text);
  await sleep(2500);
  r = await http(signedUrl);
  assert.equal(r.status, 400, r.text);
  assert.deepEqual({ statusCode: r.json?.statusCode, error: r.json?.error, message: r.json?.message }, {
    statusCode: '400',
    error: 'InvalidJWT',
    message: 'jwt expired',
  });
});

t('createSignedUrl of a missing object → 404 "Object not found"; anon without a policy cannot sign', async () => {
  sfails(
    await service.storage.from('files').createSignedUrl('signed/none.jpg', 60),
    { status: 404, statusCode: '404', message: 'Object not found' },
    'sign(missing)',
  );
  sfails(
    await anon.storage.from('files').createSignedUrl('signed/photo.jpg', 60),
    { status: [400, 404], statusCode: '404', message: 'Object not found' },
    'anon sign',
  );
});

t('createSignedUrls: one entry per path { error, path, signedURL, signedUrl }; a missing path has error and null', async () => {
  const f = service.storage.from('files');
  const data = sok(await f.createSignedUrls(['signed/photo.jpg', 'signed/none.jpg', 'signed/other.txt'], 120));
  assert.equal(data.length, 3);
  assert.deepEqual(data.map((d) => d.path), ['signed/photo.jpg', 'signed/none.jpg', 'signed/other.txt']);
  const [a, missing, c] = data;
  assert.equal(a.error, null);
  assert.ok(a.signedURL.startsWith('/object/sign/files/signed/photo.jpg?token='), a.signedURL);
  assert.equal(a.signedUrl, encodeURI(`${storageUrl()}${a.signedURL}`));
  assert.equal(missing.error, 'Either the object does not exist or you do not have access to it');
  assert.equal(missing.signedURL, null);
  assert.equal(missing.signedUrl, null);
  assert.equal(c.error, null);
  let r = await http(a.signedUrl);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.bytes.length, 2345);
  r = await http(c.signedUrl);
  assert.equal(r.text, 'other');
  // { download: true } applies to each URL
  const dl = sok(await f.createSignedUrls(['signed/other.txt'], 60, { download: true }));
  r = await http(dl[0].signedUrl);
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('content-disposition') || '', /^attachment/);
});

// ---------------------------------------------------------------------------------------------
// signed uploads

t('createSignedUploadUrl + uploadToSignedUrl (no key needed to upload), then download', async () => {
  const f = service.storage.from('files');
  const s = sok(await f.createSignedUploadUrl('su/a.bin'));
  assert.equal(s.path, 'su/a.bin');
  assert.ok(s.signedUrl.startsWith(`${storageUrl()}/object/upload/sign/files/su/a.bin?token=`), s.signedUrl);
  assert.equal(new URL(s.signedUrl).searchParams.get('token'), s.token);
  const bytes = crypto.randomBytes(777);
  // anyone holding the token may upload: use the anon client
  const d = sok(await anon.storage.from('files').uploadToSignedUrl('su/a.bin', s.token, bytes, { contentType: 'application/x-up' }));
  assert.deepEqual(d, { path: 'su/a.bin', fullPath: 'files/su/a.bin' });
  const blob = sok(await f.download('su/a.bin'));
  assert.equal(sha256(await blobBytes(blob)), sha256(bytes));
  assert.equal(blob.type, 'application/x-up');
  // a Blob body (multipart) to a signed URL
  const s2 = sok(await f.createSignedUploadUrl('su/b.txt'));
  sok(await anon.storage.from('files').uploadToSignedUrl('su/b.txt', s2.token, new Blob(['multipart signed'], { type: 'text/plain' }), { metadata: { via: 'signed' } }));
  assert.equal((await blobBytes(sok(await f.download('su/b.txt')))).toString(), 'multipart signed');
  const info = sok(await f.info('su/b.txt'));
  assert.equal(info.contentType, 'text/plain');
  assert.deepEqual(info.metadata, { via: 'signed' });
});

t('signed upload tokens: another path → 400 InvalidSignature, reuse on an existing object → 409, tampered → 400, upsert option', async () => {
  const f = service.storage.from('files');
  const s = sok(await f.createSignedUploadUrl('su/c.txt'));
  sfails(
    await f.uploadToSignedUrl('su/elsewhere.txt', s.token, Buffer.from('x')),
    { status: 400, statusCode: '400', message: ['The url do not match the signature', 'Invalid signature'], error: 'InvalidSignature', log: ctx.log },
    'token for another path',
  );
  sfails(await f.download('su/elsewhere.txt'), { status: 404, statusCode: '404' }, 'nothing stored at the other path');
  sfails(await f.uploadToSignedUrl('su/c.txt', tamper(s.token), Buffer.from('x')), { status: 400, statusCode: '400', message: 'invalid signature' }, 'tampered token');
  sok(await f.uploadToSignedUrl('su/c.txt', s.token, Buffer.from('first'), { contentType: 'text/plain' }));
  sfails(
    await f.uploadToSignedUrl('su/c.txt', s.token, Buffer.from('second'), { contentType: 'text/plain' }),
    { status: 409, statusCode: '409', message: 'The resource already exists' },
    'same token again (no upsert)',
  );
  assert.equal((await blobBytes(sok(await f.download('su/c.txt')))).toString(), 'first');
  // createSignedUploadUrl(path, { upsert: true }) → the token overwrites
  const up = sok(await f.createSignedUploadUrl('su/c.txt', { upsert: true }));
  assert.equal(ctx.log.at(-1).headers['x-upsert'], 'true');
  sok(await anon.storage.from('files').uploadToSignedUrl('su/c.txt', up.token, Buffer.from('third'), { contentType: 'text/plain' }));
  assert.equal((await blobBytes(sok(await f.download('su/c.txt')))).toString(), 'third');
});

t('signed uploads respect the bucket limits (413, 415)', async () => {
  const imgs = service.storage.from('imgs');
  const s = sok(await imgs.createSignedUploadUrl('su-big.png'));
  sfails(await imgs.uploadToSignedUrl('su-big.png', s.token, crypto.randomBytes(4096), { contentType: 'image/png' }), { status: 413, statusCode: '413' }, 'too big');
  sfails(await imgs.uploadToSignedUrl('su-big.png', s.token, Buffer.from('t'), { contentType: 'text/plain' }), { status: 415, statusCode: '415' }, 'wrong type');
  sok(await imgs.uploadToSignedUrl('su-big.png', s.token, crypto.randomBytes(10), { contentType: 'image/png' }));
});

// ---------------------------------------------------------------------------------------------
// public URLs

t('getPublicUrl: public bucket → GET 200 with the bytes (no key); private bucket → error', async () => {
  const bytes = crypto.randomBytes(1500);
  sok(await service.storage.from('pub').upload('img/logo.png', bytes, { contentType: 'image/png' }));
  const { data } = service.storage.from('pub').getPublicUrl('img/logo.png');
  assert.equal(data.publicUrl, `${storageUrl()}/object/public/pub/img/logo.png`);
  let r = await http(data.publicUrl);
  assert.equal(r.status, 200, r.text);
  assert.equal(sha256(r.bytes), sha256(bytes));
  assert.equal(r.headers.get('content-type'), 'image/png');
  const dl = service.storage.from('pub').getPublicUrl('img/logo.png', { download: 'logo.png' }).data.publicUrl;
  assert.equal(dl, `${storageUrl()}/object/public/pub/img/logo.png?download=logo.png`);
  r = await http(dl);
  assert.match(r.headers.get('content-disposition') || '', /^attachment; filename="?logo\.png"?/);
  // missing object in a public bucket
  r = await http(service.storage.from('pub').getPublicUrl('img/none.png').data.publicUrl);
  assert.ok([400, 404].includes(r.status), `${r.status} ${r.text}`);
  assert.equal(r.json?.statusCode, '404', r.text);
  // private bucket: the object exists but is not public
  const priv = service.storage.from('files').getPublicUrl('signed/photo.jpg').data.publicUrl;
  r = await http(priv);
  assert.ok([400, 404].includes(r.status), `private bucket via public URL: ${r.status} ${r.text}`);
  assert.equal(r.json?.statusCode, '404', r.text);
  assert.ok(['Object not found', 'Bucket not found'].includes(r.json?.message), r.text);
});

t('anon on a public bucket without any policy: download(), info(), exists() work (public buckets are read as superuser)', async () => {
  const c = collect();
  const pub = anon.storage.from('pub');
  await c.equal('download(img/logo.png) size', pub.download('img/logo.png').then((r) => (r.error ? `error ${r.error.status} ${r.error.message}` : r.data.size)), 1500);
  await c.equal('info(img/logo.png)', pub.info('img/logo.png').then((r) => (r.error ? `error ${r.error.status} ${r.error.message}` : [r.data.name, r.data.size, r.data.contentType])), ['img/logo.png', 1500, 'image/png']);
  await c.equal('exists(img/logo.png)', pub.exists('img/logo.png').then((r) => r.data), true);
  await c.equal('exists(img/none.png)', pub.exists('img/none.png').then((r) => r.data), false);
  // listing is not public: it still goes through RLS
  await c.equal('list(img)', pub.list('img').then((r) => r.data), []);
  c.done();
});

t('text/html objects are served as text/plain (Supabase\'s guard against stored XSS)', async () => {
  const html = '<script>alert(1)</script>';
  sok(await service.storage.from('pub').upload('page.html', Buffer.from(html), { contentType: 'text/html' }));
  const r = await http(service.storage.from('pub').getPublicUrl('page.html').data.publicUrl);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.text, html);
  assert.equal(r.headers.get('content-type'), 'text/plain');
  const blob = sok(await service.storage.from('pub').download('page.html'));
  assert.equal(blob.type, 'text/plain');
  assert.equal(sok(await service.storage.from('pub').info('page.html')).contentType, 'text/html', 'stored as sent');
});

// ---------------------------------------------------------------------------------------------
// RLS per user

t('RLS: policies on storage.objects (owner = auth.uid()) — A uploads, lists, downloads own files', async () => {
  await ctx.sql(`
    insert into storage.buckets (id, name, public) values ('docs', 'docs', false);
    create policy "own" on storage.objects for all to authenticated
      using (bucket_id = 'docs' and owner = auth.uid())
      with check (bucket_id = 'docs' and owner = auth.uid());
  `);
  const docsA = asA.storage.from('docs');
  const up = sok(await docsA.upload(`${A}/cv.txt`, Buffer.from('alice cv'), { contentType: 'text/plain' }), 'A upload');
  assert.equal(up.fullPath, `docs/${A}/cv.txt`);
  sok(await docsA.upload(`${A}/photo.png`, new Blob([Buffer.from('png!')], { type: 'image/png' })), 'A multipart upload');
  const rows = await ctx.sql(`select name, owner::text as owner, owner_id from storage.objects where bucket_id = 'docs' order by name`);
  assert.deepEqual(rows, [
    { name: `${A}/cv.txt`, owner: A, owner_id: A },
    { name: `${A}/photo.png`, owner: A, owner_id: A },
  ]);
  assert.deepEqual(sok(await docsA.list()).map((e) => e.name), [A]);
  assert.deepEqual(sok(await docsA.list(A)).map((e) => e.name), ['cv.txt', 'photo.png']);
  assert.equal((await blobBytes(sok(await docsA.download(`${A}/cv.txt`)))).toString(), 'alice cv');
  const info = sok(await docsA.info(`${A}/cv.txt`));
  assert.equal(info.size, 8);
  // A may replace (upsert) and update own files
  sok(await docsA.upload(`${A}/cv.txt`, Buffer.from('alice cv v2'), { contentType: 'text/plain', upsert: true }), 'A upsert');
  sok(await docsA.update(`${A}/cv.txt`, Buffer.from('alice cv v3'), { contentType: 'text/plain' }), 'A update');
  assert.equal((await blobBytes(sok(await docsA.download(`${A}/cv.txt`)))).toString(), 'alice cv v3');
  // A's signed URL works for anyone
  const { signedUrl } = sok(await docsA.createSignedUrl(`${A}/cv.txt`, 60));
  const r = await http(signedUrl);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.text, 'alice cv v3');
});

t('RLS: B cannot list, download, sign, overwrite, move or remove A\'s files', async () => {
  const docsB = asB.storage.from('docs');
  assert.deepEqual(sok(await docsB.list()), []);
  assert.deepEqual(sok(await docsB.list(A)), []);
  sfails(await docsB.download(`${A}/cv.txt`), { status: [400, 404], statusCode: '404', message: 'Object not found' }, 'B download A');
  sfails(await docsB.info(`${A}/cv.txt`), { status: [400, 404], statusCode: '404', message: 'Object not found' }, 'B info A');
  const ex = await docsB.exists(`${A}/cv.txt`);
  assert.equal(ex.data, false);
  sfails(await docsB.createSignedUrl(`${A}/cv.txt`, 60), { status: [400, 404], statusCode: '404' }, 'B sign A');
  const batch = sok(await docsB.createSignedUrls([`${A}/cv.txt`], 60));
  assert.deepEqual(batch, [
    { error: 'Either the object does not exist or you do not have access to it', path: `${A}/cv.txt`, signedURL: null, signedUrl: null },
  ]);
  // B uploading over A's path: the row is not B's to replace
  const over = await docsB.upload(`${A}/cv.txt`, Buffer.from('evil'), { contentType: 'text/plain', upsert: true });
  assert.ok(over.error, 'B must not overwrite A\'s file');
  assert.ok(['403', '400', '409'].includes(over.error.statusCode), JSON.stringify(over.error));
  const upd = await docsB.update(`${A}/cv.txt`, Buffer.from('evil'));
  assert.ok(upd.error, 'B must not update A\'s file');
  const mv = await docsB.move(`${A}/cv.txt`, `${B}/stolen.txt`);
  assert.ok(mv.error, 'B must not move A\'s file');
  assert.deepEqual(sok(await docsB.remove([`${A}/cv.txt`])), [], 'B removes nothing');
  // B writing in B's own folder works
  sok(await docsB.upload(`${B}/mine.txt`, Buffer.from('bob'), { contentType: 'text/plain' }), 'B own upload');
  assert.deepEqual(sok(await docsB.list()).map((e) => e.name), [B]);
  // A's file is intact
  assert.equal((await blobBytes(sok(await asA.storage.from('docs').download(`${A}/cv.txt`)))).toString(), 'alice cv v3');
  assert.deepEqual(sok(await asA.storage.from('docs').list()).map((e) => e.name), [A]);
});

t('RLS: anon cannot upload, list or download; service_role sees everything', async () => {
  const docs = anon.storage.from('docs');
  sfails(
    await docs.upload('anon.txt', Buffer.from('x'), { contentType: 'text/plain' }),
    { status: 403, statusCode: '403', message: /row-level security/, error: 'Unauthorized', log: ctx.log },
    'anon upload',
  );
  sfails(await docs.upload('anon.bin', new Blob(['x'])), { status: 403, statusCode: '403' }, 'anon multipart upload');
  assert.deepEqual(sok(await docs.list(A)), []);
  sfails(await docs.download(`${A}/cv.txt`), { status: [400, 404], statusCode: '404' }, 'anon download');
  assert.deepEqual(sok(await service.storage.from('docs').list()).map((e) => e.name).sort(), [A, B].sort());
  // A removes own file: returns it
  const removed = sok(await asA.storage.from('docs').remove([`${A}/photo.png`]));
  assert.deepEqual(removed.map((o) => o.name), [`${A}/photo.png`]);
});

// ---------------------------------------------------------------------------------------------
// Supabase's error `code` (storage-js exposes it as error.code; exists() relies on NoSuchKey)

t("errors carry Supabase's code: NoSuchKey, NoSuchBucket, ResourceAlreadyExists/KeyAlreadyExists, EntityTooLarge, InvalidMimeType", async () => {
  const got = [];
  const rec = async (label, p) => {
    const r = await p;
    got.push([label, r.error?.code ?? null]);
  };
  await rec('download missing', service.storage.from('files').download('no/such.txt'));
  await rec('getBucket missing', service.storage.getBucket('nope'));
  await rec('upload duplicate', service.storage.from('files').upload('v.txt', Buffer.from('x')));
  await rec('too large', service.storage.from('imgs').upload('x.png', crypto.randomBytes(2000), { contentType: 'image/png' }));
  await rec('mime', service.storage.from('imgs').upload('x.txt', Buffer.from('x'), { contentType: 'text/plain' }));
  assert.deepEqual(got, [
    ['download missing', 'NoSuchKey'],
    ['getBucket missing', 'NoSuchBucket'],
    ['upload duplicate', got[2][1] === 'KeyAlreadyExists' ? 'KeyAlreadyExists' : 'ResourceAlreadyExists'],
    ['too large', 'EntityTooLarge'],
    ['mime', 'InvalidMimeType'],
  ]);
});
