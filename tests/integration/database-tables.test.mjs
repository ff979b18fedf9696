// The table-management API of the first-party `database` plugin: GET/POST /projects/:id/tables,
// DELETE /tables/:table (409 naming dependants, ?cascade=true), GET/POST /tables/:table/columns,
// DELETE /tables/:table/columns/:col. Auth (PAT, service_role; anon 403, none 401), the listed
// shapes, the added identity `id`, types checked (and injection through `type` refused with
// nothing created), names (63-byte limit in bytes, quoted exactly), defaults as literals, body
// validation, foreign keys, privileges of the API roles and ownership by alpaca_admin.
//
// The plugin: ALPACA_DATABASE_PLUGIN, default <dir of ALPACA_SERVER_BIN>/../lib/alpaca/plugins/database.so
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  checks,
  disposeServer,
  expectError,
  expectStatus,
  fmt,
  databasePlugin,
  startServer,
  withLogs,
} from './harness.mjs';


let server;
let id; // the project
let keys; // { anon, service_role }
const created = new Set(); // every public table the tests created (privilege/owner checks)

before(async () => {
  assert.ok(
    fs.existsSync(databasePlugin),
    `database plugin not found at ${databasePlugin} (build it, or set ALPACA_DATABASE_PLUGIN)`,
  );
  server = await startServer({ plugins: databasePlugin });
  const p = expectStatus(await server.api('POST', '/projects', { body: { name: 'tables' } }), 201);
  id = p.json.id;
  const k = expectStatus(await server.api('GET', `/projects/${id}/api-keys`), 200);
  keys = Object.fromEntries(k.json.map((x) => [x.name, x.api_key]));
  assert.ok(keys.anon && keys.service_role, `api keys: ${fmt(k)}`);
});
after(async () => disposeServer(server));

const it = (name, fn) => test(name, withLogs(() => server, fn));

// ---------------------------------------------------------------------------------------------
// helpers

const enc = encodeURIComponent;
const tablesPath = (q = '') => `/projects/${id}/tables${q}`;
const tablePath = (t, q = '') => `/projects/${id}/tables/${enc(t)}${q}`;
const columnsPath = (t, q = '') => `/projects/${id}/tables/${enc(t)}/columns${q}`;
const columnPath = (t, c, q = '') => `/projects/${id}/tables/${enc(t)}/columns/${enc(c)}${q}`;

async function listTables(q = '') {
  return expectStatus(await server.api('GET', tablesPath(q)), 200).json;
}
async function listed(name, q = '') {
  return (await listTables(q)).find((t) => t.name === name);
}
async function columns(table, q = '') {
  return expectStatus(await server.api('GET', columnsPath(table, q)), 200).json;
}
async function createTable(body, opts = {}) {
  const r = await server.api('POST', tablesPath(), { body, ...opts });
  expectStatus(r, 201);
  if (!body.schema || body.schema === 'public') created.add(body.name);
  return r.json;
}
/** POST /projects/:id/query → rows */
async function sql(text, params) {
  const body = params ? { sql: text, params } : { sql: text };
  return expectStatus(await server.api('POST', `/projects/${id}/query`, { body }), 200).json.rows;
}

const col = (over) => ({
  name: 'x',
  type: 'text',
  nullable: true,
  default: null,
  is_identity: false,
  is_primary_key: false,
  is_unique: false,
  references: null,
  ...over,
});
const ID_COLUMN = col({ name: 'id', type: 'bigint', nullable: false, is_identity: true, is_primary_key: true, is_unique: true });

// ---------------------------------------------------------------------------------------------

describe('auth', () => {
  it('no token → 401 and the anon key → 403 on every table route; service_role works', async () => {
    await createTable({ name: 'auth_t', columns: [{ name: 'a', type: 'text' }] });
    const routes = [
      ['GET', tablesPath()],
      ['POST', tablesPath(), { name: 'auth_nope' }],
      ['DELETE', tablePath('auth_t')],
      ['GET', columnsPath('auth_t')],
      ['POST', columnsPath('auth_t'), { name: 'b', type: 'text' }],
      ['DELETE', columnPath('auth_t', 'a')],
    ];
    const c = checks();
    for (const [m, p, body] of routes) {
      await c.run(async () => expectError(await server.api(m, p, { body, token: null }), 401));
      await c.run(async () => expectError(await server.api(m, p, { body, token: keys.anon }), 403));
      // the anon key as `apikey` alone is no bearer token
      await c.run(async () => expectError(await server.request(m, p, { body, headers: { apikey: keys.anon } }), 401));
    }
    c.done();
    // nothing happened
    assert.equal(await listed('auth_nope'), undefined);
    assert.deepEqual((await columns('auth_t')).map((x) => x.name), ['id', 'a']);

    // the project's service_role key: every route
    const svc = { token: keys.service_role };
    const l = expectStatus(await server.api('GET', tablesPath(), svc), 200);
    assert.ok(l.json.some((t) => t.name === 'auth_t'), fmt(l));
    const mk = expectStatus(await server.api('POST', tablesPath(), { ...svc, body: { name: 'auth_svc' } }), 201);
    created.add('auth_svc');
    assert.equal(mk.json.name, 'auth_svc');
    expectStatus(await server.api('GET', columnsPath('auth_svc'), svc), 200);
    expectStatus(await server.api('POST', columnsPath('auth_svc'), { ...svc, body: { name: 'b', type: 'text' } }), 201);
    expectStatus(await server.api('DELETE', columnPath('auth_svc', 'b'), svc), 200);
    expectStatus(await server.api('DELETE', tablePath('auth_svc'), svc), 200);
    created.delete('auth_svc');
    assert.equal(await listed('auth_svc'), undefined);
  });
});

