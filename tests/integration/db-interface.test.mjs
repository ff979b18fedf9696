// The host's alpaca.db interface as a plugin sees it (through the probe plugin): parameters and
// SQL NULL, column names and type oids, text values, Postgres errors with SQLSTATE and position,
// and a commit after a failed statement reported as a failure.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, fmt } from './harness.mjs';

let server;
let id;
let anon;

before(async () => {
  server = await startServer();
  const p = await server.api('POST', '/projects', { body: { name: 'db-interface' } });
  assert.equal(p.status, 201, fmt(p));
  id = p.json.id;
  anon = (await server.api('GET', `/projects/${id}/api-keys`)).json[0].api_key;
});
after(async () => server?.stop());

const get = (path) => server.request('GET', `/p/${id}${path}`, { headers: { apikey: anon } });

test('parameters, NULL, names, type oids and values cross the ABI intact', async () => {
  const r = await get('/probe/v1/query?x=41');
  assert.equal(r.status, 200, fmt(r));
  assert.deepEqual(r.json, {
    rows: 1,
    columns: 3,
    names: ['n', 'z', 's'],
    types: [23, 25, 25], // int4, text, text
    values: ['42', null, 'é"'],
  });
});

test('a Postgres error carries its message, SQLSTATE and position', async () => {
  const r = await get('/probe/v1/query?x=notanumber');
  assert.equal(r.status, 400, fmt(r));
  assert.equal(r.json.sqlstate, '22P02'); // invalid_text_representation
  assert.match(r.json.error, /invalid input syntax for type integer/);
});

test('committing after a failed statement is reported, not silently rolled back', async () => {
  const r = await get('/probe/v1/commit-after-error');
  assert.equal(r.status, 200, fmt(r));
  assert.notEqual(r.json.query_status, 0);
  assert.equal(r.json.sqlstate, '22012'); // division_by_zero
  assert.notEqual(r.json.end_status, 0, 'session_end(commit) returned OK after a failed statement');
});

test('sessions never log in as a superuser, so no statement can RESET ROLE its way up', async () => {
  const api = await get('/probe/v1/db');
  assert.equal(api.status, 200, fmt(api));
  assert.equal(api.json.current_user, 'anon');
  assert.equal(api.json.session_user, 'authenticator');
  assert.equal(api.json.session_superuser, false);
  const admin = await get('/probe/v1/admin-session');
  assert.equal(admin.status, 200, fmt(admin));
  assert.deepEqual(admin.json, {
    current_user: 'alpaca_admin',
    session_user: 'alpaca_admin',
    superuser: false,
    bypassrls: true,
  });
});
