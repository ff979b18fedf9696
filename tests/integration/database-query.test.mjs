// POST /projects/:id/query (the first-party `database` plugin): auth, body validation, the
// value mapping of every common Postgres type (in one SELECT and through a table round trip),
// multi-statement transactions, params, Postgres errors with SQLSTATE/position and rollback,
// privileges (not superuser, not under RLS), and the caps (statement timeout, max rows, max
// bytes) on a second server.
//
// The plugin: ALPACA_DATABASE_PLUGIN, default <dir of ALPACA_SERVER_BIN>/../lib/alpaca/plugins/database.so
// (CI's dev build: ALPACA_SERVER_BIN=build/dev/bin/alpaca-server picks build/dev/lib/...).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  checks,
  expectError,
  expectStatus,
  fmt,
  removeDir,
  databasePlugin,
  startServer,
  stopServer,
  withLogs,
} from './harness.mjs';


const LIMITS_ENV = {
  ALPACA_DATABASE_STATEMENT_TIMEOUT: '300ms',
  ALPACA_DATABASE_MAX_ROWS: '100',
  ALPACA_DATABASE_MAX_BYTES: '65536',
};

let server; // default settings
let limited; // LIMITS_ENV
let id; // project on `server`
let limitedId; // project on `limited`
let keys; // { anon, service_role } of `id`

before(async () => {
  assert.ok(
    fs.existsSync(databasePlugin),
    `database plugin not found at ${databasePlugin} (build it, or set ALPACA_DATABASE_PLUGIN)`,
  );
  [server, limited] = await Promise.all([
    startServer({ plugins: databasePlugin }),
    startServer({ plugins: databasePlugin, env: LIMITS_ENV }),
  ]);
  const [p, lp] = await Promise.all([
    server.api('POST', '/projects', { body: { name: 'query' } }),
    limited.api('POST', '/projects', { body: { name: 'query-limits' } }),
  ]);
  expectStatus(p, 201);
  expectStatus(lp, 201);
  id = p.json.id;
  limitedId = lp.json.id;
  const k = expectStatus(await server.api('GET', `/projects/${id}/api-keys`), 200);
  keys = Object.fromEntries(k.json.map((x) => [x.name, x.api_key]));
  assert.ok(keys.anon && keys.service_role, `api keys: ${fmt(k)}`);
});

// A short SIGTERM grace (then SIGKILL): a request stuck in the server must not cost 15 s here.
async function dispose(s) {
  if (!s) return;
  const r = await stopServer(s, 'SIGTERM', 5000).catch(() => ({}));
  if (r.timedOut) console.log(`alpaca-server :${s.port} did not exit within 5 s of SIGTERM (killed)`);
  if (s.ownsDataDir) removeDir(s.dataDir);
}

after(async () => {
  await Promise.all([dispose(server), dispose(limited)]);
});

const t = (name, fn, opts = {}) => test(name, { timeout: 30000, ...opts }, withLogs(() => [server, limited], fn));

/** POST /projects/:id/query with {sql, params?}; opts: token, srv, project, body (raw override). */
function query(sql, params, opts = {}) {
  const srv = opts.srv || server;
  const project = opts.project || (srv === limited ? limitedId : id);
  const body = 'body' in opts ? opts.body : params === undefined ? { sql } : { sql, params };
  const o = { body };
  if ('token' in opts) o.token = opts.token;
  if (opts.headers) o.headers = opts.headers;
  return srv.api('POST', `/projects/${project}/query`, o);
}

/** A 200 with the documented shape; returns the response. */
function expectRows(res) {
  expectStatus(res, 200);
  assert.match(String(res.headers['content-type'] || ''), /application\/json/, `content-type: ${fmt(res)}`);
  const j = res.json;
  assert.ok(j && typeof j === 'object' && !Array.isArray(j), `body is not an object: ${fmt(res)}`);
  assert.ok(Array.isArray(j.rows), `rows must be an array: ${fmt(res)}`);
  assert.ok(Number.isInteger(j.rowCount), `rowCount must be an integer: ${fmt(res)}`);
  assert.ok(Array.isArray(j.fields), `fields must be an array: ${fmt(res)}`);
  for (const f of j.fields)
    assert.ok(typeof f.name === 'string' && typeof f.type === 'string', `field {name, type}: ${fmt(res)}`);
  return res;
}

