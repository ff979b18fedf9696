// Two alpaca-server hosts sharing one external PostgreSQL (and one control database): a change
// made on one host (revoke a token, rotate keys, delete a project) takes effect on the other at
// once, through NOTIFY-driven cache invalidation. Also: projects answer on <ref>.<base_domain>.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startExternalPostgres, startServer, sleep, fmt } from './harness.mjs';

let pg;
let a;
let b;

before(async () => {
  pg = await startExternalPostgres();
  const shared = { databaseUrl: pg.url, controlDb: 'alpaca_multihost' };
  a = await startServer({ ...shared, env: { ALPACA_SERVER_BASE_DOMAIN: 'alpaca.test' } });
  // Same admin token: both hosts serve the same accounts.
  b = await startServer({ ...shared, adminToken: a.adminToken });
});

after(async () => {
  await a?.stop();
  await b?.stop();
  pg?.stop();
});

// A change on one host must show on the other within a short time (the NOTIFY round trip).
async function eventually(fn, ms = 3000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const last = await fn();
    if (last.ok) return last;
    if (Date.now() > deadline) return last;
    await sleep(50);
  }
}

test('a token revoked on host A stops working on host B', async () => {
  const created = await a.api('POST', '/account/tokens', { body: { name: 'shared' } });
  assert.equal(created.status, 201, fmt(created));
  const token = created.json.token;
  // B caches it on first use.
  assert.equal((await b.api('GET', '/projects', { token })).status, 200);
  const revoked = await a.api('DELETE', `/account/tokens/${created.json.id}`);
  assert.equal(revoked.status, 200, fmt(revoked));
  const res = await eventually(async () => {
    const r = await b.api('GET', '/projects', { token });
    return { ok: r.status === 401, r };
  });
  assert.equal(res.r.status, 401, `host B still accepts a revoked token: ${fmt(res.r)}`);
});

test('keys rotated on host A are refused by host B; new ones accepted', async () => {
  const p = await a.api('POST', '/projects', { body: { name: 'shared-project' } });
  assert.equal(p.status, 201, fmt(p));
  const id = p.json.id;
  const keys = (await a.api('GET', `/projects/${id}/api-keys`)).json;
  const oldService = keys[1].api_key;
  assert.equal((await b.api('GET', `/projects/${id}`, { token: oldService })).status, 200);
  const rotated = await a.api('POST', `/projects/${id}/api-keys/rotate`);
  assert.equal(rotated.status, 200, fmt(rotated));
  const res = await eventually(async () => {
    const r = await b.api('GET', `/projects/${id}`, { token: oldService });
    return { ok: r.status === 401, r };
  });
  assert.equal(res.r.status, 401, `host B still accepts the old key: ${fmt(res.r)}`);
  const fresh = await b.api('GET', `/projects/${id}`, { token: rotated.json[1].api_key });
  assert.equal(fresh.status, 200, fmt(fresh));

  // A rename on A shows on B.
  await a.api('PATCH', `/projects/${id}`, { body: { name: 'renamed' } });
  const renamed = await eventually(async () => {
    const r = await b.api('GET', `/projects/${id}`);
    return { ok: r.json?.name === 'renamed', r };
  });
  assert.equal(renamed.r.json?.name, 'renamed', fmt(renamed.r));

  // Deleted on A: 404 on B, also on the per-project API.
  assert.equal((await a.api('DELETE', `/projects/${id}`)).status, 200);
  const gone = await eventually(async () => {
    const r = await b.request('GET', `/p/${id}/probe/v1/whoami`, {
      headers: { apikey: rotated.json[0].api_key },
    });
    return { ok: r.status === 404, r };
  });
  assert.equal(gone.r.status, 404, fmt(gone.r));
});

test('with server.base_domain, a project answers on <ref>.<base_domain>', async () => {
  const p = await a.api('POST', '/projects', { body: { name: 'by-host' } });
  assert.equal(p.status, 201, fmt(p));
  assert.equal(p.json.server_url, `https://${p.json.id}.alpaca.test`);
  const anon = (await a.api('GET', `/projects/${p.json.id}/api-keys`)).json[0].api_key;
  const r = await a.request('GET', '/probe/v1/whoami', {
    headers: { host: `${p.json.id}.alpaca.test:${a.port}`, apikey: anon },
  });
  assert.equal(r.status, 200, fmt(r));
  assert.equal(r.json.project, p.json.id);
  assert.equal(r.json.role, 'anon');
  const unknown = await a.request('GET', '/probe/v1/whoami', {
    headers: { host: `nosuchproject.alpaca.test`, apikey: anon },
  });
  assert.equal(unknown.status, 404, fmt(unknown));
  assert.equal(typeof unknown.json?.error, 'string');
  // The management API still answers on the bare host.
  assert.equal((await a.api('GET', '/projects')).status, 200);
});
