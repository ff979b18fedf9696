// The auth plugin's admin API (/p/<ref>/auth/v1/admin/..., service_role key only): create, list
// with pagination headers, get/update/delete a user, generate_link (recovery, magiclink, signup)
// whose links work; refusal for the anon key and user JWTs. Then the management routes with the
// admin PAT: /projects/:id/auth/users and /projects/:id/auth/providers (secrets never returned,
// validation, changes applied at once).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { expectError, expectStatus, fmt, randomHex } from './harness.mjs';
import {
  SITE_URL,
  UUID_RE,
  createProject,
  expectAuthError,
  expectFragmentSession,
  expectSession,
  expectUser,
  expectVerifyLink,
  itFor,
  lit,
  newEmail,
  newPassword,
  startAuthServer,
} from './auth-helpers.mjs';

let env;
let P; // autoconfirm off

before(async () => {
  env = await startAuthServer();
  P = await createProject(env.server, env.sink, 'admin');
});
after(async () => env?.close());

const it = itFor(() => env?.server, test);

// ---------------------------------------------------------------------------------------------
// /admin/users

it('POST /admin/users: a confirmed user with metadata; it signs in; no mail; duplicates and bad input refused', async () => {
  const email = newEmail('adm');
  const password = newPassword();
  const since = env.sink.mark();
  const r = await P.admin('POST', '/admin/users', {
    body: { email, password, email_confirm: true, user_metadata: { name: 'Zed' }, app_metadata: { plan: 'gold' } },
  });
  expectStatus(r, 200);
  const u = expectUser(r.json, { email, confirmed: true });
  assert.equal(u.user_metadata.name, 'Zed');
  assert.equal(u.app_metadata.plan, 'gold');
  assert.equal(u.app_metadata.provider, 'email');
  assert.deepEqual(u.app_metadata.providers, ['email']);
  const s = expectSession(await P.signIn(email, password), { userId: u.id });
  assert.equal(s.claims.app_metadata.plan, 'gold');
  assert.ok(await env.sink.expectNone(email, 500, { since }), 'creating a user sends no mail');
  expectAuthError(await P.admin('POST', '/admin/users', { body: { email, password } }), 422, 'email_exists');
  expectAuthError(await P.admin('POST', '/admin/users', { body: { email: 'not-an-email', password } }), 400, 'validation_failed');
  expectAuthError(await P.admin('POST', '/admin/users', { body: '{', headers: { 'content-type': 'application/json' } }), 400, 'bad_json');
  const unconfirmed = expectStatus(await P.admin('POST', '/admin/users', { body: { email: newEmail('unc'), password } }), 200);
  assert.ok(!unconfirmed.json.email_confirmed_at, fmt(unconfirmed));
  expectAuthError(await P.signIn(unconfirmed.json.email, password), 400, 'email_not_confirmed');
});

it('GET /admin/users pages: {users, aud}, X-Total-Count, Link rel="next"/rel="last"', async () => {
  const Q = await createProject(env.server, env.sink, 'pages');
  const made = [];
  for (let i = 0; i < 5; i++) made.push((await Q.createUser({ email: newEmail(`p${i}`) })).id);
  const seen = [];
  const r1 = expectStatus(await Q.admin('GET', '/admin/users?page=1&per_page=2'), 200);
  assert.equal(r1.json.aud, 'authenticated', fmt(r1));
  assert.equal(r1.json.users.length, 2, fmt(r1));
  r1.json.users.forEach((u) => expectUser(u));
  assert.equal(r1.headers['x-total-count'], '5', `X-Total-Count: ${JSON.stringify(r1.headers)}`);
  const link = String(r1.headers.link || '');
  assert.match(link, /<[^>]*page=2[^>]*>;\s*rel="next"/, `Link: ${link}`);
  assert.match(link, /<[^>]*page=3[^>]*>;\s*rel="last"/, `Link: ${link}`);
  assert.match(link, /per_page=2/, `Link keeps per_page: ${link}`);
  seen.push(...r1.json.users.map((u) => u.id));
  const r2 = expectStatus(await Q.admin('GET', '/admin/users?page=2&per_page=2'), 200);
  seen.push(...r2.json.users.map((u) => u.id));
  const r3 = expectStatus(await Q.admin('GET', '/admin/users?page=3&per_page=2'), 200);
  assert.equal(r3.json.users.length, 1, fmt(r3));
  assert.doesNotMatch(String(r3.headers.link || ''), /rel="next"/, `no next on the last page: ${r3.headers.link}`);
  seen.push(...r3.json.users.map((u) => u.id));
  assert.deepEqual([...seen].sort(), [...made].sort(), 'the pages together list every user once');
  const all = expectStatus(await Q.admin('GET', '/admin/users'), 200);
  assert.equal(all.json.users.length, 5, fmt(all));
  const beyond = expectStatus(await Q.admin('GET', '/admin/users?page=9&per_page=2'), 200);
  assert.deepEqual(beyond.json.users, []);
});

