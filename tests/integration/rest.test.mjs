// PostgREST's wire protocol at /p/<project>/rest/v1 (the first-party `database` plugin): reads
// (select forms, every filter operator, logic trees, order, limit/offset, Range, counts and
// Content-Range, singular objects, CSV, HEAD), embedded resources (many-to-one, one-to-many,
// many-to-many through a junction, !inner, rel.col filters, rel.order, rel.limit, aliases,
// spreads, ambiguity and its hints), PostgREST error codes (PGRST205/200/201/108/100, 42703),
// writes (insert/bulk/columns=/upsert/ignore/headers-only/PATCH/DELETE, constraint errors,
// singular writes rolled back), RPC (named args, GET, set-returning and filterable, one json
// argument, raised SQLSTATEs), RLS and roles (user JWTs, anon, service_role, grants, the
// request.* settings seen by SQL), the schema cache after DDL, hostile input (nothing changes,
// no 5xx, no SQL syntax errors leak) and the OpenAPI description.
//
// The plugin: ALPACA_DATABASE_PLUGIN, default <dir of ALPACA_SERVER_BIN>/../lib/alpaca/plugins/database.so
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import {
  checks,
  databasePlugin,
  disposeServer,
  expectStatus,
  findSocket,
  fmt,
  psql,
  request,
  signHs256,
  startServer,
  withLogs,
} from './harness.mjs';

// A small body limit so an oversized body is cheap to send.
const MAX_BODY = 1024 * 1024;
// database.max_rows: also the threshold of Prefer: count=estimated
const MAX_ROWS = 5000;

let server;
let id; // the project
let keys; // { anon, service_role }
let jwtSecret;

before(async () => {
  assert.ok(
    fs.existsSync(databasePlugin),
    `database plugin not found at ${databasePlugin} (build it, or set ALPACA_DATABASE_PLUGIN)`,
  );
  server = await startServer({ plugins: databasePlugin, env: { ALPACA_HTTP_MAX_BODY_BYTES: String(MAX_BODY), ALPACA_DATABASE_MAX_ROWS: String(MAX_ROWS) } });
  const p = expectStatus(await server.api('POST', '/projects', { body: { name: 'rest' } }), 201);
  id = p.json.id;
  const k = expectStatus(await server.api('GET', `/projects/${id}/api-keys`), 200);
  keys = Object.fromEntries(k.json.map((x) => [x.name, x.api_key]));
  assert.ok(keys.anon && keys.service_role, `api keys: ${fmt(k)}`);
  const s = findSocket(server.dataDir);
  assert.ok(s, `no postgres socket under ${server.dataDir}`);
  jwtSecret = psql({ host: s.dir, port: s.port, db: 'alpaca' }, `select jwt_secret from projects where id = '${id}'`);
  assert.ok(jwtSecret.length > 0, 'project jwt secret');
  await setupFixtures();
});
after(async () => disposeServer(server));

const it = (name, fn) => test(name, { timeout: 120000 }, withLogs(() => server, fn));

// ---------------------------------------------------------------------------------------------
// helpers

const enc = encodeURIComponent;

