// supabase-js .rpc() against /rest/v1/rpc: scalar functions (POST and GET), defaults,
// set-returning functions with filters/order/limit/count/single, json parameters (named and the
// single unnamed one that takes the whole body), arrays, writes, void, raised errors, unknown names.
import { defineSuite, assert, ok, fails } from './lib.mjs';

const ctx = defineSuite('rpc');
const t = ctx.test;
let db;

t('setup: functions and a scores table', async () => {
  await ctx.sql(`
    create function add_them(a int, b int) returns int language sql immutable as $$ select a + b $$;
    create function add_default(a int, b int default 10) returns int language sql immutable as $$ select a + b $$;
    create function hello() returns text language sql stable as $$ select 'hello'::text $$;
    create table scores (id int primary key, player text not null, points int not null);
    insert into scores values (1, 'alice', 10), (2, 'bob', 20), (3, 'carol', 5), (4, 'bob', 30);
    create function top_scores(min_points int) returns setof scores language sql stable
      as $$ select * from scores where points >= min_points $$;
    create function squares(n int) returns table (i int, sq int) language sql immutable
      as $$ select g, g * g from generate_series(1, n) g $$;
    create function echo_json(payload jsonb) returns jsonb language sql immutable
      as $$ select payload || '{"seen": true}'::jsonb $$;
    create function whole_body(json) returns json language sql immutable
      as $$ select json_build_object('got', $1) $$;
    create function array_sum(xs int[]) returns int language sql immutable
      as $$ select coalesce(sum(x), 0)::int from unnest(xs) x $$;
    create function add_score(p_player text, p_points int) returns int language sql
      as $$ insert into scores (id, player, points)
            select coalesce(max(id), 0) + 1, p_player, p_points from scores returning id $$;
    create function best_score() returns scores language sql stable
      as $$ select * from scores order by points desc limit 1 $$;
    create function evens(n int) returns setof int language sql immutable
      as $$ select g from generate_series(2, n, 2) g $$;
    create function over(a int) returns text language sql immutable as $$ select 'int' $$;
    create function over(a text, b text) returns text language sql immutable as $$ select 'text,text' $$;
    create function do_nothing() returns void language plpgsql as $$ begin end $$;
    create function fail_loudly() returns int language plpgsql as $$
      begin raise exception 'boom: %', 42 using errcode = 'P0001', hint = 'try again'; end $$;
  `);
  db = ctx.anon();
});

t("rpc('add_them', { a: 1, b: 2 }) → 3 (a scalar, not an array)", async () => {
  const res = await db.rpc('add_them', { a: 1, b: 2 });
  assert.equal(res.status, 200);
  assert.equal(ok(res), 3);
  assert.equal(ctx.log.at(-1).method, 'POST');
});

t('a parameter default applies when the argument is left out', async () => {
  assert.equal(ok(await db.rpc('add_default', { a: 1 })), 11);
  assert.equal(ok(await db.rpc('add_default', { a: 1, b: 2 })), 3);
});

t('a function without parameters', async () => {
  assert.equal(ok(await db.rpc('hello')), 'hello');
});

t("rpc(..., { get: true }) calls with GET and query-string arguments", async () => {
  assert.equal(ok(await db.rpc('add_them', { a: 2, b: 5 }, { get: true })), 7);
  assert.equal(ctx.log.at(-1).method, 'GET');
});

t('set-returning function with .eq() and .order() on its result', async () => {
  const data = ok(await db.rpc('top_scores', { min_points: 10 }).eq('player', 'bob').order('id'));
  assert.deepEqual(data, [
    { id: 2, player: 'bob', points: 20 },
    { id: 4, player: 'bob', points: 30 },
  ]);
});

t('set-returning function with .select(cols), order desc and .limit()', async () => {
  const data = ok(
    await db.rpc('top_scores', { min_points: 0 }).select('player,points').order('points', { ascending: false }).limit(2),
  );
  assert.deepEqual(data, [
    { player: 'bob', points: 30 },
    { player: 'bob', points: 20 },
  ]);
});

t('RETURNS TABLE function filtered with .gt()', async () => {
  const data = ok(await db.rpc('squares', { n: 5 }).gt('sq', 4).order('i'));
  assert.deepEqual(data, [
    { i: 3, sq: 9 },
    { i: 4, sq: 16 },
    { i: 5, sq: 25 },
  ]);
});

