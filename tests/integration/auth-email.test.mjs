// The auth plugin's mailed flows: password recovery (link → session in the fragment → new
// password; the 6-digit code through POST /verify; no enumeration), email OTP and magic links
// (create_user, wrong and reused codes, the link, token_hash), and /resend of a signup
// confirmation. Mail goes to an in-process SMTP sink; links are followed as a browser would
// (no apikey, no redirects followed).
//
// Project `A` has autoconfirm on, `B` off.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { expectStatus, fmt } from './harness.mjs';
import { extractLink, extractOtp } from './fakes/smtp-sink.mjs';
import {
  SITE_URL,
  createProject,
  expectAuthError,
  expectFragmentSession,
  expectSession,
  expectUser,
  expectVerifyLink,
  itFor,
  linkParam,
  lit,
  newEmail,
  newPassword,
  startAuthServer,
} from './auth-helpers.mjs';

let env;
let A;
let B;

before(async () => {
  env = await startAuthServer();
  A = await createProject(env.server, env.sink, 'mail-a', { autoconfirm: true });
  B = await createProject(env.server, env.sink, 'mail-b');
});
after(async () => env?.close());

const it = itFor(() => env?.server, test);

/** The next mail to an address after `since`, with its link and code. */
async function mailTo(address, since, timeoutMs = 5000) {
  const m = await env.sink.waitFor(address, timeoutMs, { since });
  return { mail: m, link: extractLink(m.text), otp: extractOtp(m.text) };
}

// ---------------------------------------------------------------------------------------------
// recovery

it('recover: 200 {} and a mail; the link → 303 to redirect_to with a recovery session; new password set with it', async () => {
  const u = await A.createUser();
  const since = env.sink.mark();
  const r = expectStatus(await A.auth('POST', `/recover?redirect_to=${encodeURIComponent(`${SITE_URL}/reset`)}`, { body: { email: u.email } }), 200);
  assert.deepEqual(r.json, {}, fmt(r));
  const { link } = await mailTo(u.email, since);
  expectVerifyLink(A, link, 'recovery');
  const f = await A.follow(link);
  assert.equal(f.status, 303, fmt(f.res));
  assert.ok(f.location.startsWith(`${SITE_URL}/reset#`), `Location: ${f.location}`);
  const claims = expectFragmentSession(f.fragment, { type: 'recovery' });
  assert.equal(claims.sub, u.id);
  const access = f.fragment.get('access_token');
  const next = newPassword('reset');
  expectStatus(await A.auth('PUT', '/user', { token: access, body: { password: next } }), 200);
  expectSession(await A.signIn(u.email, next), { userId: u.id });
  expectAuthError(await A.signIn(u.email, u.password), 400, 'invalid_credentials');
  // the refresh token of the fragment is a real one
  expectSession(await A.refresh(f.fragment.get('refresh_token')), { userId: u.id });
  const again = await A.follow(link);
  assert.equal(again.status, 303, fmt(again.res));
  assert.equal(again.fragment.get('error_code'), 'otp_expired', again.location);
  assert.ok(!again.fragment.get('access_token'), again.location);
});

it('recover: the 6-digit code from the mail through POST /verify {type: recovery, token, email} → a session, once', async () => {
  const u = await A.createUser();
  const since = env.sink.mark();
  expectStatus(await A.auth('POST', '/recover', { body: { email: u.email } }), 200);
  const { otp } = await mailTo(u.email, since);
  assert.match(String(otp), /^\d{6}$/, 'the recovery mail carries a 6-digit code');
  const s = expectSession(await A.auth('POST', '/verify', { body: { type: 'recovery', token: otp, email: u.email } }), { userId: u.id });
  assert.equal(s.claims.aal, 'aal1');
  expectAuthError(await A.auth('POST', '/verify', { body: { type: 'recovery', token: otp, email: u.email } }), 403, 'otp_expired');
});

it('recover for an unknown address: the same 200 {} and no mail; a malformed address: 400 validation_failed', async () => {
  const ghost = newEmail('ghost');
  const since = env.sink.mark();
  const r = expectStatus(await A.auth('POST', '/recover', { body: { email: ghost } }), 200);
  assert.deepEqual(r.json, {}, fmt(r));
  assert.ok(await env.sink.expectNone(ghost, 700, { since }), 'no mail to an unknown address');
  assert.equal(A.sql(`select count(*) from auth.users where email = ${lit(ghost)}`), '0', 'recover creates no user');
  expectAuthError(await A.auth('POST', '/recover', { body: { email: 'nope' } }), 400, 'validation_failed');
  expectAuthError(await A.auth('POST', '/recover', { body: '{', headers: { 'content-type': 'application/json' } }), 400, 'bad_json');
});

