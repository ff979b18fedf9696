// Graceful shutdown: SIGTERM while requests are in flight lets them finish, refuses new
// new work, then stops plugins and PostgreSQL and exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, sleep, pgrep, fmt, request } from './harness.mjs';

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
