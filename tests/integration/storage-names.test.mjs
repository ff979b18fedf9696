// Storage plugin (issue 6): hostile object names never reach the file system. Uploads (raw URL
// paths, percent-encoded or not) and move/copy (JSON bodies) with traversal, empty or dot segments,
// absolute names, NUL and other control characters, backslashes and over-long names are refused
// with Supabase's 400 InvalidKey body and change nothing: no row in storage.objects, no new file or
// directory anywhere under the data dir (PostgreSQL's own directories aside), no file named after
// the user's name. Unicode names (and names that merely contain dots) work and round-trip exactly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startServer, disposeServer, databasePlugin, fmt, randomHex, checks, withLogs, repoRoot, storagePlugin } from './harness.mjs';

let server, ref, service;
const BUCKET = 'names';
// Every hostile name carries this marker, so a file named after it can be searched for anywhere.
const MARK = `zq${randomHex(4)}`;
const url = (p) => `/p/${ref}/storage/v1${p}`;
const call = (method, p, { body, headers = {} } = {}) =>
  server.request(method, url(p), { headers: { apikey: service, ...headers }, body });
// rawPath is sent exactly as written (node:http does not normalise paths).
const upload = (rawPath, bytes = Buffer.from('payload'), method = 'POST') =>
  call(method, `/object/${BUCKET}/${rawPath}`, {
    body: bytes,
    headers: { 'content-type': 'application/octet-stream' },
  });
const enc = (name) => name.split('/').map(encodeURIComponent).join('/');
const sql = async (q) => {
  const r = await server.api('POST', `/projects/${ref}/query`, { body: { sql: q } });
  assert.equal(r.status, 200, fmt(r));
  return r.json.rows;
};
const lit = (s) => `'${s.replace(/'/g, "''")}'`;
function getBytes(p) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: server.port, path: url(p), method: 'GET', headers: { apikey: service }, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, bytes: Buffer.concat(chunks) }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

// Every file and directory under the data dir but PostgreSQL's own (relative paths, dirs end in /).
const PG_OWN = new Set(['postgres', 'run', 'postgres.log']);
function snapshot() {
  const out = new Set();
  const walk = (dir, rel) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (!rel && PG_OWN.has(e.name)) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out.add(`${r}/`);
        walk(path.join(dir, e.name), r);
      } else out.add(r);
    }
  };
  walk(server.dataDir, '');
  return out;
}
// What appeared (and, prefixed "-", vanished). An empty fan-out directory of the blob layout
// (storage/<ref>/ab/ or storage/<ref>/ab/cd/) may stay from a blob made and removed again.
const FANOUT_DIR = /^storage\/[0-9a-z]+\/[0-9a-f]{2}\/([0-9a-f]{2}\/)?$/;
const diff = (a, b) =>
  [...b]
    .filter((x) => !a.has(x) && !FANOUT_DIR.test(x))
    .concat([...a].filter((x) => !b.has(x) && !FANOUT_DIR.test(x)).map((x) => `-${x}`));
// Any file or directory whose name contains the marker: the whole data dir (PostgreSQL included),
// and one level of every place a traversal could have landed in.
function filesWithMarker() {
  const found = [];
  const walk = (dir, deep) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.name.includes(MARK)) found.push(full);
      if (deep && e.isDirectory()) walk(full, true);
    }
  };
  walk(server.dataDir, true);
  for (const d of [path.dirname(server.dataDir), '/', process.cwd(), repoRoot, path.join(server.dataDir, '..', '..')])
    walk(d, false);
  return found;
}
async function objectNames() {
  return (await sql(`select name from storage.objects order by name`)).map((r) => r.name);
}

