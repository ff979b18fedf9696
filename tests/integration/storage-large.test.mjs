// Storage plugin (issue 6): large objects. Byte-exact round trips of 1 B, 1 MiB and 100 MiB through
// raw uploads (the 100 MiB body streamed from a generator, never held in memory here), Range
// requests on the 100 MiB object (first byte, last byte, an unaligned 1 MiB slice), HEAD, and the
// server's memory: its RSS grows by less than 50 MB while it takes and serves the 100 MiB object.
// The server runs with storage.max_file_size = 200MB (ALPACA_STORAGE_MAX_FILE_SIZE) and nothing
// else: that setting alone lets objects above the host's default request-body limit (50 MiB) in.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startServer, disposeServer, databasePlugin, fmt, randomHex, withLogs, storagePlugin } from './harness.mjs';

const MiB = 1024 * 1024;
const BIG = 100 * MiB;
const LIMIT = 200 * MiB; // "200MB" in the server's units (1 MB = 1048576 bytes, as bucket limits)

let server, ref, service;
const url = (p) => `/p/${ref}/storage/v1${p}`;
const sql = async (q) => {
  const r = await server.api('POST', `/projects/${ref}/query`, { body: { sql: q } });
  assert.equal(r.status, 200, fmt(r));
  return r.json.rows;
};

// Deterministic pseudo-random bytes: the AES-128-CTR key stream, so any slice can be recomputed
// from its offset without keeping the object.
const KEY = crypto.randomBytes(16);
const IV = crypto.randomBytes(16);
function streamBytes(offset, length) {
  const block = BigInt(Math.floor(offset / 16));
  const skip = offset % 16;
  let ctr = (BigInt('0x' + IV.toString('hex')) + block) & ((1n << 128n) - 1n);
  const iv = Buffer.from(ctr.toString(16).padStart(32, '0'), 'hex');
  const c = crypto.createCipheriv('aes-128-ctr', KEY, iv);
  return c.update(Buffer.alloc(skip + length)).subarray(skip);
}
function* chunks(total, step = 256 * 1024) {
  for (let at = 0; at < total; at += step) yield streamBytes(at, Math.min(step, total - at));
}