/** Run sql (200 expected) and compare rows (and rowCount = rows.length unless given). */
async function expectResult(sql, params, rows, extra = {}) {
  const res = expectRows(await query(sql, params, extra.opts));
  assert.deepEqual(res.json.rows, rows, `rows of ${JSON.stringify(sql)}: ${fmt(res)}`);
  assert.equal(res.json.rowCount, extra.rowCount ?? rows.length, `rowCount of ${JSON.stringify(sql)}: ${fmt(res)}`);
  if (extra.fields) assert.deepEqual(res.json.fields.map(({ name, type }) => ({ name, type })), extra.fields, `fields: ${fmt(res)}`);
  return res;
}

/** A Postgres error: 400 (or status) {error, detail, code, position?}. */
function expectPgError(res, code, status = 400) {
  expectError(res, status);
  assert.equal(res.json.code, code, `SQLSTATE: ${fmt(res)}`);
  return res;
}

/** The raw JSON text of a number field: "<name>": <digits> (not a string, not rounded). */
function rawNumber(res, name, digits) {
  const re = new RegExp(`"${name}"\\s*:\\s*${digits.replace(/[-.]/g, '\\$&')}(?![\\d.eE])`);
  assert.match(res.text, re, `"${name}" must be the JSON number ${digits} with every digit: ${fmt(res)}`);
}

// ---------------------------------------------------------------------------------------------
// the value mapping: [column, SQL expression, expected JSON value, format_type() name]

const TEXT = `q"uo'te\\back\nslash é 😀 \t tab`;
const TEXT_SQL = `'q"uo''te\\back' || chr(10) || 'slash é 😀 ' || chr(9) || ' tab'`;