it('recovery of an unconfirmed user confirms the address too', async () => {
  const u = await B.createUser({ confirmed: false });
  assert.equal(B.userRow(u.email).email_confirmed_at, null);
  const since = env.sink.mark();
  expectStatus(await B.auth('POST', '/recover', { body: { email: u.email } }), 200);
  const { link } = await mailTo(u.email, since);
  const f = await B.follow(link);
  assert.equal(f.status, 303, fmt(f.res));
  expectFragmentSession(f.fragment, { type: 'recovery' });
  assert.ok(B.userRow(u.email).email_confirmed_at, 'confirmed by the recovery link');
});

// ---------------------------------------------------------------------------------------------
// OTP and magic links

it('POST /otp {create_user: true} for a new address: 200 {}, a mail with a link and a code; the code signs in once', async () => {
  const email = newEmail('otp');
  const since = env.sink.mark();
  const r = expectStatus(await A.auth('POST', '/otp', { body: { email, create_user: true, data: { from: 'otp' } } }), 200);
  assert.deepEqual(r.json, {}, fmt(r));
  const { link, otp } = await mailTo(email, since);
  assert.ok(link && link.includes('/verify'), `a link in the mail: ${link}`);
  assert.match(String(otp), /^\d{6}$/, 'a 6-digit code in the mail');
  const row = A.userRow(email);
  assert.ok(row, 'the user was created');
  const s = expectSession(await A.auth('POST', '/verify', { body: { type: 'email', token: otp, email } }), { email });
  expectUser(s.user, { email, confirmed: true });
  assert.equal(s.user.user_metadata.from, 'otp', JSON.stringify(s.user));
  assert.equal(s.claims.amr[0].method, 'otp', JSON.stringify(s.claims.amr));
  expectAuthError(await A.auth('POST', '/verify', { body: { type: 'email', token: otp, email } }), 403, 'otp_expired');
});

it('POST /otp {create_user: false} for an unknown address creates nobody', async () => {
  const email = newEmail('nootp');
  const since = env.sink.mark();
  const r = await A.auth('POST', '/otp', { body: { email, create_user: false } });
  assert.ok(r.status === 200 || r.status === 422 || r.status === 400, fmt(r));
  if (r.status !== 200) expectAuthError(r, r.status, ['otp_disabled', 'signup_disabled', 'user_not_found']);
  assert.equal(A.sql(`select count(*) from auth.users where email = ${lit(email)}`), '0');
  assert.ok(await env.sink.expectNone(email, 500, { since }), 'no mail');
});

it('magic link for an existing user: a wrong code → 403 otp_expired; the right code works once; then the link is spent', async () => {
  const u = await A.createUser();
  const since = env.sink.mark();
  const r = expectStatus(await A.auth('POST', '/magiclink', { body: { email: u.email } }), 200);
  assert.deepEqual(r.json, {}, fmt(r));
  const { link, otp } = await mailTo(u.email, since);
  expectVerifyLink(A, link, 'magiclink');
  assert.match(String(otp), /^\d{6}$/);
  const wrong = String((Number(otp) + 1) % 1000000).padStart(6, '0');
  expectAuthError(await A.auth('POST', '/verify', { body: { type: 'magiclink', token: wrong, email: u.email } }), 403, 'otp_expired');
  expectAuthError(await A.auth('POST', '/verify', { body: { type: 'magiclink', token: otp, email: newEmail('other') } }), 403, 'otp_expired');
  expectSession(await A.auth('POST', '/verify', { body: { type: 'magiclink', token: otp, email: u.email } }), { userId: u.id });
  expectAuthError(await A.auth('POST', '/verify', { body: { type: 'magiclink', token: otp, email: u.email } }), 403, 'otp_expired');
  const f = await A.follow(link);
  assert.equal(f.status, 303, fmt(f.res));
  assert.equal(f.fragment.get('error_code'), 'otp_expired', f.location);
});