/** Query string from parts: 'key=value' (split at the first '=') or [key, value]; both encoded. */
function qs(parts) {
  const out = [];
  for (const p of parts) {
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

/** A user's JWT signed with the project's secret. */
function userJwt(sub, extra = {}) {
  const now = Math.floor(Date.now() / 1000);
  return signHs256({ sub, role: 'authenticated', aud: 'authenticated', iat: now, exp: now + 3600, ...extra }, jwtSecret);
}

/**
 * A /rest/v1 request as supabase-js sends it: apikey (the anon key unless given) and a Bearer
 * token (the service_role key unless opts.token; token: null sends none).
 * path: everything after /rest/v1 (e.g. '/items?select=id').
 */
function rest(method, path, opts = {}) {
  const token = opts.token === undefined ? keys.service_role : opts.token;
  const headers = { apikey: opts.apikey ?? keys.anon, ...(token ? { authorization: `Bearer ${token}` } : {}), ...(opts.headers || {}) };
  return request(server.url, method, `/p/${id}/rest/v1${path}`, { headers, body: opts.body, timeoutMs: opts.timeoutMs ?? 30000 });
}
const get = (table, parts = [], opts) => rest('GET', `/${enc(table)}${qs(parts)}`, opts);

/** POST /projects/:id/query → rows */
async function sql(text) {
  return expectStatus(await server.api('POST', `/projects/${id}/query`, { body: { sql: text } }), 200).json.rows;
}
async function countOf(table) {
  return (await sql(`select count(*)::int as n from ${table}`))[0].n;
}

/** A 2xx JSON answer's body. */
async function rows(table, parts, opts) {
  const r = await get(table, parts, opts);
  expectStatus(r, 200);
  assert.match(String(r.headers['content-type'] || ''), /^application\/json/, fmt(r));
  return r.json;
}
/** The ids a read returns (select=id, order=id unless the parts order). */
async function ids(table, ...parts) {
  const ordered = parts.some((p) => (Array.isArray(p) ? p[0] : p.split('=')[0]) === 'order');
  return (await rows(table, ['select=id', ...(ordered ? [] : ['order=id']), ...parts])).map((r) => r.id);
}

/** A PostgREST error body {code, message, details, hint} with the status and code. */
function expectPgrst(res, status, code) {
  assert.equal(res.status, status, `status: ${fmt(res)}`);
  assert.ok(res.json && typeof res.json === 'object' && !Array.isArray(res.json), `error body is not a JSON object: ${fmt(res)}`);
  assert.equal(res.json.code, code, `code: ${fmt(res)}`);
  assert.equal(typeof res.json.message, 'string', `message: ${fmt(res)}`);
  assert.ok('details' in res.json && 'hint' in res.json, `details/hint keys: ${fmt(res)}`);
  assert.match(String(res.headers['content-type'] || ''), /application\/json/, `content-type: ${fmt(res)}`);
  return res;
}

/** Write raw bytes on a fresh connection; resolve with what the server answered before closing. */
function rawExchange(text, timeoutMs = 5000) {
  return new Promise((resolve) => {
    let out = '';
    const sock = net.connect(server.port, '127.0.0.1', () => sock.write(text, () => {}));
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(out);
    };
    const timer = setTimeout(done, timeoutMs);
    sock.on('data', (d) => {
      out += d;
      if (/\r\n\r\n/.test(out)) setTimeout(done, 50);
    });
    sock.on('error', done);
    sock.on('close', done);
  });
}

/** Hostile input: a 4xx (never 5xx), no SQL syntax error leaked. */
function expectRefused(res, status) {
  assert.ok(res.status >= 400 && res.status < 500, `expected a 4xx: ${fmt(res)}`);
  if (status !== undefined) assert.equal(res.status, status, fmt(res));
  assert.doesNotMatch(res.text, /syntax error/i, `SQL syntax error leaked: ${fmt(res)}`);
  return res;
}
function noLeak(res) {
  assert.ok(res.status < 500, `5xx: ${fmt(res)}`);
  assert.doesNotMatch(res.text, /syntax error/i, `SQL syntax error leaked: ${fmt(res)}`);
  return res;
}

// ---------------------------------------------------------------------------------------------
// fixtures (created once through POST /projects/:id/query)

const EVIL_NAME = "x'; drop table items;--";
const U1 = crypto.randomUUID();
const U2 = crypto.randomUUID();

async function setupFixtures() {
  await sql(`
    create table items (
      id bigint generated by default as identity primary key,
      name text, status text, n integer, price numeric(10,2), tags text[], data jsonb, body text,
      tsv tsvector, r int4range, created timestamptz, flag boolean);
    insert into items (name, status, n, price, tags, data, body, r, created, flag) values
      ('alpha', 'open', 1, 10.50, '{a,b}', '{"a":{"b":"x"},"k":1}', 'The quick brown fox', '[1,5)', '2026-01-01T00:00:00Z', true),
      ('beta', 'done', 2, 20.00, '{b,c}', '{"a":{"b":"y"},"k":2}', 'jumps over the lazy dog', '[5,10)', '2026-01-02T00:00:00Z', false),
      ('Gamma', 'open', 3, null, '{c}', '{"a":{"b":"x"},"k":3}', 'a quick fox jumping', '[10,20)', '2026-01-03T00:00:00Z', null),
      ('delta', null, null, 5.25, '{}', null, null, null, null, true),
      ('a,b', 'done', 5, 99.99, '{a,c}', '{"a":{"b":"z"},"k":5}', 'brown dogs run', '[20,30)', '2026-01-05T00:00:00Z', false),
      ('x''; drop table items;--', 'open', 6, 0, '{z}', '{"a b":1,"a''b":"q"}', null, null, '2026-01-06T00:00:00Z', true);
    update items set tsv = to_tsvector('english', body);

    create table countries (id int primary key, name text not null);
    insert into countries values (1, 'France'), (2, 'Japan'), (3, 'Chile');
    create table cities (id int primary key, name text not null, country_id int references countries (id));
    insert into cities values (1, 'Paris', 1), (2, 'Lyon', 1), (3, 'Tokyo', 2), (4, 'Atlantis', null);

    create table students (id int primary key, name text not null);
    create table courses (id int primary key, title text not null);
    create table enrollments (
      student_id int references students (id), course_id int references courses (id),
      primary key (student_id, course_id));
    insert into students values (1, 'Ann'), (2, 'Bob'), (3, 'Cy');
    insert into courses values (1, 'Math'), (2, 'Art'), (3, 'Music');
    insert into enrollments values (1, 1), (1, 2), (2, 2);

    create table people (id int primary key, name text not null);
    create table messages (
      id int primary key, body text,
      sender_id int constraint messages_sender_fk references people (id),
      receiver_id int constraint messages_receiver_fk references people (id));
    insert into people values (1, 'Sam'), (2, 'Kim');
    insert into messages values (1, 'hi', 1, 2), (2, 'yo', 2, 1);

    create table products (
      id bigint generated by default as identity primary key,
      code text unique not null, name text, qty int not null default 0,
      country_id int references countries (id));

    create table notes (id int primary key, user_id uuid not null, body text);
    alter table notes enable row level security;
    create policy own_notes on notes for all using (user_id = auth.uid()) with check (user_id = auth.uid());
    insert into notes values (1, '${U1}', 'u1 first'), (2, '${U1}', 'u1 second'), (3, '${U2}', 'u2 only');
    create table locked (id int primary key, v text);
    insert into locked values (1, 'x');
    revoke all on locked from anon, authenticated;

    create function add_them(a int, b int) returns int language sql immutable as $$ select a + b $$;
    create function items_by_status(s text) returns setof items language sql stable as
      $$ select * from items where status = s $$;
    create function echo_json(json) returns json language sql immutable as $$ select $1 $$;
    create function const_one() returns int language sql immutable as $$ select 1 $$;
    create function pay(reason text) returns void language plpgsql as
      $$ begin raise sqlstate 'PT402' using message = reason, detail = 'top up first'; end $$;
    create function boom(n int) returns int language plpgsql as
      $$ begin raise exception 'boom: %', n using hint = 'just because'; end $$;
    create function sum_arr(xs int[]) returns int language sql immutable as $$ select sum(x)::int from unnest(xs) x $$;
    create function jb(d jsonb) returns jsonb language sql immutable as $$ select d || '{"seen":true}' $$;
    create function greet(who text default 'world') returns text language sql immutable as $$ select 'hello ' || who $$;
    create function top_items(n int) returns table (id bigint, name text) language sql stable as
      $$ select i.id, i.name from items i order by i.id limit $1 $$;
    create table bumps (id serial primary key);
    create function bump() returns int language sql volatile as $$ insert into bumps default values returning id $$;
    create function whoami(tag text) returns json language sql stable as $$
      select json_build_object('tag', tag,
        'claims', nullif(current_setting('request.jwt.claims', true), '')::json,
        'method', current_setting('request.method', true),
        'path', current_setting('request.path', true),
        'headers', nullif(current_setting('request.headers', true), '')::json,
        'role', current_user,
        'uid', auth.uid()) $$;
  `);
}

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

// ---------------------------------------------------------------------------------------------

describe('reads', () => {
  it('no parameters: every row and column, typed, as a JSON array', async () => {
    const r = expectStatus(await get('items', ['order=id']), 200);
    assert.match(String(r.headers['content-type']), /^application\/json/, fmt(r));
    assert.equal(r.json.length, 6);
    assert.deepEqual(r.json[0], ITEM1);
    assert.deepEqual(Object.keys(r.json[0]), Object.keys(ITEM1), 'columns in table order');
    assert.equal(r.json[5].name, EVIL_NAME);
    // apikey alone (no Bearer) is enough: the anon role reads the table
    const a = expectStatus(await rest('GET', '/items?select=id&order=id', { token: null }), 200);
    assert.deepEqual(a.json.map((x) => x.id), [1, 2, 3, 4, 5, 6], fmt(a));
  });

  it('select: columns, alias:col, col::text, JSON paths, *', async () => {
    const c = checks();
    const cases = [
      ['id,name', [{ id: 1, name: 'alpha' }]],
      ['name,id', [{ name: 'alpha', id: 1 }]],
      ['ident:id,nm:name', [{ ident: 1, nm: 'alpha' }]],
      ['id::text,price::text', [{ id: '1', price: '10.50' }]],
      ['num:n::text', [{ num: '1' }]],
      ['data->a->>b', [{ b: 'x' }]],
      ['data->a', [{ a: { b: 'x' } }]],
      ['data->k', [{ k: 1 }]],
      ['kk:data->>k', [{ kk: '1' }]],
      ['kb:data->a->>b,id', [{ kb: 'x', id: 1 }]],
      ['tags,r,created', [{ tags: ['a', 'b'], r: '[1,5)', created: '2026-01-01T00:00:00+00:00' }]],
      ['*', [ITEM1]],
      ['"name"', [{ name: 'alpha' }]],
    ];
    for (const [select, expected] of cases)
      await c.run(async () => {
        const got = await rows('items', [['select', select], 'id=eq.1']);
        assert.deepEqual(got, expected, `select=${select}`);
        assert.deepEqual(Object.keys(got[0]), Object.keys(expected[0]), `select=${select}: keys in select order`);
      });
    c.done();
  });

  it('filters: every operator, not., any/all', async () => {
    const cases = [
      ['name=eq.alpha', [1]],
      ['name=neq.alpha', [2, 3, 4, 5, 6]],
      ['n=gt.2', [3, 5, 6]],
      ['n=gte.2', [2, 3, 5, 6]],
      ['n=lt.3', [1, 2]],
      ['n=lte.3', [1, 2, 3]],
      ['price=eq.10.5', [1]],
      ['created=lt.2026-01-02T12:00:00+10:00', [1, 2]],
      [['name', `eq.${EVIL_NAME}`], [6]],
      ['name=like.*a', [1, 2, 3, 4]],
      ['name=like.G*', [3]],
      ['name=ilike.g*', [3]],
      ['name=ilike.*ET*', [2]],
      ['name=match.^[ab]', [1, 2, 5]],
      ['name=imatch.^g', [3]],
      ['status=is.null', [4]],
      ['status=is.not_null', [1, 2, 3, 5, 6]],
      ['flag=is.true', [1, 4, 6]],
      ['flag=is.false', [2, 5]],
      ['flag=is.unknown', [3]],
      ['flag=not.is.true', [2, 3, 5]],
      ['status=isdistinct.open', [2, 4, 5]],
      ['status=not.isdistinct.open', [1, 3, 6]],
      ['id=in.(1,3,5)', [1, 3, 5]],
      ['name=in.(alpha,"a,b")', [1, 5]],
      ['name=not.in.(alpha,beta)', [3, 4, 5, 6]],
      ['id=in.()', []],
      ['tags=cs.{a}', [1, 5]],
      ['tags=cd.{a,b,c}', [1, 2, 3, 4, 5]],
      ['tags=ov.{c,z}', [2, 3, 5, 6]],
      ['data=cs.{"a":{"b":"x"}}', [1, 3]],
      ['data=cd.{"a":{"b":"y"},"k":2,"z":0}', [2]],
      ['r=ov.[4,6)', [1, 2]],
      ['r=sl.[10,20)', [1, 2]],
      ['r=sr.[5,10)', [3, 5]],
      // PostgREST: nxr is &< (does not extend to the right of), nxl is &> (not to the left of)
      ['r=nxl.[5,10)', [2, 3, 5]],
      ['r=nxr.[5,10)', [1, 2]],
      ['r=adj.[10,20)', [2, 5]],
      ['body=fts.fox', [1, 3]],
      ['body=fts(english).jumping', [2, 3]],
      ['body=plfts(english).quick fox', [1, 3]],
      ['body=phfts(english).quick brown', [1]],
      ['body=wfts(english).dog -lazy', [5]],
      ['tsv=fts(english).jump', [2, 3]],
      ['body=not.fts(english).fox', [2, 5]],
      ['status=not.eq.done', [1, 3, 6]],
      ['id=eq(any).{1,2}', [1, 2]],
      ['name=like(all).{a*,*a}', [1]],
      ['name=like(any).{a*,*a}', [1, 2, 3, 4, 5]],
      ['n=gt(all).{1,2}', [3, 5, 6]],
      ['name=not.eq(any).{alpha,beta}', [3, 4, 5, 6]],
      ['id=gt.1&id=lt.5', [2, 3, 4]],
      ['data->>k=eq.2', [2]],
      ['data->a->>b=eq.x', [1, 3]],
    ];
    const c = checks();
    for (const [q, expected] of cases) {
      const parts = Array.isArray(q) ? [q] : q.split('&');
      await c.run(async () => assert.deepEqual(await ids('items', ...parts), expected, `?${Array.isArray(q) ? q.join('=') : q}`));
    }
    c.done();
  });

  it('or/and trees, nested, negated', async () => {
    const cases = [
      ['or=(id.eq.1,n.gt.4)', [1, 5, 6]],
      ['and=(status.eq.open,n.gt.1)', [3, 6]],
      ['or=(id.eq.1,and(status.eq.done,n.gt.2))', [1, 5]],
      ['and=(id.gte.2,or(id.eq.2,id.eq.6))', [2, 6]],
      ['not.or=(status.eq.open,status.is.null)', [2, 5]],
      ['or=(id.eq.1,not.and(status.eq.open,n.lt.5))', [1, 2, 5, 6]],
      ['or=(name.eq."a,b",name.eq.beta)', [2, 5]],
      ['or=(status.not.eq.open,id.eq.1)', [1, 2, 5]],
      ['or=(data->>k.eq.2,data->a->>b.eq.z)', [2, 5]],
      ['or=(id.eq(any).{1,2},id.eq.6)', [1, 2, 6]],
      ['or=(id.eq.1,id.eq.2)&name=eq.beta', [2]],
    ];
    const c = checks();
    for (const [q, expected] of cases)
      await c.run(async () => assert.deepEqual(await ids('items', ...q.split('&')), expected, `?${q}`));
    c.done();
  });

  it('order with nullsfirst/nullslast, limit/offset', async () => {
    const cases = [
      ['order=id.desc', [6, 5, 4, 3, 2, 1]],
      ['order=n', [1, 2, 3, 5, 6, 4]],
      ['order=n.desc', [4, 6, 5, 3, 2, 1]],
      ['order=n.desc.nullslast', [6, 5, 3, 2, 1, 4]],
      ['order=n.asc.nullsfirst', [4, 1, 2, 3, 5, 6]],
      ['order=n.nullsfirst', [4, 1, 2, 3, 5, 6]],
      ['order=status.asc,id.desc', [5, 2, 6, 3, 1, 4]],
      ['order=data->>k.desc.nullslast,id', [5, 3, 2, 1, 4, 6]],
      ['order=id&limit=2', [1, 2]],
      ['order=id&limit=2&offset=1', [2, 3]],
      ['order=id&offset=4', [5, 6]],
      ['order=id&limit=0', []],
      ['order=id.desc&status=eq.open&limit=2', [6, 3]],
    ];
    const c = checks();
    for (const [q, expected] of cases)
      await c.run(async () => assert.deepEqual(await ids('items', ...q.split('&')), expected, `?${q}`));
    c.done();
  });

  it("Prefer: count=planned (Postgres' estimate) and count=estimated (exact up to database.max_rows, then the estimate)", async () => {
    await sql(`create table est (id int primary key, even bool);
               insert into est select g, g % 2 = 0 from generate_series(1, 20000) g;
               analyze est;
               create function est_upto(n int) returns setof est language sql stable as $$ select * from est where id <= n $$`);
    const total = (r) => {
      const m = /^(\d+-\d+|\*)\/(\d+)$/.exec(String(r.headers['content-range']));
      assert.ok(m, `content-range: ${fmt(r)}`);
      return Number(m[2]);
    };
    const c = checks();
    try {
      await c.run(async () => {
        const r = expectStatus(await get('est', ['select=id', 'limit=10'], { headers: { Prefer: 'count=planned' } }), 206);
        assert.equal(r.json.length, 10, fmt(r));
        const n = total(r);
        assert.ok(n >= 18000 && n <= 22000, `planned ${n} is not near 20000: ${fmt(r)}`);
        assert.equal(r.headers['preference-applied'], 'count=planned', fmt(r));
      });
      await c.run(async () => {
        // filters count in the estimate: far below the table's size
        const n = total(expectStatus(await get('est', ['select=id', 'id=lt.101'], { headers: { Prefer: 'count=planned' } }), 200));
        assert.ok(n >= 1 && n <= 1000, `planned ${n} for 100 rows`);
      });
      await c.run(async () => {
        // estimated over the threshold (this server: database.max_rows = ${MAX_ROWS}): the estimate
        const n = total(expectStatus(await get('est', ['select=id', 'limit=1'], { headers: { Prefer: 'count=estimated' } }), 206));
        assert.ok(n >= 18000 && n <= 22000, `estimated ${n}`);
      });
      await c.run(async () => {
        // estimated under the threshold: the exact count
        const r = expectStatus(await get('est', ['select=id', 'id=lt.101', 'even=is.true', 'limit=1'], { headers: { Prefer: 'count=estimated' } }), 206);
        assert.equal(r.headers['content-range'], '0-0/50', fmt(r));
      });
      await c.run(async () => {
        // an estimate below the rows actually returned never shows: the total is at least the page
        const r = expectStatus(await get('est', ['select=id', 'id=lt.4'], { headers: { Prefer: 'count=planned' } }), 200);
        assert.ok(total(r) >= 3, fmt(r));
      });
      await c.run(async () => {
        const r = expectStatus(await rest('GET', `/rpc/est_upto${qs(['n=15000', 'select=id', 'limit=2'])}`, { headers: { Prefer: 'count=planned' } }), 206);
        assert.deepEqual(r.json, [{ id: 1 }, { id: 2 }], fmt(r));
        // the planner's guess for a function call (its ROWS, 1000 unless declared), not a count
        assert.ok(total(r) >= 2, fmt(r));
      });
      await c.run(async () => {
        const r = expectStatus(await rest('GET', `/rpc/est_upto${qs(['n=30', 'select=id', 'limit=2'])}`, { headers: { Prefer: 'count=estimated' } }), 206);
        assert.equal(r.headers['content-range'], '0-1/30', fmt(r));
      });
    } finally {
      await sql('drop function est_upto(int); drop table est');
    }
    c.done();
  });

  it('Range header, Prefer: count=exact, Content-Range, 206 when partial', async () => {
    const c = checks();
    const q = ['select=id', 'order=id'];
    await c.run(async () => {
      const r = expectStatus(await get('items', q, { headers: { Range: '0-1' } }), 200);
      assert.deepEqual(r.json, [{ id: 1 }, { id: 2 }], fmt(r));
      assert.equal(r.headers['content-range'], '0-1/*', fmt(r));
    });
    await c.run(async () => {
      const r = expectStatus(await get('items', q, { headers: { Range: '0-1', Prefer: 'count=exact' } }), 206);
      assert.deepEqual(r.json, [{ id: 1 }, { id: 2 }], fmt(r));
      assert.equal(r.headers['content-range'], '0-1/6', fmt(r));
    });
    await c.run(async () => {
      const r = expectStatus(await get('items', q, { headers: { Range: '2-3', 'Range-Unit': 'items', Prefer: 'count=exact' } }), 206);
      assert.deepEqual(r.json, [{ id: 3 }, { id: 4 }], fmt(r));
      assert.equal(r.headers['content-range'], '2-3/6', fmt(r));
    });
    await c.run(async () => {
      const r = expectStatus(await get('items', q, { headers: { Prefer: 'count=exact' } }), 200);
      assert.equal(r.json.length, 6, fmt(r));
      assert.equal(r.headers['content-range'], '0-5/6', fmt(r));
    });
    await c.run(async () => {
      const r = expectStatus(await get('items', [...q, 'limit=2', 'offset=1'], { headers: { Prefer: 'count=exact' } }), 206);
      assert.deepEqual(r.json, [{ id: 2 }, { id: 3 }], fmt(r));
      assert.equal(r.headers['content-range'], '1-2/6', fmt(r));
    });
    await c.run(async () => {
      const r = expectStatus(await get('items', [...q, 'status=eq.open'], { headers: { Prefer: 'count=exact' } }), 200);
      assert.equal(r.headers['content-range'], '0-2/3', fmt(r));
    });
    await c.run(async () => {
      const r = expectStatus(await get('items', [...q, 'name=eq.nobody'], { headers: { Prefer: 'count=exact' } }), 200);
      assert.deepEqual(r.json, [], fmt(r));
      assert.equal(r.headers['content-range'], '*/0', fmt(r));
    });
    await c.run(async () => {
      const r = expectStatus(await get('items', q), 200);
      assert.equal(r.headers['content-range'], '0-5/*', fmt(r));
    });
    // past the end: [] without a count, 416 PGRST103 with one
    await c.run(async () => {
      const r = expectStatus(await get('items', [...q, 'offset=10']), 200);
      assert.deepEqual(r.json, [], fmt(r));
    });
    await c.run(async () => {
      const r = expectPgrst(await get('items', [...q, 'offset=10'], { headers: { Prefer: 'count=exact' } }), 416, 'PGRST103');
      assert.equal(r.json.details, 'An offset of 10 was requested, but there are only 6 rows.', fmt(r));
    });
    await c.run(async () => expectPgrst(await get('items', q, { headers: { Range: '3-1' } }), 416, 'PGRST103'));
    c.done();
  });

  it('Accept negotiation: */* and application/json → JSON; an unknown media type → 406 PGRST107', async () => {
    const c = checks();
    for (const accept of ['*/*', 'application/json', 'application/json, text/plain, */*'])
      await c.run(async () => {
        const r = expectStatus(await get('items', ['select=id', 'id=eq.1'], { headers: { Accept: accept } }), 200);
        assert.deepEqual(r.json, [{ id: 1 }], fmt(r));
        assert.match(String(r.headers['content-type']), /^application\/json/, fmt(r));
      });
    // PGRST107: 406 up to PostgREST 11, 415 in the current documentation
    await c.run(async () => {
      const r = await get('items', ['select=id'], { headers: { Accept: 'application/xml' } });
      assert.ok([406, 415].includes(r.status), `expected 406 or 415: ${fmt(r)}`);
      expectPgrst(r, r.status, 'PGRST107');
      assert.equal(r.json.message, 'None of these media types are available: application/xml', fmt(r));
    });
    c.done();
  });

  it('Accept: application/vnd.pgrst.object+json → one object; 406 PGRST116 for 0 or 2+ rows', async () => {
    const obj = { Accept: 'application/vnd.pgrst.object+json' };
    const r = expectStatus(await get('items', ['select=id,name', 'id=eq.2'], { headers: obj }), 200);
    assert.deepEqual(r.json, { id: 2, name: 'beta' }, fmt(r));
    assert.match(String(r.headers['content-type']), /^application\/vnd\.pgrst\.object\+json/, fmt(r));
    const c = checks();
    for (const [parts, n] of [[['id=eq.99'], 0], [['id=lt.3'], 2], [[], 6]])
      await c.run(async () => {
        const e = expectPgrst(await get('items', ['select=id', ...parts], { headers: obj }), 406, 'PGRST116');
        assert.equal(e.json.message, 'JSON object requested, multiple (or no) rows returned', fmt(e));
        assert.equal(e.json.details, `The result contains ${n} rows`, fmt(e));
      });
    c.done();
  });

  it('Accept: text/csv', async () => {
    const r = expectStatus(await get('items', ['select=id,name,n', 'id=in.(1,4,5)', 'order=id'], { headers: { Accept: 'text/csv' } }), 200);
    assert.match(String(r.headers['content-type']), /^text\/csv/, fmt(r));
    // PostgREST writes each row as its record text without the parentheses: quotes only where needed
    assert.equal(r.text, 'id,name,n\n1,alpha,1\n4,delta,\n5,"a,b",5', fmt(r));
  });

  it('HEAD: the headers of GET, no body', async () => {
    const r = await rest('HEAD', '/items?select=id&order=id&limit=2', { headers: { Prefer: 'count=exact' } });
    assert.equal(r.status, 206, fmt(r));
    assert.equal(r.text, '', fmt(r));
    assert.equal(r.headers['content-range'], '0-1/6', fmt(r));
    const all = await rest('HEAD', '/items');
    assert.equal(all.status, 200, fmt(all));
    assert.equal(all.text, '');
    const missing = await rest('HEAD', '/nope');
    assert.equal(missing.status, 404, fmt(missing));
  });

  it('unknown table → 404 PGRST205; unknown column → 400 42703', async () => {
    const t = expectPgrst(await get('nope'), 404, 'PGRST205');
    assert.match(t.json.message, /Could not find the table 'public\.nope' in the schema cache/, fmt(t));
    const c = checks();
    for (const parts of [['select=id,nope'], ['nope=eq.1'], ['order=nope'], ['or=(id.eq.1,nope.eq.2)'], ['select=id,nope->>a']])
      await c.run(async () => {
        const r = expectPgrst(await get('items', parts), 400, '42703');
        assert.match(r.json.message, /nope/, fmt(r));
      });
    c.done();
  });

  it('malformed query strings → 400 PGRST100 with details pointing at the bad part', async () => {
    const cases = [
      [['select=id,name('], 'name('],
      [['select=id,,name'], ',name'],
      [['id=eq'], 'eq'],
      [['id=zz.1'], 'zz'],
      [['or=(id.eq.1,id.eq.2'], 'id.eq.2'],
      [['or=id.eq.1'], 'id.eq.1'],
      [['order=id.sideways'], 'sideways'],
      [['limit=ten'], 'ten'],
      [['id=in.(1,2'], '(1,2'],
      [['flag=is.maybe'], 'maybe'],
      [['id=eq(some).{1}'], 'some'],
    ];
    const c = checks();
    for (const [parts, bad] of cases)
      await c.run(async () => {
        const r = expectPgrst(await get('items', parts), 400, 'PGRST100');
        assert.ok(`${r.json.message} ${r.json.details}`.includes(bad), `details do not point at ${JSON.stringify(bad)}: ${fmt(r)}`);
      });
    c.done();
  });
});

describe('embedded resources', () => {
  it('many-to-one, one-to-many, many-to-many, alias, nested', async () => {
    const c = checks();
    const cases = [
      [
        'cities',
        ['select=name,countries(name)', 'order=id'],
        [
          { name: 'Paris', countries: { name: 'France' } },
          { name: 'Lyon', countries: { name: 'France' } },
          { name: 'Tokyo', countries: { name: 'Japan' } },
          { name: 'Atlantis', countries: null },
        ],
      ],
      ['cities', ['select=name,country:countries(name)', 'id=eq.1'], [{ name: 'Paris', country: { name: 'France' } }]],
      ['cities', ['select=name,countries(*)', 'id=eq.3'], [{ name: 'Tokyo', countries: { id: 2, name: 'Japan' } }]],
      [
        'countries',
        ['select=name,cities(name)', 'order=id', 'cities.order=id'],
        [
          { name: 'France', cities: [{ name: 'Paris' }, { name: 'Lyon' }] },
          { name: 'Japan', cities: [{ name: 'Tokyo' }] },
          { name: 'Chile', cities: [] },
        ],
      ],
      [
        'students',
        ['select=name,courses(title)', 'order=id', 'courses.order=title'],
        [
          { name: 'Ann', courses: [{ title: 'Art' }, { title: 'Math' }] },
          { name: 'Bob', courses: [{ title: 'Art' }] },
          { name: 'Cy', courses: [] },
        ],
      ],
      [
        'courses',
        ['select=title,students(name)', 'order=id', 'students.order=name.desc'],
        [
          { title: 'Math', students: [{ name: 'Ann' }] },
          { title: 'Art', students: [{ name: 'Bob' }, { name: 'Ann' }] },
          { title: 'Music', students: [] },
        ],
      ],
      [
        'enrollments',
        ['select=students(name),courses(title)', 'order=student_id,course_id'],
        [
          { students: { name: 'Ann' }, courses: { title: 'Math' } },
          { students: { name: 'Ann' }, courses: { title: 'Art' } },
          { students: { name: 'Bob' }, courses: { title: 'Art' } },
        ],
      ],
      [
        'countries',
        ['select=name,cities(name,countries(name))', 'id=eq.2'],
        [{ name: 'Japan', cities: [{ name: 'Tokyo', countries: { name: 'Japan' } }] }],
      ],
    ];
    for (const [table, parts, expected] of cases)
      await c.run(async () => assert.deepEqual(await rows(table, parts), expected, `${table}${qs(parts)}`));
    c.done();
  });

  it('!inner, rel.col filters, rel.order, rel.limit, spread', async () => {
    const c = checks();
    const cases = [
      [
        'countries',
        ['select=name,cities!inner(name)', 'order=id', 'cities.order=id'],
        [
          { name: 'France', cities: [{ name: 'Paris' }, { name: 'Lyon' }] },
          { name: 'Japan', cities: [{ name: 'Tokyo' }] },
        ],
      ],
      [
        'countries',
        ['select=name,cities(name)', 'cities.name=eq.Lyon', 'order=id'],
        [
          { name: 'France', cities: [{ name: 'Lyon' }] },
          { name: 'Japan', cities: [] },
          { name: 'Chile', cities: [] },
        ],
      ],
      ['countries', ['select=name,cities!inner(name)', 'cities.name=eq.Lyon'], [{ name: 'France', cities: [{ name: 'Lyon' }] }]],
      ['cities', ['select=name,countries!inner(name)', 'countries.name=eq.Japan'], [{ name: 'Tokyo', countries: { name: 'Japan' } }]],
      [
        'countries',
        ['select=name,cities(name)', 'cities.order=name.desc', 'cities.limit=1', 'order=id'],
        [
          { name: 'France', cities: [{ name: 'Paris' }] },
          { name: 'Japan', cities: [{ name: 'Tokyo' }] },
          { name: 'Chile', cities: [] },
        ],
      ],
      [
        'countries',
        ['select=name,towns:cities(name)', 'towns.order=id', 'towns.offset=1', 'id=eq.1'],
        [{ name: 'France', towns: [{ name: 'Lyon' }] }],
      ],
      ['cities', ['select=name,...countries(country:name)', 'id=eq.3'], [{ name: 'Tokyo', country: 'Japan' }]],
      [
        'cities',
        ['select=id,...countries(name)', 'order=id', 'id=in.(2,4)'],
        [{ id: 2, name: 'France' }, { id: 4, name: null }],
      ],
      [
        'countries',
        ['select=name,cities(name)', 'cities.or=(name.eq.Paris,name.eq.Tokyo)', 'order=id'],
        [
          { name: 'France', cities: [{ name: 'Paris' }] },
          { name: 'Japan', cities: [{ name: 'Tokyo' }] },
          { name: 'Chile', cities: [] },
        ],
      ],
      [
        'students',
        ['select=name,courses!inner(title)', 'courses.title=eq.Math'],
        [{ name: 'Ann', courses: [{ title: 'Math' }] }],
      ],
    ];
    for (const [table, parts, expected] of cases)
      await c.run(async () => assert.deepEqual(await rows(table, parts), expected, `${table}${qs(parts)}`));
    c.done();
  });

  it('errors: unknown relationship 400 PGRST200, ambiguous 300 PGRST201 (resolved with !fk), PGRST108', async () => {
    const c = checks();
    await c.run(async () => {
      const r = expectPgrst(await get('cities', ['select=name,planets(name)']), 400, 'PGRST200');
      assert.match(r.json.message, /cities.*planets/, fmt(r));
    });
    await c.run(async () => {
      const r = expectPgrst(await get('messages', ['select=body,people(name)']), 300, 'PGRST201');
      assert.match(r.json.message, /messages.*people/, fmt(r));
    });
    await c.run(async () =>
      assert.deepEqual(
        await rows('messages', ['select=body,sender:people!messages_sender_fk(name),receiver:people!messages_receiver_fk(name)', 'order=id']),
        [
          { body: 'hi', sender: { name: 'Sam' }, receiver: { name: 'Kim' } },
          { body: 'yo', sender: { name: 'Kim' }, receiver: { name: 'Sam' } },
        ],
      ),
    );
    await c.run(async () =>
      assert.deepEqual(await rows('messages', ['select=body,people!sender_id(name)', 'id=eq.1']), [{ body: 'hi', people: { name: 'Sam' } }]),
    );
    await c.run(async () =>
      assert.deepEqual(
        await rows('people', ['select=name,messages!messages_receiver_fk(body)', 'order=id']),
        [{ name: 'Sam', messages: [{ body: 'yo' }] }, { name: 'Kim', messages: [{ body: 'hi' }] }],
      ),
    );
    await c.run(async () => expectPgrst(await get('messages', ['select=body,people!nope_fk(name)']), 400, 'PGRST200'));
    await c.run(async () => {
      const r = expectPgrst(await get('cities', ['select=name', 'countries.name=eq.France']), 400, 'PGRST108');
      assert.match(r.json.message, /countries/, fmt(r));
    });
    await c.run(async () => expectPgrst(await get('countries', ['select=name', 'cities.order=name']), 400, 'PGRST108'));
    await c.run(async () => expectPgrst(await get('countries', ['select=name', 'cities.limit=1']), 400, 'PGRST108'));
    await c.run(async () => expectPgrst(await get('countries', ['select=name,...cities(name)']), 400, 'PGRST119'));
    await c.run(async () => expectPgrst(await get('cities', ['select=name,countries(nope)']), 400, '42703'));
    await c.run(async () => expectPgrst(await get('countries', ['select=name,cities(name)', 'cities.nope=eq.1']), 400, '42703'));
    c.done();
  });

  it('counts with embedding: !inner filters what is counted', async () => {
    const r = expectStatus(
      await get('countries', ['select=name,cities!inner(name)', 'order=id', 'limit=1', 'cities.order=id'], { headers: { Prefer: 'count=exact' } }),
      206,
    );
    assert.deepEqual(r.json, [{ name: 'France', cities: [{ name: 'Paris' }, { name: 'Lyon' }] }], fmt(r));
    assert.equal(r.headers['content-range'], '0-0/2', fmt(r));
    const all = expectStatus(await get('countries', ['select=name,cities(name)'], { headers: { Prefer: 'count=exact' } }), 200);
    assert.equal(all.headers['content-range'], '0-2/3', fmt(all));
  });

  it('filtering on an embedded resource being null: rel=is.null / rel=not.is.null', async () => {
    const c = checks();
    await c.run(async () => assert.deepEqual(await rows('cities', ['select=name,countries(name)', 'countries=is.null']), [{ name: 'Atlantis', countries: null }]));
    await c.run(async () =>
      assert.deepEqual(await rows('countries', ['select=name,cities(name)', 'cities=not.is.null', 'cities.name=eq.Tokyo']), [{ name: 'Japan', cities: [{ name: 'Tokyo' }] }]),
    );
    c.done();
  });

  it('views: read, filtered, written through (auto-updatable)', async () => {
    await sql("create view open_items as select id, name, status from items where status = 'open'");
    const c = checks();
    await c.run(async () => assert.deepEqual(await rows('open_items', ['select=id,name', 'order=id', 'id=gt.1']), [{ id: 3, name: 'Gamma' }, { id: 6, name: EVIL_NAME }]));
    await c.run(async () => {
      const r = expectStatus(await rest('PATCH', '/open_items?id=eq.3', { body: { name: 'GAMMA' }, headers: { Prefer: 'return=representation' } }), 200);
      assert.deepEqual(r.json, [{ id: 3, name: 'GAMMA', status: 'open' }], fmt(r));
    });
    await sql("update items set name = 'Gamma' where id = 3; drop view open_items");
    c.done();
  });

  it("embedding through views: PostgREST follows a view's columns to its base table's foreign keys", async () => {
    await sql(`create view city_view as select id, name as city, country_id from cities;
      create view city_view2 as select city, country_id as cid from city_view;
      create view country_view as select id as cid, name from countries;
      create view city_expr as select id, name, country_id + 0 as country_id from cities;
      create schema hidden;
      create table hidden.visits (id int primary key, city_id int references public.cities(id), n int);
      insert into hidden.visits values (1, 3, 7), (2, 1, 9);
      create view visits as select id, city_id, n from hidden.visits;
      grant usage on schema hidden to anon, authenticated, service_role;
      grant select on hidden.visits to anon, authenticated, service_role`);
    const c = checks();
    try {
      // view → table (many-to-one), named by the table
      await c.run(async () => assert.deepEqual(await rows('city_view', ['select=city,countries(name)', 'id=eq.3']), [{ city: 'Tokyo', countries: { name: 'Japan' } }]));
      // table → view (one-to-many), and the key's name as a hint
      await c.run(async () =>
        assert.deepEqual(await rows('countries', ['select=name,city_view!cities_country_id_fkey(city)', 'id=eq.2']), [{ name: 'Japan', city_view: [{ city: 'Tokyo' }] }]),
      );
      // a view over a view, its key column renamed
      await c.run(async () => assert.deepEqual(await rows('city_view2', ['select=city,countries(name)', 'city=eq.Lyon']), [{ city: 'Lyon', countries: { name: 'France' } }]));
      // view → view, both sides renamed
      await c.run(async () =>
        assert.deepEqual(await rows('country_view', ['select=name,city_view2(city)', 'cid=eq.2']), [{ name: 'Japan', city_view2: [{ city: 'Tokyo' }] }]),
      );
      // a view in an exposed schema over a table that is not exposed keeps that table's keys
      await c.run(async () => assert.deepEqual(await rows('visits', ['select=n,cities(name)', 'order=id']), [
        { n: 7, cities: { name: 'Tokyo' } },
        { n: 9, cities: { name: 'Paris' } },
      ]));
      // a computed column is no foreign key: no relationship
      await c.run(async () => expectPgrst(await get('city_expr', ['select=name,countries(name)']), 400, 'PGRST200'));
      // cities and city_view both reach countries: from countries, "city_view" names one of them
      await c.run(async () => assert.equal((await rows('countries', ['select=name,cities(name)', 'id=eq.2']))[0].cities.length, 1));
    } finally {
      await sql('drop view visits, city_expr, country_view, city_view2, city_view; drop schema hidden cascade');
    }
    c.done();
  });

  it('order by a to-one embedded column: order=rel(col).desc', async () => {
    assert.deepEqual(
      await rows('cities', ['select=name,countries(name)', 'id=lte.3', 'order=countries(name).desc,name']),
      [
        { name: 'Tokyo', countries: { name: 'Japan' } },
        { name: 'Lyon', countries: { name: 'France' } },
        { name: 'Paris', countries: { name: 'France' } },
      ],
    );
  });
});

describe('writes', () => {
  const repr = { Prefer: 'return=representation' };
  const all = async () => sql('select id, code, name, qty, country_id from products order by id');

  it('POST: one object (201, empty or representation), an array, columns=', async () => {
    const a = await rest('POST', '/products', { body: { code: 'a', name: 'A' } });
    assert.equal(a.status, 201, fmt(a));
    assert.equal(a.text, '', fmt(a));
    const b = expectStatus(await rest('POST', '/products', { body: { code: 'b', name: 'B', qty: 2 }, headers: repr }), 201);
    assert.deepEqual(b.json, [{ id: 2, code: 'b', name: 'B', qty: 2, country_id: null }], fmt(b));
    const arr = expectStatus(
      await rest('POST', '/products?select=code,qty', { body: [{ code: 'c', qty: 3 }, { code: 'd', qty: 4 }], headers: repr }),
      201,
    );
    assert.deepEqual(arr.json, [{ code: 'c', qty: 3 }, { code: 'd', qty: 4 }], fmt(arr));
    // columns=: only those keys are read; the rest of each object is ignored, absent columns default
    const cols = expectStatus(
      await rest('POST', '/products?columns=code,name', { body: [{ code: 'e', name: 'E', qty: 99, bogus: 1 }], headers: repr }),
      201,
    );
    assert.deepEqual(cols.json, [{ id: 5, code: 'e', name: 'E', qty: 0, country_id: null }], fmt(cols));
    assert.deepEqual(await all(), [
      { id: 1, code: 'a', name: 'A', qty: 0, country_id: null },
      { id: 2, code: 'b', name: 'B', qty: 2, country_id: null },
      { id: 3, code: 'c', name: null, qty: 3, country_id: null },
      { id: 4, code: 'd', name: null, qty: 4, country_id: null },
      { id: 5, code: 'e', name: 'E', qty: 0, country_id: null },
    ]);
  });

  it('columns= with a key missing from an object: NULL (not-null → 23502), or the default with Prefer: missing=default', async () => {
    const before = await all();
    const body = [{ code: 'm1', qty: 5 }, { code: 'm2' }];
    expectPgrst(await rest('POST', '/products?columns=code,qty', { body }), 400, '23502');
    assert.deepEqual(await all(), before, 'the failed bulk insert left rows');
    const r = expectStatus(
      await rest('POST', '/products?columns=code,qty&select=code,qty', { body, headers: { Prefer: 'missing=default,return=representation' } }),
      201,
    );
    assert.deepEqual(r.json, [{ code: 'm1', qty: 5 }, { code: 'm2', qty: 0 }], fmt(r));
    await sql("delete from products where code in ('m1', 'm2')");
  });

  it('upsert: merge-duplicates with on_conflict, ignore-duplicates; return=headers-only → Location', async () => {
    const m = expectStatus(
      await rest('POST', '/products?on_conflict=code', {
        body: [{ code: 'a', name: 'A2' }, { code: 'f', name: 'F' }],
        headers: { Prefer: 'resolution=merge-duplicates,return=representation' },
      }),
      201,
    );
    // (the conflicting row draws an id from the sequence too: new ids are not asserted)
    assert.deepEqual(m.json.map(({ id: _, ...r }) => r), [
      { code: 'a', name: 'A2', qty: 0, country_id: null },
      { code: 'f', name: 'F', qty: 0, country_id: null },
    ], fmt(m));
    assert.equal(m.json[0].id, 1, fmt(m));
    const ig = expectStatus(
      await rest('POST', '/products?on_conflict=code', {
        body: [{ code: 'a', name: 'A3' }, { code: 'g', name: 'G' }],
        headers: { Prefer: 'resolution=ignore-duplicates,return=representation' },
      }),
      201,
    );
    assert.deepEqual(ig.json.map(({ id: _, ...r }) => r), [{ code: 'g', name: 'G', qty: 0, country_id: null }], fmt(ig));
    // on the primary key when on_conflict is absent; nothing inserted, all merged → 200 (PostgREST)
    const pk = await rest('POST', '/products', { body: { id: 2, code: 'b', name: 'B2', qty: 22 }, headers: { Prefer: 'resolution=merge-duplicates,return=representation' } });
    assert.deepEqual(pk.json, [{ id: 2, code: 'b', name: 'B2', qty: 22, country_id: null }], fmt(pk));
    const pkStatus = pk.status;
    const h = await rest('POST', '/products', { body: { code: 'h' }, headers: { Prefer: 'return=headers-only' } });
    assert.equal(h.status, 201, fmt(h));
    assert.equal(h.text, '', fmt(h));
    const hid = (await sql("select id from products where code = 'h'"))[0].id;
    assert.equal(h.headers.location, `/products?id=eq.${hid}`, fmt(h));
    const rows2 = await sql("select code, name from products where code in ('a', 'b', 'g', 'h') order by code");
    assert.deepEqual(rows2, [
      { code: 'a', name: 'A2' },
      { code: 'b', name: 'B2' },
      { code: 'g', name: 'G' },
      { code: 'h', name: null },
    ]);
    assert.equal(pkStatus, 200, 'a merge-duplicates upsert that only updated must answer 200 (PostgREST), not 201');
  });

  it('return=headers-only on a text primary key: the Location value is URL-encoded, never splits the response', async () => {
    await sql('create table tags (id text primary key, n int)');
    const c = checks();
    const headersOnly = { Prefer: 'return=headers-only' };
    // PostgREST renders it with renderSimpleQuery: percent-encoded, a space may be '+'
    const locationOk = (r, value) => {
      const m = /^\/tags\?id=eq\.([^\s&=]*)$/.exec(String(r.headers.location));
      assert.ok(m, `Location is not /tags?id=eq.<encoded>: ${JSON.stringify(r.headers.location)}`);
      assert.equal(decodeURIComponent(m[1].replace(/\+/g, ' ')), value, `Location: ${r.headers.location}`);
    };
    await c.run(async () => {
      const r = await rest('POST', '/tags', { body: { id: 'a b&c=d', n: 1 }, headers: headersOnly });
      assert.equal(r.status, 201, fmt(r));
      locationOk(r, 'a b&c=d');
    });
    const crlf = 'x\r\nSet-Cookie: evil=1\r\nX-Evil: 1';
    await c.run(async () => {
      const r = noLeak(await rest('POST', '/tags', { body: { id: crlf, n: 2 }, headers: headersOnly }));
      assert.equal(r.headers['set-cookie'], undefined, `response split: ${JSON.stringify(r.headers)}`);
      assert.equal(r.headers['x-evil'], undefined, `response split: ${JSON.stringify(r.headers)}`);
      assert.equal(r.status, 201, fmt(r));
      locationOk(r, crlf);
    });
    c.done();
    await sql('drop table tags');
  });

  it('PATCH with filters (200 representation, 204 minimal), DELETE with filters', async () => {
    const p = expectStatus(await rest('PATCH', '/products?code=in.(c,d)&select=code,qty', { body: { qty: 7 }, headers: repr }), 200);
    assert.deepEqual(p.json.sort((x, y) => x.code.localeCompare(y.code)), [{ code: 'c', qty: 7 }, { code: 'd', qty: 7 }], fmt(p));
    const m = await rest('PATCH', '/products?code=eq.e', { body: { name: 'E2' } });
    assert.equal(m.status, 204, fmt(m));
    assert.equal(m.text, '');
    const none = expectStatus(await rest('PATCH', '/products?code=eq.zzz', { body: { name: 'Z' }, headers: repr }), 200);
    assert.deepEqual(none.json, [], fmt(none));
    assert.deepEqual(await sql("select code, name, qty from products where code in ('c','d','e') order by code"), [
      { code: 'c', name: null, qty: 7 },
      { code: 'd', name: null, qty: 7 },
      { code: 'e', name: 'E2', qty: 0 },
    ]);
    const d = await rest('DELETE', '/products?code=eq.h');
    assert.equal(d.status, 204, fmt(d));
    const dr = expectStatus(await rest('DELETE', '/products?code=eq.g&select=code,name', { headers: repr }), 200);
    assert.deepEqual(dr.json, [{ code: 'g', name: 'G' }], fmt(dr));
    assert.deepEqual((await sql("select count(*)::int as n from products where code in ('g','h')"))[0].n, 0);
  });

  it('errors: unknown column PGRST204, unique 409 23505, FK 409 23503, not-null 400 23502, bad JSON PGRST102', async () => {
    const before = await all();
    const c = checks();
    await c.run(async () => {
      const r = expectPgrst(await rest('POST', '/products', { body: { code: 'x', nope: 1 } }), 400, 'PGRST204');
      assert.match(r.json.message, /'nope' column of 'products'/, fmt(r));
    });
    await c.run(async () => expectPgrst(await rest('PATCH', '/products?id=eq.1', { body: { nope: 1 } }), 400, 'PGRST204'));
    await c.run(async () => expectPgrst(await rest('POST', '/products', { body: { code: 'a' } }), 409, '23505'));
    await c.run(async () => expectPgrst(await rest('PATCH', '/products?code=eq.b', { body: { code: 'a' } }), 409, '23505'));
    await c.run(async () => expectPgrst(await rest('POST', '/products', { body: { code: 'fk', country_id: 999 } }), 409, '23503'));
    await c.run(async () => expectPgrst(await rest('DELETE', '/countries?id=eq.1'), 409, '23503'));
    await c.run(async () => expectPgrst(await rest('POST', '/products', { body: { code: null } }), 400, '23502'));
    await c.run(async () => expectPgrst(await rest('POST', '/products', { body: { name: 'no code' } }), 400, '23502'));
    // values Postgres refuses: a 400 with their SQLSTATE
    await c.run(async () => expectPgrst(await rest('POST', '/products', { body: { code: 't1', qty: 'abc' } }), 400, '22P02'));
    await c.run(async () => expectPgrst(await rest('POST', '/products', { body: { code: 't2', qty: 1e20 } }), 400, '22003'));
    // (valid JSON; PostgREST answers Postgres' 22P05, an "invalid JSON" PGRST102 is tolerated)
    await c.run(async () => {
      const r = await rest('POST', '/products', { body: { code: 'nul\u0000byte' } });
      expectPgrst(r, 400, ['22P05', 'PGRST102'].includes(r.json?.code) ? r.json.code : '22P05');
    });
    // on_conflict naming a column without a unique constraint
    await c.run(async () =>
      expectPgrst(await rest('POST', '/products?on_conflict=name', { body: { code: 't3', name: 'A2' }, headers: { Prefer: 'resolution=merge-duplicates' } }), 400, '42P10'),
    );
    // a bulk insert is one statement: the good rows before the bad one are not kept
    await c.run(async () => expectPgrst(await rest('POST', '/products', { body: [{ code: 'new1' }, { code: 'a' }] }), 409, '23505'));
    for (const bad of ['{"code":', '{code: 1}', "{'code':'x'}", '[{"code":"x"},', 'nul'])
      await c.run(async () =>
        expectPgrst(await rest('POST', '/products', { body: bad, headers: { 'content-type': 'application/json' } }), 400, 'PGRST102'),
      );
    await c.run(async () =>
      expectPgrst(await rest('PATCH', '/products?id=eq.1', { body: '{"name":', headers: { 'content-type': 'application/json' } }), 400, 'PGRST102'),
    );
    c.done();
    assert.deepEqual(await all(), before, 'a failed write changed products');
    assert.deepEqual(await countOf('countries'), 3);
  });

  it('return=representation with embedding and select=; singular POST → one object', async () => {
    const r = expectStatus(
      await rest('POST', '/cities?select=name,countries(name)', { body: { id: 5, name: 'Osaka', country_id: 2 }, headers: repr }),
      201,
    );
    assert.deepEqual(r.json, [{ name: 'Osaka', countries: { name: 'Japan' } }], fmt(r));
    const o = expectStatus(
      await rest('POST', '/cities?select=id,name', { body: { id: 6, name: 'Kyoto', country_id: 2 }, headers: { ...repr, Accept: 'application/vnd.pgrst.object+json' } }),
      201,
    );
    assert.deepEqual(o.json, { id: 6, name: 'Kyoto' }, fmt(o));
    const two = expectPgrst(
      await rest('POST', '/cities', { body: [{ id: 7, name: 'A', country_id: 3 }, { id: 8, name: 'B', country_id: 3 }], headers: { ...repr, Accept: 'application/vnd.pgrst.object+json' } }),
      406,
      'PGRST116',
    );
    assert.ok(two);
    assert.deepEqual(await sql('select id from cities where id >= 5 order by id'), [{ id: 5 }, { id: 6 }], 'the singular bulk insert was not rolled back');
    await sql('delete from cities where id >= 5');
  });

  it('PUT: a single-row upsert addressed by its primary key', async () => {
    const c = checks();
    // PostgREST: 201 when the row was inserted, 200 when it was updated, 204 without a representation
    await c.run(async () => {
      const r = await rest('PUT', '/countries?id=eq.4', { body: { id: 4, name: 'Peru' }, headers: repr });
      assert.deepEqual(r.json, [{ id: 4, name: 'Peru' }], fmt(r));
      assert.equal(r.status, 201, fmt(r));
    });
    await c.run(async () => {
      const r = await rest('PUT', '/countries?id=eq.4', { body: { id: 4, name: 'Peru 2' }, headers: repr });
      assert.deepEqual(r.json, [{ id: 4, name: 'Peru 2' }], fmt(r));
      assert.equal(r.status, 200, fmt(r));
    });
    await c.run(async () => {
      const r = await rest('PUT', '/countries?id=eq.4', { body: { id: 4, name: 'Perú' } });
      assert.equal(r.status, 204, fmt(r));
    });
    await c.run(async () => assert.deepEqual(await sql('select name from countries where id = 4'), [{ name: 'Perú' }]));
    // the body's key must match the filter; the filter must name the whole primary key
    await c.run(async () => expectPgrst(await rest('PUT', '/countries?id=eq.5', { body: { id: 6, name: 'X' } }), 400, 'PGRST115'));
    await c.run(async () => expectPgrst(await rest('PUT', '/countries', { body: { id: 7, name: 'X' } }), 405, 'PGRST105'));
    await c.run(async () => expectPgrst(await rest('PUT', '/countries?id=eq.8&limit=1', { body: { id: 8, name: 'X' } }), 400, 'PGRST114'));
    c.done();
    await sql('delete from countries where id >= 4');
  });

  it('a 5 000-row bulk insert, read back with a count; 50 concurrent reads', async () => {
    await sql('create table bulk (id int primary key, v text)');
    const body = Array.from({ length: 5000 }, (_, i) => ({ id: i + 1, v: `v${i + 1}` }));
    const r = await rest('POST', '/bulk', { body });
    assert.equal(r.status, 201, fmt(r));
    const all = expectStatus(await get('bulk', ['order=id'], { headers: { Prefer: 'count=exact' } }), 200);
    assert.equal(all.json.length, 5000);
    assert.deepEqual(all.json[4999], { id: 5000, v: 'v5000' });
    assert.equal(all.headers['content-range'], '0-4999/5000', fmt(all));
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => get('bulk', ['select=v', `id=eq.${i * 100 + 1}`])),
    );
    answers.forEach((a, i) => {
      assert.equal(a.status, 200, fmt(a));
      assert.deepEqual(a.json, [{ v: `v${i * 100 + 1}` }], fmt(a));
    });
    await sql('drop table bulk');
  });

  it('numbers beyond 64 bits in a JSON body reach a numeric column with every digit', async () => {
    await sql('create table nums (id int primary key, v numeric)');
    try {
      const big = '123456789012345678901234567890.5';
      const r = await rest('POST', '/nums', { body: `{"id":1,"v":${big}}`, headers: { 'content-type': 'application/json' } });
      assert.equal(r.status, 201, fmt(r));
      assert.deepEqual(await sql('select v::text as v from nums'), [{ v: big }]);
      const p = await rest('PATCH', '/nums?id=eq.1', { body: '{"v":-98765432109876543210987654321}', headers: { 'content-type': 'application/json' } });
      assert.equal(p.status, 204, fmt(p));
      assert.deepEqual(await sql('select v::text as v from nums'), [{ v: '-98765432109876543210987654321' }]);
      const f = await rest('POST', '/rpc/echo_json', { body: '{"n":123456789012345678901234567890}', headers: { 'content-type': 'application/json' } });
      assert.equal(f.status, 200, fmt(f));
      assert.equal(f.text.replace(/\s/g, ''), '{"n":123456789012345678901234567890}', fmt(f));
    } finally {
      await sql('drop table nums');
    }
  });

  it('singular Accept on a PATCH touching 2 rows → 406 PGRST116 and nothing changed; 1 row → the object', async () => {
    const obj = { Accept: 'application/vnd.pgrst.object+json', Prefer: 'return=representation' };
    const before = await all();
    const r = expectPgrst(await rest('PATCH', '/products?code=in.(c,d)', { body: { name: 'both' }, headers: obj }), 406, 'PGRST116');
    assert.equal(r.json.details, 'The result contains 2 rows', fmt(r));
    assert.deepEqual(await all(), before, 'the PATCH was not rolled back');
    const d = expectPgrst(await rest('DELETE', '/products?code=in.(c,d)', { headers: obj }), 406, 'PGRST116');
    assert.ok(d);
    assert.deepEqual(await all(), before, 'the DELETE was not rolled back');
    const one = expectStatus(await rest('PATCH', '/products?code=eq.c&select=code,name', { body: { name: 'C' }, headers: obj }), 200);
    assert.deepEqual(one.json, { code: 'c', name: 'C' }, fmt(one));
  });
});

