// Sandboxes plugin: every route and error of plugins/sandboxes/README.md. Create/list/get/delete
// per owner (a personal access token's account, a project's service_role key), the 5-per-owner
// cap, exec (each runtime, language override, command, stdin, env, cwd, exit codes, timeouts,
// concurrency, rate limit, output cap), files (JSON and raw, byte-exact, encodings, parent dirs,
// errors, size cap, full disk), TTL expiry and stop.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import {
  startServer,
  disposeServer,
  expectError,
  fmt,
  sandboxesPlugin,
  withLogs,
  checks,
} from './harness.mjs';
import {
  SBX_ID,
  ISO,
  createBox,
  waitRunning,
  waitStatus,
  runningBox,
  exec,
  execRaw,
  sh,
  makeAccount,
  makeProjectKey,
} from './sandboxes-helpers.mjs';

let server; // defaults
let small; // exec_per_minute 5, output_limit 1000, max_file_bytes 4096, disk_mb 8, network false
let ttl; // ttl_seconds 3
let A; // the admin account's personal access token
let B; // a second account's token
let P; // a project's service_role key (owner: the project)
let py, node, shell; // running boxes of A

const SMALL_ENV = {
  ALPACA_SANDBOXES_EXEC_PER_MINUTE: '5',
  ALPACA_SANDBOXES_OUTPUT_LIMIT: '1000',
  ALPACA_SANDBOXES_MAX_FILE_BYTES: '4096',
  ALPACA_SANDBOXES_DISK_MB: '8',
  ALPACA_SANDBOXES_NETWORK: 'false',
  ALPACA_SANDBOXES_WARM_POOL: '0',
};

before(async () => {
  [server, small, ttl] = await Promise.all([
    startServer({ plugins: sandboxesPlugin, healthTimeoutMs: 90000 }),
    startServer({ plugins: sandboxesPlugin, env: SMALL_ENV, healthTimeoutMs: 90000 }),
    startServer({ plugins: sandboxesPlugin, env: { ALPACA_SANDBOXES_TTL_SECONDS: '3' }, healthTimeoutMs: 90000 }),
  ]);
  A = server.adminToken;
  B = makeAccount(server, 'b');
  P = (await makeProjectKey(server, 'sbx-api')).service;
  // The boxes most tests use (made here so one failing test does not take the others with it).
  [py, node, shell] = await Promise.all([
    runningBox(server, A, 'python', 'py'),
    runningBox(server, A, 'node', 'n'),
    runningBox(server, A, 'shell'),
  ]);
});
after(async () => {
  await Promise.all([disposeServer(server), disposeServer(small), disposeServer(ttl)]);
});

const t = (name, fn, timeout = 60000) => test(name, { timeout }, withLogs(() => [server, small, ttl], fn));
const api = (method, p, o = {}) => server.request(method, p, { token: A, ...o });

// ---------------------------------------------------------------------------------------------
// create / get / list / delete

t('create: 201 {id sbx_…, runtime, label, status creating, note, created_at, expires_at, limits}, then running', async () => {
  const t0 = Date.now();
  const r = await api('POST', '/sandboxes', { body: { runtime: 'python', label: 'My Python Sandbox' } });
  assert.equal(r.status, 201, fmt(r));
  const b = r.json;
  for (const k of ['id', 'runtime', 'label', 'status', 'note', 'created_at', 'expires_at', 'limits'])
    assert.ok(k in b, `create answer lacks ${k}: ${fmt(r)}`);
  assert.match(b.id, SBX_ID);
  assert.equal(b.runtime, 'python');
  assert.equal(b.label, 'My Python Sandbox');
  // A box from the warm pool (sandboxes.warm_pool, default 1) answers running at once.
  assert.ok(['creating', 'running'].includes(b.status), fmt(r));
  assert.equal(typeof b.note, 'string');
  assert.match(b.note, b.status === 'creating' ? /until status=running/ : /exec/i, fmt(r));
  assert.match(b.created_at, ISO);
  assert.match(b.expires_at, ISO);
  const created = Date.parse(b.created_at);
  assert.ok(Math.abs(created - t0) < 60000, `created_at ≈ now: ${b.created_at}`);
  assert.equal(Math.round((Date.parse(b.expires_at) - created) / 1000), 1800, `expires_at = created_at + 1800 s: ${fmt(r)}`);
  assert.ok(b.limits && typeof b.limits === 'object' && !Array.isArray(b.limits), `limits object: ${fmt(r)}`);
  const vals = Object.values(b.limits);
  assert.ok(vals.includes(512) || vals.includes(512 * 1024 * 1024), `limits carry 512 MB of memory: ${JSON.stringify(b.limits)}`);
  assert.ok(vals.includes(500) || vals.includes(0.5), `limits carry half a CPU: ${JSON.stringify(b.limits)}`);
  assert.ok(vals.includes(256), `limits carry 256 pids: ${JSON.stringify(b.limits)}`);

  const running = await waitRunning(server, A, b.id);
  assert.equal(running.id, b.id);
  assert.equal(running.runtime, 'python');
  assert.equal(running.label, 'My Python Sandbox');
  assert.equal(running.created_at, b.created_at);
  assert.equal(running.expires_at, b.expires_at);

  // the spec's example
  const e = await exec(server, A, b.id, { code: "print('hello world')", language: 'python' });
  assert.equal(e.stdout, 'hello world\n');
  assert.equal(e.stderr, '');
  assert.equal(e.exit_code, 0);
  assert.equal(e.truncated, false);
  assert.equal(e.timed_out, false);
  assert.equal(e.out_of_memory, false);
  const d = await api('DELETE', `/sandboxes/${b.id}`);
  assert.equal(d.status, 200, fmt(d));
});