const VALUE_CASES = [
  // integers
  ['i2', `32767::smallint`, 32767, 'smallint'],
  ['i4', `(-2147483648)::int`, -2147483648, 'integer'],
  ['i8', `9007199254740993::bigint`, 9007199254740993, 'bigint'], // + raw-text check below
  ['i8min', `(-9223372036854775808)::bigint`, -9223372036854775808, 'bigint'], // + raw-text check
  // floats
  ['f4', `1.5::real`, 1.5, 'real'],
  ['f8', `0.1::float8`, 0.1, 'double precision'],
  ['f8neg', `(-2.25)::float8`, -2.25, 'double precision'],
  ['f8big', `1e300::float8`, 1e300, 'double precision'],
  ['f8nan', `'NaN'::float8`, 'NaN', 'double precision'],
  ['f8inf', `'Infinity'::float8`, 'Infinity', 'double precision'],
  ['f8ninf', `'-Infinity'::float8`, '-Infinity', 'double precision'],
  ['f4nan', `'NaN'::real`, 'NaN', 'real'],
  // numeric: a number when it survives a double round trip, else a string with every digit
  ['n1', `1.5::numeric`, 1.5, 'numeric'],
  ['n2', `12345.25::numeric`, 12345.25, 'numeric'],
  ['n3', `0.1::numeric`, 0.1, 'numeric'],
  ['n4', `(-42)::numeric`, -42, 'numeric'],
  ['nbig', `123456789012345678901234567890.123456789::numeric`, '123456789012345678901234567890.123456789', 'numeric'],
  ['nint', `9007199254740993::numeric`, '9007199254740993', 'numeric'],
  ['nnan', `'NaN'::numeric`, 'NaN', 'numeric'],
  // boolean
  ['bt', `true`, true, 'boolean'],
  ['bf', `false`, false, 'boolean'],
  // json / jsonb: embedded
  ['j', `'{"a":[1,{"b":null}],"c":"x"}'::json`, { a: [1, { b: null }], c: 'x' }, 'json'],
  ['jb', `'[1,"two",{"three":3.5,"n":{"m":[]}}]'::jsonb`, [1, 'two', { three: 3.5, n: { m: [] } }], 'jsonb'],
  ['jbs', `'"str"'::jsonb`, 'str', 'jsonb'],
  ['jbn', `'42'::jsonb`, 42, 'jsonb'],
  ['jbnull', `'null'::jsonb`, null, 'jsonb'],
  // arrays with typed elements
  ['ai', `ARRAY[1,2,NULL]::int[]`, [1, 2, null], 'integer[]'],
  ['at', `ARRAY['a','b c']`, ['a', 'b c'], 'text[]'],
  ['a2', `'{{1,2},{3,4}}'::int[]`, [[1, 2], [3, 4]], 'integer[]'],
  ['ab', `ARRAY[true,false]`, [true, false], 'boolean[]'],
  ['aempty', `'{}'::int[]`, [], 'integer[]'],
  ['atq', `ARRAY['a"b', 'c\\d', 'NULL', NULL, '', ' sp ', 'x,y', '{z}']`, ['a"b', 'c\\d', 'NULL', null, '', ' sp ', 'x,y', '{z}'], 'text[]'],
  ['anum', `ARRAY[1.5, 123456789012345678901234567890.1]::numeric[]`, [1.5, '123456789012345678901234567890.1'], 'numeric[]'],
  ['af8', `ARRAY[2.5, 'NaN']::float8[]`, [2.5, 'NaN'], 'double precision[]'],
  ['ajb', `ARRAY['{"a":1}'::jsonb, '[2]'::jsonb]`, [{ a: 1 }, [2]], 'jsonb[]'],
  // dates and times
  ['tz', `'2026-01-02 03:04:05.123456+00'::timestamptz`, '2026-01-02T03:04:05.123456+00:00', 'timestamp with time zone'],
  ['tz2', `'2026-01-02 05:04:05.123456+02'::timestamptz`, '2026-01-02T03:04:05.123456+00:00', 'timestamp with time zone'],
  ['ts', `'2026-01-02 03:04:05.123456'::timestamp`, '2026-01-02T03:04:05.123456', 'timestamp without time zone'],
  ['d', `'2026-01-02'::date`, '2026-01-02', 'date'],
  // strings
  ['u', `'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid`, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'uuid'],
  ['by', `'\\x0102ff'::bytea`, '\\x0102ff', 'bytea'],
  ['t', TEXT_SQL, TEXT, 'text'],
  ['vc', `'v'::varchar`, 'v', 'character varying'],
  // other types: their Postgres text
  ['iv', `'1 day 02:03:04'::interval`, '1 day 02:03:04', 'interval'],
  ['ip', `'192.168.0.1/24'::inet`, '192.168.0.1/24', 'inet'],
  ['pt', `point(1,2)`, '(1,2)', 'point'],
  // NULL of any type
  ['nl_i', `NULL::int`, null, 'integer'],
  ['nl_t', `NULL::text`, null, 'text'],
  ['nl_n', `NULL::numeric`, null, 'numeric'],
  ['nl_b', `NULL::boolean`, null, 'boolean'],
  ['nl_jb', `NULL::jsonb`, null, 'jsonb'],
  ['nl_ai', `NULL::int[]`, null, 'integer[]'],
  ['nl_tz', `NULL::timestamptz`, null, 'timestamp with time zone'],
  ['nl_by', `NULL::bytea`, null, 'bytea'],
  ['nl_u', `NULL::uuid`, null, 'uuid'],
];

/** Compare one row with the expected values and the fields with the expected names/types. */
async function checkRowAndFields(c, res, cases, row, what) {
  const fields = res.json.fields || [];
  await c.run(() =>
    assert.deepEqual(fields.map((f) => f.name), cases.map(([n]) => n), `${what}: field names in select order`),
  );
  for (const [i, [name, sql, want, type]] of cases.entries()) {
    await c.run(() =>
      assert.deepEqual(row?.[name], want, `${what}: ${sql} → ${JSON.stringify(row?.[name])}, want ${JSON.stringify(want)}`),
    );
    await c.run(() =>
      assert.equal(fields[i]?.type, type, `${what}: type of ${name} (${sql}) is ${JSON.stringify(fields[i]?.type)}, want ${JSON.stringify(type)}`),
    );
  }
}

// ---------------------------------------------------------------------------------------------

