// Sandboxes plugin: escape attempts from inside a box, each contained, with concrete evidence:
// identity and privileges (uid 1000, no capabilities, no-new-privs, seccomp), host files, host
// processes, the server's port and Postgres, private/link-local/host routes (by the routing table
// and route lookups only: no traffic leaves for a non-loopback address), ptrace/mount/unshare/
// keyrings, fork bomb, memory hog, disk fill, output flood, leftover processes, symlinks and path
// tricks through the files API, the read-only root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startServer,
  disposeServer,
  findSocket,
  fmt,
  pgrep,
  randomHex,
  repoRoot,
  sandboxesPlugin,
  serverBin,
  sleep,
  withLogs,
  checks,
} from './harness.mjs';
import {
  configDefault,
  exec,
  hostPidCount,
  boxProcesses,
  descendants,
  isPostgres,
  pyJson,
  runningBox,
  sh,
} from './sandboxes-helpers.mjs';

let server, A, py, victim;
const hostMarkers = []; // host paths this suite created, removed at the end

before(async () => {
  server = await startServer({ plugins: sandboxesPlugin, healthTimeoutMs: 90000 });
  A = server.adminToken;
  [py, victim] = await Promise.all([runningBox(server, A, 'python', 'escape'), runningBox(server, A, 'shell', 'victim')]);
});
after(async () => {
  await disposeServer(server);
  for (const p of hostMarkers) fs.rmSync(p, { recursive: true, force: true });
});

const t = (name, fn, timeout = 60000) => test(name, { timeout }, withLogs(() => server, fn));
const api = (method, p, o = {}) => server.request(method, p, { token: A, ...o });
const run = (id, body, ms) => exec(server, A, id, body, ms);
const py_ = (program) => pyJson(server, A, py.id, program);
const hostShadowHead = (() => {
  try {
    return fs.readFileSync('/etc/shadow', 'utf8').split('\n')[0];
  } catch {
    return 'root:';
  }
})();

t('identity: uid 1000, no capabilities, no-new-privs, seccomp filter', async (tc) => {
  const s = await py_(`
import os, json
st = {}
for line in open('/proc/self/status'):
    k, _, v = line.partition(':')
    st[k] = v.strip()
print(json.dumps({'uid': os.getuid(), 'euid': os.geteuid(), 'gid': os.getgid(),
  **{k: st.get(k) for k in ['CapEff', 'CapPrm', 'CapInh', 'CapAmb', 'CapBnd', 'NoNewPrivs', 'Seccomp']}}))
`);
  assert.equal(s.uid, 1000);
  assert.equal(s.euid, 1000);
  assert.equal(s.CapEff, '0000000000000000');
  assert.equal(s.CapPrm, '0000000000000000');
  assert.equal(s.CapInh, '0000000000000000');
  assert.equal(s.CapAmb, '0000000000000000');
  assert.equal(s.NoNewPrivs, '1');
  assert.equal(s.Seccomp, '2');
  // the same through a shell, as a user would look
  const out = await sh(server, A, victim.id, "id -u; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status | tr -d '\\t '");
  assert.equal(out, '1000\nCapEff:0000000000000000\nNoNewPrivs:1\nSeccomp:2\n');
  // For the report: how a box process looks from the host (uid 1000 inside maps to which host uid).
  const running = run(victim.id, { command: 'sleep 2; echo slept' });
  await sleep(700);
  const seen = [];
  for (const p of descendants(server.pid)) {
    if (isPostgres(p)) continue;
    try {
      const st = fs.readFileSync(`/proc/${p.pid}/status`, 'utf8');
      seen.push(`${p.comm}:uid=${/^Uid:\s+(\d+)/m.exec(st)?.[1]}`);
    } catch {}
  }
  tc.diagnostic(`host view of the server's non-postgres descendants: ${seen.join(' ')}`);
  assert.equal((await running).stdout, 'slept\n');
});