t('create answers at once (status creating, no warm pool), it does not wait for the box to start', async () => {
  const t0 = performance.now();
  const r = await small.request('POST', '/sandboxes', { token: small.adminToken, body: { runtime: 'shell' } });
  const ms = performance.now() - t0;
  assert.equal(r.status, 201, fmt(r));
  await waitRunning(small, small.adminToken, r.json.id);
  await small.request('DELETE', `/sandboxes/${r.json.id}`, { token: small.adminToken });
  assert.equal(r.json.status, 'creating', fmt(r));
  assert.ok(ms < 1000, `POST /sandboxes took ${Math.round(ms)} ms`);
});

t('each runtime runs its code: python print(1+1), node console.log(6*7), shell echo $((2+3))', async () => {
  assert.equal(node.runtime, 'node');
  assert.equal(shell.runtime, 'shell');
  let e = await exec(server, A, py.id, { code: 'print(1+1)' });
  assert.deepEqual([e.stdout, e.stderr, e.exit_code], ['2\n', '', 0]);
  e = await exec(server, A, node.id, { code: 'console.log(6*7)' });
  assert.deepEqual([e.stdout, e.stderr, e.exit_code], ['42\n', '', 0]);
  e = await exec(server, A, shell.id, { code: 'echo $((2+3))' });
  assert.deepEqual([e.stdout, e.stderr, e.exit_code], ['5\n', '', 0]);
  // which interpreter ran: python3 -c, node -e, sh -c
  e = await exec(server, A, py.id, { code: 'import sys; print(sys.version_info[0])' });
  assert.equal(e.stdout, '3\n');
  e = await exec(server, A, node.id, { code: 'console.log(typeof process.versions.node)' });
  assert.equal(e.stdout, 'string\n');
});

t('language overrides the runtime; an unknown language is 400', async () => {
  let e = await exec(server, A, py.id, { code: 'console.log("n" + 1)', language: 'node' });
  assert.deepEqual([e.stdout, e.exit_code], ['n1\n', 0]);
  e = await exec(server, A, py.id, { code: 'echo sh-$((1+1))', language: 'shell' });
  assert.deepEqual([e.stdout, e.exit_code], ['sh-2\n', 0]);
  e = await exec(server, A, node.id, { code: 'print(7*6)', language: 'python' });
  assert.deepEqual([e.stdout, e.exit_code], ['42\n', 0]);
  const c = checks();
  for (const language of ['ruby', '', 5, 'Python', ['python']]) {
    await c.run(async () => {
      const r = await execRaw(server, A, py.id, { code: '1', language });
      assert.equal(r.status, 400, `language ${JSON.stringify(language)}: ${fmt(r)}`);
      expectError(r, 400);
    });
  }
  c.done();
});

t('list: the caller\'s own, newest first; another account sees only its own', async () => {
  const bBox = await createBox(server, B, { runtime: 'shell', label: 'b-box' });
  let r = await api('GET', '/sandboxes');
  assert.equal(r.status, 200, fmt(r));
  assert.ok(Array.isArray(r.json), fmt(r));
  const ids = r.json.map((x) => x.id);
  for (const x of [py, node, shell]) assert.ok(ids.includes(x.id), `A's list lacks ${x.id}: ${fmt(r)}`);
  assert.ok(!ids.includes(bBox.id), `A's list shows another account's box: ${fmt(r)}`);
  const times = r.json.map((x) => Date.parse(x.created_at));
  for (let i = 1; i < times.length; i++) assert.ok(times[i - 1] >= times[i], `newest first: ${fmt(r)}`);
  const listedPy = r.json.find((x) => x.id === py.id);
  assert.equal(listedPy.status, 'running');
  assert.equal(listedPy.runtime, 'python');
  assert.equal(listedPy.label, 'py');

  r = await server.request('GET', '/sandboxes', { token: B });
  assert.equal(r.status, 200, fmt(r));
  assert.deepEqual(r.json.map((x) => x.id), [bBox.id]);
  assert.equal(r.json[0].label, 'b-box');

  // a second token of the same account sees the same boxes
  const tok = await api('POST', '/account/tokens', { body: { name: 'sbx-second' } });
  assert.equal(tok.status, 201, fmt(tok));
  r = await server.request('GET', '/sandboxes', { token: tok.json.token });
  assert.ok(r.json.some((x) => x.id === py.id), `a second PAT of the account sees its boxes: ${fmt(r)}`);

  await waitRunning(server, B, bBox.id);
  const d = await server.request('DELETE', `/sandboxes/${bBox.id}`, { token: B });
  assert.equal(d.status, 200, fmt(d));
});

