// supabase.auth.* (GoTrue wire protocol, /auth/v1) through the official supabase-js client: sign-up
// with and without autoconfirm (email link), password sign-in and its errors, weak passwords,
// sessions (getSession/getUser), RLS with the session's access token, refresh-token rotation and
// reuse detection, updateUser (metadata, password), sign-out (local, others), password recovery
// by email link + setSession, email OTP, the admin API with the service_role key (create, list
// with pagination, get, update, delete, generateLink), and bad tokens. Mail goes to a fake SMTP
// server (tests/integration/fakes/smtp-sink.mjs).
import { after } from 'node:test';
import { randomUUID } from 'node:crypto';
import { isAuthApiError, isAuthWeakPasswordError, isAuthSessionMissingError } from '@supabase/supabase-js';
import { defineSuite, assert, ok } from './lib.mjs';
import { startSmtpSink, extractLink, extractOtp } from '../integration/fakes/smtp-sink.mjs';
import { randomHex, tamperPayload, tamperSignature, decodeJwt } from '../integration/harness.mjs';

const SITE_URL = 'http://localhost:3000';
let sink;

// 'main' has autoconfirm on; 'confirm' requires the emailed confirmation link.
const ctx = defineSuite('auth', {
  projects: ['main', 'confirm'],
  env: async () => {
    sink = await startSmtpSink();
    return {
      ALPACA_AUTH_BCRYPT_COST: '4',
      ALPACA_AUTH_RATE_LIMIT_PER_IP: '100000',
      ALPACA_AUTH_RATE_LIMIT_PER_EMAIL: '100000',
      ALPACA_AUTH_RATE_LIMIT_REFRESH_PER_IP: '100000',
      ALPACA_AUTH_REFRESH_TOKEN_REUSE_INTERVAL: '0',
      ALPACA_AUTH_SMTP_HOST: '127.0.0.1',
      ALPACA_AUTH_SMTP_PORT: String(sink.port),
      ALPACA_AUTH_SMTP_TLS: 'none',
      ALPACA_AUTH_SMTP_SENDER: 'noreply@alpaca.test',
    };
  },
});
after(async () => {
  await sink?.close();
});
const t = ctx.test;

// ---------------------------------------------------------------------------------------------
// helpers

const show = (v) => JSON.stringify(v)?.slice(0, 800);
const newEmail = (tag = 'user') => `${tag}-${randomHex(5)}@example.com`;
const newPassword = (tag = 'pw') => `${tag}-${randomHex(6)}-Zq9!`;

/** Assert a supabase-js auth result failed with an AuthApiError of this code (and status). */
function authFails(res, code, status, what = 'request') {
  const e = res.error;
  assert.ok(e, `${what}: expected error ${code}, got data ${show(res.data)}`);
  assert.ok(isAuthApiError(e), `${what}: expected an AuthApiError, got ${e.name}: ${show(e)} ${e.message}`);
  assert.equal(e.code, code, `${what}: error.code ${e.code} (status ${e.status}, message ${show(e.message)})`);
  if (status !== undefined) assert.equal(e.status, status, `${what}: status of ${show(e)} ${e.message}`);
  return e;
}

/** Assert getUser(token) found no session: the server's 403 session_not_found, which auth-js turns
 * into AuthSessionMissingError. */
function sessionGone(res, what) {
  assert.equal(res.data.user, null, `${what}: ${show(res.data)}`);
  assert.ok(isAuthSessionMissingError(res.error), `${what}: ${res.error?.name} ${show(res.error)}`);
}

/** Assert an access token is a GoTrue user JWT of this user. */
function assertAccessToken(token, user, what = 'access token') {
  assert.equal(typeof token, 'string', `${what}: ${show(token)}`);
  const claims = decodeJwt(token).payload;
  assert.equal(claims.sub, user.id, `${what}: sub ${show(claims)}`);
  assert.equal(claims.role, 'authenticated', `${what}: role ${show(claims)}`);
  assert.equal(claims.aud, 'authenticated', `${what}: aud ${show(claims)}`);
  assert.equal(claims.email, user.email, `${what}: email ${show(claims)}`);
  assert.ok(claims.session_id, `${what}: session_id ${show(claims)}`);
  assert.ok(claims.exp > Date.now() / 1000, `${what}: exp ${show(claims)}`);
  return claims;
}

function assertSession(session, email, what = 'session') {
  assert.ok(session && typeof session === 'object', `${what}: no session: ${show(session)}`);
  assert.equal(session.token_type, 'bearer', `${what}: token_type`);
  assert.ok(session.refresh_token && typeof session.refresh_token === 'string', `${what}: refresh_token`);
  assert.ok(session.expires_in > 0, `${what}: expires_in ${session.expires_in}`);
  assert.ok(session.expires_at > Date.now() / 1000, `${what}: expires_at ${session.expires_at}`);
  assert.equal(session.user?.email, email, `${what}: user.email ${show(session.user)}`);
  assertAccessToken(session.access_token, session.user, `${what}: access_token`);
}