describe('rpc', () => {
  it("embedding on a function's rows: a setof table (or a single row of it) brings the table's relationships", async () => {
    await sql(`create function cities_of(cname text) returns setof cities language sql stable
                 as $$ select c.* from cities c join countries k on k.id = c.country_id where k.name = cname $$;
               create function first_city() returns cities language sql stable as $$ select * from cities order by id limit 1 $$;
               create function city_label(cities) returns text language sql stable as $$ select $1.name || '!' $$`);
    const c = checks();
    try {
      await c.run(async () =>
        assert.deepEqual(expectStatus(await rest('GET', `/rpc/cities_of${qs(['cname=France', 'select=name,countries(name)', 'order=id'])}`), 200).json, [
          { name: 'Paris', countries: { name: 'France' } },
          { name: 'Lyon', countries: { name: 'France' } },
        ]),
      );
      await c.run(async () =>
        assert.deepEqual(
          expectStatus(await rest('POST', `/rpc/cities_of${qs(['select=name,countries!inner(name)', 'countries.name=eq.Nowhere'])}`, { body: { cname: 'France' } }), 200).json,
          [],
        ),
      );
      await c.run(async () =>
        assert.deepEqual(expectStatus(await rest('POST', `/rpc/first_city${qs(['select=name,city_label,countries(name)'])}`, { body: {} }), 200).json, {
          name: 'Paris',
          city_label: 'Paris!',
          countries: { name: 'France' },
        }),
      );
      await c.run(async () => expectPgrst(await rest('GET', `/rpc/cities_of${qs(['cname=France', 'select=name,nothing(name)'])}`), 400, 'PGRST200'));
    } finally {
      await sql('drop function cities_of(text), first_city(), city_label(cities)');
    }
    c.done();
  });

  it('named args (POST), GET with query args, scalar results as JSON', async () => {
    const p = expectStatus(await rest('POST', '/rpc/add_them', { body: { a: 1, b: 2 } }), 200);
    assert.equal(p.text, '3', fmt(p));
    const g = expectStatus(await rest('GET', '/rpc/add_them?a=40&b=2'), 200);
    assert.equal(g.json, 42, fmt(g));
    const e = expectStatus(await rest('POST', '/rpc/echo_json', { body: { x: [1, 2], y: 'z', n: null } }), 200);
    assert.deepEqual(e.json, { x: [1, 2], y: 'z', n: null }, fmt(e));
  });

  it('array, jsonb and defaulted arguments; RETURNS TABLE', async () => {
    const c = checks();
    await c.run(async () => assert.equal(expectStatus(await rest('POST', '/rpc/sum_arr', { body: { xs: [1, 2, 3] } }), 200).json, 6));
    await c.run(async () => assert.equal(expectStatus(await rest('GET', `/rpc/sum_arr${qs(['xs={1,2,3,4}'])}`), 200).json, 10));
    await c.run(async () => assert.deepEqual(expectStatus(await rest('POST', '/rpc/jb', { body: { d: { a: [1, { b: null }] } } }), 200).json, { a: [1, { b: null }], seen: true }));
    await c.run(async () => assert.equal(expectStatus(await rest('POST', '/rpc/greet', { body: {} }), 200).json, 'hello world'));
    await c.run(async () => assert.equal(expectStatus(await rest('GET', '/rpc/greet?who=you'), 200).json, 'hello you'));
    await c.run(async () =>
      assert.deepEqual(expectStatus(await rest('GET', '/rpc/top_items?n=3&order=id.desc&name=neq.beta'), 200).json, [{ id: 3, name: 'Gamma' }, { id: 1, name: 'alpha' }]),
    );
    await c.run(async () => assert.deepEqual(expectStatus(await rest('POST', '/rpc/top_items?select=name', { body: { n: 1 } }), 200).json, [{ name: 'alpha' }]));
    c.done();
  });

  it('GET runs a function read-only: a volatile function that writes → 405 25006; POST runs it', async () => {
    const r = expectPgrst(await rest('GET', '/rpc/bump'), 405, '25006');
    assert.ok(r);
    assert.equal(await countOf('bumps'), 0, 'the GET wrote');
    assert.equal(expectStatus(await rest('POST', '/rpc/bump', { body: {} }), 200).json, 1);
    assert.equal(await countOf('bumps'), 1);
  });

  it('a function without parameters: POST {} / POST with no body / GET', async () => {
    const c = checks();
    await c.run(async () => assert.equal(expectStatus(await rest('POST', '/rpc/const_one', { body: {} }), 200).text, '1'));
    await c.run(async () => assert.equal(expectStatus(await rest('POST', '/rpc/const_one'), 200).text, '1'));
    await c.run(async () => assert.equal(expectStatus(await rest('GET', '/rpc/const_one'), 200).text, '1'));
    c.done();
  });

  it('a set-returning function of a table type: select=, filters, order', async () => {
    const g = expectStatus(await rest('GET', `/rpc/items_by_status${qs(['s=open', 'select=id,name', 'id=gt.1', 'order=id'])}`), 200);
    assert.deepEqual(g.json, [{ id: 3, name: 'Gamma' }, { id: 6, name: EVIL_NAME }], fmt(g));
    const p = expectStatus(await rest('POST', '/rpc/items_by_status?select=id&order=id.desc&name=neq.Gamma', { body: { s: 'open' } }), 200);
    assert.deepEqual(p.json, [{ id: 6 }, { id: 1 }], fmt(p));
    const none = expectStatus(await rest('POST', '/rpc/items_by_status', { body: { s: 'nothing' } }), 200);
    assert.deepEqual(none.json, [], fmt(none));
    const obj = { Accept: 'application/vnd.pgrst.object+json' };
    const c = checks();
    await c.run(async () => {
      const one = expectStatus(await rest('POST', '/rpc/items_by_status?select=id,name&id=eq.3', { body: { s: 'open' }, headers: obj }), 200);
      assert.deepEqual(one.json, { id: 3, name: 'Gamma' }, fmt(one));
    });
    await c.run(async () => expectPgrst(await rest('POST', '/rpc/items_by_status?select=id', { body: { s: 'open' }, headers: obj }), 406, 'PGRST116'));
    await c.run(async () => expectPgrst(await rest('POST', '/rpc/items_by_status?select=id', { body: { s: 'nothing' }, headers: obj }), 406, 'PGRST116'));
    await c.run(async () => {
      const counted = await rest('POST', '/rpc/items_by_status?select=id&order=id&limit=2', { body: { s: 'open' }, headers: { Prefer: 'count=exact' } });
      assert.deepEqual(counted.json, [{ id: 1 }, { id: 3 }], fmt(counted));
      assert.equal(counted.headers['content-range'], '0-1/3', fmt(counted));
      assert.equal(counted.status, 206, fmt(counted));
    });
    await c.run(async () => {
      const page = expectStatus(await rest('GET', '/rpc/items_by_status?s=open&select=id&order=id&offset=1', { headers: { Prefer: 'count=exact' } }), 206);
      assert.deepEqual(page.json, [{ id: 3 }, { id: 6 }], fmt(page));
      assert.equal(page.headers['content-range'], '1-2/3', fmt(page));
    });
    c.done();
  });

  it('errors: unknown function 404 PGRST202, PT402 → 402, raise exception → 400 P0001', async () => {
    const c = checks();
    await c.run(async () => expectPgrst(await rest('POST', '/rpc/nope', { body: {} }), 404, 'PGRST202'));
    await c.run(async () => expectPgrst(await rest('GET', '/rpc/nope'), 404, 'PGRST202'));
    await c.run(async () => expectPgrst(await rest('POST', '/rpc/add_them', { body: { a: 1 } }), 404, 'PGRST202'));
    await c.run(async () => expectPgrst(await rest('POST', '/rpc/add_them', { body: { a: 1, b: 2, c: 3 } }), 404, 'PGRST202'));
    await c.run(async () => {
      const r = expectPgrst(await rest('POST', '/rpc/pay', { body: { reason: 'Payment Required' } }), 402, 'PT402');
      assert.equal(r.json.message, 'Payment Required', fmt(r));
      assert.equal(r.json.details, 'top up first', fmt(r));
    });
    await c.run(async () => {
      const r = expectPgrst(await rest('POST', '/rpc/boom', { body: { n: 42 } }), 400, 'P0001');
      assert.equal(r.json.message, 'boom: 42', fmt(r));
      assert.equal(r.json.hint, 'just because', fmt(r));
    });
    await c.run(async () => expectPgrst(await rest('POST', '/rpc/add_them', { body: '{"a":1,', headers: { 'content-type': 'application/json' } }), 400, 'PGRST102'));
    c.done();
  });
});