describe('auth', () => {
  t('admin PAT → 200; service_role key → 200; anon key → 403; no token → 401', async () => {
    await expectResult('select 1 as one', undefined, [{ one: 1 }], { fields: [{ name: 'one', type: 'integer' }] });
    await expectResult('select 2 as two', undefined, [{ two: 2 }], { opts: { token: keys.service_role } });
    expectError(await query('select 1', undefined, { token: keys.anon }), 403);
    expectError(await query('select 1', undefined, { token: null }), 401);
  });

  t('unknown project → 404', async () => {
    expectError(await query('select 1', undefined, { project: 'aaaaaaaaaaaaaaaaaaaa' }), 404);
  });
});

describe('request body', () => {
  t('malformed or wrong bodies → 400 {error, detail}', async () => {
    const c = checks();
    const json = { 'content-type': 'application/json' };
    const cases = [
      ['malformed JSON', '{"sql": "select 1"'],
      ['malformed JSON (trailing garbage)', '{"sql": "select 1"} x'],
      ['empty body', ''],
      ['non-object body: array', '["select 1"]'],
      ['non-object body: string', '"select 1"'],
      ['non-object body: number', '1'],
      ['non-object body: null', 'null'],
      ['missing sql', '{}'],
      ['missing sql (params only)', '{"params": []}'],
      ['empty sql', '{"sql": ""}'],
      ['sql not a string: number', '{"sql": 1}'],
      ['sql not a string: null', '{"sql": null}'],
      ['sql not a string: array', '{"sql": ["select 1"]}'],
      ['sql not a string: object', '{"sql": {"text": "select 1"}}'],
      ['params not an array: object', '{"sql": "select 1", "params": {}}'],
      ['params not an array: string', '{"sql": "select $1::text", "params": "x"}'],
      ['params not an array: number', '{"sql": "select 1", "params": 1}'],
      ['unknown field', '{"sql": "select 1", "foo": 1}'],
    ];
    for (const [what, body] of cases) {
      await c.run(async () => {
        const res = await query(null, undefined, { body, headers: json });
        assert.equal(res.status, 400, `${what}: ${fmt(res)} (body ${JSON.stringify(body)})`);
        expectError(res, 400);
      });
    }
    c.done();
  });
});

