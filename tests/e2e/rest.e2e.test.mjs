// supabase-js reads against /rest/v1: select lists, aliases, casts, JSON paths, every filter the
// client builds, order/limit/range, count, head, single/maybeSingle, CSV, and read errors.
import { defineSuite, assert, ok, fails, ids, collect, keepAlive } from './lib.mjs';

const ctx = defineSuite('rest');
const t = ctx.test;
let db; // anon client

const PEOPLE = [
  { id: 1, name: 'Alice', age: 30, score: 9.5, active: true, tags: ['admin', 'dev'], data: { a: 1, b: { c: 'x' }, list: [1, 2] }, bio: 'The quick brown fox jumps', born: '1994-03-01' },
  { id: 2, name: 'Bob', age: 25, score: 7, active: false, tags: ['dev'], data: { a: 2, b: { c: 'y' } }, bio: 'Lazy dogs sleep all day', born: '1999-07-15' },
  { id: 3, name: 'Carol', age: 35, score: null, active: true, tags: ['ops', 'dev'], data: { a: 3 }, bio: 'A fox and a dog are friends', born: '1989-12-31' },
  { id: 4, name: 'dave', age: null, score: 5.25, active: null, tags: [], data: null, bio: null, born: null },
  { id: 5, name: 'Eve, Jr.', age: 41, score: 8, active: false, tags: ['sec'], data: { a: 5, b: { c: 'x' } }, bio: 'Cats chase mice', born: '1983-05-20' },
];

t('setup: schema and rows through /projects/:id/query', async () => {
  await ctx.sql(`
    create table people (
      id bigint primary key,
      name text not null,
      age int,
      score numeric,
      active boolean,
      tags text[] not null default '{}',
      data jsonb,
      bio text,
      born date
    );
    insert into people values
      (1, 'Alice', 30, 9.5, true, '{admin,dev}', '{"a":1,"b":{"c":"x"},"list":[1,2]}', 'The quick brown fox jumps', '1994-03-01'),
      (2, 'Bob', 25, 7, false, '{dev}', '{"a":2,"b":{"c":"y"}}', 'Lazy dogs sleep all day', '1999-07-15'),
      (3, 'Carol', 35, null, true, '{ops,dev}', '{"a":3}', 'A fox and a dog are friends', '1989-12-31'),
      (4, 'dave', null, 5.25, null, '{}', null, null, null),
      (5, 'Eve, Jr.', 41, 8, false, '{sec}', '{"a":5,"b":{"c":"x"}}', 'Cats chase mice', '1983-05-20');
    create table empty_table (id int primary key, label text);
    alter table people add column fts tsvector generated always as (to_tsvector('english', coalesce(bio, ''))) stored;
    create function name_upper(people) returns text language sql stable as $$ select upper($1.name) $$;
    create table slots (id int primary key, r int4range not null);
    insert into slots values (1, '[1,5)'), (2, '[5,10)'), (3, '[20,30)');
    create table strs (id int primary key, s text not null);
    insert into strs values (1, 'a+b'), (2, 'a&b=c'), (3, '100%'), (4, 'ünï ☃'), (5, 'say "hi"'),
      (6, 'x (y)'), (7, 'comma, here'), (8, 'back\\slash'), (9, 'a b'), (10, 'semi;colon#hash?q');
    create table "CamelTable" ("Id" int primary key, "firstName" text, "order" int, "select" text);
    insert into "CamelTable" values (1, 'Ann', 2, 's1'), (2, 'Ben', 1, 's2');
    create table events (id int primary key, at timestamptz not null);
    insert into events values (1, '2024-01-01T08:00:00Z'), (2, '2024-01-01T10:00:00Z'), (3, '2024-01-01T12:30:00Z');
    create view adults as select id, name, age from people where age >= 30;
  `);
  db = ctx.anon();
});

// ---------------------------------------------------------------------------------------------
// select lists

t("select('*') returns every column with JSON types (bigint/numeric as numbers, arrays, jsonb, dates)", async () => {
  const res = await db.from('people').select('*').order('id');
  assert.equal(res.status, 200);
  const data = ok(res);
  assert.deepEqual(data.map(({ fts, ...rest }) => rest), PEOPLE);
  assert.equal(data[0].fts, "'brown':3 'fox':4 'jump':5 'quick':2");
});