t("the host's files are absent: /etc/shadow, the data dir, the repo, /root, the host /tmp, the Postgres socket", async () => {
  const marker = `/tmp/alpaca-sbx-marker-${randomHex(6)}`;
  fs.writeFileSync(marker, 'host secret');
  hostMarkers.push(marker);
  const sock = findSocket(server.dataDir);
  assert.ok(sock, 'the embedded cluster has a socket (the check below means something)');
  const sockPath = path.join(sock.dir, `.s.PGSQL.${sock.port}`);
  assert.ok(fs.existsSync(sockPath), `host socket ${sockPath}`);
  const paths = [
    '/etc/shadow',
    '/etc/gshadow',
    server.dataDir,
    path.dirname(server.dataDir) === '/tmp' ? null : path.dirname(server.dataDir),
    sock.dir,
    sockPath,
    repoRoot,
    serverBin,
    '/root',
    '/root/.ssh',
    marker,
    '/var/run/docker.sock',
    '/run/docker.sock',
    '/work',
    '/var/lib/postgresql',
    '/home/user/../../root',
  ].filter(Boolean);
  const seen = await py_(`
import os, json
paths = ${JSON.stringify(paths)}
print(json.dumps({p: os.path.lexists(p) for p in paths}))
`);
  const present = Object.entries(seen).filter(([, v]) => v).map(([k]) => k);
  assert.deepEqual(present, [], `host paths visible inside the box: ${present.join(', ')}`);
  const e = await run(victim.id, { command: 'cat /etc/shadow' });
  assert.notEqual(e.exit_code, 0);
  assert.equal(e.stdout, '');
  assert.ok(!e.stderr.includes(hostShadowHead));
  const ls = await sh(server, A, victim.id, 'ls -a /tmp');
  assert.ok(!ls.includes(path.basename(marker)), `host /tmp listed inside: ${ls}`);
  // and the other way: what the box writes to its /tmp is not in the host's
  const inner = `alpaca-sbx-inner-${randomHex(6)}`;
  await sh(server, A, victim.id, `echo x > /tmp/${inner}`);
  assert.equal(fs.existsSync(`/tmp/${inner}`), false, 'the box /tmp is the host /tmp');
  assert.equal(await sh(server, A, victim.id, `cat /tmp/${inner}`), 'x\n');
});

t('host processes are invisible: a few pids, no server/postgres, kill(server pid) → ESRCH', async () => {
  const s = await py_(`
import os, json
pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
cmds = {}
for p in pids:
    try:
        cmds[p] = open('/proc/%d/cmdline' % p, 'rb').read().replace(b'\\0', b' ').decode(errors='replace')
    except Exception as e:
        cmds[p] = '?' + type(e).__name__
res = {'pids': pids, 'cmds': cmds}
try:
    os.kill(${server.pid}, 0)
    res['kill'] = 'alive'
except ProcessLookupError:
    res['kill'] = 'ESRCH'
except PermissionError:
    res['kill'] = 'EPERM'
print(json.dumps(res))
`);
  assert.ok(s.pids.length <= 10, `${s.pids.length} processes visible: ${JSON.stringify(s.cmds)}`);
  const all = Object.values(s.cmds).join('\n');
  assert.doesNotMatch(all, /alpaca-server|postgres|node --test|slirp4netns|systemd|sshd/, `host processes visible: ${all}`);
  if (!s.pids.includes(server.pid)) assert.equal(s.kill, 'ESRCH', `kill(${server.pid}, 0) inside: ${s.kill}`);
  const count = Number(await sh(server, A, victim.id, "ls /proc | grep -c '^[0-9]'"));
  assert.ok(count >= 1 && count <= 10, `ls /proc shows ${count} pids`);
  assert.ok(hostPidCount() > count + 10, 'the host has many more processes (the count above means something)');
});