t("another account's sandbox is 404 for GET, DELETE, exec and files, and survives", async () => {
  const bBox = await runningBox(server, B, 'shell');
  const c = checks();
  await c.run(async () => expectError(await server.request('GET', `/sandboxes/${py.id}`, { token: B }), 404));
  await c.run(async () => expectError(await server.request('DELETE', `/sandboxes/${py.id}`, { token: B }), 404));
  await c.run(async () => expectError(await execRaw(server, B, py.id, { command: 'touch /app/pwned' }), 404));
  await c.run(async () => expectError(await server.request('GET', `/sandboxes/${py.id}/files/etc/hostname`, { token: B }), 404));
  await c.run(async () =>
    expectError(await server.request('PUT', `/sandboxes/${py.id}/files/app/pwned`, { token: B, body: { content: 'x' } }), 404),
  );
  // and the other way round: A cannot touch B's box
  await c.run(async () => expectError(await api('GET', `/sandboxes/${bBox.id}`), 404));
  await c.run(async () => expectError(await api('DELETE', `/sandboxes/${bBox.id}`), 404));
  await c.run(async () => expectError(await execRaw(server, A, bBox.id, { command: 'true' }), 404));
  c.done();
  const still = await api('GET', `/sandboxes/${py.id}`);
  assert.equal(still.json.status, 'running', fmt(still));
  const e = await exec(server, A, py.id, { command: 'test -e /app/pwned && echo present || echo absent' });
  assert.equal(e.stdout, 'absent\n');
  const bStill = await server.request('GET', `/sandboxes/${bBox.id}`, { token: B });
  assert.equal(bStill.json.status, 'running', fmt(bStill));
  assert.equal((await exec(server, B, bBox.id, { command: 'echo mine' })).stdout, 'mine\n');
  await server.request('DELETE', `/sandboxes/${bBox.id}`, { token: B });
});

t("a project's service_role key is refused on /sandboxes (403 from the host: owners are accounts)", async () => {
  const c = checks();
  await c.run(async () => expectError(await server.request('POST', '/sandboxes', { token: P, body: { runtime: 'python' } }), 403));
  await c.run(async () => expectError(await server.request('GET', '/sandboxes', { token: P }), 403));
  await c.run(async () => expectError(await server.request('GET', `/sandboxes/${py.id}`, { token: P }), 403));
  await c.run(async () => expectError(await execRaw(server, P, py.id, { command: 'true' }), 403));
  c.done();
  // The account's box is untouched.
  assert.equal((await exec(server, A, py.id, { code: 'print(3)' })).stdout, '3\n');
});

t('unknown sandbox → 404 on every route; no token → 401; anon key → 401/403', async () => {
  const c = checks();
  for (const id of ['sbx_doesnotexist0', 'sbx_', 'nothing', 'sbx_ABC']) {
    await c.run(async () => expectError(await api('GET', `/sandboxes/${id}`), 404));
    await c.run(async () => expectError(await api('DELETE', `/sandboxes/${id}`), 404));
    await c.run(async () => expectError(await execRaw(server, A, id, { command: 'true' }), 404));
    await c.run(async () => expectError(await api('GET', `/sandboxes/${id}/files/app/x`), 404));
    await c.run(async () => expectError(await api('PUT', `/sandboxes/${id}/files/app/x`, { body: { content: 'x' } }), 404));
  }
  await c.run(async () => expectError(await server.request('GET', '/sandboxes'), 401));
  await c.run(async () => expectError(await server.request('POST', '/sandboxes', { body: { runtime: 'shell' } }), 401));
  await c.run(async () => expectError(await server.request('GET', `/sandboxes/${py.id}`), 401));
  await c.run(async () => expectError(await server.request('POST', `/sandboxes/${py.id}/exec`, { body: { command: 'true' } }), 401));
  await c.run(async () => expectError(await server.request('GET', '/sandboxes', { token: 'alp_' + 'x'.repeat(40) }), 401));
  const { anon } = await makeProjectKey(server, 'sbx-anon');
  await c.run(async () => expectError(await server.request('GET', '/sandboxes', { token: anon }), [401, 403]));
  await c.run(async () => expectError(await server.request('POST', '/sandboxes', { token: anon, body: { runtime: 'shell' } }), [401, 403]));
  c.done();
});

t('create with bad input → 400 {error, detail}; nothing is created', async () => {
  const before = (await api('GET', '/sandboxes')).json.length;
  const c = checks();
  const raw = (body) => api('POST', '/sandboxes', { body, headers: { 'content-type': 'application/json' } });
  await c.run(async () => expectError(await raw('{"runtime":'), 400));
  await c.run(async () => expectError(await raw('not json'), 400));
  await c.run(async () => expectError(await raw('[]'), 400));
  await c.run(async () => expectError(await raw('"python"'), 400));
  for (const body of [
    {},
    { runtime: 'ruby' },
    { runtime: 'Python' },
    { runtime: '' },
    { runtime: 5 },
    { runtime: null },
    { runtime: ['python'] },
    { runtime: 'python', label: 5 },
    { runtime: 'python', label: { x: 1 } },
    { runtime: 'python', label: ['a'] },
  ]) {
    await c.run(async () => expectError(await api('POST', '/sandboxes', { body }), 400));
  }
  c.done();
  const after = (await api('GET', '/sandboxes')).json.length;
  assert.equal(after, before, 'a refused create made a sandbox');
});