t('select() without arguments is select=*', async () => {
  const data = ok(await db.from('people').select().eq('id', 2));
  assert.deepEqual(data.map(({ fts, ...rest }) => rest), [PEOPLE[1]]);
});

t("select('id,name') returns only those columns", async () => {
  const data = ok(await db.from('people').select('id,name').order('id').limit(2));
  assert.deepEqual(data, [
    { id: 1, name: 'Alice' },
    { id: 2, name: 'Bob' },
  ]);
});

t('select with whitespace and newlines (supabase-js strips it)', async () => {
  const data = ok(await db.from('people').select(`
      id,
      name
    `).eq('id', 3));
  assert.deepEqual(data, [{ id: 3, name: 'Carol' }]);
});

t("aliases 'alias:col' rename keys", async () => {
  const data = ok(await db.from('people').select('who:name,key:id').in('id', [1, 2]).order('id'));
  assert.deepEqual(data, [
    { who: 'Alice', key: 1 },
    { who: 'Bob', key: 2 },
  ]);
});

t("casts 'col::type' (key keeps the column name), with an alias", async () => {
  const data = ok(await db.from('people').select('id::text,age::text,s:score::text').eq('id', 1));
  assert.deepEqual(data, [{ id: '1', age: '30', s: '9.5' }]);
  const star = ok(await db.from('people').select('*,age_text:age::text').eq('id', 2));
  assert.equal(star.length, 1);
  assert.equal(star[0].name, 'Bob');
  assert.equal(star[0].age, 25);
  assert.equal(star[0].age_text, '25');
});

t("JSON paths 'data->a', 'data->b->>c', aliased, and a missing document", async () => {
  const data = ok(
    await db.from('people').select('id,data->a,data->b->>c,inner:data->b,second:data->list->1').in('id', [1, 4]).order('id'),
  );
  assert.deepEqual(data, [
    { id: 1, a: 1, c: 'x', inner: { c: 'x' }, second: 2 },
    { id: 4, a: null, c: null, inner: null, second: null },
  ]);
});

t('JSON paths in filters: data->>a eq, data->b->>c eq, array index, numeric compare', async () => {
  assert.deepEqual(ids(ok(await db.from('people').select('id').eq('data->>a', '2'))), [2]);
  assert.deepEqual(ids(ok(await db.from('people').select('id').eq('data->b->>c', 'x').order('id'))), [1, 5]);
  assert.deepEqual(ids(ok(await db.from('people').select('id').eq('data->list->>1', '2'))), [1]);
  assert.deepEqual(ids(ok(await db.from('people').select('id').gt('data->a', 2).order('id'))), [3, 5]);
});

t('computed fields: a function of the row type is a column (select, filter, order)', async () => {
  assert.deepEqual(ok(await db.from('people').select('id,name_upper').in('id', [1, 5]).order('id')), [
    { id: 1, name_upper: 'ALICE' },
    { id: 5, name_upper: 'EVE, JR.' },
  ]);
  assert.deepEqual(ok(await db.from('people').select('id').eq('name_upper', 'BOB')), [{ id: 2 }]);
  assert.deepEqual(ids(ok(await db.from('people').select('id').order('name_upper', { ascending: false }).limit(2))), [5, 4]);
});

// ---------------------------------------------------------------------------------------------
// filters

const people = () => db.from('people').select('id');

t('.eq .neq (NULLs never match neq)', async () => {
  const c = collect();
  await c.ids(people().eq('name', 'Bob'), [2]);
  await c.ids(people().eq('age', 30), [1]);
  await c.ids(people().eq('active', true), [1, 3]);
  await c.ids(people().neq('age', 30), [2, 3, 5]);
  await c.ids(people().eq('name', 'nobody'), []);
  c.done();
});

t('.gt .gte .lt .lte on int, numeric and date', async () => {
  const c = collect();
  await c.ids(people().gt('age', 30), [3, 5]);
  await c.ids(people().gte('age', 30), [1, 3, 5]);
  await c.ids(people().lt('age', 30), [2]);
  await c.ids(people().lte('age', 30), [1, 2]);
  await c.ids(people().gt('score', 7.5), [1, 5]);
  await c.ids(people().lt('born', '1990-01-01'), [3, 5]);
  await c.ids(people().gte('age', 26).lte('age', 35), [1, 3]);
  c.done();
});

