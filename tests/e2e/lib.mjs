// Shared helpers for the end-to-end suite: one alpaca-server (embedded PostgreSQL, database
// plugin) per test file, projects created through the management API, and official supabase-js
// clients pointed at /p/<project id>. Every request supabase-js makes goes through a logging fetch;
// a failing test appends those exchanges (and the server's output tail) to its error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import {
  startServer,
  disposeServer,
  databasePlugin,
  authPlugin,
  storagePlugin,
  findSocket,
  psql,
  signHs256,
  randomHex,
  fmt,
} from '../integration/harness.mjs';

export { assert, databasePlugin, authPlugin, storagePlugin };

/** Plugins every e2e server loads: the database plugin (/rest/v1) and the auth plugin (/auth/v1). */
export const e2ePlugins = `${databasePlugin},${authPlugin}`;

// ---------------------------------------------------------------------------------------------
// logging fetch

function headerObject(h) {
  const out = {};
  if (!h) return out;
  if (typeof h.forEach === 'function' && !Array.isArray(h)) h.forEach((v, k) => (out[k.toLowerCase()] = v));
  else if (Array.isArray(h)) for (const [k, v] of h) out[k.toLowerCase()] = v;
  else for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = v;
  return out;
}

function jwtRole(authz) {
  const m = /^Bearer\s+(\S+)$/i.exec(authz || '');
  if (!m) return authz ? 'non-bearer' : 'none';
  try {
    const p = JSON.parse(Buffer.from(m[1].split('.')[1], 'base64url').toString('utf8'));
    return `${p.role ?? '?'}${p.sub ? ` sub=${p.sub.slice(0, 8)}` : ''}`;
  } catch {
    return 'not-a-jwt';
  }
}

function cut(s, n = 500) {
  if (s === undefined || s === null) return '';
  s = String(s);
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** A fetch for supabase-js's `global.fetch` that records each exchange in `log`. */
export function loggingFetch(log) {
  return async (input, init = {}) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const headers = headerObject(init.headers);
    const entry = { method: init.method || 'GET', url, headers, body: init.body };
    log.push(entry);
    let res;
    try {
      res = await fetch(input, init);
    } catch (e) {
      entry.error = String(e && e.message);
      throw e;
    }
    entry.status = res.status;
    entry.resHeaders = headerObject(res.headers);
    try {
      entry.response = await res.clone().text();
    } catch {}
    return res;
  };
}

/** One exchange, readable: method, decoded path+query, the headers that matter, body → status body. */
export function formatExchange(e) {
  let target = e.url;
  try {
    const u = new URL(e.url);
    target = decodeURIComponent(u.pathname + u.search);
  } catch {}
  const h = e.headers;
  const parts = [`role=${jwtRole(h.authorization)}`];
  if (!h.apikey) parts.push('no apikey');
  for (const k of ['prefer', 'accept', 'accept-profile', 'content-profile'])
    if (h[k]) parts.push(`${k}: ${h[k]}`);
  let s = `${e.method} ${target} [${parts.join('; ')}]`;
  if (e.body !== undefined && e.body !== null && e.body !== 'undefined') s += ` body=${cut(e.body, 300)}`;
  if (e.error) return `${s} → fetch failed: ${e.error}`;
  const cr = e.resHeaders?.['content-range'];
  s += ` → ${e.status}${cr ? ` (content-range: ${cr})` : ''} ${cut(e.response)}`;
  return s;
}

// ---------------------------------------------------------------------------------------------
// result assertions

const show = (v) => cut(JSON.stringify(v), 800);

/** Assert a supabase-js result has no error; returns its data. */
export function ok(res, what = 'request') {
  assert.ok(res && typeof res === 'object', `${what}: no result object`);
  if (res.error)
    assert.fail(`${what}: unexpected error (status ${res.status}): ${show(res.error)}`);
  return res.data;
}

/**
 * Assert a supabase-js result is an error with one of `codes` (string or array) and, if given,
 * one of the HTTP `statuses`. data must be null. Returns the error.
 */
export function fails(res, codes, statuses, what = 'request') {
  assert.ok(
    res.error,
    `${what}: expected an error with code ${show(codes)}, got status ${res.status} data ${show(res.data)}`,
  );
  const cs = [].concat(codes);
  assert.ok(
    cs.includes(res.error.code),
    `${what}: error.code ${show(res.error.code)} is not ${cs.join(' or ')} (status ${res.status}): ${show(res.error)}`,
  );
  if (statuses !== undefined) {
    const ss = [].concat(statuses);
    assert.ok(ss.includes(res.status), `${what}: status ${res.status} is not ${ss.join(' or ')}: ${show(res.error)}`);
  }
  assert.equal(res.data, null, `${what}: data must be null on error`);
  return res.error;
}