t("the server's port and Postgres are unreachable (127.0.0.1, 10.0.2.2, unix socket); the box's own loopback works", async () => {
  const sock = findSocket(server.dataDir);
  const s = await py_(`
import socket, json
def tcp(host, port, t=3):
    s = socket.socket()
    s.settimeout(t)
    try:
        s.connect((host, port))
        return 'connected'
    except Exception as e:
        return '%s:%s' % (type(e).__name__, getattr(e, 'errno', ''))
    finally:
        s.close()
res = {}
l = socket.socket()
l.bind(('127.0.0.1', 0))
l.listen()
res['control'] = tcp('127.0.0.1', l.getsockname()[1])
res['server_lo'] = tcp('127.0.0.1', ${server.port})
res['server_gw'] = tcp('10.0.2.2', ${server.port})
res['pg_lo'] = tcp('127.0.0.1', ${sock.port})
res['pg_gw'] = tcp('10.0.2.2', ${sock.port})
u = socket.socket(socket.AF_UNIX)
try:
    u.connect(${JSON.stringify(path.join(sock.dir, `.s.PGSQL.${sock.port}`))})
    res['pg_unix'] = 'connected'
except Exception as e:
    res['pg_unix'] = type(e).__name__
print(json.dumps(res))
`);
  assert.equal(s.control, 'connected', `the probe can see a success: ${JSON.stringify(s)}`);
  for (const k of ['server_lo', 'server_gw', 'pg_lo', 'pg_gw', 'pg_unix'])
    assert.notEqual(s[k], 'connected', `${k} reachable from the box: ${JSON.stringify(s)}`);
  // The server answered nothing from the box: no request reached it from an unknown peer.
  const r = await api('GET', '/health');
  assert.equal(r.status, 200);
});

t("private ranges, CGNAT, link-local and the host's own addresses are routed nowhere (routing table, no traffic)", async () => {
  const hostAddrs = Object.values(os.networkInterfaces())
    .flat()
    .filter((a) => a && a.family === 'IPv4' && !a.internal)
    .map((a) => a.address);
  const targets = [
    '10.1.2.3',
    '10.255.255.1',
    '172.16.0.1',
    '172.31.255.254',
    '192.168.0.1',
    '192.168.255.254',
    '100.64.0.1',
    '169.254.169.254',
    ...hostAddrs,
  ];
  // Route lookups only: /proc/net/route's best match, and connect() on a UDP socket, which asks the
  // kernel for a route and sends nothing.
  const s = await py_(`
import socket, struct, json, subprocess
def ip(h):
    # /proc/net/route prints each __be32 as a native (little-endian) integer in hex
    return int(h, 16)
routes = []
with open('/proc/net/route') as f:
    next(f)
    for line in f:
        p = line.split()
        routes.append({'iface': p[0], 'dest': ip(p[1]), 'gw': ip(p[2]), 'flags': int(p[3], 16), 'mask': ip(p[7]),
                       'text': '%s %s/%s gw %s flags %s' % (p[0], socket.inet_ntoa(bytes.fromhex(p[1])[::-1]), socket.inet_ntoa(bytes.fromhex(p[7])[::-1]), socket.inet_ntoa(bytes.fromhex(p[2])[::-1]), p[3])})
def best(addr):
    a = struct.unpack('=I', socket.inet_aton(addr))[0]
    m = [r for r in routes if (a & r['mask']) == r['dest']]
    if not m:
        return None
    return max(m, key=lambda r: bin(r['mask']).count('1'))
def udp(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect((addr, 9))
        return 'routed'
    except OSError as e:
        return 'E%d' % e.errno
    finally:
        s.close()
res = {'routes': [r['text'] for r in routes], 'targets': {}}
for t in ${JSON.stringify(targets)} + ['1.1.1.1']:
    b = best(t)
    res['targets'][t] = {'route': b and b['text'], 'reject': b is None or bool(b['flags'] & 0x0200) or b['iface'] == '*', 'udp': udp(t)}
try:
    res['ip_route'] = subprocess.run(['ip', '-4', 'route', 'show', 'table', 'all'], capture_output=True, text=True, timeout=5).stdout
except Exception as e:
    res['ip_route'] = repr(e)
print(json.dumps(res))
`);
  const info = `routes:\n  ${s.routes.join('\n  ')}\nip route:\n${s.ip_route}`;
  assert.equal(s.targets['1.1.1.1'].udp, 'routed', `a public address has a route (network on; the probe can see success): ${info}`);
  const c = checks();
  for (const target of targets) {
    const r = s.targets[target];
    await c.run(async () => assert.notEqual(r.udp, 'routed', `${target}: the kernel has a route for it (best match: ${r.route})`));
    await c.run(async () => assert.equal(r.reject, true, `${target}: /proc/net/route's best match is not a blackhole/unreachable route: ${r.route}`));
  }
  try {
    c.done();
  } catch (e) {
    e.message += `\n${info}`;
    throw e;
  }
});