// Refused with Supabase's error body, and nothing anywhere changed.
async function expectRefused(c, label, send, { status = 400, error = 'InvalidKey', host = false } = {}) {
  const rowsBefore = await objectNames();
  const filesBefore = snapshot();
  let r;
  await c.run(async () => {
    r = await send();
    assert.equal(r.status, status, `${label}: expected ${status}, got ${fmt(r)}`);
    if (host) {
      // The host refuses an encoded NUL before any plugin sees the path (its own error format).
      assert.equal(r.json?.error, error, `${label}: ${fmt(r)}`);
    } else {
      assert.equal(r.json?.statusCode, String(status), `${label}: statusCode: ${fmt(r)}`);
      if (Array.isArray(error)) assert.ok(error.includes(r.json?.error), `${label}: error: ${fmt(r)}`);
      else assert.equal(r.json?.error, error, `${label}: error: ${fmt(r)}`);
      assert.equal(typeof r.json?.message, 'string', `${label}: message: ${fmt(r)}`);
      assert.ok(r.json.message.length > 0, `${label}: empty message: ${fmt(r)}`);
    }
  });
  await c.run(async () => assert.deepEqual(await objectNames(), rowsBefore, `${label}: storage.objects changed`));
  await c.run(async () => {
    const d = diff(filesBefore, snapshot());
    assert.deepEqual(d, [], `${label}: files under the data dir changed: ${JSON.stringify(d)}`);
  });
  return r;
}

before(async () => {
  server = await startServer({ plugins: `${databasePlugin},${storagePlugin}` });
  const p = await server.api('POST', '/projects', { body: { name: `names-${randomHex(3)}` } });
  assert.equal(p.status, 201, fmt(p));
  ref = p.json.id;
  const keys = (await server.api('GET', `/projects/${ref}/api-keys`)).json;
  service = keys.find((k) => k.name === 'service_role').api_key;
  const r = await call('POST', '/bucket', { body: { name: BUCKET } });
  assert.equal(r.status, 200, fmt(r));
  // A committed object first, so the blob layout (storage/, storage/<ref>/, storage/tmp/) exists
  // and the snapshots compare like with like; also the source of move/copy.
  const s = await upload('src.txt', Buffer.from('source bytes'));
  assert.equal(s.status, 200, fmt(s));
});
after(() => disposeServer(server));

const t = (name, fn) => test(name, { timeout: 120000 }, withLogs(() => server, fn));

// [label, raw URL path after /object/<bucket>/]
const HOSTILE_UPLOADS = [
  ['../x', `../${MARK}`],
  ['a/../../x', `a/../../${MARK}`],
  ['../../../../../../tmp/x', `../../../../../../tmp/${MARK}`],
  ['./x', `./${MARK}`],
  ['a//b', `a-${MARK}//b-${MARK}`],
  ['/abs (double slash after the bucket)', `/${MARK}`],
  ['%2Fabs', `%2F${MARK}`],
  ['a/./b', `a-${MARK}/./b-${MARK}`],
  ['a/. (final dot segment)', `a-${MARK}/.`],
  ['a/.. (final dot-dot segment)', `a-${MARK}/..`],
  ['%2e%2e/x', `%2e%2e/${MARK}`],
  ['%2E%2E/x', `%2E%2E/${MARK}`],
  ['%2e/x', `%2e/${MARK}`],
  ['%2e%2e%2fx', `%2e%2e%2f${MARK}`],
  ['..%2fx', `..%2f${MARK}`],
  ['a%2f%2fb', `a-${MARK}%2f%2fb`],
  ['a%2f..%2f..%2fx', `a%2f..%2f..%2f${MARK}`],
  ['%01 (control)', `a%01${MARK}`],
  ['%1f (control)', `a%1f${MARK}`],
  ['%7f (DEL)', `a%7f${MARK}`],
  ['%0a (LF)', `a%0a${MARK}`],
  ['%0d%0a (CRLF)', `a%0d%0a${MARK}`],
  ['%09 (TAB)', `a%09${MARK}`],
  ['1025-byte name', `${MARK}${'L'.repeat(1025 - MARK.length)}`],
  ['over 1024 bytes of 2-byte characters', `${MARK}${encodeURIComponent('é'.repeat(513))}`],
  ['5000-byte name', `${MARK}${'L'.repeat(5000 - MARK.length)}`],
];