describe('value mapping', () => {
  t('one SELECT with every type', async () => {
    const sql = 'select ' + VALUE_CASES.map(([n, e]) => `${e} as "${n}"`).join(',\n  ');
    const res = expectRows(await query(sql));
    const c = checks();
    await c.run(() => assert.equal(res.json.rowCount, 1, `rowCount: ${fmt(res)}`));
    await c.run(() => assert.equal(res.json.rows.length, 1, `rows: ${fmt(res)}`));
    await c.run(() => assert.ok(!res.json.truncated, `no "truncated" on a small result: ${fmt(res)}`));
    await c.run(() => rawNumber(res, 'i8', '9007199254740993'));
    await c.run(() => rawNumber(res, 'i8min', '-9223372036854775808'));
    await c.run(() => rawNumber(res, 'n2', '12345.25'));
    await checkRowAndFields(c, res, VALUE_CASES, res.json.rows[0], 'select');
    c.done();
  });

  t('table round trip: CREATE TABLE, INSERT … RETURNING *, SELECT *', async () => {
    // [column, column type, SQL literal, expected JSON, format_type() name]
    const cols = [
      ['si', 'smallint', `-32768`, -32768, 'smallint'],
      ['i', 'integer', `2147483647`, 2147483647, 'integer'],
      ['b', 'bigint', `9007199254740993`, 9007199254740993, 'bigint'],
      ['r', 'real', `1.5`, 1.5, 'real'],
      ['dp', 'double precision', `0.1`, 0.1, 'double precision'],
      ['dnan', 'double precision', `'NaN'`, 'NaN', 'double precision'],
      ['dinf', 'double precision', `'-Infinity'`, '-Infinity', 'double precision'],
      ['n', 'numeric', `12345.25`, 12345.25, 'numeric'],
      ['nb', 'numeric', `123456789012345678901234567890.123456789`, '123456789012345678901234567890.123456789', 'numeric'],
      ['nnan', 'numeric', `'NaN'`, 'NaN', 'numeric'],
      ['bo', 'boolean', `true`, true, 'boolean'],
      ['t', 'text', TEXT_SQL, TEXT, 'text'],
      ['j', 'json', `'{"a": [1, {"b": null}], "c": "x"}'`, { a: [1, { b: null }], c: 'x' }, 'json'],
      ['jb', 'jsonb', `'{"k": [true, 2.5, "s"], "o": {}}'`, { k: [true, 2.5, 's'], o: {} }, 'jsonb'],
      ['u', 'uuid', `'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'`, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'uuid'],
      ['by', 'bytea', `'\\x0102ff'`, '\\x0102ff', 'bytea'],
      ['dt', 'date', `'2026-01-02'`, '2026-01-02', 'date'],
      ['tz', 'timestamptz', `'2026-01-02 03:04:05.123456+00'`, '2026-01-02T03:04:05.123456+00:00', 'timestamp with time zone'],
      ['ts', 'timestamp', `'2026-01-02 03:04:05.123456'`, '2026-01-02T03:04:05.123456', 'timestamp without time zone'],
      ['ai', 'int[]', `ARRAY[1,2,NULL]`, [1, 2, null], 'integer[]'],
      ['a2', 'int[]', `'{{1,2},{3,4}}'`, [[1, 2], [3, 4]], 'integer[]'],
      ['ae', 'int[]', `'{}'`, [], 'integer[]'],
      ['at', 'text[]', `ARRAY['a','b c']`, ['a', 'b c'], 'text[]'],
      ['ab', 'boolean[]', `ARRAY[true,false]`, [true, false], 'boolean[]'],
      ['iv', 'interval', `'1 day 02:03:04'`, '1 day 02:03:04', 'interval'],
      ['ip', 'inet', `'192.168.0.1/24'`, '192.168.0.1/24', 'inet'],
      ['pt', 'point', `'(1,2)'`, '(1,2)', 'point'],
    ];
    const cases = [['id', 'id', 1, 'integer'], ...cols.map(([n, , lit, want, type]) => [n, lit, want, type])];
    const c = checks();

    const ddl = `create table q_types (id int primary key, ${cols.map(([n, ty]) => `"${n}" ${ty}`).join(', ')})`;
    const created = await query(ddl);
    expectRows(created);
    await c.run(() => assert.deepEqual([created.json.rows, created.json.rowCount], [[], 0], `DDL → rows [], rowCount 0: ${fmt(created)}`));

    const colList = cols.map(([n]) => `"${n}"`).join(', ');
    const ins = `insert into q_types (id, ${colList}) values (1, ${cols.map(([, , lit]) => lit).join(', ')}), (2, ${cols.map(() => 'NULL').join(', ')}) returning *`;
    for (const [what, sql] of [
      ['INSERT … RETURNING *', ins],
      ['SELECT *', 'select * from q_types order by id'],
    ]) {
      const res = expectRows(await query(sql));
      await c.run(() => assert.equal(res.json.rowCount, 2, `${what}: rowCount: ${fmt(res)}`));
      const rows = [...res.json.rows].sort((a, b) => a.id - b.id);
      await c.run(() => assert.equal(rows.length, 2, `${what}: 2 rows: ${fmt(res)}`));
      await checkRowAndFields(c, res, cases, rows[0], `${what} row 1`);
      // row 2: NULL in every column
      for (const [n] of cols)
        await c.run(() => assert.equal(rows[1]?.[n], null, `${what} row 2: NULL ${n} → ${JSON.stringify(rows[1]?.[n])}, want null`));
      await c.run(() => rawNumber(res, 'b', '9007199254740993'));
    }
    c.done();
  });
  t('timestamptz stays in UTC when the SQL changes the session time zone', async () => {
    await expectResult(
      `set timezone = 'Asia/Tokyo'; select '2026-01-02 03:04:05.123456+00'::timestamptz as tz`,
      undefined,
      [{ tz: '2026-01-02T03:04:05.123456+00:00' }],
    );
  });
});