t('.like (% and *) and .ilike', async () => {
  const c = collect();
  await c.ids(people().like('name', '%o%'), [2, 3]);
  await c.ids(people().like('name', '*ar*'), [3]);
  await c.ids(people().like('name', 'a%'), []);
  await c.ids(people().ilike('name', 'a%'), [1]);
  await c.ids(people().ilike('name', '%D%'), [4]);
  await c.ids(people().like('name', 'Eve, %'), [5]);
  c.done();
});

t('.is null / true / false', async () => {
  const c = collect();
  await c.ids(people().is('age', null), [4]);
  await c.ids(people().is('active', true), [1, 3]);
  await c.ids(people().is('active', false), [2, 5]);
  await c.ids(people().is('data', null), [4]);
  c.done();
});

t('.in with numbers, with strings needing quotes, and empty', async () => {
  const c = collect();
  await c.ids(people().in('id', [1, 3, 5]), [1, 3, 5]);
  await c.ids(people().in('name', ['Bob', 'Eve, Jr.', 'nobody']), [2, 5]);
  await c.ids(people().in('id', []), []);
  c.done();
});

t('.contains on text[] and jsonb', async () => {
  const c = collect();
  await c.ids(people().contains('tags', ['dev']), [1, 2, 3]);
  await c.ids(people().contains('tags', ['admin', 'dev']), [1]);
  await c.ids(people().contains('data', { b: { c: 'x' } }), [1, 5]);
  await c.ids(people().contains('data', { list: [2] }), [1]);
  c.done();
});

t('.containedBy on text[] and jsonb', async () => {
  const c = collect();
  await c.ids(people().containedBy('tags', ['dev', 'ops', 'admin']), [1, 2, 3, 4]);
  await c.ids(people().containedBy('data', { a: 2, b: { c: 'y' }, z: 1 }), [2]);
  c.done();
});

t('.overlaps on text[]', async () => {
  const c = collect();
  await c.ids(people().overlaps('tags', ['ops', 'sec']), [3, 5]);
  await c.ids(people().overlaps('tags', ['none']), []);
  c.done();
});

t('.textSearch: fts (to_tsquery), plain, phrase, websearch, with a config', async () => {
  const c = collect();
  const cfg = { config: 'english' };
  await c.ids(people().textSearch('bio', 'fox', cfg), [1, 3]);
  await c.ids(people().textSearch('bio', 'fox & dog', cfg), [3]);
  await c.ids(people().textSearch('bio', 'dogs | mice', cfg), [2, 3, 5]);
  await c.ids(people().textSearch('bio', 'dog sleep', { ...cfg, type: 'plain' }), [2]);
  await c.ids(people().textSearch('bio', 'brown fox', { ...cfg, type: 'phrase' }), [1]);
  await c.ids(people().textSearch('bio', 'fox dog', { ...cfg, type: 'phrase' }), []);
  await c.ids(people().textSearch('bio', 'fox -dog', { ...cfg, type: 'websearch' }), [1]);
  // a tsvector column is matched as it is
  await c.ids(people().textSearch('fts', 'fox & dog', cfg), [3]);
  await c.ids(people().textSearch('fts', 'sleeping dogs', { ...cfg, type: 'plain' }), [2]);
  c.done();
});

t('.likeAnyOf .ilikeAllOf .notIn', async () => {
  const c = collect();
  await c.ids(people().likeAnyOf('name', ['A%', 'B%']), [1, 2]);
  await c.ids(people().ilikeAllOf('name', ['%a%', '%L%']), [1, 3]);
  await c.ids(people().notIn('id', [1, 2, 3]), [4, 5]);
  c.done();
});

t('.regexMatch .regexIMatch', async () => {
  const c = collect();
  await c.ids(people().regexMatch('name', '^[A-C]'), [1, 2, 3]);
  await c.ids(people().regexIMatch('name', '^d|^e'), [4, 5]);
  c.done();
});

