// Schema versions: every project database carries event triggers that NOTIFY pgrst on committed
// DDL; the host LISTENs per database and plugins cache catalog facts under the version (the
// rows API caches each table's primary key). DDL through /query, the table API or psql from
// outside must be seen by the next request; a project whose triggers were dropped gets them
// back when next used; deleting a project closes its watch.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  databasePlugin,
  disposeServer,
  expectStatus,
  findSocket,
  fmt,
  psql,
  sleep,
  startServer,
  withLogs,
} from './harness.mjs';

let server;
let project; // { id, db_name }

const it = (name, fn) => test(name, { timeout: 60000 }, withLogs(() => server, fn));
const enc = encodeURIComponent;
const rows = (t, pk = '') => `/projects/${project.id}/tables/${enc(t)}/rows${pk === '' ? '' : '/' + enc(pk)}`;
const sql = async (text) =>
  expectStatus(await server.api('POST', `/projects/${project.id}/query`, { body: { sql: text } }), 200);
const db = (text) => {
  const s = findSocket(server.dataDir);
  assert.ok(s, 'embedded cluster socket not found');
  return psql({ host: s.dir, port: s.port, db: project.db_name }, text);
};

async function createProject(name) {
  const p = expectStatus(await server.api('POST', '/projects', { body: { name } }), 201);
  return p.json;
}

// PATCH by key until it answers `status` or `ms` pass; returns the last response.
async function patchUntil(table, key, body, status, ms) {
  const deadline = performance.now() + ms;
  for (;;) {
    const r = await server.api('PATCH', rows(table, key), { body });
    if (r.status === status || performance.now() > deadline) return r;
    await sleep(25);
  }
}

before(async () => {
  server = await startServer({ plugins: databasePlugin });
  project = await createProject('watch');
  assert.ok(project.db_name, `project: ${JSON.stringify(project)}`);
});
after(async () => disposeServer(server));

it('a new project database carries the two DDL event triggers', async () => {
  assert.equal(
    db(`select string_agg(evtname || ':' || evtevent, ',' order by evtname) from pg_event_trigger`),
    'alpaca_ddl_watch:ddl_command_end,alpaca_drop_watch:sql_drop',
  );
});

it('DDL through /query is seen by the rows API at once (cached primary key replaced)', async () => {
  await sql(`create table swap (id bigint primary key, code text not null unique, v int);
             insert into swap values (1, 'one', 0), (2, 'two', 0)`);
  // Warm the cache, then give the watch time to come up so later reads are cached ones.
  expectStatus(await server.api('PATCH', rows('swap', 1), { body: { v: 1 } }), 200);
  await sleep(1500);
  expectStatus(await server.api('PATCH', rows('swap', 1), { body: { v: 2 } }), 200);
  for (let round = 0; round < 3; round++) {
    await sql(`alter table swap drop constraint swap_pkey; alter table swap add primary key (code)`);
    let r = await server.api('PATCH', rows('swap', 'two'), { body: { v: 10 + round } });
    assert.equal(r.status, 200, `round ${round}: PATCH by the new key: ${fmt(r)}`);
    assert.equal(r.json.code, 'two');
    assert.equal(r.json.v, 10 + round);
    await sql(`alter table swap drop constraint swap_pkey; alter table swap add primary key (id)`);
    r = await server.api('PATCH', rows('swap', 2), { body: { v: 20 + round } });
    assert.equal(r.status, 200, `round ${round}: PATCH by id again: ${fmt(r)}`);
    assert.equal(r.json.v, 20 + round);
    r = await server.api('PATCH', rows('swap', 'two'), { body: { v: 0 } });
    assert.equal(r.status, 400, `round ${round}: 'two' is no bigint id: ${fmt(r)}`);
  }
});