describe('statements and transactions', () => {
  t('several statements run in order in one transaction; the result is the last one', async () => {
    await expectResult(
      'create table q1(x int); insert into q1 values (1),(2); select * from q1 order by x',
      undefined,
      [{ x: 1 }, { x: 2 }],
      { fields: [{ name: 'x', type: 'integer' }] },
    );
    await expectResult(
      `create table q_tx as select txid_current()::text as a; select a = txid_current()::text as same from q_tx`,
      undefined,
      [{ same: true }],
    );
    await expectResult('select 1 as x;', undefined, [{ x: 1 }]); // a trailing semicolon
  });

  t('INSERT/UPDATE/DELETE without RETURNING → rows [], fields [], rowCount = rows affected; DDL → rowCount 0', async () => {
    const c = checks();
    const cases = [
      ['create table q_dml(x int)', 0],
      ['insert into q_dml values (1), (2), (3)', 3],
      ['update q_dml set x = x + 10 where x >= 2', 2],
      ['delete from q_dml where x > 10', 2],
      ['delete from q_dml where false', 0],
      ['alter table q_dml add column y text', 0],
    ];
    for (const [sql, n] of cases) {
      const res = expectRows(await query(sql));
      await c.run(() =>
        assert.deepEqual({ rows: res.json.rows, rowCount: res.json.rowCount, fields: res.json.fields }, { rows: [], rowCount: n, fields: [] }, `${sql}: ${fmt(res)}`),
      );
    }
    await c.run(async () => {
      await expectResult('select 1 as a where false', undefined, [], { fields: [{ name: 'a', type: 'integer' }] });
    });
    c.done();
  });
});

describe('params', () => {
  t('numbers, JSON objects/arrays, null, booleans, strings', async () => {
    const c = checks();
    await c.run(() => expectResult('select $1::int + $2::int as s', [40, 2], [{ s: 42 }], { fields: [{ name: 's', type: 'integer' }] }));
    await c.run(() => expectResult(`select $1::jsonb -> 'a' as a`, [{ a: [1, 2] }], [{ a: [1, 2] }], { fields: [{ name: 'a', type: 'jsonb' }] }));
    await c.run(() => expectResult('select $1::jsonb as j', [[1, 'a', null, { b: false }]], [{ j: [1, 'a', null, { b: false }] }]));
    await c.run(() => expectResult('select $1::text is null as isnull, $2::int as v', [null, null], [{ isnull: true, v: null }]));
    await c.run(() => expectResult('select $1::boolean as t, $2::boolean as f', [true, false], [{ t: true, f: false }]));
    await c.run(() => expectResult('select $1::float8 as f, $2::numeric as n', [2.5, -0.125], [{ f: 2.5, n: -0.125 }]));
    await c.run(() => expectResult('select $1::text as v', [TEXT], [{ v: TEXT }]));
    await c.run(() => expectResult('select $1 as v', ['untyped'], [{ v: 'untyped' }]));
    await c.run(() => expectResult('select 1 as x', [], [{ x: 1 }]));
    c.done();
  });

  t('an injection attempt is just a string', async () => {
    await expectResult('select $1::text as v', ["'; drop table q1; --"], [{ v: "'; drop table q1; --" }]);
    await expectResult(`select to_regclass('public.q1') is not null as ok`, undefined, [{ ok: true }]);
  });

  t('INSERT with params then read back', async () => {
    const jb = { k: [1, { z: null }], s: 'é"\\' };
    const sql = 'insert into q_types (id, i, t, jb, bo, dp) values ($1, $2, $3, $4, $5, $6) returning id, i, t, jb, bo, dp';
    const row = { id: 3, i: 42, t: TEXT, jb, bo: false, dp: 2.5 };
    await expectResult(sql, [3, 42, TEXT, jb, false, 2.5], [row]);
    await expectResult('select id, i, t, jb, bo, dp from q_types where id = $1', [3], [row]);
  });

  t('a NUL byte in a string param or in sql is refused (Postgres text cannot hold it), not cut short', async () => {
    const c = checks();
    await c.run(async () => {
      const r = await query('select $1::text as v', ['a\u0000b']);
      assert.ok(r.status === 400 || (r.status === 200 && r.json?.rows?.[0]?.v === 'a\u0000b'), `param "a\\u0000b": want 400: ${fmt(r)}`);
    });
    await c.run(async () => {
      const r = await query('select 1 as x\u0000 this is not sql');
      assert.equal(r.status, 400, `sql "select 1 as x\\u0000 this is not sql": want 400: ${fmt(r)}`);
    });
    c.done();
  });

  t('a parameter count that does not match → 400', async () => {
    expectError(await query('select $1::int as v', []), 400);
  });
});

