// supabase-js resource embedding through foreign keys: many-to-one, one-to-many, nested,
// many-to-many through a join table, !inner, filters/order/limit on embedded resources,
// disambiguation hints, spreads, and the relationship errors.
import { defineSuite, assert, ok, fails } from './lib.mjs';

const ctx = defineSuite('embed');
const t = ctx.test;
let db;

t('setup: users, posts, comments, teams, members (join table), reviews (two FKs to users)', async () => {
  await ctx.sql(`
    create table users (id bigint primary key, name text not null);
    create table posts (id bigint primary key, title text not null, author_id bigint references users(id));
    create table comments (id bigint primary key, post_id bigint not null references posts(id), body text not null);
    create table teams (id bigint primary key, name text not null);
    create table members (
      user_id bigint references users(id),
      team_id bigint references teams(id),
      role text not null,
      primary key (user_id, team_id)
    );
    create table reviews (
      id bigint primary key,
      reviewer_id bigint references users(id),
      reviewee_id bigint references users(id),
      stars int
    );
    insert into users values (1, 'Alice'), (2, 'Bob'), (3, 'Carol');
    insert into posts values (1, 'Hello', 1), (2, 'World', 1), (3, 'Bobs post', 2), (4, 'Orphan', null);
    insert into comments values (1, 1, 'nice'), (2, 1, 'meh'), (3, 3, 'ok');
    insert into teams values (1, 'red'), (2, 'blue'), (3, 'green');
    insert into members values (1, 1, 'owner'), (1, 2, 'member'), (2, 2, 'owner');
    insert into reviews values (1, 1, 2, 5);
    create view post_titles as select id, title, author_id from posts;
    create function posts_by(uid bigint) returns setof posts language sql stable
      as $$ select * from posts where author_id = uid $$;
  `);
  db = ctx.anon();
});

t("many-to-one with an alias: posts?select=title,author:users(name) (NULL FK → null)", async () => {
  const data = ok(await db.from('posts').select('title,author:users(name)').order('id'));
  assert.deepEqual(data, [
    { title: 'Hello', author: { name: 'Alice' } },
    { title: 'World', author: { name: 'Alice' } },
    { title: 'Bobs post', author: { name: 'Bob' } },
    { title: 'Orphan', author: null },
  ]);
});

t('many-to-one without an alias, and * on both sides', async () => {
  assert.deepEqual(ok(await db.from('posts').select('id,users(id,name)').eq('id', 3)), [
    { id: 3, users: { id: 2, name: 'Bob' } },
  ]);
  assert.deepEqual(ok(await db.from('posts').select('*,users(*)').eq('id', 1)), [
    { id: 1, title: 'Hello', author_id: 1, users: { id: 1, name: 'Alice' } },
  ]);
});

t('one-to-many: users?select=name,posts(title) (no children → [])', async () => {
  const data = ok(
    await db.from('users').select('name,posts(title)').order('id').order('id', { referencedTable: 'posts' }),
  );
  assert.deepEqual(data, [
    { name: 'Alice', posts: [{ title: 'Hello' }, { title: 'World' }] },
    { name: 'Bob', posts: [{ title: 'Bobs post' }] },
    { name: 'Carol', posts: [] },
  ]);
});

t('two levels: users → posts → comments, each level ordered', async () => {
  const data = ok(
    await db
      .from('users')
      .select('name,posts(title,comments(body))')
      .eq('id', 1)
      .order('id', { referencedTable: 'posts' })
      .order('id', { referencedTable: 'posts.comments' }),
  );
  assert.deepEqual(data, [
    {
      name: 'Alice',
      posts: [
        { title: 'Hello', comments: [{ body: 'nice' }, { body: 'meh' }] },
        { title: 'World', comments: [] },
      ],
    },
  ]);
});

t('order and limit on the embedded resource (referencedTable)', async () => {
  const data = ok(
    await db
      .from('users')
      .select('name,posts(title)')
      .eq('id', 1)
      .order('title', { referencedTable: 'posts', ascending: false })
      .limit(1, { referencedTable: 'posts' }),
  );
  assert.deepEqual(data, [{ name: 'Alice', posts: [{ title: 'World' }] }]);
});

t(".eq('posts.title', x) without !inner filters the children only", async () => {
  const data = ok(await db.from('users').select('name,posts(title)').eq('posts.title', 'World').order('id'));
  assert.deepEqual(data, [
    { name: 'Alice', posts: [{ title: 'World' }] },
    { name: 'Bob', posts: [] },
    { name: 'Carol', posts: [] },
  ]);
});

t('.or() on the embedded resource (referencedTable)', async () => {
  const data = ok(
    await db
      .from('users')
      .select('name,posts(title)')
      .eq('id', 1)
      .or('title.eq.Hello,title.eq.Nope', { referencedTable: 'posts' }),
  );
  assert.deepEqual(data, [{ name: 'Alice', posts: [{ title: 'Hello' }] }]);
});

t('!inner: parents without matching children are dropped', async () => {
  const filtered = ok(await db.from('users').select('name,posts!inner(title)').eq('posts.title', 'World'));
  assert.deepEqual(filtered, [{ name: 'Alice', posts: [{ title: 'World' }] }]);
  const any = ok(await db.from('users').select('name,posts!inner(id)').order('id'));
  assert.deepEqual(
    any.map((u) => u.name),
    ['Alice', 'Bob'],
  );
});

t('!inner on many-to-one, filtered by table name and by alias', async () => {
  assert.deepEqual(ok(await db.from('posts').select('title,users!inner(name)').eq('users.name', 'Bob')), [
    { title: 'Bobs post', users: { name: 'Bob' } },
  ]);
  assert.deepEqual(
    ok(await db.from('posts').select('title,author:users!inner(name)').eq('author.name', 'Alice').order('id')),
    [
      { title: 'Hello', author: { name: 'Alice' } },
      { title: 'World', author: { name: 'Alice' } },
    ],
  );
});

