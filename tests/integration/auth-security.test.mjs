// Security properties of the auth plugin: passwords stored as bcrypt (the configured cost,
// verifiable by pgcrypto's crypt()), a user imported straight into auth.users with a pgcrypto
// bcrypt hash (and NULL token columns, as hand-written imports have) signs in, one-time tokens
// (link secret and 6-digit code) never stored in clear, SMTP AUTH with the configured
// credentials, and no password, SMTP password, link secret or session token in the server log
// (debug level).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { expectStatus, fmt, randomHex } from './harness.mjs';
import { extractLink, extractOtp } from './fakes/smtp-sink.mjs';
import {
  createProject,
  expectAuthError,
  expectFragmentSession,
  expectSession,
  itFor,
  linkParam,
  lit,
  newEmail,
  newPassword,
  passwordsUsed,
  startAuthServer,
} from './auth-helpers.mjs';

const SMTP_USER = 'mailer-user';
const SMTP_PASSWORD = `smtp-pw-${randomHex(8)}`;

let env;
let A; // autoconfirm on
let pgcrypto = false;
const secretsSeen = new Set(); // link secrets, codes and tokens that must not reach the log

before(async () => {
  env = await startAuthServer({
    logLevel: 'debug',
    env: { ALPACA_AUTH_SMTP_USER: SMTP_USER, ALPACA_AUTH_SMTP_PASSWORD: SMTP_PASSWORD },
  });
  A = await createProject(env.server, env.sink, 'sec', { autoconfirm: true });
  try {
    A.sql('create extension if not exists pgcrypto with schema extensions');
    pgcrypto = A.sql(`select count(*) from pg_extension where extname = 'pgcrypto'`) === '1';
  } catch {
    pgcrypto = false;
  }
});
after(async () => env?.close());

const it = itFor(() => env?.server, test);

/** The schema pgcrypto's functions live in. */
const cryptoSchema = () => A.sql(`select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = 'pgcrypto'`);

it('passwords are bcrypt hashes ($2a$/$2b$) at the configured cost (4); pgcrypto crypt() verifies them', async (t) => {
  const email = newEmail('bcrypt');
  const password = newPassword();
  expectSession(await A.signUp(email, password));
  const hash = A.sql(`select encrypted_password from auth.users where email = ${lit(email)}`);
  assert.match(hash, /^\$2[ab]\$04\$[./A-Za-z0-9]{53}$/, `encrypted_password: ${hash}`);
  assert.ok(!hash.includes(password));
  if (!pgcrypto) return t.skip('pgcrypto is not available');
  const ns = cryptoSchema();
  // GoTrue writes $2a$; pgcrypto (PostgreSQL 15) only knows $2a$ (it reads $2b$ as a DES salt), and
  // SQL like `encrypted_password = crypt($1, encrypted_password)` is how Supabase apps check passwords.
  assert.equal(
    A.sql(`select encrypted_password = ${ns}.crypt(${lit(password)}, encrypted_password) from auth.users where email = ${lit(email)}`),
    't',
    `pgcrypto crypt() does not verify the stored hash ${hash.slice(0, 7)}… (pgcrypto verifies $2a$ only)`,
  );
  assert.equal(A.sql(`select encrypted_password = ${ns}.crypt('wrong', encrypted_password) from auth.users where email = ${lit(email)}`), 'f');
});

it('a user inserted straight into auth.users with crypt(pw, gen_salt(bf, 10)) signs in (Supabase import)', async (t) => {
  if (!pgcrypto) return t.skip('pgcrypto is not available');
  const ns = cryptoSchema();
  const id = crypto.randomUUID();
  const email = newEmail('imported');
  const password = newPassword('import');
  A.sql(`insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
           raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
         values ('00000000-0000-0000-0000-000000000000', ${lit(id)}, 'authenticated', 'authenticated', ${lit(email)},
           ${ns}.crypt(${lit(password)}, ${ns}.gen_salt('bf', 10)), now(),
           '{"provider":"email","providers":["email"]}', '{"imported":true}', now(), now())`);
  assert.match(A.sql(`select encrypted_password from auth.users where id = ${lit(id)}`), /^\$2a\$10\$/);
  const s = expectSession(await A.signIn(email, password), { userId: id, email });
  assert.equal(s.user.user_metadata.imported, true);
  expectStatus(await A.getUser(s.access_token), 200);
  expectAuthError(await A.signIn(email, 'not-it'), 400, 'invalid_credentials');
  // the imported user goes through the mailed flows too (NULL token columns)
  const since = env.sink.mark();
  expectStatus(await A.auth('POST', '/recover', { body: { email } }), 200);
  const m = await env.sink.waitFor(email, 5000, { since });
  const f = await A.follow(extractLink(m.text));
  assert.equal(f.status, 303, fmt(f.res));
  expectFragmentSession(f.fragment, { type: 'recovery' });
});

