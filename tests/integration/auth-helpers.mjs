// Shared helpers of the auth plugin's tests (auth*.test.mjs): a server with the database and auth
// plugins and an SMTP sink, projects with their keys, a GoTrue client (apikey + Bearer as
// supabase-js sends them), link following without redirects, SQL on the project database as
// the superuser, and the assertions on GoTrue's wire shapes (sessions, users, claims, errors).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import {
  authPlugin,
  databasePlugin,
  decodeJwt,
  disposeServer,
  expectStatus,
  findSocket,
  fmt,
  psql,
  randomHex,
  request,
  startServer,
  withLogs,
} from './harness.mjs';
import { startSmtpSink } from './fakes/smtp-sink.mjs';

export const SENDER = 'noreply@alpaca.test';
export const SITE_URL = 'http://localhost:3000';
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/;

/** Every password a test used, so a log check can look for all of them. */
export const passwordsUsed = new Set();

/** A unique password that passes GoTrue's default rules (and is easy to find in a log). */
export function newPassword(tag = 'pw') {
  const p = `${tag}-${randomHex(6)}-Zq9!`;
  passwordsUsed.add(p);
  return p;
}

/** A unique lowercase address at example.com. */
export function newEmail(tag = 'user') {
  return `${tag}-${randomHex(5)}@example.com`.toLowerCase();
}

/** A SQL string literal. */
export const lit = (s) => (s === null || s === undefined ? 'null' : `'${String(s).replace(/'/g, "''")}'`);

/** Env of a server whose mail goes to the sink (or nowhere when sink is null). */
export function authEnv(sink, extra = {}) {
  const env = {
    ALPACA_AUTH_RATE_LIMIT_PER_IP: '100000',
    ALPACA_AUTH_RATE_LIMIT_PER_EMAIL: '100000',
    ALPACA_AUTH_RATE_LIMIT_REFRESH_PER_IP: '100000',
    ALPACA_AUTH_BCRYPT_COST: '4',
  };
  if (sink) {
    Object.assign(env, {
      ALPACA_AUTH_SMTP_HOST: '127.0.0.1',
      ALPACA_AUTH_SMTP_PORT: String(sink.port),
      ALPACA_AUTH_SMTP_TLS: 'none',
      ALPACA_AUTH_SMTP_SENDER: SENDER,
    });
  }
  return { ...env, ...extra };
}

/**
 * startAuthServer({ smtp = true, env, logLevel }) → { server, sink, close() }: alpaca-server with
 * the database and auth plugins; mail to an SMTP sink unless smtp is false.
 */
export async function startAuthServer({ smtp = true, env = {}, logLevel } = {}) {
  for (const [what, p, v] of [
    ['database', databasePlugin, 'ALPACA_DATABASE_PLUGIN'],
    ['auth', authPlugin, 'ALPACA_AUTH_PLUGIN'],
  ]) {
    assert.ok(fs.existsSync(p), `${what} plugin not found at ${p} (build it, or set ${v})`);
  }
  const sink = smtp ? await startSmtpSink() : null;
  let server;
  try {
    server = await startServer({ plugins: `${databasePlugin},${authPlugin}`, logLevel, env: authEnv(sink, env) });
  } catch (e) {
    await sink?.close();
    throw e;
  }
  return {
    server,
    sink,
    async close() {
      await disposeServer(server);
      await sink?.close();
    },
  };
}

/** test() with a timeout and the server's log appended on failure. */
export function itFor(getServer, testFn, timeout = 90000) {
  return (name, opts, fn) => {
    if (typeof opts === 'function') [opts, fn] = [{}, opts];
    return testFn(name, { timeout, ...opts }, withLogs(getServer, fn));
  };
}

// ---------------------------------------------------------------------------------------------
// projects

/**
 * createProject(server, sink, name, settings?) → a project handle:
 *   id, keys {anon, service_role}, dbName, base ('/p/<id>/auth/v1'), url (absolute base)
 *   auth(method, path, opts)   GoTrue request: apikey = anon, Bearer = opts.token ?? anon key
 *                              (token: null → no Authorization; apikey: null → no apikey)
 *   admin(method, path, opts)  same with the service_role key as Bearer
 *   mgmt(method, path, opts)   /projects/<id><path> with the admin PAT
 *   settings(patch) / getSettings()   PATCH/GET /projects/<id>/auth/providers (expects 200)
 *   sql(text) / rows(query)    psql on the project database as the superuser (text / parsed rows)
 *   query(text)                POST /projects/<id>/query (alpaca_admin) → rows
 * settings, when given, are PATCHed right away.
 */
