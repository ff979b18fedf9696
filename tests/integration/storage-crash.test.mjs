// Storage plugin (issue 6): crash safety. "Killing the server (SIGKILL) at any point of an upload
// leaves either the old object or the new one, never a partial or corrupt one; an orphan sweeper
// removes blobs with no row." One data dir: an object v0, then rounds of an overwrite (POST with
// x-upsert or PUT, Content-Length or chunked, random size) during which the server is SIGKILLed at
// a random point (in the headers, mid-body, after the body, after the answer); then a restart on the same data dir and a byte-exact check that the object is
// the last committed version or the new one (the new one whenever a 200 was seen). A client that
// vanishes mid-body (server alive) changes nothing and leaves no file behind. Finally the
// sweeper (storage.sweep_min_age = 0) leaves exactly one blob per row and an empty tmp/, and
// planted orphans are removed (or kept while young) while referenced blobs stay.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import {
  databasePlugin,
  fmt,
  makeTempDir,
  parseRawResponse,
  pgrep,
  randomHex,
  removeDir,
  sleep,
  spawnServer,
  stopServer,
  waitHealthy,
  withLogs,
  checks, storagePlugin } from './harness.mjs';

const MiB = 1024 * 1024;
const ROUNDS = Number(process.env.STORAGE_CRASH_ROUNDS || 25);
const OBJ = 'doc/target.bin';

const dataDir = makeTempDir('alpaca-stcrash-');
const blobRoot = path.join(dataDir, 'storage');
let server; // the server running now
let adminToken;
let ref, service, refB, serviceB;
const log = []; // one line per round, shown on failure

// Rounds run without removing anything young: no sweep during the rounds but the one at start,
// and that one keeps everything younger than an hour.
const QUIET = { ALPACA_STORAGE_SWEEP_INTERVAL: '0', ALPACA_STORAGE_SWEEP_MIN_AGE: '3600' };

async function start(env = QUIET) {
  server = await spawnServer({
    dataDir,
    adminToken: adminToken ?? undefined,
    plugins: `${databasePlugin},${storagePlugin}`,
    env,
  });
  adminToken = server.adminToken;
  await waitHealthy(server, 30000);
  return server;
}
async function kill() {
  if (!server || server.exitCode !== undefined) return;
  server.child.kill('SIGKILL');
  await server.exited;
}

const surl = (r, p) => `/p/${r}/storage/v1${p}`;
const sql = async (q, r = ref) => {
  const res = await server.api('POST', `/projects/${r}/query`, { body: { sql: q } });
  assert.equal(res.status, 200, fmt(res));
  return res.json.rows;
};
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
const md5 = (b) => crypto.createHash('md5').update(b).digest('hex');

// GET the raw bytes (a 503 right after a restart is retried).
async function getObject(name, r = ref, key = service) {
  for (let attempt = 0; ; attempt++) {
    const got = await new Promise((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: server.port, path: surl(r, `/object/b/${name}`), headers: { apikey: key }, agent: false, timeout: 20000 },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, bytes: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`GET ${name} timed out`)));
      req.on('error', reject);
      req.end();
    });
    if (got.status !== 503 || attempt >= 20) return got;
    await sleep(100);
  }
}
async function put(name, bytes, r = ref, key = service) {
  const res = await server.request('POST', surl(r, `/object/b/${name}`), {
    headers: { apikey: key, 'content-type': 'application/octet-stream', 'x-upsert': 'true' },
    body: bytes,
  });
  assert.equal(res.status, 200, fmt(res));
}

// Blob files under <blob_dir>/<ref>/ (any depth) and everything in <blob_dir>/tmp.
function blobFiles(r = ref) {
  const root = path.join(blobRoot, r);
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(root, path.join(e.parentPath ?? e.path, e.name)));
}
const tmpFiles = () => (fs.existsSync(path.join(blobRoot, 'tmp')) ? fs.readdirSync(path.join(blobRoot, 'tmp')) : []);
const layoutPath = (r, key) => path.join(blobRoot, r, key.slice(0, 2), key.slice(2, 4), key);

