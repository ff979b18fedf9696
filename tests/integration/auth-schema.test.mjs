// The auth schema exists from a project's creation, before any /auth/v1 request: a table with a
// foreign key to auth.users made through POST /projects/:id/query right away, a user signed up
// through /auth/v1 getting a row in it, DELETE /projects/:id/auth/users/:uid cascading to that
// row, and the migrations recorded in auth.schema_migrations.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { expectStatus, fmt } from './harness.mjs';
import { createProject, expectSession, itFor, lit, newEmail, newPassword, startAuthServer, UUID_RE } from './auth-helpers.mjs';

let env;
let P;

before(async () => {
  env = await startAuthServer({ smtp: false });
  // createProject only uses POST /projects and GET /projects/:id/api-keys (no /auth/v1 request)
  P = await createProject(env.server, null, 'schema');
});
after(async () => {
  await env?.close();
});

const it = itFor(() => env?.server, test);

/** Every request to this project's /auth/v1 the server logged so far (none expected before the test's own). */
const authRequestsLogged = () => env.server.output.split('\n').filter((l) => l.includes(`${P.base}/`)).length;

it('a fresh project: auth.users exists before any /auth/v1 request; FK + cascade to a signed-up user; schema_migrations', async () => {
  // nothing has talked to /auth/v1 yet
  assert.equal(authRequestsLogged(), 0, 'no /auth/v1 request before the table is made');

  // the migrations ran when the project was created
  const versions = P.rows('select version from auth.schema_migrations order by version').map((r) => r.version);
  assert.ok(versions.includes('alpaca_auth_0001') && versions.includes('alpaca_auth_0002'), `auth.schema_migrations: ${JSON.stringify(versions)}`);

  const created = await P.mgmt('POST', '/query', {
    body: { sql: 'create table profiles (id uuid primary key references auth.users(id) on delete cascade, name text)' },
  });
  expectStatus(created, 200);
  const fk = P.rows(
    `select confrelid::regclass::text as ref, confdeltype as del from pg_constraint where conrelid = 'public.profiles'::regclass and contype = 'f'`,
  );
  assert.deepEqual(fk, [{ ref: 'auth.users', del: 'c' }], `profiles' foreign key: ${JSON.stringify(fk)}`);

  // the FK is live: a profile for no user is refused
  const orphan = await P.mgmt('POST', '/query', { body: { sql: `insert into profiles values (${lit(crypto.randomUUID())}, 'nobody')` } });
  assert.ok(orphan.status >= 400 && orphan.status < 500, `orphan profile must be refused: ${fmt(orphan)}`);
  assert.match(orphan.text, /23503|foreign key/, `a foreign key violation: ${fmt(orphan)}`);

  // a user signed up through /auth/v1 (autoconfirm on: a session)
  await P.settings({ autoconfirm: true });
  const email = newEmail('profile');
  const s = expectSession(await P.signUp(email, newPassword('profile')), { email });
  const uid = s.user.id;
  assert.match(uid, UUID_RE);
  assert.deepEqual(await P.query(`insert into profiles (id, name) values ($1, 'Profile One') returning id::text, name`, [uid]), [
    { id: uid, name: 'Profile One' },
  ]);
  assert.deepEqual(
    P.rows(`select p.name, u.email from profiles p join auth.users u on u.id = p.id`),
    [{ name: 'Profile One', email }],
  );

  // deleting the user through the management API cascades to the profile
  const del = await P.mgmt('DELETE', `/auth/users/${uid}`);
  expectStatus(del, 200);
  assert.equal(del.json?.deleted, uid, fmt(del));
  assert.deepEqual(P.rows(`select id from auth.users where id = ${lit(uid)}`), [], 'the user is gone');
  assert.deepEqual(await P.query('select id from profiles'), [], 'the profile went with the user (on delete cascade)');

  // and the migrations are still recorded once each
  const after = P.rows(`select version, count(*)::int as n from auth.schema_migrations where version in ('alpaca_auth_0001', 'alpaca_auth_0002') group by version order by version`);
  assert.deepEqual(after, [
    { version: 'alpaca_auth_0001', n: 1 },
    { version: 'alpaca_auth_0002', n: 1 },
  ]);
});
