// The auth plugin (GoTrue's wire protocol at /p/<ref>/auth/v1): settings, sign-up with and
// without autoconfirm (session vs confirmation mail, the link, reuse), validation errors, both
// error formats, the password grant, refresh-token rotation and its reuse window, logout scopes,
// GET/PUT /user (metadata merge, password and email change), the access token under RLS on
// /rest/v1, and a foreign key to auth.users. Mail goes to an in-process SMTP sink.
//
// Two projects: `A` with autoconfirm on, `B` with it off (the default).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt, expectStatus, fmt, randomHex, request } from './harness.mjs';
import { extractLink, extractLinks } from './fakes/smtp-sink.mjs';
import {
  SENDER,
  SITE_URL,
  UUID_RE,
  createProject,
  expectAuthError,
  expectClaims,
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

let env; // { server, sink }
let A; // autoconfirm on
let B; // autoconfirm off

before(async () => {
  env = await startAuthServer();
  A = await createProject(env.server, env.sink, 'auth-a', { autoconfirm: true });
  B = await createProject(env.server, env.sink, 'auth-b');
});
after(async () => env?.close());

const it = itFor(() => env?.server, test);

// ---------------------------------------------------------------------------------------------
// settings

it('GET /settings: GoTrue shape; email on, github off; mailer_autoconfirm follows the project', async () => {
  const r = expectStatus(await B.auth('GET', '/settings'), 200);
  const s = r.json;
  assert.ok(s.external && typeof s.external === 'object', fmt(r));
  assert.equal(s.external.email, true, fmt(r));
  assert.equal(s.external.github, false, fmt(r));
  assert.equal(s.external.phone, false, fmt(r));
  assert.equal(s.disable_signup, false, fmt(r));
  assert.equal(s.mailer_autoconfirm, false, fmt(r));
  assert.equal(s.phone_autoconfirm, false, fmt(r));
  assert.equal(typeof s.sms_provider, 'string', fmt(r));
  assert.equal(s.saml_enabled, false, fmt(r));
  const a = expectStatus(await A.auth('GET', '/settings'), 200);
  assert.equal(a.json.mailer_autoconfirm, true, fmt(a));
});

it('the management view of the settings has the documented defaults', async () => {
  const s = await B.getSettings();
  assert.equal(s.site_url, SITE_URL);
  assert.ok(Array.isArray(s.redirect_urls) && s.redirect_urls.every((u) => typeof u === 'string'), JSON.stringify(s));
  assert.equal(s.autoconfirm, false);
  assert.equal(s.disable_signup, false);
  assert.deepEqual(s.providers.email, { enabled: true });
  const gh = s.providers.github;
  assert.equal(gh.enabled, false);
  assert.equal(gh.client_id, '');
  assert.equal(gh.secret_set, false);
  assert.equal(gh.authorize_url, 'https://github.com/login/oauth/authorize');
  assert.equal(gh.token_url, 'https://github.com/login/oauth/access_token');
  assert.equal(gh.userinfo_url, 'https://api.github.com/user');
  assert.equal(gh.scopes, 'user:email');
  assert.ok(!('secret' in gh));
});

// ---------------------------------------------------------------------------------------------
// sign-up

it('signup with autoconfirm → a session; user, claims and rows as GoTrue makes them', async () => {
  const email = newEmail('signup');
  const password = newPassword();
  const data = { name: 'Ann', plan: 'pro' };
  const s = expectSession(await A.signUp(email, password, { data }), { email });
  const u = expectUser(s.user, { email, confirmed: true });
  for (const [k, v] of Object.entries(data)) assert.equal(u.user_metadata[k], v, `user_metadata.${k}: ${JSON.stringify(u)}`);
  assert.deepEqual(u.app_metadata, { provider: 'email', providers: ['email'] });
  assert.equal(u.identities.length, 1, JSON.stringify(u.identities));
  const idn = u.identities[0];
  assert.equal(idn.provider, 'email');
  assert.equal(idn.user_id, u.id);
  assert.equal(idn.identity_data?.sub, u.id, JSON.stringify(idn));
  assert.equal(idn.identity_data?.email, email, JSON.stringify(idn));

  expectClaims(s.claims, { user: u, method: 'password' });
  for (const [k, v] of Object.entries(data)) assert.equal(s.claims.user_metadata[k], v);
  assert.equal(decodeJwt(s.access_token).header.alg, 'HS256');

  const row = A.userRow(email);
  assert.ok(row, 'auth.users row');
  assert.equal(row.id, u.id);
  assert.ok(row.email_confirmed_at, 'email_confirmed_at in auth.users');
  assert.match(row.encrypted_password, /^\$2[aby]\$/);
  assert.equal(A.sql(`select count(*) from auth.identities where user_id = ${lit(u.id)} and provider = 'email'`), '1');
  assert.equal(A.sql(`select count(*) from auth.sessions where id = ${lit(s.claims.session_id)} and user_id = ${lit(u.id)}`), '1');
  assert.equal(A.sql(`select count(*) from auth.refresh_tokens where session_id = ${lit(s.claims.session_id)} and not revoked`), '1');
});

it('the access token works on /rest/v1: RLS with auth.uid() shows each user only its rows', async () => {
  const t = `todos_${randomHex(4)}`;
  await A.query(`
    create table public.${t} (id uuid primary key default gen_random_uuid(),
      owner uuid not null default auth.uid(), title text not null);
    alter table public.${t} enable row level security;
    create policy own on public.${t} for all to authenticated using (owner = auth.uid()) with check (owner = auth.uid());
    grant select, insert on public.${t} to authenticated;`);
  const u1 = expectSession(await A.signUp(newEmail('rls1'), newPassword()));
  const u2 = expectSession(await A.signUp(newEmail('rls2'), newPassword()));
  const rest = (method, path, token, body) =>
    request(A.server.url, method, `/p/${A.id}/rest/v1${path}`, {
      headers: { apikey: A.keys.anon, authorization: `Bearer ${token}`, prefer: 'return=representation' },
      body,
    });
  const ins1 = expectStatus(await rest('POST', `/${t}`, u1.access_token, [{ title: 'a' }, { title: 'b' }]), 201);
  assert.deepEqual(ins1.json.map((r) => r.owner), [u1.user.id, u1.user.id], fmt(ins1));
  expectStatus(await rest('POST', `/${t}`, u2.access_token, { title: 'c' }), 201);
  const forged = await rest('POST', `/${t}`, u2.access_token, { title: 'x', owner: u1.user.id });
  assert.ok(forged.status === 401 || forged.status === 403, `another user's owner must be refused: ${fmt(forged)}`);
  const r1 = expectStatus(await rest('GET', `/${t}?select=title,owner&order=title`, u1.access_token), 200);
  assert.deepEqual(r1.json, [{ title: 'a', owner: u1.user.id }, { title: 'b', owner: u1.user.id }]);
  const r2 = expectStatus(await rest('GET', `/${t}?select=title&order=title`, u2.access_token), 200);
  assert.deepEqual(r2.json, [{ title: 'c' }]);
});

it('a table with a foreign key to auth.users(id) on delete cascade: deleting the user deletes its rows', async () => {
  const t = `profiles_${randomHex(4)}`;
  await A.query(`create table public.${t} (id uuid primary key references auth.users (id) on delete cascade, name text)`);
  const u = await A.createUser();
  await A.query(`insert into public.${t} values ($1, 'me')`, [u.id]);
  const ghost = await A.server.api('POST', `/projects/${A.id}/query`, { body: { sql: `insert into public.${t} values ($1, 'ghost')`, params: ['00000000-0000-4000-8000-000000000001'] } });
  assert.equal(ghost.json?.code, '23503', `the foreign key is enforced: ${fmt(ghost)}`);
  expectStatus(await A.admin('DELETE', `/admin/users/${u.id}`), 200);
  assert.equal(A.sql(`select count(*) from public.${t}`), '0');
});

it('signup without autoconfirm → the user and a confirmation mail; sign-in refused until the link is followed', async () => {
  const email = newEmail('confirm');
  const password = newPassword();
  const since = env.sink.mark();
  const r = expectStatus(await B.signUp(email, password, { data: { team: 'x' }, redirectTo: `${SITE_URL}/welcome` }), 200);
  assert.ok(!('access_token' in r.json), `no session without confirmation: ${fmt(r)}`);
  const u = expectUser(r.json, { email, confirmed: false });
  assert.equal(u.user_metadata.team, 'x');
  assert.ok(u.confirmation_sent_at, `confirmation_sent_at: ${fmt(r)}`);
  assert.equal(u.identities.length, 1);

  const mail = await env.sink.waitFor(email, 5000, { since });
  assert.equal(mail.from, SENDER, 'envelope sender');
  assert.match(String(mail.headers.from), /noreply@alpaca\.test/);
  assert.ok(mail.subject.length > 0, 'subject');
  const link = extractLink(mail.text);
  expectVerifyLink(B, link, 'signup');

  expectAuthError(await B.signIn(email, password), 400, 'email_not_confirmed');

  const f = await B.follow(link);
  assert.equal(f.status, 303, `GET ${link} → ${fmt(f.res)}`);
  assert.ok(f.location.startsWith(`${SITE_URL}/welcome#`), `Location: ${f.location}`);
  const claims = expectFragmentSession(f.fragment, { type: 'signup' });
  assert.equal(claims.sub, u.id);
  assert.ok(B.userRow(email).email_confirmed_at, 'confirmed in auth.users');
  expectSession(await B.signIn(email, password), { email });

  const again = await B.follow(link);
  assert.equal(again.status, 303, fmt(again.res));
  assert.ok(!again.fragment.get('access_token'), `a used link gives no session: ${again.location}`);
  assert.ok(again.fragment.get('error'), `error in fragment: ${again.location}`);
  assert.equal(again.fragment.get('error_code'), 'otp_expired', again.location);
  assert.ok(again.fragment.get('error_description'), again.location);
});

it('signup validation: weak password 422, bad email 400, malformed JSON 400 bad_json, no password 400; nothing created', async () => {
  const weakEmail = newEmail('weak');
  const weak = expectAuthError(await B.signUp(weakEmail, 'abc'), 422, 'weak_password');
  assert.ok(Array.isArray(weak.json.weak_password?.reasons), `weak_password.reasons: ${fmt(weak)}`);
  assert.ok(weak.json.weak_password.reasons.includes('length'), fmt(weak));
  const weak2024 = expectAuthError(await B.signUp(weakEmail, 'abc', { headers: { 'x-supabase-api-version': '2024-01-01' } }), 422, 'weak_password', { version: '2024-01-01' });
  assert.ok(weak2024.json.weak_password?.reasons?.includes('length'), fmt(weak2024));
  expectAuthError(await B.signUp('not-an-email', newPassword()), 400, 'validation_failed');
  expectAuthError(await B.signUp('a@', newPassword()), 400, 'validation_failed');
  expectAuthError(await B.auth('POST', '/signup', { body: '{"email": "x@example.com", "password":', headers: { 'content-type': 'application/json' } }), 400, 'bad_json');
  expectAuthError(await B.auth('POST', '/signup', { body: '[1,2]', headers: { 'content-type': 'application/json' } }), 400, ['bad_json', 'validation_failed']);
  const noPw = newEmail('nopw');
  expectAuthError(await B.auth('POST', '/signup', { body: { email: noPw } }), 400, 'validation_failed');
  assert.equal(B.sql(`select count(*) from auth.users where email in (${lit(weakEmail)}, ${lit(noPw)}, 'not-an-email')`), '0');
});

it('signup of an existing email: 422 user_already_exists with autoconfirm; an obfuscated user without it (no mail, nothing changed)', async () => {
  const email = newEmail('dup');
  const password = newPassword();
  expectSession(await A.signUp(email, password));
  expectAuthError(await A.signUp(email, newPassword()), 422, 'user_already_exists');

  const existing = await B.createUser({ email, password });
  const since = env.sink.mark();
  const other = newPassword();
  const r = expectStatus(await B.signUp(existing.email, other, { data: { evil: true } }), 200);
  assert.ok(!('access_token' in r.json), fmt(r));
  assert.equal(r.json.email, email, fmt(r));
  assert.match(String(r.json.id), UUID_RE, fmt(r));
  assert.notEqual(r.json.id, existing.id, `the real id must not leak: ${fmt(r)}`);
  assert.deepEqual(r.json.identities, [], fmt(r));
  assert.ok(!r.json.email_confirmed_at, fmt(r));
  assert.ok(await env.sink.expectNone(email, 700, { since }), 'no mail to an already confirmed user');
  expectSession(await B.signIn(email, password), { email });
  expectAuthError(await B.signIn(email, other), 400, 'invalid_credentials');
  assert.ok(!JSON.stringify(B.userRow(email).raw_user_meta_data ?? {}).includes('evil'), 'metadata unchanged');
});

it('disable_signup → 422 signup_disabled at once (no restart); turning it off again allows sign-ups', async () => {
  const P = await createProject(env.server, env.sink, 'toggle', { autoconfirm: true });
  const s = await P.settings({ disable_signup: true });
  assert.equal(s.disable_signup, true);
  assert.equal(expectStatus(await P.auth('GET', '/settings'), 200).json.disable_signup, true);
  const email = newEmail('closed');
  expectAuthError(await P.signUp(email, newPassword()), 422, 'signup_disabled');
  assert.equal(P.sql(`select count(*) from auth.users where email = ${lit(email)}`), '0');
  await P.settings({ disable_signup: false });
  expectSession(await P.signUp(email, newPassword()), { email });
});

// ---------------------------------------------------------------------------------------------
// errors and the password grant

it('error format: legacy {code: status, error_code, msg} and 2024-01-01 {code, message}; both with x-sb-error-code, error, detail', async () => {
  const u = await A.createUser();
  const legacy = expectAuthError(await A.signIn(u.email, 'wrong-password-1'), 400, 'invalid_credentials');
  assert.ok(!('message' in legacy.json) || typeof legacy.json.message === 'string');
  const v2 = expectAuthError(
    await A.signIn(u.email, 'wrong-password-1', { headers: { 'X-Supabase-Api-Version': '2024-01-01' } }),
    400,
    'invalid_credentials',
    { version: '2024-01-01' },
  );
  assert.ok(!('msg' in v2.json), `2024-01-01 has no msg: ${fmt(v2)}`);
  assert.ok(!('error_code' in v2.json), `2024-01-01 has no error_code: ${fmt(v2)}`);
});

it('password grant: ok; wrong password and unknown email give the same 400 invalid_credentials; bad grant types 400', async () => {
  const u = await A.createUser();
  const s = expectSession(await A.signIn(u.email, u.password), { email: u.email, userId: u.id });
  expectClaims(s.claims, { user: s.user, method: 'password' });
  assert.ok(s.user.last_sign_in_at, 'last_sign_in_at');
  const wrong = expectAuthError(await A.signIn(u.email, 'not-the-password'), 400, 'invalid_credentials');
  const unknown = expectAuthError(await A.signIn(newEmail('ghost'), 'not-the-password'), 400, 'invalid_credentials');
  assert.equal(unknown.json.msg, wrong.json.msg, 'no user enumeration through the message');
  assert.equal(unknown.json.error, wrong.json.error);
  expectAuthError(await A.signIn(u.email.toUpperCase(), 'not-the-password'), 400, 'invalid_credentials');
  expectSession(await A.signIn(u.email.toUpperCase(), u.password), { userId: u.id });
  const bad = await A.auth('POST', '/token?grant_type=magic', { body: { email: u.email, password: u.password } });
  expectAuthError(bad, 400);
  const none = await A.auth('POST', '/token', { body: { email: u.email, password: u.password } });
  expectAuthError(none, 400);
  expectAuthError(await A.auth('POST', '/token?grant_type=password', { body: '{"email":', headers: { 'content-type': 'application/json' } }), 400, 'bad_json');
});

// ---------------------------------------------------------------------------------------------
// refresh and logout

it('refresh: the token rotates; the previous one reused inside the reuse window still answers this session', async () => {
  const u = await A.signedIn();
  const s0 = u.session;
  const s1 = expectSession(await A.refresh(s0.refresh_token), { userId: u.id });
  assert.notEqual(s1.refresh_token, s0.refresh_token, 'rotated');
  assert.equal(s1.claims.session_id, s0.claims.session_id, 'same session');
  expectClaims(s1.claims, { user: s1.user });
  assert.ok(s1.claims.iat >= s0.claims.iat);
  // Two tabs refreshing with the same token at once: both must end up with a working session.
  // (GoTrue answers the active token itself; tokens stored hashed cannot be answered again, so a
  // sibling is fine as long as it belongs to the same session and both keep working.)
  const reuse = expectSession(await A.refresh(s0.refresh_token), { userId: u.id });
  assert.equal(reuse.claims.session_id, s0.claims.session_id, 'inside the window: the same session');
  const s2 = expectSession(await A.refresh(s1.refresh_token), { userId: u.id });
  assert.notEqual(s2.refresh_token, s1.refresh_token);
  assert.equal(s2.claims.session_id, s0.claims.session_id);
  expectSession(await A.refresh(reuse.refresh_token), { userId: u.id });
  assert.equal(A.sql(`select count(*) from auth.sessions where user_id = ${lit(u.id)}`), '1', 'refreshing never makes a new session');
  expectAuthError(await A.refresh(`garbage-${randomHex(8)}`), 400, 'refresh_token_not_found');
  expectAuthError(await A.auth('POST', '/token?grant_type=refresh_token', { body: {} }), 400);
});

it('logout: others keeps only this session, local ends only this one, global ends all; 204; old tokens → 403 session_not_found', async () => {
  const u = await A.createUser();
  const sign = async () => expectSession(await A.signIn(u.email, u.password));
  const [s1, s2, s3] = [await sign(), await sign(), await sign()];

  const o = await A.auth('POST', '/logout?scope=others', { token: s1.access_token });
  assert.equal(o.status, 204, fmt(o));
  expectAuthError(await A.getUser(s2.access_token), 403, 'session_not_found');
  expectAuthError(await A.getUser(s3.access_token), 403, 'session_not_found');
  expectAuthError(await A.refresh(s2.refresh_token), 400, ['refresh_token_not_found', 'session_not_found']);
  expectStatus(await A.getUser(s1.access_token), 200);
  const s1b = expectSession(await A.refresh(s1.refresh_token));

  const [s4, s5] = [await sign(), await sign()];
  const l = await A.auth('POST', '/logout?scope=local', { token: s4.access_token });
  assert.equal(l.status, 204, fmt(l));
  expectAuthError(await A.getUser(s4.access_token), 403, 'session_not_found');
  expectAuthError(await A.refresh(s4.refresh_token), 400, ['refresh_token_not_found', 'session_not_found']);
  expectStatus(await A.getUser(s5.access_token), 200);
  expectStatus(await A.getUser(s1b.access_token), 200);

  const g = await A.auth('POST', '/logout?scope=global', { token: s5.access_token });
  assert.equal(g.status, 204, fmt(g));
  expectAuthError(await A.getUser(s1b.access_token), 403, 'session_not_found');
  expectAuthError(await A.refresh(s1b.refresh_token), 400, ['refresh_token_not_found', 'session_not_found']);
  assert.equal(A.sql(`select count(*) from auth.sessions where user_id = ${lit(u.id)}`), '0');

  const s6 = await sign();
  const d = await A.auth('POST', '/logout', { token: s6.access_token });
  assert.equal(d.status, 204, fmt(d));
  expectAuthError(await A.getUser(s6.access_token), 403, 'session_not_found');
  const anon = await A.auth('POST', '/logout');
  assert.ok(anon.status === 401 || anon.status === 403, `logout with the anon key: ${fmt(anon)}`);
  expectSession(await A.signIn(u.email, u.password));
});

// ---------------------------------------------------------------------------------------------
// /user

it('GET /user: the user with a user JWT; 403 with the anon or service_role key', async () => {
  const u = await A.signedIn({ user_metadata: { a: 1 } });
  const r = expectStatus(await A.getUser(u.session.access_token), 200);
  expectUser(r.json, { email: u.email, id: u.id, confirmed: true });
  assert.equal(r.json.user_metadata.a, 1);
  assert.ok(r.json.identities.some((i) => i.provider === 'email'), fmt(r));
  expectAuthError(await A.getUser(A.keys.anon), 403, ['bad_jwt', 'no_authorization']);
  expectAuthError(await A.getUser(A.keys.service_role), 403, ['bad_jwt', 'no_authorization']);
});

it('PUT /user data merges user_metadata (null removes a key); the next token carries it', async () => {
  const email = newEmail('meta');
  const s = expectSession(await A.signUp(email, newPassword(), { data: { a: 1, b: 1, keep: 'y' } }));
  const r = expectStatus(await A.auth('PUT', '/user', { token: s.access_token, body: { data: { b: 2, c: 3, a: null } } }), 200);
  expectUser(r.json, { email });
  assert.equal(r.json.user_metadata.b, 2, fmt(r));
  assert.equal(r.json.user_metadata.c, 3, fmt(r));
  assert.equal(r.json.user_metadata.keep, 'y', fmt(r));
  assert.ok(!('a' in r.json.user_metadata), `null removes a key: ${fmt(r)}`);
  const g = expectStatus(await A.getUser(s.access_token), 200);
  assert.deepEqual(g.json.user_metadata, r.json.user_metadata);
  const s2 = expectSession(await A.refresh(s.refresh_token));
  assert.equal(s2.claims.user_metadata.b, 2);
  assert.equal(s2.claims.user_metadata.c, 3);
  expectAuthError(await A.auth('PUT', '/user', { token: s.access_token, body: '{"data":', headers: { 'content-type': 'application/json' } }), 400, 'bad_json');
});

it('PUT /user password: the new one signs in, the old one no longer; same or weak password refused', async () => {
  const u = await A.signedIn();
  const next = newPassword('new');
  expectAuthError(await A.auth('PUT', '/user', { token: u.session.access_token, body: { password: 'abc' } }), 422, 'weak_password');
  expectAuthError(await A.auth('PUT', '/user', { token: u.session.access_token, body: { password: u.password } }), 422, 'same_password');
  const r = expectStatus(await A.auth('PUT', '/user', { token: u.session.access_token, body: { password: next } }), 200);
  expectUser(r.json, { id: u.id });
  expectSession(await A.signIn(u.email, next), { userId: u.id });
  expectAuthError(await A.signIn(u.email, u.password), 400, 'invalid_credentials');
});

it('PUT /user email: new_email pending and an email_change mail; following the link(s) changes the address', async () => {
  const u = await B.signedIn();
  const newAddr = newEmail('moved');
  const since = env.sink.mark();
  const r = expectStatus(await B.auth('PUT', '/user', { token: u.session.access_token, body: { email: newAddr } }), 200);
  assert.equal(r.json.email, u.email, `the address changes only once confirmed: ${fmt(r)}`);
  assert.equal(r.json.new_email, newAddr, fmt(r));
  assert.ok(r.json.email_change_sent_at, fmt(r));
  const mNew = await env.sink.waitFor(newAddr, 5000, { since });
  const linkNew = extractLinks(mNew.text).find((l) => l.includes('/verify'));
  expectVerifyLink(B, linkNew, 'email_change');
  // secure email change: the current address may get its own link; follow both
  await new Promise((res) => setTimeout(res, 300));
  const mOld = env.sink.messages.slice(since).find((m) => m.to.includes(u.email));
  const links = [linkNew];
  if (mOld) links.push(extractLinks(mOld.text).find((l) => l.includes('/verify')));
  let last;
  for (const l of links) {
    last = await B.follow(l);
    assert.equal(last.status, 303, fmt(last.res));
    assert.ok(!last.fragment.get('error'), `email change link refused: ${last.location}`);
  }
  expectFragmentSession(last.fragment, { type: 'email_change' });
  assert.equal(B.sql(`select email from auth.users where id = ${lit(u.id)}`), newAddr);
  expectSession(await B.signIn(newAddr, u.password), { userId: u.id });
  expectAuthError(await B.signIn(u.email, u.password), 400, 'invalid_credentials');
});