// The object's bytes and row agree: ETag = md5 of the bytes, Content-Length and metadata.size =
// their length. Returns the bytes' sha256.
async function checkedObject(name, label) {
  const got = await getObject(name);
  assert.equal(got.status, 200, `${label}: GET ${name} → ${got.status} ${got.bytes.toString().slice(0, 300)}`);
  assert.equal(got.headers['content-length'], String(got.bytes.length), `${label}: Content-Length`);
  assert.equal(got.headers.etag, `"${md5(got.bytes)}"`, `${label}: the ETag (row) does not match the bytes (blob)`);
  const rows = await sql(
    `select (metadata->>'size')::bigint as size, metadata->>'eTag' as etag, version from storage.objects where bucket_id = 'b' and name = '${name}'`,
  );
  assert.equal(rows.length, 1, `${label}: rows for ${name}`);
  assert.equal(Number(rows[0].size), got.bytes.length, `${label}: metadata.size vs the bytes`);
  assert.equal(rows[0].etag, `"${md5(got.bytes)}"`, `${label}: metadata.eTag vs the bytes`);
  assert.ok(fs.existsSync(layoutPath(ref, rows[0].version)), `${label}: the row's blob is not at its place in the layout`);
  return { sha: sha(got.bytes), bytes: got.bytes, version: rows[0].version };
}

/**
 * One overwrite of OBJ over a raw socket, interrupted as `mode` says. Returns what the client saw:
 * { response (parsed, or null), killedServer }.
 *  headers  — part of the request head sent, then SIGKILL
 *  body     — head + a random part of the body, then SIGKILL
 *  timer    — the whole request streamed as fast as possible, SIGKILL after a random delay
 *  sent     — the whole request sent, SIGKILL after 0–40 ms (before or after the answer)
 *  answered — the whole request sent, the answer read, then SIGKILL
 *  client   — head + part of the body, then the client closes (the server lives on)
 */