t('at most 5 creating/running per owner: the 6th is 429, deleting one makes room, others unaffected', async () => {
  const C = makeAccount(server, 'cap');
  const made = [];
  for (let i = 0; i < 5; i++) made.push((await createBox(server, C, { runtime: 'shell', label: `cap-${i}` })).id);
  const r = await server.request('POST', '/sandboxes', { token: C, body: { runtime: 'shell' } });
  expectError(r, 429);
  assert.match(`${r.json.error} ${r.json.detail}`, /5/, `the message says the limit: ${fmt(r)}`);
  assert.match(`${r.json.error} ${r.json.detail}`, /sandbox/i, fmt(r));
  let list = await server.request('GET', '/sandboxes', { token: C });
  assert.equal(list.json.length, 5, `the refused create made nothing: ${fmt(list)}`);
  // another owner still creates
  const other = await createBox(server, B, { runtime: 'shell' });
  // delete one → room for one more
  await waitRunning(server, C, made[0]);
  const d = await server.request('DELETE', `/sandboxes/${made[0]}`, { token: C });
  assert.equal(d.status, 200, fmt(d));
  assert.equal(d.json.status, 'stopped');
  const again = await createBox(server, C, { runtime: 'shell' });
  made.push(again.id);
  expectError(await server.request('POST', '/sandboxes', { token: C, body: { runtime: 'python' } }), 429);
  list = await server.request('GET', '/sandboxes', { token: C });
  assert.equal(list.json.length, 6, 'the stopped one is still listed');
  assert.equal(list.json.filter((x) => x.status === 'stopped').length, 1, fmt(list));
  for (const id of made) await server.request('DELETE', `/sandboxes/${id}`, { token: C });
  await server.request('DELETE', `/sandboxes/${other.id}`, { token: B });
}, 90000);

// ---------------------------------------------------------------------------------------------
// exec

t('exec command: && chains, stdin, env, cwd (default /app)', async () => {
  let e = await exec(server, A, py.id, { command: 'echo a && echo b && false && echo never' });
  assert.deepEqual([e.stdout, e.exit_code], ['a\nb\n', 1]);
  e = await exec(server, A, shell.id, { command: 'tr a-z A-Z', stdin: 'hello stdin\n' });
  assert.equal(e.stdout, 'HELLO STDIN\n');
  e = await exec(server, A, py.id, { code: 'import sys; d = sys.stdin.buffer.read(); print(len(d), d.hex())', stdin: 'héllo' });
  assert.equal(e.stdout, '6 68c3a96c6c6f\n', 'stdin arrives as its UTF-8 bytes');
  e = await exec(server, A, shell.id, { command: 'cat; echo "<$(cat)>"', timeout_ms: 5000 });
  assert.equal(e.stdout, '<>\n', 'no stdin: an empty one (EOF at once)');
  e = await exec(server, A, py.id, { command: 'echo "$FOO|$BAR|$HOME"', env: { FOO: 'x', BAR: 'y z $(id)' } });
  assert.equal(e.stdout, 'x|y z $(id)|/home/user\n');
  e = await exec(server, A, node.id, { code: 'console.log(process.env.GREETING)', env: { GREETING: 'hi' } });
  assert.equal(e.stdout, 'hi\n');
  e = await exec(server, A, py.id, { command: 'pwd' });
  assert.equal(e.stdout, '/app\n');
  e = await exec(server, A, py.id, { command: 'pwd', cwd: '/tmp' });
  assert.equal(e.stdout, '/tmp\n');
  e = await exec(server, A, py.id, { code: 'import os; print(os.getcwd())', cwd: '/home/user' });
  assert.equal(e.stdout, '/home/user\n');
});

t('nonzero exit codes and stderr are reported', async () => {
  let e = await exec(server, A, shell.id, { command: 'echo out; echo err >&2; exit 3' });
  assert.deepEqual([e.stdout, e.stderr, e.exit_code, e.timed_out, e.out_of_memory], ['out\n', 'err\n', 3, false, false]);
  e = await exec(server, A, py.id, { code: '1/0' });
  assert.equal(e.exit_code, 1);
  assert.match(e.stderr, /ZeroDivisionError/);
  e = await exec(server, A, node.id, { code: 'process.exit(42)' });
  assert.equal(e.exit_code, 42);
  e = await exec(server, A, shell.id, { command: 'kill -TERM $$' });
  assert.equal(e.exit_code, 128 + 15, 'killed by a signal: 128 + signal');
  e = await exec(server, A, shell.id, { command: 'no-such-command-xyz' });
  assert.equal(e.exit_code, 127);
  assert.match(e.stderr, /not found/);
});