t('.isDistinct treats NULL as a value', async () => {
  const c = collect();
  await c.ids(people().isDistinct('age', 30), [2, 3, 4, 5]);
  await c.ids(people().isDistinct('active', true), [2, 4, 5]);
  c.done();
});

t('range operators: rangeGt rangeGte rangeLt rangeLte rangeAdjacent overlaps', async () => {
  const c = collect();
  const slots = () => db.from('slots').select('id');
  await c.ids(slots().rangeGt('r', '[1,4]'), [2, 3]);
  await c.ids(slots().rangeGte('r', '[5,10)'), [2, 3]);
  await c.ids(slots().rangeLt('r', '[10,20)'), [1, 2]);
  await c.ids(slots().rangeLte('r', '[5,10)'), [1, 2]);
  await c.ids(slots().rangeAdjacent('r', '[10,20)'), [2, 3]);
  await c.ids(slots().overlaps('r', '[4,6)'), [1, 2]);
  c.done();
});

t('filter values with URL and PostgREST special characters round-trip', async () => {
  const c = collect();
  const strs = () => db.from('strs').select('id');
  const values = ['a+b', 'a&b=c', '100%', 'ünï ☃', 'say "hi"', 'x (y)', 'comma, here', 'back\\slash', 'a b', 'semi;colon#hash?q'];
  for (const [i, v] of values.entries()) await c.ids(strs().eq('s', v), [i + 1]);
  await c.ids(strs().in('s', ['x (y)', 'comma, here', 'a+b']), [1, 6, 7]);
  await c.ids(strs().neq('s', 'a+b').lt('id', 4), [2, 3]);
  c.done();
});

t('timestamptz filters with ISO strings (Z, milliseconds, +hh:mm offsets)', async () => {
  const c = collect();
  const ev = () => db.from('events').select('id');
  await c.ids(ev().gte('at', '2024-01-01T10:00:00.000Z'), [2, 3]);
  await c.ids(ev().lt('at', new Date('2024-01-01T10:00:00Z').toISOString()), [1]);
  await c.ids(ev().lt('at', '2024-01-01T12:00:00+02:00'), [1]);
  await c.ids(ev().eq('at', '2024-01-01T11:00:00-01:00'), []); // 12:00Z: no row
  await c.ids(ev().eq('at', '2024-01-01T13:30:00+01:00'), [3]);
  c.done();
});

t('.in() with 200 values', async () => {
  const many = Array.from({ length: 200 }, (_, i) => i + 1);
  assert.deepEqual(ids(ok(await db.from('people').select('id').in('id', many).order('id'))), [1, 2, 3, 4, 5]);
});

t('mixed-case and reserved-word column names (quoted identifiers)', async () => {
  const data = ok(await db.from('CamelTable').select('Id,firstName,order,select').eq('firstName', 'Ben'));
  assert.deepEqual(data, [{ Id: 2, firstName: 'Ben', order: 1, select: 's2' }]);
  const ordered = ok(await db.from('CamelTable').select('Id').order('order'));
  assert.deepEqual(ordered, [{ Id: 2 }, { Id: 1 }]);
  // (a filter on a column named "order" would be read as the order parameter, as in PostgREST)
  const aliased = ok(await db.from('CamelTable').select('name:firstName,sel:select').lt('Id', 2));
  assert.deepEqual(aliased, [{ name: 'Ann', sel: 's1' }]);
});

t('.match({col: value, ...})', async () => {
  const c = collect();
  await c.ids(people().match({ age: 30, name: 'Alice' }), [1]);
  await c.ids(people().match({ age: 30, name: 'Bob' }), []);
  c.done();
});

t('.not(col, op, value)', async () => {
  const c = collect();
  await c.ids(people().not('age', 'is', null), [1, 2, 3, 5]);
  await c.ids(people().not('id', 'in', '(1,2)'), [3, 4, 5]);
  await c.ids(people().not('tags', 'cs', '{dev}'), [4, 5]);
  await c.ids(people().not('name', 'eq', 'Bob'), [1, 3, 4, 5]);
  c.done();
});