t('ptrace, mount, unshare and keyrings are refused (EPERM)', async () => {
  const s = await py_(`
import ctypes, ctypes.util, os, json, errno, platform, subprocess
libc = ctypes.CDLL(None, use_errno=True)
def call(f, *a):
    ctypes.set_errno(0)
    r = f(*a)
    e = ctypes.get_errno()
    return [r, errno.errorcode.get(e, str(e)) if r == -1 else '']
res = {}
res['ptrace_traceme'] = call(libc.ptrace, 0, 0, 0, 0)
child = subprocess.Popen(['sleep', '30'])
res['ptrace_attach'] = call(libc.ptrace, 16, child.pid, 0, 0)
child.kill()
child.wait()
os.makedirs('/tmp/mnt', exist_ok=True)
res['mount'] = call(libc.mount, b'none', b'/tmp/mnt', b'tmpfs', 0, None)
res['unshare_user'] = call(libc.unshare, 0x10000000)
res['unshare_mount'] = call(libc.unshare, 0x00020000)
res['unshare_net'] = call(libc.unshare, 0x40000000)
res['machine'] = platform.machine()
if platform.machine() == 'x86_64':
    res['keyctl'] = call(libc.syscall, ctypes.c_long(250), ctypes.c_long(0), ctypes.c_long(-3), ctypes.c_long(1))
    res['add_key'] = call(libc.syscall, ctypes.c_long(248), b'user', b'alpaca', b'x', ctypes.c_long(1), ctypes.c_long(-3))
print(json.dumps(res))
`);
  const c = checks();
  for (const k of ['ptrace_traceme', 'ptrace_attach', 'mount', 'unshare_user', 'unshare_mount', 'unshare_net'])
    await c.run(async () => assert.deepEqual(s[k], [-1, 'EPERM'], `${k}: ${JSON.stringify(s[k])}`));
  if (s.machine === 'x86_64')
    for (const k of ['keyctl', 'add_key'])
      await c.run(async () => assert.deepEqual(s[k], [-1, 'EPERM'], `${k}: ${JSON.stringify(s[k])}`));
  const e = await run(victim.id, { command: 'unshare -r true; echo "rc=$?"; unshare -m true; echo "rc=$?"' });
  await c.run(async () => assert.match(e.stdout, /^rc=[1-9]\d*\nrc=[1-9]\d*\n$/, `unshare succeeded: ${e.stdout} ${e.stderr}`));
  await c.run(async () => assert.equal(fs.existsSync('/tmp/mnt'), false, 'the box /tmp/mnt is not the host one'));
  c.done();
});