describe('errors', () => {
  t('a Postgres error → 400 {error, detail, code, position?}', async () => {
    const c = checks();
    await c.run(async () => {
      const r = expectPgError(await query('select 1/0'), '22012');
      assert.match(r.json.error, /division by zero/, fmt(r));
      assert.equal(r.json.detail, null, `detail: ${fmt(r)}`);
    });
    await c.run(async () => {
      const r = expectPgError(await query('selec 1'), '42601');
      assert.match(r.json.error, /syntax error/, fmt(r));
      assert.equal(r.json.position, 1, `position: ${fmt(r)}`);
    });
    await c.run(async () => {
      const r = expectPgError(await query('select * from nosuchtable'), '42P01');
      assert.match(r.json.error, /nosuchtable/, fmt(r));
      assert.equal(r.json.position, 15, `position: ${fmt(r)}`);
    });
    await c.run(async () => {
      expectRows(await query('create table q_uniq(x int primary key); insert into q_uniq values (1)'));
      const r = expectPgError(await query('insert into q_uniq values (1)'), '23505');
      assert.equal(r.json.detail, 'Key (x)=(1) already exists.', `detail: ${fmt(r)}`);
    });
    await c.run(async () => {
      const r = expectPgError(await query('select nosuchfunc(1)'), '42883');
      assert.match(String(r.json.detail), /No function matches/, `detail carries the hint: ${fmt(r)}`);
    });
    c.done();
  });

  t('an error rolls back the whole request; the connection is usable afterwards', async () => {
    expectPgError(await query('create table q_rb(x int); select 1/0'), '22012');
    await expectResult(`select to_regclass('public.q_rb') as r`, undefined, [{ r: null }]);
    // several in a row, so every pooled connection that saw an error gets reused
    for (let i = 0; i < 20; i++) expectPgError(await query(i % 2 ? 'selec 1' : 'select 1/0'), i % 2 ? '42601' : '22012');
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => query('select $1::int as i', [i])));
    rs.forEach((r, i) => assert.deepEqual(expectRows(r).json.rows, [{ i }], fmt(r)));
  });
});

describe('privileges', () => {
  t('not a superuser: rolsuper false, COPY TO PROGRAM → 42501', async () => {
    await expectResult('select rolsuper from pg_roles where rolname = current_user', undefined, [{ rolsuper: false }]);
    expectPgError(await query(`copy (select 1) to program 'true'`), '42501');
  });

  t('not under RLS; tables created here are granted to the API roles', async () => {
    const c = checks();
    await c.run(async () => {
      expectRows(await query('create table q_rls(x int); alter table q_rls enable row level security; insert into q_rls values (1)'));
      await expectResult('select count(*)::int as n from q_rls', undefined, [{ n: 1 }]);
    });
    await c.run(() => expectResult(`select has_table_privilege('anon', 'public.q1', 'SELECT') as ok`, undefined, [{ ok: true }]));
    c.done();
  });
});

describe('limits (second server: statement timeout 300ms, 100 rows, 65536 bytes)', () => {
  const lq = (sql, params) => query(sql, params, { srv: limited });

  t('statement timeout → 408, 57014, mentions 300ms, answered in < 1.5 s', async () => {
    const t0 = performance.now();
    const r = await lq('select pg_sleep(2)');
    const ms = performance.now() - t0;
    const c = checks();
    await c.run(() => expectPgError(r, '57014', 408));
    await c.run(() => assert.match(String(r.json?.error), /300\s?ms/, `error mentions the timeout: ${fmt(r)}`));
    await c.run(() => assert.ok(ms < 1500, `answered in ${ms.toFixed(0)} ms (want < 1500): ${fmt(r)}`));
    // the connection is fine afterwards
    await c.run(async () => assert.deepEqual(expectRows(await lq('select 1 as x')).json.rows, [{ x: 1 }]));
    c.done();
  });

  t('max rows → 100 rows, truncated: true', async () => {
    const r = expectRows(await lq('select g from generate_series(1,1000) g'));
    assert.equal(r.json.rows.length, 100, `rows: ${fmt(r)}`);
    assert.deepEqual(r.json.rows[0], { g: 1 });
    assert.equal(r.json.truncated, true, `truncated: ${fmt(r)}`);
  });

  t('max bytes → truncated: true, response well under 100 KB, whole rows', async (tc) => {
    const r = expectRows(await lq(`select repeat('x', 1000) as s from generate_series(1,1000)`));
    const bytes = Buffer.byteLength(r.text);
    tc.diagnostic(`max-bytes response: ${bytes} bytes, ${r.json.rows.length} rows`);
    assert.equal(r.json.truncated, true, `truncated: ${fmt(r)}`);
    assert.ok(bytes < 100 * 1024, `response is ${bytes} bytes (want well under 100 KB)`);
    assert.ok(r.json.rows.length > 0 && r.json.rows.length < 100, `rows: ${r.json.rows.length}`);
    for (const row of r.json.rows) assert.equal(row.s?.length, 1000, 'each row is whole');
  });

  t('a small result has no truncated (or false)', async () => {
    const r = expectRows(await lq('select g from generate_series(1,10) g'));
    assert.equal(r.json.rows.length, 10);
    assert.ok(!('truncated' in r.json) || r.json.truncated === false, `truncated: ${fmt(r)}`);
  });
});