// The server's resident set size in bytes, from /proc/<pid>/status.
function rss() {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${server.pid}/status`, 'utf8'));
  return Number(m[1]) * 1024;
}
function rssSampler() {
  let max = rss();
  const timer = setInterval(() => {
    try {
      max = Math.max(max, rss());
    } catch {}
  }, 20);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      max = Math.max(max, rss());
      return max;
    },
  };
}

// Resolves on 'drain' or 'close', whichever comes first, leaving no listener behind.
function drained(req) {
  return new Promise((resolve) => {
    const done = () => {
      req.off('drain', done);
      req.off('close', done);
      resolve();
    };
    req.on('drain', done);
    req.on('close', done);
  });
}

// Streams a body from an iterator of Buffers (backpressure respected); returns {status, json, text}.
// A server answering before the whole body is sent (413) and closing is an answer, not an error.
function uploadStream(name, iter, { length, chunked = false, headers = {}, method = 'POST', port } = {}) {
  return new Promise((resolve, reject) => {
    const h = { apikey: service, 'content-type': 'application/octet-stream', ...headers };
    if (!chunked) h['content-length'] = String(length);
    let answered = false;
    const req = http.request(
      { host: '127.0.0.1', port: port ?? server.port, method, path: url(`/object/${name}`), headers: h, agent: false },
      (res) => {
        answered = true;
        const parts = [];
        res.on('data', (c) => parts.push(c));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          let json;
          try {
            json = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode, headers: res.headers, text, json, method, path: url(`/object/${name}`) });
          req.destroy();
        });
        res.on('error', () => {});
      },
    );
    req.on('error', (e) => {
      if (!answered) setTimeout(() => !answered && reject(e), 500); // the answer may still be in flight
    });
    (async () => {
      for (const c of iter) {
        if (answered || req.destroyed) return;
        if (!req.write(c)) await drained(req);
      }
      if (!req.destroyed) req.end();
    })().catch(reject);
  });
}

// GET (or HEAD) as a stream: sha256/md5 and length of the body, the first bytes kept for checks.
function download(name, headers = {}, method = 'GET', keep = 2 * MiB) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: server.port, method, path: url(`/object/${name}`), headers: { apikey: service, ...headers }, agent: false },
      (res) => {
        const sha = crypto.createHash('sha256');
        const kept = [];
        let length = 0;
        res.on('data', (c) => {
          sha.update(c);
          if (length < keep) kept.push(c.subarray(0, keep - length));
          length += c.length;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode, headers: res.headers, length, sha256: sha.digest('hex'), head: Buffer.concat(kept) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}
const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');

before(async () => {
  // storage.max_file_size only: the host's own request-body cap (http.max_body_bytes, 50 MiB by
  // default) must not apply to uploads, whose limit is the storage one.
  server = await startServer({
    plugins: `${databasePlugin},${storagePlugin}`,
    env: { ALPACA_STORAGE_MAX_FILE_SIZE: '200MB' },
  });
  const p = await server.api('POST', '/projects', { body: { name: `large-${randomHex(3)}` } });
  assert.equal(p.status, 201, fmt(p));
  ref = p.json.id;
  const keys = (await server.api('GET', `/projects/${ref}/api-keys`)).json;
  service = keys.find((k) => k.name === 'service_role').api_key;
  const r = await server.request('POST', url('/bucket'), { headers: { apikey: service }, body: { name: 'big' } });
  assert.equal(r.status, 200, fmt(r));
});
after(() => disposeServer(server));

const t = (name, fn, timeout = 180000) => test(name, { timeout }, withLogs(() => server, fn));

t('1 byte and 1 MiB round trip byte-exact (sha256, Content-Length, ETag)', async () => {
  for (const size of [1, MiB]) {
    const bytes = crypto.randomBytes(size);
    const r = await uploadStream(`big/small-${size}.bin`, [bytes], { length: size });
    assert.equal(r.status, 200, fmt(r));
    assert.equal(r.json.Key, `big/small-${size}.bin`);
    const d = await download(`big/small-${size}.bin`);
    assert.equal(d.status, 200);
    assert.equal(d.length, size);
    assert.equal(d.sha256, sha256(bytes));
    assert.equal(d.headers['content-length'], String(size));
    assert.equal(d.headers.etag, `"${crypto.createHash('md5').update(bytes).digest('hex')}"`);
  }
});

let bigMd5, bigSha;
t('100 MiB streamed upload and download are byte-exact; the server RSS grows < 50 MB', async (tc) => {
  // Warm up the paths (allocators, buffers) so the baseline is the steady state.
  for (let i = 0; i < 3; i++) {
    const w = await uploadStream(`big/warm-${i}.bin`, chunks(4 * MiB), { length: 4 * MiB });
    assert.equal(w.status, 200, fmt(w));
    assert.equal((await download(`big/warm-${i}.bin`)).length, 4 * MiB);
  }
  const md5 = crypto.createHash('md5');
  const sha = crypto.createHash('sha256');
  function* hashed() {
    for (const c of chunks(BIG)) {
      md5.update(c);
      sha.update(c);
      yield c;
    }
  }
  const base = rss();
  const sampler = rssSampler();
  let r, d, upMs, downMs, peak;
  try {
    const t0 = performance.now();
    r = await uploadStream('big/hundred.bin', hashed(), { length: BIG });
    upMs = performance.now() - t0;
    assert.equal(r.status, 200, fmt(r));
    assert.equal(r.json.Key, 'big/hundred.bin');
    const t1 = performance.now();
    d = await download('big/hundred.bin');
    downMs = performance.now() - t1;
  } finally {
    peak = sampler.stop();
  }
  const md5Hex = md5.digest('hex');
  const shaHex = sha.digest('hex');
  tc.diagnostic(
    `upload ${upMs.toFixed(0)} ms, download ${downMs.toFixed(0)} ms, RSS base ${(base / MiB).toFixed(1)} MiB, peak ${(peak / MiB).toFixed(1)} MiB`,
  );
  assert.equal(d.status, 200);
  assert.equal(d.headers['content-length'], String(BIG));
  assert.equal(d.length, BIG);
  assert.equal(d.sha256, shaHex, 'downloaded bytes differ from the uploaded ones');
  assert.equal(d.headers.etag, `"${md5Hex}"`);
  [bigMd5, bigSha] = [md5Hex, shaHex];
  assert.ok(
    peak - base < 50 * 1000 * 1000,
    `server RSS grew by ${((peak - base) / MiB).toFixed(1)} MiB (base ${(base / MiB).toFixed(1)} MiB, peak ${(peak / MiB).toFixed(1)} MiB)`,
  );
  const rows = await sql(
    "select (metadata->>'size')::bigint as size, metadata->>'eTag' as etag, version from storage.objects where bucket_id = 'big' and name = 'hundred.bin'",
  );
  assert.equal(rows.length, 1);
  assert.equal(Number(rows[0].size), BIG);
  assert.equal(rows[0].etag, `"${bigMd5}"`);
  // One blob on disk, of exactly that size, at <blob_dir>/<ref>/<ab>/<cd>/<key>; no temp file left.
  const key = rows[0].version;
  const blob = path.join(server.dataDir, 'storage', ref, key.slice(0, 2), key.slice(2, 4), key);
  assert.equal(fs.statSync(blob).size, BIG);
  assert.deepEqual(fs.readdirSync(path.join(server.dataDir, 'storage', 'tmp')), []);
});

t('Range on the 100 MiB object: first byte, last byte, suffix, an unaligned 1 MiB slice', async () => {
  assert.ok(bigSha, 'the 100 MiB upload did not succeed');
  const cases = [
    ['bytes=0-0', 0, 0],
    [`bytes=${BIG - 1}-${BIG - 1}`, BIG - 1, BIG - 1],
    ['bytes=-1', BIG - 1, BIG - 1],
    [`bytes=${BIG - 1}-`, BIG - 1, BIG - 1],
    [`bytes=${50 * MiB + 12345}-${51 * MiB + 12344}`, 50 * MiB + 12345, 51 * MiB + 12344],
    [`bytes=${BIG - 1000}-${BIG + 5000}`, BIG - 1000, BIG - 1], // end past the size is clamped
    [`bytes=-${MiB}`, BIG - MiB, BIG - 1],
  ];
  for (const [range, first, last] of cases) {
    const d = await download('big/hundred.bin', { range });
    assert.equal(d.status, 206, range);
    assert.equal(d.headers['content-range'], `bytes ${first}-${last}/${BIG}`, range);
    assert.equal(d.headers['content-length'], String(last - first + 1), range);
    assert.equal(d.length, last - first + 1, range);
    assert.equal(d.sha256, sha256(streamBytes(first, last - first + 1)), `${range}: bytes differ`);
  }
  const d = await download('big/hundred.bin', { range: `bytes=${BIG}-` });
  assert.equal(d.status, 416);
  assert.equal(d.headers['content-range'], `bytes */${BIG}`);
});

t('HEAD on the 100 MiB object: Content-Length, ETag, no body', async () => {
  assert.ok(bigSha, 'the 100 MiB upload did not succeed');
  const h = await download('big/hundred.bin', {}, 'HEAD');
  assert.equal(h.status, 200);
  assert.equal(h.headers['content-length'], String(BIG));
  assert.equal(h.headers.etag, `"${bigMd5}"`);
  assert.equal(h.headers['accept-ranges'], 'bytes');
  assert.equal(h.length, 0);
});

t('a 20 MiB chunked (Transfer-Encoding) upload round-trips byte-exact', async () => {
  const size = 20 * MiB + 7;
  const sha = crypto.createHash('sha256');
  function* hashed() {
    for (const c of chunks(size, 100003)) {
      sha.update(c);
      yield c;
    }
  }
  const r = await uploadStream('big/chunked.bin', hashed(), { chunked: true });
  assert.equal(r.status, 200, fmt(r));
  const d = await download('big/chunked.bin');
  assert.equal(d.length, size);
  assert.equal(d.sha256, sha.digest('hex'));
});

t('over storage.max_file_size: 413 from the declared length, nothing stored', async () => {
  const before = await sql("select count(*)::int as n from storage.objects where bucket_id = 'big'");
  const r = await new Promise((resolve, reject) => {
    // Headers only: the server must answer from Content-Length without waiting for the body.
    const req = http.request(
      {
        host: '127.0.0.1',
        port: server.port,
        method: 'POST',
        path: url('/object/big/too-big.bin'),
        headers: { apikey: service, 'content-type': 'application/octet-stream', 'content-length': String(LIMIT + 1) },
        agent: false,
        timeout: 10000,
      },
      (res) => {
        const parts = [];
        res.on('data', (c) => parts.push(c));
        res.on('end', () => {
          resolve({ status: res.statusCode, text: Buffer.concat(parts).toString() });
          req.destroy();
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer to an over-limit Content-Length within 10 s')));
    req.on('error', reject);
    req.write(Buffer.alloc(1024));
    req.flushHeaders();
  });
  assert.equal(r.status, 413, r.text);
  const json = JSON.parse(r.text);
  assert.equal(json.statusCode, '413', r.text);
  assert.equal(json.error, 'Payload too large', r.text);
  const after = await sql("select count(*)::int as n from storage.objects where bucket_id = 'big'");
  assert.deepEqual(after, before);
  assert.deepEqual(fs.readdirSync(path.join(server.dataDir, 'storage', 'tmp')), []);
});

