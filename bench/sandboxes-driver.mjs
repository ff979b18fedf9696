// Measuring side of bench/sandboxes.sh (one phase per call; the script starts the servers with
// the settings of each phase). Node 20 built-ins only. Every phase appends JSON lines
// {name, ...figures} to $RESULTS and prints RESULT lines; `summary` prints the table.
//
//   node bench/sandboxes-driver.mjs create NAME@BASE...  N rounds of: bare bwrap `true`;
//        [NET_BREAKDOWN=1: bare bwrap up + slirp4netns + blackhole routes]; [FULL_BWRAP=1: bwrap
//        `true` with the driver's mounts; with HELPER: the box's cgroups made, then the plugin's
//        helper + seccomp + that bwrap in them, and without cgroups]; on each server (order
//        alternating per round) POST /sandboxes → running, DELETE; WAIT_MS
//   node bench/sandboxes-driver.mjs exec            N_EXEC × exec {command:"echo hi"}; N_PY ×
//        (exec {code:"print(1)"}, bare python3 in bwrap, python3 on the host), interleaved
//   node bench/sandboxes-driver.mjs parallel        PAR_BOXES boxes × PAR_EXECS execs at once
//   node bench/sandboxes-driver.mjs summary         the table, targets, PASS/FAIL
//   node bench/sandboxes-driver.mjs bare            the bare side alone (no server needed)
//
// Env: BASE (exec, parallel), TOKEN, RESULTS (file), N (50), N_EXEC (100), N_PY (50), WAIT_MS
// (after each round), POLL_MS (2), PAR_BOXES (5), PAR_EXECS (10), PAR_CODE, SBX_UID/SBX_GID
// (65533, the uid bare bwrap runs as), BLOCKED (the ranges the driver blackholes), CGROUP_KEY
// (d-<hash> of the data dir: CPU throttling of the boxes from their cpu.stat, and where the bare
// cgroups go), HELPER (alpaca-sandbox-enter).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';

const env = process.env;
const num = (k, d) => (env[k] === undefined || env[k] === '' ? d : Number(env[k]));
const N = num('N', 50);
const N_EXEC = num('N_EXEC', 100);
const N_PY = num('N_PY', 50);
const POLL_MS = num('POLL_MS', 2);
const WAIT_MS = num('WAIT_MS', 0);
const PAR_BOXES = num('PAR_BOXES', 5);
const PAR_EXECS = num('PAR_EXECS', 10);
const PAR_CODE = env.PAR_CODE || 'print(sum(range(10**6)))';
const UID = String(num('SBX_UID', 65533));
const GID = String(num('SBX_GID', 65533));
const RESULTS = env.RESULTS || '/dev/null';
const BLOCKED = (env.BLOCKED ||
  '10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,169.254.0.0/16,0.0.0.0/8,127.0.0.0/8,192.0.0.0/24,198.18.0.0/15,224.0.0.0/4,240.0.0.0/4').split(',');

// ---------------------------------------------------------------------------------------------
// figures

const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function pct(xs, q) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}
const r1 = (x) => (Number.isFinite(x) ? Math.round(x * 10) / 10 : null);
function stats(xs) {
  return { n: xs.length, p50: r1(pct(xs, 0.5)), p90: r1(pct(xs, 0.9)), p99: r1(pct(xs, 0.99)), min: r1(Math.min(...xs)), max: r1(Math.max(...xs)) };
}
function record(name, fig) {
  const line = { name, ...fig };
  fs.appendFileSync(RESULTS, JSON.stringify(line) + '\n');
  const flat = Object.entries(fig)
    .map(([k, v]) => (v && typeof v === 'object' ? Object.entries(v).map(([k2, v2]) => `${k}_${k2}=${v2}`).join('|') : `${k}=${v}`))
    .join('|');
  console.log(`RESULT|sandboxes|${name}|${flat}`);
}

// ---------------------------------------------------------------------------------------------
// HTTP (keep-alive, so a measurement is the server's work and not a TCP handshake)

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
function api(method, path, body, timeoutMs = 120000, base = env.BASE) {
  const u = new URL(base);
  const headers = { authorization: `Bearer ${env.TOKEN}` };
  let data;
  if (body !== undefined) {
    data = JSON.stringify(body);
    headers['content-type'] = 'application/json';
    headers['content-length'] = Buffer.byteLength(data);
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path, headers, agent, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = JSON.parse(text);
        } catch {}
        resolve({ status: res.statusCode, text, json });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}