t('.or(): flat, nested and(), quoted values, in/is inside', async () => {
  const c = collect();
  await c.ids(people().or('age.lt.26,name.eq.Carol'), [2, 3]);
  await c.ids(people().or('id.eq.1,and(age.gt.30,score.gte.8)'), [1, 5]);
  await c.ids(people().or('name.eq."Eve, Jr.",id.eq.4'), [4, 5]);
  await c.ids(people().or('id.in.(1,2),age.is.null'), [1, 2, 4]);
  await c.ids(people().or('data->>a.eq.2,data->b->>c.eq.x'), [1, 2, 5]);
  await c.ids(people().or('tags.cs.{ops},name.ilike.*EVE*'), [3, 5]);
  // .or() combined with another filter: AND of both
  await c.ids(people().or('active.is.true,age.gt.40').neq('id', 1), [3, 5]);
  // not inside or
  await c.ids(people().or('age.not.is.null,id.eq.4').lt('id', 5), [1, 2, 3, 4]);
  c.done();
});

t('.filter(col, op, value) passes raw PostgREST operators', async () => {
  const c = collect();
  await c.ids(people().filter('id', 'in', '(2,4)'), [2, 4]);
  await c.ids(people().filter('name', 'eq', 'Bob'), [2]);
  await c.ids(people().filter('tags', 'cs', '{ops}'), [3]);
  await c.ids(people().filter('age', 'not.gte', 30), [2]);
  c.done();
});

// ---------------------------------------------------------------------------------------------
// modifiers

t('.order(): ascending (NULLs last), descending (NULLs first), nullsFirst both ways', async () => {
  const o = async (opts) => ids(ok(await db.from('people').select('id').order('age', opts)));
  assert.deepEqual(await o(undefined), [2, 1, 3, 5, 4]);
  assert.deepEqual(await o({ ascending: false }), [4, 5, 3, 1, 2]);
  assert.deepEqual(await o({ ascending: true, nullsFirst: true }), [4, 2, 1, 3, 5]);
  assert.deepEqual(await o({ ascending: false, nullsFirst: false }), [5, 3, 1, 2, 4]);
});

t('.order() on several columns and on a JSON path', async () => {
  const data = ok(await db.from('people').select('id').order('active').order('id', { ascending: false }));
  assert.deepEqual(ids(data), [5, 2, 3, 1, 4]);
  const byJson = ok(await db.from('people').select('id').order('data->a', { ascending: false }));
  assert.deepEqual(ids(byJson), [4, 5, 3, 2, 1]);
});

t('.limit() and .range()', async () => {
  assert.deepEqual(ids(ok(await db.from('people').select('id').order('id').limit(2))), [1, 2]);
  assert.deepEqual(ids(ok(await db.from('people').select('id').order('id').range(1, 3))), [2, 3, 4]);
  assert.deepEqual(ids(ok(await db.from('people').select('id').order('id').range(4, 10))), [5]);
  assert.deepEqual(ids(ok(await db.from('people').select('id').order('id').range(5, 9))), []);
  assert.deepEqual(ids(ok(await db.from('people').select('id').order('id', { ascending: false }).limit(1))), [5]);
});

t("{ count: 'exact' } returns the filtered total, also with a range", async () => {
  const all = await db.from('people').select('id', { count: 'exact' }).gt('age', 26).order('id');
  assert.deepEqual(ids(ok(all)), [1, 3, 5]);
  assert.equal(all.count, 3);
  const page = await db.from('people').select('id', { count: 'exact' }).order('id').range(0, 1);
  assert.deepEqual(ids(ok(page)), [1, 2]);
  assert.equal(page.count, 5);
  const none = await db.from('people').select('id', { count: 'exact' }).eq('id', 99);
  assert.deepEqual(ok(none), []);
  assert.equal(none.count, 0);
  const plain = await db.from('people').select('id').limit(1);
  assert.equal(plain.count, null, 'no count unless asked');
});

t("{ count: 'planned' } is Postgres' estimate, { count: 'estimated' } exact for small results", async () => {
  await ctx.sql('create table many (id int primary key); insert into many select generate_series(1, 20000); analyze many; grant select on many to anon');
  try {
    const planned = await db.from('many').select('id', { count: 'planned' }).order('id').range(0, 4);
    assert.deepEqual(ids(ok(planned)), [1, 2, 3, 4, 5]);
    assert.ok(planned.count >= 18000 && planned.count <= 22000, `planned count ${planned.count}`);
    const small = await db.from('people').select('id', { count: 'estimated' }).gt('age', 26);
    assert.equal(ok(small) && small.count, 3);
  } finally {
    await ctx.sql('drop table many');
  }
});

