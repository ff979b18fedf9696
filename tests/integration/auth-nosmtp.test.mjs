// The auth plugin without SMTP (no ALPACA_AUTH_SMTP_HOST): mail-sending routes still answer as
// usual, each mail is a row of auth.alpaca_outbox (recipient, subject, body), its link is in the
// server log, and the link works.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { expectStatus, fmt, waitForOutput } from './harness.mjs';
import { extractLink } from './fakes/smtp-sink.mjs';
import {
  createProject,
  expectFragmentSession,
  expectSession,
  expectVerifyLink,
  itFor,
  lit,
  linkParam,
  newEmail,
  newPassword,
  startAuthServer,
} from './auth-helpers.mjs';

let env;
let P;

before(async () => {
  env = await startAuthServer({ smtp: false });
  P = await createProject(env.server, null, 'nosmtp');
});
after(async () => env?.close());

const it = itFor(() => env?.server, test);

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The outbox rows for a recipient, oldest first. */
function outbox(email) {
  return P.rows(`select * from auth.alpaca_outbox where recipient = ${lit(email)} order by created_at, id`);
}

it('recover without SMTP: 200 {}; the mail is a row of auth.alpaca_outbox; its link is logged and works', async () => {
  const u = await P.createUser();
  const r = expectStatus(await P.auth('POST', '/recover', { body: { email: u.email } }), 200);
  assert.deepEqual(r.json, {}, fmt(r));
  const rows = outbox(u.email);
  assert.equal(rows.length, 1, JSON.stringify(rows));
  const row = rows[0];
  assert.equal(row.recipient, u.email);
  assert.ok(typeof row.subject === 'string' && row.subject.length > 0, JSON.stringify(row));
  assert.ok(typeof row.body === 'string' && row.body.length > 0, JSON.stringify(row));
  const link = extractLink(row.body);
  expectVerifyLink(P, link, 'recovery');
  const token = linkParam(link, 'token');
  assert.ok(await waitForOutput(env.server, new RegExp(escapeRe(token))), 'the link (its token) is in the server log');
  assert.ok(await waitForOutput(env.server, new RegExp(escapeRe(u.email))), 'the recipient is in the log line');
  const f = await P.follow(link);
  assert.equal(f.status, 303, fmt(f.res));
  assert.equal(expectFragmentSession(f.fragment, { type: 'recovery' }).sub, u.id);
});

it('signup confirmation without SMTP: outbox row, link in the log, link confirms', async () => {
  const email = newEmail('nosmtp');
  const password = newPassword();
  const r = expectStatus(await P.signUp(email, password), 200);
  assert.ok(!r.json.access_token, fmt(r));
  const rows = outbox(email);
  assert.equal(rows.length, 1, JSON.stringify(rows));
  const link = extractLink(rows[0].body);
  expectVerifyLink(P, link, 'signup');
  assert.ok(await waitForOutput(env.server, new RegExp(escapeRe(linkParam(link, 'token')))), 'link in the log');
  const f = await P.follow(link);
  assert.equal(f.status, 303, fmt(f.res));
  expectFragmentSession(f.fragment, { type: 'signup' });
  expectSession(await P.signIn(email, password), { email });
});

it('the outbox holds one row per mail, none for an unknown address', async () => {
  const u = await P.createUser();
  const n0 = Number(P.sql('select count(*) from auth.alpaca_outbox'));
  expectStatus(await P.auth('POST', '/otp', { body: { email: u.email } }), 200);
  assert.equal(outbox(u.email).length, 1);
  const ghost = newEmail('ghost');
  expectStatus(await P.auth('POST', '/recover', { body: { email: ghost } }), 200);
  assert.equal(outbox(ghost).length, 0);
  assert.equal(Number(P.sql('select count(*) from auth.alpaca_outbox')), n0 + 1);
  const otpRow = outbox(u.email)[0];
  const code = /(?<![\w])(\d{6})(?![\w])/.exec(otpRow.body.replace(/https?:\/\/\S+/g, ' '))?.[1];
  assert.ok(code, `a 6-digit code in the outbox body: ${otpRow.body}`);
  expectSession(await P.auth('POST', '/verify', { body: { type: 'magiclink', token: code, email: u.email } }), { userId: u.id });
});