export async function createProject(server, sink, name = 'auth', settings) {
  const p = expectStatus(await server.api('POST', '/projects', { body: { name: `${name}-${randomHex(3)}` } }), 201).json;
  const k = expectStatus(await server.api('GET', `/projects/${p.id}/api-keys`), 200);
  const keys = Object.fromEntries(k.json.map((x) => [x.name, x.api_key]));
  assert.ok(keys.anon && keys.service_role, `api keys: ${fmt(k)}`);
  const sock = findSocket(server.dataDir);
  assert.ok(sock, `no postgres socket under ${server.dataDir}`);
  const base = `/p/${p.id}/auth/v1`;
  const project = {
    server,
    sink,
    id: p.id,
    record: p,
    keys,
    dbName: p.db_name,
    base,
    url: `${server.url}${base}`,
    auth(method, path, opts = {}) {
      const headers = { ...(opts.headers || {}) };
      const apikey = opts.apikey === undefined ? keys.anon : opts.apikey;
      if (apikey) headers.apikey = apikey;
      const token = opts.token === undefined ? keys.anon : opts.token;
      if (token) headers.authorization = `Bearer ${token}`;
      return request(server.url, method, `${base}${path}`, { headers, body: opts.body, timeoutMs: opts.timeoutMs ?? 30000 });
    },
    admin(method, path, opts = {}) {
      return project.auth(method, path, { ...opts, token: opts.token === undefined ? keys.service_role : opts.token });
    },
    mgmt(method, path, opts = {}) {
      return server.api(method, `/projects/${p.id}${path}`, opts);
    },
    async getSettings() {
      return expectStatus(await project.mgmt('GET', '/auth/providers'), 200).json;
    },
    async settings(patch) {
      return expectStatus(await project.mgmt('PATCH', '/auth/providers', { body: patch }), 200).json;
    },
    sql(text) {
      return psql({ host: sock.dir, port: sock.port, db: p.db_name }, text);
    },
    rows(query) {
      return JSON.parse(project.sql(`select coalesce(json_agg(t), '[]'::json) from (${query}) t`) || '[]');
    },
    async query(text, params) {
      const r = await server.api('POST', `/projects/${p.id}/query`, { body: { sql: text, ...(params ? { params } : {}) } });
      return expectStatus(r, 200).json.rows;
    },
    // ---- GoTrue calls
    signUp(email, password, { data, redirectTo, headers, body } = {}) {
      const q = redirectTo ? `?redirect_to=${encodeURIComponent(redirectTo)}` : '';
      return project.auth('POST', `/signup${q}`, { headers, body: body ?? { email, password, ...(data ? { data } : {}) } });
    },
    signIn(email, password, opts = {}) {
      return project.auth('POST', '/token?grant_type=password', { ...opts, body: { email, password } });
    },
    refresh(refreshToken, opts = {}) {
      return project.auth('POST', '/token?grant_type=refresh_token', { ...opts, body: { refresh_token: refreshToken } });
    },
    getUser(accessToken) {
      return project.auth('GET', '/user', { token: accessToken });
    },
    /** A confirmed user made with the admin API: { id, email, password, user }. */
    async createUser({ email = newEmail(), password = newPassword(), confirmed = true, user_metadata, app_metadata } = {}) {
      const r = await project.admin('POST', '/admin/users', {
        body: { email, password, email_confirm: confirmed, ...(user_metadata ? { user_metadata } : {}), ...(app_metadata ? { app_metadata } : {}) },
      });
      assert.ok(r.status === 200 || r.status === 201, `create user: ${fmt(r)}`);
      assert.match(String(r.json?.id), UUID_RE, `create user id: ${fmt(r)}`);
      return { id: r.json.id, email, password, user: r.json };
    },
    /** A confirmed user signed in once: { id, email, password, session }. */
    async signedIn(opts = {}) {
      const u = await project.createUser(opts);
      const s = expectSession(await project.signIn(u.email, u.password), { email: u.email });
      return { ...u, session: s };
    },
    /** GET a link the way a browser's first hop would: no apikey, no redirects followed. */
    follow(link, opts = {}) {
      return followLink(server, link, opts);
    },
    /** The one row of auth.users with that email (or undefined). */
    userRow(email) {
      return project.rows(`select * from auth.users where email = ${lit(email)}`)[0];
    },
  };
  if (settings) await project.settings(settings);
  return project;
}

