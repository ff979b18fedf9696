// The alpaca.isolation C interface (sdk/include/alpaca/isolation.h) as a third-party plugin sees
// it: tests/plugins/isolation_client.c, plain C built against the SDK header only, depends on
// "sandboxes", takes the interface in start() and exposes each call under /isolation-probe
// (management scope). Through it: exec (stdout, stderr, exit codes, stdin, env, cwd, timeouts,
// output cap, bad commands), read-only and read-write mounts, file round trips and file errors,
// spawn (log file, exit status, stop), expose_port (a spawned http.server reached from here, gone
// after process_stop, refused without network), the spec's limits (memory, pids, cpu, disk),
// structs larger than this header's, concurrent calls, box_destroy leaving no process, cgroup or
// port behind, and the plugin's stop destroying its boxes at server shutdown.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  disposeServer,
  fmt,
  makeTempDir,
  randomHex,
  removeDir,
  request,
  sandboxesPlugin,
  sleep,
  startServer,
  stopServer,
  testPluginDir,
  waitForOutput,
  withLogs,
  checks,
} from './harness.mjs';
import { cgroupDirsMatching, hostProcesses, isPostgres } from './sandboxes-helpers.mjs';

const isolationClientPlugin = process.env.ALPACA_ISOLATION_CLIENT_PLUGIN || path.join(testPluginDir, 'isolation_client.so');
const PLUGINS = `${sandboxesPlugin},${isolationClientPlugin}`;

let server;
let mountDir; // read-only into boxes at /data
let rwDir; // read-write into one box at /rw
const mountedText = `mounted content ${randomHex(6)}`;
let box; // a default box most tests share (id in the plugin's table)

before(async () => {
  mountDir = makeTempDir('alpaca-iso-ro-');
  fs.writeFileSync(path.join(mountDir, 'input.txt'), mountedText + '\n', { mode: 0o644 });
  rwDir = makeTempDir('alpaca-iso-rw-');
  fs.chmodSync(rwDir, 0o777); // the box's user is an unprivileged host uid
  server = await startServer({ plugins: PLUGINS });
  box = await newBox();
});
after(async () => {
  await disposeServer(server);
  removeDir(mountDir);
  removeDir(rwDir);
});

const t = (name, fn, timeout = 60000) => test(name, { timeout }, withLogs(() => server, fn));

// ---------------------------------------------------------------------------------------------
// the plugin's routes

const qs = (params) =>
  Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');

/** argv / env arrays as the plugin's a0.. / e0.. query parameters. */
function commandParams({ argv = [], env = [], ...rest } = {}) {
  const p = {};
  argv.forEach((a, i) => (p[`a${i}`] = a));
  env.forEach((e, i) => (p[`e${i}`] = e));
  return { ...p, ...rest };
}

/** POST /isolation-probe/boxes → the box's id (asserted 201). mounts: ["host:box[:rw]"]. */
async function newBox({ mounts = [], ...opts } = {}, srv = server) {
  const p = { ...opts };
  mounts.forEach((m, i) => (p[`m${i}`] = m));
  const r = await srv.api('POST', `/isolation-probe/boxes?${qs(p)}`, { timeoutMs: 60000 });
  assert.equal(r.status, 201, fmt(r));
  assert.ok(Number.isInteger(r.json.id) && r.json.id > 0, fmt(r));
  assert.equal(r.json.alive, true, `box_alive right after box_start: ${fmt(r)}`);
  return r.json.id;
}

function destroyBox(id, srv = server) {
  return srv.api('DELETE', `/isolation-probe/boxes/${id}`, { timeoutMs: 30000 });
}

/** exec: the raw response. cmd: {argv, env, cwd, timeout_ms, output_limit, big, stdin}. */
function execRaw(id, { stdin, ...cmd }, srv = server) {
  return srv.api('POST', `/isolation-probe/boxes/${id}/exec?${qs(commandParams(cmd))}`, {
    body: stdin ?? '',
    headers: { 'content-type': 'application/octet-stream' },
    timeoutMs: 90000,
  });
}

const EXEC_KEYS = ['exit_code', 'timed_out', 'out_of_memory', 'truncated', 'duration_ms', 'stdout', 'stderr'];

/** exec asserting 200 and the result's shape; returns the result. */
async function run(id, cmd, srv = server) {
  const r = await execRaw(id, cmd, srv);
  assert.equal(r.status, 200, `exec ${JSON.stringify(cmd).slice(0, 300)}: ${fmt(r)}`);
  for (const k of EXEC_KEYS) assert.ok(k in r.json, `exec result lacks ${k}: ${fmt(r)}`);
  assert.equal(r.json.canary_intact, true, `exec wrote past alpaca_isolation_result: ${fmt(r)}`);
  return r.json;
}