// Beyond the letter of the contract: one request's SET must not change how later requests run
// (pooled connections are shared by every management caller of the project). Runs late on the
// main server because a leak changes search_path for whoever gets that connection next.
describe('session state', () => {
  t('a plain SET in one request does not leak into later requests', async () => {
    const probe = `select current_setting('search_path') as sp, current_setting('application_name') as app, current_setting('DateStyle') as ds`;
    const baseline = expectRows(await query(probe)).json.rows;
    expectRows(await query(`set search_path = pg_catalog, public; set application_name = 'leaked'; set DateStyle = 'SQL, DMY'; select 1 as x`));
    const later = [];
    for (let i = 0; i < 10; i++) later.push(await query(probe));
    later.push(...(await Promise.all(Array.from({ length: 16 }, () => query(probe)))));
    const leaked = later.filter((r) => r.status !== 200 || JSON.stringify(r.json.rows) !== JSON.stringify(baseline));
    assert.equal(leaked.length, 0, `${leaked.length} of ${later.length} later requests saw the SET (baseline ${JSON.stringify(baseline)}): ${leaked[0] && fmt(leaked[0])}`);
  });
});

// Beyond the letter of the contract: every request gets an answer. COPY … TO STDOUT / FROM STDIN
// need a client-side data stream /query cannot provide; they must fail fast (400) and give their
// pooled connection back. Runs last on the main server because a leak exhausts its pool.
describe('COPY to/from the client', () => {
  const copyQuery = (sql) =>
    server
      .api('POST', `/projects/${id}/query`, { body: { sql }, timeoutMs: 3000 })
      .catch((e) => ({ status: 'no answer', text: e.message, method: 'POST', path: `/projects/${id}/query {"sql":"${sql}"}` }));

  t('COPY … TO STDOUT and COPY … FROM STDIN → 400 quickly, and no pooled connection is lost', async () => {
    const c = checks();
    for (const sql of ['copy (select 1) to stdout', 'copy public.q1 from stdin']) {
      const r = await copyQuery(sql);
      await c.run(() => assert.equal(r.status, 400, `${sql}: ${fmt(r)}`));
    }
    // more than a pool's worth at once; then an ordinary query must still get a connection
    const many = await Promise.all(Array.from({ length: 10 }, () => copyQuery('copy (select 1) to stdout')));
    await c.run(() => assert.ok(many.every((r) => r.status === 400), `10 concurrent COPY TO STDOUT: ${many.map((r) => r.status).join(',')}`));
    const after = await server.api('POST', `/projects/${id}/query`, { body: { sql: 'select 1 as x' }, timeoutMs: 8000 }).catch((e) => ({ status: 'no answer', text: e.message, method: 'POST', path: 'select 1 as x' }));
    await c.run(() => assert.equal(after.status, 200, `select 1 after the COPYs: ${fmt(after)}`));
    c.done();
  });
});

t('both servers are still healthy after all of the above', async () => {
  for (const s of [server, limited]) {
    assert.equal(s.exitCode, undefined, `server :${s.port} exited`);
    expectStatus(await s.request('GET', '/health'), 200);
  }
});