/** A fresh anon client (its own in-memory session) of a project. */
const client = (p) => ctx.anon(p);

/** A client using an existing session's access token for every request (no auth state). */
const bearer = (accessToken, p) => ctx.withJwt(accessToken, p);

/** The next email to `to` arriving after `since` (sink.mark()). */
const mailTo = (to, since) => sink.waitFor(to, 8000, { since });

/**
 * Follow an emailed/generated link without following its redirect: → { status, location, fragment
 * (URLSearchParams of the Location's fragment), query }. Logged with the test's exchanges.
 */
async function follow(link) {
  const entry = { method: 'GET', url: link, headers: {} };
  ctx.log.push(entry);
  const res = await fetch(link, { redirect: 'manual' });
  entry.status = res.status;
  entry.resHeaders = Object.fromEntries(res.headers);
  entry.response = `Location: ${res.headers.get('location')} ${await res.text()}`;
  const location = res.headers.get('location') || '';
  const hash = location.includes('#') ? location.slice(location.indexOf('#') + 1) : '';
  let query = new URLSearchParams();
  try {
    query = new URL(location).searchParams;
  } catch {}
  return { status: res.status, location, fragment: new URLSearchParams(hash), query };
}

/** Management API with the admin PAT (logged with the test's exchanges). */
async function mgmt(method, path, body) {
  const res = await ctx.server.api(method, path, { body });
  ctx.log.push({
    method,
    url: `${ctx.server.url}${path}`,
    headers: { authorization: 'Bearer <admin PAT>', apikey: '-' },
    body: body === undefined ? undefined : JSON.stringify(body),
    status: res.status,
    response: res.text,
  });
  return res;
}

/** Sign up (autoconfirm project) → { client, session, user, email, password }. */
async function signedUp(tag, { p = 'main', data } = {}) {
  const email = newEmail(tag);
  const password = newPassword(tag);
  const c = client(p);
  const res = await c.auth.signUp({ email, password, options: data ? { data } : undefined });
  const d = ok(res, `signUp ${email}`);
  assertSession(d.session, email, `signUp ${email}`);
  return { client: c, session: d.session, user: d.user, email, password };
}

// ---------------------------------------------------------------------------------------------
// setup

t('setup: auth settings (autoconfirm on/off, site URL, redirect allow-list) and notes with RLS', async () => {
  for (const [name, autoconfirm] of [
    ['main', true],
    ['confirm', false],
  ]) {
    const res = await mgmt('PATCH', `/projects/${ctx.p[name].id}/auth/providers`, {
      autoconfirm,
      site_url: SITE_URL,
      redirect_urls: [`${SITE_URL}/**`],
    });
    assert.equal(res.status, 200, `PATCH auth/providers: ${res.status} ${res.text}`);
    assert.equal(res.json.autoconfirm, autoconfirm);
    assert.equal(res.json.site_url, SITE_URL);
    assert.deepEqual(res.json.redirect_urls, [`${SITE_URL}/**`]);
  }
  // the auth schema exists once the project has seen an auth request
  const s = await fetch(`${ctx.project.url}/auth/v1/settings`, { headers: { apikey: ctx.project.anonKey } });
  const text = await s.text();
  assert.equal(s.status, 200, `GET /auth/v1/settings: ${s.status} ${text}`);
  const settings = JSON.parse(text);
  assert.equal(settings.mailer_autoconfirm, true, `settings: ${show(settings)}`);
  assert.equal(settings.external?.email, true, `settings: ${show(settings)}`);
  await ctx.sql(`
    create table notes (
      id serial primary key,
      user_id uuid default auth.uid() references auth.users(id),
      body text
    );
    alter table notes enable row level security;
    create policy notes_own on notes using (user_id = auth.uid()) with check (user_id = auth.uid());
  `);
});

// ---------------------------------------------------------------------------------------------
// sign-up, sessions, RLS