/** sh -c script that must exit 0; returns stdout. */
async function sh(id, script, extra = {}) {
  const r = await run(id, { argv: ['sh', '-c', script], ...extra });
  assert.equal(r.exit_code, 0, `${script}: exit ${r.exit_code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

function putFile(id, p, content) {
  return server.api('PUT', `/isolation-probe/boxes/${id}/files?${qs({ path: p })}`, {
    body: Buffer.isBuffer(content) ? content : Buffer.from(content),
    headers: { 'content-type': 'application/octet-stream' },
  });
}

/** read_file → { status, buf, res } (buf = raw bytes on 200). */
async function getFile(id, p, max) {
  const res = await server.api('GET', `/isolation-probe/boxes/${id}/files?${qs({ path: p, max })}`);
  return { status: res.status, text: res.text, res };
}

async function spawnIn(id, cmd, log) {
  const r = await server.api('POST', `/isolation-probe/boxes/${id}/spawn?${qs(commandParams({ ...cmd, log }))}`);
  assert.equal(r.status, 200, fmt(r));
  assert.ok(Number.isInteger(r.json.handle) && r.json.handle > 0, fmt(r));
  return r.json.handle;
}

async function processState(id, handle) {
  const r = await server.api('GET', `/isolation-probe/boxes/${id}/processes/${handle}`);
  assert.equal(r.status, 200, fmt(r));
  return r.json;
}

async function waitProcessEnded(id, handle, timeoutMs = 15000) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const s = await processState(id, handle);
    if (s.running !== 1) return s;
    if (performance.now() > deadline) assert.fail(`process ${handle} still running after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** GET http://127.0.0.1:port/p from the test process: { status, text } or { error }. */
async function fetchHost(port, p) {
  try {
    const r = await request(`http://127.0.0.1:${port}`, 'GET', p, { timeoutMs: 5000 });
    return { status: r.status, text: r.text };
  } catch (e) {
    return { error: e.message };
  }
}

/**
 * Whether pid runs and is not on its way out: not a zombie, and not exiting (PF_EXITING). A box's
 * killed pid-1 waits in the kernel until every process of its pid namespace is reaped, and the
 * orphans are reaped by the host's init, which may take a moment; those count as gone here (the
 * test below also waits for them to leave /proc altogether).
 */
function isLive(pid, start) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (start !== undefined && rest[19] !== start) return false;
    return !['Z', 'X', 'x'].includes(rest[0]) && (Number(rest[6]) & 0x4) === 0;
  } catch {
    return false;
  }
}

/** The live processes on the host whose cmdline or cgroup names one of the strings. */
function processesNaming(strings) {
  return hostProcesses().filter(
    (p) =>
      p.pid !== process.pid &&
      !isPostgres(p) &&
      strings.some((s) => p.cmdline.includes(s) || p.cgroup.includes(s)) &&
      isLive(p.pid, p.start),
  );
}

const describe = (ps) => ps.map((p) => `${p.pid} (ppid ${p.ppid}) ${p.comm}: ${p.cmdline.slice(0, 160)}`).join('\n  ');