describe('RLS and roles', () => {
  it("the role's settings hold per request: statement_timeout (anon 3s, authenticated 8s, service_role none; ALTER ROLE changes it), work_mem, custom ones", async () => {
    await sql(`create function my_timeout() returns text language sql stable as $$ select current_setting('statement_timeout') $$;
               create function nap(s float8) returns text language sql as $$ select pg_sleep(s)::text $$;
               create function my_settings() returns json language sql stable as $$
                 select json_build_object('work_mem', current_setting('work_mem'),
                   'greeting', current_setting('app.greeting', true),
                   'log_min', current_setting('log_min_duration_statement')) $$`);
    const s = findSocket(server.dataDir);
    const dbName = (await sql('select current_database() as d'))[0].d;
    const superuser = (text) => psql({ host: s.dir, port: s.port, db: dbName }, text);
    const c = checks();
    try {
      await c.run(async () => assert.equal(expectStatus(await rest('GET', '/rpc/my_timeout', { token: null }), 200).json, '3s'));
      await c.run(async () => assert.equal(expectStatus(await rest('GET', '/rpc/my_timeout', { token: userJwt(U1) }), 200).json, '8s'));
      await c.run(async () => assert.equal(expectStatus(await rest('GET', '/rpc/my_timeout'), 200).json, '0'));
      // as with PostgREST, role settings are reread with the schema: NOTIFY pgrst, 'reload schema'
      superuser(`alter role authenticated in database "${dbName}" set statement_timeout = '300ms'; notify pgrst, 'reload schema'`);
      await c.run(async () => {
        let seen;
        for (let i = 0; i < 50 && seen !== '300ms'; i++) {
          seen = expectStatus(await rest('GET', '/rpc/my_timeout', { token: userJwt(U1) }), 200).json;
          if (seen !== '300ms') await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(seen, '300ms');
      });
      await c.run(async () => {
        const t0 = Date.now();
        const r = await rest('POST', '/rpc/nap', { token: userJwt(U1), body: { s: 5 } });
        expectPgrst(r, 504, '57014');
        assert.ok(Date.now() - t0 < 4000, `the timeout did not cut the request short: ${Date.now() - t0} ms`);
      });
      await c.run(async () => assert.equal(expectStatus(await rest('POST', '/rpc/nap', { body: { s: 0.5 } }), 200).json, ''));
      // the setting does not leak to the next request on the same pooled connection
      await c.run(async () => assert.equal(expectStatus(await rest('GET', '/rpc/my_timeout'), 200).json, '0'));
      // other settings any user may set, custom dotted ones too; superuser-only ones are left out
      superuser(`alter role authenticated in database "${dbName}" set work_mem = '3MB';
                 alter role authenticated set app.greeting = 'hi there';
                 alter role authenticated in database "${dbName}" set log_min_duration_statement = 5;
                 notify pgrst, 'reload schema'`);
      await c.run(async () => {
        let seen;
        for (let i = 0; i < 50 && seen?.work_mem !== '3MB'; i++) {
          seen = expectStatus(await rest('GET', '/rpc/my_settings', { token: userJwt(U1) }), 200).json;
          if (seen.work_mem !== '3MB') await new Promise((r) => setTimeout(r, 100));
        }
        // the first request on each pooled connection looks them up in the statement, later ones
        // pass what that read: the same answer either way
        for (let i = 0; i < 8; i++) {
          assert.deepEqual(
            expectStatus(await rest('GET', '/rpc/my_settings', { token: userJwt(U1) }), 200).json,
            { work_mem: '3MB', greeting: 'hi there', log_min: '-1' },
          );
        }
        // not anon's: its work_mem is the default; app.greeting is unset (NULL, or '' on a
        // connection where an earlier transaction set it locally: Postgres keeps the placeholder)
        const other = expectStatus(await rest('GET', '/rpc/my_settings', { token: null }), 200).json;
        assert.equal(other.work_mem, '4MB');
        assert.ok(other.greeting === null || other.greeting === '', JSON.stringify(other));
      });
    } finally {
      superuser(`alter role authenticated in database "${dbName}" reset all; alter role authenticated reset app.greeting;
                 notify pgrst, 'reload schema'`);
      await sql('drop function my_timeout(), nap(float8), my_settings()');
    }
    c.done();
  });

  it('a user sees their rows, anon none, service_role all; writes are checked', async () => {
    const c = checks();
    await c.run(async () => assert.deepEqual((await rows('notes', ['select=id', 'order=id'], { token: userJwt(U1) })).map((r) => r.id), [1, 2]));
    await c.run(async () => assert.deepEqual((await rows('notes', ['select=id,body', 'order=id'], { token: userJwt(U2) })), [{ id: 3, body: 'u2 only' }]));
    await c.run(async () => assert.deepEqual(await rows('notes', ['select=id'], { token: keys.anon }), []));
    await c.run(async () => assert.deepEqual(await rows('notes', ['select=id'], { token: null }), []));
    await c.run(async () => assert.deepEqual((await rows('notes', ['select=id', 'order=id'])).map((r) => r.id), [1, 2, 3]));
    // a user writes their own rows only
    await c.run(async () => {
      const r = expectStatus(await rest('POST', '/notes', { token: userJwt(U1), body: { id: 4, user_id: U1, body: 'mine' }, headers: { Prefer: 'return=representation' } }), 201);
      assert.deepEqual(r.json, [{ id: 4, user_id: U1, body: 'mine' }], fmt(r));
    });
    await c.run(async () => expectPgrst(await rest('POST', '/notes', { token: userJwt(U1), body: { id: 5, user_id: U2, body: 'theirs' } }), 403, '42501'));
    await c.run(async () => {
      const r = expectStatus(await rest('PATCH', '/notes?id=eq.3', { token: userJwt(U1), body: { body: 'hacked' }, headers: { Prefer: 'return=representation' } }), 200);
      assert.deepEqual(r.json, [], fmt(r));
    });
    await c.run(async () => {
      const r = await rest('DELETE', '/notes', { token: userJwt(U2) });
      assert.equal(r.status, 204, fmt(r));
    });
    c.done();
    assert.deepEqual(await sql('select id, body from notes order by id'), [
      { id: 1, body: 'u1 first' },
      { id: 2, body: 'u1 second' },
      { id: 4, body: 'mine' },
    ]);
    await sql(`insert into notes values (3, '${U2}', 'u2 only')`);
  });

  it('RLS applies inside embeddings and to counts', async () => {
    await sql(`create table profiles (id uuid primary key, name text);
      insert into profiles values ('${U1}', 'one'), ('${U2}', 'two');
      alter table notes add constraint notes_user_fk foreign key (user_id) references profiles (id)`);
    try {
      const r = expectStatus(
        await get('profiles', ['select=name,notes(id)', 'order=name', 'notes.order=id'], { token: userJwt(U1), headers: { Prefer: 'count=exact' } }),
        200,
      );
      assert.deepEqual(r.json, [{ name: 'one', notes: [{ id: 1 }, { id: 2 }, { id: 4 }] }, { name: 'two', notes: [] }], fmt(r));
      const n = expectStatus(await get('notes', ['select=id', 'limit=1'], { token: userJwt(U2), headers: { Prefer: 'count=exact' } }), 200);
      assert.deepEqual(n.json, [{ id: 3 }], fmt(n));
      assert.equal(n.headers['content-range'], '0-0/1', fmt(n));
      const inner = expectStatus(await get('profiles', ['select=name,notes!inner(id)'], { token: userJwt(U2) }), 200);
      assert.deepEqual(inner.json, [{ name: 'two', notes: [{ id: 3 }] }], fmt(inner));
    } finally {
      await sql('alter table notes drop constraint notes_user_fk; drop table profiles');
    }
  });

  it('JWTs: expired → 401 PGRST303, wrong secret → 401 PGRST301, nothing at all → 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    const c = checks();
    await c.run(async () => expectPgrst(await get('notes', ['select=id'], { token: userJwt(U1, { exp: now - 60, iat: now - 3600 }) }), 401, 'PGRST303'));
    await c.run(async () =>
      expectPgrst(await get('notes', ['select=id'], { token: signHs256({ sub: U1, role: 'authenticated', exp: now + 60 }, 'not-the-secret') }), 401, 'PGRST301'),
    );
    await c.run(async () => {
      const r = await request(server.url, 'GET', `/p/${id}/rest/v1/notes`);
      assert.equal(r.status, 401, fmt(r));
    });
    // a correctly signed JWT naming a role the API may not switch to: refused, nothing read
    for (const role of ['postgres', 'alpaca_admin', 'authenticator', 'no_such_role'])
      await c.run(async () => {
        const r = await get('notes', ['select=id'], { token: signHs256({ sub: U1, role, exp: now + 60 }, jwtSecret) });
        assert.ok(r.status >= 400 && r.status < 500, `role ${role}: ${fmt(r)}`);
      });
    c.done();
  });

  it('no grant: anon → 401 42501, authenticated → 403 42501, service_role reads', async () => {
    const c = checks();
    await c.run(async () => expectPgrst(await get('locked', [], { token: keys.anon }), 401, '42501'));
    await c.run(async () => expectPgrst(await get('locked', [], { token: null }), 401, '42501'));
    await c.run(async () => expectPgrst(await get('locked', [], { token: userJwt(U1) }), 403, '42501'));
    await c.run(async () => expectPgrst(await rest('POST', '/locked', { token: userJwt(U1), body: { id: 2 } }), 403, '42501'));
    await c.run(async () => assert.deepEqual(await rows('locked'), [{ id: 1, v: 'x' }]));
    // column privileges: the granted column reads, the others are refused
    await sql('grant select (id) on locked to anon');
    await c.run(async () => assert.deepEqual(await rows('locked', ['select=id'], { token: keys.anon }), [{ id: 1 }]));
    await c.run(async () => expectPgrst(await get('locked', ['select=id,v'], { token: keys.anon }), 401, '42501'));
    await c.run(async () => expectPgrst(await get('locked', ['select=id', 'v=eq.x'], { token: keys.anon }), 401, '42501'));
    await sql('revoke select (id) on locked from anon');
    // revoking select from anon on an RLS table: 401 instead of an empty answer
    await sql('revoke select on notes from anon');
    await c.run(async () => expectPgrst(await get('notes', ['select=id'], { token: keys.anon }), 401, '42501'));
    await c.run(async () => assert.deepEqual((await rows('notes', ['select=id', 'order=id'], { token: userJwt(U1) })).map((r) => r.id), [1, 2, 4]));
    await sql('grant select on notes to anon');
    c.done();
  });

  it('request.jwt.claims, request.method, request.path, request.headers are visible to SQL', async () => {
    const token = userJwt(U1, { email: 'u1@example.com' });
    const p = expectStatus(await rest('POST', '/rpc/whoami', { token, body: { tag: 't' }, headers: { 'X-Probe': 'hello there' } }), 200);
    const w = p.json;
    const c = checks();
    await c.run(async () => assert.equal(w.claims?.sub, U1, fmt(p)));
    await c.run(async () => assert.equal(w.claims?.role, 'authenticated', fmt(p)));
    await c.run(async () => assert.equal(w.claims?.email, 'u1@example.com', fmt(p)));
    await c.run(async () => assert.equal(w.uid, U1, fmt(p)));
    await c.run(async () => assert.equal(w.role, 'authenticated', fmt(p)));
    await c.run(async () => assert.equal(w.method, 'POST', fmt(p)));
    await c.run(async () => assert.equal(w.path, '/rpc/whoami', fmt(p)));
    await c.run(async () => assert.equal(w.headers?.['x-probe'], 'hello there', fmt(p)));
    await c.run(async () => assert.equal(w.headers?.authorization, `Bearer ${token}`, fmt(p)));
    const g = expectStatus(await rest('GET', '/rpc/whoami?tag=g', { token: keys.anon }), 200);
    await c.run(async () => assert.equal(g.json.tag, 'g', fmt(g)));
    await c.run(async () => assert.equal(g.json.path, '/rpc/whoami', fmt(g)));
    await c.run(async () => assert.equal(g.json.method, 'GET', fmt(g)));
    await c.run(async () => assert.equal(g.json.role, 'anon', fmt(g)));
    await c.run(async () => assert.equal(g.json.claims?.role, 'anon', fmt(g)));
    await c.run(async () => assert.equal(g.json.uid, null, fmt(g)));
    const s = expectStatus(await rest('POST', '/rpc/whoami', { body: { tag: 's' } }), 200);
    await c.run(async () => assert.equal(s.json.role, 'service_role', fmt(s)));
    c.done();
  });
});