t('signUp with autoconfirm: session + user; getSession, getUser; RLS on notes with the session token', async () => {
  const email = newEmail('alice');
  const password = newPassword('alice');
  const alice = client();
  const d = ok(await alice.auth.signUp({ email, password, options: { data: { name: 'Alice' } } }), 'signUp');
  assertSession(d.session, email, 'signUp session');
  assert.equal(d.user.email, email);
  assert.equal(d.user.id, d.session.user.id);
  assert.equal(d.user.aud, 'authenticated');
  assert.equal(d.user.role, 'authenticated');
  assert.ok(d.user.email_confirmed_at, `autoconfirmed user has email_confirmed_at: ${show(d.user)}`);
  assert.equal(d.user.user_metadata?.name, 'Alice', `user_metadata: ${show(d.user.user_metadata)}`);
  assert.equal(d.user.app_metadata?.provider, 'email', `app_metadata: ${show(d.user.app_metadata)}`);
  assert.deepEqual(d.user.app_metadata?.providers, ['email'], `app_metadata: ${show(d.user.app_metadata)}`);

  const gs = ok(await alice.auth.getSession(), 'getSession');
  assert.equal(gs.session?.access_token, d.session.access_token, 'getSession returns the sign-up session');

  const gu = ok(await alice.auth.getUser(), 'getUser');
  assert.equal(gu.user.id, d.user.id);
  assert.equal(gu.user.email, email);

  // the client now sends the user's access token to /rest/v1
  const inserted = ok(await alice.from('notes').insert([{ body: 'a1' }, { body: 'a2' }]).select('user_id,body'), 'insert');
  assert.deepEqual(
    inserted,
    [
      { user_id: d.user.id, body: 'a1' },
      { user_id: d.user.id, body: 'a2' },
    ],
    'user_id defaults to auth.uid()',
  );
  const mine = ok(await alice.from('notes').select('user_id,body').order('id'), 'select as alice');
  assert.deepEqual(
    mine,
    [
      { user_id: d.user.id, body: 'a1' },
      { user_id: d.user.id, body: 'a2' },
    ],
  );

  const bob = await signedUp('bob');
  assert.notEqual(bob.user.id, d.user.id);
  assert.deepEqual(ok(await bob.client.from('notes').select('*'), 'select as bob'), [], 'bob sees none of alice');
  ok(await bob.client.from('notes').insert({ body: 'b1' }), 'insert as bob');
  assert.deepEqual(ok(await bob.client.from('notes').select('body'), 'select as bob'), [{ body: 'b1' }]);
  // inserting a row for someone else violates WITH CHECK
  const forged = await bob.client.from('notes').insert({ body: 'forged', user_id: d.user.id });
  assert.ok(forged.error, `insert for alice as bob must fail: ${show(forged)}`);
  assert.equal(forged.error.code, '42501', show(forged.error));

  assert.deepEqual(ok(await client().from('notes').select('*'), 'select as anon'), [], 'anon sees nothing');
  // alice still sees exactly her two rows (and bob's insert did not leak)
  assert.deepEqual(ok(await bearer(d.session.access_token).from('notes').select('body').order('id')), [
    { body: 'a1' },
    { body: 'a2' },
  ]);
  const all = await ctx.sql(`select body from notes order by id`);
  assert.deepEqual(all.map((r) => r.body), ['a1', 'a2', 'b1']);
});

t('signUp with autoconfirm off: user, no session; email_not_confirmed; the emailed link confirms (303 #access_token)', async () => {
  const email = newEmail('carol');
  const password = newPassword('carol');
  const c = client('confirm');
  const since = sink.mark();
  const d = ok(await c.auth.signUp({ email, password }), 'signUp');
  assert.equal(d.session, null, `no session before confirmation: ${show(d.session)}`);
  assert.equal(d.user?.email, email, `user: ${show(d.user)}`);
  assert.ok(!d.user.email_confirmed_at, `not confirmed yet: ${show(d.user)}`);
  assert.ok(d.user.confirmation_sent_at, `confirmation_sent_at: ${show(d.user)}`);
  assert.equal((await c.auth.getSession()).data.session, null, 'client has no session');

  authFails(await c.auth.signInWithPassword({ email, password }), 'email_not_confirmed', 400, 'sign-in before confirming');

  const mail = await mailTo(email, since);
  const link = extractLink(mail.text);
  assert.ok(link, `a link in the confirmation mail: ${mail.text}`);
  assert.ok(link.startsWith(`${ctx.p.confirm.url}/auth/v1/verify?`), `link: ${link}`);
  assert.equal(new URL(link).searchParams.get('type'), 'signup', `link: ${link}`);
  const r = await follow(link);
  assert.equal(r.status, 303, `following ${link}`);
  assert.ok(r.location.startsWith(SITE_URL), `Location to the site URL: ${r.location}`);
  const at = r.fragment.get('access_token');
  assert.ok(at, `Location has #access_token: ${r.location}`);
  assert.ok(r.fragment.get('refresh_token'), `Location has refresh_token: ${r.location}`);
  assert.equal(r.fragment.get('token_type'), 'bearer', r.location);
  assert.equal(r.fragment.get('type'), 'signup', r.location);
  const u = ok(await c.auth.getUser(at), 'getUser with the link token').user;
  assert.equal(u.email, email);
  assert.ok(u.email_confirmed_at, `confirmed: ${show(u)}`);

  // the link is single-use
  const again = await follow(link);
  assert.ok(
    again.status >= 400 || (!again.fragment.get('access_token') && /error/.test(again.location)),
    `a used link must not sign in again: ${again.status} ${again.location}`,
  );
  assert.equal(again.fragment.get('access_token'), null, `reused link: ${again.location}`);

  const s = ok(await c.auth.signInWithPassword({ email, password }), 'sign-in after confirming');
  assertSession(s.session, email, 'sign-in session');
  assert.equal(s.user.id, d.user.id);
});