it('GET/PUT/DELETE /admin/users/:uid: read, merge metadata, set password and email, delete', async () => {
  const u = await P.createUser({ user_metadata: { a: 1 }, app_metadata: { tier: 'x' } });
  const g = expectStatus(await P.admin('GET', `/admin/users/${u.id}`), 200);
  expectUser(g.json, { id: u.id, email: u.email, confirmed: true });
  const next = newPassword('admset');
  const newAddr = newEmail('admmoved');
  const p = expectStatus(await P.admin('PUT', `/admin/users/${u.id}`, { body: { user_metadata: { b: 2 }, app_metadata: { tier: 'y' }, password: next, email: newAddr, email_confirm: true } }), 200);
  expectUser(p.json, { id: u.id, email: newAddr });
  assert.equal(p.json.user_metadata.a, 1, `user_metadata merged: ${fmt(p)}`);
  assert.equal(p.json.user_metadata.b, 2, fmt(p));
  assert.equal(p.json.app_metadata.tier, 'y', fmt(p));
  assert.equal(p.json.app_metadata.provider, 'email', `provider kept: ${fmt(p)}`);
  expectSession(await P.signIn(newAddr, next), { userId: u.id });
  expectAuthError(await P.signIn(newAddr, u.password), 400, 'invalid_credentials');
  const s = expectSession(await P.signIn(newAddr, next));
  const d = expectStatus(await P.admin('DELETE', `/admin/users/${u.id}`), 200);
  assert.ok(d.json && typeof d.json === 'object', fmt(d));
  expectAuthError(await P.admin('GET', `/admin/users/${u.id}`), 404, 'user_not_found');
  expectAuthError(await P.signIn(newAddr, next), 400, 'invalid_credentials');
  expectAuthError(await P.refresh(s.refresh_token), 400, ['refresh_token_not_found', 'session_not_found']);
  const gone = await P.getUser(s.access_token);
  assert.ok(gone.status === 403 || gone.status === 404, `a deleted user's token: ${fmt(gone)}`);
  for (const t of ['users', 'identities', 'sessions']) {
    const col = t === 'users' ? 'id' : 'user_id';
    assert.equal(P.sql(`select count(*) from auth.${t} where ${col} = ${lit(u.id)}`), '0', `auth.${t} rows left`);
  }
});

it('admin users: unknown uuid → 404 user_not_found; not a uuid → 404/400', async () => {
  const ghost = crypto.randomUUID();
  expectAuthError(await P.admin('GET', `/admin/users/${ghost}`), 404, 'user_not_found');
  expectAuthError(await P.admin('PUT', `/admin/users/${ghost}`, { body: { user_metadata: { a: 1 } } }), 404, 'user_not_found');
  expectAuthError(await P.admin('DELETE', `/admin/users/${ghost}`), 404, 'user_not_found');
  const bad = await P.admin('GET', '/admin/users/not-a-uuid');
  expectAuthError(bad, [400, 404]);
  const inj = await P.admin('GET', `/admin/users/${encodeURIComponent("1' or '1'='1")}`);
  expectAuthError(inj, [400, 404]);
});

