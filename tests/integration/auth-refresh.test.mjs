// Refresh-token reuse detection with no reuse window (ALPACA_AUTH_REFRESH_TOKEN_REUSE_INTERVAL=0):
// presenting a rotated-out refresh token → 400 refresh_token_already_used and the whole session
// is revoked (its newest refresh token and its access tokens stop working); the user's other
// sessions are not touched.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { expectStatus } from './harness.mjs';
import { createProject, expectAuthError, expectSession, itFor, lit, startAuthServer } from './auth-helpers.mjs';

let env;
let P;

before(async () => {
  env = await startAuthServer({ env: { ALPACA_AUTH_REFRESH_TOKEN_REUSE_INTERVAL: '0' } });
  P = await createProject(env.server, env.sink, 'reuse');
});
after(async () => env?.close());

const it = itFor(() => env?.server, test);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

it('reusing an old refresh token → 400 refresh_token_already_used; the session is revoked, the newest token fails too', async () => {
  const u = await P.createUser();
  const s0 = expectSession(await P.signIn(u.email, u.password));
  const other = expectSession(await P.signIn(u.email, u.password));
  await sleep(1100); // the rotated token's age must exceed the (zero) window at second resolution too
  const s1 = expectSession(await P.refresh(s0.refresh_token));
  await sleep(1100);
  const s2 = expectSession(await P.refresh(s1.refresh_token));
  await sleep(1100);
  expectAuthError(await P.refresh(s0.refresh_token), 400, 'refresh_token_already_used');
  expectAuthError(await P.refresh(s2.refresh_token), 400, ['refresh_token_already_used', 'refresh_token_not_found', 'session_not_found']);
  expectAuthError(await P.refresh(s1.refresh_token), 400, ['refresh_token_already_used', 'refresh_token_not_found', 'session_not_found']);
  expectAuthError(await P.getUser(s2.access_token), 403, 'session_not_found');
  assert.equal(P.sql(`select count(*) from auth.refresh_tokens where session_id = ${lit(s0.claims.session_id)} and not revoked`), '0');
  // the user's other session lives on
  expectStatus(await P.getUser(other.access_token), 200);
  expectSession(await P.refresh(other.refresh_token), { userId: u.id });
  expectSession(await P.signIn(u.email, u.password), { userId: u.id });
});

it('reusing the immediately previous token after the window is refused the same way', async () => {
  const u = await P.createUser();
  const s0 = expectSession(await P.signIn(u.email, u.password));
  await sleep(1100);
  const s1 = expectSession(await P.refresh(s0.refresh_token));
  await sleep(1100);
  expectAuthError(await P.refresh(s0.refresh_token), 400, 'refresh_token_already_used');
  expectAuthError(await P.refresh(s1.refresh_token), 400, ['refresh_token_already_used', 'refresh_token_not_found', 'session_not_found']);
});