t("a range past the end with { count: 'exact' } → 416 PGRST103", async () => {
  const res = await db.from('people').select('id', { count: 'exact' }).order('id').range(10, 19);
  fails(res, 'PGRST103', 416);
});

t('{ head: true, count } answers a HEAD with the count and no data', async () => {
  const res = await db.from('people').select('*', { count: 'exact', head: true });
  assert.equal(res.error, null, JSON.stringify(res.error));
  assert.equal(res.status, 200);
  assert.equal(res.data, null);
  assert.equal(res.count, 5);
  const filtered = await db.from('people').select('*', { count: 'exact', head: true }).contains('tags', ['dev']);
  assert.equal(filtered.error, null, JSON.stringify(filtered.error));
  assert.equal(filtered.count, 3);
  assert.equal(ctx.log.at(-1).method, 'HEAD');
});

t('.single() returns one object', async () => {
  const res = await db.from('people').select('id,name,tags').eq('id', 2).single();
  assert.equal(res.status, 200);
  assert.deepEqual(ok(res), { id: 2, name: 'Bob', tags: ['dev'] });
});

t('.single() on 0 rows → 406 PGRST116', async () => {
  const res = await db.from('people').select('id').eq('id', 99).single();
  const err = fails(res, 'PGRST116', 406);
  assert.match(String(err.details), /The result contains 0 rows/);
});

t('.single() on 2+ rows → 406 PGRST116', async () => {
  const res = await db.from('people').select('id').in('id', [1, 2]).single();
  const err = fails(res, 'PGRST116', 406);
  assert.match(String(err.details), /The result contains 2 rows/);
});

t('.maybeSingle(): 0 rows → null, 1 row → object, 2 rows → PGRST116', async () => {
  const none = await db.from('people').select('id').eq('id', 99).maybeSingle();
  assert.equal(none.error, null, JSON.stringify(none.error));
  assert.equal(none.data, null);
  const one = await db.from('people').select('id,name').eq('id', 3).maybeSingle();
  assert.deepEqual(ok(one), { id: 3, name: 'Carol' });
  const two = await db.from('people').select('id').lt('id', 3).maybeSingle();
  fails(two, 'PGRST116', 406);
});

t('.csv() returns PostgREST CSV (header line, record text quoting, empty NULLs)', async () => {
  const res = await db.from('people').select('id,name,age').in('id', [1, 4, 5]).order('id').csv();
  assert.equal(ok(res), 'id,name,age\n1,Alice,30\n4,dave,\n5,"Eve, Jr.",41');
  const last = ctx.log.at(-1);
  assert.match(String(last.resHeaders['content-type']), /^text\/csv/);
});

t('.stripNulls() leaves NULL keys out (Accept: ...;nulls=stripped)', async () => {
  const rows = ok(await db.from('people').select('id,age,score').in('id', [3, 4]).order('id').stripNulls());
  assert.deepEqual(rows, [
    { id: 3, age: 35 },
    { id: 4, score: 5.25 },
  ]);
  const one = ok(await db.from('people').select('id,age,score').eq('id', 4).single().stripNulls());
  assert.deepEqual(one, { id: 4, score: 5.25 });
});

t('an empty table: select → [], count 0', async () => {
  const res = await db.from('empty_table').select('*', { count: 'exact' });
  assert.deepEqual(ok(res), []);
  assert.equal(res.count, 0);
});

t('a view reads like a table (select, filter, order, count)', async () => {
  const res = await db.from('adults').select('id,name', { count: 'exact' }).neq('id', 1).order('age', { ascending: false });
  assert.deepEqual(ok(res), [
    { id: 5, name: 'Eve, Jr.' },
    { id: 3, name: 'Carol' },
  ]);
  assert.equal(res.count, 2);
});

// ---------------------------------------------------------------------------------------------
// read errors