t('exec bad input → 400: both/neither code and command, bad JSON, env, cwd, timeout_ms, stdin', async () => {
  const c = checks();
  const bad = [
    {},
    { code: 'print(1)', command: 'echo 1' },
    { code: 5 },
    { command: ['echo', '1'] },
    { command: null },
    { command: 'true', env: { A: 1 } },
    { command: 'true', env: ['A=1'] },
    { command: 'true', env: 'A=1' },
    { command: 'true', env: { 'A=B': 'x' } },
    { command: 'true', cwd: 'tmp' },
    { command: 'true', cwd: '' },
    { command: 'true', cwd: 5 },
    { command: 'true', timeout_ms: -1 },
    { command: 'true', timeout_ms: 'soon' },
    { command: 'true', timeout_ms: 1.5 },
    { command: 'true', stdin: 5 },
  ];
  for (const body of bad) await c.run(async () => expectError(await execRaw(server, A, py.id, body), 400));
  for (const text of ['{"command":', 'echo hi', '[]']) {
    await c.run(async () =>
      expectError(await api('POST', `/sandboxes/${py.id}/exec`, { body: text, headers: { 'content-type': 'application/json' } }), 400),
    );
  }
  c.done();
  const st = await api('GET', `/sandboxes/${py.id}`);
  assert.equal(st.json.status, 'running', fmt(st));
});

t('timeout: sleep 30 with timeout_ms 500 → timed_out, exit 137, a line on stderr, fast; the tree is killed', async () => {
  const e = await exec(server, A, shell.id, { command: 'sleep 30', timeout_ms: 500 });
  assert.equal(e.timed_out, true, JSON.stringify(e.res.json));
  assert.equal(e.exit_code, 137);
  assert.equal(e.out_of_memory, false);
  assert.ok(e.stderr.length > 0, 'a line on stderr says it timed out');
  assert.match(e.stderr, /time/i);
  assert.ok(e.wall < 5000, `returned after ${Math.round(e.wall)} ms`);
  assert.ok(e.duration_ms >= 450 && e.duration_ms < 5000, `duration_ms ${e.duration_ms}`);
  // a tree: children in the background and a grandchild in its own session
  const e2 = await exec(server, A, shell.id, {
    command: 'sleep 4242 & (setsid sleep 4243 &) ; echo started; sleep 30',
    timeout_ms: 700,
  });
  assert.equal(e2.timed_out, true);
  assert.equal(e2.stdout, 'started\n', 'output before the timeout is kept');
  const ps = await sh(server, A, shell.id, 'cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" " "; echo');
  assert.ok(!/sleep 424[23]/.test(ps), `processes of the timed-out exec still run: ${ps}`);
});

t('several execs run at once in one sandbox', async () => {
  const t0 = performance.now();
  const rs = await Promise.all(
    [1, 2, 3, 4].map((i) => exec(server, A, shell.id, { command: `sleep 3; echo done-${i}` })),
  );
  const wall = performance.now() - t0;
  rs.forEach((r, i) => assert.deepEqual([r.stdout, r.exit_code], [`done-${i + 1}\n`, 0]));
  assert.ok(wall < 9000, `4 × sleep 3 took ${Math.round(wall)} ms: not concurrent (12 s one after another)`);
  // one exec sees another's file while both run
  const [w, rd] = await Promise.all([
    exec(server, A, shell.id, { command: 'echo ping > /tmp/pp; sleep 1; cat /tmp/pq' }),
    exec(server, A, shell.id, { command: 'for i in $(seq 50); do [ -e /tmp/pp ] && break; sleep 0.05; done; cat /tmp/pp; echo pong > /tmp/pq' }),
  ]);
  assert.equal(rd.stdout, 'ping\n');
  assert.equal(w.stdout, 'pong\n');
});

t('exec, files and DELETE on a stopped sandbox: DELETE 200 stopped (idempotent), the rest 409', async () => {
  const b = await runningBox(server, A, 'shell', 'to-stop');
  await sh(server, A, b.id, 'echo x > /app/f');
  let d = await api('DELETE', `/sandboxes/${b.id}`);
  assert.equal(d.status, 200, fmt(d));
  assert.equal(d.json.id, b.id);
  assert.equal(d.json.status, 'stopped');
  d = await api('DELETE', `/sandboxes/${b.id}`);
  assert.equal(d.status, 200, fmt(d));
  assert.equal(d.json.status, 'stopped');
  const g = await api('GET', `/sandboxes/${b.id}`);
  assert.equal(g.json.status, 'stopped', fmt(g));
  let r = await execRaw(server, A, b.id, { command: 'echo hi' });
  expectError(r, 409);
  assert.match(String(r.json.detail), /stopped/, fmt(r));
  r = await api('GET', `/sandboxes/${b.id}/files/app/f`);
  expectError(r, 409);
  r = await api('PUT', `/sandboxes/${b.id}/files/app/g`, { body: { content: 'x' } });
  expectError(r, 409);
  const list = await api('GET', '/sandboxes');
  assert.equal(list.json.find((x) => x.id === b.id)?.status, 'stopped', fmt(list));
});

// ---------------------------------------------------------------------------------------------
// files

