// The /sandboxes API on the Docker driver (sandboxes.driver=docker) against Debian's docker.io
// engine (scripts/start-docker.sh starts it). The image is made here with `docker import` (no
// registry is reachable): an empty skeleton whose /usr is the host's, bound read-only.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { disposeServer, fmt, sandboxesPlugin, startServer } from './harness.mjs';
import { createBox, waitRunning } from './sandboxes-helpers.mjs';

const IMAGE = 'alpaca-sandbox-it:local';

function engineProblem() {
  if (!fs.existsSync('/var/run/docker.sock')) return 'no Docker engine socket (/var/run/docker.sock)';
  const ping = spawnSync('curl', ['-sf', '--unix-socket', '/var/run/docker.sock', 'http://localhost/_ping']);
  if (ping.status !== 0) return 'the Docker engine does not answer /_ping';
  return null;
}

function importImage() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'alpaca-skel-'));
  // /sbin is a real directory: the engine mounts its init (docker-init) there.
  for (const d of ['usr', 'etc', 'tmp', 'app', 'proc', 'dev', 'sys', 'sbin', 'home/user']) fs.mkdirSync(path.join(root, d), { recursive: true });
  for (const l of ['bin', 'lib', 'lib64']) fs.symlinkSync(`usr/${l}`, path.join(root, l));
  fs.writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n');
  fs.writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\nuser:x:1000:\n');
  execFileSync('sh', ['-c', `tar -C ${root} -c . | docker import - ${IMAGE}`], { stdio: 'pipe' });
  fs.rmSync(root, { recursive: true, force: true });
}

const problem = engineProblem();

describe('sandboxes on the Docker driver', { skip: problem ? `skipped: ${problem}` : false }, () => {
  let server;
  before(async () => {
    importImage();
    server = await startServer({
      plugins: sandboxesPlugin,
      env: {
        ALPACA_SANDBOXES_DRIVER: 'docker',
        ALPACA_SANDBOXES_DOCKER_IMAGE: IMAGE,
        ALPACA_SANDBOXES_DOCKER_BINDS: '/usr:/usr',
        ALPACA_SANDBOXES_WARM_POOL: '0',
        ALPACA_SANDBOXES_MEMORY_MB: '128',
      },
    });
  });
  after(async () => {
    if (server) await disposeServer(server);
  });

  const containersOf = (id) =>
    execFileSync('docker', ['ps', '-a', '--filter', `label=alpaca.sandbox=${id}`, '--format', '{{.ID}}']).toString().trim();

  test('create → running, exec python/shell/stdin/env, files, limits, delete removes the container', async () => {
    const box = await createBox(server, server.adminToken, { runtime: 'python', label: 'docker' });
    await waitRunning(server, server.adminToken, box.id, 60000);
    assert.notEqual(containersOf(box.id), '', 'a container carries the sandbox label');
    const inspect = JSON.parse(execFileSync('docker', ['inspect', containersOf(box.id).split('\n')[0]]).toString())[0];
    assert.equal(inspect.HostConfig.Memory, 128 * 1024 * 1024);
    assert.equal(inspect.HostConfig.MemorySwap, 128 * 1024 * 1024, 'no swap on top');
    assert.equal(inspect.HostConfig.NanoCpus, 500000000);
    assert.equal(inspect.HostConfig.ReadonlyRootfs, true);
    assert.deepEqual(inspect.HostConfig.CapDrop, ['ALL']);
    const secopt = inspect.HostConfig.SecurityOpt || [];
    assert.ok(secopt.some((o) => o.startsWith('no-new-privileges')), JSON.stringify(secopt));
    assert.ok(inspect.HostConfig.PidsLimit > 0);

    const exec = (body) => server.api('POST', `/sandboxes/${box.id}/exec`, { body });
    let r = await exec({ code: 'print(6*7)' });
    assert.equal(r.status, 200, fmt(r));
    assert.equal(r.json.stdout, '42\n');
    assert.equal(r.json.exit_code, 0);
    r = await exec({ command: 'cat; echo " $FOO"; id -u; exit 3', stdin: 'in', env: { FOO: 'bar' } });
    assert.equal(r.json.stdout, 'in bar\n1000\n', fmt(r));
    assert.equal(r.json.exit_code, 3);
    r = await exec({ command: 'sleep 30', timeout_ms: 700 });
    assert.equal(r.json.timed_out, true, fmt(r));
    assert.equal(r.json.exit_code, 137);
    assert.ok(r.json.duration_ms < 10000, fmt(r));

    r = await server.api('PUT', `/sandboxes/${box.id}/files/app/x.py`, { body: { content: 'print("from file")' } });
    assert.equal(r.status, 201, fmt(r));
    r = await exec({ command: 'python3 /app/x.py' });
    assert.equal(r.json.stdout, 'from file\n', fmt(r));
    r = await server.api('GET', `/sandboxes/${box.id}/files/app/x.py?format=json`);
    assert.equal(r.status, 200, fmt(r));
    assert.equal(r.json.content, 'print("from file")');
    r = await server.api('GET', `/sandboxes/${box.id}/files/app/nope`);
    assert.equal(r.status, 404, fmt(r));
    r = await server.api('GET', `/sandboxes/${box.id}/files/proc/1/environ`);
    assert.equal(r.status, 400, fmt(r));

    r = await exec({ command: 'python3 -c "b = bytearray(400 << 20); print(len(b))"' });
    assert.equal(r.json.exit_code, 137, fmt(r));
    assert.equal(r.json.out_of_memory, true, fmt(r));
    r = await exec({ command: 'echo alive' });
    assert.equal(r.json.stdout, 'alive\n', 'the sandbox survives an OOM kill');

    r = await server.api('DELETE', `/sandboxes/${box.id}`);
    assert.equal(r.status, 200, fmt(r));
    assert.equal(r.json.status, 'stopped');
    assert.equal(containersOf(box.id), '', 'no container is left');
  });
});
