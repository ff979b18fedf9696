// Hostile and malformed HTTP input: a 4xx in the spec's error format, the server stays up, and
// nothing changes. One embedded server with a 1 KiB body limit (ALPACA_HTTP_MAX_BODY_BYTES=1024).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  checks,
  disposeServer,
  expectError,
  expectStatus,
  fmt,
  rawConnection,
  startServer,
  withLogs,
} from './harness.mjs';

// `prefix` + "1,2,3,…)" cut to exactly `bytes` bytes: an in.() list as long as a URI may get.
function inList(prefix, bytes) {
  let s = prefix;
  for (let i = 1; s.length < bytes; i++) s += `${i},`;
  return s.slice(0, bytes - 1) + ')';
}

describe('bad input (body limit 1024 bytes)', () => {
  let server;
  let A;
  let snapshot;
  const t = (name, fn) => test(name, { timeout: 60000 }, withLogs(() => server, fn));

  before(async () => {
    server = await startServer({ env: { ALPACA_HTTP_MAX_BODY_BYTES: '1024' } });
    A = expectStatus(await server.api('POST', '/projects', { body: { name: 'bad-input' } }), 201).json;
  });
  after(() => disposeServer(server));

  async function unchanged() {
    const h = await server.request('GET', '/health');
    assert.equal(h.status, 200, `/health after bad request: ${fmt(h)}`);
    const list = expectStatus(await server.api('GET', '/projects'), 200).json;
    assert.deepEqual(list, snapshot, 'GET /projects changed after a rejected request');
  }

  t('snapshot', async () => {
    snapshot = expectStatus(await server.api('GET', '/projects'), 200).json;
    assert.equal(snapshot.length, 1);
  });

  t('malformed JSON body → 400', async () => {
    const c = checks();
    for (const body of ['{"name":', '{name: "x"}', 'nul', '{"name": "x"} trailing', '\u0000', '{"name":"\\ud800"}x'])
      await c.run(async () => expectError(await server.api('POST', '/projects', { body, headers: { 'content-type': 'application/json' } }), 400));
    await c.run(async () => expectError(await server.api('PATCH', `/projects/${A.id}`, { body: '{"name":', headers: { 'content-type': 'application/json' } }), 400));
    await c.run(async () => expectError(await server.api('POST', '/account/tokens', { body: '{"name":', headers: { 'content-type': 'application/json' } }), 400));
    c.done();
    await unchanged();
  });

  t('JSON that is not an object → 400', async () => {
    const c = checks();
    for (const body of ['[]', '[{"name":"x"}]', '"x"', '42', 'null', 'true'])
      await c.run(async () => expectError(await server.api('POST', '/projects', { body, headers: { 'content-type': 'application/json' } }), 400));
    await c.run(async () => expectError(await server.api('PATCH', `/projects/${A.id}`, { body: '[{"name":"x"}]', headers: { 'content-type': 'application/json' } }), 400));
    c.done();
    await unchanged();
  });

  t('empty body on POST /projects → 400', async () => {
    const c = checks();
    await c.run(async () => expectError(await server.api('POST', '/projects', { body: '', headers: { 'content-type': 'application/json' } }), 400));
    await c.run(async () => expectError(await server.api('POST', '/projects'), 400));
    await c.run(async () => expectError(await server.api('PATCH', `/projects/${A.id}`, { body: '' }), 400));
    c.done();
    await unchanged();
  });

  t('body over the limit (content-length) → 413', async () => {
    const c = checks();
    const big = JSON.stringify({ name: 'x', pad: 'y'.repeat(4096) });
    await c.run(async () => expectError(await server.api('POST', '/projects', { body: big, headers: { 'content-type': 'application/json' } }), 413));
    const bigPatch = JSON.stringify({ env_vars: { A: 'z'.repeat(4096) } });
    await c.run(async () => expectError(await server.api('PATCH', `/projects/${A.id}`, { body: bigPatch, headers: { 'content-type': 'application/json' } }), 413));
    const probe = await server.request('POST', '/probe/body', { body: Buffer.alloc(4096, 0x61) });
    await c.run(async () => expectError(probe, 413));
    // exactly at the limit is fine
    const ok = expectStatus(await server.request('POST', '/probe/body', { body: Buffer.alloc(1024, 0x61) }), 200);
    assert.deepEqual(ok.json, { bytes: 1024 }, fmt(ok));
    c.done();
    await unchanged();
  });

  t('chunked body with no content-length over the limit → 413', async () => {
    const c = checks();
    const big = Buffer.from(JSON.stringify({ name: 'x', pad: 'y'.repeat(4096) }));
    await c.run(async () => expectError(await server.api('POST', '/projects', { body: big, chunked: true, headers: { 'content-type': 'application/json' } }), 413));
    await c.run(async () => expectError(await server.request('POST', '/probe/body', { body: Buffer.alloc(4096, 0x61), chunked: true, chunkSize: 256 }), 413));
    const ok = expectStatus(await server.request('POST', '/probe/body', { body: Buffer.alloc(1000, 0x61), chunked: true, chunkSize: 100 }), 200);
    assert.deepEqual(ok.json, { bytes: 1000 }, fmt(ok));
    c.done();
    await unchanged();
  });

  t('a lying content-length (body shorter than announced) does not hang or crash the server', async () => {
    // Send headers announcing 100 bytes, send 10, then close our side.
    await new Promise((resolve) => {
      const s = net.connect(server.port, '127.0.0.1', () => {
        s.write(`POST /projects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.adminToken}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":"x`);
        s.end();
      });
      s.on('data', () => {});
      s.on('error', resolve);
      s.on('close', resolve);
      setTimeout(() => { s.destroy(); resolve(); }, 5000);
    });
    await unchanged();
  });

  t('hostile query strings do not crash the server', async () => {
    const paths = [
      '/projects?a=%ZZ&b=%00',
      '/projects?%',
      '/projects?a=%',
      `/projects?${'q'.repeat(20000)}=1`,
      `/projects?${Array.from({ length: 2000 }, (_, i) => `k${i}=v`).join('&')}`,
      `/projects/${A.id}?a=%ZZ&b=%00&c=%E0%A4%A`,
      '/probe/echo/n/r?x=%ZZ',
      '/probe/echo/n/r?x=%00',
      '/probe/echo/%ZZ/r?x=1',
      '/probe/echo/%00/%2e%2e%2f?x=1',
      `/p/${A.id}/probe/v1/whoami?apikey=%ZZ`,
    ];
    const c = checks();
    for (const p of paths) {
      await c.run(async () => {
        let res;
        try {
          res = await server.api('GET', p);
        } catch (e) {
          assert.fail(`GET ${p.slice(0, 80)}: connection error ${e.message}`);
        }
        assert.ok(
          (res.status >= 200 && res.status < 300) || (res.status >= 400 && res.status < 500),
          `expected 2xx or 4xx: ${fmt(res)}`,
        );
        // Every refusal is a JSON error, including a request line too long to read (414).
        if (res.status >= 400)
          assert.equal(typeof res.json?.error, 'string', `4xx should be a JSON error: ${fmt(res)}`);
        const h = await server.request('GET', '/health');
        assert.equal(h.status, 200, `/health after ${p.slice(0, 60)}: ${fmt(h)}`);
      });
    }
    c.done();
    await unchanged();
  });

  // One raw request the server refuses before reading it: a JSON error, Connection: close, the
  // connection closed after the answer (not reset before it).
  async function refused(data, status) {
    const c = rawConnection(server.port);
    try {
      const res = expectError(await c.send(data), status);
      assert.equal(Buffer.byteLength(res.text), Number(res.headers['content-length']), fmt(res));
      assert.match(res.headers.connection ?? '', /close/i, fmt(res));
      assert.ok(await c.waitClosed(5000), `connection left open after: ${fmt(res)}`);
      return res;
    } finally {
      c.destroy();
    }
  }

  t('a URI over 16 384 bytes → 414 JSON (project and root paths); the server keeps serving', async () => {
    const c = checks();
    for (const prefix of [`/p/${A.id}/rest/v1/items?select=id&id=in.(`, '/v1/items?id=in.(', '/projects?id=in.(']) {
      const uri = inList(prefix, 20000);
      await c.run(async () => {
        const res = await refused(`GET ${uri} HTTP/1.1\r\nHost: x\r\n\r\n`, 414);
        assert.equal(res.json.error, 'URI too long', fmt(res));
        assert.match(res.json.detail, /16384 bytes.*POST/, fmt(res));
      });
      // the same through node:http, as an SDK would send it: the answer arrives, no reset
      await c.run(async () => expectError(await server.api('GET', uri), 414));
      await c.run(async () => expectStatus(await server.request('GET', '/health'), 200));
    }
    // the limit itself: 16 384 bytes are read, one more is not
    await c.run(async () => expectStatus(await server.request('GET', inList('/health?x=(', 16384)), 200));
    await c.run(async () => expectError(await server.request('GET', inList('/health?x=(', 16385)), 414));
    // a request line that ends before its URI is malformed, not too long
    await c.run(async () => expectError(await refused('GET\r\n\r\n', 400), 400));
    c.done();
    await unchanged();
  });

  t('a header over its limits → 431 JSON', async () => {
    const c = checks();
    const req = (headers) => `GET /projects HTTP/1.1\r\nHost: x\r\n${headers}\r\n`;
    await c.run(async () => {
      const res = await refused(req(`X-Big: ${'v'.repeat(10000)}\r\n`), 431);
      assert.match(res.json.detail, /8192/, fmt(res));
    });
    await c.run(async () => refused(req(`Authorization: Bearer ${'x'.repeat(10000)}\r\n`), 431));
    await c.run(async () => {
      const res = await refused(req(`${'n'.repeat(300)}: v\r\n`), 431);
      assert.match(res.json.detail, /256/, fmt(res));
    });
    // just under: 8 192 bytes of value are fine
    await c.run(async () => expectError(await server.request('GET', '/projects', { headers: { authorization: `Bearer ${'x'.repeat(8185)}` } }), 401));
    c.done();
    await unchanged();
  });

  t('more than 100 header fields → 431 JSON', async () => {
    const many = (n) => Array.from({ length: n }, (_, i) => `X-H${i}: v\r\n`).join('');
    const res = await refused(`GET /health HTTP/1.1\r\nHost: x\r\n${many(200)}\r\n`, 431);
    assert.equal(res.json.error, 'Too many request headers', fmt(res));
    await unchanged();
    // 100 in all (Host and 99 more) are read
    const c = rawConnection(server.port);
    try {
      expectStatus(await c.send(`GET /health HTTP/1.1\r\nHost: x\r\n${many(99)}\r\n`), 200);
    } finally {
      c.destroy();
    }
  });

  t('a garbage request line → 400 JSON', async () => {
    // Binary bytes (the start of a TLS ClientHello), then a blank line: Poco reads line by line,
    // so bytes without a newline wait for the 60 s timeout instead.
    const binary = Buffer.concat([Buffer.from('16030100f4010000f00303' + 'ab'.repeat(64), 'hex'), Buffer.from('\r\n\r\n')]);
    const c = checks();
    for (const data of [
      'GARBAGE\r\n\r\n',
      `${'G'.repeat(40)} / HTTP/1.1\r\nHost: x\r\n\r\n`,
      'GET / HTTP/1.1.1.1.1.1\r\nHost: x\r\n\r\n',
      binary,
      'POST /projects HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
    ])
      await c.run(async () => {
        const res = await refused(data, 400);
        assert.equal(res.json.error, 'Malformed HTTP request', fmt(res));
        assert.ok(res.json.detail, fmt(res));
        const h = await server.request('GET', '/health');
        assert.equal(h.status, 200, fmt(h));
      });
    c.done();
    await unchanged();
  });

  t('keep-alive: requests one by one, pipelined, and after a 4xx share one connection', async () => {
    const c = rawConnection(server.port);
    try {
      const get = (p, extra = '') => `GET ${p} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;
      for (let i = 0; i < 3; i++) {
        const res = expectStatus(await c.send(get('/health')), 200);
        assert.match(res.headers.connection ?? '', /keep-alive/i, fmt(res));
      }
      expectError(await c.send(get('/nope')), 404);
      expectError(await c.send(get('/projects')), 401);
      // three at once: three answers, in order
      c.socket.write(get('/health') + get('/projects', `Authorization: Bearer ${server.adminToken}\r\n`) + get('/health'));
      expectStatus(await c.next(), 200);
      assert.deepEqual(expectStatus(await c.next(), 200).json, snapshot);
      expectStatus(await c.next(), 200);
      assert.equal(c.closed, false, 'the server closed a keep-alive connection');
      // Connection: close ends it after the answer
      expectStatus(await c.send(get('/health', 'Connection: close\r\n')), 200);
      assert.ok(await c.waitClosed(5000), 'connection left open after Connection: close');
    } finally {
      c.destroy();
    }
  });

  t('path traversal → 404 JSON', async () => {
    const c = checks();
    for (const p of [
      '/projects/..%2F..%2Fetc',
      '/projects/..%2F..%2Fetc%2Fpasswd',
      '/projects/%2e%2e/%2e%2e/etc/passwd',
      '/projects/../../etc/passwd',
      `/p/..%2F..%2Fetc/probe/v1/whoami`,
      `/p/${A.id}/..%2F..%2Fprojects`,
    ])
      await c.run(async () => expectError(await server.api('GET', p), 404));
    c.done();
    await unchanged();
  });

  t('garbage request lines and headers do not crash the server', async () => {
    const raw = [
      'GARBAGE\r\n\r\n',
      'GET /health HTTP/9.9\r\n\r\n',
      `GET /projects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'x'.repeat(9000)}\r\n\r\n`,
      'GET /projects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer\r\n\r\n',
      'GET /projects HTTP/1.1\r\nHost: x\r\nAuthorization: \r\n\r\n',
      'POST /projects HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n',
    ];
    for (const r of raw) {
      await new Promise((resolve) => {
        const s = net.connect(server.port, '127.0.0.1', () => s.end(r));
        s.on('data', () => {});
        s.on('error', resolve);
        s.on('close', resolve);
        setTimeout(() => { s.destroy(); resolve(); }, 5000);
      });
    }
    // an empty / bare Bearer is a 401, not a 500
    expectError(await server.request('GET', '/projects', { headers: { authorization: 'Bearer ' } }), 401);
    expectError(await server.request('GET', '/projects', { headers: { authorization: 'Bearer' } }), 401);
    await unchanged();
  });
});