t('fork bomb: the exec returns (timeout), pids are capped, the sandbox still works, nothing is left running', async (tc) => {
  const pidsLimit = victim.limits?.pids ?? configDefault('sandboxes.pids', 256);
  const mine = () => boxProcesses(server.pid, [victim.id]).length; // this server's box processes on the host
  const base = mine();
  const hostBase = hostPidCount();
  // A fork spree whose children wait: fork fails (EAGAIN) at the pids limit; the exec then
  // returns without waiting for the waiting children (not timed out).
  let e = await run(victim.id, {
    command: `python3 -c "
import os, sys, time
n = 0
while True:
    try:
        pid = os.fork()
    except OSError as e:
        print('failed after', n, e.errno, flush=True)
        break
    if pid == 0:
        time.sleep(120)
        os._exit(0)
    n += 1
    if n % 50 == 0:
        print('forked', n, flush=True)
"`,
    timeout_ms: 40000,
  });
  const m = /^failed after (\d+) (\d+)$/m.exec(e.stdout);
  assert.ok(m, `the fork spree never failed: ${JSON.stringify(e.res.json).slice(0, 500)}`);
  assert.ok(Number(m[1]) < pidsLimit, `${m[1]} forks succeeded, limit ${pidsLimit}`);
  assert.ok(Number(m[1]) > 10, `only ${m[1]} forks: the limit is not the pids limit`);
  assert.equal(Number(m[2]), 11, 'EAGAIN');
  assert.equal(e.timed_out, false, `the exec waited for its leftover children until the timeout (${Math.round(e.wall)} ms)`);
  assert.equal(e.exit_code, 0);
  // The real thing: every process forks forever.
  let peak = 0;
  let hostPeak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, mine());
    hostPeak = Math.max(hostPeak, hostPidCount());
  }, 150);
  try {
    e = await run(victim.id, {
      command: `python3 -c "
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"`,
      timeout_ms: 5000,
    });
  } finally {
    clearInterval(sampler);
  }
  assert.equal(e.timed_out, true, JSON.stringify(e.res.json).slice(0, 500));
  assert.equal(e.exit_code, 137);
  assert.ok(e.wall < 20000, `the fork bomb's exec took ${Math.round(e.wall)} ms`);
  assert.ok(peak > 20, `the bomb ran (peak ${peak} box processes; else this proves nothing)`);
  assert.ok(peak <= pidsLimit + base + 5, `box processes peaked at ${peak} (pids limit ${pidsLimit}, ${base} before)`);
  // The bomb's processes are gone soon after the exec returned (killed, not left to the TTL).
  const t0 = performance.now();
  let after = mine();
  while (after > base + 2 && performance.now() - t0 < 5000) {
    await sleep(100);
    after = mine();
  }
  tc.diagnostic(`box processes: ${base} before, peak ${peak}, ${after} ${Math.round(performance.now() - t0)} ms after the exec returned; host: ${hostBase} before, peak ${hostPeak}, now ${hostPidCount()}`);
  if (after > base + 2) {
    const groups = {};
    for (const p of boxProcesses(server.pid, [victim.id])) {
      const st = (() => {
        try {
          const x = fs.readFileSync(`/proc/${p.pid}/stat`, 'utf8');
          return x.slice(x.lastIndexOf(')') + 2).split(' ')[0];
        } catch {
          return 'gone';
        }
      })();
      const k = `${p.comm} [${st}]`;
      groups[k] = (groups[k] || 0) + 1;
    }
    assert.fail(`box processes 5 s after the exec returned: ${after}, before: ${base}: ${JSON.stringify(groups)}`);
  }
  assert.equal(await sh(server, A, victim.id, 'echo alive'), 'alive\n');
  const n = Number(await sh(server, A, victim.id, "ls /proc | grep -c '^[0-9]'"));
  assert.ok(n <= 10, `${n} processes left in the box`);
  const st = await api('GET', `/sandboxes/${victim.id}`);
  assert.equal(st.json.status, 'running', fmt(st));
}, 90000);

t('memory hog (1 GiB, pages touched): out_of_memory, exit 137, a line on stderr; the sandbox stays running', async () => {
  const e = await run(victim.id, {
    code: 'b = bytearray(1 << 30)\nfor i in range(0, len(b), 4096):\n    b[i] = 1\nprint("survived", len(b))',
    language: 'python',
    timeout_ms: 30000,
  });
  assert.equal(e.out_of_memory, true, JSON.stringify(e.res.json).slice(0, 500));
  assert.equal(e.exit_code, 137);
  assert.equal(e.timed_out, false);
  assert.doesNotMatch(e.stdout, /survived/);
  assert.match(e.stderr, /memory/i, 'a line on stderr says so');
  const st = await api('GET', `/sandboxes/${victim.id}`);
  assert.equal(st.json.status, 'running', fmt(st));
  assert.equal(await sh(server, A, victim.id, 'echo next'), 'next\n');
  // a process within the limit is fine
  const ok = await run(victim.id, { code: 'b = bytearray(100 << 20)\nprint(len(b) >> 20)', language: 'python' });
  assert.deepEqual([ok.stdout, ok.exit_code, ok.out_of_memory], ['100\n', 0, false]);
}, 60000);

