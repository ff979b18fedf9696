// The rows API of the first-party `database` plugin: GET /projects/:id/tables/:table/rows with
// PostgREST's query grammar (select with aliases, casts and JSON paths; every filter operator,
// not., (any)/(all) modifiers, or/and/not.or trees; order with nulls first/last; limit/offset and
// the total count), POST a row, PATCH/DELETE a row addressed by its single-column primary key
// (bigint, text, uuid; none or composite → 400). Auth (PAT, service_role; anon 403, none 401),
// parse errors as {error, detail}, Postgres errors with their SQLSTATE (unique → 409), tricky
// table and column names, typed JSON round trips, injection attempts through every part of a
// request (nothing changes), and reads as the management role (RLS does not filter).
//
// The plugin: ALPACA_DATABASE_PLUGIN, default <dir of ALPACA_SERVER_BIN>/../lib/alpaca/plugins/database.so
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
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

// A small row cap so the clamp of `limit` is visible (the default page of 100 stays below it).
const MAX_ROWS = 150;

let server;
let id; // the project
let keys; // { anon, service_role }

before(async () => {
  assert.ok(
    fs.existsSync(databasePlugin),
    `database plugin not found at ${databasePlugin} (build it, or set ALPACA_DATABASE_PLUGIN)`,
  );
  server = await startServer({ plugins: databasePlugin, env: { ALPACA_DATABASE_MAX_ROWS: String(MAX_ROWS) } });
  const p = expectStatus(await server.api('POST', '/projects', { body: { name: 'rows' } }), 201);
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

/**
 * Query string from parts: 'key=value' (split at the first '=') or [key, value]; both encoded.
 * A part starting with '?raw:' is appended as it is (for malformed escapes).
 */
function qs(parts) {
  const out = [];
  for (const p of parts) {
    if (typeof p === 'string' && p.startsWith('?raw:')) {
      out.push(p.slice(5));
      continue;
    }
    let k, v;
    if (Array.isArray(p)) [k, v] = p;
    else {
      const i = p.indexOf('=');
      [k, v] = i < 0 ? [p, undefined] : [p.slice(0, i), p.slice(i + 1)];
    }
    out.push(v === undefined ? enc(k) : `${enc(k)}=${enc(v)}`);
  }
  return out.length ? `?${out.join('&')}` : '';
}
const keyOf = (p) => (Array.isArray(p) ? p[0] : String(p).split('=')[0]);

const tablesPath = () => `/projects/${id}/tables`;
const rowsPath = (t, ...parts) => `/projects/${id}/tables/${enc(t)}/rows${qs(parts)}`;
const rowPath = (t, pk, ...parts) => `/projects/${id}/tables/${enc(t)}/rows/${enc(String(pk))}${qs(parts)}`;

async function createTable(body) {
  return expectStatus(await server.api('POST', tablesPath(), { body }), 201).json;
}
/** POST /projects/:id/query → rows */
async function sql(text, params) {
  const body = params ? { sql: text, params } : { sql: text };
  return expectStatus(await server.api('POST', `/projects/${id}/query`, { body }), 200).json.rows;
}
async function countOf(table) {
  return (await sql(`select count(*)::int as n from ${table}`))[0].n;
}

/** GET rows → {rows, count}, checking the shape. */
async function list(table, ...parts) {
  const r = expectStatus(await server.api('GET', rowsPath(table, ...parts)), 200);
  assert.match(String(r.headers['content-type'] || ''), /application\/json/, fmt(r));
  assert.ok(r.json && typeof r.json === 'object' && !Array.isArray(r.json), fmt(r));
  assert.deepEqual(Object.keys(r.json).sort(), ['count', 'rows'], fmt(r));
  assert.ok(Array.isArray(r.json.rows), fmt(r));
  assert.equal(typeof r.json.count, 'number', fmt(r));
  return r.json;
}
/** The ids a query returns (select=id, order=id unless the parts order), count checked. */
async function ids(table, ...parts) {
  const ordered = parts.some((p) => keyOf(p) === 'order');
  const j = await list(table, 'select=id', ...(ordered ? [] : ['order=id']), ...parts);
  assert.equal(j.count, j.rows.length, `count ${j.count} ≠ ${j.rows.length} rows for ${qs(parts)}`);
  return j.rows.map((r) => r.id);
}
async function insert(table, body, ...parts) {
  const r = await server.api('POST', rowsPath(table, ...parts), { body });
  expectStatus(r, 201);
  assert.match(String(r.headers['content-type'] || ''), /application\/json/, fmt(r));
  return r.json;
}
/** An error response that carries Postgres' SQLSTATE. */
function expectSqlError(res, status, code) {
  expectError(res, status);
  assert.equal(res.json.code, code, `SQLSTATE: ${fmt(res)}`);
  return res;
}
/** A parse error: 400 {error, detail} with the detail a string, the offending part named. */
function expectParseError(res, offending) {
  expectError(res, 400);
  assert.equal(typeof res.json.detail, 'string', `detail must name the offending part: ${fmt(res)}`);
  if (offending !== undefined)
    assert.ok(
      `${res.json.error} ${res.json.detail}`.includes(offending),
      `error/detail do not name ${JSON.stringify(offending)}: ${fmt(res)}`,
    );
  return res;
}

// ---------------------------------------------------------------------------------------------
// the read fixture: `items`, ids 1..6 in this order

const ITEMS_COLUMNS = [
  { name: 'name', type: 'text' },
  { name: 'status', type: 'text' },
  { name: 'n', type: 'integer' },
  { name: 'price', type: 'numeric(10,2)' },
  { name: 'tags', type: 'text[]' },
  { name: 'data', type: 'jsonb' },
  { name: 'body', type: 'text' },
  { name: 'tsv', type: 'tsvector' },
  { name: 'r', type: 'int4range' },
  { name: 'created', type: 'timestamptz' },
  { name: 'flag', type: 'boolean' },
];
const EVIL_NAME = "x'; drop table items;--";
const ITEM1 = {
  id: 1,
  name: 'alpha',
  status: 'open',
  n: 1,
  price: 10.5,
  tags: ['a', 'b'],
  data: { a: { b: 'x' }, k: 1 },
  body: 'The quick brown fox',
  tsv: "'brown':3 'fox':4 'quick':2",
  r: '[1,5)',
  created: '2026-01-01T00:00:00+00:00',
  flag: true,
};

async function setupItems() {
  await createTable({ name: 'items', columns: ITEMS_COLUMNS });
  await sql(`insert into items (name, status, n, price, tags, data, body, r, created, flag) values
    ('alpha', 'open', 1, 10.50, '{a,b}', '{"a":{"b":"x"},"k":1}', 'The quick brown fox', '[1,5)', '2026-01-01T00:00:00Z', true),
    ('beta', 'done', 2, 20.00, '{b,c}', '{"a":{"b":"y"},"k":2}', 'jumps over the lazy dog', '[5,10)', '2026-01-02T00:00:00Z', false),
    ('Gamma', 'open', 3, null, '{c}', '{"a":{"b":"x"},"k":3}', 'a quick fox jumping', '[10,20)', '2026-01-03T00:00:00Z', null),
    ('delta', null, null, 5.25, '{}', null, null, null, null, true),
    ('a,b', 'done', 5, 99.99, '{a,c}', '{"a":{"b":"z"},"k":5}', 'brown dogs run', '[20,30)', '2026-01-05T00:00:00Z', false),
    ('x''; drop table items;--', 'open', 6, 0, '{z}', '{"a b":1,"a''b":"q"}', null, null, '2026-01-06T00:00:00Z', true);
    update items set tsv = to_tsvector('english', body)`);
  assert.deepEqual(await sql('select array_agg(id order by id) as ids from items'), [{ ids: [1, 2, 3, 4, 5, 6] }]);
}

// ---------------------------------------------------------------------------------------------

describe('auth', () => {
  it('no token → 401, the anon key → 403 on all four routes; service_role works on each', async () => {
    await createTable({ name: 'auth_rows', columns: [{ name: 'v', type: 'text' }] });
    await sql("insert into auth_rows (v) values ('orig')");
    const routes = [
      ['GET', rowsPath('auth_rows')],
      ['POST', rowsPath('auth_rows'), { v: 'new' }],
      ['PATCH', rowPath('auth_rows', 1), { v: 'changed' }],
      ['DELETE', rowPath('auth_rows', 1)],
    ];
    const c = checks();
    for (const [m, p, body] of routes) {
      await c.run(async () => expectError(await server.api(m, p, { body, token: null }), 401));
      await c.run(async () => expectError(await server.api(m, p, { body, token: keys.anon }), 403));
      await c.run(async () => expectError(await server.request(m, p, { body, headers: { apikey: keys.anon } }), 401));
      await c.run(async () => expectError(await server.api(m, p, { body, token: 'not-a-token' }), 401));
    }
    c.done();
    assert.deepEqual(await sql('select id, v from auth_rows order by id'), [{ id: 1, v: 'orig' }], 'a refused request changed the table');

    const svc = { token: keys.service_role };
    const g = expectStatus(await server.api('GET', rowsPath('auth_rows'), svc), 200);
    assert.deepEqual(g.json, { rows: [{ id: 1, v: 'orig' }], count: 1 });
    const ins = expectStatus(await server.api('POST', rowsPath('auth_rows'), { ...svc, body: { v: 'svc' } }), 201);
    assert.deepEqual(ins.json, { id: 2, v: 'svc' });
    const upd = expectStatus(await server.api('PATCH', rowPath('auth_rows', 2), { ...svc, body: { v: 'svc2' } }), 200);
    assert.deepEqual(upd.json, { id: 2, v: 'svc2' });
    const del = expectStatus(await server.api('DELETE', rowPath('auth_rows', 2), svc), 200);
    assert.deepEqual(del.json, { id: 2, v: 'svc2' });
    assert.deepEqual(await sql('select id, v from auth_rows order by id'), [{ id: 1, v: 'orig' }]);
  });
});

describe('GET rows', () => {
  before(async () => setupItems());

  it('no parameters: every row of every column, typed; count', async () => {
    const j = await list('items', 'order=id');
    assert.equal(j.count, 6);
    assert.equal(j.rows.length, 6);
    assert.deepEqual(j.rows[0], ITEM1);
    assert.deepEqual(Object.keys(j.rows[0]), ['id', ...ITEMS_COLUMNS.map((c) => c.name)], 'columns in table order');
    assert.deepEqual(j.rows[3], {
      id: 4, name: 'delta', status: null, n: null, price: 5.25, tags: [], data: null, body: null, tsv: null, r: null, created: null, flag: true,
    });
    assert.equal(j.rows[5].name, EVIL_NAME);
    assert.deepEqual(j.rows[5].data, { 'a b': 1, "a'b": 'q' });
    assert.equal(j.rows[5].price, 0);
    // without order, the same set
    const un = await list('items');
    assert.equal(un.count, 6);
    assert.deepEqual(un.rows.map((r) => r.id).sort(), [1, 2, 3, 4, 5, 6]);
    // an empty table: rows [] and count 0
    await createTable({ name: 'empty_t', columns: [{ name: 'a', type: 'text' }] });
    assert.deepEqual(await list('empty_t'), { rows: [], count: 0 });
    assert.deepEqual(await list('empty_t', 'select=a', 'a=eq.x', 'order=a.desc', 'limit=5', 'offset=2'), { rows: [], count: 0 });
  });

  it('select: columns, aliases, casts, JSON paths, *', async () => {
    const one = async (select, ...more) => (await list('items', ['select', select], 'id=eq.1', ...more)).rows;
    const c = checks();
    const cases = [
      ['id,name', [{ id: 1, name: 'alpha' }]],
      ['name,id', [{ name: 'alpha', id: 1 }]],
      ['ident:id,nm:name', [{ ident: 1, nm: 'alpha' }]],
      ['id::text,price::text', [{ id: '1', price: '10.50' }]],
      ['n::numeric,flag::text', [{ n: 1, flag: 'true' }]],
      ['num:n::text', [{ num: '1' }]],
      ['data->a->>b', [{ b: 'x' }]],
      ['data->a', [{ a: { b: 'x' } }]],
      ['data->a->b', [{ b: 'x' }]],
      ['data->k', [{ k: 1 }]],
      ['kk:data->>k', [{ kk: '1' }]],
      ['data->>k::int', [{ k: 1 }]],
      ['kb:data->a->>b,id', [{ kb: 'x', id: 1 }]],
      ['tags,r,created', [{ tags: ['a', 'b'], r: '[1,5)', created: '2026-01-01T00:00:00+00:00' }]],
      ['*', [ITEM1]],
      ['*,kb:data->a->>b', [{ ...ITEM1, kb: 'x' }]],
      ['"name"', [{ name: 'alpha' }]],
    ];
    for (const [select, expected] of cases)
      await c.run(async () => {
        const rows = await one(select);
        assert.deepEqual(rows, expected, `select=${select}`);
        assert.deepEqual(Object.keys(rows[0]), Object.keys(expected[0]), `select=${select}: keys in select order`);
      });
    // a JSON path to a missing key is null; to an array element by index
    await c.run(async () => assert.deepEqual(await one('data->>nokey'), [{ nokey: null }]));
    await c.run(async () => assert.deepEqual((await list('items', 'select=id,data->a b', 'id=eq.6')).rows, [{ id: 6, 'a b': 1 }]));
    c.done();
  });

  it('an embedded resource in select → 400 (embedding is /rest/v1)', async () => {
    await createTable({ name: 'other' });
    const c = checks();
    for (const select of ['id,other(*)', 'other(id)', 'id,o:other(*)', 'id,other!inner(*)', 'id,...other(id)']) {
      await c.run(async () => {
        const r = expectError(await server.api('GET', rowsPath('items', ['select', select])), 400);
        const text = `${r.json.error} ${r.json.detail}`;
        assert.match(text, /not supported/i, fmt(r));
        assert.match(text, /\/rest\/v1/, fmt(r));
        assert.match(text, /other/, fmt(r));
      });
    }
    c.done();
  });

  it('filters: every operator, not., modifiers, JSON paths, the same column twice', async () => {
    const cases = [
      // comparison
      ['name=eq.alpha', [1]],
      ['name=neq.alpha', [2, 3, 4, 5, 6]],
      ['n=gt.2', [3, 5, 6]],
      ['n=gte.2', [2, 3, 5, 6]],
      ['n=lt.3', [1, 2]],
      ['n=lte.3', [1, 2, 3]],
      ['price=eq.10.5', [1]],
      ['price=gt.10', [1, 2, 5]],
      ['created=gte.2026-01-03T00:00:00Z', [3, 5, 6]],
      ['created=lt.2026-01-02T12:00:00+10:00', [1, 2]],
      [['name', `eq.${EVIL_NAME}`], [6]],
      ['name=eq.a,b', [5]],
      // like / ilike with * as the wildcard
      ['name=like.*a', [1, 2, 3, 4]],
      ['name=like.G*', [3]],
      ['name=like.g*', []],
      ['name=ilike.g*', [3]],
      ['name=ilike.*ET*', [2]],
      ['name=like.*;*', [6]],
      // regular expressions
      ['name=match.^[ab]', [1, 2, 5]],
      ['name=match.^g', []],
      ['name=imatch.^g', [3]],
      ['name=imatch.A$', [1, 2, 3, 4]],
      // is
      ['status=is.null', [4]],
      ['status=is.not_null', [1, 2, 3, 5, 6]],
      ['status=not.is.null', [1, 2, 3, 5, 6]],
      ['flag=is.true', [1, 4, 6]],
      ['flag=is.false', [2, 5]],
      ['flag=is.unknown', [3]],
      ['flag=not.is.true', [2, 3, 5]],
      // isdistinct (NULL is distinct from 'open'; neq drops it)
      ['status=isdistinct.open', [2, 4, 5]],
      ['status=neq.open', [2, 5]],
      ['status=not.isdistinct.open', [1, 3, 6]],
      // in (quoted values may hold commas)
      ['id=in.(1,3,5)', [1, 3, 5]],
      ['name=in.(alpha,"a,b")', [1, 5]],
      ['name=in.("Gamma")', [3]],
      ['name=not.in.(alpha,beta)', [3, 4, 5, 6]],
      ['id=in.()', []],
      // arrays
      ['tags=cs.{a}', [1, 5]],
      ['tags=cs.{a,b}', [1]],
      ['tags=cd.{a,b,c}', [1, 2, 3, 4, 5]],
      ['tags=ov.{c,z}', [2, 3, 5, 6]],
      ['tags=not.ov.{a}', [2, 3, 4, 6]],
      // jsonb containment
      ['data=cs.{"k":1}', [1]],
      ['data=cs.{"a":{"b":"x"}}', [1, 3]],
      // ranges
      ['r=ov.[4,6)', [1, 2]],
      ['r=cs.[11,12)', [3]],
      ['r=cd.[0,12)', [1, 2]],
      ['r=sl.[10,20)', [1, 2]],
      ['r=sr.[5,10)', [3, 5]],
      // PostgREST: nxr is &< (does not extend to the right), nxl is &> (not to the left)
      ['r=nxl.[5,10)', [2, 3, 5]],
      ['r=nxr.[5,10)', [1, 2]],
      ['r=adj.[10,20)', [2, 5]],
      // full-text search on a text column (to_tsvector) and on a tsvector column
      ['body=fts.fox', [1, 3]],
      ['body=fts(english).jumping', [2, 3]],
      ['body=plfts(english).quick fox', [1, 3]],
      ['body=phfts(english).quick brown', [1]],
      ['body=phfts(english).quick fox', [3]],
      ['body=wfts(english).dog -lazy', [5]],
      ['body=wfts(english)."brown fox"', [1]],
      ['body=not.fts(english).fox', [2, 5]],
      ['tsv=fts(english).jump', [2, 3]],
      ['tsv=fts.jump', [2, 3]],
      ['tsv=plfts(english).lazy dogs', [2]],
      ['tsv=wfts(english).quick -brown', [3]],
      // not.
      ['status=not.eq.done', [1, 3, 6]],
      ['id=not.in.(1,2)', [3, 4, 5, 6]],
      ['name=not.like.*a', [5, 6]],
      // modifiers
      ['id=eq(any).{1,2}', [1, 2]],
      ['name=like(all).{a*,*a}', [1]],
      ['name=like(any).{a*,*a}', [1, 2, 3, 4, 5]],
      ['name=ilike(any).{G*,*TA}', [2, 3, 4]],
      ['n=gt(all).{1,2}', [3, 5, 6]],
      ['n=lt(any).{2,3}', [1, 2]],
      ['name=not.eq(any).{alpha,beta}', [3, 4, 5, 6]],
      // several filters: ANDed, also on the same column
      ['id=gt.1&id=lt.5', [2, 3, 4]],
      ['status=eq.open&n=gt.1', [3, 6]],
      ['id=gte.2&id=lte.3&name=eq.beta', [2]],
      // JSON paths
      ['data->>k=eq.2', [2]],
      ['data->a->>b=eq.x', [1, 3]],
      ['data->>k=in.(1,5)', [1, 5]],
      ['data->a->>b=is.null', [4, 6]],
      ['data->k=eq.3', [3]],
      ['data->>a b=eq.1', [6]],
      ["data->>a'b=eq.q", [6]],
      ['data->a->>b=like.*', [1, 2, 3, 5]],
    ];
    const c = checks();
    for (const [q, expected] of cases) {
      const parts = Array.isArray(q) ? [q] : q.split('&');
      await c.run(async () => assert.deepEqual(await ids('items', ...parts), expected, `?${Array.isArray(q) ? q.join('=') : q}`));
    }
    c.done();
  });

  it('logic trees: or, and, nesting, not.or, quoted values', async () => {
    const cases = [
      ['or=(id.eq.1,n.gt.4)', [1, 5, 6]],
      ['and=(status.eq.open,n.gt.1)', [3, 6]],
      ['or=(id.eq.1,and(status.eq.done,n.gt.2))', [1, 5]],
      ['and=(id.gte.2,or(id.eq.2,id.eq.6))', [2, 6]],
      ['or=(and(id.eq.1,flag.is.true),and(id.eq.2,flag.is.true))', [1]],
      ['not.or=(status.eq.open,status.is.null)', [2, 5]],
      ['not.and=(status.eq.open,n.lt.5)', [2, 5, 6]],
      ['or=(id.eq.1,not.and(status.eq.open,n.lt.5))', [1, 2, 5, 6]],
      ['or=(name.eq."a,b",name.eq.beta)', [2, 5]],
      ['or=(name.eq."x\'; drop table items;--")', [6]],
      ['or=(name.in.(alpha,"a,b"),id.eq.2)', [1, 2, 5]],
      ['or=(tags.cs.{a,b},id.eq.3)', [1, 3]],
      ['or=(status.not.eq.open,id.eq.1)', [1, 2, 5]],
      ['or=(data->>k.eq.2,data->a->>b.eq.z)', [2, 5]],
      ['or=(body.fts(english).jumping,id.eq.1)', [1, 2, 3]],
      ['or=(name.like.G*,name.ilike.*LT*)', [3, 4]],
      ['or=(id.eq(any).{1,2},id.eq.6)', [1, 2, 6]],
      ['or=(status.is.null,flag.is.false)', [2, 4, 5]],
      // with a plain filter: ANDed
      ['or=(id.eq.1,id.eq.2)&name=eq.beta', [2]],
      ['or=(id.eq.1,id.eq.2)&or=(id.eq.2,id.eq.3)', [2]],
    ];
    const c = checks();
    for (const [q, expected] of cases)
      await c.run(async () => assert.deepEqual(await ids('items', ...q.split('&')), expected, `?${q}`));
    c.done();
  });

  it('order: asc/desc, nullsfirst/nullslast, several columns, JSON paths', async () => {
    const cases = [
      ['order=id.desc', [6, 5, 4, 3, 2, 1]],
      ['order=n', [1, 2, 3, 5, 6, 4]],
      ['order=n.asc', [1, 2, 3, 5, 6, 4]],
      ['order=n.desc', [4, 6, 5, 3, 2, 1]],
      ['order=n.desc.nullslast', [6, 5, 3, 2, 1, 4]],
      ['order=n.asc.nullsfirst', [4, 1, 2, 3, 5, 6]],
      ['order=n.nullsfirst', [4, 1, 2, 3, 5, 6]],
      ['order=status.asc,id.desc', [5, 2, 6, 3, 1, 4]],
      ['order=status.desc.nullslast,id', [1, 3, 6, 2, 5, 4]],
      ['order=price.desc.nullsfirst', [3, 5, 2, 1, 4, 6]],
      ['order=data->>k.desc.nullslast,id', [5, 3, 2, 1, 4, 6]],
      ['order=data->a->>b.asc,id.desc', [3, 1, 2, 5, 6, 4]],
      ['order=data->k.desc.nullslast,id', [5, 3, 2, 1, 4, 6]],
      ['order=flag.desc.nullslast&order=id.desc', [6, 4, 1, 5, 2, 3]],
      ['order=id.desc&status=eq.open', [6, 3, 1]],
    ];
    const c = checks();
    for (const [q, expected] of cases)
      await c.run(async () => assert.deepEqual(await ids('items', ...q.split('&')), expected, `?${q}`));
    c.done();
  });

  it('limit and offset page the rows; count is the total matching the filters', async () => {
    const c = checks();
    const page = async (...parts) => list('items', 'select=id', ...parts);
    await c.run(async () => assert.deepEqual(await page('order=id', 'limit=2'), { rows: [{ id: 1 }, { id: 2 }], count: 6 }));
    await c.run(async () => assert.deepEqual(await page('order=id', 'limit=2', 'offset=1'), { rows: [{ id: 2 }, { id: 3 }], count: 6 }));
    await c.run(async () => assert.deepEqual(await page('order=id', 'offset=4'), { rows: [{ id: 5 }, { id: 6 }], count: 6 }));
    await c.run(async () => assert.deepEqual(await page('order=id', 'limit=0'), { rows: [], count: 6 }));
    await c.run(async () => assert.deepEqual(await page('order=id', 'offset=10'), { rows: [], count: 6 }));
    await c.run(async () => assert.deepEqual(await page('order=id.desc', 'limit=1', 'offset=0'), { rows: [{ id: 6 }], count: 6 }));
    await c.run(async () => assert.deepEqual(await page('order=id', 'status=eq.open', 'limit=1'), { rows: [{ id: 1 }], count: 3 }));
    await c.run(async () => assert.deepEqual(await page('order=id', 'status=eq.open', 'limit=1', 'offset=2'), { rows: [{ id: 6 }], count: 3 }));
    await c.run(async () => assert.deepEqual(await page('order=id', 'or=(id.eq.1,id.eq.2)', 'limit=1', 'offset=1'), { rows: [{ id: 2 }], count: 2 }));
    await c.run(async () => assert.deepEqual(await page('name=eq.nobody', 'limit=1'), { rows: [], count: 0 }));
    await c.run(async () => assert.deepEqual(await page('offset=999999999999999999'), { rows: [], count: 6 }));
    await c.run(async () => assert.deepEqual(await page('order=id', 'limit=999999999999999999', 'offset=5'), { rows: [{ id: 6 }], count: 6 }));
    c.done();
  });

  it(`limit defaults to 100 and is clamped to database.max_rows (${MAX_ROWS})`, async () => {
    await createTable({ name: 'many', columns: [{ name: 'v', type: 'integer' }] });
    await sql('insert into many (v) select g from generate_series(1, 200) g');
    const c = checks();
    await c.run(async () => {
      const j = await list('many', 'select=id', 'order=id');
      assert.equal(j.count, 200);
      assert.equal(j.rows.length, 100, 'default limit');
      assert.deepEqual(j.rows.map((r) => r.id), Array.from({ length: 100 }, (_, i) => i + 1));
    });
    await c.run(async () => {
      const j = await list('many', 'select=id', 'order=id', 'limit=1000');
      assert.equal(j.count, 200);
      assert.equal(j.rows.length, MAX_ROWS, 'limit=1000 clamped to max_rows');
    });
    await c.run(async () => {
      const j = await list('many', 'select=id', 'order=id', `limit=${MAX_ROWS}`, 'offset=100');
      assert.equal(j.count, 200);
      assert.deepEqual(j.rows.map((r) => r.id), Array.from({ length: 100 }, (_, i) => i + 101));
    });
    await c.run(async () => {
      const j = await list('many', 'select=id', 'order=id', 'offset=180');
      assert.deepEqual(j.rows.map((r) => r.id), Array.from({ length: 20 }, (_, i) => i + 181));
      assert.equal(j.count, 200);
    });
    await c.run(async () => assert.deepEqual(await list('many', 'select=v', 'order=v.desc', 'limit=3'), { rows: [{ v: 200 }, { v: 199 }, { v: 198 }], count: 200 }));
    await c.run(async () => {
      const j = await list('many', 'select=id', 'v=gt.150', 'limit=1000');
      assert.equal(j.count, 50);
      assert.equal(j.rows.length, 50);
    });
    c.done();
  });

  it('malformed parameters → 400 {error, detail} naming the offending part', async () => {
    const before = await sql('select count(*)::int as n from items');
    const cases = [
      [['id=xx.1'], 'xx'],
      [['id=eq'], 'eq'],
      [['name='], 'name'],
      [['id=eq1'], 'eq1'],
      [['id=not.'], 'id'],
      [['id=eq(some).{1}'], 'some'],
      [['id=in.1,2'], 'in.1,2'],
      [['name=in.(a,b'], '(a,b'],
      [['name=in.(a,b)x'], '(a,b)x'],
      [['limit=-1'], '-1'],
      [['limit=abc'], 'abc'],
      [['limit='], 'limit'],
      [['limit=1.5'], '1.5'],
      [['offset=-5'], '-5'],
      [['offset=x'], 'x'],
      [['or=(id.eq.1'], '(id.eq.1'],
      [['or=(id.eq.1))'], '(id.eq.1))'],
      [['or=id.eq.1'], 'id.eq.1'],
      [['and=(id.eq.1,or(id.eq.2)'], '(id.eq.1,or(id.eq.2)'],
      [['or=(id.xx.1)'], 'xx'],
      [['or=(id)'], 'id'],
      [['or=()'], 'or'],
      [['order=id.sideways'], 'sideways'],
      [['order=id.asc.nullsmiddle'], 'nullsmiddle'],
      [['order='], 'order'],
      [['order=id,'], 'id,'],
      [['status=is.maybe'], 'maybe'],
      [['status=is.NULLish'], 'NULLish'],
      [['select=id::text;drop table items'], ';drop table items'],
      [['select=id::'], 'id::'],
      [['select=id,'], 'id,'],
      [['select=id)'], 'id)'],
      [['select=data->'], 'data->'],
      [['?raw:name=eq.%zz'], '%zz'],
    ];
    const c = checks();
    for (const [parts, offending] of cases)
      await c.run(async () => expectParseError(await server.api('GET', rowsPath('items', ...parts)), offending));
    c.done();
    assert.deepEqual(await sql('select count(*)::int as n from items'), before);
  });

  it('an unknown column → 400 with SQLSTATE 42703; unknown table or schema → 404', async () => {
    const c = checks();
    for (const parts of [['nope=eq.1'], ['select=id,nope'], ['order=nope'], ['nope->>a=eq.1'], ['or=(id.eq.1,nope.eq.2)'], ['select=x:nope::text']])
      await c.run(async () => {
        const r = expectSqlError(await server.api('GET', rowsPath('items', ...parts)), 400, '42703');
        assert.match(r.json.error, /nope/, fmt(r));
      });
    // values Postgres refuses for the column's type: 400 with the SQLSTATE
    for (const [parts, code] of [
      [['n=eq.abc'], '22P02'],
      [['id=in.(1,x)'], '22P02'],
      [['created=gt.someday'], '22007'],
      [['name=match.('], '2201B'],
      [['select=id::no_such_type'], '42704'],
      [['body=fts(no_such_config).x'], '42704'],
    ])
      await c.run(async () => expectSqlError(await server.api('GET', rowsPath('items', ...parts)), 400, code));
    for (const [m, p, body] of [
      ['GET', rowsPath('no_such_table')],
      ['POST', rowsPath('no_such_table'), { a: 1 }],
      ['POST', rowsPath('no_such_table'), {}],
      ['PATCH', rowPath('no_such_table', 1), { a: 1 }],
      ['DELETE', rowPath('no_such_table', 1)],
      ['GET', rowsPath('items', 'schema=no_such_schema')],
      ['POST', rowsPath('items', 'schema=no_such_schema'), { name: 'x' }],
      ['PATCH', rowPath('items', 1, 'schema=no_such_schema'), { name: 'x' }],
      ['DELETE', rowPath('items', 1, 'schema=no_such_schema')],
    ])
      await c.run(async () => expectError(await server.api(m, p, { body }), 404));
    c.done();
    assert.equal(await countOf('items'), 6);
  });

  it('schema=: system schemas → 400 on every route; another schema addresses its own table', async () => {
    const c = checks();
    for (const s of ['pg_catalog', 'information_schema', 'pg_toast']) {
      await c.run(async () => expectError(await server.api('GET', rowsPath('pg_class', `schema=${s}`)), 400));
      await c.run(async () => expectError(await server.api('GET', rowsPath('tables', `schema=${s}`)), 400));
      await c.run(async () => expectError(await server.api('POST', rowsPath('pg_class', `schema=${s}`), { body: {} }), 400));
      await c.run(async () => expectError(await server.api('PATCH', rowPath('pg_class', 1, `schema=${s}`), { body: { relname: 'x' } }), 400));
      await c.run(async () => expectError(await server.api('DELETE', rowPath('pg_class', 1, `schema=${s}`)), 400));
    }
    c.done();

    // the same name in public and in extensions
    await createTable({ name: 'ext_rows', columns: [{ name: 'v', type: 'text' }] });
    await createTable({ name: 'ext_rows', schema: 'extensions', columns: [{ name: 'v', type: 'text' }] });
    assert.deepEqual(await insert('ext_rows', { v: 'p' }), { id: 1, v: 'p' });
    assert.deepEqual(await insert('ext_rows', { v: 'e' }, 'schema=extensions'), { id: 1, v: 'e' });
    assert.deepEqual(await insert('ext_rows', { v: 'e2' }, 'schema=extensions'), { id: 2, v: 'e2' });
    assert.deepEqual(await list('ext_rows', 'order=id'), { rows: [{ id: 1, v: 'p' }], count: 1 });
    assert.deepEqual(await list('ext_rows', 'order=id', 'schema=public'), { rows: [{ id: 1, v: 'p' }], count: 1 });
    assert.deepEqual(await list('ext_rows', 'order=id', 'schema=extensions'), { rows: [{ id: 1, v: 'e' }, { id: 2, v: 'e2' }], count: 2 });
    assert.deepEqual(await list('ext_rows', 'select=v', 'schema=extensions', 'v=eq.e2'), { rows: [{ v: 'e2' }], count: 1 });
    const u = expectStatus(await server.api('PATCH', rowPath('ext_rows', 2, 'schema=extensions'), { body: { v: 'E2' } }), 200);
    assert.deepEqual(u.json, { id: 2, v: 'E2' });
    expectError(await server.api('PATCH', rowPath('ext_rows', 2), { body: { v: 'nope' } }), 404); // public has no id 2
    const d = expectStatus(await server.api('DELETE', rowPath('ext_rows', 1, 'schema=extensions')), 200);
    assert.deepEqual(d.json, { id: 1, v: 'e' });
    assert.deepEqual(await sql('select v from extensions.ext_rows order by id'), [{ v: 'E2' }]);
    assert.deepEqual(await sql('select id, v from public.ext_rows order by id'), [{ id: 1, v: 'p' }]);
    // a table only in extensions is not found without schema=
    await createTable({ name: 'only_ext', schema: 'extensions' });
    expectError(await server.api('GET', rowsPath('only_ext')), 404);
    expectError(await server.api('POST', rowsPath('only_ext'), { body: {} }), 404);
    assert.deepEqual(await list('only_ext', 'schema=extensions'), { rows: [], count: 0 });
  });
});

describe('POST rows', () => {
  before(async () => {
    await createTable({ name: 'parents' });
    await sql('insert into parents default values');
    await createTable({
      name: 'notes',
      columns: [
        { name: 'title', type: 'text', nullable: false },
        { name: 'body', type: 'text' },
        { name: 'n', type: 'integer', default: 42 },
        { name: 'done', type: 'boolean', default: false },
        { name: 'tags', type: 'text[]' },
        { name: 'meta', type: 'jsonb' },
        { name: 'code', type: 'text', unique: true },
        { name: 'qty', type: 'integer' },
        { name: 'parent_id', type: 'bigint', references: { table: 'parents' } },
      ],
    });
    await sql('alter table notes add constraint qty_positive check (qty > 0)');
  });
  const NOTE1 = { id: 1, title: 'first', body: null, n: 42, done: false, tags: null, meta: null, code: null, qty: null, parent_id: null };
  const NOTE2 = {
    id: 2, title: 'second', body: 'b', n: 7, done: true, tags: ['x', 'y z'], meta: { k: [1, { m: null }] }, code: 'C1', qty: 3, parent_id: 1,
  };

  it('→ 201 the inserted row with every column; missing columns get their defaults', async () => {
    assert.deepEqual(await insert('notes', { title: 'first' }), NOTE1);
    const two = await insert('notes', { title: 'second', body: 'b', n: 7, done: true, tags: ['x', 'y z'], meta: { k: [1, { m: null }] }, code: 'C1', qty: 3, parent_id: 1 });
    assert.deepEqual(two, NOTE2);
    assert.deepEqual(Object.keys(two), Object.keys(NOTE2), 'columns in table order');
    assert.deepEqual(await list('notes', 'order=id'), { rows: [NOTE1, NOTE2], count: 2 });

    // {} → a row of defaults; an explicit null overrides a default
    await createTable({
      name: 'defaults_t',
      columns: [
        { name: 'a', type: 'text', default: 'x' },
        { name: 'b', type: 'integer', default: 7 },
        { name: 'c', type: 'boolean', default: true },
        { name: 'd', type: 'text' },
      ],
    });
    assert.deepEqual(await insert('defaults_t', {}), { id: 1, a: 'x', b: 7, c: true, d: null });
    assert.deepEqual(await insert('defaults_t', {}), { id: 2, a: 'x', b: 7, c: true, d: null });
    assert.deepEqual(await insert('defaults_t', { a: null, d: 'dd' }), { id: 3, a: null, b: 7, c: true, d: 'dd' });
    assert.deepEqual(await insert('defaults_t', { b: 0, c: false }), { id: 4, a: 'x', b: 0, c: false, d: null });
    assert.equal(await countOf('defaults_t'), 4);
  });

  it('bad bodies and unknown columns → 400, nothing inserted', async () => {
    const before = await sql('select * from notes order by id');
    const c = checks();
    for (const body of ['[]', '[{"title":"a"}]', '"x"', '42', 'null', 'true', '{"title":', 'not json', ''])
      await c.run(async () =>
        expectError(await server.api('POST', rowsPath('notes'), { body, headers: { 'content-type': 'application/json' } }), 400),
      );
    await c.run(async () => {
      const r = expectSqlError(await server.api('POST', rowsPath('notes'), { body: { title: 'a', nope: 1 } }), 400, '42703');
      assert.match(r.json.error, /nope/, fmt(r));
    });
    await c.run(async () => expectSqlError(await server.api('POST', rowsPath('notes'), { body: { nope: 1 } }), 400, '42703'));
    await c.run(async () => expectError(await server.api('POST', rowsPath('notes'), { body: { title: 'a', ['c'.repeat(64)]: 1 } }), 400));
    await c.run(async () => expectError(await server.api('POST', rowsPath('notes'), { body: { title: 'a', '': 1 } }), 400));
    c.done();
    assert.deepEqual(await sql('select * from notes order by id'), before);
  });

  it('constraint violations: unique/PK → 409, not-null/check/FK/type → 400 with the SQLSTATE', async () => {
    const before = await sql('select * from notes order by id');
    const cases = [
      [{ title: 'dup', code: 'C1' }, 409, '23505'],
      [{ id: 1, title: 'dup pk' }, 409, '23505'],
      [{ title: null }, 400, '23502'],
      [{}, 400, '23502'],
      [{ body: 'no title' }, 400, '23502'],
      [{ title: 'q', qty: 0 }, 400, '23514'],
      [{ title: 'q', parent_id: 999 }, 400, '23503'],
      [{ title: 'q', n: 'abc' }, 400, '22P02'],
      [{ title: 'q', n: 2147483648 }, 400, '22003'],
    ];
    const c = checks();
    for (const [body, status, code] of cases)
      await c.run(async () => expectSqlError(await server.api('POST', rowsPath('notes'), { body }), status, code));
    c.done();
    assert.deepEqual(await sql('select * from notes order by id'), before, 'a refused insert left a row');
  });

  it('PATCH → 200 the updated row; DELETE → 200 the deleted row', async () => {
    const p = expectStatus(await server.api('PATCH', rowPath('notes', 1), { body: { body: 'edited', tags: ['p', 'q'], meta: { z: true } } }), 200);
    const edited = { ...NOTE1, body: 'edited', tags: ['p', 'q'], meta: { z: true } };
    assert.deepEqual(p.json, edited);
    assert.deepEqual(Object.keys(p.json), Object.keys(NOTE1));
    const p2 = expectStatus(await server.api('PATCH', rowPath('notes', 1), { body: { n: null, done: true, qty: 9, parent_id: 1 } }), 200);
    const edited2 = { ...edited, n: null, done: true, qty: 9, parent_id: 1 };
    assert.deepEqual(p2.json, edited2);
    assert.deepEqual((await list('notes', 'id=eq.1')).rows, [edited2]);
    // only that row changed
    assert.deepEqual((await list('notes', 'id=eq.2')).rows, [NOTE2]);

    // a new row, then delete it
    const extra = await insert('notes', { title: 'extra', code: 'C9' });
    assert.ok(extra.id > 2, JSON.stringify(extra));
    const d = expectStatus(await server.api('DELETE', rowPath('notes', extra.id)), 200);
    assert.deepEqual(d.json, extra);
    expectError(await server.api('DELETE', rowPath('notes', extra.id)), 404);
    expectError(await server.api('PATCH', rowPath('notes', extra.id), { body: { title: 'gone' } }), 404);
    assert.deepEqual((await list('notes', 'select=id', 'order=id')).rows, [{ id: 1 }, { id: 2 }]);
    // the unique value is free again
    const again = await insert('notes', { title: 'again', code: 'C9' });
    assert.equal(again.code, 'C9');
    assert.deepEqual(expectStatus(await server.api('DELETE', rowPath('notes', again.id)), 200).json, again);
  });

  it('PATCH/DELETE errors: missing row 404, bad pk 400, empty/bad body 400, constraints with SQLSTATE', async () => {
    const before = await sql('select * from notes order by id');
    const c = checks();
    await c.run(async () => expectError(await server.api('PATCH', rowPath('notes', 999), { body: { title: 'x' } }), 404));
    await c.run(async () => expectError(await server.api('DELETE', rowPath('notes', 999)), 404));
    await c.run(async () => expectError(await server.api('PATCH', rowPath('notes', -1), { body: { title: 'x' } }), 404));
    for (const pk of ['abc', '1.5', '1 or 1=1', '99999999999999999999', '1e3'])
      for (const m of ['PATCH', 'DELETE'])
        await c.run(async () => expectError(await server.api(m, rowPath('notes', pk), { body: m === 'PATCH' ? { title: 'x' } : undefined }), 400));
    await c.run(async () => {
      const r = expectSqlError(await server.api('PATCH', rowPath('notes', 'abc'), { body: { title: 'x' } }), 400, '22P02');
      assert.match(r.json.error, /abc/, fmt(r));
    });
    await c.run(async () => expectSqlError(await server.api('DELETE', rowPath('notes', 'abc')), 400, '22P02'));
    await c.run(async () => expectError(await server.api('PATCH', rowPath('notes', 1), { body: {} }), 400));
    for (const body of ['[]', '"x"', 'null', '{"title":', ''])
      await c.run(async () =>
        expectError(await server.api('PATCH', rowPath('notes', 1), { body, headers: { 'content-type': 'application/json' } }), 400),
      );
    await c.run(async () => expectSqlError(await server.api('PATCH', rowPath('notes', 1), { body: { nope: 1 } }), 400, '42703'));
    await c.run(async () => expectSqlError(await server.api('PATCH', rowPath('notes', 1), { body: { code: 'C1' } }), 409, '23505'));
    await c.run(async () => expectSqlError(await server.api('PATCH', rowPath('notes', 1), { body: { id: 2 } }), 409, '23505'));
    await c.run(async () => expectSqlError(await server.api('PATCH', rowPath('notes', 1), { body: { title: null } }), 400, '23502'));
    await c.run(async () => expectSqlError(await server.api('PATCH', rowPath('notes', 1), { body: { qty: -1 } }), 400, '23514'));
    await c.run(async () => expectSqlError(await server.api('PATCH', rowPath('notes', 1), { body: { parent_id: 999 } }), 400, '23503'));
    await c.run(async () => expectSqlError(await server.api('PATCH', rowPath('notes', 1), { body: { n: 'many' } }), 400, '22P02'));
    // a referenced parent cannot be deleted (FK) → 400 23503 (no ON DELETE action)
    await c.run(async () => expectSqlError(await server.api('DELETE', rowPath('parents', 1)), 400, '23503'));
    c.done();
    assert.deepEqual(await sql('select * from notes order by id'), before, 'a refused PATCH/DELETE changed a row');
    assert.equal(await countOf('parents'), 1);
  });

  it('text and uuid primary keys address rows too', async () => {
    await createTable({ name: 'codes', columns: [{ name: 'code', type: 'text', primary_key: true }, { name: 'label', type: 'text' }] });
    const weird = `it's a "code" ; drop table codes; --`;
    const uni = 'ключ 🦙';
    const pct = 'a%20b?c=d#e&f';
    assert.deepEqual(await insert('codes', { code: weird, label: 'W' }), { code: weird, label: 'W' });
    assert.deepEqual(await insert('codes', { code: uni, label: 'U' }), { code: uni, label: 'U' });
    assert.deepEqual(await insert('codes', { code: '1', label: 'one' }), { code: '1', label: 'one' });
    // percent-encoded once in the path, decoded once by the server
    assert.deepEqual(await insert('codes', { code: pct, label: 'P' }), { code: pct, label: 'P' });
    expectError(await server.api('PATCH', rowPath('codes', 'a b?c=d#e&f'), { body: { label: 'no' } }), 404);
    assert.deepEqual(expectStatus(await server.api('PATCH', rowPath('codes', pct), { body: { label: 'P2' } }), 200).json, { code: pct, label: 'P2' });
    assert.deepEqual(expectStatus(await server.api('DELETE', rowPath('codes', pct)), 200).json, { code: pct, label: 'P2' });
    expectSqlError(await server.api('POST', rowsPath('codes'), { body: { label: 'no code' } }), 400, '23502');
    expectSqlError(await server.api('POST', rowsPath('codes'), { body: { code: '1' } }), 409, '23505');
    assert.deepEqual(expectStatus(await server.api('PATCH', rowPath('codes', weird), { body: { label: 'W2' } }), 200).json, { code: weird, label: 'W2' });
    assert.deepEqual(expectStatus(await server.api('PATCH', rowPath('codes', uni), { body: { label: 'U2' } }), 200).json, { code: uni, label: 'U2' });
    // injection through a text pk matches nothing
    expectError(await server.api('PATCH', rowPath('codes', "x' or '1'='1"), { body: { label: 'all' } }), 404);
    expectError(await server.api('DELETE', rowPath('codes', "1' or '1'='1")), 404);
    expectError(await server.api('DELETE', rowPath('codes', '1 ')), 404);
    const all = await list('codes');
    assert.equal(all.count, 3);
    assert.deepEqual(all.rows.sort((a, b) => (a.label < b.label ? -1 : 1)), [
      { code: uni, label: 'U2' },
      { code: weird, label: 'W2' },
      { code: '1', label: 'one' },
    ]);
    // the pk itself can change
    assert.deepEqual(expectStatus(await server.api('PATCH', rowPath('codes', '1'), { body: { code: 'uno' } }), 200).json, { code: 'uno', label: 'one' });
    expectError(await server.api('DELETE', rowPath('codes', '1')), 404);
    assert.deepEqual(expectStatus(await server.api('DELETE', rowPath('codes', 'uno')), 200).json, { code: 'uno', label: 'one' });
    assert.deepEqual(expectStatus(await server.api('DELETE', rowPath('codes', weird)), 200).json, { code: weird, label: 'W2' });
    assert.deepEqual(expectStatus(await server.api('DELETE', rowPath('codes', uni)), 200).json, { code: uni, label: 'U2' });
    assert.deepEqual(await list('codes'), { rows: [], count: 0 });

    await createTable({ name: 'uuids', columns: [{ name: 'id', type: 'uuid', primary_key: true }, { name: 'label', type: 'text' }] });
    const U1 = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11';
    const U2 = '00000000-0000-4000-8000-000000000002';
    assert.deepEqual(await insert('uuids', { id: U1, label: 'a' }), { id: U1, label: 'a' });
    assert.deepEqual(await insert('uuids', { id: U2, label: 'b' }), { id: U2, label: 'b' });
    expectSqlError(await server.api('POST', rowsPath('uuids'), { body: { id: 'nope', label: 'c' } }), 400, '22P02');
    assert.deepEqual(expectStatus(await server.api('PATCH', rowPath('uuids', U1), { body: { label: 'a2' } }), 200).json, { id: U1, label: 'a2' });
    assert.deepEqual(expectStatus(await server.api('PATCH', rowPath('uuids', U1.toUpperCase()), { body: { label: 'a3' } }), 200).json, { id: U1, label: 'a3' });
    expectSqlError(await server.api('PATCH', rowPath('uuids', 'not-a-uuid'), { body: { label: 'x' } }), 400, '22P02');
    expectSqlError(await server.api('DELETE', rowPath('uuids', '1')), 400, '22P02');
    expectError(await server.api('DELETE', rowPath('uuids', '11111111-1111-4111-8111-111111111111')), 404);
    assert.deepEqual(await ids('uuids', `id=eq.${U2}`), [U2]);
    assert.deepEqual(expectStatus(await server.api('DELETE', rowPath('uuids', U2)), 200).json, { id: U2, label: 'b' });
    assert.deepEqual(await list('uuids'), { rows: [{ id: U1, label: 'a3' }], count: 1 });

    // a primary key column with a tricky name
    const K = 'pk "col"; x';
    await createTable({ name: 'tricky_pk', columns: [{ name: K, type: 'integer', primary_key: true }, { name: 'v', type: 'text' }] });
    assert.deepEqual(await insert('tricky_pk', { [K]: 7, v: 'a' }), { [K]: 7, v: 'a' });
    assert.deepEqual(expectStatus(await server.api('PATCH', rowPath('tricky_pk', 7), { body: { v: 'b' } }), 200).json, { [K]: 7, v: 'b' });
    expectError(await server.api('PATCH', rowPath('tricky_pk', 8), { body: { v: 'c' } }), 404);
    assert.deepEqual(expectStatus(await server.api('DELETE', rowPath('tricky_pk', 7)), 200).json, { [K]: 7, v: 'b' });
    assert.deepEqual(await list('tricky_pk'), { rows: [], count: 0 });
  });

  it('a text pk with "/" in it (percent-encoded in the path)', async () => {
    await createTable({ name: 'slashes', columns: [{ name: 'k', type: 'text', primary_key: true }, { name: 'v', type: 'integer' }] });
    await insert('slashes', { k: 'a/b', v: 1 });
    await insert('slashes', { k: 'a', v: 2 });
    const r = await server.api('PATCH', rowPath('slashes', 'a/b'), { body: { v: 10 } });
    assert.deepEqual(expectStatus(r, 200).json, { k: 'a/b', v: 10 });
    assert.deepEqual(expectStatus(await server.api('DELETE', rowPath('slashes', 'a/b')), 200).json, { k: 'a/b', v: 10 });
    assert.deepEqual(await list('slashes'), { rows: [{ k: 'a', v: 2 }], count: 1 });
  });

  it('no primary key / a composite one: PATCH and DELETE → 400 saying so; GET and POST work', async () => {
    await sql('create table nopk (a integer, b text); create table comp (a integer, b integer, v text, primary key (a, b))');
    assert.deepEqual(await insert('nopk', { a: 1, b: 'x' }), { a: 1, b: 'x' });
    assert.deepEqual(await insert('comp', { a: 1, b: 2, v: 'c' }), { a: 1, b: 2, v: 'c' });
    expectSqlError(await server.api('POST', rowsPath('comp'), { body: { a: 1, b: 2, v: 'dup' } }), 409, '23505');
    assert.deepEqual(await list('nopk'), { rows: [{ a: 1, b: 'x' }], count: 1 });
    assert.deepEqual(await list('comp', 'select=v', 'a=eq.1', 'b=eq.2'), { rows: [{ v: 'c' }], count: 1 });
    const c = checks();
    for (const [m, body] of [['PATCH', { b: 'y' }], ['DELETE']]) {
      await c.run(async () => {
        const r = expectError(await server.api(m, rowPath('nopk', 1), { body }), 400);
        assert.match(r.json.error, /no primary key/i, fmt(r));
      });
      await c.run(async () => {
        const r = expectError(await server.api(m, rowPath('comp', 1), { body: body && { v: 'y' } }), 400);
        assert.match(r.json.error, /composite primary key/i, fmt(r));
      });
    }
    c.done();
    assert.deepEqual(await sql('select * from nopk'), [{ a: 1, b: 'x' }]);
    assert.deepEqual(await sql('select * from comp'), [{ a: 1, b: 2, v: 'c' }]);
  });
});

describe('values round-trip', () => {
  const TYPED = [
    { name: 'i', type: 'int' },
    { name: 'b', type: 'bigint' },
    { name: 'num', type: 'numeric(10,2)' },
    { name: 'flag', type: 'boolean' },
    { name: 'txt', type: 'text' },
    { name: 'j', type: 'jsonb' },
    { name: 'arr', type: 'text[]' },
    { name: 'ts', type: 'timestamptz' },
    { name: 'u', type: 'uuid' },
    { name: 'by', type: 'bytea' },
  ];
  const TEXT = `q"uo'te\\back\nslash é 😀 \t tab`;
  const ROW1 = {
    id: 1,
    i: 2147483647,
    b: 9007199254740991,
    num: 12.35,
    flag: true,
    txt: TEXT,
    j: { a: [1, { b: null }], c: 'x', d: 1.5, e: { f: { g: [] } } },
    arr: ['a', 'b c', '', null, 'x,y', '{z}', 'NULL', 'q"uo'],
    ts: '2026-01-02T03:04:05.123456+00:00',
    u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    by: '\\x0102ff',
  };
  const NULLS = { i: null, b: null, num: null, flag: null, txt: null, j: null, arr: null, ts: null, u: null, by: null };

  it('int, bigint, numeric, boolean, text, jsonb, text[], timestamptz, uuid, bytea: exact JSON back', async () => {
    await createTable({ name: 'typed', columns: TYPED });
    const r1 = await insert('typed', { ...ROW1, id: undefined, num: 12.345, ts: '2026-01-02T05:04:05.123456+02:00' });
    assert.deepEqual(r1, ROW1);
    assert.deepEqual(Object.keys(r1), ['id', ...TYPED.map((c) => c.name)]);
    assert.deepEqual((await list('typed', 'id=eq.1')).rows, [ROW1]);
    // stored with the column types, not as text
    assert.deepEqual(
      await sql(`select num::text as num, b::text as b, by = '\\x0102ff'::bytea as by_ok, ts = '2026-01-02T03:04:05.123456Z'::timestamptz as ts_ok,
                        jsonb_typeof(j) as jt, j->'e'->'f'->'g' as g, array_length(arr, 1) as n, arr[4] is null as null4, u::text as u from typed where id = 1`),
      [{ num: '12.35', b: '9007199254740991', by_ok: true, ts_ok: true, jt: 'object', g: [], n: 8, null4: true, u: ROW1.u }],
    );

    // all nulls
    const r2 = await insert('typed', NULLS);
    assert.deepEqual(r2, { id: 2, ...NULLS });
    // other JSON shapes in jsonb; a bigint beyond 2^53 given as a string stays exact
    const r3 = await server.api('POST', rowsPath('typed'), { body: { j: [1, 'two', null], b: '9007199254740993', num: -0.5, flag: false, arr: [] } });
    expectStatus(r3, 201);
    assert.match(r3.text, /"b"\s*:\s*9007199254740993\b/, fmt(r3));
    assert.deepEqual({ ...r3.json, b: undefined }, { id: 3, ...NULLS, j: [1, 'two', null], b: undefined, num: -0.5, flag: false, arr: [] });
    const r4 = await insert('typed', { j: 'str', txt: '' });
    assert.deepEqual(r4, { id: 4, ...NULLS, j: 'str', txt: '' });
    const r5 = await insert('typed', { j: 42 });
    assert.deepEqual(r5.j, 42);
    assert.deepEqual(await sql("select jsonb_typeof(j) as t, b::text as b from typed where id in (3, 4, 5) order by id"), [
      { t: 'array', b: '9007199254740993' },
      { t: 'string', b: null },
      { t: 'number', b: null },
    ]);
    const g3 = await server.api('GET', rowsPath('typed', 'select=b', 'id=eq.3'));
    assert.match(expectStatus(g3, 200).text, /"b"\s*:\s*9007199254740993\b/, fmt(g3));
  });

  it('big numbers in the JSON body keep every digit (bigint, numeric, jsonb)', async () => {
    await createTable({
      name: 'bignums',
      columns: [{ name: 'b', type: 'bigint' }, { name: 'num', type: 'numeric' }, { name: 'j', type: 'jsonb' }],
    });
    // [raw JSON body, SQL to read the stored value as text, the text expected]
    const cases = [
      ['{"b": 9223372036854775807}', 'b::text', '9223372036854775807'],
      ['{"b": -9223372036854775808}', 'b::text', '-9223372036854775808'],
      ['{"num": 123456789012345678901234567890.123456789}', 'num::text', '123456789012345678901234567890.123456789'],
      ['{"num": 123456789012345678901234567890}', 'num::text', '123456789012345678901234567890'],
      ['{"num": 99999999999999999999}', 'num::text', '99999999999999999999'],
      ['{"num": -18446744073709551617}', 'num::text', '-18446744073709551617'],
      ['{"num": 1e400}', 'num::text', '1' + '0'.repeat(400)],
      ['{"j": {"big": 123456789012345678901234567890}}', "j->>'big'", '123456789012345678901234567890'],
      ['{"j": 123456789012345678901234567890}', 'j::text', '123456789012345678901234567890'],
    ];
    const c = checks();
    for (const [body, expr, expected] of cases)
      await c.run(async () => {
        const r = await server.api('POST', rowsPath('bignums'), { body, headers: { 'content-type': 'application/json' } });
        assert.equal(r.status, 201, `${body}: ${fmt(r)}`);
        assert.deepEqual(await sql(`select ${expr} as v from bignums where id = $1`, [r.json.id]), [{ v: expected }], `${body}: ${fmt(r)}`);
        const digits = expected.length > 60 ? null : expected;
        if (digits) assert.ok(r.text.includes(digits), `${body}: the answer lost digits: ${fmt(r)}`);
      });
    // PATCH reads its body the same way
    await c.run(async () => {
      const body = '{"num": 123456789012345678901234567890}';
      const r = await server.api('PATCH', rowPath('bignums', 1), { body, headers: { 'content-type': 'application/json' } });
      assert.equal(r.status, 200, `PATCH ${body}: ${fmt(r)}`);
      assert.deepEqual(await sql('select num::text as v from bignums where id = 1'), [{ v: '123456789012345678901234567890' }]);
    });
    // out of range for bigint → 400 22003, nothing stored
    await c.run(async () => {
      const n = await countOf('bignums');
      const o = await server.api('POST', rowsPath('bignums'), { body: '{"b": 9223372036854775808}', headers: { 'content-type': 'application/json' } });
      expectSqlError(o, 400, '22003');
      assert.equal(await countOf('bignums'), n);
    });
    c.done();
    // filter and read back with every digit
    const g = expectStatus(await server.api('GET', rowsPath('bignums', 'select=num', 'num=eq.123456789012345678901234567890.123456789')), 200);
    assert.match(g.text, /"num"\s*:\s*123456789012345678901234567890\.123456789\b/, fmt(g));
    assert.equal(g.json.count, 1, fmt(g));
  });

  it('filters on typed columns; PATCH with typed values', async () => {
    const c = checks();
    const cases = [
      ['i=eq.2147483647', [1]],
      ['b=gt.9007199254740990', [1, 3]],
      ['num=eq.12.35', [1]],
      ['num=lt.0', [3]],
      ['flag=is.true', [1]],
      ['flag=eq.false', [3]],
      ['ts=gt.2026-01-01T00:00:00Z', [1]],
      ['ts=eq.2026-01-02T04:04:05.123456+01:00', [1]],
      [`u=eq.${ROW1.u}`, [1]],
      ['by=eq.\\x0102ff', [1]],
      ['arr=cs.{"b c"}', [1]],
      ['arr=cs.{"x,y","{z}"}', [1]],
      ['arr=eq.{}', [3]],
      ['j->>c=eq.x', [1]],
      ['j->a->0=eq.1', [1]],
      ['j->a->1->>b=is.null', [1, 2, 3, 4, 5]],
      ['j->a->1->b=eq.null', [1]],
      ['j->e->f->g=eq.[]', [1]],
      ['j->>0=eq.1', [3]],
      [`txt=eq.${TEXT}`, [1]],
      ['txt=eq.', [4]],
      ['i=is.null&id=lte.2', [2]],
    ];
    for (const [q, expected] of cases)
      await c.run(async () => assert.deepEqual(await ids('typed', ...(q.includes('&') ? q.split('&') : [q])), expected, `?${q}`));
    c.done();

    const p = expectStatus(
      await server.api('PATCH', rowPath('typed', 1), {
        body: { arr: ['z'], j: { n: { m: [] } }, flag: false, by: '\\xdeadbeef', ts: '2026-06-01T12:00:00+02:00', num: 99999999.99, i: -2147483648 },
      }),
      200,
    );
    const changed = { ...ROW1, arr: ['z'], j: { n: { m: [] } }, flag: false, by: '\\xdeadbeef', ts: '2026-06-01T10:00:00+00:00', num: 99999999.99, i: -2147483648 };
    assert.deepEqual(p.json, changed);
    assert.deepEqual((await list('typed', 'id=eq.1')).rows, [changed]);
    // out of range for numeric(10,2) / int → 400, unchanged
    expectSqlError(await server.api('PATCH', rowPath('typed', 1), { body: { num: 123456789 } }), 400, '22003');
    expectSqlError(await server.api('PATCH', rowPath('typed', 1), { body: { i: 2147483648 } }), 400, '22003');
    expectSqlError(await server.api('PATCH', rowPath('typed', 1), { body: { u: 'xyz' } }), 400, '22P02');
    expectSqlError(await server.api('PATCH', rowPath('typed', 1), { body: { ts: 'yesterday-ish' } }), 400, '22007');
    assert.deepEqual((await list('typed', 'id=eq.1')).rows, [changed]);
    const d = expectStatus(await server.api('DELETE', rowPath('typed', 1)), 200);
    assert.deepEqual(d.json, changed);
  });
});

describe('tricky table and column names', () => {
  const NAMES = ['My Table', `quo"te's`, 'UPPER', 'MiXeD', 'ÜnïcödeTäble 🦙', 'dot.name', 'semi;colon -- x', 'pct 100%25 %', 'what?x=1#frag', 'rows'];
  const COL = 'Val "x".y';

  it('any column name reads back as a row object (t, r, rows, count, json_agg, id)', async () => {
    // Column names that a query built around "… r" / "json_agg(t)" / "'rows'" could capture.
    await createTable({
      name: 'alias_cols',
      columns: ['t', 'r', 'rows', 'count', 'json_agg', 'row', 'x'].map((name) => ({ name, type: 'text' })),
    });
    const row = { id: 1, t: 'T', r: 'R', rows: 'ROWS', count: 'COUNT', json_agg: 'J', row: 'ROW', x: 'X' };
    const c = checks();
    // POST/PATCH/DELETE answer the row: an object, whatever its columns are called
    const one = await insert('alias_cols', { ...row, id: undefined });
    await c.run(async () => assert.deepEqual(one, row, `POST: ${JSON.stringify(one)}`));
    const two = { ...row, id: 2, x: 'X2' };
    const p = expectStatus(await server.api('POST', rowsPath('alias_cols'), { body: { ...two, id: undefined } }), 201);
    await c.run(async () => assert.deepEqual(p.json, two, `POST: ${fmt(p)}`));
    const u = expectStatus(await server.api('PATCH', rowPath('alias_cols', 2), { body: { x: 'X3' } }), 200);
    await c.run(async () => assert.deepEqual(u.json, { ...two, x: 'X3' }, `PATCH: ${fmt(u)}`));
    const d = expectStatus(await server.api('DELETE', rowPath('alias_cols', 2)), 200);
    await c.run(async () => assert.deepEqual(d.json, { ...two, x: 'X3' }, `DELETE: ${fmt(d)}`));
    assert.deepEqual(await sql('select * from alias_cols'), [row]);
    const same = (parts, expected) =>
      c.run(async () => {
        const got = await list('alias_cols', ...parts);
        assert.deepEqual(got, expected, `GET ${qs(parts)} → ${JSON.stringify(got)}`);
      });
    await same([], { rows: [row], count: 1 });
    await same(['select=t,r'], { rows: [{ t: 'T', r: 'R' }], count: 1 });
    await same(['select=t'], { rows: [{ t: 'T' }], count: 1 });
    await same(['select=id', 't=eq.T', 'r=eq.R', 'order=t,r'], { rows: [{ id: 1 }], count: 1 });
    await same(['select=t:x'], { rows: [{ t: 'X' }], count: 1 });
    await same(['select=id,x'], { rows: [{ id: 1, x: 'X' }], count: 1 });
    c.done();
  });

  it('all four routes on tables named with spaces, quotes, case, unicode, dots', async () => {
    const c = checks();
    for (const name of NAMES) {
      await c.run(async () => {
        await createTable({ name, columns: [{ name: COL, type: 'text' }, { name: 'Num', type: 'integer' }] });
        assert.deepEqual(await insert(name, { [COL]: 'v1', Num: 1 }), { id: 1, [COL]: 'v1', Num: 1 }, name);
        assert.deepEqual(await insert(name, { [COL]: 'v2', Num: 2 }), { id: 2, [COL]: 'v2', Num: 2 }, name);
        assert.deepEqual(await list(name, 'order=Num.desc'), {
          rows: [{ id: 2, [COL]: 'v2', Num: 2 }, { id: 1, [COL]: 'v1', Num: 1 }],
          count: 2,
        }, name);
        // the column through select, filters and order, quoted PostgREST style
        const quotedCol = '"Val \\"x\\".y"';
        assert.deepEqual(await list(name, ['select', `id,${quotedCol}`], 'order=id'), {
          rows: [{ id: 1, [COL]: 'v1' }, { id: 2, [COL]: 'v2' }],
          count: 2,
        }, `${name}: select`);
        assert.deepEqual(await list(name, 'select=id', [quotedCol, 'eq.v2']), { rows: [{ id: 2 }], count: 1 }, `${name}: filter`);
        assert.deepEqual(await list(name, 'select=id', ['order', `${quotedCol}.desc`]), { rows: [{ id: 2 }, { id: 1 }], count: 2 }, `${name}: order`);
        assert.deepEqual(await list(name, 'select=id', ['or', `(${quotedCol}.eq.v1,Num.eq.2)`], 'order=id'), { rows: [{ id: 1 }, { id: 2 }], count: 2 }, `${name}: or`);
        assert.deepEqual(await list(name, 'select=id', 'Num=eq.2'), { rows: [{ id: 2 }], count: 1 }, `${name}: case-sensitive column`);
        expectSqlError(await server.api('GET', rowsPath(name, 'num=eq.2')), 400, '42703');
        const p = expectStatus(await server.api('PATCH', rowPath(name, 1), { body: { [COL]: 'p1', Num: 10 } }), 200);
        assert.deepEqual(p.json, { id: 1, [COL]: 'p1', Num: 10 }, name);
        const d = expectStatus(await server.api('DELETE', rowPath(name, 2)), 200);
        assert.deepEqual(d.json, { id: 2, [COL]: 'v2', Num: 2 }, name);
        assert.deepEqual(await list(name), { rows: [{ id: 1, [COL]: 'p1', Num: 10 }], count: 1 }, name);
      });
    }
    c.done();
    // the names did not fold: 'upper' and 'mixed' do not exist
    expectError(await server.api('GET', rowsPath('upper')), 404);
    expectError(await server.api('GET', rowsPath('mixed')), 404);
    expectError(await server.api('GET', rowsPath('dot')), 404);
    // a name over 63 bytes → 400
    expectError(await server.api('GET', rowsPath('t'.repeat(64))), 400);
    expectError(await server.api('POST', rowsPath('é'.repeat(32)), { body: {} }), 400);
  });
});

describe('injection attempts', () => {
  let original;
  before(async () => {
    await createTable({ name: 'victim', columns: [{ name: 'name', type: 'text' }, { name: 'data', type: 'jsonb' }] });
    await createTable({ name: 'canary' });
    await sql(`insert into victim (name, data) values ('O''Brien', '{"a''b":"q","k":1}'), ('plain', '{"k":2}')`);
    original = await sql('select id, name, data from victim order by id');
  });

  async function unchanged() {
    assert.deepEqual(await sql('select id, name, data from victim order by id'), original, 'victim changed');
    assert.deepEqual(await sql("select count(*)::int as n from pg_tables where schemaname = 'public' and tablename in ('victim', 'canary')"), [{ n: 2 }]);
    const tables = expectStatus(await server.api('GET', tablesPath()), 200).json.map((t) => t.name);
    assert.ok(tables.includes('victim') && tables.includes('canary'), JSON.stringify(tables));
  }

  it('through filter values, column names, select, aliases, JSON keys, casts, order, paging', async () => {
    const c = checks();
    const rowsOf = async (parts, expected) =>
      c.run(async () => {
        const r = await server.api('GET', rowsPath('victim', ...parts));
        expectStatus(r, 200);
        assert.deepEqual(r.json, expected, fmt(r));
      });
    const refused = async (parts, status = 400) =>
      c.run(async () => expectError(await server.api('GET', rowsPath('victim', ...parts)), status));

    // values: parameters, matched literally
    await rowsOf(['select=id', ['name', "eq.x'; drop table victim;--"]], { rows: [], count: 0 });
    await rowsOf(['select=id', ['name', "eq.O'Brien"]], { rows: [{ id: 1 }], count: 1 });
    await rowsOf(['select=id', ['name', "like.*'; drop table victim;--*"]], { rows: [], count: 0 });
    await rowsOf(['select=id', ['name', "like.O'*"]], { rows: [{ id: 1 }], count: 1 });
    await rowsOf(['select=id', ['name', `in.("x'); drop table victim;--","O'Brien")`]], { rows: [{ id: 1 }], count: 1 });
    await rowsOf(['select=id', ['or', `(name.eq."x') or true; drop table victim; --",id.eq.-1)`]], { rows: [], count: 0 });
    await rowsOf(['select=id', ['name', "match.' or '1'='1"]], { rows: [], count: 0 });
    await refused([['id', 'in.(1) or 1=1']]);
    await rowsOf(['select=id', ['data', `cs.{"k'); drop table victim; --":1}`]], { rows: [], count: 0 });
    await rowsOf(['select=id', ['name', `plfts.x') or true; drop table victim; --`]], { rows: [], count: 0 });
    // column names
    await refused([['"a;drop table victim"', 'eq.1']]);
    await refused([['name"; drop table victim; --', 'eq.1']]);
    await refused([['id) or (1=1', 'eq.1']]);
    await refused([["name = 'x' or 1", 'eq.1']]);
    await refused([['"name"" or 1=1; --"', 'eq.1']]);
    await refused([['or', '(id.eq.1,"x"") or true; drop table victim; --".eq.1)']]);
    await refused([['or', '(id) or true; --.eq.1)']]);
    // select
    await refused([['select', 'id,"name; drop table victim"']]);
    await refused([['select', 'id,name) from victim; drop table victim; --']]);
    await refused([['select', 'id,x"y:name']]);
    await refused([['select', 'id, (select 1)']]);
    await refused([['select', 'id,pg_sleep(1)']]);
    // aliases: quoted names, used as they are
    await rowsOf([['select', '"x; drop table victim":id'], 'order=id'], { rows: [{ 'x; drop table victim': 1 }, { 'x; drop table victim': 2 }], count: 2 });
    await rowsOf([['select', '"a\\" b":name'], 'id=eq.1'], { rows: [{ 'a" b': "O'Brien" }], count: 1 });
    // JSON path keys: literals
    await rowsOf([['select', "data->>a'b"], 'order=id'], { rows: [{ "a'b": 'q' }, { "a'b": null }], count: 2 });
    await rowsOf(['select=id', ["data->>a'b", 'eq.q']], { rows: [{ id: 1 }], count: 1 });
    await rowsOf(['select=id', ['data->>"x\') or true; drop table victim; --"', 'eq.1']], { rows: [], count: 0 });
    await rowsOf(['select=id', ["data->>k'||'", 'is.null'], 'order=id'], { rows: [{ id: 1 }, { id: 2 }], count: 2 });
    await refused([['data->>x\') or true--', 'eq.1']]);
    await refused([['order', "data->>k'); drop table victim; --.desc,id"]]);
    await rowsOf(['select=id', ['order', 'data->>"k\'); drop table victim; --".desc,id']], { rows: [{ id: 1 }, { id: 2 }], count: 2 });
    // casts
    await refused([['select', 'id::text;drop table victim']]);
    await refused([['select', 'id::int) from victim; drop table victim;--']]);
    await refused([['select', 'id::"text"']]);
    await refused([['select', 'id::text/**/']]);
    await refused([['select', 'id::text[]']]);
    await refused([['select', 'id::pg_catalog.text']]);
    await refused([['select', 'id::no_such_type']]);
    // order
    await refused([['order', 'id; drop table victim']]);
    await refused([['order', 'id.desc;drop table victim']]);
    await refused([['order', 'name.asc,(select 1)']]);
    await refused([['order', 'id.desc nulls first; drop table victim']]);
    // paging
    await refused([['limit', '1; drop table victim']]);
    await refused([['offset', '0 or 1=1']]);
    await refused([['limit', '1 union select 1']]);
    // full-text language
    await refused([['name', "fts(english'; drop table victim; --).x"]]);
    await refused([['name', 'fts(english) or true.x']]);
    c.done();
    await unchanged();
  });

  it('through the table name, the schema, the pk in the path, body keys and values', async () => {
    const c = checks();
    const tableNames = ['victim; drop table victim', 'victim" ; drop table victim; --', 'public.victim', "victim'", 'victim"', '"victim"', 'victim --'];
    for (const t of tableNames) {
      await c.run(async () => expectError(await server.api('GET', rowsPath(t)), 404));
      await c.run(async () => expectError(await server.api('POST', rowsPath(t), { body: { name: 'x' } }), 404));
      await c.run(async () => expectError(await server.api('PATCH', rowPath(t, 1), { body: { name: 'x' } }), 404));
      await c.run(async () => expectError(await server.api('DELETE', rowPath(t, 1)), 404));
    }
    for (const s of ['public; drop table victim', 'public"."victim', "public'", 'public --'])
      for (const [m, p, body] of [
        ['GET', rowsPath('victim', ['schema', s])],
        ['POST', rowsPath('victim', ['schema', s]), { name: 'x' }],
        ['PATCH', rowPath('victim', 1, ['schema', s]), { name: 'x' }],
        ['DELETE', rowPath('victim', 1, ['schema', s])],
      ])
        await c.run(async () => expectError(await server.api(m, p, { body }), 404));
    // the pk in the path: a bigint parameter, never SQL
    for (const pk of ['1; drop table victim', '1 or 1=1', "1' or '1'='1", '1)', '(1)', '1--', '1/**/'])
      for (const m of ['PATCH', 'DELETE'])
        await c.run(async () => expectError(await server.api(m, rowPath('victim', pk), { body: m === 'PATCH' ? { name: 'hacked' } : undefined }), 400));
    // body keys: column names, quoted → unknown columns
    const evilKeys = [
      `name") values ('x'); drop table victim; --`,
      'name, (select 1)',
      `name" = 'x'; drop table victim; --`,
      'name) = (select 1) --',
      '*',
    ];
    for (const k of evilKeys) {
      await c.run(async () => expectError(await server.api('POST', rowsPath('victim'), { body: { [k]: 'v' } }), 400));
      await c.run(async () => expectError(await server.api('PATCH', rowPath('victim', 1), { body: { [k]: 'v' } }), 400));
    }
    c.done();
    await unchanged();

    // body values: stored as text, exactly
    const evil = "'); drop table victim; --";
    const evilData = { "k'); drop table victim; --": "v'; --", nested: ['"', "'"] };
    const ins = await insert('victim', { name: evil, data: evilData });
    assert.deepEqual(ins, { id: ins.id, name: evil, data: evilData });
    assert.deepEqual(await sql('select name, data from victim where id = $1', [ins.id]), [{ name: evil, data: evilData }]);
    assert.deepEqual((await list('victim', 'select=id', ['name', `eq.${evil}`])).rows, [{ id: ins.id }]);
    const p = expectStatus(await server.api('PATCH', rowPath('victim', 1), { body: { name: `x' where false; drop table victim; --` } }), 200);
    assert.equal(p.json.name, `x' where false; drop table victim; --`);
    expectStatus(await server.api('PATCH', rowPath('victim', 1), { body: { name: "O'Brien" } }), 200);
    expectStatus(await server.api('DELETE', rowPath('victim', ins.id)), 200);
    await unchanged();
  });
});

describe('RLS', () => {
  it('rows of a table with RLS enabled (and forced) and no policies are read and written', async () => {
    await createTable({ name: 'secured', rls_enabled: true, columns: [{ name: 'v', type: 'text' }] });
    assert.deepEqual(await insert('secured', { v: 'a' }), { id: 1, v: 'a' });
    await sql("insert into secured (v) values ('b')");
    assert.deepEqual(await sql("select relrowsecurity as rls from pg_class where relname = 'secured'"), [{ rls: true }]);
    assert.deepEqual(await sql("select count(*)::int as n from pg_policies where tablename = 'secured'"), [{ n: 0 }]);
    assert.deepEqual(await list('secured', 'order=id'), { rows: [{ id: 1, v: 'a' }, { id: 2, v: 'b' }], count: 2 });
    assert.deepEqual(await list('secured', 'v=eq.b'), { rows: [{ id: 2, v: 'b' }], count: 1 });
    // FORCE: the owner too would be filtered, unless it bypasses RLS
    await sql('alter table secured force row level security');
    assert.deepEqual(await list('secured', 'order=id'), { rows: [{ id: 1, v: 'a' }, { id: 2, v: 'b' }], count: 2 });
    assert.deepEqual(expectStatus(await server.api('PATCH', rowPath('secured', 2), { body: { v: 'B' } }), 200).json, { id: 2, v: 'B' });
    assert.deepEqual(expectStatus(await server.api('DELETE', rowPath('secured', 1)), 200).json, { id: 1, v: 'a' });
    assert.deepEqual(await list('secured'), { rows: [{ id: 2, v: 'B' }], count: 1 });
    // service_role key: same view
    const s = expectStatus(await server.api('GET', rowsPath('secured'), { token: keys.service_role }), 200);
    assert.deepEqual(s.json, { rows: [{ id: 2, v: 'B' }], count: 1 });
  });

  it('/health is 200 after all of it', async () => {
    const h = await server.request('GET', '/health');
    assert.equal(h.status, 200, fmt(h));
  });
});