describe('GET /tables', () => {
  it('lists {name, schema, rls_enabled, row_estimate, columns, comment} sorted by name', async () => {
    await createTable({ name: 'list_b' });
    await createTable({ name: 'list_a', columns: [{ name: 'v', type: 'integer' }] });
    await createTable({ name: 'List_C' });
    const all = await listTables();
    assert.ok(Array.isArray(all));
    const names = all.map((t) => t.name);
    // relname is of type `name` (collation "C"): byte order, so List_C before list_a
    const byteOrder = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    assert.deepEqual(names, byteOrder, `not sorted by name: ${JSON.stringify(names)}`);
    assert.ok(names.indexOf('List_C') < names.indexOf('list_a') && names.indexOf('list_a') < names.indexOf('list_b'));
    for (const t of all) {
      assert.deepEqual(Object.keys(t).sort(), ['columns', 'comment', 'name', 'rls_enabled', 'row_estimate', 'schema'], JSON.stringify(t));
      assert.equal(t.schema, 'public');
    }
    assert.deepEqual(all.find((t) => t.name === 'list_a'), {
      name: 'list_a', schema: 'public', rls_enabled: false, row_estimate: 0, columns: 2, comment: null,
    });
    assert.equal(typeof all.find((t) => t.name === 'list_b').row_estimate, 'number');
    assert.equal(all.find((t) => t.name === 'list_b').columns, 1);
    // ?schema=public is the default
    assert.deepEqual(await listTables('?schema=public'), all);
  });

  it('?schema=pg_catalog, information_schema, pg_toast → 400 JSON error', async () => {
    const c = checks();
    for (const s of ['pg_catalog', 'information_schema', 'pg_toast', 'pg_temp_1']) {
      await c.run(async () => expectError(await server.api('GET', tablesPath(`?schema=${s}`)), 400));
      await c.run(async () => expectError(await server.api('GET', columnsPath('pg_class', `?schema=${s}`)), 400));
      await c.run(async () => expectError(await server.api('POST', tablesPath(), { body: { name: 'sys_t', schema: s } }), 400));
      await c.run(async () => expectError(await server.api('DELETE', tablePath('pg_class', `?schema=${s}`)), 400));
    }
    c.done();
    // pg_catalog.pg_class is still there (the query route can read it)
    assert.equal((await sql("select count(*)::int as n from pg_class where relname = 'pg_class'"))[0].n, 1);
  });

  it('another schema (extensions, where alpaca_admin may create): ?schema= lists only its tables', async () => {
    const t = expectStatus(await server.api('POST', tablesPath(), { body: { name: 'in_app', schema: 'extensions' } }), 201);
    assert.deepEqual(t.json, { name: 'in_app', schema: 'extensions', rls_enabled: false, row_estimate: 0, columns: 1, comment: null });
    assert.deepEqual((await listTables('?schema=extensions')).map((x) => x.name), ['in_app']);
    assert.equal(await listed('in_app'), undefined, 'an extensions table shows up in the public listing');
    assert.deepEqual((await columns('in_app', '?schema=extensions')).map((x) => x.name), ['id']);
    expectError(await server.api('GET', columnsPath('in_app')), 404); // not in public
    // a missing schema: an empty list; creating in it → 400
    assert.deepEqual(await listTables('?schema=nosuchschema'), []);
    expectError(await server.api('POST', tablesPath(), { body: { name: 'q', schema: 'nosuchschema' } }), 400);
    // a FK across schemas
    await createTable({ name: 'to_app', columns: [{ name: 'app_id', type: 'bigint', references: { table: 'in_app', schema: 'extensions' } }] });
    assert.deepEqual((await columns('to_app')).find((x) => x.name === 'app_id').references, {
      schema: 'extensions', table: 'in_app', column: 'id', on_delete: 'no action',
    });
  });
});