t('a schema that is not exposed → 406 PGRST106', async () => {
  const res = await db.schema('private_stuff').from('people').select('id');
  fails(res, 'PGRST106', 406);
});

t('unknown table → 404 PGRST205 (or 42P01)', async () => {
  const res = await db.from('no_such_table').select('*');
  fails(res, ['PGRST205', '42P01'], 404);
});

t('unknown column in select → 400 42703', async () => {
  const res = await db.from('people').select('id,no_such_column');
  fails(res, '42703', 400);
});

t('unknown column in a filter → 400 42703', async () => {
  const res = await db.from('people').select('id').eq('no_such_column', 1);
  fails(res, '42703', 400);
});

t('unknown operator → 400 PGRST100', async () => {
  const res = await db.from('people').select('id').filter('id', 'nope', '1');
  fails(res, 'PGRST100', 400);
});

t('a value of the wrong type → 400 22P02', async () => {
  const res = await db.from('people').select('id').eq('age', 'abc');
  fails(res, '22P02', 400);
});

t('a bad API key → 401', async () => {
  const bad = ctx.client('not-a-valid-key');
  const res = await bad.from('people').select('id');
  assert.ok(res.error, `expected an error, got ${JSON.stringify(res.data)}`);
  assert.equal(res.status, 401);
  assert.equal(res.data, null);
});

// Browsers run supabase-js too: its requests carry custom headers, so every write and most reads
// are preflighted, and count needs Content-Range exposed to scripts.
const corsProblems = async (wanted) => {
  const p = ctx.project;
  const origin = 'http://localhost:5173';
  const problems = [];
  for (const method of ['GET', 'POST', 'PATCH', 'DELETE']) {
    const [pre] = await keepAlive(ctx.server, [
      {
        method: 'OPTIONS',
        path: `/p/${p.id}/rest/v1/people`,
        headers: { Origin: origin, 'Access-Control-Request-Method': method, 'Access-Control-Request-Headers': wanted.join(', ') },
      },
    ]);
    const h = pre.headers;
    if (pre.status < 200 || pre.status >= 300) problems.push(`${method} preflight: status ${pre.status} ${pre.body.slice(0, 200)}`);
    const allowOrigin = h['access-control-allow-origin'];
    if (allowOrigin !== '*' && allowOrigin !== origin) problems.push(`${method} preflight: Access-Control-Allow-Origin ${allowOrigin}`);
    const methods = String(h['access-control-allow-methods'] || '').toUpperCase();
    if (methods !== '*' && !methods.split(/\s*,\s*/).includes(method)) problems.push(`${method} preflight: Access-Control-Allow-Methods ${methods}`);
    const allowHeaders = String(h['access-control-allow-headers'] || '').toLowerCase().split(/\s*,\s*/);
    if (!allowHeaders.includes('*')) {
      const missing = wanted.filter((x) => !allowHeaders.includes(x));
      if (missing.length) problems.push(`${method} preflight: Access-Control-Allow-Headers lacks ${missing.join(', ')} (got ${h['access-control-allow-headers']})`);
    }
  }
  const res = await db.from('people').select('id', { count: 'exact' }).limit(1);
  ok(res);
  const hdrs = ctx.log.at(-1).resHeaders;
  if (!hdrs['access-control-allow-origin']) problems.push('GET response: no Access-Control-Allow-Origin');
  const exposed = String(hdrs['access-control-expose-headers'] || '').toLowerCase();
  if (!exposed.split(/\s*,\s*/).includes('content-range') && exposed !== '*') problems.push(`GET response: Access-Control-Expose-Headers ${exposed}`);
  return problems;
};

t('CORS: preflight allows the headers and methods supabase-js sends; responses expose Content-Range', async () => {
  const wanted = ['apikey', 'authorization', 'content-type', 'prefer', 'x-client-info', 'accept-profile', 'content-profile'];
  assert.deepEqual(await corsProblems(wanted), []);
});

t('CORS: preflight allows X-Retry-Count (supabase-js adds it when retrying a GET after 503/520)', async () => {
  assert.deepEqual(await corsProblems(['apikey', 'authorization', 'x-client-info', 'accept-profile', 'x-retry-count']), []);
});