const show = (r) => `${r.status} ${r.text.slice(0, 300)}`;

// POST /sandboxes, then GET every POLL_MS until running: { id, ms, pooled }.
async function createRunning(base = env.BASE, runtime = 'python') {
  const t0 = now();
  const r = await api('POST', '/sandboxes', { runtime }, undefined, base);
  if (r.status !== 201) throw new Error(`POST /sandboxes: ${show(r)}`);
  const id = r.json.id;
  if (r.json.status === 'running') return { id, ms: now() - t0, pooled: true };
  for (;;) {
    const g = await api('GET', `/sandboxes/${id}`, undefined, undefined, base);
    if (g.status !== 200) throw new Error(`GET /sandboxes/${id}: ${show(g)}`);
    if (g.json.status === 'running') return { id, ms: now() - t0, pooled: false };
    if (g.json.status !== 'creating') throw new Error(`sandbox ${id} went to ${g.json.status}: ${show(g)}`);
    if (now() - t0 > 60000) throw new Error(`sandbox ${id} not running after 60 s`);
    await sleep(POLL_MS);
  }
}
async function remove(id, base = env.BASE) {
  const r = await api('DELETE', `/sandboxes/${id}`, undefined, undefined, base);
  if (r.status !== 200) throw new Error(`DELETE /sandboxes/${id}: ${show(r)}`);
}

// ---------------------------------------------------------------------------------------------
// the physical side: bubblewrap with the driver's namespaces, as the uid sandboxes run as