t("count with !inner counts parents: select('name,posts!inner(id)', { count: 'exact', head: true })", async () => {
  const res = await db.from('users').select('name,posts!inner(id)', { count: 'exact', head: true });
  assert.equal(res.error, null, JSON.stringify(res.error));
  assert.equal(res.count, 2);
});

t('many-to-many through the join table: users → teams and teams → users', async () => {
  const users = ok(
    await db.from('users').select('name,teams(name)').order('id').order('id', { referencedTable: 'teams' }),
  );
  assert.deepEqual(users, [
    { name: 'Alice', teams: [{ name: 'red' }, { name: 'blue' }] },
    { name: 'Bob', teams: [{ name: 'blue' }] },
    { name: 'Carol', teams: [] },
  ]);
  const teams = ok(
    await db.from('teams').select('name,users(name)').order('id').order('id', { referencedTable: 'users' }),
  );
  assert.deepEqual(teams, [
    { name: 'red', users: [{ name: 'Alice' }] },
    { name: 'blue', users: [{ name: 'Alice' }, { name: 'Bob' }] },
    { name: 'green', users: [] },
  ]);
});

t('many-to-many filtered with !inner', async () => {
  const data = ok(await db.from('users').select('name,teams!inner(name)').eq('teams.name', 'red'));
  assert.deepEqual(data, [{ name: 'Alice', teams: [{ name: 'red' }] }]);
});

t('the join table embeds both sides (two many-to-one)', async () => {
  const data = ok(
    await db.from('members').select('role,users(name),teams(name)').order('user_id').order('team_id'),
  );
  assert.deepEqual(data, [
    { role: 'owner', users: { name: 'Alice' }, teams: { name: 'red' } },
    { role: 'member', users: { name: 'Alice' }, teams: { name: 'blue' } },
    { role: 'owner', users: { name: 'Bob' }, teams: { name: 'blue' } },
  ]);
});

t('hints disambiguate two FKs to the same table: !column and !constraint_name', async () => {
  const data = ok(
    await db
      .from('reviews')
      .select('stars,reviewer:users!reviewer_id(name),reviewee:users!reviews_reviewee_id_fkey(name)'),
  );
  assert.deepEqual(data, [{ stars: 5, reviewer: { name: 'Alice' }, reviewee: { name: 'Bob' } }]);
});

t('an ambiguous embed → 300 PGRST201', async () => {
  const res = await db.from('reviews').select('stars,users(name)');
  fails(res, 'PGRST201', 300);
});

t('an unknown relationship → 400 PGRST200', async () => {
  const res = await db.from('users').select('name,no_such_table(*)');
  fails(res, 'PGRST200', 400);
});

t('spread of a many-to-one: ...users(author_name:name)', async () => {
  const data = ok(await db.from('posts').select('title,...users(author_name:name)').in('id', [3, 4]).order('id'));
  assert.deepEqual(data, [
    { title: 'Bobs post', author_name: 'Bob' },
    { title: 'Orphan', author_name: null },
  ]);
});

t('.single() with an embedded resource', async () => {
  const res = await db.from('users').select('name,posts(title)').eq('id', 2).single();
  assert.deepEqual(ok(res), { name: 'Bob', posts: [{ title: 'Bobs post' }] });
});

t("null filtering on an embedded resource: .is('posts', null) and .not('posts', 'is', null)", async () => {
  assert.deepEqual(ok(await db.from('users').select('name,posts(title)').is('posts', null)), [{ name: 'Carol', posts: [] }]);
  const withPosts = ok(await db.from('users').select('name,posts(id)').not('posts', 'is', null).order('id'));
  assert.deepEqual(
    withPosts.map((u) => u.name),
    ['Alice', 'Bob'],
  );
});

t('a view over a table keeps its foreign keys for embedding', async () => {
  assert.deepEqual(ok(await db.from('post_titles').select('title,users(name)').eq('id', 3)), [
    { title: 'Bobs post', users: { name: 'Bob' } },
  ]);
  assert.deepEqual(
    ok(await db.from('users').select('name,post_titles(title)').eq('id', 2)),
    [{ name: 'Bob', post_titles: [{ title: 'Bobs post' }] }],
  );
});

t("count of an embedded resource: users?select=name,posts(count)", async () => {
  const data = ok(await db.from('users').select('name,posts(count)').order('id'));
  assert.deepEqual(data, [
    { name: 'Alice', posts: [{ count: 2 }] },
    { name: 'Bob', posts: [{ count: 1 }] },
    { name: 'Carol', posts: [{ count: 0 }] },
  ]);
});

t('embedding on the result of a set-returning function (rpc().select())', async () => {
  const data = ok(await db.rpc('posts_by', { uid: 1 }).select('title,users(name)').order('id'));
  assert.deepEqual(data, [
    { title: 'Hello', users: { name: 'Alice' } },
    { title: 'World', users: { name: 'Alice' } },
  ]);
});

t('.insert().select() with an embedded resource in the returned rows', async () => {
  const data = ok(await db.from('posts').insert({ id: 10, title: 'Fresh', author_id: 3 }).select('title,author:users(name)'));
  assert.deepEqual(data, [{ title: 'Fresh', author: { name: 'Carol' } }]);
});

t('.update().select() with an embedded resource in the returned rows', async () => {
  const data = ok(
    await db.from('posts').update({ author_id: 2 }).eq('id', 10).select('id,users(name),comments(body)').single(),
  );
  assert.deepEqual(data, { id: 10, users: { name: 'Bob' }, comments: [] });
});
