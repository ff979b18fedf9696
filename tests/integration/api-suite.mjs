// The management API + per-project API suite, run once per database mode:
//   api.embedded.test.mjs → defineApiSuite('embedded')  (the server runs its own Postgres)
//   api.external.test.mjs → defineApiSuite('external')  (a throwaway PostgreSQL 15 the harness starts)
// Both modes run exactly the same assertions; the external mode additionally checks pg_database.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  algNoneJwt,
  checks,
  decodeJwt,
  disposeServer,
  expectError,
  expectStatus,
  findSocket,
  fmt,
  psql,
  randomHex,
  signHs256,
  startExternalPostgres,
  startServer,
  tamperPayload,
  tamperSignature,
  waitForOutput,
  withLogs,
} from './harness.mjs';

const ISO_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const REF = /^[a-z0-9]{20}$/;

// Fields of the flat project object (spec "Project Management") with their value on creation.
const CREATED_DEFAULTS = {
  status: 'active',
  backend_type: 'postgres',
  repo_url: null,
  build_command: null,
  output_dir: null,
  install_command: null,
  production_branch: null,
  env_vars: {},
  email_notifications: false,
  slack_webhook: null,
  forms_enabled: false,
  webhook_secret: null,
  github_token_set: false,
  google_client_id: null,
  google_client_secret_set: false,
  webhook_registered: false,
  webhook_url: null,
};

function checkProjectShape(server, p, name) {
  assert.ok(p && typeof p === 'object' && !Array.isArray(p), `project is not an object: ${JSON.stringify(p)}`);
  assert.match(p.id, REF, 'id: 20 chars [a-z0-9]');
  assert.equal(p.ref, p.id, 'ref == id');
  if (name !== undefined) assert.equal(p.name, name);
  assert.equal(p.server_url, `http://127.0.0.1:${server.port}/p/${p.id}`, 'server_url');
  assert.equal(typeof p.db_host, 'string', 'db_host is a string');
  assert.ok(p.db_host.length > 0, 'db_host is not empty');
  assert.equal(p.db_name, `proj_${p.id}`, 'db_name');
  assert.match(p.created_at, ISO_Z, 'created_at ISO 8601 with Z');
  assert.match(p.updated_at, ISO_Z, 'updated_at ISO 8601 with Z');
  for (const k of ['github_token', 'google_client_secret', 'jwt_secret', 'secret'])
    assert.ok(!(k in p), `project object must not carry "${k}"`);
}