it('admin routes refuse the anon key and user JWTs: 403 not_admin', async () => {
  const u = await P.signedIn();
  for (const token of [P.keys.anon, u.session.access_token]) {
    expectAuthError(await P.auth('GET', '/admin/users', { token }), 403, 'not_admin');
    expectAuthError(await P.auth('POST', '/admin/users', { token, body: { email: newEmail(), password: newPassword() } }), 403, 'not_admin');
    expectAuthError(await P.auth('GET', `/admin/users/${u.id}`, { token }), 403, 'not_admin');
    expectAuthError(await P.auth('DELETE', `/admin/users/${u.id}`, { token }), 403, 'not_admin');
    expectAuthError(await P.auth('POST', '/admin/generate_link', { token, body: { type: 'magiclink', email: u.email } }), 403, 'not_admin');
  }
  expectStatus(await P.admin('GET', `/admin/users/${u.id}`), 200);
});

// ---------------------------------------------------------------------------------------------
// generate_link

function expectGeneratedLink(r, { type, email }) {
  expectStatus(r, 200);
  const b = r.json;
  assert.equal(typeof b.action_link, 'string', fmt(r));
  assert.match(String(b.email_otp), /^\d{6}$/, `email_otp: ${fmt(r)}`);
  assert.equal(typeof b.hashed_token, 'string', fmt(r));
  assert.ok(b.hashed_token.length > 0, fmt(r));
  assert.equal(b.verification_type, type, fmt(r));
  assert.equal(typeof b.redirect_to, 'string', fmt(r));
  assert.equal(b.email, email, fmt(r));
  assert.match(String(b.id), UUID_RE, fmt(r));
  expectVerifyLink(P, b.action_link, type);
  return b;
}

it('generate_link recovery: the fields, no mail sent, and the action_link signs in', async () => {
  const u = await P.createUser();
  const since = env.sink.mark();
  const r = await P.admin('POST', '/admin/generate_link', { body: { type: 'recovery', email: u.email, redirect_to: `${SITE_URL}/r` } });
  const b = expectGeneratedLink(r, { type: 'recovery', email: u.email });
  assert.equal(b.redirect_to, `${SITE_URL}/r`);
  assert.equal(b.id, u.id);
  const f = await P.follow(b.action_link);
  assert.equal(f.status, 303, fmt(f.res));
  assert.ok(f.location.startsWith(`${SITE_URL}/r#`), f.location);
  assert.equal(expectFragmentSession(f.fragment, { type: 'recovery' }).sub, u.id);
  assert.ok(await env.sink.expectNone(u.email, 300, { since }), 'generate_link sends no mail');
});

it('generate_link magiclink: the link, the email_otp and the hashed_token each sign in', async () => {
  const u = await P.createUser();
  const gen = async () => expectGeneratedLink(await P.admin('POST', '/admin/generate_link', { body: { type: 'magiclink', email: u.email } }), { type: 'magiclink', email: u.email });
  const b1 = await gen();
  const f = await P.follow(b1.action_link);
  assert.equal(f.status, 303, fmt(f.res));
  assert.ok(f.location.startsWith(SITE_URL), f.location);
  assert.equal(expectFragmentSession(f.fragment, { type: 'magiclink' }).sub, u.id);
  const b2 = await gen();
  expectSession(await P.auth('POST', '/verify', { body: { type: 'magiclink', token: b2.email_otp, email: u.email } }), { userId: u.id });
  const b3 = await gen();
  expectSession(await P.auth('POST', '/verify', { body: { type: 'magiclink', token_hash: b3.hashed_token } }), { userId: u.id });
});

