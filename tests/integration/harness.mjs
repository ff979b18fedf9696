// Shared helpers for the integration suite: start the real alpaca-server binary on a free port
// with a temp data dir, talk raw HTTP to it, start a throwaway external PostgreSQL 15 cluster,
// and decode/tamper JWTs. No npm dependencies: Node 20 built-ins only.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const serverBin =
  process.env.ALPACA_SERVER_BIN || path.join(repoRoot, 'build', 'release', 'bin', 'alpaca-server');
export const testPluginDir =
  process.env.ALPACA_TEST_PLUGIN_DIR || path.join(repoRoot, 'build', 'release', 'test-plugins');
export const probePlugin = path.join(testPluginDir, 'probe.so');
// The first-party database plugin next to the server under test (build/<preset>/lib/...).
export const databasePlugin =
  process.env.ALPACA_DATABASE_PLUGIN ||
  path.resolve(path.dirname(serverBin), '..', 'lib', 'alpaca', 'plugins', 'database.so');
// The first-party auth plugin (GoTrue's protocol at /p/<ref>/auth/v1), next to the database plugin.
export const authPlugin =
  process.env.ALPACA_AUTH_PLUGIN ||
  path.resolve(path.dirname(serverBin), '..', 'lib', 'alpaca', 'plugins', 'auth.so');
// The first-party storage plugin (Supabase Storage's protocol at /p/<ref>/storage/v1), next to
// the database plugin.
export const storagePlugin =
  process.env.ALPACA_STORAGE_PLUGIN || path.join(path.dirname(databasePlugin), 'storage.so');
// The first-party sandboxes plugin (/sandboxes: isolated boxes running code), next to the
// database plugin.
export const sandboxesPlugin = process.env.ALPACA_SANDBOXES_PLUGIN || path.join(path.dirname(databasePlugin), 'sandboxes.so');
export const PG_BIN = process.env.ALPACA_TEST_PG_BIN || '/usr/lib/postgresql/15/bin';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

// ---------------------------------------------------------------------------------------------
// small utilities

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function randomHex(bytes = 8) {
  return crypto.randomBytes(bytes).toString('hex');
}

/** A free TCP port on 127.0.0.1: listen on port 0, read the port, close. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** A fresh temp dir, mode 0755 so the `postgres` OS user can traverse it. */
export function makeTempDir(prefix = 'alpaca-it-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  ownedDirs.add(dir);
  return dir;
}

export function removeDir(dir) {
  if (!dir) return;
  ownedDirs.delete(dir);
  try {
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  } catch (e) {
    // postgres-owned files: root can remove them; fall back to rm -rf for odd permission cases
    spawnSync('rm', ['-rf', dir]);
  }
}

// Every child we spawn is remembered so a crash of the test process does not leave servers behind.
// Likewise the temp dirs a server owns are removed at exit if an after() hook never ran.
const liveChildren = new Set();
const ownedDirs = new Set();
const exitCleanups = new Set(); // synchronous, e.g. stopping an external cluster
process.on('exit', () => {
  for (const f of exitCleanups) {
    try {
      f();
    } catch {}
  }
  for (const c of liveChildren) {
    try {
      c.kill('SIGKILL');
    } catch {}
  }
  for (const d of ownedDirs) {
    try {
      fs.rmSync(d, { recursive: true, force: true });
    } catch {}
  }
});

// ---------------------------------------------------------------------------------------------
// raw HTTP (node:http, so paths are sent exactly as written — no URL normalisation)

/**
 * request(base, method, path, opts) → { status, headers, text, json }
 * opts: token (Bearer), headers, body (object → JSON, string/Buffer → raw),
 *       chunked (send body with Transfer-Encoding: chunked, no content-length),
 *       timeoutMs.
 */
