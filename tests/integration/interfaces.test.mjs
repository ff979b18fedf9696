// Cross-plugin services: probe_client (plain C) depends on probe and calls probe's
// "probe.counter" interface. Listed before probe in ALPACA_PLUGINS, it still starts after it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer, runUntilExit, testPluginDir, probePlugin, fmt, removeDir } from './harness.mjs';

const client = path.join(testPluginDir, 'probe_client.so');

test('a plugin uses another plugin\'s interface, in dependency order', async () => {
  const server = await startServer({ plugins: `${client},${probePlugin}` });
  try {
    const first = await server.request('GET', '/probe-client/count');
    const second = await server.request('GET', '/probe-client/count');
    assert.equal(first.status, 200, fmt(first));
    assert.deepEqual(first.json, { count: 1 });
    assert.deepEqual(second.json, { count: 2 });
    const order = [...server.output.matchAll(/plugin (\S+) \S+ started/g)].map((m) => m[1]);
    assert.ok(order.indexOf('probe') < order.indexOf('probe_client'), `start order: ${order}`);
  } finally {
    await server.stop();
  }
});

test('without its dependency the client is refused, and named explicitly that stops the server', async () => {
  const r = await runUntilExit({ plugins: client });
  try {
    assert.equal(r.exitCode, 1, r.output);
    assert.match(r.output, /refused plugin \S*probe_client\.so: depends on plugin 'probe'/);
  } finally {
    removeDir(r.dataDir);
  }
});