t('signInWithPassword: wrong password → 400 invalid_credentials; unknown email too; weak password → AuthWeakPasswordError', async () => {
  const { email, password } = await signedUp('dave');
  const c = client();
  const e = authFails(
    await c.auth.signInWithPassword({ email, password: `${password}x` }),
    'invalid_credentials',
    400,
    'wrong password',
  );
  assert.equal(e.name, 'AuthApiError');
  assert.equal((await c.auth.getSession()).data.session, null, 'no session after a failed sign-in');
  authFails(
    await c.auth.signInWithPassword({ email: newEmail('nobody'), password }),
    'invalid_credentials',
    400,
    'unknown email',
  );

  const weak = await c.auth.signUp({ email: newEmail('weak'), password: 'abc' });
  assert.ok(weak.error, `weak password must fail: ${show(weak.data)}`);
  assert.ok(
    isAuthWeakPasswordError(weak.error),
    `expected AuthWeakPasswordError, got ${weak.error.name} ${show(weak.error)} ${weak.error.message}`,
  );
  assert.equal(weak.error.status, 422);
  assert.equal(weak.error.code, 'weak_password');
  assert.ok(Array.isArray(weak.error.reasons), `reasons: ${show(weak.error)}`);
  assert.ok(weak.error.reasons.includes('length'), `reasons: ${show(weak.error.reasons)}`);
  assert.equal(weak.data.user, null);
  assert.equal(weak.data.session, null);
});

// ---------------------------------------------------------------------------------------------
// refresh, update, sign-out

t('refreshSession rotates the tokens; reusing the old refresh token fails and revokes the session', async () => {
  const u = await signedUp('erin');
  const old = u.session;
  // iat has a one-second resolution: make sure the new access token differs
  await new Promise((r) => setTimeout(r, 1100));
  const d = ok(await u.client.auth.refreshSession(), 'refreshSession');
  assertSession(d.session, u.email, 'refreshed session');
  assert.notEqual(d.session.refresh_token, old.refresh_token, 'new refresh token');
  assert.notEqual(d.session.access_token, old.access_token, 'new access token');
  assert.equal(
    decodeJwt(d.session.access_token).payload.session_id,
    decodeJwt(old.access_token).payload.session_id,
    'same session',
  );
  assert.equal(
    (await u.client.auth.getSession()).data.session?.refresh_token,
    d.session.refresh_token,
    'the client keeps the new session',
  );
  ok(await u.client.auth.getUser(), 'getUser with the refreshed token');

  // reuse of the rotated token (reuse interval 0 on this server)
  const other = client();
  const reuse = await other.auth.refreshSession({ refresh_token: old.refresh_token });
  authFails(reuse, 'refresh_token_already_used', 400, 'reusing the rotated refresh token');
  assert.equal(reuse.data.session, null);
  // reuse detection revokes the whole session: the newest refresh token is dead too
  const after = await client().auth.refreshSession({ refresh_token: d.session.refresh_token });
  assert.ok(after.error, `the session must be revoked after a reuse: ${show(after.data)}`);
  assert.equal(after.error.status, 400, show(after.error));

  const bogus = await client().auth.refreshSession({ refresh_token: 'not-a-refresh-token' });
  authFails(bogus, 'refresh_token_not_found', 400, 'unknown refresh token');
});