t('disk fill: dd 2000 MB into /app fails with no space; nothing lands on the host disk; rm frees it', async () => {
  const du = () => {
    let total = 0;
    const walk = (d) => {
      let ents;
      try {
        ents = fs.readdirSync(d, { withFileTypes: true });
      } catch {
        return;
      }
      for (const x of ents) {
        const f = path.join(d, x.name);
        try {
          if (x.isDirectory()) walk(f);
          else if (x.isFile()) total += fs.statSync(f).size;
        } catch {}
      }
    };
    walk(server.dataDir);
    return total;
  };
  // its own box: a full box must not take the other tests down with it
  const box = await runningBox(server, A, 'shell', 'disk');
  try {
    await diskFill(box, du);
  } finally {
    await api('DELETE', `/sandboxes/${box.id}`);
  }
}, 90000);

async function diskFill(box, du) {
  const before = du();
  const freeBefore = fs.statfsSync(server.dataDir);
  const e = await run(box.id, { command: 'dd if=/dev/zero of=/app/fill bs=1M count=2000', timeout_ms: 60000 });
  assert.notEqual(e.exit_code, 0, `dd succeeded: ${e.stderr}`);
  assert.match(e.stderr, /No space left on device/, JSON.stringify(e.res.json).slice(0, 500));
  assert.equal(e.out_of_memory, false, 'the disk limit, not the memory limit, stopped dd');
  const size = Number((await sh(server, A, box.id, 'stat -c %s /app/fill')).trim());
  const diskMb = box.limits?.disk_mb ?? configDefault('sandboxes.disk_mb', 512);
  assert.ok(size <= diskMb * 1024 * 1024 && size > diskMb * 1024 * 1024 * 0.8, `/app/fill is ${size} bytes, disk_mb ${diskMb}`);
  const grown = du() - before;
  assert.ok(grown < 20 * 1024 * 1024, `the data dir grew by ${grown} bytes`);
  const freeAfter = fs.statfsSync(server.dataDir);
  const lost = (freeBefore.bavail - freeAfter.bavail) * freeAfter.bsize;
  assert.ok(lost < 200 * 1024 * 1024, `the host disk lost ${lost} bytes`);
  // the box is full but alive: the API reports it, rm frees it
  const full = await api('PUT', `/sandboxes/${box.id}/files/app/more.txt`, { body: { content: 'x'.repeat(100000) } });
  assert.equal(full.status, 507, fmt(full));
  assert.equal(await sh(server, A, box.id, 'rm /app/fill && echo freed'), 'freed\n');
  const put = await api('PUT', `/sandboxes/${box.id}/files/app/after.txt`, { body: { content: 'fine' } });
  assert.equal(put.status, 201, fmt(put));
  assert.equal(await sh(server, A, box.id, 'cat /app/after.txt'), 'fine');
}

t('output flood: yes with timeout 2000 → returns, truncated at output_limit, timed out', async () => {
  const limit = victim.limits?.output_limit ?? configDefault('sandboxes.output_limit', 1048576);
  const e = await run(victim.id, { command: 'yes', timeout_ms: 2000 });
  assert.equal(e.timed_out, true);
  assert.equal(e.truncated, true);
  assert.equal(e.exit_code, 137);
  assert.equal(Buffer.byteLength(e.stdout), limit, `stdout is ${Buffer.byteLength(e.stdout)} bytes, limit ${limit}`);
  assert.ok(/^(y\n)+y?$/.test(e.stdout), 'stdout is yes output');
  assert.ok(e.wall < 10000, `returned after ${Math.round(e.wall)} ms`);
  assert.equal(await sh(server, A, victim.id, 'echo after-flood'), 'after-flood\n');
});

