// Graceful shutdown: SIGTERM while requests are in flight lets them finish, refuses new
// new work, then stops plugins and PostgreSQL and exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, sleep, pgrep, fmt, rawConnection, request } from './harness.mjs';

test('SIGTERM lets in-flight requests finish, then exits 0 with PostgreSQL stopped', async () => {
  const server = await startServer();
  const inflight = [1, 2, 3].map(() => server.request('GET', '/probe/slow?ms=1500'));
  await sleep(300); // the requests are inside the handler now
  const t0 = Date.now();
  server.child.kill('SIGTERM');
  await sleep(200);
  // No new connections are accepted while the old ones drain.
  // A request arriving now is refused: no connection, or 503 "stopping".
  const late = await request(server.url, 'GET', '/health', { timeoutMs: 1000 }).catch((e) => e);
  if (!(late instanceof Error)) {
    assert.equal(late.status, 503, fmt(late));
    assert.deepEqual(late.json, { status: 'stopping' });
  }
  const answers = await Promise.all(inflight);
  for (const r of answers) {
    assert.equal(r.status, 200, fmt(r));
    assert.equal(r.json.slept_ms, 1500);
  }
  const { code } = await server.exited;
  assert.equal(code, 0, server.logTail());
  assert.ok(Date.now() - t0 >= 1000, 'exited before the in-flight requests were done');
  assert.match(server.output, /stopped/);
  assert.deepEqual(pgrep(server.dataDir), [], 'a postgres process outlived the server');
});

test('SIGTERM with idle keep-alive connections open exits at once and closes them', async () => {
  const server = await startServer();
  // Idle keep-alive connections wait up to 15 s for a next request; stopping must not.
  const conns = [rawConnection(server.port), rawConnection(server.port)];
  try {
    for (const c of conns) {
      const res = await c.send('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal(res.status, 200, fmt(res));
      assert.match(res.headers.connection ?? '', /keep-alive/i, fmt(res));
    }
    const t0 = Date.now();
    server.child.kill('SIGTERM');
    for (const c of conns) assert.ok(await c.waitClosed(5000), 'an idle keep-alive connection stayed open');
    const { code } = await server.exited;
    assert.equal(code, 0, server.logTail());
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms to exit`);
  } finally {
    for (const c of conns) c.destroy();
  }
});