t('updateUser({data}) merges user_metadata; updateUser({password}) then sign in with the new password', async () => {
  const u = await signedUp('frank', { data: { a: 1, keep: 'yes' } });
  assert.equal(u.user.user_metadata.a, 1);
  const d = ok(await u.client.auth.updateUser({ data: { a: 2, b: 'two' } }), 'updateUser data');
  assert.equal(d.user.id, u.user.id);
  assert.equal(d.user.user_metadata.a, 2, show(d.user.user_metadata));
  assert.equal(d.user.user_metadata.b, 'two', show(d.user.user_metadata));
  assert.equal(d.user.user_metadata.keep, 'yes', `existing keys are kept: ${show(d.user.user_metadata)}`);
  const g = ok(await u.client.auth.getUser(), 'getUser').user;
  assert.deepEqual(
    { a: g.user_metadata.a, b: g.user_metadata.b, keep: g.user_metadata.keep },
    { a: 2, b: 'two', keep: 'yes' },
    'stored',
  );
  // the next access token carries the new metadata
  const r = ok(await u.client.auth.refreshSession(), 'refresh');
  assert.equal(decodeJwt(r.session.access_token).payload.user_metadata?.b, 'two', 'user_metadata claim');

  const newPw = newPassword('frank2');
  ok(await u.client.auth.updateUser({ password: newPw }), 'updateUser password');
  const c = client();
  authFails(await c.auth.signInWithPassword({ email: u.email, password: u.password }), 'invalid_credentials', 400, 'old password');
  const s = ok(await c.auth.signInWithPassword({ email: u.email, password: newPw }), 'new password');
  assertSession(s.session, u.email, 'sign-in with the new password');

  // a weak new password is refused
  const weak = await u.client.auth.updateUser({ password: 'ab' });
  assert.ok(isAuthWeakPasswordError(weak.error), `weak new password: ${weak.error?.name} ${show(weak.error)}`);
});

t('signOut() ends the session (getUser with its token → session_not_found); signOut({scope: "others"}) keeps the current one', async () => {
  const u = await signedUp('gina');
  const token = u.session.access_token;
  const refresh = u.session.refresh_token;
  ok(await u.client.auth.getUser(), 'getUser before signOut');
  const so = await u.client.auth.signOut();
  assert.equal(so.error, null, `signOut: ${show(so.error)}`);
  assert.equal((await u.client.auth.getSession()).data.session, null, 'local session removed');
  const probe = client();
  // The server answers 403 session_not_found; auth-js turns that code into AuthSessionMissingError
  // (as against GoTrue), so what the app sees is "no session".
  const gone = await probe.auth.getUser(token);
  assert.equal(gone.data.user, null, `getUser with the signed-out token: ${show(gone.data)}`);
  assert.ok(isAuthSessionMissingError(gone.error), `getUser with the signed-out token: ${gone.error?.name} ${show(gone.error)}`);
  const raw = await fetch(`${probe.auth.url}/user`, { headers: { apikey: probe.auth.headers.apikey, authorization: `Bearer ${token}`, 'x-supabase-api-version': '2024-01-01' } });
  assert.equal(raw.status, 403);
  assert.equal(raw.headers.get('x-sb-error-code'), 'session_not_found');
  assert.equal((await raw.json()).code, 'session_not_found');
  const rr = await probe.auth.refreshSession({ refresh_token: refresh });
  assert.ok(rr.error, `refresh of a signed-out session must fail: ${show(rr.data)}`);
  assert.equal(rr.error.status, 400);

  // two more sessions of the same user; "others" from the second ends only the first
  const first = client();
  const s1 = ok(await first.auth.signInWithPassword({ email: u.email, password: u.password }), 'sign-in 1').session;
  const second = client();
  const s2 = ok(await second.auth.signInWithPassword({ email: u.email, password: u.password }), 'sign-in 2').session;
  assert.notEqual(decodeJwt(s1.access_token).payload.session_id, decodeJwt(s2.access_token).payload.session_id);
  const so2 = await second.auth.signOut({ scope: 'others' });
  assert.equal(so2.error, null, `signOut others: ${show(so2.error)}`);
  assert.equal((await second.auth.getSession()).data.session?.access_token, s2.access_token, 'current session kept locally');
  ok(await second.auth.getUser(), 'the current session still works');
  sessionGone(await probe.auth.getUser(s1.access_token), 'the other session is gone');
  ok(await second.auth.refreshSession(), 'the current session still refreshes');

  // global: every session ends
  const third = client();
  const s3 = ok(await third.auth.signInWithPassword({ email: u.email, password: u.password }), 'sign-in 3').session;
  const cur = (await second.auth.getSession()).data.session;
  assert.equal((await second.auth.signOut({ scope: 'global' })).error, null);
  sessionGone(await probe.auth.getUser(s3.access_token), 'global sign-out ends session 3');
  sessionGone(await probe.auth.getUser(cur.access_token), 'global sign-out ends the current session');
});

// ---------------------------------------------------------------------------------------------
// recovery, OTP