async function interruptedUpload({ body, method, chunked, mode, cut: givenCut }) {
  const headLines = [
    `${method} ${surl(ref, `/object/b/${OBJ}`)} HTTP/1.1`,
    `Host: 127.0.0.1:${server.port}`,
    `apikey: ${service}`,
    'content-type: application/octet-stream',
    'connection: close',
  ];
  if (method === 'POST') headLines.push('x-upsert: true');
  headLines.push(chunked ? 'transfer-encoding: chunked' : `content-length: ${body.length}`);
  const head = Buffer.from(headLines.join('\r\n') + '\r\n\r\n');
  // The wire bytes of the body, in pieces of about 64 KiB.
  const pieces = [];
  for (let at = 0; at < body.length; at += 65536) {
    const c = body.subarray(at, at + 65536);
    pieces.push(chunked ? Buffer.concat([Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')]) : c);
  }
  if (chunked) pieces.push(Buffer.from('0\r\n\r\n'));

  const socket = net.connect(server.port, '127.0.0.1');
  let received = Buffer.alloc(0);
  let response = null;
  let closed = false;
  const responded = new Promise((resolve) => {
    socket.on('data', (d) => {
      received = Buffer.concat([received, d]);
      try {
        response ??= parseRawResponse(received);
      } catch {}
      if (response) resolve(response);
    });
    socket.on('close', () => {
      closed = true;
      resolve(null);
    });
  });
  socket.on('error', () => {});
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const write = async (b) => {
    if (closed || socket.destroyed) return;
    if (!socket.write(b)) await Promise.race([new Promise((r) => socket.once('drain', r)), responded]);
  };
  const sendBody = async (upTo = Infinity) => {
    let sent = 0;
    for (const p of pieces) {
      if (sent >= upTo || response || closed) return;
      const part = sent + p.length > upTo ? p.subarray(0, upTo - sent) : p;
      await write(part);
      sent += part.length;
    }
  };
  const wireLength = pieces.reduce((n, p) => n + p.length, 0);
  let detail = '';
  switch (mode) {
    case 'headers': {
      const cut = 1 + crypto.randomInt(head.length - 1);
      await write(head.subarray(0, cut));
      await sleep(crypto.randomInt(30));
      detail = `${cut}/${head.length} head bytes`;
      await kill();
      break;
    }
    case 'body': {
      const cut = crypto.randomInt(wireLength + 1);
      await write(head);
      await sendBody(cut);
      await sleep(crypto.randomInt(50));
      detail = `${cut}/${wireLength} body bytes`;
      await kill();
      break;
    }
    case 'timer': {
      const delay = crypto.randomInt(250);
      const timer = sleep(delay).then(kill);
      await write(head);
      await Promise.race([sendBody(), timer]);
      await timer;
      detail = `after ${delay} ms`;
      break;
    }
    case 'sent': {
      const delay = crypto.randomInt(40);
      await write(head);
      await sendBody();
      await sleep(delay);
      detail = `${delay} ms after the body`;
      await kill();
      break;
    }
    case 'answered': {
      await write(head);
      await sendBody();
      await Promise.race([responded, sleep(20000)]);
      detail = 'after the answer';
      await kill();
      break;
    }
    case 'client': {
      const cut = givenCut ? givenCut(wireLength) : crypto.randomInt(Math.max(1, wireLength - 1));
      await write(head);
      await sendBody(cut);
      await sleep(20);
      socket.destroy();
      await sleep(300); // the server notices, and must not commit a truncated body
      detail = `client gone after ${cut}/${wireLength} body bytes`;
      break;
    }
  }
  // Let an answer already in flight arrive (the server can only have sent it before it died).
  await Promise.race([responded, sleep(100)]);
  socket.destroy();
  return { response, detail };
}

before(async () => {
  await start();
  const p = await server.api('POST', '/projects', { body: { name: `crash-${randomHex(3)}` } });
  assert.equal(p.status, 201, fmt(p));
  ref = p.json.id;
  const keys = (await server.api('GET', `/projects/${ref}/api-keys`)).json;
  service = keys.find((k) => k.name === 'service_role').api_key;
  let r = await server.request('POST', surl(ref, '/bucket'), { headers: { apikey: service }, body: { name: 'b' } });
  assert.equal(r.status, 200, fmt(r));
  // A second project whose blobs must survive everything (the sweeps included).
  const q = await server.api('POST', '/projects', { body: { name: `crash-b-${randomHex(3)}` } });
  assert.equal(q.status, 201, fmt(q));
  refB = q.json.id;
  serviceB = (await server.api('GET', `/projects/${refB}/api-keys`)).json.find((k) => k.name === 'service_role').api_key;
  r = await server.request('POST', surl(refB, '/bucket'), { headers: { apikey: serviceB }, body: { name: 'b' } });
  assert.equal(r.status, 200, fmt(r));
});
after(async () => {
  if (server) await stopServer(server, 'SIGTERM', 15000).catch(() => {});
  // The embedded PostgreSQL of a SIGKILLed server may outlive it: stop what runs on our data dir.
  for (const pid of pgrep(dataDir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  removeDir(dataDir);
});

const t = (name, fn, timeout = 240000) =>
  test(name, { timeout }, withLogs(() => server, async (tc) => {
    try {
      await fn(tc);
    } catch (e) {
      if (log.length && e && typeof e === 'object') e.message = `${e.message}\n--- rounds ---\n${log.join('\n')}`;
      throw e;
    }
  }));

const stable = { A: crypto.randomBytes(777 * 1024 + 3), B: crypto.randomBytes(123457) };
let committed; // sha256 of the last version known to be committed
const versions = new Map(); // sha256 → label

t(`SIGKILL at random points of ${ROUNDS} overwrites: the object is always the old or the new version, byte-exact`, async (tc) => {
  const v0 = crypto.randomBytes(3 * MiB);
  await put(OBJ, v0);
  await put('stable.bin', stable.A);
  await put('stable.bin', stable.B, refB, serviceB);
  committed = sha(v0);
  versions.set(committed, 'v0');
  assert.equal((await checkedObject(OBJ, 'v0')).sha, committed);

  const modes = ['headers', 'body', 'body', 'timer', 'timer', 'sent', 'sent', 'answered'];
  const tally = {};
  const restartMs = [];
  const c = checks(); // every round runs; each deviation is listed
  for (let i = 1; i <= ROUNDS; i++) {
    // Every mode at least once early, then at random.
    const mode = i <= modes.length ? modes[i - 1] : modes[crypto.randomInt(modes.length)];
    const size = MiB / 2 + crypto.randomInt(11 * MiB / 2 + 1);
    const body = crypto.randomBytes(size);
    const method = crypto.randomInt(2) ? 'POST' : 'PUT';
    const chunked = crypto.randomInt(4) === 0;
    const fresh = sha(body);
    versions.set(fresh, `v${i}`);
    const { response, detail } = await interruptedUpload({ body, method, chunked, mode });
    const line = `round ${i}: ${mode} ${method}${chunked ? ' chunked' : ''} ${size} B, ${detail}; answer ${response ? response.status : 'none'}`;
    const t0 = performance.now();
    await start();
    restartMs.push(Math.round(performance.now() - t0));
    const { sha: got, bytes } = await checkedObject(OBJ, line);
    let which = versions.get(got);
    if (!which) {
      const prefix = bytes.length < body.length && body.subarray(0, bytes.length).equals(bytes);
      which = prefix ? `a truncated ${bytes.length}-byte prefix of v${i}` : `unknown bytes (${bytes.length} B)`;
    }
    log.push(`${line} → ${which}`);
    const prev = committed;
    committed = got; // later rounds and tests go on from what is there now
    tally[`${mode}→${got === fresh ? 'new' : got === prev ? 'old' : 'BAD'}`] =
      (tally[`${mode}→${got === fresh ? 'new' : got === prev ? 'old' : 'BAD'}`] ?? 0) + 1;
    await c.run(async () => {
      if (response && response.status === 200) {
        assert.equal(got, fresh, `${line}: a 200 was answered but the object is ${which}`);
        return;
      }
      if (response) assert.ok(response.status >= 400, `${line}: unexpected answer ${response.status} ${response.text}`);
      assert.ok(got === prev || got === fresh, `${line}: the object is ${which}, neither the last committed version (${versions.get(prev)}) nor the new one`);
      if (response || mode === 'headers')
        assert.equal(got, prev, `${line}: the upload did not complete, yet the object changed to ${which}`);
    });
    await c.run(async () =>
      assert.equal(sha((await getObject('stable.bin')).bytes), sha(stable.A), `${line}: an untouched object changed`),
    );
  }
  tc.diagnostic(JSON.stringify(tally));
  tc.diagnostic(`restarts (ms): ${restartMs.join(' ')}`);
  tc.diagnostic(`left over before any sweep: ${blobFiles().length} blob files for 2 rows, ${tmpFiles().length} temp files`);
  c.done();
});

t('a client that vanishes mid-body changes nothing: no truncated object, no new blob or temp file', async () => {
  assert.ok(committed, 'the crash rounds did not run');
  const c = checks();
  const cases = [];
  for (const chunked of [false, true])
    for (const where of ['none', 'half', 'all but 1 byte'])
      for (const method of ['POST', 'PUT']) cases.push({ chunked, where, method });
  cases.push({ chunked: true, where: 'all data, no last chunk', method: 'POST' });
  for (const { chunked, where, method } of cases) {
    const body = crypto.randomBytes(MiB + crypto.randomInt(MiB));
    const cut = (wire) =>
      where === 'none' ? 0
      : where === 'half' ? Math.floor(wire / 2)
      : where === 'all but 1 byte' ? wire - 1
      : wire - 5; // every data chunk, not the terminating 0-length chunk ("0\r\n\r\n")
    const blobsBefore = blobFiles().sort();
    const tmpBefore = new Set(tmpFiles());
    const rowBefore = (await checkedObject(OBJ, 'before')).version;
    const { response, detail } = await interruptedUpload({ body, method, chunked, mode: 'client', cut });
    const label = `${method}${chunked ? ' chunked' : ''} ${body.length} B, ${detail} (${where})`;
    await sleep(200);
    assert.equal(server.exitCode, undefined, `${label}: the server died`);
    const { sha: got, bytes, version } = await checkedObject(OBJ, label);
    let which = versions.get(got);
    if (!which) {
      const prefix = bytes.length < body.length && body.subarray(0, bytes.length).equals(bytes);
      which = prefix ? `a truncated ${bytes.length}-byte prefix of the new body` : got === sha(body) ? 'the new body' : `unknown bytes (${bytes.length} B)`;
    }
    if (got === committed && version !== rowBefore) which = `a new blob ${version} with the same ${bytes.length} bytes (rewritten)`;
    log.push(`client: ${label}; answer ${response ? response.status : 'none'} → ${which}`);
    const unchanged = got === committed && version === rowBefore;
    await c.run(async () => assert.ok(unchanged, `${label}: the object changed to ${which}`));
    committed = got;
    // The server is alive: it can clean up after itself at once.
    if (unchanged) await c.run(async () => assert.deepEqual(blobFiles().sort(), blobsBefore, `${label}: blob files changed`));
    await c.run(async () => assert.deepEqual(tmpFiles().filter((f) => !tmpBefore.has(f)), [], `${label}: a temp file was left behind`));
  }
  c.done();
});

t('the sweeper (min age 0) leaves exactly one blob per row, each the row\'s, and an empty tmp/', async (tc) => {
  assert.ok(committed, 'the crash rounds did not run');
  const before = { blobs: blobFiles().length, temps: tmpFiles().length };
  await kill();
  await start({ ALPACA_STORAGE_SWEEP_INTERVAL: '0', ALPACA_STORAGE_SWEEP_MIN_AGE: '0' });
  const versionsNow = async (r) => (await sql('select version from storage.objects order by version', r)).map((x) => x.version);
  const expected = await versionsNow(ref);
  const want = expected.map((k) => path.join(k.slice(0, 2), k.slice(2, 4), k)).sort();
  // The sweep at start runs in the background: wait for it.
  const deadline = performance.now() + 15000;
  while (performance.now() < deadline && (blobFiles().sort().join() !== want.join() || tmpFiles().length)) await sleep(100);
  tc.diagnostic(`before the sweep ${before.blobs} blob files, ${before.temps} temp files; rows ${expected.length}`);
  assert.equal(blobFiles().length, expected.length, 'blob files vs rows in storage.objects');
  assert.deepEqual(blobFiles().sort(), want, 'the blob files are not exactly the rows\' blobs');
  assert.deepEqual(tmpFiles(), [], '<blob_dir>/tmp is not empty');
  // Nothing referenced was lost: both projects' objects read back byte-exact.
  assert.equal((await checkedObject(OBJ, 'after the sweep')).sha, committed);
  assert.equal(sha((await getObject('stable.bin')).bytes), sha(stable.A));
  const b = await getObject('stable.bin', refB, serviceB);
  assert.equal(b.status, 200);
  assert.equal(sha(b.bytes), sha(stable.B));
  assert.deepEqual(blobFiles(refB).map((f) => path.basename(f)), await versionsNow(refB));
});

// A valid 32-hex key in the right place that no row names; and a temp file as a crash leaves it.
function plantOrphan(r = ref) {
  const key = randomHex(16);
  const file = layoutPath(r, key);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, crypto.randomBytes(4096), { mode: 0o600 });
  return file;
}
function plantTemp(r = ref) {
  const file = path.join(blobRoot, 'tmp', `${r}.${randomHex(16)}.tmp`);
  fs.writeFileSync(file, crypto.randomBytes(1000), { mode: 0o600 });
  return file;
}
async function waitGone(files, ms) {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline && files.some((f) => fs.existsSync(f))) await sleep(100);
  return files.filter((f) => fs.existsSync(f));
}
async function referencedIntact(label) {
  assert.equal((await checkedObject(OBJ, label)).sha, committed, label);
  assert.equal(sha((await getObject('stable.bin')).bytes), sha(stable.A), label);
  const b = await getObject('stable.bin', refB, serviceB);
  assert.equal(sha(b.bytes), sha(stable.B), label);
}

t('planted orphans (both projects) and a stale temp file are removed by the sweep at start; referenced blobs stay', async () => {
  assert.ok(committed, 'the crash rounds did not run');
  await stopServer(server, 'SIGTERM', 15000);
  const planted = [plantOrphan(), plantOrphan(), plantOrphan(refB), plantTemp(), plantTemp(refB)];
  const referenced = blobFiles().length + blobFiles(refB).length - 3;
  await start({ ALPACA_STORAGE_SWEEP_INTERVAL: '0', ALPACA_STORAGE_SWEEP_MIN_AGE: '0' });
  assert.deepEqual(await waitGone(planted, 15000), [], 'planted orphans still there after the sweep at start');
  assert.equal(blobFiles().length + blobFiles(refB).length, referenced, 'referenced blobs were removed');
  await referencedIntact('after the sweep at start');
});

t('the timer (sweep_interval = 1) removes an orphan planted while the server runs', async () => {
  assert.ok(committed, 'the crash rounds did not run');
  await stopServer(server, 'SIGTERM', 15000);
  await start({ ALPACA_STORAGE_SWEEP_INTERVAL: '1', ALPACA_STORAGE_SWEEP_MIN_AGE: '0' });
  await sleep(300);
  const planted = [plantOrphan(), plantTemp()];
  assert.deepEqual(await waitGone(planted, 6000), [], 'orphans planted while running were not swept within 6 s');
  await referencedIntact('after timed sweeps');
});

t('orphans younger than sweep_min_age (3600) are kept by the sweep at start and by the timer', async () => {
  assert.ok(committed, 'the crash rounds did not run');
  await stopServer(server, 'SIGTERM', 15000);
  const early = [plantOrphan(), plantTemp()];
  await start({ ALPACA_STORAGE_SWEEP_INTERVAL: '1', ALPACA_STORAGE_SWEEP_MIN_AGE: '3600' });
  const late = [plantOrphan()];
  await sleep(3500); // the sweep at start and about three timed ones
  for (const f of [...early, ...late]) assert.ok(fs.existsSync(f), `young ${path.basename(f)} was removed`);
  await referencedIntact('after sweeps with min age 3600');
  // Default min age (no setting) is an hour too: still kept after another restart.
  await stopServer(server, 'SIGTERM', 15000);
  await start({ ALPACA_STORAGE_SWEEP_INTERVAL: '1' });
  await sleep(2500);
  for (const f of [...early, ...late]) assert.ok(fs.existsSync(f), `young ${path.basename(f)} was removed with the default min age`);
  for (const f of [...early, ...late]) fs.rmSync(f);
});