it('one-time tokens are not stored in clear: neither the link secret nor the 6-digit code is in auth.users or auth.one_time_tokens', async () => {
  const u = await A.createUser();
  const since = env.sink.mark();
  expectStatus(await A.auth('POST', '/recover', { body: { email: u.email } }), 200);
  const m = await env.sink.waitFor(u.email, 5000, { since });
  const link = extractLink(m.text);
  const token = linkParam(link, 'token');
  const otp = extractOtp(m.text);
  assert.ok(token && token.length >= 16, `link token: ${link}`);
  assert.match(String(otp), /^\d{6}$/);
  secretsSeen.add(token);
  const inUsers = A.sql(`select count(*) from auth.users u where strpos(u::text, ${lit(token)}) > 0`);
  assert.equal(inUsers, '0', 'the link secret is in auth.users');
  const inOtt = A.sql(`select count(*) from auth.one_time_tokens t where strpos(t::text, ${lit(token)}) > 0`);
  assert.equal(inOtt, '0', 'the link secret is in auth.one_time_tokens');
  const otpCols = A.sql(`select count(*) from auth.users where ${lit(otp)} in (coalesce(recovery_token, ''), coalesce(confirmation_token, ''), coalesce(email_change_token_new, ''), coalesce(email_change_token_current, ''), coalesce(reauthentication_token, ''))`);
  assert.equal(otpCols, '0', 'the code is a token column of auth.users');
  assert.equal(A.sql(`select count(*) from auth.one_time_tokens where token_hash = ${lit(otp)}`), '0', 'the code is a token_hash');
  assert.equal(A.sql(`select count(*) from auth.one_time_tokens where user_id = ${lit(u.id)}`), '1', 'the token row exists (hashed)');
  const f = await A.follow(link);
  assert.equal(f.status, 303, fmt(f.res));
  const claims = expectFragmentSession(f.fragment, { type: 'recovery' });
  assert.equal(claims.sub, u.id);
  secretsSeen.add(f.fragment.get('access_token'));
  secretsSeen.add(f.fragment.get('refresh_token'));
  assert.equal(A.sql(`select count(*) from auth.one_time_tokens where user_id = ${lit(u.id)}`), '0', 'used tokens are deleted');
});

it('mail goes through SMTP AUTH with the configured user and password; every mail is also in auth.alpaca_outbox', async () => {
  const u = await A.createUser();
  const since = env.sink.mark();
  expectStatus(await A.auth('POST', '/magiclink', { body: { email: u.email } }), 200);
  const m = await env.sink.waitFor(u.email, 5000, { since });
  assert.ok(m.session.auth, 'the message was sent after AUTH');
  assert.equal(m.session.auth.user, SMTP_USER);
  assert.equal(m.session.auth.pass, SMTP_PASSWORD);
  const otp = extractOtp(m.text);
  if (otp) secretsSeen.add(otp);
  secretsSeen.add(linkParam(extractLink(m.text), 'token'));
  const rows = A.rows(`select recipient, subject from auth.alpaca_outbox where recipient = ${lit(u.email)}`);
  assert.equal(rows.length, 1, JSON.stringify(rows));
  assert.equal(rows[0].subject, m.subject);
});

it('sessions: refresh tokens are random and distinct; an access token for another project is refused', async () => {
  const u = await A.signedIn();
  const s2 = expectSession(await A.signIn(u.email, u.password));
  assert.notEqual(u.session.refresh_token, s2.refresh_token);
  assert.ok(u.session.refresh_token.length >= 12);
  secretsSeen.add(u.session.refresh_token);
  secretsSeen.add(s2.access_token);
  const B = await createProject(env.server, env.sink, 'sec-other', { autoconfirm: true });
  const r = await B.getUser(u.session.access_token);
  assert.ok(r.status === 401 || r.status === 403, `a token of project A on project B: ${fmt(r)}`);
  expectAuthError(await B.refresh(u.session.refresh_token), 400, 'refresh_token_not_found');
});

it('no password, SMTP password, link secret or session token appears in the server log (debug level)', async () => {
  // a few more requests carrying passwords in their bodies, including failing ones
  const email = newEmail('logcheck');
  const password = newPassword('log');
  const s = expectSession(await A.signUp(email, password));
  expectAuthError(await A.signIn(email, newPassword('logwrong')), 400, 'invalid_credentials');
  const weak = newPassword('w').slice(0, 3);
  expectAuthError(await A.signUp(newEmail('weaklog'), weak), 422, 'weak_password');
  const broken = newPassword('broken');
  expectAuthError(await A.auth('POST', '/signup', { body: `{"email":"${newEmail()}","password":"${broken}"`, headers: { 'content-type': 'application/json' } }), 400, 'bad_json');
  expectStatus(await A.auth('PUT', '/user', { token: s.access_token, body: { password: newPassword('logchange') } }), 200);
  await A.createUser();
  expectStatus(await A.mgmt('POST', '/auth/users', { body: { email: newEmail('mglog'), password: newPassword('mglog'), email_confirm: true } }), 201);
  secretsSeen.add(s.refresh_token);
  await new Promise((r) => setTimeout(r, 300)); // let the last log lines arrive
  const log = env.server.output;
  assert.ok(log.length > 0);
  const leaked = [...passwordsUsed, SMTP_PASSWORD].filter((p) => log.includes(p));
  assert.deepEqual(leaked, [], `passwords in the server log`);
  const leakedSecrets = [...secretsSeen].filter((x) => x && x.length >= 6 && log.includes(x));
  assert.deepEqual(leakedSecrets, [], 'link secrets or tokens in the server log');
});