t('resetPasswordForEmail → emailed link (303, #access_token, type=recovery) → setSession → updateUser({password})', async () => {
  const u = await signedUp('hank');
  const c = client();
  const since = sink.mark();
  const rr = await c.auth.resetPasswordForEmail(u.email, { redirectTo: `${SITE_URL}/reset` });
  assert.equal(rr.error, null, `resetPasswordForEmail: ${show(rr.error)}`);
  const mail = await mailTo(u.email, since);
  const link = extractLink(mail.text);
  assert.ok(link, `a link in the recovery mail: ${mail.text}`);
  assert.equal(new URL(link).searchParams.get('type'), 'recovery', link);
  const r = await follow(link);
  assert.equal(r.status, 303, `following ${link}`);
  assert.ok(r.location.startsWith(`${SITE_URL}/reset#`), `redirected to redirectTo: ${r.location}`);
  assert.equal(r.fragment.get('type'), 'recovery', r.location);
  const access_token = r.fragment.get('access_token');
  const refresh_token = r.fragment.get('refresh_token');
  assert.ok(access_token && refresh_token, `tokens in the fragment: ${r.location}`);
  assert.ok(Number(r.fragment.get('expires_in')) > 0, r.location);

  const ss = ok(await c.auth.setSession({ access_token, refresh_token }), 'setSession');
  assert.equal(ss.user?.id, u.user.id, `setSession user: ${show(ss.user)}`);
  assert.equal(ss.session?.access_token, access_token);
  const newPw = newPassword('hank-new');
  ok(await c.auth.updateUser({ password: newPw }), 'updateUser password');

  const c2 = client();
  authFails(await c2.auth.signInWithPassword({ email: u.email, password: u.password }), 'invalid_credentials', 400, 'old password');
  assertSession(
    ok(await c2.auth.signInWithPassword({ email: u.email, password: newPw }), 'new password').session,
    u.email,
    'sign-in with the recovered password',
  );

  // a redirect outside the allow-list falls back to the site URL
  const since2 = sink.mark();
  assert.equal((await c.auth.resetPasswordForEmail(u.email, { redirectTo: 'https://evil.example/steal' })).error, null);
  const r2 = await follow(extractLink((await mailTo(u.email, since2)).text));
  assert.equal(r2.status, 303);
  assert.ok(!r2.location.startsWith('https://evil.example'), `not redirected to a foreign site: ${r2.location}`);
  assert.ok(r2.location.startsWith(SITE_URL), `site URL instead: ${r2.location}`);

  // unknown address: same answer, no mail
  const since3 = sink.mark();
  const ghost = newEmail('ghost');
  assert.equal((await c.auth.resetPasswordForEmail(ghost)).error, null, 'no account enumeration');
  assert.ok(await sink.expectNone(ghost, 500, { since: since3 }), 'no mail to an unknown address');
});

t('signInWithOtp({email}) → 6-digit code by mail → verifyOtp({type: "email"}) → session', async () => {
  const u = await signedUp('ivy');
  const c = client();
  const since = sink.mark();
  const r = await c.auth.signInWithOtp({ email: u.email });
  assert.equal(r.error, null, `signInWithOtp: ${show(r.error)}`);
  const mail = await mailTo(u.email, since);
  const code = extractOtp(mail.text);
  assert.ok(code, `a 6-digit code in the mail: ${mail.text}`);

  const wrong = String((Number(code) + 1) % 1000000).padStart(6, '0');
  const bad = await c.auth.verifyOtp({ email: u.email, token: wrong, type: 'email' });
  authFails(bad, 'otp_expired', 403, 'wrong code');

  const v = ok(await c.auth.verifyOtp({ email: u.email, token: code, type: 'email' }), 'verifyOtp');
  assertSession(v.session, u.email, 'OTP session');
  assert.equal(v.user.id, u.user.id);
  assert.equal((await c.auth.getSession()).data.session?.access_token, v.session.access_token, 'client signed in');
  ok(await c.auth.getUser(), 'getUser after OTP');
  // a code is single-use
  authFails(await client().auth.verifyOtp({ email: u.email, token: code, type: 'email' }), 'otp_expired', 403, 'reused code');

  // a new address: signInWithOtp creates the user (shouldCreateUser defaults to true)
  const fresh = newEmail('otpnew');
  const since2 = sink.mark();
  assert.equal((await c.auth.signInWithOtp({ email: fresh, options: { data: { via: 'otp' } } })).error, null);
  const code2 = extractOtp((await mailTo(fresh, since2)).text);
  const v2 = ok(await client().auth.verifyOtp({ email: fresh, token: code2, type: 'email' }), 'verifyOtp new user');
  assertSession(v2.session, fresh, 'new user OTP session');
  assert.ok(v2.user.email_confirmed_at, 'verifying the code confirms the address');
  // shouldCreateUser: false for an unknown address → error
  const nc = await client().auth.signInWithOtp({ email: newEmail('nocreate'), options: { shouldCreateUser: false } });
  assert.ok(nc.error, `shouldCreateUser false must fail for an unknown address: ${show(nc.data)}`);
});

// ---------------------------------------------------------------------------------------------
// admin API