export function request(base, method, reqPath, opts = {}) {
  const u = new URL(base);
  const headers = { ...(opts.headers || {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body = opts.body;
  if (body !== undefined && body !== null && typeof body !== 'string' && !Buffer.isBuffer(body)) {
    body = JSON.stringify(body);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
      headers['content-type'] = 'application/json';
  }
  if (body !== undefined && body !== null && !opts.chunked) {
    headers['content-length'] = Buffer.byteLength(body);
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        method,
        path: reqPath,
        headers,
        agent: false,
        timeout: opts.timeoutMs ?? 15000,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json;
          try {
            json = text.length ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode, headers: res.headers, text, json, method, path: reqPath });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${reqPath}: timed out`)));
    req.on('error', (e) => {
      // The server may answer (e.g. 413) and close before we finish sending a large body.
      reject(e);
    });
    if (body !== undefined && body !== null) {
      if (opts.chunked) {
        const buf = Buffer.isBuffer(body) ? body : Buffer.from(body);
        const step = opts.chunkSize || 512;
        for (let i = 0; i < buf.length; i += step) req.write(buf.subarray(i, i + step));
      } else {
        req.write(body);
      }
    }
    req.end();
  });
}

/**
 * Parses one HTTP/1.x response at the start of buf (bodies with content-length only): { status,
 * headers, text, json, rest } with rest = the bytes after it; null while incomplete.
 */
export function parseRawResponse(buf) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  if (!m) throw new Error(`not an HTTP response: ${lines[0].slice(0, 200)}`);
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  if (buf.length < end + 4 + length) return null;
  const text = buf.subarray(end + 4, end + 4 + length).toString('utf8');
  let json;
  try {
    json = text.length ? JSON.parse(text) : undefined;
  } catch {}
  return { status: Number(m[1]), headers, text, json, rest: buf.subarray(end + 4 + length) };
}

/**
 * rawConnection(port) → { send(data), next(), waitClosed(ms), closed, destroy() }: one TCP
 * connection for bytes node:http will not send (overlong or malformed request lines, pipelining).
 * send writes and resolves with the next response (method/path set for fmt()); it rejects when the
 * connection closes or resets first, or after timeoutMs.
 */
export function rawConnection(port, { timeoutMs = 10000 } = {}) {
  const socket = net.connect(port, '127.0.0.1');
  let buf = Buffer.alloc(0);
  let waiting = null;
  let closed = false;
  let error = null;
  const closeWaiters = new Set();
  const settle = () => {
    if (waiting) {
      const r = parseRawResponse(buf);
      if (r) {
        buf = r.rest;
        waiting.resolve({ ...r, method: 'raw', path: waiting.label });
      } else if (closed) {
        const got = buf.toString('latin1').slice(0, 300);
        waiting.reject(error || new Error(`connection closed before a full response (got ${buf.length} bytes: ${got})`));
      }
    }
    if (closed) for (const f of closeWaiters) f(true);
  };
  const ready = new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('data', (c) => {
    buf = Buffer.concat([buf, c]);
    settle();
  });
  socket.on('error', (e) => {
    error = e;
  });
  socket.on('close', () => {
    closed = true;
    settle();
  });
  const conn = {
    socket,
    get closed() {
      return closed;
    },
    next(label = '(next response)') {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting = null;
          reject(new Error(`${label}: no response after ${timeoutMs} ms`));
        }, timeoutMs);
        const done = (f) => (v) => {
          clearTimeout(timer);
          waiting = null;
          f(v);
        };
        waiting = { resolve: done(resolve), reject: done(reject), label };
        settle();
      });
    },
    async send(data) {
      await ready;
      const first = Buffer.from(data).subarray(0, 200).toString('latin1').split('\r\n')[0];
      socket.write(data);
      return conn.next(first.slice(0, 100));
    },
    /** Resolves true once the server has closed the connection, false after ms. */
    waitClosed(ms = 5000) {
      if (closed) return Promise.resolve(true);
      return new Promise((resolve) => {
        const f = (v) => {
          clearTimeout(timer);
          closeWaiters.delete(f);
          resolve(v);
        };
        const timer = setTimeout(() => f(false), ms);
        closeWaiters.add(f);
      });
    },
    destroy() {
      socket.destroy();
    },
  };
  return conn;
}

/** One-line description of a response, used in assertion messages so failures show the exchange. */
export function fmt(res) {
  const body = res.text && res.text.length > 600 ? res.text.slice(0, 600) + '…' : res.text;
  return `${res.method} ${res.path.length > 200 ? res.path.slice(0, 200) + '…' : res.path} → ${res.status} ${body}`;
}

/** Assert a status, with the exchange in the message. */
export function expectStatus(res, status) {
  const ok = Array.isArray(status) ? status.includes(res.status) : res.status === status;
  assert.ok(ok, `expected ${JSON.stringify(status)}: ${fmt(res)}`);
  return res;
}

/** Assert an error response in the spec's format: {"error": string, "detail": string|null}. */
export function expectError(res, status) {
  expectStatus(res, status);
  assert.ok(
    res.json && typeof res.json === 'object' && !Array.isArray(res.json),
    `error body is not a JSON object: ${fmt(res)}`,
  );
  assert.equal(typeof res.json.error, 'string', `error.error must be a string: ${fmt(res)}`);
  assert.ok(res.json.error.length > 0, `error.error is empty: ${fmt(res)}`);
  assert.ok(
    'detail' in res.json && (res.json.detail === null || typeof res.json.detail === 'string'),
    `error.detail must be a string or null: ${fmt(res)}`,
  );
  assert.match(String(res.headers['content-type'] || ''), /application\/json/, `content-type: ${fmt(res)}`);
  return res;
}

// ---------------------------------------------------------------------------------------------
// the server

function baseEnv() {
  // Start from the test process environment minus every ALPACA_* variable, so a developer's shell
  // (or CI's ALPACA_HELLO_PLUGIN etc.) does not leak into a server's configuration.
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ALPACA_')) env[k] = v;
  return env;
}

/**
 * spawnServer(opts) → server handle (not yet waited on).
 * opts: dataDir (default: a fresh temp dir), port (default: free), adminToken (default: generated
 * 'test-admin-<hex>'; pass null to leave ALPACA_ADMIN_TOKEN unset), plugins (ALPACA_PLUGINS; default
 * the probe plugin; pass null to leave it unset), pluginDir, databaseUrl, env (extra vars).
 */
export async function spawnServer(opts = {}) {
  const port = opts.port ?? (await freePort());
  const dataDir = opts.dataDir ?? makeTempDir('alpaca-data-');
  const ownsDataDir = opts.dataDir === undefined;
  const adminToken =
    opts.adminToken === undefined ? `test-admin-${randomHex(12)}` : opts.adminToken;
  const env = baseEnv();
  env.ALPACA_HTTP_HOST = '127.0.0.1';
  env.ALPACA_HTTP_PORT = String(port);
  env.ALPACA_DATA_DIR = dataDir;
  env.ALPACA_LOG_LEVEL = opts.logLevel ?? 'info';
  if (adminToken !== null) env.ALPACA_ADMIN_TOKEN = adminToken;
  const plugins = opts.plugins === undefined ? probePlugin : opts.plugins;
  if (plugins !== null) env.ALPACA_PLUGINS = plugins;
  if (opts.pluginDir) env.ALPACA_PLUGIN_DIR = opts.pluginDir;
  else env.ALPACA_PLUGIN_DIR = testPluginDir; // never the first-party dir by accident
  if (opts.databaseUrl) env.ALPACA_DATABASE_URL = opts.databaseUrl;
  if (opts.controlDb) env.ALPACA_DATABASE_CONTROL_DB = opts.controlDb;
  Object.assign(env, opts.env || {});

  const t0 = performance.now();
  const child = spawn(serverBin, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  liveChildren.add(child);
  const server = {
    child,
    pid: child.pid,
    port,
    url: `http://127.0.0.1:${port}`,
    dataDir,
    ownsDataDir,
    adminToken,
    env,
    t0,
    stdout: '',
    stderr: '',
    output: '', // stdout + stderr interleaved in arrival order
    exitCode: undefined,
    exitSignal: undefined,
  };
  child.stdout.on('data', (d) => {
    server.stdout += d;
    server.output += d;
  });
  child.stderr.on('data', (d) => {
    server.stderr += d;
    server.output += d;
  });
  server.exited = new Promise((resolve) => {
    child.on('error', (e) => {
      server.output += `\n[harness] spawn error: ${e.message}\n`;
      server.exitCode = null;
      liveChildren.delete(child);
      resolve({ code: null, signal: null, error: e });
    });
    child.on('exit', (code, signal) => {
      server.exitCode = code;
      server.exitSignal = signal;
      liveChildren.delete(child);
      // let the pipes drain before resolving
      setTimeout(() => resolve({ code, signal }), 50);
    });
  });
  server.request = (method, p, o = {}) => request(server.url, method, p, o);
  // Authenticated with the admin PAT unless opts.token is given (pass token: null for none).
  server.api = (method, p, o = {}) =>
    request(server.url, method, p, { ...o, token: o.token === undefined ? server.adminToken : o.token });
  server.stop = (signal = 'SIGTERM', timeoutMs = 15000) => stopServer(server, signal, timeoutMs);
  server.logTail = (n = 60) => server.output.split('\n').slice(-n).join('\n');
  return server;
}

/** Poll GET /health every 50 ms until 200 (or the process exits, or the timeout). Returns ms. */
export async function waitHealthy(server, timeoutMs = 30000) {
  const deadline = performance.now() + timeoutMs;
  let last = 'no answer';
  while (performance.now() < deadline) {
    if (server.exitCode !== undefined) {
      throw new Error(
        `alpaca-server exited with code ${server.exitCode} (signal ${server.exitSignal}) before /health was 200\n--- server output ---\n${server.logTail(80)}`,
      );
    }
    try {
      const res = await request(server.url, 'GET', '/health', { timeoutMs: 2000 });
      if (res.status === 200) {
        server.readyMs = performance.now() - server.t0;
        server.healthBody = res.json;
        return server.readyMs;
      }
      last = `${res.status} ${res.text}`;
      server.sawStarting ||= res.status === 503 ? res : false;
    } catch (e) {
      last = e.message;
    }
    await sleep(50);
  }
  throw new Error(
    `alpaca-server not healthy after ${timeoutMs} ms (last: ${last})\n--- server output ---\n${server.logTail(80)}`,
  );
}

/** spawnServer + waitHealthy; kills the server if it never becomes healthy. */
export async function startServer(opts = {}) {
  const server = await spawnServer(opts);
  try {
    await waitHealthy(server, opts.healthTimeoutMs ?? 30000);
  } catch (e) {
    await stopServer(server, 'SIGKILL', 5000).catch(() => {});
    if (server.ownsDataDir) removeDir(server.dataDir);
    throw e;
  }
  return server;
}

/** Send a signal, wait for exit (SIGKILL after timeoutMs). Returns {code, signal, ms}. */
export async function stopServer(server, signal = 'SIGTERM', timeoutMs = 15000) {
  if (server.exitCode !== undefined) return { code: server.exitCode, signal: server.exitSignal, ms: 0 };
  const t0 = performance.now();
  try {
    server.child.kill(signal);
  } catch {}
  let timer;
  const timedOut = new Promise((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
  const r = await Promise.race([server.exited, timedOut]);
  clearTimeout(timer);
  if (r === 'timeout') {
    server.child.kill('SIGKILL');
    await server.exited;
    return { code: server.exitCode, signal: server.exitSignal, ms: performance.now() - t0, timedOut: true };
  }
  return { code: server.exitCode, signal: server.exitSignal, ms: performance.now() - t0 };
}

/** Stop and remove everything a server owns (for after() hooks). */
export async function disposeServer(server) {
  if (!server) return;
  await stopServer(server, 'SIGTERM', 15000).catch(() => {});
  if (server.ownsDataDir) removeDir(server.dataDir);
}

/** Run the server expecting it to exit on its own (startup failure); kill after timeoutMs. */
export async function runUntilExit(opts = {}, timeoutMs = 20000) {
  const server = await spawnServer(opts);
  let timer;
  const timedOut = new Promise((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
  const r = await Promise.race([server.exited, timedOut]);
  clearTimeout(timer);
  if (r === 'timeout') {
    server.timedOut = true;
    await stopServer(server, 'SIGKILL', 5000);
  }
  return server;
}

/** Wait until the server output matches re (log lines can be flushed a moment after the response). */
export async function waitForOutput(server, re, timeoutMs = 3000) {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (re.test(server.output)) return true;
    await sleep(25);
  }
  return re.test(server.output);
}

/**
 * Wrap a test body so that, on failure, the tail of the server's output is appended to the error.
 * Usage: test('x', withLogs(() => server, async () => {...}))
 */
export function withLogs(getServers, fn) {
  return async (t) => {
    try {
      await fn(t);
    } catch (e) {
      let servers = getServers();
      if (!Array.isArray(servers)) servers = [servers];
      const dump = servers
        .filter(Boolean)
        .map((s) => `--- alpaca-server :${s.port} output (tail) ---\n${s.logTail(40)}`)
        .join('\n');
      if (dump && e && typeof e === 'object') {
        try {
          e.message = `${e.message}\n${dump}`;
        } catch {}
      }
      throw e;
    }
  };
}

// ---------------------------------------------------------------------------------------------
// JWTs

export function b64urlDecode(s) {
  return Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}
export function b64urlEncode(buf) {
  return Buffer.from(buf).toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}
export function decodeJwt(token) {
  const parts = token.split('.');
  assert.equal(parts.length, 3, `not a JWT: ${token}`);
  return {
    header: JSON.parse(b64urlDecode(parts[0]).toString('utf8')),
    payload: JSON.parse(b64urlDecode(parts[1]).toString('utf8')),
    signature: parts[2],
  };
}
/** Same header and signature, payload replaced: the signature no longer matches. */
export function tamperPayload(token, changes) {
  const [h, p, s] = token.split('.');
  const payload = { ...JSON.parse(b64urlDecode(p).toString('utf8')), ...changes };
  return `${h}.${b64urlEncode(JSON.stringify(payload))}.${s}`;
}
/** Flip one character of the signature. */
export function tamperSignature(token) {
  const [h, p, s] = token.split('.');
  const c = s[5] === 'A' ? 'B' : 'A';
  return `${h}.${p}.${s.slice(0, 5)}${c}${s.slice(6)}`;
}
/** An unsigned token (alg "none") with the given payload. */
export function algNoneJwt(payload) {
  return `${b64urlEncode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64urlEncode(JSON.stringify(payload))}.`;
}
/** HS256 signed with a secret we choose (i.e. not the project's): must be rejected. */
export function signHs256(payload, secret) {
  const h = b64urlEncode(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const p = b64urlEncode(JSON.stringify(payload));
  const sig = crypto.createHmac('sha256', secret).update(`${h}.${p}`).digest();
  return `${h}.${p}.${b64urlEncode(sig)}`;
}

// ---------------------------------------------------------------------------------------------
// processes

/** PIDs (other than ours) whose command line contains s. */
export function pgrep(s) {
  const r = spawnSync('pgrep', ['-f', '--', s], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .map((x) => x.trim())
    .filter(Boolean)
    .map(Number)
    .filter((pid) => pid !== process.pid);
}

function runAsPostgres(args, opts = {}) {
  const cmd = isRoot ? 'runuser' : args[0];
  const argv = isRoot ? ['-u', 'postgres', '--', ...args] : args.slice(1);
  const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: opts.timeout ?? 60000, ...opts });
  return r;
}

/** Find the embedded cluster's unix socket under a data dir (for checks only). */
export function findSocket(dataDir) {
  const stack = [dataDir];
  while (stack.length) {
    const d = stack.pop();
    let entries;
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const full = path.join(d, e.name);
      const m = /^\.s\.PGSQL\.(\d+)$/.exec(e.name);
      if (m) return { dir: d, port: Number(m[1]) };
      if (e.isDirectory() && !['base', 'pg_wal', 'global', 'pg_xact'].includes(e.name)) stack.push(full);
    }
  }
  return null;
}

/** psql -tA as the postgres OS user against host (dir or address) and port; returns trimmed stdout. */
export function psql({ host, port, db = 'postgres', user = 'postgres' }, sql) {
  const r = runAsPostgres([path.join(PG_BIN, 'psql'), '-X', '-q', '-tA', '-h', host, '-p', String(port), '-U', user, '-d', db, '-c', sql]);
  if (r.status !== 0) throw new Error(`psql failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim();
}

// ---------------------------------------------------------------------------------------------
// a throwaway external PostgreSQL 15 cluster

/**
 * startExternalPostgres() → { port, host, dir, url, psql(sql, db?), stop() }
 * initdb -A trust in a temp dir owned by `postgres`, TCP on 127.0.0.1:<free port>, unix socket in
 * the temp dir; waits with pg_isready.
 */
export async function startExternalPostgres() {
  const dir = makeTempDir('alpaca-extpg-');
  const dataDir = path.join(dir, 'data');
  if (isRoot) spawnSync('chown', ['-R', 'postgres:postgres', dir]);
  const port = await freePort();
  let r = runAsPostgres([
    path.join(PG_BIN, 'initdb'),
    '-D', dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync',
  ]);
  if (r.status !== 0) throw new Error(`initdb failed: ${r.stdout}\n${r.stderr}`);
  const stopCluster = () => {
    exitCleanups.delete(stopCluster);
    runAsPostgres([path.join(PG_BIN, 'pg_ctl'), '-D', dataDir, '-m', 'fast', '-w', 'stop']);
    removeDir(dir);
  };
  exitCleanups.add(stopCluster); // from here on, a crash of the test process still stops it
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  r = runAsPostgres([
    path.join(PG_BIN, 'pg_ctl'), '-D', dataDir, '-l', path.join(dir, 'postgres.log'), '-o', opts, '-w', '-t', '60', 'start',
  ]);
  if (r.status !== 0) {
    let log = '';
    try {
      log = fs.readFileSync(path.join(dir, 'postgres.log'), 'utf8');
    } catch {}
    throw new Error(`pg_ctl start failed: ${r.stdout}\n${r.stderr}\n${log}`);
  }
  const deadline = performance.now() + 30000;
  for (;;) {
    const ready = spawnSync(path.join(PG_BIN, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres']);
    if (ready.status === 0) break;
    if (performance.now() > deadline) {
      stopCluster();
      throw new Error('external postgres not ready after 30 s');
    }
    await sleep(100);
  }
  const pg = {
    dir,
    dataDir,
    port,
    host: '127.0.0.1',
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    psql: (sql, db = 'postgres') => psql({ host: '127.0.0.1', port, db }, sql),
    stop: stopCluster,
  };
  return pg;
}

/**
 * Collect assertion failures instead of stopping at the first, so one run reports every deviation
 * of a group of cases: `const c = checks(); await c.run(() => ...); ...; c.done();`
 * done() fails the test if any check failed, listing each.
 */
export function checks() {
  const errors = [];
  return {
    async run(fn) {
      try {
        await fn();
      } catch (e) {
        if (!(e instanceof assert.AssertionError)) throw e;
        errors.push(String(e.message).split('\n')[0]);
      }
    },
    done() {
      if (errors.length) assert.fail(`${errors.length} check(s) failed:\n  - ${errors.join('\n  - ')}`);
    },
  };
}