describe('POST /tables', () => {
  it('no primary key → an identity `id bigint` primary key is added first', async () => {
    const t = await createTable({ name: 'auto_id', columns: [{ name: 'title', type: 'text', nullable: false }] });
    assert.deepEqual(t, { name: 'auto_id', schema: 'public', rls_enabled: false, row_estimate: 0, columns: 2, comment: null });
    assert.deepEqual(await listed('auto_id'), t, 'the answer is the table as listed');
    assert.deepEqual(await columns('auto_id'), [ID_COLUMN, col({ name: 'title', nullable: false })]);
    // the identity works
    const rows = await sql("insert into auto_id (title) values ('a'), ('b') returning id, title");
    assert.deepEqual(rows, [{ id: 1, title: 'a' }, { id: 2, title: 'b' }]);

    // no columns at all → just id
    const empty = await createTable({ name: 'only_id' });
    assert.equal(empty.columns, 1);
    assert.deepEqual(await columns('only_id'), [ID_COLUMN]);
    const empty2 = await createTable({ name: 'only_id2', columns: [] });
    assert.equal(empty2.columns, 1);
  });

  it('a primary key of your own: no id added; a column named id without primary_key → 400', async () => {
    const t = await createTable({ name: 'own_pk', columns: [{ name: 'code', type: 'text', primary_key: true }, { name: 'n', type: 'integer' }] });
    assert.equal(t.columns, 2);
    assert.deepEqual(await columns('own_pk'), [
      col({ name: 'code', nullable: false, is_primary_key: true, is_unique: true }),
      col({ name: 'n', type: 'integer' }),
    ]);
    const uuidPk = await createTable({ name: 'uuid_pk', columns: [{ name: 'id', type: 'uuid', primary_key: true, default: null }] });
    assert.equal(uuidPk.columns, 1);
    assert.deepEqual(await columns('uuid_pk'), [col({ name: 'id', type: 'uuid', nullable: false, is_primary_key: true, is_unique: true })]);

    const before = await listTables();
    const r = expectError(await server.api('POST', tablesPath(), { body: { name: 'id_no_pk', columns: [{ name: 'id', type: 'integer' }] } }), 400);
    assert.match(r.json.error, /id/, fmt(r));
    expectError(await server.api('POST', tablesPath(), { body: { name: 'id_no_pk', columns: [{ name: 'x', type: 'text' }, { name: 'id', type: 'bigint', primary_key: false }] } }), 400);
    assert.deepEqual(await listTables(), before);
  });

  it('types: text, integer, bigint, varchar(40), numeric(10,2), text[], jsonb, uuid, timestamptz, boolean', async () => {
    const spec = [
      ['c_text', 'text', 'text'],
      ['c_int', 'integer', 'integer'],
      ['c_big', 'bigint', 'bigint'],
      ['c_vc', 'varchar(40)', 'character varying(40)'],
      ['c_num', 'numeric(10,2)', 'numeric(10,2)'],
      ['c_arr', 'text[]', 'text[]'],
      ['c_json', 'jsonb', 'jsonb'],
      ['c_uuid', 'uuid', 'uuid'],
      ['c_ts', 'timestamptz', 'timestamp with time zone'],
      ['c_bool', 'boolean', 'boolean'],
      ['c_int4', 'int4', 'integer'],
      ['c_dp', 'double precision', 'double precision'],
      ['c_ts2', 'timestamp with time zone', 'timestamp with time zone'],
      ['c_vc2', 'character varying(12)', 'character varying(12)'],
      ['c_num_sp', 'numeric(8, 3)', 'numeric(8,3)'],
      ['c_2d', 'integer[][]', 'integer[]'],
      ['c_qual', 'pg_catalog.int8', 'bigint'],
    ];
    const t = await createTable({ name: 'typed', columns: spec.map(([name, type]) => ({ name, type })) });
    assert.equal(t.columns, spec.length + 1);
    const cols = await columns('typed');
    assert.deepEqual(cols.map((c) => [c.name, c.type]), [['id', 'bigint'], ...spec.map(([n, , listedAs]) => [n, listedAs])]);
    // values round-trip through them
    const rows = await sql(
      `insert into typed (c_text, c_int, c_big, c_vc, c_num, c_arr, c_json, c_uuid, c_ts, c_bool)
       values ('t', 1, 9007199254740993, 'v', 12.345, '{a,b}', '{"k":[1]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-01-02T03:04:05Z', true)
       returning c_text, c_int, c_big::text as c_big, c_vc, c_num::text as c_num, c_arr, c_json, c_uuid::text as c_uuid, c_bool`,
    );
    assert.deepEqual(rows, [{
      c_text: 't', c_int: 1, c_big: '9007199254740993', c_vc: 'v', c_num: '12.35', c_arr: ['a', 'b'],
      c_json: { k: [1] }, c_uuid: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', c_bool: true,
    }]);
  });

  it('unknown type → 400 and nothing created', async () => {
    const before = await listTables();
    const c = checks();
    for (const type of ['notatype', 'intt', '', 'varchar(', 'numeric(10,2,3)', 'text[', 'money2', 'integer(4)(5)']) {
      await c.run(async () => {
        const r = expectError(await server.api('POST', tablesPath(), { body: { name: 'bad_type', columns: [{ name: 'a', type }] } }), 400);
        if (type) assert.ok(r.json.error.includes(type) || /type/i.test(r.json.error), fmt(r));
      });
    }
    await c.run(async () => expectError(await server.api('POST', tablesPath(), { body: { name: 'bad_type', columns: [{ name: 'a', type: 5 }] } }), 400));
    await c.run(async () => expectError(await server.api('POST', tablesPath(), { body: { name: 'bad_type', columns: [{ name: 'a' }] } }), 400));
    c.done();
    assert.deepEqual(await listTables(), before);
  });

  it('type injection attempts → 400, nothing created, nothing dropped', async () => {
    await createTable({ name: 'x', columns: [{ name: 'keep', type: 'text' }] });
    await sql("insert into x (keep) values ('still here')");
    const before = await listTables();
    const attempts = [
      'int); drop table x; --',
      'int, y int',
      "text default 'a'",
      'int[] ; select 1',
      'int); drop table x',
      'text; drop table x',
      'text not null',
      "varchar(40) check (true)",
      'int references x',
      'text collate "C"',
      'int /* c */',
      "int\n, y int",
      'numeric(10,2); drop table x',
      'text[1); drop table x; --]',
      'pg_catalog.int8); drop table x; --',
    ];
    const c = checks();
    for (const type of attempts) {
      await c.run(async () =>
        expectError(await server.api('POST', tablesPath(), { body: { name: 'inj', columns: [{ name: 'a', type }] } }), 400),
      );
      await c.run(async () => expectError(await server.api('POST', columnsPath('x'), { body: { name: 'inj', type } }), 400));
    }
    c.done();
    assert.deepEqual(await listTables(), before, 'the table list changed');
    assert.deepEqual((await columns('x')).map((x) => x.name), ['id', 'keep']);
    assert.deepEqual(await sql('select keep from x'), [{ keep: 'still here' }]);
  });

  it('names: 1..63 bytes (64 ASCII, 32 × é → 400 mentioning 63 bytes), empty → 400', async () => {
    const before = await listTables();
    const c = checks();
    const tooLong = ['a'.repeat(64), 'é'.repeat(32), 'a'.repeat(200)];
    for (const name of tooLong) {
      await c.run(async () => {
        const r = expectError(await server.api('POST', tablesPath(), { body: { name } }), 400);
        assert.match(`${r.json.error} ${r.json.detail}`, /63 bytes/, fmt(r));
      });
      await c.run(async () => {
        const r = expectError(await server.api('POST', tablesPath(), { body: { name: 'long_col', columns: [{ name, type: 'text' }] } }), 400);
        assert.match(`${r.json.error} ${r.json.detail}`, /63 bytes/, fmt(r));
      });
    }
    await c.run(async () => expectError(await server.api('POST', tablesPath(), { body: { name: '' } }), 400));
    await c.run(async () => expectError(await server.api('POST', tablesPath(), { body: { name: 'empty_col', columns: [{ name: '', type: 'text' }] } }), 400));
    await c.run(async () => expectError(await server.api('POST', tablesPath(), { body: { name: 'nul\u0000name' } }), 400));
    c.done();
    assert.deepEqual(await listTables(), before, 'a refused name created something');

    // 63 bytes exactly is fine, in ASCII and in UTF-8, and comes back unchanged (not truncated)
    for (const name of ['b'.repeat(63), 'é'.repeat(31) + 'z']) {
      assert.equal(Buffer.byteLength(name), 63);
      const t = await createTable({ name, columns: [{ name, type: 'text' }] });
      assert.equal(t.name, name);
      assert.ok(await listed(name), `${name} not listed`);
      assert.deepEqual((await columns(name)).map((x) => x.name), ['id', name]);
    }
  });

  it('names with quotes, spaces, semicolons and case are quoted exactly', async () => {
    const weird = 'weird "name"; drop';
    const wcol = `it's "a" col; --`;
    const t = await createTable({ name: weird, columns: [{ name: wcol, type: 'text', default: 'v' }] });
    assert.equal(t.name, weird);
    assert.deepEqual(await listed(weird), t);
    assert.deepEqual((await columns(weird)).map((x) => x.name), ['id', wcol]);
    const rows = await sql(`select relname from pg_class where relname = $1`, [weird]);
    assert.deepEqual(rows, [{ relname: weird }]);
    // case matters: "Mixed" and "mixed" are different tables
    await createTable({ name: 'Mixed' });
    await createTable({ name: 'mixed' });
    assert.ok(await listed('Mixed'));
    assert.ok(await listed('mixed'));
    // a name that looks like SQL
    const sqlish = 'x; drop table x; --';
    await createTable({ name: sqlish });
    assert.ok(await listed(sqlish));
    assert.ok(await listed('x'), 'table x disappeared');
    // names with '/', '%', '?', '#' and '..' travel percent-encoded in the path
    for (const name of ['sl/ash', '100% ?x#y', '..', 'a%2Fb']) {
      await createTable({ name, columns: [{ name: 'c/1%', type: 'text' }] });
      assert.ok(await listed(name), `${name} not listed`);
      assert.deepEqual((await columns(name)).map((x) => x.name), ['id', 'c/1%'], name);
      expectStatus(await server.api('POST', columnsPath(name), { body: { name: 'c?2#', type: 'text' } }), 201);
      assert.equal(expectStatus(await server.api('DELETE', columnPath(name, 'c?2#')), 200).json.name, 'c?2#');
    }
  });

  it('defaults are literals: an injection attempt is stored as text; numbers and booleans work', async () => {
    const evil = "x'); drop table t; --";
    const t = await createTable({
      name: 't',
      columns: [
        { name: 'd', type: 'text', default: evil },
        { name: 'n', type: 'numeric(10,2)', default: 1.5 },
        { name: 'i', type: 'integer', default: 42 },
        { name: 'b', type: 'boolean', default: true },
        { name: 'f', type: 'boolean', default: false },
        { name: 'j', type: 'jsonb', default: { a: [1, 'two'] } },
        { name: 's', type: 'text', default: 'now()' },
        { name: 'q', type: 'text', default: "it's" },
      ],
    });
    assert.equal(t.columns, 9);
    assert.ok(await listed('t'), 'table t was dropped');
    const cols = Object.fromEntries((await columns('t')).map((c) => [c.name, c]));
    // shown as Postgres prints the literal: quoted, with the quote doubled
    assert.equal(cols.d.default, `'x''); drop table t; --'::text`);
    assert.ok(cols.d.default.includes(evil.replace(/'/g, "''")));
    assert.match(String(cols.n.default), /^1\.5/);
    assert.match(String(cols.i.default), /^42/);
    assert.equal(cols.b.default, 'true');
    assert.equal(cols.f.default, 'false');
    assert.equal(cols.s.default, `'now()'::text`, 'a function name given as default must stay a string');
    assert.equal(cols.q.default, `'it''s'::text`);
    // and the values an insert gets
    const rows = await sql('insert into t default values returning d, n::text as n, i, b, f, j, s, q');
    assert.deepEqual(rows, [{ d: evil, n: '1.50', i: 42, b: true, f: false, j: { a: [1, 'two'] }, s: 'now()', q: "it's" }]);
    assert.ok(await listed('t'), 'table t was dropped');
    // a default that does not fit the type → 400, nothing created
    const before = await listTables();
    expectError(await server.api('POST', tablesPath(), { body: { name: 'bad_default', columns: [{ name: 'n', type: 'integer', default: 'abc' }] } }), 400);
    assert.deepEqual(await listTables(), before);
  });

  it('unique, not null and references (default column id, on_delete) are reported by GET columns', async () => {
    await createTable({ name: 'fk_parent', columns: [{ name: 'code', type: 'text', unique: true, nullable: false }] });
    await createTable({
      name: 'fk_child',
      columns: [
        { name: 'parent_id', type: 'bigint', references: { table: 'fk_parent' } },
        { name: 'parent_code', type: 'text', references: { table: 'fk_parent', column: 'code', on_delete: 'cascade' } },
        { name: 'p3', type: 'bigint', references: { table: 'fk_parent', schema: 'public', on_delete: 'SET NULL' } },
        { name: 'p4', type: 'bigint', references: { table: 'fk_parent', on_delete: 'restrict' } },
        { name: 'p5', type: 'bigint', references: { table: 'fk_parent', on_delete: 'no action' } },
        { name: 'p6', type: 'bigint', references: { table: 'fk_parent', on_delete: 'set default' } },
      ],
    });
    assert.deepEqual((await columns('fk_parent'))[1], col({ name: 'code', nullable: false, is_unique: true }));
    const cols = await columns('fk_child');
    const ref = (column, on_delete) => ({ schema: 'public', table: 'fk_parent', column, on_delete });
    assert.deepEqual(cols.map((c) => [c.name, c.references]), [
      ['id', null],
      ['parent_id', ref('id', 'no action')],
      ['parent_code', ref('code', 'cascade')],
      ['p3', ref('id', 'set null')],
      ['p4', ref('id', 'restrict')],
      ['p5', ref('id', 'no action')],
      ['p6', ref('id', 'set default')],
    ]);
    // references that are refused
    const before = await listTables();
    const c = checks();
    const bad = [
      { table: 'no_such_table' },
      { table: 'fk_parent', column: 'nope' },
      { table: 'fk_parent', on_delete: 'drop table x' },
      { table: 'fk_parent', on_delete: 'cascade; drop table x' },
      { table: 'fk_parent', schema: 'pg_catalog' },
      'fk_parent',
      { column: 'id' },
    ];
    for (const references of bad)
      await c.run(async () =>
        expectError(await server.api('POST', tablesPath(), { body: { name: 'fk_bad', columns: [{ name: 'p', type: 'bigint', references }] } }), 400),
      );
    c.done();
    assert.deepEqual(await listTables(), before);
  });

  it('row_estimate follows the statistics', async () => {
    await createTable({ name: 'counted', columns: [{ name: 'n', type: 'integer' }] });
    await sql('insert into counted (n) select g from generate_series(1, 1000) g');
    await sql('analyze counted');
    const t = await listed('counted');
    assert.equal(t.row_estimate, 1000, JSON.stringify(t));
  });

  it('concurrent creates of one name: exactly one 201, the others 409', async () => {
    const rs = await Promise.all(
      Array.from({ length: 6 }, () => server.api('POST', tablesPath(), { body: { name: 'race', columns: [{ name: 'a', type: 'text' }] } })),
    );
    created.add('race');
    const statuses = rs.map((r) => r.status).sort();
    assert.deepEqual(statuses, [201, 409, 409, 409, 409, 409], rs.map(fmt).join('\n'));
    for (const r of rs) if (r.status === 409) expectError(r, 409);
    assert.equal((await listTables()).filter((t) => t.name === 'race').length, 1);
  });

  it('duplicate table → 409', async () => {
    await createTable({ name: 'dup' });
    const r = expectError(await server.api('POST', tablesPath(), { body: { name: 'dup', columns: [{ name: 'a', type: 'text' }] } }), 409);
    assert.match(r.json.error, /dup/, fmt(r));
    assert.deepEqual(await columns('dup'), [ID_COLUMN], 'the existing table was changed');
    // also against a view of the same name
    await sql('create view dup_view as select 1 as a');
    expectError(await server.api('POST', tablesPath(), { body: { name: 'dup_view' } }), 409);
  });

  it('malformed bodies → 400 and nothing created', async () => {
    const before = await listTables();
    const raw = [
      '{"name": "m1"',
      'not json',
      '[]',
      '[{"name":"m1"}]',
      '"m1"',
      '42',
      'null',
      '',
    ];
    const bodies = [
      {},
      { name: 5 },
      { name: null },
      { name: ['m1'] },
      { name: 'm1', bogus: 1 },
      { name: 'm1', columns: 'a text' },
      { name: 'm1', columns: { name: 'a', type: 'text' } },
      { name: 'm1', columns: ['a text'] },
      { name: 'm1', columns: [1] },
      { name: 'm1', columns: [null] },
      { name: 'm1', columns: [[{ name: 'a', type: 'text' }]] },
      { name: 'm1', columns: [{ name: 'a', type: 'text', nullable: 'yes' }] },
      { name: 'm1', columns: [{ name: 'a', type: 'text', nullable: 1 }] },
      { name: 'm1', columns: [{ name: 'a', type: 'text', primary_key: 'true' }] },
      { name: 'm1', columns: [{ name: 'a', type: 'text', unique: 0 }] },
      { name: 'm1', columns: [{ name: 'a', type: 'text', extra: true }] },
      { name: 'm1', columns: [{ type: 'text' }] },
      { name: 'm1', columns: [{ name: 7, type: 'text' }] },
      { name: 'm1', rls_enabled: 'true' },
      { name: 'm1', rls_enabled: 1 },
      { name: 'm1', comment: 5 },
      { name: 'm1', schema: 5 },
      { name: 'm1', schema: '' },
    ];
    const c = checks();
    for (const body of raw)
      await c.run(async () =>
        expectError(await server.api('POST', tablesPath(), { body, headers: { 'content-type': 'application/json' } }), 400),
      );
    for (const body of bodies)
      await c.run(async () => expectError(await server.api('POST', tablesPath(), { body }), 400));
    // a column given twice: Postgres' duplicate_column (42701) → 409
    await c.run(async () =>
      expectError(await server.api('POST', tablesPath(), { body: { name: 'm1', columns: [{ name: 'a', type: 'text' }, { name: 'a', type: 'text' }] } }), 409),
    );
    c.done();
    assert.deepEqual(await listTables(), before, 'a refused body created something');
    assert.equal(await listed('m1'), undefined);
  });

  it('rls_enabled and comment are applied and listed', async () => {
    const t = await createTable({ name: 'secured', rls_enabled: true, comment: "Rows of 'secured' — ünïcode; drop" });
    assert.deepEqual(t, { name: 'secured', schema: 'public', rls_enabled: true, row_estimate: 0, columns: 1, comment: "Rows of 'secured' — ünïcode; drop" });
    assert.deepEqual(await listed('secured'), t);
    const rows = await sql("select relrowsecurity as rls, obj_description(oid, 'pg_class') as c from pg_class where relname = 'secured'");
    assert.deepEqual(rows, [{ rls: true, c: "Rows of 'secured' — ünïcode; drop" }]);
    const plain = await createTable({ name: 'unsecured', rls_enabled: false, comment: null });
    assert.equal(plain.rls_enabled, false);
    assert.equal(plain.comment, null);
  });
});

describe('DELETE /tables/:table', () => {
  it('→ 200 the table as it was; afterwards not listed; unknown → 404', async () => {
    await createTable({ name: 'doomed', columns: [{ name: 'a', type: 'text' }], comment: 'bye' });
    await sql("insert into doomed (a) values ('1')");
    const was = await listed('doomed');
    const r = expectStatus(await server.api('DELETE', tablePath('doomed')), 200);
    assert.deepEqual(r.json, was);
    created.delete('doomed');
    assert.equal(await listed('doomed'), undefined);
    expectError(await server.api('DELETE', tablePath('doomed')), 404);
    expectError(await server.api('GET', columnsPath('doomed')), 404);
    expectError(await server.api('DELETE', tablePath('never_existed')), 404);
    expectError(await server.api('DELETE', tablePath('a'.repeat(64))), 400);
    // a view is not a table
    await sql('create view v_only as select 1 as a');
    expectError(await server.api('DELETE', tablePath('v_only')), 404);
    // the weird name through the path
    const weird = 'weird "name"; drop';
    const w = await listed(weird);
    assert.ok(w, 'weird table missing');
    assert.deepEqual(expectStatus(await server.api('DELETE', tablePath(weird)), 200).json, w);
    created.delete(weird);
    assert.equal(await listed(weird), undefined);
    // in another schema
    const inApp = (await listTables('?schema=extensions')).find((x) => x.name === 'in_app');
    expectError(await server.api('DELETE', tablePath('in_app')), 404);
    const d = expectError(await server.api('DELETE', tablePath('in_app', '?schema=extensions')), 409); // to_app references it
    assert.match(String(d.json.detail), /to_app/, fmt(d));
    assert.deepEqual(expectStatus(await server.api('DELETE', tablePath('in_app', '?schema=extensions&cascade=true')), 200).json, inApp);
    assert.deepEqual(await listTables('?schema=extensions'), []);
  });

  it('a referenced table → 409 naming the dependant, still exists; ?cascade=true drops only the FK', async () => {
    await createTable({ name: 'parent' });
    await createTable({ name: 'child', columns: [{ name: 'parent_id', type: 'bigint', references: { table: 'parent' } }, { name: 'note', type: 'text' }] });
    await sql('insert into parent default values');
    await sql("insert into child (parent_id, note) values (1, 'kept')");
    const was = await listed('parent');
    const r = expectError(await server.api('DELETE', tablePath('parent')), 409);
    assert.match(String(r.json.detail), /child_parent_id_fkey/, fmt(r));
    assert.match(String(r.json.detail), /\bchild\b/, fmt(r));
    assert.deepEqual(await listed('parent'), was, 'parent changed after a refused drop');
    // only cascade=true cascades
    for (const q of ['?cascade=false', '?cascade=1', '?cascade=', '?cascade'])
      expectError(await server.api('DELETE', tablePath('parent', q)), 409);
    assert.ok(await listed('parent'));

    const c = expectStatus(await server.api('DELETE', tablePath('parent', '?cascade=true')), 200);
    assert.deepEqual(c.json, was);
    created.delete('parent');
    assert.equal(await listed('parent'), undefined);
    assert.ok(await listed('child'), 'the referencing table was dropped too');
    const cols = await columns('child');
    assert.deepEqual(cols.map((x) => [x.name, x.references]), [['id', null], ['parent_id', null], ['note', null]]);
    assert.deepEqual(await sql('select parent_id, note from child'), [{ parent_id: 1, note: 'kept' }]);
    const fks = await sql("select count(*)::int as n from pg_constraint where conrelid = 'public.child'::regclass and contype = 'f'");
    assert.deepEqual(fks, [{ n: 0 }]);
  });
});

describe('columns', () => {
  it('GET columns → in column order; unknown table → 404', async () => {
    await createTable({
      name: 'ordered',
      columns: [
        { name: 'z', type: 'text' },
        { name: 'a', type: 'integer', nullable: false, default: 3 },
        { name: 'm', type: 'uuid', unique: true },
      ],
    });
    assert.deepEqual(await columns('ordered'), [
      ID_COLUMN,
      col({ name: 'z' }),
      col({ name: 'a', type: 'integer', nullable: false, default: '3' }),
      col({ name: 'm', type: 'uuid', is_unique: true }),
    ]);
    expectError(await server.api('GET', columnsPath('no_such_table')), 404);
    expectError(await server.api('GET', columnsPath('a'.repeat(64))), 400);
  });

  it('POST columns → 201 the column; unknown table 404; duplicate 409; bad type / body 400', async () => {
    await createTable({ name: 'grow', columns: [{ name: 'a', type: 'text' }] });
    await createTable({ name: 'grow_ref' });
    const add = async (body, status = 201) => {
      const r = await server.api('POST', columnsPath('grow'), { body });
      return status === 201 ? expectStatus(r, 201).json : expectError(r, status).json;
    };
    assert.deepEqual(await add({ name: 'b', type: 'varchar(40)', nullable: false, default: 'd' }),
      col({ name: 'b', type: 'character varying(40)', nullable: false, default: `'d'::character varying` }));
    assert.deepEqual(await add({ name: 'ts', type: 'timestamptz' }), col({ name: 'ts', type: 'timestamp with time zone' }));
    assert.deepEqual(await add({ name: 'u', type: 'text', unique: true }), col({ name: 'u', is_unique: true }));
    assert.deepEqual(await add({ name: 'r', type: 'bigint', references: { table: 'grow_ref', on_delete: 'cascade' } }),
      col({ name: 'r', type: 'bigint', references: { schema: 'public', table: 'grow_ref', column: 'id', on_delete: 'cascade' } }));
    const evil = "x'); drop table grow; --";
    assert.deepEqual(await add({ name: 'e', type: 'text', default: evil }), col({ name: 'e', default: `'x''); drop table grow; --'::text` }));
    const weird = 'col "q"; x';
    assert.equal((await add({ name: weird, type: 'integer' })).name, weird);
    const cols = await columns('grow');
    assert.deepEqual(cols.map((c) => c.name), ['id', 'a', 'b', 'ts', 'u', 'r', 'e', weird]);
    assert.equal((await listed('grow')).columns, 8);

    const r404 = await server.api('POST', columnsPath('no_such_table'), { body: { name: 'x', type: 'text' } });
    expectError(r404, 404);
    const dup = await add({ name: 'a', type: 'text' }, 409);
    assert.match(dup.error, /\ba\b/);
    expectError(await server.api('POST', columnsPath('grow'), { body: { name: 'id', type: 'integer' } }), 409);

    const c = checks();
    const bad = [
      { name: 'n1', type: 'nosuchtype' },
      { name: 'n1', type: 'int); drop table grow; --' },
      { name: 'n1', type: 'int, y int' },
      { name: 'n1', type: "text default 'a'" },
      { name: 'n1', type: 'int[] ; select 1' },
      { name: 'n1', type: 'text', nullable: 'no' },
      { name: 'n1', type: 'text', bogus: true },
      { name: 'n1' },
      { type: 'text' },
      { name: '', type: 'text' },
      { name: 'c'.repeat(64), type: 'text' },
      { name: 'é'.repeat(32), type: 'text' },
      { name: 'n1', type: 'integer', default: 'abc' },
      { name: 'n1', type: 'bigint', references: { table: 'no_such_table' } },
    ];
    for (const body of bad) await c.run(async () => expectError(await server.api('POST', columnsPath('grow'), { body }), 400));
    for (const body of ['[]', '"x"', '{"name":', '', 'null'])
      await c.run(async () =>
        expectError(await server.api('POST', columnsPath('grow'), { body, headers: { 'content-type': 'application/json' } }), 400),
      );
    c.done();
    assert.deepEqual(await columns('grow'), cols, 'a refused column changed the table');
  });

  it('DELETE column → 200 the column as it was; unknown → 404; then gone', async () => {
    const before = await columns('grow');
    const b = before.find((x) => x.name === 'b');
    const r = expectStatus(await server.api('DELETE', columnPath('grow', 'b')), 200);
    assert.deepEqual(r.json, b);
    const after1 = await columns('grow');
    assert.deepEqual(after1.map((x) => x.name), before.map((x) => x.name).filter((n) => n !== 'b'));
    assert.equal((await listed('grow')).columns, before.length - 1);
    expectError(await server.api('DELETE', columnPath('grow', 'b')), 404);
    expectError(await server.api('DELETE', columnPath('grow', 'nope')), 404);
    expectError(await server.api('DELETE', columnPath('no_such_table', 'a')), 404);
    expectError(await server.api('DELETE', columnPath('grow', 'c'.repeat(64))), 400);
    // the FK column and the weird one
    const rcol = after1.find((x) => x.name === 'r');
    assert.deepEqual(expectStatus(await server.api('DELETE', columnPath('grow', 'r')), 200).json, rcol);
    const weird = 'col "q"; x';
    assert.equal(expectStatus(await server.api('DELETE', columnPath('grow', weird)), 200).json.name, weird);
    assert.deepEqual((await columns('grow')).map((x) => x.name), ['id', 'a', 'ts', 'u', 'e']);
    // a column others reference: 409 naming the dependant; ?cascade=true drops it and the FK
    await createTable({ name: 'col_parent', columns: [{ name: 'code', type: 'text', unique: true }] });
    await createTable({ name: 'col_child', columns: [{ name: 'pc', type: 'text', references: { table: 'col_parent', column: 'code' } }] });
    const dep = expectError(await server.api('DELETE', columnPath('col_parent', 'code')), 409);
    assert.match(String(dep.json.detail), /col_child/, fmt(dep));
    assert.deepEqual((await columns('col_parent')).map((x) => x.name), ['id', 'code']);
    expectStatus(await server.api('DELETE', columnPath('col_parent', 'code', '?cascade=true')), 200);
    assert.deepEqual((await columns('col_parent')).map((x) => x.name), ['id']);
    assert.deepEqual((await columns('col_child')).map((x) => [x.name, x.references]), [['id', null], ['pc', null]]);
    // grow_ref is no longer referenced: it drops without cascade
    expectStatus(await server.api('DELETE', tablePath('grow_ref')), 200);
    created.delete('grow_ref');
  });
});

describe('privileges and ownership', () => {
  it('every table created is readable by anon, authenticated and service_role and owned by alpaca_admin', async () => {
    const names = [...created];
    assert.ok(names.length > 20, `only ${names.length} tables tracked`);
    const rows = await sql(
      `select t.name,
              has_table_privilege('anon', format('public.%I', t.name), 'SELECT') as anon,
              has_table_privilege('authenticated', format('public.%I', t.name), 'SELECT,INSERT,UPDATE,DELETE') as authenticated,
              has_table_privilege('service_role', format('public.%I', t.name), 'SELECT,INSERT,UPDATE,DELETE') as service_role,
              (select tableowner from pg_tables where schemaname = 'public' and tablename = t.name) as owner
         from jsonb_array_elements_text($1::jsonb) as t(name) order by t.name`,
      [names],
    );
    const bad = rows.filter((r) => !(r.anon && r.authenticated && r.service_role && r.owner === 'alpaca_admin'));
    assert.deepEqual(bad, [], `tables not reachable / not owned by alpaca_admin: ${JSON.stringify(bad)}`);
    assert.equal(rows.length, names.length);
    // the contract's exact queries on one table
    assert.deepEqual(await sql("select has_table_privilege('anon', 'public.auto_id', 'SELECT') as ok"), [{ ok: true }]);
    assert.deepEqual(await sql("select tableowner from pg_tables where tablename = 'auto_id'"), [{ tableowner: 'alpaca_admin' }]);
    // the identity sequences too (inserts by API roles need them)
    const seq = await sql(
      `select count(*)::int as n from pg_class s join pg_namespace n on n.oid = s.relnamespace
        where s.relkind = 'S' and n.nspname = 'public'
          and not (has_sequence_privilege('anon', s.oid, 'USAGE') and has_sequence_privilege('authenticated', s.oid, 'USAGE'))`,
    );
    assert.deepEqual(seq, [{ n: 0 }], 'identity sequences not usable by the API roles');
  });

  it('/health is 200 after all of it', async () => {
    const h = await server.request('GET', '/health');
    assert.equal(h.status, 200, fmt(h));
  });
});