t('auth.admin with service_role: createUser, listUsers (paged), getUserById, updateUserById, deleteUser', async () => {
  const admin = ctx.client(ctx.project.serviceKey, undefined, {
    auth: { autoRefreshToken: false, persistSession: false, detectSessionInUrl: false },
  });
  const email = newEmail('adm');
  const password = newPassword('adm');
  const created = ok(
    await admin.auth.admin.createUser({ email, password, email_confirm: true, user_metadata: { plan: 'pro' } }),
    'createUser',
  ).user;
  assert.equal(created.email, email);
  assert.ok(created.email_confirmed_at, `email_confirm: true confirms: ${show(created)}`);
  assert.equal(created.user_metadata?.plan, 'pro', show(created.user_metadata));
  // the created user can sign in right away
  assertSession(ok(await client().auth.signInWithPassword({ email, password }), 'sign-in').session, email, 'created user');
  // duplicate
  authFails(await admin.auth.admin.createUser({ email, password, email_confirm: true }), 'email_exists', 422, 'duplicate createUser');

  const [{ n }] = await ctx.sql(`select count(*)::int as n from auth.users`);
  assert.ok(n >= 3, `users so far: ${n}`);
  const p1 = ok(await admin.auth.admin.listUsers({ page: 1, perPage: 2 }), 'listUsers page 1');
  assert.equal(p1.users.length, 2, `page 1 has 2 users: ${show(p1.users.map((u) => u.email))}`);
  assert.equal(p1.total, n, `total (X-Total-Count): ${show({ ...p1, users: undefined })}`);
  assert.equal(p1.nextPage, 2, `nextPage (Link): ${show({ ...p1, users: undefined })}`);
  assert.equal(p1.lastPage, Math.ceil(n / 2), `lastPage (Link): ${show({ ...p1, users: undefined })}`);
  const p2 = ok(await admin.auth.admin.listUsers({ page: 2, perPage: 2 }), 'listUsers page 2');
  assert.ok(p2.users.length >= 1 && p2.users.length <= 2, `page 2: ${p2.users.length}`);
  const ids1 = p1.users.map((u) => u.id);
  assert.ok(!p2.users.some((u) => ids1.includes(u.id)), 'pages do not overlap');
  const everyone = ok(await admin.auth.admin.listUsers({ page: 1, perPage: 1000 }), 'listUsers all').users;
  assert.equal(everyone.length, n);
  assert.ok(everyone.some((u) => u.id === created.id), 'the new user is listed');

  const got = ok(await admin.auth.admin.getUserById(created.id), 'getUserById').user;
  assert.equal(got.id, created.id);
  assert.equal(got.email, email);

  const upd = ok(
    await admin.auth.admin.updateUserById(created.id, {
      user_metadata: { plan: 'team', seats: 3 },
      app_metadata: { role: 'admin' },
    }),
    'updateUserById',
  ).user;
  assert.equal(upd.user_metadata.plan, 'team', show(upd.user_metadata));
  assert.equal(upd.user_metadata.seats, 3, show(upd.user_metadata));
  assert.equal(upd.app_metadata.role, 'admin', show(upd.app_metadata));
  assert.equal(upd.app_metadata.provider, 'email', `provider kept: ${show(upd.app_metadata)}`);
  const [row] = await ctx.sql(
    `select raw_user_meta_data->>'plan' as plan, raw_app_meta_data->>'role' as role from auth.users where id = '${created.id}'`,
  );
  assert.deepEqual(row, { plan: 'team', role: 'admin' });
  // a new password set by the admin works
  const pw2 = newPassword('adm2');
  ok(await admin.auth.admin.updateUserById(created.id, { password: pw2 }), 'updateUserById password');
  ok(await client().auth.signInWithPassword({ email, password: pw2 }), 'sign-in with the admin-set password');

  const del = await admin.auth.admin.deleteUser(created.id);
  assert.equal(del.error, null, `deleteUser: ${show(del.error)}`);
  authFails(await admin.auth.admin.getUserById(created.id), 'user_not_found', 404, 'getUserById after delete');
  authFails(await client().auth.signInWithPassword({ email, password: pw2 }), 'invalid_credentials', 400, 'deleted user signs in');
  assert.deepEqual(await ctx.sql(`select id from auth.users where id = '${created.id}'`), []);
  authFails(await admin.auth.admin.getUserById(randomUUID()), 'user_not_found', 404, 'unknown id');
});