const BWRAP = ['setpriv', `--reuid=${UID}`, `--regid=${GID}`, '--clear-groups', 'bwrap',
  '--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-net', '--die-with-parent',
  '--ro-bind', '/usr', '/usr', '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/lib', '/lib',
  '--symlink', 'usr/lib64', '/lib64', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp'];

// For a network namespace slirp4netns can join: no --dev (its devpts makes bwrap nest a second
// user namespace, which does not own the network namespace), the driver's device binds instead.
const BWRAP_NET = BWRAP.flatMap((a) => (a === '--dev' ? ['--dir'] : [a])).concat(
  ...['null', 'zero', 'full', 'random', 'urandom'].map((d) => ['--dev-bind', `/dev/${d}`, `/dev/${d}`]));

// The driver's own bwrap line (plugins/sandboxes/src/isolation/bwrap_driver.cpp) without the
// namespace helper, cgroups and seccomp: what its mounts cost (read-only binds of the runtimes,
// /etc files, device binds, four sized tmpfs, the read-only root).
const DISK = String(256 << 20);
const BWRAP_FULL = ['setpriv', `--reuid=${UID}`, `--regid=${GID}`, '--clear-groups', 'bwrap',
  '--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-net', '--unshare-cgroup-try',
  '--die-with-parent', '--new-session', '--uid', '1000', '--gid', '1000', '--hostname', 'sandbox',
  ...['/usr', '/etc/ssl', '/etc/ca-certificates', '/etc/alternatives', '/etc/ld.so.cache', '/etc/localtime', '/etc/python3',
    '/etc/python3.11', '/etc/mime.types'].flatMap((p) => ['--ro-bind-try', p, p]),
  ...['bin', 'lib', 'lib64', 'sbin'].flatMap((l) => ['--symlink', `usr/${l}`, `/${l}`]),
  ...['passwd', 'group', 'hosts', 'resolv.conf', 'nsswitch.conf'].flatMap((f) => ['--ro-bind-try', `/etc/${f}`, `/etc/${f}`]),
  '--proc', '/proc', '--dir', '/dev',
  ...['null', 'zero', 'full', 'random', 'urandom'].flatMap((d) => ['--dev-bind-try', `/dev/${d}`, `/dev/${d}`]),
  '--symlink', '/proc/self/fd', '/dev/fd',
  ...['/dev/shm', '/tmp'].flatMap((d) => ['--perms', '1777', '--size', DISK, '--tmpfs', d]),
  ...['/app', '/home/user'].flatMap((d) => ['--perms', '0755', '--size', DISK, '--tmpfs', d]),
  '--remount-ro', '/', '--chdir', '/app', '--'];

// The same through the plugin's namespace helper (HELPER: alpaca-sandbox-enter start, which joins
// the cgroups, drops to the uid, exports the seccomp filter that bwrap loads), in cgroups made
// the way the plugin makes a box's (under its directory for this data dir, CGROUP_KEY; v1 or v2):
// { cgroups, helper } ms (making the cgroups with the limits; then helper + bwrap to exit).
function cgroupBase() {
  const key = env.CGROUP_KEY;
  if (!key) return null;
  const v1 = ['memory', 'cpu', 'pids'].map((c) => `/sys/fs/cgroup/${c}/alpaca-sandboxes/${key}`);
  if (v1.every((d) => fs.existsSync(d))) return { v2: false, dirs: v1 };
  const v2 = `/sys/fs/cgroup/alpaca-sandboxes/${key}`;
  return fs.existsSync(v2) ? { v2: true, dirs: [v2] } : null;
}
let helperRound = 0;
const BWRAP_PATH = spawnSync('sh', ['-c', 'command -v bwrap'], { encoding: 'utf8' }).stdout.trim() || '/usr/bin/bwrap';
function bareHelper(inCgroups = true) {
  const base = inCgroups ? cgroupBase() : null;
  const name = `bench-${process.pid}-${helperRound++}`;
  const t0 = now();
  const made = [];
  const procs = [];
  try {
    if (base) {
      for (const d of base.dirs) {
        fs.mkdirSync(`${d}/${name}`);
        made.push(`${d}/${name}`);
      }
      const mem = String(512 << 20);
      if (base.v2) {
        const d = made[0];
        fs.writeFileSync(`${d}/memory.max`, mem);
        if (fs.existsSync(`${d}/memory.swap.max`)) fs.writeFileSync(`${d}/memory.swap.max`, '0');
        fs.writeFileSync(`${d}/cpu.max`, '50000 100000');
        fs.writeFileSync(`${d}/pids.max`, '256');
        fs.writeFileSync(`${d}/cgroup.subtree_control`, '+memory +cpu +pids');
      } else {
        fs.writeFileSync(`${made[0]}/memory.limit_in_bytes`, mem);
        if (fs.existsSync(`${made[0]}/memory.memsw.limit_in_bytes`)) fs.writeFileSync(`${made[0]}/memory.memsw.limit_in_bytes`, mem);
        fs.writeFileSync(`${made[0]}/memory.swappiness`, '0');
        fs.writeFileSync(`${made[1]}/cpu.cfs_period_us`, '100000');
        fs.writeFileSync(`${made[1]}/cpu.cfs_quota_us`, '50000');
        fs.writeFileSync(`${made[2]}/pids.max`, '256');
      }
      for (const d of [...made]) {
        fs.mkdirSync(`${d}/init`);
        made.push(`${d}/init`);
        procs.push('--cgroup', `${d}/init/cgroup.procs`);
      }
    }
    const t1 = now();
    const argv = [env.HELPER, 'start', ...procs, '--uid', UID, '--gid', GID, '--seccomp-fd', '4', '--',
      BWRAP_PATH, ...BWRAP_FULL.slice(5, -1), '--seccomp', '4', '--', 'true'];
    const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`helper: exit ${r.status} ${r.error || ''} ${r.stderr}`);
    return { cgroups: t1 - t0, helper: now() - t1 };
  } finally {
    for (const d of made.reverse()) {
      try {
        fs.rmdirSync(d);
      } catch {}
    }
  }
}

// Runs argv to its end; wall ms (fails on a non-zero exit or unexpected output).
function timed(argv, expect) {
  const t0 = now();
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  const ms = now() - t0;
  if (r.status !== 0 || (expect !== undefined && r.stdout !== expect))
    throw new Error(`${argv.join(' ').slice(0, 120)}: exit ${r.status} ${r.error || ''} ${r.stdout} ${r.stderr}`);
  return ms;
}
const bareBwrap = () => timed([...BWRAP, 'true']);