/** The `id` of each row, in order. */
export const ids = (rows) => {
  assert.ok(Array.isArray(rows), `expected an array of rows, got ${show(rows)}`);
  return rows.map((r) => r.id);
};

/** Sort rows by a key (for results whose order PostgREST does not define). */
export const sortBy = (rows, key = 'id') => {
  assert.ok(Array.isArray(rows), `expected an array of rows, got ${show(rows)}`);
  return [...rows].sort((a, b) => (a[key] < b[key] ? -1 : a[key] > b[key] ? 1 : 0));
};

// ---------------------------------------------------------------------------------------------
// suite setup

/**
 * defineSuite(name, { projects: ['main', ...], env, plugins }) → ctx, with before/after hooks registered.
 * env: extra server environment (an object, or a possibly async function returning one, called in
 * before() — e.g. after starting a fake SMTP server); plugins: ALPACA_PLUGINS (default e2ePlugins).
 *   ctx.server                          the alpaca-server under test
 *   ctx.p[name] / ctx.project           { id, db_name, url, anonKey, serviceKey, jwtSecret }
 *   ctx.sql(sql, project?)              POST /projects/:id/query (management role), → rows
 *   ctx.anon(project?)                  supabase-js client with the anon key
 *   ctx.service(project?)               supabase-js client with the service_role key
 *   ctx.user(sub, email, project?, claims?)  supabase-js client as a signed-in user (HS256 JWT)
 *   ctx.userJwt(sub, email, project?, claims?)
 *   ctx.log                             exchanges of the current test
 *   ctx.test(name, fn, opts?)           node:test test that dumps exchanges + server log on failure
 */
export function defineSuite(suiteName, { projects = ['main'], env = {}, plugins = e2ePlugins } = {}) {
  const ctx = { server: null, p: {}, log: [] };
  const fetchImpl = loggingFetch(ctx.log);

  before(async () => {
    const extraEnv = typeof env === 'function' ? await env() : env;
    ctx.server = await startServer({ plugins, env: extraEnv || {} });
    for (const name of projects) {
      const res = await ctx.server.api('POST', '/projects', { body: { name: `e2e-${suiteName}-${name}` } });
      assert.equal(res.status, 201, `create project: ${fmt(res)}`);
      const keys = await ctx.server.api('GET', `/projects/${res.json.id}/api-keys`);
      assert.equal(keys.status, 200, `api keys: ${fmt(keys)}`);
      const key = (n) => keys.json.find((k) => k.name === n)?.api_key;
      assert.ok(key('anon') && key('service_role'), `api keys: ${fmt(keys)}`);
      const sock = findSocket(ctx.server.dataDir);
      assert.ok(sock, `no postgres socket under ${ctx.server.dataDir}`);
      const jwtSecret = psql(
        { host: sock.dir, port: sock.port, db: 'alpaca' },
        `select jwt_secret from projects where id = '${res.json.id}'`,
      );
      assert.ok(jwtSecret.length >= 16, `jwt secret of ${res.json.id}: ${jwtSecret}`);
      ctx.p[name] = {
        ...res.json,
        url: `${ctx.server.url}/p/${res.json.id}`,
        anonKey: key('anon'),
        serviceKey: key('service_role'),
        jwtSecret,
      };
    }
    ctx.project = ctx.p[projects[0]];
  });

  after(async () => {
    await disposeServer(ctx.server);
  });

  const proj = (p) => (p === undefined ? ctx.project : typeof p === 'string' ? ctx.p[p] : p);

  ctx.sql = async (sql, p) => {
    const pr = proj(p);
    const res = await ctx.server.api('POST', `/projects/${pr.id}/query`, { body: { sql } });
    assert.equal(res.status, 200, `SQL failed: ${cut(sql, 300)}\n${fmt(res)}`);
    return res.json.rows;
  };

  ctx.client = (key, p, extra = {}) => {
    const pr = proj(p);
    return createClient(pr.url, key, {
      realtime: { transport: WebSocket },
      auth: {
        persistSession: false,
        autoRefreshToken: false,
        detectSessionInUrl: false,
        storageKey: `e2e-${randomHex(6)}`,
      },
      ...extra,
      global: { fetch: fetchImpl, ...(extra.global || {}) },
    });
  };
  ctx.anon = (p) => ctx.client(proj(p).anonKey, p);
  ctx.service = (p) => ctx.client(proj(p).serviceKey, p);
  ctx.userJwt = (sub, email, p, claims = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return signHs256(
      { sub, role: 'authenticated', aud: 'authenticated', exp: now + 3600, iat: now, email, ...claims },
      proj(p).jwtSecret,
    );
  };
  ctx.withJwt = (jwt, p) =>
    ctx.client(proj(p).anonKey, p, { global: { headers: { Authorization: `Bearer ${jwt}` } } });
  ctx.user = (sub, email, p, claims) => ctx.withJwt(ctx.userJwt(sub, email, p, claims), p);

  ctx.test = (name, fn, opts = {}) =>
    test(name, { timeout: 30000, ...opts }, async (t) => {
      ctx.log.length = 0;
      try {
        await fn(t);
      } catch (e) {
        const ex = ctx.log.length
          ? ctx.log.map((x, i) => `  ${i + 1}. ${formatExchange(x)}`).join('\n')
          : '  (none)';
        const tail = ctx.server ? ctx.server.logTail(15) : '';
        const extra = `\n--- supabase-js requests of this test ---\n${ex}\n--- alpaca-server output (tail) ---\n${tail}`;
        if (e && typeof e === 'object') {
          try {
            e.message = `${e.message}${extra}`;
          } catch {}
        }
        throw e;
      }
    });

  return ctx;
}