t('auth.admin.generateLink({type: "magiclink"}) → action_link signs in when followed', async () => {
  const admin = ctx.client(ctx.project.serviceKey, undefined, {
    auth: { autoRefreshToken: false, persistSession: false, detectSessionInUrl: false },
  });
  const u = await signedUp('judy');
  const since = sink.mark();
  const d = ok(
    await admin.auth.admin.generateLink({ type: 'magiclink', email: u.email, options: { redirectTo: `${SITE_URL}/welcome` } }),
    'generateLink',
  );
  assert.equal(d.user?.id, u.user.id, `generateLink user: ${show(d.user)}`);
  const props = d.properties;
  assert.ok(props?.action_link, `properties.action_link: ${show(props)}`);
  assert.equal(props.verification_type, 'magiclink', show(props));
  assert.match(String(props.email_otp), /^\d{6}$/, show(props));
  assert.ok(props.hashed_token, show(props));
  assert.equal(props.redirect_to, `${SITE_URL}/welcome`, show(props));
  assert.ok(props.action_link.startsWith(`${ctx.project.url}/auth/v1/verify?`), props.action_link);
  assert.ok(await sink.expectNone(u.email, 300, { since }), 'generateLink sends no mail');

  const r = await follow(props.action_link);
  assert.equal(r.status, 303, `following ${props.action_link}`);
  assert.ok(r.location.startsWith(`${SITE_URL}/welcome#`), r.location);
  const at = r.fragment.get('access_token');
  assert.ok(at, `#access_token: ${r.location}`);
  assertAccessToken(at, u.user, 'magic link token');
  const who = ok(await client().auth.getUser(at), 'getUser with the magic link token').user;
  assert.equal(who.id, u.user.id);

  // the hashed_token works with verifyOtp({token_hash}) on a second link
  const d2 = ok(await admin.auth.admin.generateLink({ type: 'magiclink', email: u.email }), 'generateLink 2');
  const v = ok(
    await client().auth.verifyOtp({ token_hash: d2.properties.hashed_token, type: 'magiclink' }),
    'verifyOtp token_hash',
  );
  assertSession(v.session, u.email, 'token_hash session');
});

t('the anon key (and a user token) cannot use auth.admin: 403', async () => {
  const anonAdmin = client().auth.admin;
  const res = await anonAdmin.listUsers();
  authFails(res, 'not_admin', 403, 'anon listUsers');
  const u = await signedUp('kim');
  const asUser = bearer(u.session.access_token).auth.admin;
  const r2 = await asUser.createUser({ email: newEmail('x'), password: newPassword() });
  assert.ok(r2.error, `user createUser must fail: ${show(r2.data)}`);
  assert.equal(r2.error.status, 403, `${show(r2.error)} ${r2.error.message}`);
  const r3 = await asUser.deleteUser(u.user.id);
  assert.equal(r3.error?.status, 403, `user deleteUser: ${show(r3)}`);
  assert.equal((await ctx.sql(`select count(*)::int n from auth.users where id = '${u.user.id}'`))[0].n, 1);
});

// ---------------------------------------------------------------------------------------------
// bad tokens

t('getUser with a tampered, re-signed-elsewhere or foreign token → error', async () => {
  const u = await signedUp('leo');
  const c = client();
  ok(await c.auth.getUser(u.session.access_token), 'the genuine token works');

  const cases = {
    'tampered payload (sub changed)': tamperPayload(u.session.access_token, { sub: randomUUID() }),
    'tampered signature': tamperSignature(u.session.access_token),
    garbage: 'not.a.jwt',
    // another project's genuine user token
    'other project': null,
  };
  const other = ok(
    await client('confirm').auth.signUp({ email: newEmail('other'), password: newPassword() }),
    'signUp in the other project',
  );
  assert.equal(other.session, null);
  const otherAdmin = ctx.client(ctx.p.confirm.serviceKey, 'confirm');
  const link = ok(await otherAdmin.auth.admin.generateLink({ type: 'magiclink', email: other.user.email }), 'generateLink').properties.action_link;
  const otherToken = (await follow(link)).fragment.get('access_token');
  assert.ok(otherToken, 'a token of the other project');
  cases['other project'] = otherToken;

  const problems = [];
  for (const [label, token] of Object.entries(cases)) {
    const res = await c.auth.getUser(token);
    if (!res.error) problems.push(`${label}: accepted, user ${res.data.user?.id}`);
    else if (![401, 403].includes(res.error.status))
      problems.push(`${label}: status ${res.error.status} ${res.error.code} ${res.error.message}`);
    else if (res.data.user) problems.push(`${label}: a user with the error`);
  }
  assert.deepEqual(problems, []);
  // GoTrue's code for a bad signature
  authFails(await c.auth.getUser(tamperSignature(u.session.access_token)), 'bad_jwt', 403, 'bad signature');
  // and /rest/v1 refuses it too
  const rest = await bearer(tamperSignature(u.session.access_token)).from('notes').select('*');
  assert.ok(rest.error, `rest with a tampered token: ${show(rest)}`);
  assert.ok([401, 403].includes(rest.status), `rest status ${rest.status}`);
});