// What a networked box needs besides bubblewrap, bare: bwrap reporting its child on --info-fd,
// slirp4netns --configure signalling ready, the blackhole routes (nsenter + ip -batch), as the
// driver runs them. { bwrap, slirp, routes } cumulative ms from the start.
function readUntil(stream, pred) {
  return new Promise((resolve, reject) => {
    let text = '';
    const on = (c) => {
      text += c;
      if (pred(text)) {
        stream.off('data', on);
        resolve(text);
      }
    };
    stream.on('data', on);
    stream.on('end', () => reject(new Error(`stream ended: ${text}`)));
  });
}
async function bareNetwork() {
  const t0 = now();
  const b = spawn(BWRAP_NET[0], [...BWRAP_NET.slice(1), '--info-fd', '3', 'sleep', 'infinity'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  let err = '';
  b.stderr.on('data', (d) => (err += d));
  let slirp, pid;
  try {
    const info = await readUntil(b.stdio[3], (t) => t.includes('}')).catch((e) => {
      throw new Error(`bwrap --info-fd: ${e.message} ${err}`);
    });
    pid = JSON.parse(info)['child-pid'];
    const t1 = now();
    slirp = spawn('slirp4netns', ['--configure', '--mtu=65520', '--disable-host-loopback', '--enable-sandbox', '--enable-seccomp',
      '--ready-fd', '3', String(pid), 'tap0'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    let serr = '';
    slirp.stderr.on('data', (d) => (serr += d));
    await readUntil(slirp.stdio[3], (t) => t.includes('1')).catch((e) => {
      throw new Error(`slirp4netns --ready-fd: ${e.message} ${serr}`);
    });
    const t2 = now();
    const batch = BLOCKED.map((c) => `route add blackhole ${c}\n`).join('');
    const r = spawnSync('nsenter', [`--net=/proc/${pid}/ns/net`, '--', 'ip', '-force', '-batch', '-'], { input: batch, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip -batch: ${r.stderr}`);
    const t3 = now();
    return { bwrap: t1 - t0, slirp: t2 - t0, routes: t3 - t0 };
  } finally {
    // The box's pid 1 first: with --unshare-user it does not always die with bwrap.
    const gone = [b, slirp].filter(Boolean).map((c) => (c.exitCode !== null || c.signalCode ? null : new Promise((r) => c.once('close', r))));
    if (pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    if (slirp) slirp.kill('SIGKILL');
    b.kill('SIGKILL');
    await Promise.all(gone);
  }
}

// CPU throttling of a box (its cgroup's cpu.stat; v1 under the cpu controller, or v2), when
// CGROUP_KEY (the plugin's d-<hash> of the data dir) is given: { periods, throttled, ms }.
function throttle(id) {
  const key = env.CGROUP_KEY;
  if (!key) return null;
  for (const f of [`/sys/fs/cgroup/cpu/alpaca-sandboxes/${key}/${id}/cpu.stat`, `/sys/fs/cgroup/alpaca-sandboxes/${key}/${id}/cpu.stat`]) {
    let text;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    const v = Object.fromEntries(text.trim().split('\n').map((l) => l.split(' ')).map(([k, x]) => [k, Number(x)]));
    return { periods: v.nr_periods, throttled: v.nr_throttled, ms: v.throttled_time !== undefined ? v.throttled_time / 1e6 : v.throttled_usec / 1e3 };
  }
  return null;
}
const throttleDelta = (a, b) => (a && b ? { periods: b.periods - a.periods, throttled: b.throttled - a.throttled, ms: r1(b.ms - a.ms) } : null);

// ---------------------------------------------------------------------------------------------
// phases

const live = new Set(); // boxes to delete if a phase fails

// targets: "name@base" — one create → running → DELETE on each per round, in alternating order.
async function phaseCreate(targets) {
  const t = targets.map((x) => {
    const at = x.indexOf('@');
    return { name: x.slice(0, at), base: x.slice(at + 1), create: [], del: [], pooled: 0 };
  });
  const bare = [], net = { bwrap: [], slirp: [], routes: [] };
  const breakdown = env.NET_BREAKDOWN === '1';
  const full = env.FULL_BWRAP === '1', bareFull = [], helper = { cgroups: [], helper: [], outside: [] };
  const withHelper = full && env.HELPER;
  await sleep(WAIT_MS); // a warm pool fills after the server starts
  // warm-ups, not counted
  bareBwrap();
  if (breakdown) await bareNetwork();
  if (full) timed([...BWRAP_FULL, 'true']);
  if (withHelper) bareHelper();
  for (let i = 0; i < N; i++) {
    bare.push(bareBwrap());
    if (breakdown) {
      const b = await bareNetwork();
      for (const k of Object.keys(net)) net[k].push(b[k]);
    }
    if (full) bareFull.push(timed([...BWRAP_FULL, 'true']));
    if (withHelper) {
      const h = bareHelper();
      helper.cgroups.push(h.cgroups);
      helper.helper.push(h.helper);
      helper.outside.push(bareHelper(false).helper);
    }
    for (const x of i % 2 ? [...t].reverse() : t) {
      const c = await createRunning(x.base);
      live.add(`${x.base}|${c.id}`);
      x.create.push(c.ms);
      if (c.pooled) x.pooled++;
      const t0 = now();
      await remove(c.id, x.base);
      x.del.push(now() - t0);
      live.delete(`${x.base}|${c.id}`);
    }
    await sleep(WAIT_MS);
  }
  for (const x of t) record(x.name, { create: stats(x.create), pooled: x.pooled, of: N, wait_ms: WAIT_MS, bare_bwrap: stats(bare), delete: stats(x.del) });
  const fig = {};
  if (breakdown) for (const k of Object.keys(net)) fig[`net_${k}`] = stats(net[k]);
  if (full) fig.bwrap_driver_mounts = stats(bareFull);
  if (withHelper) {
    fig.cgroups = stats(helper.cgroups);
    fig.helper_seccomp = stats(helper.helper);
    fig.helper_seccomp_no_cgroups = stats(helper.outside);
  }
  if (Object.keys(fig).length) record('bare_pieces', { bare_bwrap: stats(bare), ...fig });
}

async function phaseExec() {
  const box = await createRunning();
  live.add(box.id);
  const run = async (body, expect) => {
    const t0 = now();
    const r = await api('POST', `/sandboxes/${box.id}/exec`, body);
    const ms = now() - t0;
    if (r.status !== 200 || r.json.exit_code !== 0 || r.json.stdout !== expect)
      throw new Error(`exec ${JSON.stringify(body)}: ${show(r)}`);
    return { ms, server: r.json.duration_ms };
  };
  for (let i = 0; i < 3; i++) await run({ command: 'echo hi' }, 'hi\n'); // warm-up
  const echo = [], echoSrv = [];
  let th0 = throttle(box.id);
  for (let i = 0; i < N_EXEC; i++) {
    const x = await run({ command: 'echo hi' }, 'hi\n');
    echo.push(x.ms);
    echoSrv.push(x.server);
  }
  const echoThrottle = throttleDelta(th0, throttle(box.id));
  record('exec_echo', { wall: stats(echo), server_duration: stats(echoSrv), ...(echoThrottle ? { cpu_throttle: echoThrottle } : {}) });

  // python: exec, python3 in bare bwrap, python3 on the host, interleaved (same noise for all)
  const py = [], pySrv = [], pyBwrap = [], pyHost = [], shBwrap = [];
  await run({ code: 'print(1)' }, '1\n');
  timed([...BWRAP, '/usr/bin/python3', '-c', 'print(1)'], '1\n');
  th0 = throttle(box.id);
  for (let i = 0; i < N_PY; i++) {
    const x = await run({ code: 'print(1)' }, '1\n');
    py.push(x.ms);
    pySrv.push(x.server);
    pyBwrap.push(timed([...BWRAP, '/usr/bin/python3', '-c', 'print(1)'], '1\n'));
    pyHost.push(timed(['/usr/bin/python3', '-c', 'print(1)'], '1\n'));
    shBwrap.push(timed([...BWRAP, '/bin/sh', '-c', 'echo hi'], 'hi\n'));
  }
  const pyThrottle = throttleDelta(th0, throttle(box.id));
  record('exec_python', { wall: stats(py), server_duration: stats(pySrv), bare_bwrap_python: stats(pyBwrap), host_python: stats(pyHost), bare_bwrap_echo: stats(shBwrap),
    ...(pyThrottle ? { cpu_throttle: pyThrottle } : {}) });
  await remove(box.id);
  live.delete(box.id);
}

async function phaseParallel() {
  const boxes = [];
  for (let i = 0; i < PAR_BOXES; i++) {
    const b = await createRunning();
    live.add(b.id);
    boxes.push(b.id);
  }
  const expect = spawnSync('/usr/bin/python3', ['-c', PAR_CODE], { encoding: 'utf8' }).stdout;
  const lat = [];
  const errors = [];
  const th0 = boxes.map(throttle);
  const t0 = now();
  await Promise.all(
    boxes.flatMap((id) =>
      Array.from({ length: PAR_EXECS }, async () => {
        const s = now();
        try {
          const r = await api('POST', `/sandboxes/${id}/exec`, { code: PAR_CODE });
          if (r.status !== 200 || r.json.exit_code !== 0 || r.json.stdout !== expect) errors.push(show(r));
        } catch (e) {
          errors.push(String(e));
        }
        lat.push(now() - s);
      }),
    ),
  );
  const wall = now() - t0;
  const th = boxes.map((id, i) => throttleDelta(th0[i], throttle(id))).filter(Boolean);
  const parThrottle = th.length ? { boxes: th.length, throttled: th.reduce((a, x) => a + x.throttled, 0), ms: r1(th.reduce((a, x) => a + x.ms, 0)) } : null;
  // the same work in bare bwrap, PAR_BOXES*PAR_EXECS processes at once, for scale
  const b0 = now();
  const bare = await Promise.all(
    Array.from({ length: PAR_BOXES * PAR_EXECS }, () =>
      new Promise((resolve) => {
        const c = spawn(BWRAP[0], [...BWRAP.slice(1), '/usr/bin/python3', '-c', PAR_CODE], { stdio: ['ignore', 'pipe', 'ignore'] });
        let out = '';
        c.stdout.on('data', (d) => (out += d));
        c.on('close', (code) => resolve(code === 0 && out === expect));
      }),
    ),
  );
  const bareWall = now() - b0;
  for (const e of errors.slice(0, 5)) console.error(`parallel exec error: ${e}`);
  record('parallel', { in_flight: PAR_BOXES * PAR_EXECS, errors: errors.length, wall_ms: r1(wall), latency: stats(lat),
    bare_bwrap_wall_ms: r1(bareWall), bare_errors: bare.filter((ok) => !ok).length, code: PAR_CODE, ...(parThrottle ? { cpu_throttle: parThrottle } : {}) });
  for (const id of boxes) {
    await remove(id);
    live.delete(id);
  }
}

function summary() {
  const res = {};
  for (const l of fs.readFileSync(RESULTS, 'utf8').split('\n').filter(Boolean)) {
    const j = JSON.parse(l);
    res[j.name] = j;
  }
  const f = (x) => (x === null || x === undefined || Number.isNaN(x) ? '–' : Number(x).toFixed(1));
  const verdict = (ok) => (ok ? 'PASS' : 'FAIL');
  const rows = [];
  const row = (...c) => rows.push(c);
  row('measure', 'p50 ms', 'p90 ms', 'reference (same phase)', 'ratio', 'target', '');
  for (const [name, label] of [['create_warm', 'create→running, warm pool 1'], ['create_cold', 'create→running, cold (pool 0)'], ['create_cold_nonet', 'create→running, cold, network off']]) {
    const c = res[name];
    if (!c) continue;
    const ratio = c.create.p50 / c.bare_bwrap.p50;
    const ok = ratio < 1.5 && c.create.p50 < 100;
    row(`${label}${name === 'create_warm' ? ` (${c.pooled}/${c.of} from the pool, ${c.wait_ms} ms between)` : ''}`, f(c.create.p50), f(c.create.p90),
      `bare bwrap true ${f(c.bare_bwrap.p50)} / ${f(c.bare_bwrap.p90)}`, `${ratio.toFixed(2)}×`, '< 1.5× and < 100 ms', verdict(ok));
  }
  const b = res.bare_pieces, cold = res.create_cold, nonet = res.create_cold_nonet;
  if (cold && nonet)
    row('  network\'s share (cold − network off, same rounds)', f(cold.create.p50 - nonet.create.p50), '', '', `${Math.round((100 * (cold.create.p50 - nonet.create.p50)) / cold.create.p50)}% of cold`, '', '');
  if (b?.net_routes) {
    row('  bare: bwrap up (info-fd), --dev replaced', f(b.net_bwrap.p50), f(b.net_bwrap.p90), '', '', '', '');
    row('  bare: + slirp4netns ready', f(b.net_slirp.p50), f(b.net_slirp.p90), '', '', '', '');
    row('  bare: + blackhole routes', f(b.net_routes.p50), f(b.net_routes.p90), '', cold ? `cold create ÷ this ${(cold.create.p50 / b.net_routes.p50).toFixed(2)}×` : '', '', '');
  }
  if (b?.bwrap_driver_mounts)
    row('  bare: bwrap true with the driver\'s mounts', f(b.bwrap_driver_mounts.p50), f(b.bwrap_driver_mounts.p90), '',
      nonet ? `network-off create ÷ this ${(nonet.create.p50 / b.bwrap_driver_mounts.p50).toFixed(2)}×` : '', '', '');
  if (b?.helper_seccomp) {
    row('  bare: the box\'s cgroups made (mkdir + limits)', f(b.cgroups.p50), f(b.cgroups.p90), '', '', '', '');
    row('  bare: helper + seccomp + that bwrap, in them', f(b.helper_seccomp.p50), f(b.helper_seccomp.p90), '', '', '', '');
    row('  bare: helper + seccomp + that bwrap, no cgroups', f(b.helper_seccomp_no_cgroups.p50), f(b.helper_seccomp_no_cgroups.p90), '', '', '', '');
  }
  for (const name of ['create_warm', 'create_cold', 'create_cold_nonet'])
    if (res[name]) row(`  DELETE (${name})`, f(res[name].delete.p50), f(res[name].delete.p90), '', '', '', '');
  const e = res.exec_echo, p = res.exec_python;
  if (e) row(`exec {command:"echo hi"} ×${e.wall.n}`, f(e.wall.p50), f(e.wall.p90),
    `server duration_ms ${f(e.server_duration.p50)}${p ? `; bare bwrap sh ${f(p.bare_bwrap_echo.p50)}` : ''}`, '', '< 30 ms', verdict(e.wall.p50 < 30));
  if (p) {
    const ratio = p.wall.p50 / p.bare_bwrap_python.p50;
    row(`exec {code:"print(1)"} ×${p.wall.n}`, f(p.wall.p50), f(p.wall.p90), `bare bwrap python3 ${f(p.bare_bwrap_python.p50)} / ${f(p.bare_bwrap_python.p90)}`,
      `${ratio.toFixed(2)}×`, '≤ 1.3× bare', verdict(ratio <= 1.3));
    row('  python3 -c on the host', f(p.host_python.p50), f(p.host_python.p90), '', `exec ÷ host ${(p.wall.p50 / p.host_python.p50).toFixed(2)}×`, '', '');
    if (p.cpu_throttle)
      row(`  box CPU quota hit during the ${p.wall.n} python execs`, '', '', `${p.cpu_throttle.throttled} of ${p.cpu_throttle.periods} periods throttled, ${f(p.cpu_throttle.ms)} ms in all`, '', '', '');
  }
  const q = res.parallel;
  if (q) row(`parallel: ${q.in_flight} execs in flight (${PAR_BOXES} boxes), ${q.code}`, f(q.latency.p50), `p99 ${f(q.latency.p99)}`,
    `wall ${f(q.wall_ms)} ms; bare bwrap, ${q.in_flight} at once: ${f(q.bare_bwrap_wall_ms)} ms${q.cpu_throttle ? `; boxes throttled ${q.cpu_throttle.throttled} periods` : ''}`, `${q.errors} errors`, '0 errors', verdict(q.errors === 0));
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  console.log('## summary');
  for (const r of rows) console.log(r.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd());
}

const phase = process.argv[2];
try {
  if (phase === 'create') await phaseCreate(process.argv.slice(3));
  else if (phase === 'exec') await phaseExec();
  else if (phase === 'parallel') await phaseParallel();
  else if (phase === 'summary') summary();
  else if (phase === 'bare') {
    // the physical side alone (no server): bare bwrap, and its networked pieces
    const bare = [], net = { bwrap: [], slirp: [], routes: [] };
    for (let i = 0; i < N; i++) {
      bare.push(bareBwrap());
      const b = await bareNetwork();
      for (const k of Object.keys(net)) net[k].push(b[k]);
    }
    record('bare', { bare_bwrap: stats(bare), ...Object.fromEntries(Object.entries(net).map(([k, v]) => [`bare_net_${k}`, stats(v)])) });
  }
  else throw new Error(`unknown phase ${phase}`);
} catch (e) {
  console.error(`sandboxes-driver ${phase}: ${e.stack || e}`);
  process.exitCode = 1;
} finally {
  for (const x of live) {
    const [base, id] = x.includes('|') ? x.split('|') : [env.BASE, x];
    await api('DELETE', `/sandboxes/${id}`, undefined, undefined, base).catch(() => {});
  }
  agent.destroy();
}
