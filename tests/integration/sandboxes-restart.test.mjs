// Sandboxes plugin across server deaths: after a SIGKILL of the server, no box process (bwrap,
// slirp4netns, what runs inside) outlives it for long; a restart on the same data dir reaps what
// is left (processes, cgroups, mounts) and reports every box of the previous run as stopped; new
// boxes work. Then the same after a clean SIGTERM.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  fmt,
  makeTempDir,
  pgrep,
  removeDir,
  sandboxesPlugin,
  sleep,
  spawnServer,
  stopServer,
  waitHealthy,
  withLogs,
  checks,
} from './harness.mjs';
import {
  boxProcesses as boxProcs,
  cgroupDirsMatching,
  exec,
  runningBox,
  sh,
  stillRunning,
} from './sandboxes-helpers.mjs';

const dataDir = makeTempDir('alpaca-sbx-restart-');
let server;
let adminToken;

async function start() {
  server = await spawnServer({ dataDir, adminToken: adminToken ?? undefined, plugins: sandboxesPlugin });
  adminToken = server.adminToken;
  await waitHealthy(server, 90000);
  return server;
}

after(async () => {
  if (server) await stopServer(server, 'SIGTERM', 15000).catch(() => {});
  // The embedded PostgreSQL of a SIGKILLed server may outlive it: stop what runs on our data dir.
  for (const pid of pgrep(dataDir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  removeDir(dataDir);
});

const t = (name, fn, timeout = 90000) => test(name, { timeout }, withLogs(() => server, fn));

const boxProcesses = (ids) => boxProcs(server.pid, ids);

const describe = (ps) => ps.map((p) => `${p.pid} ${p.comm}: ${p.cmdline.slice(0, 160)}`).join('\n  ');

async function waitGone(ps, ms) {
  const deadline = performance.now() + ms;
  let left = ps.filter(stillRunning);
  while (left.length && performance.now() < deadline) {
    await sleep(100);
    left = left.filter(stillRunning);
  }
  return left;
}

function mountsMentioning(ids) {
  const out = [];
  for (const f of ['/proc/mounts', '/proc/self/mountinfo']) {
    const text = fs.readFileSync(f, 'utf8');
    for (const line of text.split('\n')) if (ids.some((id) => line.includes(id))) out.push(`${f}: ${line}`);
  }
  return out;
}

async function checkAllStopped(ids, c) {
  for (const id of ids) {
    await c.run(async () => {
      const r = await server.api('GET', `/sandboxes/${id}`);
      assert.equal(r.status, 200, fmt(r));
      assert.equal(r.json.status, 'stopped', `${id} after restart: ${fmt(r)}`);
    });
    await c.run(async () => {
      const r = await server.request('POST', `/sandboxes/${id}/exec`, { token: adminToken, body: { command: 'echo hi' } });
      assert.equal(r.status, 409, `exec on ${id} after restart: ${fmt(r)}`);
    });
  }
  await c.run(async () => {
    const list = await server.api('GET', '/sandboxes');
    for (const id of ids) assert.equal(list.json.find((x) => x.id === id)?.status, 'stopped', `${id} in the list: ${fmt(list)}`);
  });
}

before(async () => {
  await start();
});

t('SIGKILL of the server: box processes end, a restart reports the boxes stopped and leaves no cgroup or mount; new boxes work', async (tc) => {
  const a = await runningBox(server, adminToken, 'python', 'before-crash-a');
  const b = await runningBox(server, adminToken, 'shell', 'before-crash-b');
  const ids = [a.id, b.id];
  assert.equal(await sh(server, adminToken, a.id, 'echo a'), 'a\n');
  assert.equal(await sh(server, adminToken, b.id, 'echo b'), 'b\n');
  // an exec in flight when the server dies
  const inflight = server
    .request('POST', `/sandboxes/${b.id}/exec`, { token: adminToken, body: { command: 'sleep 77123' }, timeoutMs: 60000 })
    .catch((e) => e);
  await sleep(500);
  const boxes = boxProcesses(ids);
  assert.ok(boxes.length >= 2, `found the boxes' host processes (else this test proves nothing):\n  ${describe(boxes)}`);
  assert.ok(boxes.some((p) => p.cmdline.includes('sleep 77123')), `the in-flight exec's sleep is among them:\n  ${describe(boxes)}`);
  const cgroupsBefore = cgroupDirsMatching(ids);
  tc.diagnostic(`cgroups named by the box ids before the crash: ${cgroupsBefore.length}`);

  server.child.kill('SIGKILL');
  await server.exited;
  const r = await inflight;
  assert.ok(r instanceof Error || r.status >= 500, 'the in-flight exec did not complete normally');

  const c = checks();
  const left = await waitGone(boxes, 5000);
  await c.run(async () => assert.deepEqual(left.map((p) => p.pid), [], `box processes alive 5 s after the SIGKILL:\n  ${describe(left)}`));

  await start();
  const stillLeft = await waitGone(boxes, 3000);
  await c.run(async () => assert.deepEqual(stillLeft.map((p) => p.pid), [], `box processes alive after the restart:\n  ${describe(stillLeft)}`));
  await c.run(async () => assert.deepEqual(pgrep('sleep 77123'), [], 'the in-flight sleep survived'));
  await checkAllStopped(ids, c);
  await c.run(async () => assert.deepEqual(mountsMentioning(ids), [], 'mounts naming a box'));
  await c.run(async () =>
    assert.deepEqual(cgroupDirsMatching(ids), [], `cgroups of the old boxes remain (before the crash: ${cgroupsBefore.join(', ') || 'none named by id'})`),
  );
  // new boxes work
  const n = await runningBox(server, adminToken, 'python', 'after-crash');
  const e = await exec(server, adminToken, n.id, { code: 'print(6*7)' });
  await c.run(async () => assert.equal(e.stdout, '42\n'));
  c.done();
});

t('SIGTERM of the server: its boxes end with it; after a restart they report stopped', async () => {
  const a = await runningBox(server, adminToken, 'shell', 'before-term');
  const ids = [a.id];
  await sh(server, adminToken, a.id, 'echo up');
  const boxes = boxProcesses(ids);
  assert.ok(boxes.length >= 1, `found the box's host processes:\n  ${describe(boxes)}`);
  const stopped = await stopServer(server, 'SIGTERM', 15000);
  assert.equal(stopped.code, 0, `exit code ${stopped.code} signal ${stopped.signal}\n${server.logTail(40)}`);
  assert.ok(!stopped.timedOut, 'SIGTERM did not stop the server in 15 s');
  const left = boxes.filter(stillRunning);
  const c = checks();
  await c.run(async () => assert.deepEqual(left.map((p) => p.pid), [], `box processes alive after a clean stop:\n  ${describe(left)}`));
  await start();
  await checkAllStopped(ids, c);
  const all = (await server.api('GET', '/sandboxes')).json;
  await c.run(async () =>
    assert.deepEqual(all.filter((x) => x.status !== 'stopped').map((x) => `${x.id}:${x.status}`), [], 'every box of the earlier runs is stopped'),
  );
  c.done();
});