t('hostile names in upload URLs (POST, x-upsert, PUT) are 400 InvalidKey and touch nothing', async () => {
  const c = checks();
  for (const [label, raw] of HOSTILE_UPLOADS) {
    await expectRefused(c, `POST ${label}`, () => upload(raw));
  }
  // The same through x-upsert and PUT (update) for a few of them.
  for (const [label, raw] of HOSTILE_UPLOADS.slice(0, 6)) {
    await expectRefused(c, `POST x-upsert ${label}`, () =>
      call('POST', `/object/${BUCKET}/${raw}`, {
        body: Buffer.from('p'),
        headers: { 'content-type': 'text/plain', 'x-upsert': 'true' },
      }),
    );
    await expectRefused(c, `PUT ${label}`, () => upload(raw, Buffer.from('p'), 'PUT'));
  }
  await c.run(async () => assert.deepEqual(filesWithMarker(), [], 'files named after a hostile name exist'));
  await c.run(async () => {
    const rows = await sql(`select name from storage.objects where name like ${lit(`%${MARK}%`)}`);
    assert.deepEqual(rows, [], `rows named after hostile names: ${JSON.stringify(rows.map((x) => x.name))}`);
  });
  c.done();
});

// Supabase's key check allows only S3-safe characters, so a backslash is InvalidKey there; here a
// Windows-style traversal must not become a name either.
t('backslash names (..\\x, encoded or not) are 400 InvalidKey for upload, move and copy', async () => {
  const c = checks();
  const cases = [
    ['..\\x (literal backslash)', `..\\${MARK}-1`],
    ['..%5cx (encoded backslash)', `..%5c${MARK}-2`],
    ['a%5c..%5c..%5cx (encoded backslashes)', `a%5c..%5c..%5c${MARK}-3`],
    ['a\\b (one backslash)', `a\\${MARK}-4`],
  ];
  for (const [label, raw] of cases) await expectRefused(c, `POST ${label}`, () => upload(raw));
  let n = 5;
  for (const op of ['move', 'copy'])
    for (const key of [`..\\${MARK}-${n++}`, `a\\..\\..\\${MARK}-${n++}`]) {
      const src = `bs-src-${op}-${key.length}.txt`; // a fresh source each time (a move that went through took it)
      assert.equal((await upload(src, Buffer.from('bs'))).status, 200);
      await expectRefused(c, `${op} → ${JSON.stringify(key)}`, () =>
        call('POST', `/object/${op}`, { body: { bucketId: BUCKET, sourceKey: src, destinationKey: key } }),
      );
    }
  c.done();
});

t('an encoded NUL (%00) is 400 before it reaches the plugin; nothing stored', async () => {
  const c = checks();
  for (const raw of [`a%00${MARK}`, `${MARK}%00/../x`, `%00`]) {
    await expectRefused(c, `POST ${raw}`, () => upload(raw), { error: 'Malformed request path', host: true });
  }
  await c.run(async () => assert.deepEqual(filesWithMarker(), [], 'files named after a hostile name exist'));
  c.done();
});

t('hostile names in download and delete URLs are 400 InvalidKey too (not 404, not a file read)', async () => {
  const c = checks();
  for (const [label, raw] of HOSTILE_UPLOADS.slice(0, 12)) {
    await expectRefused(c, `GET ${label}`, () => call('GET', `/object/${BUCKET}/${raw}`));
    await expectRefused(c, `DELETE ${label}`, () => call('DELETE', `/object/${BUCKET}/${raw}`));
  }
  // Traversal towards an existing object's name must not resolve to it.
  await expectRefused(c, 'GET a/../src.txt', () => call('GET', `/object/${BUCKET}/a/../src.txt`));
  await expectRefused(c, 'DELETE a/../src.txt', () => call('DELETE', `/object/${BUCKET}/a/../src.txt`));
  const d = await getBytes(`/object/${BUCKET}/src.txt`);
  assert.equal(d.status, 200);
  assert.equal(d.bytes.toString(), 'source bytes');
  c.done();
});

t('names at the 1024-byte limit work (ASCII and 2-byte characters)', async () => {
  const ascii = `lim-${'a'.repeat(1020)}`;
  const wide = 'é'.repeat(512);
  assert.equal(Buffer.byteLength(ascii), 1024);
  assert.equal(Buffer.byteLength(wide), 1024);
  for (const name of [ascii, wide]) {
    const bytes = crypto.randomBytes(100);
    const r = await upload(enc(name), bytes);
    assert.equal(r.status, 200, fmt(r));
    assert.equal(r.json.Key, `${BUCKET}/${name}`);
    const d = await getBytes(`/object/${BUCKET}/${enc(name)}`);
    assert.equal(d.status, 200);
    assert.ok(d.bytes.equals(bytes), 'bytes differ');
    const rows = await sql(`select octet_length(name) as n from storage.objects where name = ${lit(name)}`);
    assert.deepEqual(rows, [{ n: 1024 }]);
  }
});