t('files: PUT {content} then exec python3 /app/script.py (the spec example)', async () => {
  const content = "import json\ndata = {'result': 42}\nprint(json.dumps(data))";
  const r = await api('PUT', `/sandboxes/${py.id}/files/app/script.py`, { body: { content } });
  assert.equal(r.status, 201, fmt(r));
  assert.deepEqual(r.json, { path: '/app/script.py', size: Buffer.byteLength(content) });
  const e = await exec(server, A, py.id, { command: 'python3 /app/script.py' });
  assert.deepEqual([e.stdout, e.exit_code], ['{"result": 42}\n', 0]);
  // overwrite replaces the whole file
  const r2 = await api('PUT', `/sandboxes/${py.id}/files/app/script.py`, { body: { content: 'print(7)' } });
  assert.equal(r2.status, 201, fmt(r2));
  assert.equal((await exec(server, A, py.id, { command: 'python3 /app/script.py' })).stdout, '7\n');
  const g = await api('GET', `/sandboxes/${py.id}/files/app/script.py`);
  assert.equal(g.text, 'print(7)');
});

t('files: raw bytes (all 256 values) round-trip byte-exact; JSON views in utf-8 and base64', async () => {
  const bytes = Buffer.alloc(1024);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 8)) & 0xff;
  for (let i = 0; i < 256; i++) bytes[i] = i;
  let r = await api('PUT', `/sandboxes/${py.id}/files/app/bin/all.bin`, {
    body: bytes,
    headers: { 'content-type': 'application/octet-stream' },
  });
  assert.equal(r.status, 201, fmt(r));
  assert.deepEqual(r.json, { path: '/app/bin/all.bin', size: 1024 });
  // raw GET, byte-exact (read as binary, not through utf-8)
  const got = await getBytes(server, A, `/sandboxes/${py.id}/files/app/bin/all.bin`);
  assert.equal(got.status, 200);
  assert.match(String(got.headers['content-type']), /application\/octet-stream/);
  assert.equal(got.body.length, 1024);
  assert.ok(got.body.equals(bytes), 'raw GET is byte-exact');
  // the box sees the same bytes
  const e = await exec(server, A, py.id, {
    code: "import hashlib; d = open('/app/bin/all.bin','rb').read(); print(len(d), hashlib.sha256(d).hexdigest())",
  });
  assert.equal(e.stdout, `1024 ${crypto.createHash('sha256').update(bytes).digest('hex')}\n`);
  // JSON view: base64 for non-UTF-8 bytes, with ?format=json and with Accept
  for (const opts of [{ q: '?format=json', headers: {} }, { q: '', headers: { accept: 'application/json' } }]) {
    r = await api('GET', `/sandboxes/${py.id}/files/app/bin/all.bin${opts.q}`, { headers: opts.headers });
    assert.equal(r.status, 200, fmt(r));
    assert.match(String(r.headers['content-type']), /application\/json/);
    assert.equal(r.json.path, '/app/bin/all.bin');
    assert.equal(r.json.encoding, 'base64');
    assert.equal(r.json.size, 1024);
    assert.ok(Buffer.from(r.json.content, 'base64').equals(bytes), 'base64 content decodes to the bytes');
  }
  // utf-8 text
  const text = 'héllo ✓ 🦙\nline 2\n';
  r = await api('PUT', `/sandboxes/${py.id}/files/app/text.txt`, { body: { content: text } });
  assert.equal(r.status, 201, fmt(r));
  assert.equal(r.json.size, Buffer.byteLength(text));
  r = await api('GET', `/sandboxes/${py.id}/files/app/text.txt?format=json`);
  assert.deepEqual(r.json, { path: '/app/text.txt', content: text, encoding: 'utf-8', size: Buffer.byteLength(text) });
  // PUT JSON with base64
  const b64 = Buffer.from([0, 1, 2, 250, 255, 10]);
  r = await api('PUT', `/sandboxes/${py.id}/files/tmp/b64.bin`, { body: { content: b64.toString('base64'), encoding: 'base64' } });
  assert.equal(r.status, 201, fmt(r));
  assert.deepEqual(r.json, { path: '/tmp/b64.bin', size: 6 });
  const got2 = await getBytes(server, A, `/sandboxes/${py.id}/files/tmp/b64.bin`);
  assert.ok(got2.body.equals(b64), 'base64 PUT wrote the decoded bytes');
  // an empty file
  r = await api('PUT', `/sandboxes/${py.id}/files/app/empty`, { body: Buffer.alloc(0), headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(r.status, 201, fmt(r));
  assert.equal(r.json.size, 0);
  const got3 = await getBytes(server, A, `/sandboxes/${py.id}/files/app/empty`);
  assert.equal(got3.status, 200);
  assert.equal(got3.body.length, 0);
});

t('files: parent directories are made; files the code wrote are readable; /home/user and /tmp work', async () => {
  let r = await api('PUT', `/sandboxes/${shell.id}/files/app/a/b/c/d.txt`, { body: { content: 'deep' } });
  assert.equal(r.status, 201, fmt(r));
  assert.equal(r.json.path, '/app/a/b/c/d.txt');
  assert.equal(await sh(server, A, shell.id, 'cat /app/a/b/c/d.txt; test -d /app/a/b && echo " dir"'), 'deep dir\n');
  await sh(server, A, shell.id, "printf 'from code' > /home/user/out.txt");
  r = await api('GET', `/sandboxes/${shell.id}/files/home/user/out.txt`);
  assert.equal(r.status, 200, fmt(r));
  assert.equal(r.text, 'from code');
  r = await api('PUT', `/sandboxes/${shell.id}/files/tmp/x/y.txt`, { body: { content: 'tmp' } });
  assert.equal(r.status, 201, fmt(r));
  assert.equal(await sh(server, A, shell.id, 'cat /tmp/x/y.txt'), 'tmp');
  // the box user owns what the API wrote
  assert.equal(await sh(server, A, shell.id, 'stat -c %u /app/a/b/c/d.txt'), '1000\n');
});

