// What the sandboxes test files share: creating boxes and waiting for them, exec and files calls,
// extra owners (a second account with its own personal access token, a project's service_role
// key), and host-side process inspection through /proc.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { findSocket, fmt, psql, randomHex, repoRoot, sleep } from './harness.mjs';

export const SBX_ID = /^sbx_[a-z0-9]+$/;
export const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$/;
export const EXEC_KEYS = ['stdout', 'stderr', 'exit_code', 'duration_ms', 'truncated', 'timed_out', 'out_of_memory'];

/** The documented default of a `sandboxes.` knob in config/alpaca.properties (commented or not). */
export function configDefault(key, fallback) {
  try {
    const text = fs.readFileSync(path.join(repoRoot, 'config', 'alpaca.properties'), 'utf8');
    const re = new RegExp(`^#?\\s*${key.replace(/\./g, '\\.')}\\s*=\\s*(\\S+)`, 'm');
    const m = re.exec(text);
    if (m && /^\d+$/.test(m[1])) return Number(m[1]);
  } catch {}
  return fallback;
}

/** POST /sandboxes → the 201 body (asserted). */
export async function createBox(server, token, body) {
  const r = await server.request('POST', '/sandboxes', { token, body });
  assert.equal(r.status, 201, fmt(r));
  assert.match(String(r.json?.id), SBX_ID, fmt(r));
  return r.json;
}

/** Poll GET /sandboxes/:id until status is running; fails on an end state or after timeoutMs. */
export async function waitRunning(server, token, id, timeoutMs = 30000) {
  const deadline = performance.now() + timeoutMs;
  let last;
  for (;;) {
    last = await server.request('GET', `/sandboxes/${id}`, { token });
    assert.equal(last.status, 200, fmt(last));
    const s = last.json.status;
    if (s === 'running') return last.json;
    assert.ok(s === 'creating', `sandbox ${id} went to ${s} instead of running: ${fmt(last)}`);
    if (performance.now() > deadline) assert.fail(`sandbox ${id} not running after ${timeoutMs} ms: ${fmt(last)}`);
    await sleep(100);
  }
}

/** Poll GET /sandboxes/:id until status is `want` (any other end state fails). */
export async function waitStatus(server, token, id, want, timeoutMs = 20000) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const r = await server.request('GET', `/sandboxes/${id}`, { token });
    assert.equal(r.status, 200, fmt(r));
    if (r.json.status === want) return r.json;
    if (performance.now() > deadline) assert.fail(`sandbox ${id} not ${want} after ${timeoutMs} ms: ${fmt(r)}`);
    await sleep(200);
  }
}

/** create + waitRunning. */
export async function runningBox(server, token, runtime = 'python', label) {
  const b = await createBox(server, token, label === undefined ? { runtime } : { runtime, label });
  return waitRunning(server, token, b.id);
}

/** POST /sandboxes/:id/exec → the raw response (timeout generous: execs may run for seconds). */
export function execRaw(server, token, id, body, timeoutMs = 60000) {
  return server.request('POST', `/sandboxes/${id}/exec`, { token, body, timeoutMs });
}

/** POST /sandboxes/:id/exec, asserting 200 and the documented fields; returns the body + wall ms. */
export async function exec(server, token, id, body, timeoutMs = 60000) {
  const t0 = performance.now();
  const r = await execRaw(server, token, id, body, timeoutMs);
  const wall = performance.now() - t0;
  assert.equal(r.status, 200, `exec ${JSON.stringify(body).slice(0, 200)}: ${fmt(r)}`);
  for (const k of EXEC_KEYS) assert.ok(k in r.json, `exec answer lacks ${k}: ${fmt(r)}`);
  assert.equal(typeof r.json.stdout, 'string', fmt(r));
  assert.equal(typeof r.json.stderr, 'string', fmt(r));
  assert.ok(Number.isInteger(r.json.exit_code), `exit_code integer: ${fmt(r)}`);
  assert.ok(Number.isInteger(r.json.duration_ms) && r.json.duration_ms >= 0, `duration_ms: ${fmt(r)}`);
  for (const k of ['truncated', 'timed_out', 'out_of_memory']) assert.equal(typeof r.json[k], 'boolean', `${k}: ${fmt(r)}`);
  return { ...r.json, wall, res: r };
}

/** exec a shell command that must succeed (exit 0); returns stdout. */
export async function sh(server, token, id, command, extra = {}) {
  const r = await exec(server, token, id, { command, ...extra });
  assert.equal(r.exit_code, 0, `${command}: exit ${r.exit_code}\nstdout: ${r.stdout.slice(0, 800)}\nstderr: ${r.stderr.slice(0, 800)}`);
  return r.stdout;
}