export function defineApiSuite(mode) {
  describe(`management + per-project API (${mode} Postgres)`, () => {
    let pg = null; // external cluster (external mode)
    let server = null;
    const controlDb = mode === 'external' ? `alpaca_it_${randomHex(3)}` : undefined;
    const secrets = {}; // every credential/secret used; none may appear in the server output
    let A = null; // main project
    let B = null; // second project (cross-project checks)
    let keysA = null; // { anon, service_role }
    let keysB = null;
    let deleted = null; // project deleted by the delete test

    const logs = () => [server];
    const t = (name, fn, opts = {}) => test(name, { timeout: 60000, ...opts }, withLogs(logs, fn));
    const api = (...a) => server.api(...a);
    const dbHost = () =>
      mode === 'external' ? { host: pg.host, port: pg.port } : (() => {
        const s = findSocket(server.dataDir);
        return s ? { host: s.dir, port: s.port } : null;
      })();

    before(async () => {
      if (mode === 'external') pg = await startExternalPostgres();
      server = await startServer(
        mode === 'external' ? { databaseUrl: pg.url, controlDb } : {},
      );
      secrets.admin = server.adminToken;
      console.log(`[${mode}] server ready in ${server.readyMs.toFixed(0)} ms (port ${server.port})`);
    });

    after(async () => {
      await disposeServer(server);
      if (pg) pg.stop();
    });

    t('GET /health → 200 {"status":"ok"}', async () => {
      const res = expectStatus(await server.request('GET', '/health'), 200);
      assert.deepEqual(res.json, { status: 'ok' });
    });

    if (mode === 'external') {
      t('the control database named by ALPACA_DATABASE_CONTROL_DB exists in the external cluster', async () => {
        assert.equal(pg.psql(`select count(*) from pg_database where datname = '${controlDb}'`), '1');
      });
    }

    t('POST /projects → 201 flat project object, fast; GET /projects and GET /projects/:id return it', async (tc) => {
      const before = expectStatus(await api('GET', '/projects'), 200);
      assert.ok(Array.isArray(before.json), `GET /projects must be an array: ${fmt(before)}`);

      const t0 = performance.now();
      const res = await api('POST', '/projects', { body: { name: 'alpha' } });
      const ms = performance.now() - t0;
      tc.diagnostic(`[${mode}] POST /projects took ${ms.toFixed(0)} ms`);
      console.log(`[${mode}] POST /projects took ${ms.toFixed(0)} ms`);
      expectStatus(res, 201);
      checkProjectShape(server, res.json, 'alpha');
      for (const [k, v] of Object.entries(CREATED_DEFAULTS))
        assert.deepEqual(res.json[k], v, `new project field ${k}: ${fmt(res)}`);
      assert.ok(ms < 3000, `project creation took ${ms.toFixed(0)} ms (contract: < 1 s, asserted < 3 s)`);
      A = res.json;

      const one = expectStatus(await api('GET', `/projects/${A.id}`), 200);
      assert.deepEqual(one.json, A, 'GET /projects/:id returns the same object as POST');

      const list = expectStatus(await api('GET', '/projects'), 200);
      assert.equal(list.json.length, before.json.length + 1);
      const found = list.json.find((p) => p.id === A.id);
      assert.ok(found, `new project is listed: ${fmt(list)}`);
      checkProjectShape(server, found, 'alpha');

      const resB = expectStatus(await api('POST', '/projects', { body: { name: 'beta' } }), 201);
      B = resB.json;
      assert.notEqual(B.id, A.id);
      assert.notEqual(B.db_name, A.db_name);
    });

    t('the project database exists', async () => {
      const h = dbHost();
      if (!h) return assert.fail(`no postgres socket found under ${server.dataDir}`);
      assert.equal(psql(h, `select count(*) from pg_database where datname = '${A.db_name}'`), '1');
      // roles and auth helpers of the spec exist in the project database
      const roles = psql({ ...h, db: A.db_name }, `select string_agg(rolname, ',' order by rolname) from pg_roles where rolname in ('anon','authenticated','service_role')`);
      assert.equal(roles, 'anon,authenticated,service_role');
      const fns = psql({ ...h, db: A.db_name }, `select string_agg(proname, ',' order by proname) from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'auth' and proname in ('uid','role','jwt')`);
      assert.equal(fns, 'jwt,role,uid');
    });

    t('POST /projects with a 100-char name → 201', async () => {
      const name = 'n'.repeat(100);
      let t0 = performance.now();
      const res = expectStatus(await api('POST', '/projects', { body: { name } }), 201);
      const createMs = performance.now() - t0;
      assert.equal(res.json.name, name);
      // clean up so later list comparisons stay small
      t0 = performance.now();
      expectStatus(await api('DELETE', `/projects/${res.json.id}`), 200);
      console.log(`[${mode}] create ${createMs.toFixed(0)} ms, delete ${(performance.now() - t0).toFixed(0)} ms`);
      assert.ok(createMs < 3000, `project creation took ${createMs.toFixed(0)} ms`);
    });

    t('POST /projects bad input → 400 {error, detail}, and nothing is created', async () => {
      const snapshot = expectStatus(await api('GET', '/projects'), 200).json;
      const cases = [
        {},
        { name: '' },
        { name: 'x'.repeat(101) },
        { name: 123 },
        { name: null },
        { name: ['a'] },
        { name: 'ok', extra: 1 },
        { name: 'ok', status: 'deleted' },
      ];
      const c = checks();
      for (const body of cases) {
        await c.run(async () => {
          const res = await api('POST', '/projects', { body });
          expectError(res, 400);
          if (Object.keys(body).some((k) => k !== 'name'))
            assert.match(res.json.error + ' ' + (res.json.detail ?? ''), /unknown field/i, fmt(res));
        });
      }
      await c.run(async () => {
        const after = expectStatus(await api('GET', '/projects'), 200).json;
        assert.deepEqual(after, snapshot, 'GET /projects changed after rejected requests');
      });
      c.done();
    });

    t('GET/PATCH/DELETE of an unknown project id → 404 JSON', async () => {
      expectError(await api('GET', '/projects/aaaaaaaaaaaaaaaaaaaa'), 404);
      expectError(await api('GET', '/projects/nope'), 404);
      expectError(await api('PATCH', '/projects/aaaaaaaaaaaaaaaaaaaa', { body: { name: 'x' } }), 404);
      expectError(await api('DELETE', '/projects/aaaaaaaaaaaaaaaaaaaa'), 404);
      expectError(await api('GET', '/projects/aaaaaaaaaaaaaaaaaaaa/api-keys'), 404);
      expectError(await api('POST', '/projects/aaaaaaaaaaaaaaaaaaaa/api-keys/rotate'), 404);
    });

    t('PATCH /projects/:id sets every updatable field; GET agrees', async () => {
      const body = {
        name: 'alpha-renamed',
        repo_url: 'https://github.com/example/app',
        build_command: 'npm run build',
        output_dir: 'dist',
        install_command: 'npm ci',
        production_branch: 'main',
        slack_webhook: 'https://hooks.slack.com/services/T/B/X',
        webhook_secret: 'whsec-visible',
        google_client_id: 'client-id.apps.googleusercontent.com',
        env_vars: { NODE_ENV: 'production', EMPTY: '' },
        email_notifications: true,
        forms_enabled: true,
      };
      const res = expectStatus(await api('PATCH', `/projects/${A.id}`, { body }), 200);
      checkProjectShape(server, res.json, 'alpha-renamed');
      for (const [k, v] of Object.entries(body)) assert.deepEqual(res.json[k], v, `PATCH result ${k}: ${fmt(res)}`);
      assert.equal(res.json.id, A.id);
      assert.equal(res.json.created_at, A.created_at, 'created_at unchanged');
      assert.ok(res.json.updated_at >= A.updated_at, 'updated_at does not go back');
      const got = expectStatus(await api('GET', `/projects/${A.id}`), 200);
      assert.deepEqual(got.json, res.json, 'GET after PATCH returns the PATCH result');
      // a partial PATCH leaves the others alone
      const res2 = expectStatus(await api('PATCH', `/projects/${A.id}`, { body: { output_dir: 'build' } }), 200);
      assert.deepEqual({ ...res2.json, updated_at: null }, { ...got.json, output_dir: 'build', updated_at: null });
      A = res2.json;
    });

    t('PATCH secrets (github_token, google_client_secret) are stored but never returned', async () => {
      secrets.github = `ghp_${randomHex(16)}`;
      secrets.google = `gcs-${randomHex(16)}`;
      const res = expectStatus(
        await api('PATCH', `/projects/${A.id}`, { body: { github_token: secrets.github, google_client_secret: secrets.google } }),
        200,
      );
      assert.equal(res.json.github_token_set, true, fmt(res));
      assert.equal(res.json.google_client_secret_set, true, fmt(res));
      assert.ok(!res.text.includes(secrets.github), 'PATCH response leaks github_token');
      assert.ok(!res.text.includes(secrets.google), 'PATCH response leaks google_client_secret');
      for (const r of [await api('GET', `/projects/${A.id}`), await api('GET', '/projects')]) {
        expectStatus(r, 200);
        assert.ok(!r.text.includes(secrets.github), `${r.path} leaks github_token`);
        assert.ok(!r.text.includes(secrets.google), `${r.path} leaks google_client_secret`);
      }
      const got = (await api('GET', `/projects/${A.id}`)).json;
      assert.equal(got.github_token_set, true);
      assert.equal(got.google_client_secret_set, true);
      A = got;
    });

    t('PATCH with an unknown field or a wrong type → 400, and nothing changes', async () => {
      const before = expectStatus(await api('GET', `/projects/${A.id}`), 200).json;
      const cases = [
        { name: 'changed', nope: 1 }, // unknown field next to a valid one
        { id: 'aaaaaaaaaaaaaaaaaaaa' },
        { status: 'deleted' },
        { github_token_set: false },
        { forms_enabled: 'yes', name: 'changed' },
        { email_notifications: 1 },
        { email_notifications: null },
        { env_vars: { a: 1 } },
        { env_vars: 'A=1' },
        { env_vars: ['A'] },
        { name: 5 },
        { name: null },
        { name: '' },
        { name: 'x'.repeat(101) },
        { repo_url: 5 },
        { build_command: { a: 'b' } },
        { google_client_id: true },
        { github_token: 123 },
        { google_client_secret: ['x'] },
      ];
      const c = checks();
      for (const body of cases) {
        await c.run(async () => {
          const res = await api('PATCH', `/projects/${A.id}`, { body });
          expectError(res, 400);
          if (['nope', 'id', 'status', 'github_token_set'].some((k) => k in body))
            assert.match(res.json.error + ' ' + (res.json.detail ?? ''), /unknown field/i, fmt(res));
        });
        await c.run(async () => {
          const now = expectStatus(await api('GET', `/projects/${A.id}`), 200).json;
          assert.deepEqual(now, before, `project changed after rejected PATCH ${JSON.stringify(body)}`);
        });
      }
      c.done();
    });

    t('PATCH a string field to null clears it', async () => {
      const res = expectStatus(
        await api('PATCH', `/projects/${A.id}`, { body: { repo_url: null, slack_webhook: null, google_client_id: null } }),
        200,
      );
      assert.equal(res.json.repo_url, null, fmt(res));
      assert.equal(res.json.slack_webhook, null, fmt(res));
      assert.equal(res.json.google_client_id, null, fmt(res));
      assert.equal(res.json.build_command, 'npm run build', 'untouched fields stay');
      const got = expectStatus(await api('GET', `/projects/${A.id}`), 200).json;
      assert.deepEqual(got, res.json);
      A = got;
    });

    t('GET /projects/:id/api-keys → anon + service_role HS256 JWTs with the right claims', async () => {
      const res = expectStatus(await api('GET', `/projects/${A.id}/api-keys`), 200);
      assert.ok(Array.isArray(res.json) && res.json.length === 2, fmt(res));
      assert.deepEqual(res.json.map((k) => k.name), ['anon', 'service_role'], fmt(res));
      const nowS = Math.floor(Date.now() / 1000);
      for (const k of res.json) {
        assert.deepEqual(Object.keys(k).sort(), ['api_key', 'name']);
        const { header, payload } = decodeJwt(k.api_key);
        assert.equal(header.alg, 'HS256', `${k.name} alg`);
        assert.equal(payload.role, k.name, `${k.name} role claim`);
        assert.equal(payload.iss, 'alpaca', `${k.name} iss`);
        assert.equal(payload.ref, A.id, `${k.name} ref`);
        assert.ok(Number.isInteger(payload.iat), `${k.name} iat integer: ${JSON.stringify(payload)}`);
        assert.ok(Number.isInteger(payload.exp), `${k.name} exp integer: ${JSON.stringify(payload)}`);
        assert.ok(payload.iat <= nowS + 5, 'iat not in the future');
        assert.ok(payload.exp > nowS + 366 * 86400, `exp more than a year away: ${payload.exp}`);
      }
      keysA = Object.fromEntries(res.json.map((k) => [k.name, k.api_key]));
      const again = expectStatus(await api('GET', `/projects/${A.id}/api-keys`), 200);
      assert.deepEqual(again.json, res.json, 'keys are stable until rotated');
      const resB = expectStatus(await api('GET', `/projects/${B.id}/api-keys`), 200);
      keysB = Object.fromEntries(resB.json.map((k) => [k.name, k.api_key]));
      assert.notEqual(keysB.service_role, keysA.service_role);
      secrets.serviceA = keysA.service_role;
      secrets.anonA = keysA.anon;
      secrets.serviceB = keysB.service_role;
    });

    t('auth: missing / garbage / forged credentials → 401; roles → 403; service key on its own project → 200', async () => {
      const pid = `/projects/${A.id}`;
      // no Authorization
      for (const p of ['/projects', pid, `${pid}/api-keys`, '/account/tokens'])
        expectError(await api('GET', p, { token: null }), 401);
      expectError(await api('POST', '/projects', { token: null, body: { name: 'x' } }), 401);
      // garbage
      expectError(await api('GET', '/projects', { token: 'garbage' }), 401);
      expectError(await api('GET', '/projects', { token: 'alp_' + randomHex(20) }), 401);
      expectError(await api('GET', pid, { token: 'a.b.c' }), 401);
      expectError(await api('GET', '/projects', { headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } , token: null }), 401);
      // anon key on management routes → 403
      expectError(await api('GET', pid, { token: keysA.anon }), 403);
      expectError(await api('PATCH', pid, { token: keysA.anon, body: { name: 'anon-was-here' } }), 403);
      expectError(await api('GET', `${pid}/api-keys`, { token: keysA.anon }), 403);
      // service_role key on its own project → 200
      const own = expectStatus(await api('GET', pid, { token: keysA.service_role }), 200);
      assert.equal(own.json.id, A.id);
      const patched = expectStatus(await api('PATCH', pid, { token: keysA.service_role, body: { production_branch: 'release' } }), 200);
      assert.equal(patched.json.production_branch, 'release');
      A = patched.json;
      // service_role of A on B → 403 (a valid key, of another project)
      expectError(await api('GET', `/projects/${B.id}`, { token: keysA.service_role }), 403);
      expectError(await api('PATCH', `/projects/${B.id}`, { token: keysA.service_role, body: { name: 'hijack' } }), 403);
      expectError(await api('GET', `/projects/${B.id}/api-keys`, { token: keysA.service_role }), 403);
      expectError(await api('DELETE', `/projects/${B.id}`, { token: keysA.service_role }), 403);
      // service_role on account-level routes → 403
      expectError(await api('GET', '/projects', { token: keysA.service_role }), 403);
      expectError(await api('POST', '/projects', { token: keysA.service_role, body: { name: 'x' } }), 403);
      expectError(await api('GET', '/account/tokens', { token: keysA.service_role }), 403);
      expectError(await api('POST', '/account/tokens', { token: keysA.service_role, body: { name: 'x' } }), 403);
      // forged JWTs → 401
      const claims = decodeJwt(keysA.service_role).payload;
      expectError(await api('GET', pid, { token: algNoneJwt(claims) }), 401);
      expectError(await api('GET', pid, { token: tamperPayload(keysA.anon, { role: 'service_role' }) }), 401);
      expectError(await api('GET', pid, { token: tamperSignature(keysA.service_role) }), 401);
      expectError(await api('GET', pid, { token: signHs256(claims, 'not-the-project-secret') }), 401);
      // B's service key is still fine on B, and nothing was changed by the rejected calls
      const b = expectStatus(await api('GET', `/projects/${B.id}`, { token: keysB.service_role }), 200);
      assert.equal(b.json.name, 'beta');
      const a = expectStatus(await api('GET', pid), 200);
      assert.notEqual(a.json.name, 'anon-was-here');
      const list = expectStatus(await api('GET', '/projects'), 200).json;
      assert.deepEqual(list.map((p) => p.id).sort(), [A.id, B.id].sort(), 'no project created or deleted by rejected calls');
    });

    t('personal access tokens: mint, list (no secret), use, revoke → 401 at once', async () => {
      const res = expectStatus(await api('POST', '/account/tokens', { body: { name: 'ci' } }), 201);
      const tok = res.json;
      assert.deepEqual(Object.keys(tok).sort(), ['created_at', 'expires_at', 'id', 'name', 'token', 'token_prefix'].sort(), fmt(res));
      assert.equal(tok.name, 'ci');
      assert.match(tok.token, /^alp_/);
      assert.equal(typeof tok.token_prefix, 'string');
      assert.ok(tok.token_prefix.length > 0 && tok.token.startsWith(tok.token_prefix), `token_prefix ${tok.token_prefix} is a prefix of the token`);
      assert.ok(tok.token_prefix.length < tok.token.length, 'token_prefix is not the whole token');
      assert.match(tok.created_at, ISO_Z);
      assert.equal(tok.expires_at, null);
      secrets.pat = tok.token;

      const res2 = expectStatus(await api('POST', '/account/tokens', { body: { name: 'short', expires_in_days: 1 } }), 201);
      assert.match(res2.json.expires_at, ISO_Z, fmt(res2));
      const exp = Date.parse(res2.json.expires_at);
      assert.ok(Math.abs(exp - (Date.now() + 86400e3)) < 120e3, `expires_at ≈ now + 1 day: ${res2.json.expires_at}`);
      secrets.pat2 = res2.json.token;
      const res3 = expectStatus(await api('POST', '/account/tokens', { body: { name: 'long', expires_in_days: 3650 } }), 201);
      secrets.pat3 = res3.json.token;

      // bad input
      const bad = checks();
      for (const body of [{}, { name: '' }, { name: 5 }, { name: 'x', expires_in_days: 0 }, { name: 'x', expires_in_days: 3651 }, { name: 'x', expires_in_days: 'soon' }, { name: 'x', expires_in_days: 1.5 }, { name: 'x', extra: true }])
        await bad.run(async () => expectError(await api('POST', '/account/tokens', { body }), 400));

      const list = expectStatus(await api('GET', '/account/tokens'), 200);
      assert.ok(Array.isArray(list.json), fmt(list));
      for (const x of list.json) {
        assert.ok(!('token' in x), `listed token carries the secret: ${JSON.stringify(x)}`);
        for (const k of ['id', 'name', 'token_prefix', 'created_at', 'expires_at']) assert.ok(k in x, `listed token lacks ${k}`);
      }
      for (const s of [secrets.pat, secrets.pat2, secrets.pat3]) assert.ok(!list.text.includes(s), 'token list leaks a token');
      const listed = list.json.find((x) => x.id === tok.id);
      assert.ok(listed, 'new token is listed');
      assert.deepEqual(listed, { id: tok.id, name: 'ci', token_prefix: tok.token_prefix, created_at: tok.created_at, expires_at: null });

      // the new PAT is the same account: it sees the same projects
      const mine = expectStatus(await api('GET', '/projects', { token: tok.token }), 200);
      assert.deepEqual(mine.json.map((p) => p.id).sort(), [A.id, B.id].sort());
      expectStatus(await api('GET', `/projects/${A.id}`, { token: res3.json.token }), 200);

      // revoke
      const del = expectStatus(await api('DELETE', `/account/tokens/${tok.id}`), 200);
      assert.equal(del.json.revoked, true, fmt(del));
      assert.equal(del.json.id, tok.id);
      assert.ok(!('token' in del.json), 'revoke response carries no secret');
      expectError(await api('GET', '/projects', { token: tok.token }), 401);
      expectError(await api('GET', `/projects/${A.id}`, { token: tok.token }), 401);
      expectError(await api('DELETE', `/account/tokens/${tok.id}`, { token: tok.token }), 401);
      // the other tokens are unaffected
      expectStatus(await api('GET', '/projects', { token: res2.json.token }), 200);
      // unknown id → 404
      expectError(await api('DELETE', '/account/tokens/00000000-0000-0000-0000-000000000000'), 404);
      expectError(await api('DELETE', '/account/tokens/does-not-exist'), 404);
      // a revoked token can revoke nothing and the admin token still works
      expectStatus(await api('GET', '/account/tokens'), 200);
      bad.done(); // the bad-input cases above, reported last so the rest of the flow still runs
    });

    t('per-project CORS preflight → 204 with the headers supabase-js sends', async () => {
      const res = await server.request('OPTIONS', `/p/${A.id}/rest/v1/anything`, {
        headers: {
          origin: 'http://localhost:5173',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'apikey,authorization,content-type,x-client-info,prefer',
        },
      });
      expectStatus(res, 204);
      const acao = res.headers['access-control-allow-origin'];
      assert.ok(acao === '*' || acao === 'http://localhost:5173', `Access-Control-Allow-Origin: ${acao}`);
      assert.ok(res.headers['access-control-allow-methods'], 'Access-Control-Allow-Methods present');
      for (const m of ['GET', 'POST', 'PATCH', 'DELETE'])
        assert.match(res.headers['access-control-allow-methods'], new RegExp(`\\b${m}\\b`), `Allow-Methods has ${m}`);
      const allowed = String(res.headers['access-control-allow-headers'] || '')
        .toLowerCase()
        .split(',')
        .map((s) => s.trim());
      for (const h of ['apikey', 'authorization', 'content-type', 'x-client-info', 'prefer', 'range', 'accept-profile', 'content-profile', 'x-upsert', 'x-supabase-api-version'])
        assert.ok(allowed.includes(h), `Access-Control-Allow-Headers lacks ${h}: ${res.headers['access-control-allow-headers']}`);
      const unknown = await server.request('OPTIONS', '/p/aaaaaaaaaaaaaaaaaaaa/rest/v1/anything', {
        headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'GET' },
      });
      expectError(unknown, 404);
    });

    t('probe whoami: caller identity resolved by the host', async () => {
      const p = `/p/${A.id}/probe/v1/whoami`;
      expectError(await server.request('GET', p), 401);
      expectError(await server.request('GET', p, { headers: { apikey: 'garbage' } }), 401);
      expectError(await server.request('GET', p, { headers: { apikey: tamperSignature(keysA.anon) } }), 401);
      expectError(await server.request('GET', p, { headers: { apikey: keysB.anon } }), 401);
      expectError(await server.request('GET', p, { headers: { apikey: algNoneJwt(decodeJwt(keysA.service_role).payload) } }), 401);
      const anon = expectStatus(await server.request('GET', p, { headers: { apikey: keysA.anon } }), 200);
      assert.equal(anon.json.kind, 'jwt', fmt(anon));
      assert.equal(anon.json.role, 'anon', fmt(anon));
      assert.equal(anon.json.project, A.id, fmt(anon));
      assert.equal(anon.json.claims?.role, 'anon', fmt(anon));
      assert.equal(anon.json.claims?.ref, A.id, fmt(anon));
      const svc = expectStatus(
        await server.request('GET', p, { headers: { apikey: keysA.anon, authorization: `Bearer ${keysA.service_role}` } }),
        200,
      );
      assert.equal(svc.json.kind, 'jwt', fmt(svc));
      assert.equal(svc.json.role, 'service_role', fmt(svc));
      assert.equal(svc.json.project, A.id);
      // the unknown project is a 404 whatever the credentials
      expectError(await server.request('GET', '/p/aaaaaaaaaaaaaaaaaaaa/probe/v1/whoami', { headers: { apikey: keysA.anon } }), 404);
    });

    t('probe db: sessions run as the caller role with request.jwt.claims set', async () => {
      const p = `/p/${A.id}/probe/v1/db`;
      const anon = expectStatus(await server.request('GET', p, { headers: { apikey: keysA.anon } }), 200);
      assert.equal(anon.json.current_user, 'anon', fmt(anon));
      assert.equal(anon.json.auth_role, 'anon', fmt(anon));
      assert.equal(anon.json.auth_uid, null, fmt(anon));
      assert.equal(anon.json.claims?.role, 'anon', fmt(anon));
      assert.equal(anon.json.claims?.ref, A.id, fmt(anon));
      const svc = expectStatus(
        await server.request('GET', p, { headers: { apikey: keysA.anon, authorization: `Bearer ${keysA.service_role}` } }),
        200,
      );
      assert.equal(svc.json.current_user, 'service_role', fmt(svc));
      assert.equal(svc.json.auth_role, 'service_role', fmt(svc));
      assert.equal(svc.json.claims?.role, 'service_role', fmt(svc));
      // B's database is a different session: its claims carry B's ref
      const b = expectStatus(await server.request('GET', `/p/${B.id}/probe/v1/db`, { headers: { apikey: keysB.anon } }), 200);
      assert.equal(b.json.claims?.ref, B.id, fmt(b));
      expectError(await server.request('GET', p), 401);
    });

    t('probe rls: anon sees no rows, service_role (BYPASSRLS) sees both', async () => {
      const p = `/p/${A.id}/probe/v1/rls`;
      const anon = expectStatus(await server.request('GET', p, { headers: { apikey: keysA.anon } }), 200);
      assert.deepEqual(anon.json, [], fmt(anon));
      const svcHeaders = { apikey: keysA.anon, authorization: `Bearer ${keysA.service_role}` };
      const svc = expectStatus(await server.request('GET', p, { headers: svcHeaders }), 200);
      assert.ok(Array.isArray(svc.json) && svc.json.length === 2, `service_role sees both rows: ${fmt(svc)}`);
      const owners = new Set(svc.json.map((r) => r.owner));
      assert.equal(owners.size, 2, 'two distinct owners');
      for (const r of svc.json) assert.equal(typeof r.body, 'string');
      // idempotent: a second call still sees exactly two rows
      const again = expectStatus(await server.request('GET', p, { headers: svcHeaders }), 200);
      assert.equal(again.json.length, 2, fmt(again));
      const anon2 = expectStatus(await server.request('GET', p, { headers: { apikey: keysA.anon } }), 200);
      assert.deepEqual(anon2.json, []);
    });

    t('probe public route params are percent-decoded; management probe sees the caller kind', async () => {
      const e = expectStatus(await server.request('GET', '/probe/echo/hello%20world/a/b%2Fc?x=1%262'), 200);
      assert.deepEqual(e.json, { name: 'hello world', rest: 'a/b/c', x: '1&2' }, fmt(e));
      const e2 = expectStatus(await server.request('GET', '/probe/echo/n/deep/er/path?x=%C3%A9'), 200);
      assert.deepEqual(e2.json, { name: 'n', rest: 'deep/er/path', x: 'é' }, fmt(e2));
      const m = expectStatus(await api('GET', `/projects/${A.id}/probe`), 200);
      assert.deepEqual(m.json, { project: A.id, kind: 'account' }, fmt(m));
      const mj = expectStatus(await api('GET', `/projects/${A.id}/probe`, { token: keysA.service_role }), 200);
      assert.deepEqual(mj.json, { project: A.id, kind: 'jwt' }, fmt(mj));
      expectError(await api('GET', `/projects/${A.id}/probe`, { token: null }), 401);
      expectError(await api('GET', '/projects/aaaaaaaaaaaaaaaaaaaa/probe'), 404);
      const body = expectStatus(await server.request('POST', '/probe/body', { body: Buffer.alloc(777, 0x61) }), 200);
      assert.deepEqual(body.json, { bytes: 777 }, fmt(body));
      const chunked = expectStatus(await server.request('POST', '/probe/body', { body: Buffer.alloc(900, 0x62), chunked: true, chunkSize: 100 }), 200);
      assert.deepEqual(chunked.json, { bytes: 900 }, fmt(chunked));
    });

    t('unknown route → 404 JSON; wrong method → 405 JSON with Allow', async () => {
      expectError(await api('GET', '/nope'), 404);
      expectError(await api('GET', '/projects/x/y/z/w'), 404);
      expectError(await server.request('GET', `/p/${A.id}/nothing/here`, { headers: { apikey: keysA.anon } }), 404);
      const r = await api('PUT', '/projects', { body: { name: 'x' } });
      expectError(r, 405);
      const allow = String(r.headers.allow || '');
      assert.match(allow, /\bGET\b/, `Allow header: ${allow}`);
      assert.match(allow, /\bPOST\b/, `Allow header: ${allow}`);
      const r2 = await api('POST', `/projects/${A.id}`, { body: { name: 'x' } });
      expectError(r2, 405);
      for (const m of ['GET', 'PATCH', 'DELETE']) assert.match(String(r2.headers.allow || ''), new RegExp(`\\b${m}\\b`), `Allow: ${r2.headers.allow}`);
      expectError(await api('DELETE', '/projects'), 405);
    });

    t('POST /projects/:id/api-keys/rotate → new keys; old keys stop working at once', async () => {
      const res = expectStatus(await api('POST', `/projects/${A.id}/api-keys/rotate`), 200);
      assert.deepEqual(res.json.map((k) => k.name), ['anon', 'service_role'], fmt(res));
      const fresh = Object.fromEntries(res.json.map((k) => [k.name, k.api_key]));
      assert.notEqual(fresh.anon, keysA.anon);
      assert.notEqual(fresh.service_role, keysA.service_role);
      for (const k of res.json) {
        const { header, payload } = decodeJwt(k.api_key);
        assert.equal(header.alg, 'HS256');
        assert.equal(payload.role, k.name);
        assert.equal(payload.ref, A.id);
      }
      const listed = expectStatus(await api('GET', `/projects/${A.id}/api-keys`), 200);
      assert.deepEqual(listed.json, res.json, 'GET api-keys returns the rotated keys');
      expectError(await api('GET', `/projects/${A.id}`, { token: keysA.service_role }), 401);
      expectStatus(await api('GET', `/projects/${A.id}`, { token: fresh.service_role }), 200);
      expectError(await server.request('GET', `/p/${A.id}/probe/v1/whoami`, { headers: { apikey: keysA.anon } }), 401);
      const who = expectStatus(await server.request('GET', `/p/${A.id}/probe/v1/whoami`, { headers: { apikey: fresh.anon } }), 200);
      assert.equal(who.json.role, 'anon');
      // B is untouched
      expectStatus(await api('GET', `/projects/${B.id}`, { token: keysB.service_role }), 200);
      // the service key itself may rotate its project's keys? not in the contract; an anon key may not
      expectError(await api('POST', `/projects/${A.id}/api-keys/rotate`, { token: fresh.anon }), 403);
      keysA = fresh;
      secrets.serviceA2 = fresh.service_role;
      secrets.anonA2 = fresh.anon;
    });

    t('concurrent keep-alive requests (fetch) all succeed', async () => {
      // undici's fetch keeps connections alive and reuses them, as real clients do
      const urls = [];
      for (let i = 0; i < 40; i++) urls.push(i % 2 ? `/projects/${A.id}` : `/p/${A.id}/probe/v1/db`);
      const results = await Promise.all(
        urls.map(async (u) => {
          const r = await fetch(server.url + u, {
            headers: u.startsWith('/p/') ? { apikey: keysA.anon } : { authorization: `Bearer ${server.adminToken}` },
          });
          return { u, status: r.status, body: await r.text() };
        }),
      );
      const bad = results.filter((r) => r.status !== 200);
      assert.deepEqual(bad, [], `non-200 answers under concurrency`);
      for (const r of results.filter((x) => x.u.startsWith('/p/'))) assert.equal(JSON.parse(r.body).current_user, 'anon');
    });

    t('request log line: method, path, status, ms, project, caller; no query string', async () => {
      const marker = `q${randomHex(6)}`;
      expectStatus(await api('GET', `/projects/${A.id}?secretq=${marker}`), 200);
      const re = new RegExp(`info http method=GET path=/projects/${A.id} status=200 ms=\\d+(\\.\\d+)? project=${A.id} caller=account`);
      assert.ok(await waitForOutput(server, re), `no request log line matching ${re}`);
      expectError(await api('GET', '/projects/aaaaaaaaaaaaaaaaaaaa'), 404);
      assert.ok(await waitForOutput(server, /info http method=GET path=\/projects\/aaaaaaaaaaaaaaaaaaaa status=404 /), '404 is logged');
      expectStatus(await server.request('GET', `/p/${A.id}/probe/v1/whoami?apikey=${marker}`, { headers: { apikey: keysA.anon } }), 200);
      assert.ok(
        await waitForOutput(server, new RegExp(`method=GET path=/p/${A.id}/probe/v1/whoami status=200 ms=\\S+ project=${A.id}`)),
        'per-project request is logged with its project',
      );
      assert.ok(!server.output.includes(marker), 'a query string value appears in the log');
      assert.ok(!server.output.includes('secretq'), 'a query string key appears in the log');
    });

    t('DELETE /projects/:id → 200 status "deleted"; then 404 everywhere and its database is gone', async () => {
      const victim = expectStatus(await api('POST', '/projects', { body: { name: 'doomed' } }), 201).json;
      const vkeys = Object.fromEntries(expectStatus(await api('GET', `/projects/${victim.id}/api-keys`), 200).json.map((k) => [k.name, k.api_key]));
      expectStatus(await server.request('GET', `/p/${victim.id}/probe/v1/db`, { headers: { apikey: vkeys.anon } }), 200);
      const res = expectStatus(await api('DELETE', `/projects/${victim.id}`), 200);
      assert.equal(res.json.id, victim.id, fmt(res));
      const c = checks();
      await c.run(() => assert.equal(res.json.status, 'deleted', `DELETE answers the object with status "deleted": ${fmt(res)}`));
      deleted = victim;
      expectError(await api('GET', `/projects/${victim.id}`), 404);
      expectError(await api('DELETE', `/projects/${victim.id}`), 404);
      expectError(await api('GET', `/projects/${victim.id}/api-keys`), 404);
      expectError(await api('GET', `/projects/${victim.id}`, { token: vkeys.service_role }), [401, 404]);
      expectError(await server.request('GET', `/p/${victim.id}/probe/v1/whoami`, { headers: { apikey: vkeys.anon } }), 404);
      expectError(await server.request('GET', `/p/${victim.id}/probe/v1/db`, { headers: { apikey: vkeys.anon } }), 404);
      expectError(await server.request('OPTIONS', `/p/${victim.id}/x`, { headers: { origin: 'http://a', 'access-control-request-method': 'GET' } }), 404);
      const list = expectStatus(await api('GET', '/projects'), 200);
      assert.ok(!list.json.some((p) => p.id === victim.id), 'deleted project still listed');
      // the database is dropped
      const h = dbHost();
      if (!h) return assert.fail(`no postgres socket found under ${server.dataDir}`);
      let n = '';
      for (let i = 0; i < 40; i++) {
        n = psql(h, `select count(*) from pg_database where datname = '${victim.db_name}'`);
        if (n === '0') break;
        await new Promise((r) => setTimeout(r, 100)); // allow an asynchronous drop a moment
      }
      assert.equal(n, '0', `database ${victim.db_name} still exists after DELETE`);
      // the others are untouched
      expectStatus(await api('GET', `/projects/${A.id}`), 200);
      expectStatus(await server.request('GET', `/p/${A.id}/probe/v1/db`, { headers: { apikey: keysA.anon } }), 200);
      c.done();
    });

    t('no token, key or secret appears anywhere in the server output', async () => {
      await new Promise((r) => setTimeout(r, 200));
      const out = server.output;
      assert.ok(out.length > 0, 'the server logged something');
      for (const [what, s] of Object.entries(secrets)) {
        if (!s) continue;
        assert.ok(!out.includes(s), `${what} appears in the server output`);
        if (s.split('.').length === 3) {
          const sig = s.split('.')[2];
          assert.ok(!out.includes(sig), `${what}'s signature appears in the server output`);
        }
      }
      assert.ok(Object.keys(secrets).length >= 8, `collected secrets: ${Object.keys(secrets)}`);
    });
  });
}
