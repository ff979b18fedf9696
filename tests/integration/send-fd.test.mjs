// response_send_fd (ABI 1.2) through the probe plugin's GET /probe/sendfd: a file of `size`
// pattern bytes, `length` of them from `offset` sent with sendfile(2). Byte-exact bodies (0 B to
// 20 MiB, sub-ranges), the plugin's headers and status kept, Content-Length = length, HEAD, keep-
// alive, a file shorter than announced (the connection closes, the server goes on), bad
// arguments; and plugins declaring ABI 1.0 and 1.1 still load into this 1.2 host.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { disposeServer, fmt, probePlugin, startServer, testPluginDir, withLogs } from './harness.mjs';

// The probe's pattern: byte i of every file.
const patternByte = (i) => Math.imul(i, 2654435761) >>> 24;
function expected(offset, length) {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = patternByte(offset + i);
  return b;
}

// Where two buffers first differ (-1 when equal), for short failure messages.
function firstDifference(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}
function assertBytes(got, want, what) {
  const at = firstDifference(got, want);
  assert.equal(at, -1, `${what}: ${got.length} bytes received, ${want.length} expected, first difference at ${at}`);
}

/**
 * One keep-alive TCP connection speaking raw HTTP/1.1 with binary bodies. exchange(head) sends a
 * request and resolves with { status, headers (lower-cased, repeated ones joined by ', ' and
 * counted in counts), body: Buffer } once Content-Length bytes are in (none for HEAD); it
 * rejects, with the partial response as err.partial, when the server closes first.
 */
function connection(port) {
  const socket = net.connect(port, '127.0.0.1');
  let buf = Buffer.alloc(0); // bytes before the next head
  let cur = null; // the response whose body is arriving: its parts are kept, joined once
  let closed = false;
  let waiter = null;
  const ready = new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const parse = () => {
    if (!waiter) return;
    if (!cur) {
      const end = buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
        const headers = {};
        const counts = {};
        for (const l of lines.slice(1)) {
          const i = l.indexOf(':');
          const k = l.slice(0, i).trim().toLowerCase();
          const v = l.slice(i + 1).trim();
          headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
          counts[k] = (counts[k] ?? 0) + 1;
        }
        const length = waiter.head ? 0 : Number(headers['content-length'] ?? 0);
        const first = buf.subarray(end + 4);
        cur = { status: Number(lines[0].split(' ')[1]), headers, counts, length, parts: [first], got: first.length };
        buf = Buffer.alloc(0);
      }
    }
    if (cur && cur.got >= cur.length) {
      const all = Buffer.concat(cur.parts);
      buf = all.subarray(cur.length);
      const { parts, got, ...res } = cur;
      res.body = all.subarray(0, cur.length);
      cur = null;
      const w = waiter;
      waiter = null;
      return w.resolve(res);
    }
    if (closed) {
      const w = waiter;
      waiter = null;
      const err = new Error(`connection closed before a full response (${cur ? cur.got : buf.length} bytes in)`);
      if (cur) {
        const { parts, got, ...partial } = cur;
        partial.body = Buffer.concat(parts);
        err.partial = partial;
      }
      w.reject(err);
    }
  };
  socket.on('data', (c) => {
    if (cur) {
      cur.parts.push(c);
      cur.got += c.length;
    } else {
      buf = Buffer.concat([buf, c]);
    }
    parse();
  });
  socket.on('error', () => {});
  const closedPromise = new Promise((resolve) => socket.on('close', resolve));
  socket.on('close', () => {
    closed = true;
    parse();
  });
  return {
    get closed() {
      return closed;
    },
    async exchange(method, target) {
      await ready;
      socket.write(`${method} ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${method} ${target}: no response in 20 s`)), 20000);
        waiter = {
          head: method === 'HEAD',
          resolve: (v) => (clearTimeout(timer), resolve(v)),
          reject: (e) => (clearTimeout(timer), reject(e)),
        };
        parse();
      });
    },
    waitClosed(ms = 5000) {
      return Promise.race([closedPromise.then(() => true), new Promise((r) => setTimeout(() => r(false), ms))]);
    },
    destroy: () => socket.destroy(),
  };
}