it('generate_link signup: creates the unconfirmed user; the link confirms it; the password works', async () => {
  const email = newEmail('gensign');
  const password = newPassword();
  const r = await P.admin('POST', '/admin/generate_link', { body: { type: 'signup', email, password, data: { via: 'admin' } } });
  const b = expectGeneratedLink(r, { type: 'signup', email });
  assert.ok(!b.email_confirmed_at, fmt(r));
  assert.equal(b.user_metadata?.via, 'admin', fmt(r));
  expectAuthError(await P.signIn(email, password), 400, 'email_not_confirmed');
  const f = await P.follow(b.action_link);
  assert.equal(f.status, 303, fmt(f.res));
  assert.equal(expectFragmentSession(f.fragment, { type: 'signup' }).sub, b.id);
  expectSession(await P.signIn(email, password), { userId: b.id });
});

it('generate_link input errors: an unknown type, signup without password, recovery for nobody', async () => {
  expectAuthError(await P.admin('POST', '/admin/generate_link', { body: { type: 'bogus', email: newEmail() } }), [400, 422], 'validation_failed');
  expectAuthError(await P.admin('POST', '/admin/generate_link', { body: { type: 'signup', email: newEmail() } }), [400, 422], ['validation_failed', 'weak_password']);
  expectAuthError(await P.admin('POST', '/admin/generate_link', { body: { type: 'recovery', email: newEmail('nobody') } }), 404, 'user_not_found');
});

// ---------------------------------------------------------------------------------------------
// management routes: /projects/:id/auth/users

it('management: GET/POST/DELETE /projects/:id/auth/users with the admin PAT', async () => {
  const M = await createProject(env.server, env.sink, 'mgmt-users');
  await M.createUser();
  const l0 = expectStatus(await M.mgmt('GET', '/auth/users'), 200);
  assert.ok(Array.isArray(l0.json.users), fmt(l0));
  assert.equal(l0.json.total, 1, fmt(l0));
  const email = newEmail('mg');
  const password = newPassword();
  const c = expectStatus(await M.mgmt('POST', '/auth/users', { body: { email, password, email_confirm: true, user_metadata: { via: 'mgmt' } } }), 201);
  expectUser(c.json, { email, confirmed: true });
  assert.equal(c.json.user_metadata.via, 'mgmt');
  expectSession(await M.signIn(email, password), { userId: c.json.id });
  const l1 = expectStatus(await M.mgmt('GET', '/auth/users'), 200);
  assert.equal(l1.json.total, 2, fmt(l1));
  assert.ok(l1.json.users.some((u) => u.id === c.json.id), fmt(l1));
  const page = expectStatus(await M.mgmt('GET', '/auth/users?page=2&per_page=1'), 200);
  assert.equal(page.json.users.length, 1, fmt(page));
  assert.equal(page.json.total, 2, fmt(page));
  const dup = await M.mgmt('POST', '/auth/users', { body: { email, password } });
  assert.ok(dup.status === 409 || dup.status === 422, `duplicate: ${fmt(dup)}`);
  expectError(await M.mgmt('POST', '/auth/users', { body: { email: 'bad', password } }), 400);
  const d = expectStatus(await M.mgmt('DELETE', `/auth/users/${c.json.id}`), 200);
  assert.deepEqual(d.json, { deleted: c.json.id });
  expectAuthError(await M.signIn(email, password), 400, 'invalid_credentials');
  assert.equal(expectStatus(await M.mgmt('GET', '/auth/users'), 200).json.total, 1);
  expectError(await M.mgmt('DELETE', `/auth/users/${crypto.randomUUID()}`), 404);
  expectError(await M.mgmt('GET', '/auth/users', { token: null }), 401);
  expectError(await M.mgmt('GET', '/auth/users', { token: M.keys.anon }), 403);
  expectStatus(await M.mgmt('GET', '/auth/users', { token: M.keys.service_role }), 200);
  expectError(await M.mgmt('GET', '/auth/users', { token: P.keys.service_role }), 403);
});

// ---------------------------------------------------------------------------------------------
// management routes: /projects/:id/auth/providers