describe('schema cache', () => {
  it('1 000 tables with foreign keys, views and functions: served at once after their DDL, the load logged', async () => {
    await sql(`DO $$ BEGIN
      FOR i IN 1..1000 LOOP
        EXECUTE format('create table big_%s (id int primary key, parent_id int %s)', i,
                       CASE WHEN i > 1 THEN format('references big_%s (id)', i - 1) ELSE '' END);
      END LOOP;
      FOR i IN 1..50 LOOP
        EXECUTE format('create view big_view_%s as select id, parent_id from big_%s', i, i);
      END LOOP;
      insert into big_999 values (7, null); insert into big_1000 values (1, 7);
    END $$`);
    try {
      const r = expectStatus(await get('big_1000', ['select=id,big_999(id)']), 200);
      assert.deepEqual(r.json, [{ id: 1, big_999: { id: 7 } }], fmt(r));
      expectStatus(await get('big_view_50', ['select=id,big_49(id)']), 200);
      const line = server.output.split('\n').filter((l) => /schema cache of .* loaded in \d+ ms: (\d+) relations/.test(l)).pop();
      assert.ok(line, 'no schema cache load in the log');
      assert.ok(Number(/: (\d+) relations/.exec(line)[1]) >= 1050, line);
    } finally {
      await sql('DO $$ BEGIN FOR i IN 1..1000 LOOP EXECUTE format(\'drop table big_%s cascade\', i); END LOOP; END $$');
    }
  });

  it('a table created through /query is served at once; a new column too; after DROP → 404', async () => {
    expectPgrst(await get('fresh'), 404, 'PGRST205');
    await sql("create table fresh (id int primary key, v text); insert into fresh values (1, 'one')");
    const r = expectStatus(await get('fresh'), 200);
    assert.deepEqual(r.json, [{ id: 1, v: 'one' }], fmt(r));
    expectStatus(await get('fresh', ['v=eq.one']), 200);
    await sql("alter table fresh add column extra text default 'e'");
    const r2 = expectStatus(await get('fresh', ['select=id,extra']), 200);
    assert.deepEqual(r2.json, [{ id: 1, extra: 'e' }], fmt(r2));
    // the same request as before the ALTER (a statement already prepared on some connection):
    // the new column, no "cached plan must not change result type"
    for (let i = 0; i < 6; i++) {
      const again = await get('fresh');
      assert.equal(again.status, 200, fmt(again));
      assert.deepEqual(again.json, [{ id: 1, v: 'one', extra: 'e' }], fmt(again));
    }
    const ins = expectStatus(await rest('POST', '/fresh', { body: { id: 2, extra: 'x' }, headers: { Prefer: 'return=representation' } }), 201);
    assert.deepEqual(ins.json, [{ id: 2, v: null, extra: 'x' }], fmt(ins));
    await sql('create function fresh_count(plus int) returns bigint language sql stable as $$ select count(*) + plus from fresh $$');
    assert.equal(expectStatus(await rest('POST', '/rpc/fresh_count', { body: { plus: 10 } }), 200).json, 12);
    // a function replaced with other parameters: the new signature at once
    await sql('create function fresh_fn(a int) returns int language sql immutable as $$ select a * 2 $$');
    assert.equal(expectStatus(await rest('POST', '/rpc/fresh_fn', { body: { a: 4 } }), 200).json, 8);
    await sql("drop function fresh_fn(int); create function fresh_fn(b text) returns text language sql immutable as $$ select b || '!' $$");
    assert.equal(expectStatus(await rest('POST', '/rpc/fresh_fn', { body: { b: 'x' } }), 200).json, 'x!');
    expectPgrst(await rest('POST', '/rpc/fresh_fn', { body: { a: 4 } }), 404, 'PGRST202');
    await sql('drop function fresh_fn(text)');
    await sql('alter table fresh drop column extra');
    expectPgrst(await get('fresh', ['select=id,extra']), 400, '42703');
    // names that need quoting, in the path, select and filters
    await sql(`create table "Odd Name" ("Col X" text, "n" int); insert into "Odd Name" values ('a b', 1), ('c', 2)`);
    const odd = expectStatus(await rest('GET', `/${enc('Odd Name')}${qs(['select="Col X"', '"Col X"=eq.a b'])}`), 200);
    assert.deepEqual(odd.json, [{ 'Col X': 'a b' }], fmt(odd));
    await sql('drop table "Odd Name"');
    await sql('drop table fresh; drop function fresh_count(int)');
    expectPgrst(await get('fresh'), 404, 'PGRST205');
    expectPgrst(await rest('POST', '/rpc/fresh_count', { body: { plus: 1 } }), 404, 'PGRST202');
  });

  it("a column's type changes under requests already made with a filter on it", async () => {
    await sql("create table retyped (id int primary key, v text); insert into retyped values (1, 'one'), (2, '5')");
    for (let i = 0; i < 6; i++) assert.deepEqual(expectStatus(await get('retyped', ['select=id', 'v=eq.one']), 200).json, [{ id: 1 }]);
    await sql("alter table retyped alter column v type int using case when v ~ '^[0-9]+$' then v::int end");
    const c = checks();
    for (let i = 0; i < 6; i++)
      await c.run(async () => {
        const r = await get('retyped', ['select=id', 'v=eq.5']);
        assert.equal(r.status, 200, fmt(r));
        assert.deepEqual(r.json, [{ id: 2 }], fmt(r));
      });
    await sql('drop table retyped');
    c.done();
  });
});

