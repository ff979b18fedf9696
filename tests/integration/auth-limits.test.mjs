// The auth plugin's rate limits on a server with tiny ones (ALPACA_AUTH_RATE_LIMIT_PER_IP=3,
// _PER_EMAIL=2, _REFRESH_PER_IP=3): the 4th password sign-in from one address → 429
// over_request_rate_limit while another address still gets in; the 3rd recovery mail to one
// address → 429 over_email_send_rate_limit (and only two mails); the 4th refresh from one address
// → 429. The server trusts X-Forwarded-For (server.trust_forwarded_for) so each test picks its own
// client addresses.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { expectStatus, fmt } from './harness.mjs';
import { createProject, expectAuthError, expectSession, itFor, startAuthServer } from './auth-helpers.mjs';

let env;
let P;
let ipCounter = 1;
/** A fresh client address for X-Forwarded-For. */
const newIp = () => `10.${Math.floor(ipCounter / 250)}.${ipCounter++ % 250}.7`;
const from = (ip) => ({ headers: { 'x-forwarded-for': ip } });

before(async () => {
  env = await startAuthServer({
    env: {
      ALPACA_AUTH_RATE_LIMIT_PER_IP: '3',
      ALPACA_AUTH_RATE_LIMIT_PER_EMAIL: '2',
      ALPACA_AUTH_RATE_LIMIT_REFRESH_PER_IP: '3',
      ALPACA_SERVER_TRUST_FORWARDED_FOR: 'true',
    },
  });
  P = await createProject(env.server, env.sink, 'limits');
});
after(async () => env?.close());

const it = itFor(() => env?.server, test);

it('password sign-in: the 4th attempt from one address within the window → 429 over_request_rate_limit; another address is not limited', async () => {
  const u = await P.createUser();
  const ip = newIp();
  for (let i = 1; i <= 3; i++) expectSession(await P.signIn(u.email, u.password, from(ip)), { userId: u.id });
  const r = expectAuthError(await P.signIn(u.email, u.password, from(ip)), 429, 'over_request_rate_limit');
  assert.equal(r.json.code, 429, fmt(r));
  expectAuthError(await P.signIn(u.email, 'wrong-password', from(ip)), 429, 'over_request_rate_limit');
  expectSession(await P.signIn(u.email, u.password, from(newIp())), { userId: u.id });
});

it('failed sign-ins count too (no unlimited password guessing from one address)', async () => {
  const u = await P.createUser();
  const ip = newIp();
  for (let i = 1; i <= 3; i++) expectAuthError(await P.signIn(u.email, `guess-${i}`, from(ip)), 400, 'invalid_credentials');
  expectAuthError(await P.signIn(u.email, u.password, from(ip)), 429, 'over_request_rate_limit');
});

it('recover: the 3rd mail to one address → 429 over_email_send_rate_limit even from new client addresses; two mails sent', async () => {
  const u = await P.createUser();
  const since = env.sink.mark();
  for (let i = 1; i <= 2; i++) expectStatus(await P.auth('POST', '/recover', { ...from(newIp()), body: { email: u.email } }), 200);
  expectAuthError(await P.auth('POST', '/recover', { ...from(newIp()), body: { email: u.email } }), 429, 'over_email_send_rate_limit');
  await env.sink.waitFor((m) => env.sink.messages.slice(since).filter((x) => x.to.includes(u.email)).length >= 2, 5000, { since });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(env.sink.messagesTo(u.email).length, 2, 'exactly two mails');
  const v = await P.createUser();
  expectStatus(await P.auth('POST', '/recover', { ...from(newIp()), body: { email: v.email } }), 200);
});

it('signups count per address: the 4th from one client → 429', async () => {
  const ip = newIp();
  for (let i = 1; i <= 3; i++) {
    const r = await P.signUp(`su-${i}-${Date.now()}@example.com`, `Pw-${i}-long-enough!`, from(ip));
    assert.equal(r.status, 200, fmt(r));
  }
  expectAuthError(await P.signUp(`su-4-${Date.now()}@example.com`, 'Pw-4-long-enough!', from(ip)), 429, 'over_request_rate_limit');
});

it('refresh: the 4th refresh from one address → 429; another address still refreshes', async () => {
  const u = await P.createUser();
  let s = expectSession(await P.signIn(u.email, u.password, from(newIp())));
  const ip = newIp();
  for (let i = 1; i <= 3; i++) s = expectSession(await P.refresh(s.refresh_token, from(ip)));
  expectAuthError(await P.refresh(s.refresh_token, from(ip)), 429, 'over_request_rate_limit');
  expectSession(await P.refresh(s.refresh_token, from(newIp())), { userId: u.id });
});