it('providers: a client secret is stored but never returned (secret_set), unset with null; GET /settings follows', async () => {
  const M = await createProject(env.server, env.sink, 'mgmt-prov');
  const secret = `topsecret-${randomHex(8)}`;
  const r = await M.mgmt('PATCH', '/auth/providers', { body: { providers: { github: { enabled: true, client_id: 'cid-1', secret } } } });
  expectStatus(r, 200);
  assert.ok(!r.text.includes(secret), `the secret leaked: ${fmt(r)}`);
  assert.equal(r.json.providers.github.enabled, true);
  assert.equal(r.json.providers.github.client_id, 'cid-1');
  assert.equal(r.json.providers.github.secret_set, true);
  assert.ok(!('secret' in r.json.providers.github));
  const g = expectStatus(await M.mgmt('GET', '/auth/providers'), 200);
  assert.ok(!g.text.includes(secret), 'GET never returns the secret');
  assert.deepEqual(g.json, r.json, 'PATCH answers the whole settings, as GET');
  assert.equal(expectStatus(await M.auth('GET', '/settings'), 200).json.external.github, true);
  const off = await M.settings({ providers: { github: { enabled: false, secret: null } } });
  assert.equal(off.providers.github.secret_set, false);
  assert.equal(off.providers.github.client_id, 'cid-1', 'fields not named are kept');
  assert.equal(expectStatus(await M.auth('GET', '/settings'), 200).json.external.github, false);
  assert.ok(!env.server.output.includes(secret), 'the secret is not in the log');
});

it('providers: unknown keys and wrong types → 400, nothing changed; a provider cannot be enabled without client_id and secret', async () => {
  const M = await createProject(env.server, env.sink, 'mgmt-bad');
  const before = await M.getSettings();
  for (const body of [
    { bogus: 1 },
    { autoconfirm: 'yes' },
    { site_url: 'not a url' },
    { redirect_urls: 'http://x' },
    { providers: { github: { bogus: 1 } } },
    { providers: { email: { client_id: 'x' } } },
    { providers: { github: { enabled: true } } },
    { providers: { github: { enabled: true, client_id: 'c' } } },
    { providers: { github: { authorize_url: 'javascript:alert(1)' } } },
    { disable_signup: true, bogus: 1 },
  ]) {
    const r = await M.mgmt('PATCH', '/auth/providers', { body });
    expectError(r, 400);
  }
  expectError(await M.mgmt('PATCH', '/auth/providers', { body: '{"autoconfirm":', headers: { 'content-type': 'application/json' } }), 400);
  assert.deepEqual(await M.getSettings(), before, 'a refused PATCH changes nothing');
  expectError(await M.mgmt('PATCH', '/auth/providers', { token: null, body: { autoconfirm: true } }), 401);
  expectError(await M.mgmt('PATCH', '/auth/providers', { token: M.keys.anon, body: { autoconfirm: true } }), 403);
});

it('providers: changes apply at the next request (autoconfirm, site_url for links)', async () => {
  const M = await createProject(env.server, env.sink, 'mgmt-live');
  const e1 = newEmail('live1');
  const r1 = expectStatus(await M.signUp(e1, newPassword()), 200);
  assert.ok(!r1.json.access_token, 'autoconfirm off: no session');
  const s = await M.settings({ autoconfirm: true, site_url: 'http://app.example.test:8080' });
  assert.equal(s.autoconfirm, true);
  assert.equal(s.site_url, 'http://app.example.test:8080');
  expectSession(await M.signUp(newEmail('live2'), newPassword()));
  const u = await M.createUser();
  const g = expectStatus(await M.admin('POST', '/admin/generate_link', { body: { type: 'magiclink', email: u.email } }), 200);
  const f = await M.follow(g.json.action_link);
  assert.equal(f.status, 303, fmt(f.res));
  assert.ok(f.location.startsWith('http://app.example.test:8080'), `the new site URL is the default redirect: ${f.location}`);
});