describe('hostile input', () => {
  let snapshot;
  const state = async () =>
    sql(`select (select count(*)::int from items) as items, (select count(*)::int from products) as products,
      (select count(*)::int from notes) as notes, (select string_agg(name, ',' order by id) from items) as names,
      (select count(*)::int from pg_tables where schemaname = 'public') as tables,
      (select count(*)::int from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'public') as functions`);
  before(async () => {
    snapshot = await state();
  });
  const unchanged = async () => assert.deepEqual(await state(), snapshot, 'the database changed');

  it('injection through select, filters, operators, values, aliases, JSON keys, casts, order', async () => {
    const c = checks();
    const refused = (parts, status) => c.run(async () => expectRefused(await get('items', parts), status));
    const answers = (parts, expected) =>
      c.run(async () => {
        const r = noLeak(await get('items', parts));
        expectStatus(r, 200);
        assert.deepEqual(r.json, expected, fmt(r));
      });
    // values are parameters: matched literally
    await answers(['select=id', ['name', "eq.x'); drop table items;--"]], []);
    await answers(['select=id', ['name', `eq.${EVIL_NAME}`]], [{ id: 6 }]);
    await answers(['select=id', ['name', `in.("x'); drop table items;--",alpha)`]], [{ id: 1 }]);
    await answers(['select=id', ['or', `(name.eq."x') or true; drop table items; --",id.eq.-1)`]], []);
    await answers(['select=id', ['name', "like.*'); drop table items;--*"]], []);
    await answers(['select=id', ['name', "like.*'; drop table items;--*"]], [{ id: 6 }]);
    await answers(['select=id', ['body', "plfts.x') or true; drop table items; --"]], []);
    await refused([['id', 'eq.1; drop table items']], 400);
    await refused([['id', 'in.(1) or 1=1']], 400);
    // column names
    await refused([['"a;drop table items"', 'eq.1']], 400);
    await refused([['name"; drop table items; --', 'eq.1']]);
    await refused([['id) or (1=1', 'eq.1']]);
    await refused([['or', '(id.eq.1,"x"") or true; drop table items; --".eq.1)']]);
    // operators
    await refused([['id', 'eq;drop table items.1']], 400);
    await refused([['id', 'eqq.1']], 400);
    await refused([['id', 'eq(any;drop).{1}']], 400);
    await refused([['name', "fts(english'; drop table items; --).x"]]);
    // select, aliases, JSON keys, casts
    await refused([['select', 'id,"name; drop table items"']], 400);
    await refused([['select', 'id,name) from items; drop table items; --']], 400);
    await refused([['select', 'id,pg_sleep(1)']]);
    await refused([['select', 'id, (select 1)']]);
    await answers([['select', '"x; drop table items":id'], 'id=eq.1'], [{ 'x; drop table items': 1 }]);
    await answers([['select', `data->>"k'); drop table items; --"`], 'id=eq.1'], [{ "k'); drop table items; --": null }]);
    await refused([['select', "data->>k'); drop table items; --"]], 400);
    await answers(['select=id', ['data->>"x\') or true; drop table items; --"', 'eq.1']], []);
    await refused([['select', 'id::text;drop table items']], 400);
    await refused([['select', 'id::int) from items; drop table items;--']], 400);
    await refused([['select', 'id::text/**/']], 400);
    await refused([['select', 'id::no_such_type']]);
    // order, paging
    await refused([['order', 'id;drop table items']], 400);
    await refused([['order', 'id.desc;drop table items']], 400);
    await refused([['order', 'name.asc,(select 1)']], 400);
    await refused([['limit', '1; drop table items']], 400);
    await refused([['offset', '0 or 1=1']], 400);
    // bytes that are not text
    for (const raw of ['name=eq.a%00b', 'name=eq.%ff%fe', 'name=eq.%zz', 'select=id%00', 'na%00me=eq.x'])
      await c.run(async () => expectRefused(await rest('GET', `/items?${raw}`), 400));
    // embedded resources and their parameters
    await refused([['select', 'id,"cities; drop table items"(name)']]);
    await refused([['select', 'name,cities!"x; drop table items"(name)']]);
    c.done();
    await unchanged();
  });

  it('injection through table names, rpc names, argument names, on_conflict, columns=, headers', async () => {
    const c = checks();
    for (const path of [
      `/${enc('items;drop table items')}`,
      `/${enc('items"; drop table items; --')}`,
      `/${enc("items'")}`,
      `/${enc('public.items')}`,
      `/${enc('pg_catalog.pg_tables')}`,
      '/items;drop',
      `/${enc('items--')}`,
    ])
      await c.run(async () => expectPgrst(expectRefused(await rest('GET', path)), 404, 'PGRST205'));
    await c.run(async () => expectRefused(await rest('POST', `/${enc('items;drop table items')}`, { body: { name: 'x' } }), 404));
    await c.run(async () => expectRefused(await rest('DELETE', `/${enc('items;drop table items')}`), 404));
    // rpc names and argument names
    for (const fn of ['add_them;drop table items', 'add_them(1,2);drop table items', "pg_sleep", 'public.add_them'])
      await c.run(async () => expectPgrst(expectRefused(await rest('POST', `/rpc/${enc(fn)}`, { body: { a: 1, b: 2 } })), 404, 'PGRST202'));
    await c.run(async () =>
      expectPgrst(expectRefused(await rest('POST', '/rpc/add_them', { body: { a: 1, 'b) ; drop table items; --': 2 } })), 404, 'PGRST202'),
    );
    // functions outside the exposed schema are not callable (a session-level set_config would
    // follow the pooled connection into other requests)
    for (const [fn, args] of [
      ['set_config', { setting_name: 'role', new_value: 'service_role', is_local: false }],
      ['pg_read_file', { filename: 'postgresql.conf' }],
      ['uid', {}],
    ])
      await c.run(async () => expectPgrst(expectRefused(await rest('POST', `/rpc/${fn}`, { token: keys.anon, body: args })), 404, 'PGRST202'));
    await c.run(async () => assert.deepEqual(await rows('notes', ['select=id'], { token: keys.anon }), []));
    await c.run(async () => expectRefused(await rest('GET', `/rpc/add_them${qs(['a=1', ['b', '2); drop table items; --']])}`), 400));
    await c.run(async () => expectRefused(await rest('POST', '/rpc/add_them', { body: { a: 1, b: '2); drop table items; --' } }), 400));
    // on_conflict, columns=
    const repr = { Prefer: 'resolution=merge-duplicates,return=representation' };
    await c.run(async () =>
      expectPgrst(expectRefused(await rest('POST', `/products${qs([['on_conflict', 'code); drop table products; --']])}`, { body: { code: 'zz' }, headers: repr })), 400, 'PGRST204'),
    );
    await c.run(async () =>
      expectPgrst(expectRefused(await rest('POST', `/products${qs([['columns', 'code,"name) values (1); drop table products; --"']])}`, { body: { code: 'zz' } })), 400, 'PGRST204'),
    );
    await c.run(async () =>
      expectPgrst(expectRefused(await rest('POST', '/products', { body: { code: 'zz', 'name") values (1); drop table products; --': 'x' } })), 400, 'PGRST204'),
    );
    // profiles
    for (const profile of ['pg_catalog', 'nope', 'public; drop table items', 'auth'])
      await c.run(async () => expectPgrst(await get('items', [], { headers: { 'Accept-Profile': profile } }), 406, 'PGRST106'));
    await c.run(async () => expectPgrst(await rest('POST', '/items', { body: { name: 'x' }, headers: { 'Content-Profile': 'pg_catalog' } }), 406, 'PGRST106'));
    await c.run(async () => expectPgrst(await rest('POST', '/rpc/add_them', { body: { a: 1, b: 2 }, headers: { 'Content-Profile': 'pg_catalog' } }), 406, 'PGRST106'));
    await c.run(async () => assert.deepEqual(await rows('items', ['select=id', 'id=eq.1'], { headers: { 'Accept-Profile': 'public' } }), [{ id: 1 }]));
    // odd Range and Prefer headers
    for (const range of ['0-1; drop table items', 'x-y', '5-1', '-1--2'])
      await c.run(async () => noLeak(await get('items', ['select=id'], { headers: { Range: range } })));
    await c.run(async () => noLeak(await get('items', ['select=id'], { headers: { Prefer: "count=exact'; drop table items; --" } })));
    c.done();
    assert.equal(await countOf('products'), snapshot[0].products);
    await unchanged();
  });

  it('a 10 000-item in.() list (a URL of ~60 KiB): a JSON 414 that says what to do, and nothing runs', async () => {
    const list = Array.from({ length: 10000 }, (_, i) => i + 5).join(',');
    const r = noLeak(await get('items', ['select=id', 'order=id', ['id', `in.(${list})`]]));
    expectStatus(r, 414);
    assert.equal(r.json.error, 'URI too long', fmt(r));
    assert.match(r.json.detail, /POST body/, fmt(r));
    // the same list in an RPC body is answered
    await sql('create function items_in(ids int[]) returns setof items language sql stable as $$ select * from items where id = any(ids) $$');
    try {
      const ok = expectStatus(await rest('POST', `/rpc/items_in${qs(['select=id', 'order=id'])}`, { body: { ids: list.split(',').map(Number) } }), 200);
      assert.deepEqual(ok.json, [{ id: 5 }, { id: 6 }], fmt(ok));
    } finally {
      await sql('drop function items_in(int[])');
    }
  });

  it('deeply nested or= (200 and 1000 levels), 5000 conditions, in.() lists of 1500 items', async () => {
    const c = checks();
    // 200 levels: a correct answer
    let tree = 'id.eq.2';
    for (let i = 0; i < 200; i++) tree = `or(id.eq.1,${tree})`;
    await c.run(async () => {
      const r = noLeak(await get('items', ['select=id', 'order=id', ['or', `(${tree})`]]));
      if (r.status !== 400) {
        expectStatus(r, 200);
        assert.deepEqual(r.json, [{ id: 1 }, { id: 2 }], fmt(r));
      }
    });
    // 1000 levels (still within a 16 KiB request line): a correct answer or a 400, no crash
    let deep = 'id.eq.2';
    for (let i = 0; i < 1000; i++) deep = `or(id.eq.1,${deep})`;
    await c.run(async () => {
      const r = noLeak(await get('items', ['select=id', 'order=id', ['or', `(${deep})`]]));
      if (r.status !== 400) {
        expectStatus(r, 200);
        assert.deepEqual(r.json, [{ id: 1 }, { id: 2 }], fmt(r));
      }
    });
    await c.run(async () => expectStatus(await server.request('GET', '/health'), 200));
    // embeddings nested 20 deep (countries → cities → countries → …): answered; 100 deep: 400 or answered
    const nested = (depth) => {
      let sel = 'name';
      for (let i = depth; i >= 1; i--) sel = `name,${i % 2 ? 'cities' : 'countries'}(${sel})`;
      return sel;
    };
    await c.run(async () => {
      const r = noLeak(await get('countries', [['select', nested(20)], 'id=eq.2']));
      expectStatus(r, 200);
      let node = r.json[0];
      for (let i = 1; i <= 20; i++) node = i % 2 ? node.cities[0] : node.countries;
      assert.deepEqual(node, { name: 'Japan' }, fmt(r));
    });
    await c.run(async () => {
      const r = noLeak(await get('countries', [['select', nested(100)], 'id=eq.2'], { timeoutMs: 60000 }));
      assert.ok(r.status === 400 || r.status === 200, fmt(r));
    });
    // 5000 conditions in one or=: 4xx or the right answer
    const many = Array.from({ length: 5000 }, (_, i) => `id.eq.${i + 3}`).join(',');
    await c.run(async () => {
      const r = noLeak(await get('items', ['select=id', 'order=id', ['or', `(${many})`]]));
      if (r.status < 400) {
        expectStatus(r, 200);
        assert.deepEqual(r.json, [{ id: 3 }, { id: 4 }, { id: 5 }, { id: 6 }], fmt(r));
      } else assert.ok(r.status >= 400 && r.status < 500, fmt(r));
    });
    // a 1 500-item in.() list (fits in 16 KiB): the right answer (10 000 items: the test above)
    const small = Array.from({ length: 1500 }, (_, i) => i + 5).join(',');
    await c.run(async () => {
      const r = noLeak(await get('items', ['select=id', 'order=id', ['id', `in.(${small})`]]));
      expectStatus(r, 200);
      assert.deepEqual(r.json, [{ id: 5 }, { id: 6 }], fmt(r));
    });
    c.done();
    expectStatus(await server.request('GET', '/health'), 200);
    await unchanged();
  });

  it('malformed JSON bodies → 400 PGRST102; an oversized body → 413', async () => {
    const c = checks();
    for (const bad of ['{', '{"name":}', '{"name":"x"', '[{"name":"x"}', 'undefined', '{"a":1}}', '\u0000'])
      for (const [m, p] of [['POST', '/items'], ['PATCH', '/items?id=eq.1'], ['POST', '/rpc/add_them']])
        await c.run(async () =>
          expectPgrst(expectRefused(await rest(m, p, { body: bad, headers: { 'content-type': 'application/json' } }), 400), 400, 'PGRST102'),
        );
    // deeply nested JSON (within the size limit): answered, no crash
    const deepJson = `{"name":"deep","data":${'['.repeat(100000)}${']'.repeat(100000)}}`;
    for (const [m, p] of [['POST', '/items'], ['POST', '/rpc/echo_json']])
      await c.run(async () => {
        const r = noLeak(await rest(m, p, { body: deepJson, headers: { 'content-type': 'application/json' } }));
        assert.ok(r.status === 400 || r.status === 413, fmt(r));
      });
    await c.run(async () => expectStatus(await server.request('GET', '/health'), 200));
    // valid JSON that is not an object or an array of objects
    for (const odd of ['"text"', '42', '[1,2]', '[{"name":"x"},3]'])
      await c.run(async () => expectRefused(await rest('POST', '/items', { body: odd, headers: { 'content-type': 'application/json' } }), 400));
    // over the limit, the whole body sent (the server may close before reading it all: the
    // answer is read from a raw socket whose writes may fail)
    await c.run(async () => {
      const body = JSON.stringify({ name: 'x'.repeat(MAX_BODY) });
      const head = await rawExchange(
        `POST /p/${id}/rest/v1/items HTTP/1.1\r\nHost: x\r\napikey: ${keys.service_role}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      assert.match(head, /^HTTP\/1\.1 413 /, `oversized body: ${JSON.stringify(head.slice(0, 300))}`);
    });
    // over the limit as announced by Content-Length: answered without waiting for the body
    for (const path of ['/items', '/rpc/add_them']) {
      await c.run(async () => {
        const head = await rawExchange(
          `POST /p/${id}/rest/v1${path} HTTP/1.1\r\nHost: x\r\napikey: ${keys.service_role}\r\n` +
            `Content-Type: application/json\r\nContent-Length: ${MAX_BODY + 1}\r\n\r\n{"name":"${'x'.repeat(1000)}`,
        );
        assert.match(head, /^HTTP\/1\.1 413 /, `oversized body: ${head.slice(0, 300)}`);
      });
    }
    // and a body just under the limit is read
    await c.run(async () => {
      const r = await rest('PATCH', '/items?id=eq.-1', { body: { name: 'y'.repeat(MAX_BODY - 100) } });
      assert.equal(r.status, 204, fmt(r));
    });
    c.done();
    await unchanged();
  });
});