t('files errors: missing 404, directory 400, read-only 403, bad paths and bodies 400', async () => {
  const c = checks();
  await c.run(async () => expectError(await api('GET', `/sandboxes/${py.id}/files/app/nope.txt`), 404));
  await c.run(async () => expectError(await api('GET', `/sandboxes/${py.id}/files/app/nodir/nope.txt`), 404));
  await c.run(async () => expectError(await api('GET', `/sandboxes/${py.id}/files/app`), 400));
  await c.run(async () => expectError(await api('GET', `/sandboxes/${py.id}/files/app/`), 400));
  await c.run(async () => expectError(await api('GET', `/sandboxes/${py.id}/files/tmp`), 400));
  await c.run(async () => expectError(await api('PUT', `/sandboxes/${py.id}/files/usr/evil`, { body: { content: 'x' } }), 403));
  await c.run(async () => expectError(await api('PUT', `/sandboxes/${py.id}/files/evil-at-root`, { body: { content: 'x' } }), 403));
  await c.run(async () => expectError(await api('PUT', `/sandboxes/${py.id}/files/app`, { body: { content: 'x' } }), 400));
  for (const p of ['app/../etc/x', 'app/a/../../x', 'proc/self/environ', 'sys/kernel/x', 'dev/null', 'app/%00x']) {
    await c.run(async () => expectError(await api('PUT', `/sandboxes/${py.id}/files/${p}`, { body: { content: 'x' } }), 400));
  }
  const bodies = [
    { content: 5 },
    { content: 'x', encoding: 'hex' },
    { content: '!!!not base64!!!', encoding: 'base64' },
    { nope: 'x' },
  ];
  for (const body of bodies) await c.run(async () => expectError(await api('PUT', `/sandboxes/${py.id}/files/app/bad.txt`, { body }), 400));
  await c.run(async () =>
    expectError(await api('PUT', `/sandboxes/${py.id}/files/app/bad.txt`, { body: '{"content":', headers: { 'content-type': 'application/json' } }), 400),
  );
  c.done();
  const e = await exec(server, A, py.id, { command: 'ls /app/bad.txt /usr/evil /evil-at-root 2>&1; true' });
  assert.doesNotMatch(e.stdout, /^\/(app\/bad\.txt|usr\/evil|evil-at-root)$/m, `a refused PUT wrote a file: ${e.stdout}`);
});

// ---------------------------------------------------------------------------------------------
// the small server: exec rate limit, output cap, file size cap, full disk

t('exec rate limit (exec_per_minute 5): the 6th exec in a minute is 429, other sandboxes unaffected', async () => {
  const S = small.adminToken;
  const [r1, r2] = await Promise.all([runningBox(small, S, 'shell'), runningBox(small, S, 'shell')]);
  for (let i = 0; i < 5; i++) assert.equal((await exec(small, S, r1.id, { command: `echo ${i}` })).stdout, `${i}\n`);
  const r = await execRaw(small, S, r1.id, { command: 'echo 6' });
  expectError(r, 429);
  assert.ok(r.json.detail || /minute|rate|limit/i.test(r.json.error), fmt(r));
  assert.equal((await exec(small, S, r2.id, { command: 'echo other' })).stdout, 'other\n');
  const st = await small.request('GET', `/sandboxes/${r1.id}`, { token: S });
  assert.equal(st.json.status, 'running', 'a rate-limited sandbox keeps running');
  // files are not execs
  const f = await small.request('PUT', `/sandboxes/${r1.id}/files/app/x`, { token: S, body: { content: 'y' } });
  assert.equal(f.status, 201, fmt(f));
  await small.request('DELETE', `/sandboxes/${r1.id}`, { token: S });
});

t('output cap (output_limit 1000): stdout/stderr cut at exactly the limit, truncated; at the limit not truncated', async () => {
  const S = small.adminToken;
  const o = await runningBox(small, S, 'shell');
  let e = await exec(small, S, o.id, { command: 'yes | head -c 1000000' });
  assert.equal(e.truncated, true);
  assert.equal(e.exit_code, 0);
  assert.equal(Buffer.byteLength(e.stdout), 1000);
  assert.equal(e.stdout, 'y\n'.repeat(500));
  e = await exec(small, S, o.id, { command: 'yes err | head -c 50000 >&2; echo fine' });
  assert.equal(e.truncated, true);
  assert.equal(Buffer.byteLength(e.stderr), 1000);
  assert.equal(e.stdout, 'fine\n');
  e = await exec(small, S, o.id, { command: "head -c 1000 /dev/zero | tr '\\0' a" });
  assert.equal(e.truncated, false, 'exactly the limit is not beyond it');
  assert.equal(e.stdout, 'a'.repeat(1000));
  e = await exec(small, S, o.id, { command: "head -c 999 /dev/zero | tr '\\0' b" });
  assert.deepEqual([e.truncated, e.stdout.length], [false, 999]);
  await small.request('DELETE', `/sandboxes/${o.id}`, { token: S });
});