it('magic link followed in a browser: 303 with a magiclink session; token_hash through POST /verify works too', async () => {
  const u = await A.createUser();
  let since = env.sink.mark();
  expectStatus(await A.auth('POST', '/otp', { body: { email: u.email } }), 200);
  const first = await mailTo(u.email, since);
  const f = await A.follow(first.link);
  assert.equal(f.status, 303, fmt(f.res));
  assert.ok(f.location.startsWith(SITE_URL), f.location);
  const claims = expectFragmentSession(f.fragment, { type: 'magiclink' });
  assert.equal(claims.sub, u.id);

  // a second user, so no per-user resend interval gets in the way
  const v = await A.createUser();
  since = env.sink.mark();
  expectStatus(await A.auth('POST', '/otp', { body: { email: v.email } }), 200);
  const second = await mailTo(v.email, since);
  const tokenHash = linkParam(second.link, 'token');
  expectSession(await A.auth('POST', '/verify', { body: { type: 'magiclink', token_hash: tokenHash } }), { userId: v.id });
  expectAuthError(await A.auth('POST', '/verify', { body: { type: 'magiclink', token_hash: tokenHash } }), 403, 'otp_expired');
});

it('POST /verify input errors: no type, neither token nor token_hash, an unknown type → 400', async () => {
  expectAuthError(await A.auth('POST', '/verify', { body: { token: '123456', email: 'x@example.com' } }), 400, 'validation_failed');
  expectAuthError(await A.auth('POST', '/verify', { body: { type: 'magiclink', email: 'x@example.com' } }), 400, 'validation_failed');
  expectAuthError(await A.auth('POST', '/verify', { body: { type: 'bogus', token_hash: 'abc' } }), [400, 403], ['validation_failed', 'otp_expired']);
  const g = await A.follow(`${A.url}/verify?type=signup`);
  assert.ok(g.status === 400 || g.status === 303, `GET /verify without a token: ${fmt(g.res)}`);
});

// ---------------------------------------------------------------------------------------------
// resend

it('POST /resend {type: signup} mails a new confirmation link to an unconfirmed user; the link confirms', async () => {
  const since0 = env.sink.mark();
  const u = await B.createUser({ confirmed: false });
  assert.ok(await env.sink.expectNone(u.email, 400, { since: since0 }), 'the admin API sends no mail');
  const since = env.sink.mark();
  const r = expectStatus(await B.auth('POST', '/resend', { body: { type: 'signup', email: u.email } }), 200);
  assert.ok(r.json && typeof r.json === 'object' && !Array.isArray(r.json), fmt(r));
  const { link } = await mailTo(u.email, since);
  expectVerifyLink(B, link, 'signup');
  const f = await B.follow(link);
  assert.equal(f.status, 303, fmt(f.res));
  expectFragmentSession(f.fragment, { type: 'signup' });
  assert.ok(B.userRow(u.email).email_confirmed_at);
  expectSession(await B.signIn(u.email, u.password), { userId: u.id });
});

it('POST /resend: unknown type 400; an unknown address answers 200 without mail', async () => {
  expectAuthError(await B.auth('POST', '/resend', { body: { type: 'bogus', email: newEmail() } }), 400, 'validation_failed');
  const ghost = newEmail('ghost');
  const since = env.sink.mark();
  const r = await B.auth('POST', '/resend', { body: { type: 'signup', email: ghost } });
  assert.equal(r.status, 200, fmt(r));
  assert.ok(await env.sink.expectNone(ghost, 500, { since }));
});

it('signup with autoconfirm off, then the emailed code through POST /verify {type: signup} confirms', async () => {
  const email = newEmail('code');
  const password = newPassword();
  const since = env.sink.mark();
  expectStatus(await B.signUp(email, password), 200);
  const { mail, link } = await mailTo(email, since);
  const otp = extractOtp(mail.text);
  if (!otp) {
    // the confirmation mail may carry only the link; token_hash does the same job
    const s = expectSession(await B.auth('POST', '/verify', { body: { type: 'signup', token_hash: linkParam(link, 'token') } }), { email });
    assert.ok(s.user.email_confirmed_at);
    return;
  }
  const s = expectSession(await B.auth('POST', '/verify', { body: { type: 'signup', token: otp, email } }), { email });
  assert.ok(s.user.email_confirmed_at);
});