t("set-returning function with { count: 'exact' } and .single()", async () => {
  const res = await db.rpc('top_scores', { min_points: 0 }, { count: 'exact' }).order('id');
  assert.equal(ok(res).length, 4);
  assert.equal(res.count, 4);
  assert.deepEqual(ok(await db.rpc('top_scores', { min_points: 25 }).single()), { id: 4, player: 'bob', points: 30 });
  fails(await db.rpc('top_scores', { min_points: 0 }).single(), 'PGRST116', 406);
});

t("GET rpc of a set-returning function: arguments and filters share the query string", async () => {
  const data = ok(await db.rpc('top_scores', { min_points: 10 }, { get: true }).eq('player', 'bob').order('id'));
  assert.deepEqual(data, [
    { id: 2, player: 'bob', points: 20 },
    { id: 4, player: 'bob', points: 30 },
  ]);
  assert.equal(ctx.log.at(-1).method, 'GET');
});

t("rpc(..., { head: true, count: 'exact' }) → HEAD with the count only", async () => {
  const res = await db.rpc('top_scores', { min_points: 10 }, { head: true, count: 'exact' });
  assert.equal(res.error, null, JSON.stringify(res.error));
  assert.equal(res.data, null);
  assert.equal(res.count, 3);
  assert.equal(ctx.log.at(-1).method, 'HEAD');
});

t('a function returning one composite row → an object', async () => {
  assert.deepEqual(ok(await db.rpc('best_score')), { id: 4, player: 'bob', points: 30 });
});

t('a function returning setof a scalar → an array of values', async () => {
  assert.deepEqual(ok(await db.rpc('evens', { n: 7 })), [2, 4, 6]);
});

t('overloaded functions are chosen by argument names', async () => {
  assert.equal(ok(await db.rpc('over', { a: 1 })), 'int');
  assert.equal(ok(await db.rpc('over', { a: 'x', b: 'y' })), 'text,text');
});

t('set-returning function with .or() and .in()', async () => {
  const data = ok(await db.rpc('top_scores', { min_points: 0 }).or('player.eq.carol,points.gt.25').order('id'));
  assert.deepEqual(data.map((r) => r.id), [3, 4]);
  const inn = ok(await db.rpc('top_scores', { min_points: 0 }).in('player', ['alice', 'carol']).order('id'));
  assert.deepEqual(inn.map((r) => r.id), [1, 3]);
});

t('a named jsonb parameter: rpc(fn, { payload: {...} })', async () => {
  const payload = { x: 1, nested: { y: [1, 2] }, s: 'é' };
  assert.deepEqual(ok(await db.rpc('echo_json', { payload })), { ...payload, seen: true });
});

t('a single unnamed json parameter receives the whole body', async () => {
  assert.deepEqual(ok(await db.rpc('whole_body', { x: 1, y: [1, 2] })), { got: { x: 1, y: [1, 2] } });
});

t('an int[] parameter from a JSON array', async () => {
  assert.equal(ok(await db.rpc('array_sum', { xs: [1, 2, 3] })), 6);
});

t('a volatile function writes (POST runs read-write)', async () => {
  assert.equal(ok(await db.rpc('add_score', { p_player: 'dave', p_points: 7 })), 5);
  assert.deepEqual(ok(await db.from('scores').select('*').eq('id', 5)), [{ id: 5, player: 'dave', points: 7 }]);
});

t('a void function → no data, no error', async () => {
  const res = await db.rpc('do_nothing');
  assert.equal(res.error, null, JSON.stringify(res.error));
  assert.equal(res.data, null);
  assert.ok([200, 204].includes(res.status), `status ${res.status}`);
});

t('RAISE EXCEPTION → 400 with the SQLSTATE, message and hint', async () => {
  const err = fails(await db.rpc('fail_loudly'), 'P0001', 400);
  assert.equal(err.message, 'boom: 42');
  assert.equal(err.hint, 'try again');
});

t('unknown argument names → 404 PGRST202 (or 42883)', async () => {
  fails(await db.rpc('add_them', { x: 1, y: 2 }), ['PGRST202', '42883'], 404);
});

t('an unknown function → 404 PGRST202 (or 42883)', async () => {
  fails(await db.rpc('no_such_function', { a: 1 }), ['PGRST202', '42883'], 404);
});