t('file size cap (max_file_bytes 4096) → 413 both ways; a full disk (disk_mb 8) → 507', async () => {
  const S = small.adminToken;
  const f = await runningBox(small, S, 'shell');
  const put = (p, n) =>
    small.request('PUT', `/sandboxes/${f.id}/files/${p}`, { token: S, body: Buffer.alloc(n, 0x61), headers: { 'content-type': 'application/octet-stream' } });
  let r = await put('app/ok.bin', 4096);
  assert.equal(r.status, 201, fmt(r));
  assert.equal(r.json.size, 4096);
  expectError(await put('app/big.bin', 4097), 413);
  expectError(await small.request('PUT', `/sandboxes/${f.id}/files/app/big.json`, { token: S, body: { content: 'a'.repeat(5000) } }), 413);
  // a file bigger than the cap, made inside, cannot be read through the API
  let e = await exec(small, S, f.id, { command: 'head -c 5000 /dev/zero > /app/made.bin && ls -l /app/made.bin' });
  assert.equal(e.exit_code, 0, e.stderr);
  expectError(await small.request('GET', `/sandboxes/${f.id}/files/app/made.bin`, { token: S }), 413);
  e = await exec(small, S, f.id, { command: 'test -e /app/big.bin && echo present || echo absent' });
  assert.equal(e.stdout, 'absent\n', 'a refused upload leaves no file');
  // fill /tmp (8 MB), then a write there is 507
  e = await exec(small, S, f.id, { command: 'dd if=/dev/zero of=/tmp/fill bs=1M count=50' });
  assert.notEqual(e.exit_code, 0, 'dd into an 8 MB tmpfs fails');
  assert.match(e.stderr, /No space left on device/);
  expectError(await put('tmp/more.bin', 4000), 507);
  r = await small.request('GET', `/sandboxes/${f.id}`, { token: S });
  assert.equal(r.json.status, 'running', fmt(r));
  await small.request('DELETE', `/sandboxes/${f.id}`, { token: S });
});

t('network false: the box has only its own loopback (no interface, no route; lookups only, no traffic)', async () => {
  const S = small.adminToken;
  const b = await runningBox(small, S, 'python');
  assert.equal(b.limits?.network, false, `limits.network: ${JSON.stringify(b.limits)}`);
  const e = await exec(small, S, b.id, {
    code: [
      'import socket, json',
      "ifaces = sorted(l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:])",
      "routes = open('/proc/net/route').read().splitlines()[1:]",
      'def udp(a):',
      '    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
      '    try:',
      '        s.connect((a, 53)); return "routed"',
      '    except OSError as e:',
      '        return "E%d" % e.errno',
      'l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()',
      'c = socket.create_connection(("127.0.0.1", l.getsockname()[1]), timeout=2)',
      'print(json.dumps({"ifaces": ifaces, "routes": routes, "public": udp("1.1.1.1"), "gw": udp("10.0.2.2"), "lo": "ok"}))',
    ].join('\n'),
  });
  assert.equal(e.exit_code, 0, e.stderr);
  const r = JSON.parse(e.stdout);
  assert.deepEqual(r.ifaces, ['lo'], `interfaces: ${e.stdout}`);
  assert.deepEqual(r.routes, [], `routes: ${e.stdout}`);
  assert.equal(r.public, 'E101', 'ENETUNREACH for a public address');
  assert.equal(r.gw, 'E101', 'no slirp gateway');
  assert.equal(r.lo, 'ok');
  await small.request('DELETE', `/sandboxes/${b.id}`, { token: S });
});

// ---------------------------------------------------------------------------------------------
// TTL

t('TTL (ttl_seconds 3): expires_at = created_at + 3 s, then status expired and exec/files 409', async () => {
  const T = ttl.adminToken;
  const b = await createBox(ttl, T, { runtime: 'shell' });
  assert.equal(Math.round((Date.parse(b.expires_at) - Date.parse(b.created_at)) / 1000), 3, JSON.stringify(b));
  const t0 = performance.now();
  const done = await waitStatus(ttl, T, b.id, 'expired', 20000);
  assert.equal(done.id, b.id);
  const waited = performance.now() - t0;
  assert.ok(waited < 15000, `expired after ${Math.round(waited)} ms`);
  let r = await execRaw(ttl, T, b.id, { command: 'echo hi' });
  expectError(r, 409);
  assert.match(String(r.json.detail), /expired/, fmt(r));
  r = await ttl.request('GET', `/sandboxes/${b.id}/files/app/x`, { token: T });
  expectError(r, 409);
  const list = await ttl.request('GET', '/sandboxes', { token: T });
  assert.equal(list.json.find((x) => x.id === b.id)?.status, 'expired', fmt(list));
  // an expired box no longer counts towards the cap
  const made = [];
  for (let i = 0; i < 5; i++) made.push((await createBox(ttl, T, { runtime: 'shell' })).id);
  assert.equal(made.length, 5);
});

// raw GET as bytes (harness.request decodes as utf-8)
function getBytes(srv, token, p) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: srv.port, path: p, method: 'GET', headers: { authorization: `Bearer ${token}` }, agent: false, timeout: 15000 },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${p}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}