const UNICODE = ['ünï/çødé.txt', '😀/🚀 launch 🎉.bin', '日本語/ファイル名.txt', 'mixé/Ω≈ç√∫˜µ≤.dat'];

t('unicode names work: upload, download, list, exact bytes in storage.objects, no file named after them', async () => {
  for (const name of UNICODE) {
    const bytes = crypto.randomBytes(1000 + name.length);
    const r = await upload(enc(name), bytes);
    assert.equal(r.status, 200, `${name}: ${fmt(r)}`);
    assert.equal(r.json.Key, `${BUCKET}/${name}`);
    const d = await getBytes(`/object/${BUCKET}/${enc(name)}`);
    assert.equal(d.status, 200, name);
    assert.ok(d.bytes.equals(bytes), `${name}: bytes differ`);
    const rows = await sql(
      `select encode(convert_to(name, 'UTF8'), 'hex') as hex, (metadata->>'size')::int as size from storage.objects where name = ${lit(name)}`,
    );
    assert.deepEqual(rows, [{ hex: Buffer.from(name).toString('hex'), size: bytes.length }], name);
    const [folder, file] = name.split('/');
    const l = await call('POST', `/object/list/${BUCKET}`, { body: { prefix: folder } });
    assert.equal(l.status, 200, fmt(l));
    assert.deepEqual(l.json.map((e) => e.name), [file], name);
    const h = await call('HEAD', `/object/${BUCKET}/${enc(name)}`);
    assert.equal(h.headers['content-length'], String(bytes.length));
  }
  // Blobs are stored under generated keys only.
  const words = UNICODE.flatMap((n) => n.split('/'));
  const hits = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (words.some((w) => e.name.includes(w))) hits.push(full);
      if (e.isDirectory()) walk(full);
    }
  };
  walk(server.dataDir);
  assert.deepEqual(hits, []);
  const bad = [...snapshot()].filter(
    (f) =>
      !/^(?:alpaca\.lock|storage\/|storage\/tmp\/|storage\/[0-9a-z]+\/|storage\/[0-9a-z]+\/[0-9a-f]{2}\/|storage\/[0-9a-z]+\/[0-9a-f]{2}\/[0-9a-f]{2}\/|storage\/[0-9a-z]+\/([0-9a-f]{2})\/([0-9a-f]{2})\/\1\2[0-9a-f]{28})$/.test(f),
  );
  assert.deepEqual(bad, [], 'files outside the blob layout');
});

t('names that only contain dots are ordinary names (.emptyFolderPlaceholder, a..b, ..x)', async () => {
  for (const name of ['folder/.emptyFolderPlaceholder', 'a..b.txt', '..x', 'x..', '...dots/...txt', '.hidden']) {
    const bytes = Buffer.from(`content of ${name}`);
    const r = await upload(enc(name), bytes);
    assert.equal(r.status, 200, `${name}: ${fmt(r)}`);
    assert.equal(r.json.Key, `${BUCKET}/${name}`);
    const d = await getBytes(`/object/${BUCKET}/${enc(name)}`);
    assert.equal(d.status, 200, name);
    assert.ok(d.bytes.equals(bytes), name);
  }
});

// move/copy: {bucketId, sourceKey, destinationKey}; hostile keys arrive as JSON strings.
const HOSTILE_KEYS = [
  `../${MARK}`,
  `a/../../${MARK}`,
  `../../../../../../tmp/${MARK}`,
  `./${MARK}`,
  `a-${MARK}//b`,
  `/${MARK}`,
  `a-${MARK}/./b`,
  `a-${MARK}/..`,
  `a-${MARK}/`,
  `a\u0000${MARK}`,
  `a\u0001${MARK}`,
  `a\u007f${MARK}`,
  `a\n${MARK}`,
  `${MARK}${'L'.repeat(1025 - MARK.length)}`,
  `${MARK}${'é'.repeat(600)}`,
  '',
];