t('background processes left by an exec are killed when it returns (also setsid/nohup ones)', async () => {
  const e = await run(victim.id, {
    command: 'sleep 91357 & setsid sleep 91358 & nohup sleep 91359 >/dev/null 2>&1 & echo started',
    timeout_ms: 20000,
  });
  assert.equal(e.stdout, 'started\n');
  assert.equal(e.timed_out, false, 'the exec waited for its background children');
  assert.ok(e.wall < 15000, `the exec returned after ${Math.round(e.wall)} ms (its children sleep ~25 h)`);
  await sleep(300);
  const seen = await pyJson(server, A, victim.id, `
import os, json
out = []
for p in os.listdir('/proc'):
    if p.isdigit():
        try:
            c = open('/proc/%s/cmdline' % p, 'rb').read().replace(b'\\0', b' ').decode()
        except Exception:
            continue
        if 'sleep 9135' in c:
            out.append(c)
print(json.dumps(out))
`);
  assert.deepEqual(seen, [], 'leftover processes inside the box');
  let host = [];
  for (let i = 0; i < 20; i++) {
    host = pgrep('sleep 9135');
    if (!host.length) break;
    await sleep(100);
  }
  assert.deepEqual(host, [], 'leftover processes on the host');
});

t('symlinks planted inside do not lead the files API out of the box', async () => {
  const hostDir = `/tmp/alpaca-sbx-hostdir-${randomHex(6)}`;
  fs.mkdirSync(hostDir);
  hostMarkers.push(hostDir);
  fs.writeFileSync(path.join(hostDir, 'secret.txt'), 'host-only');
  await sh(
    server,
    A,
    py.id,
    [
      'ln -s /etc /app/etc-link',
      'ln -s / /app/root-link',
      'ln -s /etc/shadow /app/shadow-link',
      `ln -s ${hostDir} /app/hostdir-link`,
      `ln -s ${repoRoot} /app/repo-link`,
      `ln -s ${server.dataDir} /app/data-link`,
      'ln -s /proc/1/root /app/proc-link',
      'ln -s ../../etc /app/rel-link',
    ].join(' && '),
  );
  const c = checks();
  const is4xx = (r, what) => assert.ok(r.status >= 400 && r.status < 500, `${what}: ${fmt(r)}`);
  const cases = [
    ['PUT', 'app/root-link/etc/evil'],
    ['PUT', 'app/etc-link/evil2'],
    ['PUT', `app/hostdir-link/evil3`],
    ['PUT', 'app/data-link/evil4'],
    ['PUT', 'app/rel-link/evil5'],
    ['PUT', 'app/shadow-link'],
    ['GET', 'app/etc-link/shadow'],
    ['GET', 'app/root-link/etc/shadow'],
    ['GET', 'app/shadow-link'],
    ['GET', 'app/hostdir-link/secret.txt'],
    ['GET', 'app/repo-link/README.md'],
    ['GET', 'app/data-link/sandboxes'],
    ['GET', 'app/proc-link/etc/hostname'],
    ['GET', 'app/rel-link/shadow'],
  ];
  for (const [method, p] of cases) {
    await c.run(async () => {
      const r = await api(method, `/sandboxes/${py.id}/files/${p}`, method === 'PUT' ? { body: { content: 'pwned' } } : {});
      is4xx(r, `${method} ${p}`);
      assert.ok(!r.text.includes(hostShadowHead) && !r.text.includes('host-only') && !r.text.includes('# Alpaca'), `${p} leaked host content`);
    });
  }
  // a symlink as the last part is 400
  await c.run(async () => assert.equal((await api('GET', `/sandboxes/${py.id}/files/app/shadow-link`)).status, 400));
  await c.run(async () => assert.equal((await api('PUT', `/sandboxes/${py.id}/files/app/shadow-link`, { body: { content: 'x' } })).status, 400));
  c.done();
  for (const p of ['/etc/evil', '/etc/evil2', path.join(hostDir, 'evil3'), path.join(server.dataDir, 'evil4'), '/evil5', '/etc/evil5'])
    assert.equal(fs.existsSync(p), false, `${p} appeared on the host`);
  assert.deepEqual(fs.readdirSync(hostDir), ['secret.txt']);
  const inside = await sh(server, A, py.id, 'ls /etc/evil /etc/evil2 2>&1; readlink /app/shadow-link; true');
  assert.doesNotMatch(inside, /^\/etc\/evil2?$/m, `a write through a link landed inside the box's read-only /etc: ${inside}`);
  assert.match(inside, /^\/etc\/shadow$/m, 'the planted link itself is untouched');
});