describe('response_send_fd', () => {
  let server;
  const conns = [];
  const open = () => {
    const c = connection(server.port);
    conns.push(c);
    return c;
  };
  const get = async (target, method = 'GET') => {
    const c = open();
    try {
      return await c.exchange(method, target);
    } finally {
      c.destroy();
    }
  };
  const stats = async () => (await server.request('GET', '/probe/sendfd/stats')).json;
  const t = (name, fn) => test(name, { timeout: 120000 }, withLogs(() => server, fn));

  before(async () => {
    const old = ['old_minor0', 'old_minor1'].map((p) => path.join(testPluginDir, `${p}.so`));
    server = await startServer({ plugins: [probePlugin, ...old].join(',') });
  });
  after(async () => {
    for (const c of conns) c.destroy();
    await disposeServer(server);
  });

  for (const size of [0, 1, 1 << 20, 20 << 20]) {
    t(`a ${size}-byte file arrives byte-exact with Content-Length ${size}`, async () => {
      const r = await get(`/probe/sendfd?size=${size}`);
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-length'], String(size));
      assert.equal(r.counts['content-length'], 1);
      assert.equal(r.headers['transfer-encoding'], undefined);
      assert.equal(r.headers['content-type'], 'application/octet-stream');
      assert.equal(r.headers.etag, `"probe-${size}"`);
      assertBytes(r.body, expected(0, size), `GET size=${size}`);
    });
  }

  t('a sub-range keeps the plugin status and headers (206, Content-Range); its Content-Length is the length', async () => {
    const size = 3 << 20;
    const offset = 1000003;
    const length = 1234567;
    // cl=5: the plugin set a wrong Content-Length first; the host replaces it.
    const r = await get(`/probe/sendfd?size=${size}&offset=${offset}&length=${length}&range=1&cl=5`);
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], `bytes ${offset}-${offset + length - 1}/${size}`);
    assert.equal(r.headers['content-length'], String(length));
    assert.equal(r.counts['content-length'], 1);
    assert.equal(r.headers.etag, `"probe-${size}"`);
    assertBytes(r.body, expected(offset, length), 'sub-range');
    // The last byte alone, and an empty range at the end.
    const last = await get(`/probe/sendfd?size=${size}&offset=${size - 1}&length=1`);
    assertBytes(last.body, expected(size - 1, 1), 'last byte');
    const none = await get(`/probe/sendfd?size=${size}&offset=${size}&length=0`);
    assert.equal(none.headers['content-length'], '0');
    assert.equal(none.body.length, 0);
  });

  t('HEAD sends the head with Content-Length and no body; the connection goes on', async () => {
    const c = open();
    const h = await c.exchange('HEAD', `/probe/sendfd?size=${1 << 20}`);
    assert.equal(h.status, 200);
    assert.equal(h.headers['content-length'], String(1 << 20));
    assert.equal(h.headers.etag, `"probe-${1 << 20}"`);
    // Had a body followed, this response would be read from its bytes.
    const g = await c.exchange('GET', '/probe/sendfd?size=1');
    assert.equal(g.status, 200);
    assertBytes(g.body, expected(0, 1), 'GET after HEAD');
    c.destroy();
  });

  t('keep-alive: responses one after another on one connection are each exact', async () => {
    const c = open();
    const a = await c.exchange('GET', `/probe/sendfd?size=${1 << 20}`);
    assertBytes(a.body, expected(0, 1 << 20), 'first');
    assert.doesNotMatch(a.headers.connection ?? '', /close/i);
    const b = await c.exchange('GET', `/probe/sendfd?size=${1 << 20}&offset=77&length=4096&range=1`);
    assert.equal(b.status, 206);
    assertBytes(b.body, expected(77, 4096), 'second');
    const e = await c.exchange('GET', '/probe/sendfd?size=0');
    assert.equal(e.body.length, 0);
    const j = await c.exchange('GET', '/probe/echo/a/b?x=c');
    assert.equal(j.status, 200);
    assert.deepEqual(JSON.parse(j.body.toString()), { name: 'a', rest: 'b', x: 'c' });
    assert.equal(c.closed, false);
    c.destroy();
  });

  t('concurrent downloads of one file are each exact', async () => {
    const size = 1 << 20;
    const rs = await Promise.all(
      Array.from({ length: 16 }, (_, i) => get(`/probe/sendfd?size=${size}&offset=${i * 1000}&length=${size - i * 1000}`)),
    );
    rs.forEach((r, i) => assertBytes(r.body, expected(i * 1000, size - i * 1000), `download ${i}`));
  });

  t('a file shorter than the length: fewer bytes, the connection closes, the server goes on', async () => {
    const before = await stats();
    const size = 1 << 20;
    const c = open();
    const err = await c.exchange('GET', `/probe/sendfd?size=${size}&offset=100&length=${2 * size}`).then(
      (r) => assert.fail(`a full response arrived: ${r.status}, ${r.body.length} bytes`),
      (e) => e,
    );
    assert.ok(err.partial, `no head arrived: ${err.message}`);
    assert.equal(err.partial.status, 200);
    assert.equal(err.partial.headers['content-length'], String(2 * size));
    assertBytes(err.partial.body, expected(100, size - 100), 'what the file had');
    assert.ok(await c.waitClosed(), 'the connection stayed open');
    const after = await stats();
    assert.equal(after.failed, before.failed + 1, JSON.stringify(after));
    // Others are served as before, on new connections.
    const r = await get(`/probe/sendfd?size=${size}`);
    assertBytes(r.body, expected(0, size), 'the next download');
    const h = await server.request('GET', '/health');
    assert.equal(h.status, 200, fmt(h));
  });

  t('bad arguments send nothing (the plugin can still answer); a second call is refused', async () => {
    for (const fd of [-1, 100000]) {
      const r = await server.request('GET', `/probe/sendfd?size=10&fd=${fd}`);
      assert.equal(r.status, 400, fmt(r));
      assert.deepEqual(r.json, { sent: false });
    }
    const r = await get('/probe/sendfd?size=10&twice=1');
    assertBytes(r.body, expected(0, 10), 'first call');
    assert.equal((await stats()).second_status, 4); // ALPACA_ERR_STATE
  });

  t('the fd is borrowed: its file offset never moved', async () => {
    const s = await stats();
    assert.equal(s.offset_moved, 0, JSON.stringify(s));
    assert.ok(s.ok >= 10, JSON.stringify(s));
  });

  t('plugins declaring ABI 1.0 and 1.1 load into this 1.2 host', async () => {
    for (const minor of [0, 1]) {
      const r = await server.request('GET', `/probe/old-minor${minor}`);
      assert.equal(r.status, 200, fmt(r));
      assert.deepEqual(r.json, { declared_minor: minor, host_minor: 2, has_minor1: true, has_minor2: true });
    }
    assert.doesNotMatch(server.output, /refused plugin/);
  });
});