/** Whether p (same pid and start time) is still in /proc, zombie or not. */
function stillRunningOrZombie(p) {
  try {
    const stat = fs.readFileSync(`/proc/${p.pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] === p.start;
  } catch {
    return false;
  }
}

/** The sandboxes box id (iso_…) of a host process, from its cgroup path. */
function boxIdOf(p) {
  const m = /\/(iso_\d+_\d+)(\/|$)/m.exec(p.cgroup);
  return m ? m[1] : null;
}

async function waitNoProcesses(strings, ms = 10000) {
  const deadline = performance.now() + ms;
  for (;;) {
    const left = processesNaming(strings);
    if (!left.length || performance.now() > deadline) return left;
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------------------------
// the interface

t('interface: the isolation_client plugin loaded after sandboxes and got alpaca.isolation v1 with the whole table; v2 is not handed out', async () => {
  const r = await server.api('GET', '/isolation-probe/info');
  assert.equal(r.status, 200, fmt(r));
  assert.ok(r.json.known_size >= 13 * 8, fmt(r));
  assert.ok(r.json.struct_size >= r.json.known_size, `table smaller than the header's: ${fmt(r)}`);
  assert.equal(r.json.newer_version_refused, true, fmt(r));
  // Management scope: no token, no route.
  const anon = await server.request('GET', '/isolation-probe/info');
  assert.equal(anon.status, 401, fmt(anon));
});

t('run: the whole flow in C (mount, write_file, exec with stdin/env, read_file, spawn http.server, poll, expose_port) and the page is served on 127.0.0.1:<host_port>', async () => {
  const marker = `m${randomHex(6)}`;
  const r = await server.api('POST', `/isolation-probe/run?${qs({ mount: mountDir, marker })}`, { timeoutMs: 90000 });
  assert.equal(r.status, 200, fmt(r));
  const j = r.json;
  assert.equal(j.exec.exit_code, 3, `x.py exits 3: ${fmt(r)}`);
  assert.equal(j.exec.timed_out, false, fmt(r));
  assert.equal(j.exec.out_of_memory, false, fmt(r));
  assert.equal(j.exec.stdout, `stdin=piped in\nenv=hello from C\nmounted=${mountedText}\ncwd=/app\n`, fmt(r));
  assert.equal(j.exec.stderr, '', fmt(r));
  assert.equal(j.out_file, 'upper:PIPED IN', fmt(r));
  assert.ok(j.polls >= 1 && j.polls <= 100, fmt(r));
  assert.ok(Number.isInteger(j.host_port) && j.host_port > 0 && j.host_port !== server.port, fmt(r));
  try {
    // Reached from outside the box, over the exposed port.
    const page = await fetchHost(j.host_port, '/hello.txt');
    assert.deepEqual(page, { status: 200, text: `hello from ${marker}\n` });
    const missing = await fetchHost(j.host_port, '/nope.txt');
    assert.equal(missing.status, 404, JSON.stringify(missing));
    // http.server logs its requests (stderr) into the spawn's log file in the box.
    let log = '';
    for (let i = 0; i < 50 && !log.includes('"GET /nope.txt HTTP/1.1" 404'); i++) {
      const f = await getFile(j.id, j.log);
      assert.equal(f.status, 200, fmt(f.res));
      log = f.text;
      await sleep(100);
    }
    assert.match(log, /Serving HTTP on 0\.0\.0\.0 port 8080/, log);
    assert.match(log, /"GET \/hello\.txt HTTP\/1\.1" 200/, log);
    assert.match(log, /"GET \/nope\.txt HTTP\/1\.1" 404/, log);
    assert.deepEqual(await processState(j.id, j.handle), { running: 1, exit_code: -12345 });
    // process_stop: the server is gone and the port no longer serves.
    const stop = await server.api('DELETE', `/isolation-probe/boxes/${j.id}/processes/${j.handle}`);
    assert.equal(stop.status, 200, fmt(stop));
    assert.notEqual((await processState(j.id, j.handle)).running, 1, 'process_running after process_stop');
    const after = await fetchHost(j.host_port, '/hello.txt');
    assert.ok(after.error || after.status !== 200, `still served after process_stop: ${JSON.stringify(after)}`);
    assert.deepEqual(processesNaming([`site-${marker}`]), [], 'http.server process left after process_stop');
    // The box itself is still fine.
    assert.equal(await sh(j.id, 'echo still here'), 'still here\n');
  } finally {
    const d = await destroyBox(j.id);
    assert.equal(d.status, 200, fmt(d));
  }
});

t('run: a missing mount source fails box_start with a message (422 from the plugin), and leaves nothing behind', async () => {
  const marker = `m${randomHex(6)}`;
  const r = await server.api('POST', `/isolation-probe/run?${qs({ mount: `/nonexistent-${marker}`, marker })}`, {
    timeoutMs: 60000,
  });
  assert.equal(r.status, 422, fmt(r));
  assert.equal(r.json.error, 'box_start failed', fmt(r));
  assert.ok(r.json.detail.length > 0 && r.json.detail !== '(no message)', fmt(r));
  assert.deepEqual(await waitNoProcesses([marker], 5000), []);
});

// ---------------------------------------------------------------------------------------------
// exec

t('exec: stdout and stderr apart, exit code, stdin, env added to the defaults, cwd (default /app), uid 1000', async () => {
  const r = await run(box, {
    argv: ['python3', '-c', 'import os,sys; d=sys.stdin.read(); print("in:"+d); print("err-line", file=sys.stderr); print(os.environ["A"], os.environ["B"], os.environ.get("HOME"), os.getcwd(), os.getuid()); sys.exit(5)'],
    env: ['A=alpha', 'B=with spaces = and equals'],
    stdin: 'über\nzwei',
  });
  assert.equal(r.exit_code, 5, JSON.stringify(r));
  assert.equal(r.stdout, 'in:über\nzwei\nalpha with spaces = and equals /home/user /app 1000\n');
  assert.equal(r.stderr, 'err-line\n');
  assert.equal(r.timed_out, false);
  assert.equal(r.out_of_memory, false);
  assert.equal(r.truncated, false);
  assert.ok(Number.isInteger(r.duration_ms) && r.duration_ms >= 0 && r.duration_ms < 30000, JSON.stringify(r));
  assert.equal(await sh(box, 'pwd', { cwd: '/tmp' }), '/tmp\n');
  // No stdin: the process sees EOF at once.
  assert.equal(await sh(box, 'wc -c'), '0\n');
  // Large stdin goes through whole.
  const big = crypto.randomBytes(300 * 1024).toString('hex'); // 600 KiB
  const h = await sh(box, 'sha256sum | cut -d" " -f1', { stdin: big });
  assert.equal(h.trim(), crypto.createHash('sha256').update(big).digest('hex'));
});

t('exec: exit codes — 0, 42, killed by a signal = 128 + signal, program not found', async () => {
  assert.equal((await run(box, { argv: ['true'] })).exit_code, 0);
  assert.equal((await run(box, { argv: ['sh', '-c', 'exit 42'] })).exit_code, 42);
  assert.equal((await run(box, { argv: ['sh', '-c', 'kill -9 $$'] })).exit_code, 137);
  assert.equal((await run(box, { argv: ['sh', '-c', 'kill -15 $$'] })).exit_code, 143);
  const nf = await execRaw(box, { argv: ['no-such-program-xyz'] });
  // Either way it is reported, not a hang or a 0.
  if (nf.status === 200) assert.equal(nf.json.exit_code, 127, fmt(nf));
  else assert.equal(nf.status, 422, fmt(nf));
});

t('exec: timeout_ms kills the process tree (timed_out, 137) and returns promptly; leftovers are killed when exec returns', async () => {
  const marker = `77${Math.floor(Math.random() * 1e6)}`;
  const r = await run(box, { argv: ['sh', '-c', `sleep 1${marker} & sleep 2${marker}`], timeout_ms: 700 });
  assert.equal(r.timed_out, true, JSON.stringify(r));
  assert.equal(r.exit_code, 137, JSON.stringify(r));
  assert.ok(r.duration_ms >= 600 && r.duration_ms < 5000, JSON.stringify(r));
  assert.deepEqual(await waitNoProcesses([`sleep 1${marker}`, `sleep 2${marker}`], 5000), []);
  // A background process of an exec that returns normally is killed too.
  const bg = await run(box, { argv: ['sh', '-c', `sleep 3${marker} & echo started`] });
  assert.equal(bg.exit_code, 0);
  assert.equal(bg.stdout, 'started\n');
  assert.deepEqual(await waitNoProcesses([`sleep 3${marker}`], 5000), []);
});

t('exec: output_limit caps each stream (truncated) and the process still completes', async () => {
  const r = await run(box, {
    argv: ['python3', '-c', 'import sys; sys.stdout.write("x"*100000); sys.stderr.write("y"*50); print("", end="")'],
    output_limit: 1000,
  });
  assert.equal(r.exit_code, 0);
  assert.equal(r.truncated, true);
  assert.equal(r.stdout, 'x'.repeat(1000));
  assert.equal(r.stderr, 'y'.repeat(50));
});

t('exec: a command without argv, or an env entry without "=", is refused with a message', async () => {
  const noArgv = await execRaw(box, { argv: [] });
  assert.equal(noArgv.status, 422, fmt(noArgv));
  assert.equal(noArgv.json.error, 'exec failed', fmt(noArgv));
  assert.match(noArgv.json.detail, /argv/, fmt(noArgv));
  const badEnv = await execRaw(box, { argv: ['true'], env: ['NOEQUALS'] });
  assert.equal(badEnv.status, 422, fmt(badEnv));
  assert.match(badEnv.json.detail, /NOEQUALS/, fmt(badEnv));
});

t('exec: several calls on one box at once (the interface is thread-safe) run in parallel with their own output', async () => {
  const t0 = performance.now();
  const rs = await Promise.all(
    [0, 1, 2, 3].map((i) => run(box, { argv: ['sh', '-c', `sleep 3; echo n$N`], env: [`N=${i}`] })),
  );
  const wall = performance.now() - t0;
  rs.forEach((r, i) => {
    assert.equal(r.exit_code, 0, JSON.stringify(r));
    assert.equal(r.stdout, `n${i}\n`);
  });
  assert.ok(wall < 9000, `4 × sleep 3 took ${Math.round(wall)} ms: not parallel (12 s one after another)`);
});

// ---------------------------------------------------------------------------------------------
// mounts and files

t('mounts: "host:box" is visible read-only (exec and write_file refused, host untouched); "host:box:rw" is writable and the host sees it', async () => {
  const b = await newBox({ mounts: [`${mountDir}:/data`, `${rwDir}:/rw:rw`] });
  try {
    assert.equal(await sh(b, 'cat /data/input.txt'), mountedText + '\n');
    const w = await run(b, { argv: ['sh', '-c', 'echo x > /data/new.txt'] });
    assert.notEqual(w.exit_code, 0, JSON.stringify(w));
    assert.match(w.stderr, /Read-only file system/, JSON.stringify(w));
    const ow = await run(b, { argv: ['sh', '-c', 'echo x >> /data/input.txt'] });
    assert.notEqual(ow.exit_code, 0, JSON.stringify(ow));
    const wf = await putFile(b, '/data/input.txt', 'overwritten');
    assert.equal(wf.status, 422, fmt(wf));
    assert.equal(wf.json.error, 'write_file failed', fmt(wf));
    assert.match(wf.json.detail, /read-only/i, fmt(wf));
    const wf2 = await putFile(b, '/data/sub/new.txt', 'x');
    assert.equal(wf2.status, 422, fmt(wf2));
    assert.deepEqual(fs.readdirSync(mountDir), ['input.txt']);
    assert.equal(fs.readFileSync(path.join(mountDir, 'input.txt'), 'utf8'), mountedText + '\n');
    // read_file reads through the mount.
    const rf = await getFile(b, '/data/input.txt');
    assert.equal(rf.status, 200, fmt(rf.res));
    assert.equal(rf.text, mountedText + '\n');
    // A bind mount is live: a change on the host shows inside.
    fs.writeFileSync(path.join(mountDir, 'later.txt'), 'added later', { mode: 0o644 });
    try {
      assert.equal(await sh(b, 'cat /data/later.txt'), 'added later');
    } finally {
      fs.rmSync(path.join(mountDir, 'later.txt'));
    }
    // Read-write mount.
    await sh(b, 'echo from-box > /rw/made-in-box.txt');
    assert.equal(fs.readFileSync(path.join(rwDir, 'made-in-box.txt'), 'utf8'), 'from-box\n');
    const p = await putFile(b, '/rw/via-write-file.txt', 'via write_file');
    assert.equal(p.status, 201, fmt(p));
    assert.equal(fs.readFileSync(path.join(rwDir, 'via-write-file.txt'), 'utf8'), 'via write_file');
    // The box's root stays read-only around the mounts.
    const root = await run(b, { argv: ['sh', '-c', 'echo x > /etc/x'] });
    assert.notEqual(root.exit_code, 0, JSON.stringify(root));
  } finally {
    assert.equal((await destroyBox(b)).status, 200);
  }
  // Unmounted with the box: the host dirs are intact.
  assert.equal(fs.readFileSync(path.join(mountDir, 'input.txt'), 'utf8'), mountedText + '\n');
  assert.ok(fs.existsSync(path.join(rwDir, 'made-in-box.txt')));
});

t('mounts: a malformed mount ("no colon", relative box path) fails box_start with a message', async () => {
  for (const m of ['/tmp', `${mountDir}:relative`, `:/data`]) {
    const r = await server.api('POST', `/isolation-probe/boxes?${qs({ m0: m })}`, { timeoutMs: 60000 });
    assert.equal(r.status, 422, `${m}: ${fmt(r)}`);
    assert.equal(r.json.error, 'box_start failed', fmt(r));
    assert.match(r.json.detail, /mount/, fmt(r));
  }
});

t('files: write_file → read_file and exec see the same bytes (all 256 byte values, parent dirs made); exec-written files read back', async () => {
  const bytes = Buffer.concat([Buffer.from([...Array(256).keys()]), crypto.randomBytes(70000)]);
  const p = await putFile(box, '/app/deep/er/bin.dat', bytes);
  assert.equal(p.status, 201, fmt(p));
  assert.equal(p.json.size, bytes.length);
  const r = await server.api('GET', `/isolation-probe/boxes/${box}/files?${qs({ path: '/app/deep/er/bin.dat' })}`);
  assert.equal(r.status, 200, fmt(r));
  // request() decodes utf8: compare through exec's hash and the length instead of the text.
  const hash = await sh(box, 'sha256sum /app/deep/er/bin.dat | cut -d" " -f1');
  assert.equal(hash.trim(), crypto.createHash('sha256').update(bytes).digest('hex'));
  assert.equal(Number(r.headers['content-length']), bytes.length);
  // Text written by a process in the box.
  await sh(box, 'printf "line1\\nline2" > /tmp/from-exec.txt');
  const f = await getFile(box, '/tmp/from-exec.txt');
  assert.equal(f.status, 200, fmt(f.res));
  assert.equal(f.text, 'line1\nline2');
  // Overwrite truncates; empty files are fine.
  assert.equal((await putFile(box, '/tmp/from-exec.txt', '')).status, 201);
  const e = await getFile(box, '/tmp/from-exec.txt');
  assert.equal(e.status, 200, fmt(e.res));
  assert.equal(e.text, '');
});

t('files: errors — missing file, a directory, ".." out of the box, read-only /usr, max_len below the size', async () => {
  const missing = await getFile(box, '/app/nope.txt');
  assert.equal(missing.status, 422, fmt(missing.res));
  assert.equal(missing.res.json.error, 'read_file failed');
  assert.match(missing.res.json.detail, /not found/i, fmt(missing.res));
  const dir = await getFile(box, '/app');
  assert.equal(dir.status, 422, fmt(dir.res));
  const escape = await getFile(box, '/app/../../etc/shadow');
  assert.equal(escape.status, 422, fmt(escape.res));
  const escapeW = await putFile(box, '/tmp/../../../tmp/escaped-iso.txt', 'x');
  assert.equal(escapeW.status, 422, fmt(escapeW));
  assert.equal(fs.existsSync('/tmp/escaped-iso.txt'), false);
  const usr = await putFile(box, '/usr/bin/evil', 'x');
  assert.equal(usr.status, 422, fmt(usr));
  assert.match(usr.json.detail, /read-only/i, fmt(usr));
  assert.equal(fs.existsSync('/usr/bin/evil'), false);
  assert.equal((await putFile(box, '/app/hundred.txt', 'z'.repeat(100))).status, 201);
  const small = await getFile(box, '/app/hundred.txt', 10);
  assert.equal(small.status, 422, fmt(small.res));
  const exact = await getFile(box, '/app/hundred.txt', 100);
  assert.equal(exact.status, 200, fmt(exact.res));
  assert.equal(exact.text, 'z'.repeat(100));
  // The box's /proc is not reachable through the file calls.
  const proc = await getFile(box, '/proc/self/environ');
  assert.equal(proc.status, 422, fmt(proc.res));
});

// ---------------------------------------------------------------------------------------------
// spawn and ports

t('spawn: output goes to the log file, env and cwd apply, process_running reports the exit code; unknown handles are -1', async () => {
  const h = await spawnIn(
    box,
    { argv: ['sh', '-c', 'echo out-$V; pwd; echo err-line >&2; sleep 0.3; exit 7'], env: ['V=vee'], cwd: '/tmp' },
    '/tmp/spawn-test.log',
  );
  const s = await waitProcessEnded(box, h);
  assert.deepEqual(s, { running: 0, exit_code: 7 });
  const log = await getFile(box, '/tmp/spawn-test.log');
  assert.equal(log.status, 200, fmt(log.res));
  assert.equal(log.text, 'out-vee\n/tmp\nerr-line\n');
  // The default log path.
  const h2 = await spawnIn(box, { argv: ['sh', '-c', 'echo default-log'] });
  assert.equal((await waitProcessEnded(box, h2)).exit_code, 0);
  const dl = await getFile(box, '/tmp/process.log');
  assert.equal(dl.status, 200, fmt(dl.res));
  assert.match(dl.text, /default-log\n/);
  // Killed by a signal.
  const h3 = await spawnIn(box, { argv: ['sh', '-c', 'kill -9 $$'] });
  assert.deepEqual(await waitProcessEnded(box, h3), { running: 0, exit_code: 137 });
  assert.equal((await processState(box, 999999)).running, -1);
  // Stopping an unknown handle is harmless.
  assert.equal((await server.api('DELETE', `/isolation-probe/boxes/${box}/processes/999999`)).status, 200);
  // spawn outlives the request that started it and is not killed like exec's leftovers.
  const marker = `${Math.floor(Math.random() * 1e6) + 4000000}`;
  const h4 = await spawnIn(box, { argv: ['sleep', marker] });
  await sleep(500);
  assert.equal((await processState(box, h4)).running, 1);
  const sleeps = processesNaming([`sleep ${marker}`]).filter((p) => p.comm === 'sleep');
  assert.equal(sleeps.length, 1, `the spawned sleep runs on the host:\n  ${describe(sleeps)}`);
  await server.api('DELETE', `/isolation-probe/boxes/${box}/processes/${h4}`);
  assert.deepEqual(await waitNoProcesses([`sleep ${marker}`], 5000), []);
  // A command without argv is refused.
  const bad = await server.api('POST', `/isolation-probe/boxes/${box}/spawn`);
  assert.equal(bad.status, 422, fmt(bad));
  assert.equal(bad.json.error, 'spawn failed');
});

t('ports: two exposed ports of one box get different host ports; each reaches its own server', async () => {
  const b = await newBox();
  try {
    await putFile(b, '/app/a/which.txt', 'A');
    await putFile(b, '/app/b/which.txt', 'B');
    const ha = await spawnIn(b, { argv: ['python3', '-m', 'http.server', '8081', '--bind', '0.0.0.0', '--directory', '/app/a'] });
    const hb = await spawnIn(b, { argv: ['python3', '-m', 'http.server', '9092', '--bind', '0.0.0.0', '--directory', '/app/b'] });
    const listening = 'import socket,sys\nfor p in (8081, 9092): socket.create_connection(("127.0.0.1", p), 1).close()';
    let ok = false;
    for (let i = 0; i < 100 && !ok; i++) {
      ok = (await run(b, { argv: ['python3', '-c', listening] })).exit_code === 0;
      if (!ok) await sleep(100);
    }
    assert.ok(ok, 'http.servers never listened');
    const pa = await server.api('POST', `/isolation-probe/boxes/${b}/ports/8081`);
    const pb = await server.api('POST', `/isolation-probe/boxes/${b}/ports/9092`);
    assert.equal(pa.status, 200, fmt(pa));
    assert.equal(pb.status, 200, fmt(pb));
    assert.notEqual(pa.json.host_port, pb.json.host_port);
    assert.deepEqual(await fetchHost(pa.json.host_port, '/which.txt'), { status: 200, text: 'A' });
    assert.deepEqual(await fetchHost(pb.json.host_port, '/which.txt'), { status: 200, text: 'B' });
    assert.equal((await processState(b, ha)).running, 1);
    assert.equal((await processState(b, hb)).running, 1);
  } finally {
    assert.equal((await destroyBox(b)).status, 200);
  }
});

t('ports: a box started with network = 0 cannot expose a port (expose_port fails with a message) and has no route out', async () => {
  const b = await newBox({ network: 0 });
  try {
    const r = await server.api('POST', `/isolation-probe/boxes/${b}/ports/8080`);
    assert.equal(r.status, 422, fmt(r));
    assert.equal(r.json.error, 'expose_port failed');
    assert.match(r.json.detail, /network/i, fmt(r));
    const out = await run(b, {
      argv: ['python3', '-c', 'import socket\ntry:\n  socket.create_connection(("1.1.1.1", 80), 2); print("connected")\nexcept OSError as e: print("refused", e.errno)'],
    });
    assert.match(out.stdout, /^refused/, JSON.stringify(out));
  } finally {
    assert.equal((await destroyBox(b)).status, 200);
  }
});

// ---------------------------------------------------------------------------------------------
// limits from the spec

const HOG = 'x = bytearray(200 * 1024 * 1024)\nfor i in range(0, len(x), 4096): x[i] = 1\nprint("survived")';

t('limits: memory_bytes from the spec applies — 200 MB is out_of_memory (137) in a 64 MB box, fine in a default box; the box survives', async () => {
  const small = await newBox({ memory_mb: 64 });
  try {
    const r = await run(small, { argv: ['python3', '-c', HOG], timeout_ms: 30000 });
    assert.equal(r.out_of_memory, true, JSON.stringify(r));
    assert.equal(r.exit_code, 137, JSON.stringify(r));
    assert.equal(r.timed_out, false, JSON.stringify(r));
    assert.doesNotMatch(r.stdout, /survived/);
    assert.match(r.stderr, /out of memory/, JSON.stringify(r));
    // Still usable afterwards, and small allocations work.
    assert.equal(await sh(small, 'python3 -c "x = bytearray(16 << 20); print(len(x))"'), `${16 << 20}\n`);
    const alive = await server.api('GET', `/isolation-probe/boxes/${small}`);
    assert.equal(alive.json.alive, true, fmt(alive));
  } finally {
    assert.equal((await destroyBox(small)).status, 200);
  }
  const r = await run(box, { argv: ['python3', '-c', HOG], timeout_ms: 30000 });
  assert.equal(r.out_of_memory, false, JSON.stringify(r));
  assert.equal(r.exit_code, 0, JSON.stringify(r));
  assert.equal(r.stdout, 'survived\n');
});

t('limits: pids, cpu_millis and disk_bytes from the spec apply', async () => {
  const b = await newBox({ pids: 16, cpu_millis: 100, disk_mb: 4 });
  try {
    // pids: at most 16 tasks in the box; 40 sleeps cannot all start.
    const forks = await run(b, {
      argv: ['python3', '-c', 'import subprocess\nn = 0\nps = []\ntry:\n  for i in range(40):\n    ps.append(subprocess.Popen(["sleep", "5"])); n += 1\nexcept OSError as e: pass\nprint(n)\nfor p in ps: p.kill()'],
      timeout_ms: 30000,
    });
    assert.equal(forks.exit_code, 0, JSON.stringify(forks));
    const started = Number(forks.stdout.trim());
    assert.ok(started >= 1 && started < 16, `started ${started} of 40 sleeps with pids=16: ${JSON.stringify(forks)}`);
    // cpu: a busy loop gets about 10 % of a CPU.
    const cpu = await run(b, {
      argv: ['python3', '-c', 'import time\nw = time.time(); c = time.process_time()\nwhile time.time() - w < 2: pass\nprint("%.3f" % ((time.process_time() - c) / (time.time() - w)))'],
      timeout_ms: 30000,
    });
    assert.equal(cpu.exit_code, 0, JSON.stringify(cpu));
    const share = Number(cpu.stdout.trim());
    assert.ok(share > 0 && share < 0.25, `cpu share with cpu_millis=100: ${share}`);
    // disk: each writable mount holds 4 MB.
    const disk = await run(b, { argv: ['sh', '-c', 'head -c 8000000 /dev/zero > /tmp/big; echo rc=$?; ls -l /tmp/big'] });
    assert.match(disk.stdout, /rc=1/, JSON.stringify(disk));
    assert.match(disk.stderr, /No space left on device/, JSON.stringify(disk));
    await sh(b, 'rm -f /tmp/big');
    const wf = await putFile(b, '/app/big.bin', Buffer.alloc(6 * 1024 * 1024, 1));
    assert.equal(wf.status, 422, fmt(wf));
    assert.match(wf.json.detail, /full|space/i, fmt(wf));
  } finally {
    assert.equal((await destroyBox(b)).status, 200);
  }
  // The same in a default box (256 pids, half a CPU, 256 MB disk) is not limited like that.
  const forks = await run(box, {
    argv: ['python3', '-c', 'import subprocess\nps = [subprocess.Popen(["sleep", "5"]) for i in range(40)]\nprint(len(ps))\nfor p in ps: p.kill()'],
    timeout_ms: 30000,
  });
  assert.equal(forks.stdout, '40\n', JSON.stringify(forks));
  await sh(box, 'head -c 8000000 /dev/zero > /tmp/big && rm /tmp/big');
});

// ---------------------------------------------------------------------------------------------
// a newer caller

t('struct_size: spec and command structs larger than this header\'s (junk in the unknown tail) still work, limits and mounts included; the result is not written past its size', async () => {
  const b = await newBox({ big: 1, memory_mb: 64, mounts: [`${mountDir}:/data`] });
  try {
    const r = await run(b, {
      argv: ['sh', '-c', 'cat /data/input.txt; echo $X; pwd; cat'],
      env: ['X=ex'],
      cwd: '/home/user',
      stdin: 'in',
      big: 1,
    });
    assert.equal(r.exit_code, 0, JSON.stringify(r));
    assert.equal(r.stdout, `${mountedText}\nex\n/home/user\nin`);
    assert.equal(r.canary_intact, true);
    const hog = await run(b, { argv: ['python3', '-c', HOG], big: 1, timeout_ms: 30000 });
    assert.equal(hog.out_of_memory, true, `memory_bytes of a larger spec ignored: ${JSON.stringify(hog)}`);
    const to = await run(b, { argv: ['sleep', '10'], big: 1, timeout_ms: 500 });
    assert.equal(to.timed_out, true, `timeout_ms of a larger command ignored: ${JSON.stringify(to)}`);
    const h = await spawnIn(b, { argv: ['sh', '-c', 'echo $X; exit 4'], env: ['X=spawned'], big: 1 }, '/tmp/big.log');
    assert.deepEqual(await waitProcessEnded(b, h), { running: 0, exit_code: 4 });
    assert.equal((await getFile(b, '/tmp/big.log')).text, 'spawned\n');
  } finally {
    assert.equal((await destroyBox(b)).status, 200);
  }
});

// ---------------------------------------------------------------------------------------------
// destroy

t('box_destroy: every process of the box (spawned servers, a running exec, init, network helper) is gone, its cgroups too, its port closed', async () => {
  const marker = `d${randomHex(6)}`;
  const sleepMark = `${Math.floor(Math.random() * 1e6) + 5000000}`;
  const r = await server.api('POST', `/isolation-probe/run?${qs({ mount: mountDir, marker })}`, { timeoutMs: 90000 });
  assert.equal(r.status, 200, fmt(r));
  const { id, host_port: port } = r.json;
  let destroyed = false;
  try {
    assert.equal((await fetchHost(port, '/hello.txt')).status, 200);
    await spawnIn(id, { argv: ['sleep', sleepMark] });
    // An exec still running when the box is destroyed.
    const pending = execRaw(id, { argv: ['sh', '-c', `sleep 1${sleepMark}; echo never`], timeout_ms: 60000 });
    let serverProc;
    for (let i = 0; i < 50; i++) {
      const ps = processesNaming([`site-${marker}`, `sleep 1${sleepMark}`]);
      serverProc = ps.find((p) => p.comm === 'python3' && p.cmdline.includes(`site-${marker}`) && boxIdOf(p));
      if (serverProc && ps.some((p) => p.cmdline.includes(`sleep 1${sleepMark}`))) break;
      await sleep(100);
    }
    assert.ok(serverProc, `http.server of ${marker} not found on the host`);
    const boxId = boxIdOf(serverProc);
    assert.ok(boxId, `no iso_ box id in the cgroup of the http.server:\n${serverProc.cgroup}`);
    const before = processesNaming([boxId, marker, sleepMark]);
    const cmds = before.map((p) => p.cmdline).join('\n');
    assert.ok(before.length >= 4, `expected init, http.server, sleeps, slirp4netns:\n  ${describe(before)}`);
    assert.match(cmds, new RegExp(`sleep ${sleepMark}`));
    assert.match(cmds, new RegExp(`sleep 1${sleepMark}`));
    assert.match(cmds, /slirp4netns/, `the network helper names the box: \n  ${describe(before)}`);
    assert.ok(cgroupDirsMatching([boxId]).length > 0, `no cgroup dir for ${boxId}`);

    const d = await destroyBox(id);
    assert.equal(d.status, 200, fmt(d));
    destroyed = true;
    assert.ok(d.json.ms < 10000, fmt(d));
    // The exec that was running ends (box gone) rather than hanging.
    const pr = await pending;
    assert.ok(pr.status === 422 || (pr.status === 200 && pr.json.exit_code !== 0), fmt(pr));
    assert.doesNotMatch(pr.text, /never/);
    // Nothing of the box is left: not the processes seen before (same pid and start time), not
    // anything naming the box, its marker or its sleeps (reparented orphans included).
    const left = await waitNoProcesses([boxId, marker, sleepMark], 5000);
    assert.deepEqual(left.map((p) => `${p.pid} ${p.cmdline}`), [], `left after box_destroy:\n  ${describe(left)}`);
    const running = before.filter((p) => isLive(p.pid, p.start));
    assert.deepEqual(running.map((p) => p.pid), [], describe(running));
    assert.deepEqual(cgroupDirsMatching([boxId]), [], 'cgroups of the box left');
    const page = await fetchHost(port, '/hello.txt');
    assert.ok(page.error || page.status !== 200, `port still served after box_destroy: ${JSON.stringify(page)}`);
    // Zombies and the dying pid 1 leave /proc once reaped (by the host's init for orphans).
    let zombies = before.filter(stillRunningOrZombie);
    for (let i = 0; i < 150 && zombies.length; i++) {
      await sleep(100);
      zombies = zombies.filter(stillRunningOrZombie);
    }
    assert.deepEqual(zombies.map((p) => p.pid), [], `still in /proc 15 s after box_destroy:\n  ${describe(zombies)}`);
    // The handle is gone from the plugin's table.
    assert.equal((await server.api('GET', `/isolation-probe/boxes/${id}`)).status, 404);
    assert.equal((await destroyBox(id)).status, 404);
  } finally {
    if (!destroyed) await destroyBox(id);
  }
});

t('box_alive: 0 once the box\'s init is killed from outside; calls on it then fail with a message instead of hanging', async () => {
  const b = await newBox();
  try {
    const marker = `${Math.floor(Math.random() * 1e6) + 6000000}`;
    await spawnIn(b, { argv: ['sleep', marker] });
    let sleeper;
    for (let i = 0; i < 50 && !sleeper; i++) {
      sleeper = processesNaming([`sleep ${marker}`]).find((p) => p.comm === 'sleep' && boxIdOf(p));
      if (!sleeper) await sleep(100);
    }
    assert.ok(sleeper, 'spawned sleep not found');
    const boxId = boxIdOf(sleeper);
    assert.ok(boxId, sleeper.cgroup);
    // Kill the box's init (the sh that waits on the server's life pipe, in the init cgroup).
    const init = processesNaming([boxId]).find((p) => p.cmdline.startsWith('sh -c printf 1'));
    assert.ok(init, `box init not found:\n  ${describe(processesNaming([boxId]))}`);
    process.kill(init.pid, 'SIGKILL');
    let alive = true;
    for (let i = 0; i < 50 && alive; i++) {
      alive = (await server.api('GET', `/isolation-probe/boxes/${b}`)).json.alive;
      if (alive) await sleep(100);
    }
    assert.equal(alive, false, 'box_alive still 1 after its init was killed');
    const r = await execRaw(b, { argv: ['true'] });
    assert.equal(r.status, 422, fmt(r));
    assert.match(r.json.detail, /not running/i, fmt(r));
    const f = await getFile(b, '/app/x');
    assert.equal(f.status, 422, fmt(f.res));
  } finally {
    assert.equal((await destroyBox(b)).status, 200);
  }
});

t('shutdown: boxes a plugin still holds are destroyed when the server stops (its stop runs before sandboxes\'); the server exits 0 promptly', async () => {
  const s2 = await startServer({ plugins: PLUGINS });
  try {
    const marker = `s${randomHex(6)}`;
    const r = await s2.api('POST', `/isolation-probe/run?${qs({ mount: mountDir, marker })}`, { timeoutMs: 90000 });
    assert.equal(r.status, 200, fmt(r));
    const sp = hostProcesses().find((p) => p.comm === 'python3' && p.cmdline.includes(`site-${marker}`) && boxIdOf(p));
    assert.ok(sp, 'http.server not found');
    const boxId = boxIdOf(sp);
    assert.ok(boxId, sp.cgroup);
    const c = checks();
    const stopping = stopServer(s2, 'SIGTERM', 20000);
    // Once the server says "stopped" every plugin has stopped, whether or not the process exits.
    await c.run(async () => {
      assert.ok(await waitForOutput(s2, /\binfo stopped\b/, 20000), `no "stopped" line:\n${s2.logTail(20)}`);
      const left = await waitNoProcesses([boxId, marker], 5000);
      assert.deepEqual(left.map((p) => p.cmdline), [], `box processes left after the plugins stopped: ${describe(left)}`);
      assert.deepEqual(cgroupDirsMatching([boxId]), [], 'box cgroups left after the plugins stopped');
    });
    const st = await stopping;
    await c.run(async () => {
      assert.equal(st.timedOut, undefined, `the server logged "stopped" but had not exited 20 s after SIGTERM (killed)`);
      assert.equal(st.code, 0, `exit ${st.code} (signal ${st.signal})`);
    });
    c.done();
  } finally {
    await disposeServer(s2);
  }
}, 120000);