t('files API path tricks: .., encoded .., /proc, /sys, /dev, NUL → 400/404, nothing read or written', async () => {
  const passwdHead = fs.readFileSync('/etc/passwd', 'utf8').split('\n')[0];
  const tag = randomHex(6);
  const c = checks();
  const base = `/sandboxes/${py.id}/files`;
  const reads = [
    [`${base}/../../etc/passwd`, [400, 404]],
    [`${base}/%2e%2e/%2e%2e/etc/passwd`, [400, 404]],
    [`${base}/app/..%2f..%2fetc%2fpasswd`, [400, 404]],
    [`${base}/app/../../etc/passwd`, [400, 404]],
    [`${base}/app/%2e%2e/%2e%2e/%2e%2e/etc/shadow`, [400, 404]],
    [`${base}/proc/1/root/etc/shadow`, [400, 404]],
    [`${base}/proc/self/root/etc/passwd`, [400, 404]],
    [`${base}/proc/self/environ`, [400, 404]],
    [`${base}/proc/self/cmdline`, [400, 404]],
    [`${base}/sys/class/net/lo/address`, [400, 404]],
    [`${base}/dev/zero`, [400, 404]],
    [`${base}/app/x%00/../../etc/passwd`, [400, 404]],
    [`${base}//etc/shadow`, [400, 404]],
  ];
  for (const [p, want] of reads) {
    await c.run(async () => {
      const r = await server.request('GET', p, { token: A, timeoutMs: 10000 });
      assert.ok(want.includes(r.status), `GET ${p}: ${fmt(r)}`);
      assert.ok(!r.text.includes(passwdHead) && !r.text.includes(hostShadowHead), `GET ${p} leaked a host file`);
      assert.ok(!r.text.includes(server.adminToken), `GET ${p} leaked the server's environment`);
    });
  }
  const writes = [
    `${base}/../../tmp/evil-${tag}`,
    `${base}/%2e%2e/%2e%2e/tmp/evil-${tag}`,
    `${base}/app/..%2f..%2f..%2ftmp%2fevil-${tag}`,
    `${base}/proc/self/root/tmp/evil-${tag}`,
    `${base}/proc/1/root/tmp/evil-${tag}`,
    `${base}/app/evil-${tag}%00.txt`,
  ];
  for (const p of writes) {
    await c.run(async () => {
      const r = await server.request('PUT', p, { token: A, body: { content: 'pwned' } });
      assert.ok([400, 404].includes(r.status), `PUT ${p}: ${fmt(r)}`);
    });
  }
  c.done();
  assert.equal(fs.existsSync(`/tmp/evil-${tag}`), false, 'a traversal wrote on the host');
  const inside = await sh(server, A, py.id, `ls /tmp/evil-${tag} /app/evil-${tag}* 2>/dev/null; true`);
  assert.equal(inside, '', `a refused write landed inside the box: ${inside}`);
});

t('the root is read-only inside; /usr and /etc cannot be written by code or the files API', async () => {
  const out = await sh(server, A, victim.id, 'for p in /usr/evil /etc/evil /evil /usr/bin/python3; do (echo x >> $p) 2>/dev/null && echo "wrote $p" || echo "refused $p"; done');
  assert.equal(out, 'refused /usr/evil\nrefused /etc/evil\nrefused /evil\nrefused /usr/bin/python3\n');
  for (const p of ['usr/evil', 'usr/bin/evil', 'etc/evil']) {
    const r = await api('PUT', `/sandboxes/${victim.id}/files/${p}`, { body: { content: 'x' } });
    assert.equal(r.status, 403, `PUT ${p}: ${fmt(r)}`);
  }
  for (const p of ['/usr/evil', '/usr/bin/evil', '/etc/evil']) assert.equal(fs.existsSync(p), false, `${p} on the host`);
  // the host's python is intact
  assert.ok(fs.statSync('/usr/bin/python3').size > 0);
});