for (const op of ['move', 'copy']) {
  t(`POST /object/${op}: hostile destinationKey and sourceKey are refused and touch nothing`, async () => {
    const c = checks();
    // Control: the route exists and a good request works (otherwise a 400 below could come from
    // POST /object/:bucket/*path taking "move" for a bucket).
    const ctlSrc = `${op}-ctl-src.txt`;
    assert.equal((await upload(ctlSrc, Buffer.from(`ctl ${op}`))).status, 200);
    const ctl = await call('POST', `/object/${op}`, {
      body: { bucketId: BUCKET, sourceKey: ctlSrc, destinationKey: `${op}-ctl-dst.txt` },
    });
    await c.run(async () => assert.equal(ctl.status, 200, `control ${op}: ${fmt(ctl)}`));
    const src = `${op}-src.txt`;
    assert.equal((await upload(src, Buffer.from(`src ${op}`))).status, 200);
    for (const key of HOSTILE_KEYS) {
      const label = `${op} → ${JSON.stringify(key.length > 60 ? key.slice(0, 60) + '…' : key)}`;
      // An empty key may also be refused as a malformed request.
      const error = key === '' ? ['InvalidKey', 'InvalidRequest'] : 'InvalidKey';
      await expectRefused(
        c,
        label,
        () => call('POST', `/object/${op}`, { body: { bucketId: BUCKET, sourceKey: src, destinationKey: key } }),
        { error },
      );
    }
    for (const key of HOSTILE_KEYS.slice(0, 8)) {
      const label = `${op} from ${JSON.stringify(key)}`;
      const rowsBefore = await objectNames();
      const filesBefore = snapshot();
      const r = await call('POST', `/object/${op}`, {
        body: { bucketId: BUCKET, sourceKey: key, destinationKey: `${op}-dst-${randomHex(2)}.txt` },
      });
      // Supabase validates the destination; a hostile source is either invalid or not found.
      await c.run(async () => assert.ok([400, 404].includes(r.status), `${label}: ${fmt(r)}`));
      await c.run(async () => assert.deepEqual(await objectNames(), rowsBefore, `${label}: storage.objects changed`));
      await c.run(async () => {
        const d = diff(filesBefore, snapshot());
        assert.deepEqual(d, [], `${label}: files under the data dir changed: ${JSON.stringify(d)}`);
      });
    }
    // The source is untouched by all of it.
    const d = await getBytes(`/object/${BUCKET}/${src}`);
    await c.run(async () => assert.equal(d.bytes.toString(), `src ${op}`));
    await c.run(async () => assert.deepEqual(filesWithMarker(), [], 'files named after a hostile name exist'));
    c.done();
  });
}

t('move and copy keep unicode names exact', async () => {
  const src = 'ünï/çødé-src.txt';
  const bytes = crypto.randomBytes(777);
  assert.equal((await upload(enc(src), bytes)).status, 200);
  let r = await call('POST', '/object/copy', {
    body: { bucketId: BUCKET, sourceKey: src, destinationKey: 'ünï/kopie-😀.txt' },
  });
  assert.equal(r.status, 200, fmt(r));
  assert.equal(r.json.Key, `${BUCKET}/ünï/kopie-😀.txt`);
  r = await call('POST', '/object/move', {
    body: { bucketId: BUCKET, sourceKey: src, destinationKey: '日本語/移動-ç.txt' },
  });
  assert.equal(r.status, 200, fmt(r));
  assert.deepEqual(r.json, { message: 'Successfully moved' });
  for (const name of ['ünï/kopie-😀.txt', '日本語/移動-ç.txt']) {
    const d = await getBytes(`/object/${BUCKET}/${enc(name)}`);
    assert.equal(d.status, 200, name);
    assert.ok(d.bytes.equals(bytes), `${name}: bytes differ`);
  }
  assert.equal((await getBytes(`/object/${BUCKET}/${enc(src)}`)).status, 404, 'moved source is gone');
  const rows = await sql(
    `select name from storage.objects where name in (${lit(src)}, ${lit('ünï/kopie-😀.txt')}, ${lit('日本語/移動-ç.txt')}) order by name`,
  );
  assert.deepEqual(rows.map((x) => x.name).sort(), ['ünï/kopie-😀.txt', '日本語/移動-ç.txt'].sort());
});