it('DDL through the table API is seen at once', async () => {
  const tables = `/projects/${project.id}/tables`;
  const create = (columns) =>
    server.api('POST', tables, { body: { name: 'recreated', columns } });
  expectStatus(await create([{ name: 'id', type: 'bigint', primary_key: true }, { name: 'v', type: 'int' }]), 201);
  expectStatus(await server.api('POST', rows('recreated'), { body: { id: 7, v: 1 } }), 201);
  await sleep(1200);
  expectStatus(await server.api('PATCH', rows('recreated', 7), { body: { v: 2 } }), 200);
  expectStatus(await server.api('DELETE', `${tables}/recreated`), 200);
  expectStatus(await create([{ name: 'slug', type: 'text', primary_key: true }, { name: 'v', type: 'int' }]), 201);
  expectStatus(await server.api('POST', rows('recreated'), { body: { slug: 'x', v: 1 } }), 201);
  const r = await server.api('PATCH', rows('recreated', 'x'), { body: { v: 3 } });
  assert.equal(r.status, 200, fmt(r));
  assert.deepEqual(r.json, { slug: 'x', v: 3 });
});

it('DDL from outside the server (psql) reaches the cache through NOTIFY', async () => {
  await sql(`create table outside (id bigint primary key, code text not null unique, v int);
             insert into outside values (1, 'a', 0)`);
  expectStatus(await server.api('PATCH', rows('outside', 1), { body: { v: 1 } }), 200);
  await sleep(1200);
  expectStatus(await server.api('PATCH', rows('outside', 1), { body: { v: 2 } }), 200);
  db(`alter table outside drop constraint outside_pkey; alter table outside add primary key (code)`);
  const t0 = performance.now();
  const r = await patchUntil('outside', 'a', { v: 3 }, 200, 3000);
  assert.equal(r.status, 200, `PATCH by the new key after psql DDL: ${fmt(r)}`);
  assert.ok(performance.now() - t0 < 3000);
  // A hand-sent NOTIFY (as Supabase users do after migrations) counts too; DML does not matter.
  db(`update outside set v = 4`);
  db(`notify pgrst, 'reload schema'`);
  expectStatus(await server.api('PATCH', rows('outside', 'a'), { body: { v: 5 } }), 200);
});

it('a project whose triggers were dropped gets them back when next used after a restart', async () => {
  const p2 = await createProject('old-project');
  const s = findSocket(server.dataDir);
  const at = (text) => psql({ host: s.dir, port: s.port, db: p2.db_name }, text);
  at(`drop event trigger alpaca_ddl_watch; drop event trigger alpaca_drop_watch`);
  assert.equal(at(`select count(*) from pg_event_trigger`), '0');
  const { dataDir, adminToken } = server;
  await server.stop();
  server = await startServer({ plugins: databasePlugin, dataDir, adminToken });
  server.ownsDataDir = true; // removed with the server at the end
  await server.api('POST', `/projects/${p2.id}/query`, { body: { sql: 'create table t (id int primary key)' } });
  const s2 = findSocket(server.dataDir);
  let n = '0';
  const deadline = performance.now() + 5000;
  while (n !== '2' && performance.now() < deadline) {
    expectStatus(await server.api('DELETE', `/projects/${p2.id}/tables/t/rows/1`), 404);
    n = psql({ host: s2.dir, port: s2.port, db: p2.db_name }, `select count(*) from pg_event_trigger`);
    if (n !== '2') await sleep(100);
  }
  assert.equal(n, '2', 'the watch reinstalls the event triggers');
});

it('deleting a watched project drops its database and leaves the watch quiet', async () => {
  const p3 = await createProject('doomed');
  await server.api('POST', `/projects/${p3.id}/query`, { body: { sql: 'create table t (id int primary key)' } });
  await server.api('DELETE', `/projects/${p3.id}/tables/t/rows/1`); // starts the watch
  await sleep(800);
  const before = server.output.length;
  const d = await server.api('DELETE', `/projects/${p3.id}`);
  assert.ok(d.status === 200 || d.status === 204, fmt(d));
  const s = findSocket(server.dataDir);
  assert.equal(psql({ host: s.dir, port: s.port }, `select count(*) from pg_database where datname = '${p3.db_name}'`), '0');
  await sleep(2500);
  const later = server.output.slice(before);
  assert.doesNotMatch(later, /schema watch/, `log after the delete:\n${later}`);
});