/** Runs a python3 program in the box (via a file, so quoting is not an issue) and parses its JSON stdout. */
export async function pyJson(server, token, id, program, extra = {}) {
  const name = `/tmp/prog-${randomHex(4)}.py`;
  const put = await server.request('PUT', `/sandboxes/${id}/files${name}`, { token, body: { content: program } });
  assert.equal(put.status, 201, fmt(put));
  const r = await exec(server, token, id, { command: `python3 ${name}`, ...extra });
  assert.equal(r.exit_code, 0, `python program failed: exit ${r.exit_code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  try {
    return JSON.parse(r.stdout);
  } catch {
    assert.fail(`python program printed no JSON: ${r.stdout}\nstderr: ${r.stderr}`);
  }
}

/**
 * A second account with its own personal access token (the management API mints tokens only for
 * the caller's account, so the row goes in through the embedded cluster's socket, hashed as the
 * control plane hashes them).
 */
export function makeAccount(server, label = 'other') {
  const sock = findSocket(server.dataDir);
  assert.ok(sock, `no postgres socket under ${server.dataDir}`);
  const token = 'alp_' + crypto.randomBytes(30).toString('base64').replace(/[^A-Za-z0-9]/g, '').padEnd(40, 'x').slice(0, 40);
  const hash = crypto.createHash('sha256').update(token).digest('hex');
  const email = `${label}-${randomHex(4)}@test.invalid`;
  psql(
    { host: sock.dir, port: sock.port, db: 'alpaca' },
    `with a as (insert into accounts(email) values ('${email}') returning id) ` +
      `insert into access_tokens(account_id, name, token_hash, token_prefix) select id, 'it', '${hash}', '${token.slice(0, 8)}' from a`,
  );
  return token;
}

/** A project of the admin account and its service_role key (the owner of what that key creates is the project). */
export async function makeProjectKey(server, prefix = 'sbx') {
  const p = await server.api('POST', '/projects', { body: { name: `${prefix}-${randomHex(3)}` } });
  assert.equal(p.status, 201, fmt(p));
  const keys = (await server.api('GET', `/projects/${p.json.id}/api-keys`)).json;
  return {
    ref: p.json.id,
    service: keys.find((k) => k.name === 'service_role').api_key,
    anon: keys.find((k) => k.name === 'anon').api_key,
  };
}

// ---------------------------------------------------------------------------------------------
// host processes

/** Every process of the host: { pid, ppid, comm, cmdline, start } (start = starttime, for pid reuse). */
export function hostProcesses() {
  const out = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const rest = stat.slice(close + 2).split(' ');
      const cmdline = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0+$/, '').split('\0').join(' ');
      let cgroup = '';
      try {
        cgroup = fs.readFileSync(`/proc/${e}/cgroup`, 'utf8');
      } catch {}
      out.push({ pid: Number(e), ppid: Number(rest[1]), comm, cmdline, start: rest[19], cgroup });
    } catch {}
  }
  return out;
}

/** Number of processes on the host. */
export function hostPidCount() {
  return fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e)).length;
}

/** The descendants of pid (not pid itself). */
export function descendants(pid, procs = hostProcesses()) {
  const kids = new Map();
  for (const p of procs) {
    if (!kids.has(p.ppid)) kids.set(p.ppid, []);
    kids.get(p.ppid).push(p);
  }
  const out = [];
  const stack = [...(kids.get(pid) || [])];
  while (stack.length) {
    const p = stack.pop();
    out.push(p);
    stack.push(...(kids.get(p.pid) || []));
  }
  return out;
}

export const isPostgres = (p) => p.comm === 'postgres' || /(^|\/)postgres(\s|$)|postgresql\/\d+\/bin/.test(p.cmdline) || p.cmdline.startsWith('postgres:');

/**
 * The host processes that belong to a server's boxes: its non-postgres descendants, and any
 * process whose command line or cgroup names one of the box ids (a helper that double-forked away
 * from the server is still found).
 */
export function boxProcesses(serverPid, ids, procs = hostProcesses()) {
  const mine = new Map();
  for (const p of descendants(serverPid, procs)) if (!isPostgres(p)) mine.set(p.pid, p);
  for (const p of procs) {
    if (p.pid === process.pid || isPostgres(p)) continue;
    if (ids.some((id) => p.cmdline.includes(id) || p.cgroup.includes(id))) mine.set(p.pid, p);
  }
  return [...mine.values()];
}

/** Whether the process p (as returned by hostProcesses) still runs (same pid and start time). */
export function stillRunning(p) {
  try {
    const stat = fs.readFileSync(`/proc/${p.pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] === p.start && rest[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Directories under /sys/fs/cgroup (depth ≤ 6) whose name contains one of the strings. */
export function cgroupDirsMatching(strings) {
  const found = [];
  const walk = (dir, depth) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const full = path.join(dir, e.name);
      if (strings.some((s) => e.name.includes(s))) found.push(full);
      if (depth < 6) walk(full, depth + 1);
    }
  };
  walk('/sys/fs/cgroup', 0);
  return found;
}