// ---------------------------------------------------------------------------------------------
// collecting checks: run every case of a test, then fail once listing each deviation

function describeQuery(q) {
  try {
    const u = q.url;
    const params = [...u.searchParams].filter(([k]) => k !== 'select' || u.searchParams.get('select') !== 'id');
    return `${u.pathname.replace(/^.*\/rest\/v1/, '')}?${params.map(([k, v]) => `${k}=${v}`).join('&')}`;
  } catch {
    return String(q);
  }
}

/**
 * collect() → { ids(query, want), equal(label, got|promise, want), done() }
 * ids() orders the query by id and compares the ids; each mismatch or error is recorded with the
 * query string; done() fails once with all of them.
 */
export function collect() {
  const errors = [];
  let n = 0;
  const record = (label, e) => errors.push(`${label}: ${String(e && e.message ? e.message : e).split('\n')[0]}`);
  return {
    async ids(q, want) {
      n++;
      const label = describeQuery(q);
      try {
        const got = ids(ok(await q.order('id')));
        if (!isDeepStrictEqual(got, want)) errors.push(`${label}: expected ids ${show(want)}, got ${show(got)}`);
      } catch (e) {
        record(label, e);
      }
    },
    async equal(label, got, want) {
      n++;
      try {
        const v = await got;
        if (!isDeepStrictEqual(v, want)) errors.push(`${label}: expected ${show(want)}, got ${show(v)}`);
      } catch (e) {
        record(label, e);
      }
    },
    done() {
      if (errors.length) assert.fail(`${errors.length} of ${n} case(s) failed:\n  - ${errors.join('\n  - ')}`);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// raw HTTP/1.1 on one keep-alive connection (what undici, under supabase-js, does)

/**
 * keepAlive(server, requests) → responses [{ status, headers, body }] read in order from one TCP
 * connection; each request is { method, path, headers, body } and is written only after the previous
 * response arrived. A response that never comes is { status: 0, body: '<timeout>' }.
 */
export async function keepAlive(server, requests, timeoutMs = 5000) {
  const net = await import('node:net');
  const sock = net.connect(server.port, '127.0.0.1');
  await new Promise((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  let buf = Buffer.alloc(0);
  let waiter = null;
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    if (waiter) waiter();
  });
  sock.on('error', () => {});
  const readResponse = () =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        waiter = null;
        resolve({ status: 0, headers: {}, body: '<timeout>' });
      }, timeoutMs);
      const tryParse = () => {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1').split('\r\n');
        const status = Number(head[0].split(' ')[1]);
        const headers = {};
        for (const l of head.slice(1)) {
          const k = l.indexOf(':');
          headers[l.slice(0, k).trim().toLowerCase()] = l.slice(k + 1).trim();
        }
        const len = Number(headers['content-length'] || 0);
        if (buf.length < end + 4 + len) return;
        const body = buf.subarray(end + 4, end + 4 + len).toString('utf8');
        buf = buf.subarray(end + 4 + len);
        clearTimeout(timer);
        waiter = null;
        resolve({ status, headers, body });
      };
      waiter = tryParse;
      tryParse();
    });
  const out = [];
  try {
    for (const r of requests) {
      const body = r.body === undefined ? '' : typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
      const lines = [`${r.method} ${r.path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: keep-alive'];
      for (const [k, v] of Object.entries(r.headers || {})) lines.push(`${k}: ${v}`);
      if (body.length || r.method !== 'GET') lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
      sock.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
      out.push(await readResponse());
    }
  } finally {
    sock.destroy();
  }
  return out;
}