/**
 * followLink(server, link) → { res, status, location, target (URL), fragment, query }
 * The request goes to the server under test whatever host the link names (the path and query
 * are kept), without apikey or Authorization, as a browser following an emailed link would.
 */
export async function followLink(server, link, { headers = {} } = {}) {
  const u = new URL(link);
  const res = await request(server.url, 'GET', `${u.pathname}${u.search}`, { headers });
  const location = res.headers.location;
  let target = null;
  let fragment = new URLSearchParams();
  let query = new URLSearchParams();
  if (location) {
    target = new URL(location, server.url);
    fragment = new URLSearchParams(target.hash.replace(/^#/, ''));
    query = target.searchParams;
  }
  return { res, status: res.status, location, target, fragment, query };
}

/** A link's query parameter. */
export const linkParam = (link, name) => new URL(link).searchParams.get(name);

/** Asserts the link points at this project's GoTrue /verify and returns it as a URL. */
export function expectVerifyLink(project, link, type) {
  assert.ok(link, 'no link in the mail');
  const u = new URL(link);
  assert.equal(`${u.origin}${u.pathname}`, `${project.server.url}${project.base}/verify`, `link: ${link}`);
  if (type) assert.equal(u.searchParams.get('type'), type, `link type: ${link}`);
  assert.ok(u.searchParams.get('token'), `link token: ${link}`);
  return u;
}

// ---------------------------------------------------------------------------------------------
// GoTrue shapes

/**
 * Asserts an error the way GoTrue answers it (legacy shape unless version = '2024-01-01') plus
 * Alpaca's own {error, detail}; returns the response.
 */
export function expectAuthError(res, status, code, { version } = {}) {
  const codes = [].concat(status);
  assert.ok(codes.includes(res.status), `status ${JSON.stringify(status)} expected: ${fmt(res)}`);
  const b = res.json;
  assert.ok(b && typeof b === 'object' && !Array.isArray(b), `error body is not a JSON object: ${fmt(res)}`);
  assert.match(String(res.headers['content-type'] || ''), /application\/json/, `content-type: ${fmt(res)}`);
  const codeList = code === undefined ? null : [].concat(code);
  const headerCode = res.headers['x-sb-error-code'];
  assert.ok(headerCode, `x-sb-error-code header missing: ${fmt(res)}`);
  if (codeList) assert.ok(codeList.includes(headerCode), `x-sb-error-code ${headerCode}, expected ${codeList}: ${fmt(res)}`);
  if (version === '2024-01-01') {
    assert.equal(typeof b.code, 'string', `code must be the error code string: ${fmt(res)}`);
    if (codeList) assert.ok(codeList.includes(b.code), `code ${b.code}, expected ${codeList}: ${fmt(res)}`);
    assert.equal(typeof b.message, 'string', `message: ${fmt(res)}`);
    assert.ok(b.message.length > 0, `message empty: ${fmt(res)}`);
  } else {
    assert.equal(b.code, res.status, `code must be the HTTP status: ${fmt(res)}`);
    assert.equal(typeof b.error_code, 'string', `error_code: ${fmt(res)}`);
    if (codeList) assert.ok(codeList.includes(b.error_code), `error_code ${b.error_code}, expected ${codeList}: ${fmt(res)}`);
    assert.equal(typeof b.msg, 'string', `msg: ${fmt(res)}`);
    assert.ok(b.msg.length > 0, `msg empty: ${fmt(res)}`);
  }
  assert.equal(typeof b.error, 'string', `error (Alpaca's) must be a string: ${fmt(res)}`);
  assert.ok('detail' in b && (b.detail === null || typeof b.detail === 'string'), `detail (Alpaca's): ${fmt(res)}`);
  return res;
}

/** Checks a user object as GoTrue serialises it. */
export function expectUser(u, { email, confirmed, id } = {}) {
  assert.ok(u && typeof u === 'object', `user: ${JSON.stringify(u)}`);
  assert.match(String(u.id), UUID_RE, `user.id: ${JSON.stringify(u)}`);
  if (id) assert.equal(u.id, id);
  assert.equal(u.aud, 'authenticated', `user.aud: ${JSON.stringify(u)}`);
  assert.equal(u.role, 'authenticated', `user.role: ${JSON.stringify(u)}`);
  if (email) assert.equal(u.email, email, `user.email: ${JSON.stringify(u)}`);
  if (confirmed === true) assert.match(String(u.email_confirmed_at), ISO_RE, `email_confirmed_at: ${JSON.stringify(u)}`);
  if (confirmed === false) assert.ok(!u.email_confirmed_at, `email_confirmed_at should be unset: ${JSON.stringify(u)}`);
  assert.ok(u.app_metadata && typeof u.app_metadata === 'object', `app_metadata: ${JSON.stringify(u)}`);
  assert.ok(u.user_metadata && typeof u.user_metadata === 'object', `user_metadata: ${JSON.stringify(u)}`);
  assert.ok(Array.isArray(u.identities), `identities: ${JSON.stringify(u)}`);
  assert.match(String(u.created_at), ISO_RE, `created_at: ${JSON.stringify(u)}`);
  assert.match(String(u.updated_at), ISO_RE, `updated_at: ${JSON.stringify(u)}`);
  return u;
}

/** Asserts a 200 session response; returns the session (with .claims decoded). */
export function expectSession(res, { email, userId } = {}) {
  expectStatus(res, 200);
  const s = res.json;
  assert.ok(s && typeof s === 'object', `session: ${fmt(res)}`);
  assert.equal(typeof s.access_token, 'string', `access_token: ${fmt(res)}`);
  assert.equal(s.token_type, 'bearer', `token_type: ${fmt(res)}`);
  assert.equal(s.expires_in, 3600, `expires_in: ${fmt(res)}`);
  assert.equal(typeof s.expires_at, 'number', `expires_at: ${fmt(res)}`);
  assert.equal(typeof s.refresh_token, 'string', `refresh_token: ${fmt(res)}`);
  assert.ok(s.refresh_token.length >= 8, `refresh_token too short: ${fmt(res)}`);
  expectUser(s.user, { email, id: userId });
  const claims = decodeJwt(s.access_token).payload;
  assert.equal(claims.sub, s.user.id, `claims.sub: ${JSON.stringify(claims)}`);
  assert.ok(Math.abs(s.expires_at - claims.exp) <= 1, `expires_at ${s.expires_at} vs exp ${claims.exp}`);
  return { ...s, claims };
}

/** Asserts GoTrue's access-token claims for a session. */
export function expectClaims(claims, { user, method }) {
  assert.equal(claims.sub, user.id);
  assert.equal(claims.aud, 'authenticated');
  assert.equal(claims.role, 'authenticated');
  assert.equal(claims.email, user.email);
  assert.equal(typeof claims.phone, 'string', `phone claim: ${JSON.stringify(claims)}`);
  assert.deepEqual(claims.app_metadata, user.app_metadata);
  assert.ok(claims.user_metadata && typeof claims.user_metadata === 'object');
  assert.equal(claims.aal, 'aal1');
  assert.ok(Array.isArray(claims.amr) && claims.amr.length >= 1, `amr: ${JSON.stringify(claims.amr)}`);
  if (method) assert.equal(claims.amr[0].method, method, `amr: ${JSON.stringify(claims.amr)}`);
  assert.equal(typeof claims.amr[0].timestamp, 'number', `amr timestamp: ${JSON.stringify(claims.amr)}`);
  assert.match(String(claims.session_id), UUID_RE, `session_id: ${claims.session_id}`);
  assert.equal(claims.is_anonymous, false);
  assert.equal(typeof claims.iat, 'number');
  assert.equal(claims.exp - claims.iat, 3600);
  const now = Date.now() / 1000;
  assert.ok(Math.abs(claims.iat - now) < 120, `iat ${claims.iat} is not now (${now})`);
  assert.match(String(claims.iss), /\/auth\/v1$/, `iss: ${claims.iss}`);
}

/** Fragment parameters of a verify/callback redirect carrying a session. */
export function expectFragmentSession(f, { type } = {}) {
  assert.ok(f.get('access_token'), `no access_token in fragment: ${f}`);
  assert.ok(f.get('refresh_token'), `no refresh_token in fragment: ${f}`);
  assert.equal(f.get('token_type'), 'bearer', `token_type in fragment: ${f}`);
  assert.equal(f.get('expires_in'), '3600', `expires_in in fragment: ${f}`);
  if (type) assert.equal(f.get('type'), type, `type in fragment: ${f}`);
  return decodeJwt(f.get('access_token')).payload;
}

/** A PKCE pair (S256). */
export function pkcePair() {
  const verifier = crypto.randomBytes(48).toString('base64url');
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}
