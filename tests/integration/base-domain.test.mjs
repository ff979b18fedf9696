// Per-project APIs under Host: <ref>.<base_domain> when server.base_domain is set
// (ALPACA_SERVER_BASE_DOMAIN, ALPACA_SERVER_BASE_SCHEME), and still under /p/<ref>.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { disposeServer, expectError, expectStatus, fmt, startServer, withLogs } from './harness.mjs';

describe('server.base_domain', () => {
  let server;
  let A;
  let anon;
  const base = 'alpaca.test';
  const t = (name, fn) => test(name, { timeout: 60000 }, withLogs(() => server, fn));

  before(async () => {
    server = await startServer({ env: { ALPACA_SERVER_BASE_DOMAIN: base, ALPACA_SERVER_BASE_SCHEME: 'http' } });
    A = expectStatus(await server.api('POST', '/projects', { body: { name: 'hosted' } }), 201).json;
    anon = expectStatus(await server.api('GET', `/projects/${A.id}/api-keys`), 200).json.find((k) => k.name === 'anon').api_key;
  });
  after(() => disposeServer(server));

  t('server_url uses <scheme>://<ref>.<base_domain>', async () => {
    assert.equal(A.server_url, `http://${A.id}.${base}`);
    const got = expectStatus(await server.api('GET', `/projects/${A.id}`), 200);
    assert.equal(got.json.server_url, `http://${A.id}.${base}`);
  });

  t('Host: <ref>.<base_domain>[:port] selects the project', async () => {
    for (const host of [`${A.id}.${base}`, `${A.id}.${base}:${server.port}`, `${A.id.toUpperCase()}.${base.toUpperCase()}`]) {
      const r = expectStatus(await server.request('GET', '/probe/v1/whoami', { headers: { host, apikey: anon } }), 200);
      assert.equal(r.json.project, A.id, fmt(r));
      assert.equal(r.json.role, 'anon', fmt(r));
    }
    const pre = await server.request('OPTIONS', '/rest/v1/x', {
      headers: { host: `${A.id}.${base}`, origin: 'http://localhost:3000', 'access-control-request-method': 'POST' },
    });
    expectStatus(pre, 204);
    assert.ok(pre.headers['access-control-allow-origin'], 'preflight via Host has Access-Control-Allow-Origin');
  });

  t('the /p/<ref> form still works; unknown refs are 404; other hosts reach the root', async () => {
    const r = expectStatus(await server.request('GET', `/p/${A.id}/probe/v1/whoami`, { headers: { apikey: anon } }), 200);
    assert.equal(r.json.project, A.id);
    expectError(await server.request('GET', '/probe/v1/whoami', { headers: { host: `aaaaaaaaaaaaaaaaaaaa.${base}`, apikey: anon } }), 404);
    const h = expectStatus(await server.request('GET', '/health', { headers: { host: 'localhost' } }), 200);
    assert.deepEqual(h.json, { status: 'ok' });
    expectStatus(await server.api('GET', '/projects', { headers: { host: `127.0.0.1:${server.port}` } }), 200);
    // the base domain itself (no ref) is the root, not a project
    expectStatus(await server.api('GET', '/projects', { headers: { host: base } }), 200);
  });
});