describe('OpenAPI', () => {
  it('GET /rest/v1/ → swagger 2.0 listing the tables and the rpc functions', async () => {
    for (const path of ['/', '']) {
      const r = expectStatus(await rest('GET', path), 200);
      assert.match(String(r.headers['content-type']), /^application\/openapi\+json/, fmt(r));
      const doc = r.json;
      assert.equal(doc.swagger, '2.0', fmt(r));
      for (const t of ['items', 'countries', 'cities', 'students', 'courses', 'enrollments', 'people', 'messages', 'products', 'notes'])
        assert.ok(doc.paths[`/${t}`], `paths lacks /${t}: ${Object.keys(doc.paths).join(' ')}`);
      for (const f of ['add_them', 'items_by_status', 'echo_json', 'pay', 'boom', 'whoami'])
        assert.ok(doc.paths[`/rpc/${f}`], `paths lacks /rpc/${f}: ${Object.keys(doc.paths).join(' ')}`);
      assert.ok(!doc.paths['/fresh'], 'a dropped table is listed');
      assert.deepEqual(Object.keys(doc.definitions.items.properties), Object.keys(ITEM1));
      assert.deepEqual(doc.definitions.products.required, ['code']);
    }
  });

  it('/health is 200 after all of it', async () => {
    expectStatus(await server.request('GET', '/health'), 200);
  });
});
