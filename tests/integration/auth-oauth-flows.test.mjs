// OAuth2 / OIDC sign-in of the auth plugin in detail (auth-oauth.test.mjs has the main paths):
// what /authorize sends to the provider and stores (the state hashed, PKCE flow states), the
// code exchange and profile reads the provider sees, the user and identity data (GitHub-like and
// OIDC-like providers), profile updates on later sign-ins, linking, unverified addresses,
// disable_signup, redirect_to checks, bad / reused / expired state, provider errors and failures
// (logged without secrets), disabled providers, and PKCE (S256, plain, wrong verifier, reuse,
// expiry, a flow that never came back). The browser is played by hand: one request per hop.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { decodeJwt, expectStatus, fmt, request } from './harness.mjs';
import { startOAuthProvider } from './fakes/oauth-provider.mjs';
import {
  SITE_URL,
  UUID_RE,
  createProject,
  expectAuthError,
  expectClaims,
  expectFragmentSession,
  expectSession,
  itFor,
  lit,
  newEmail,
  pkcePair,
  startAuthServer,
} from './auth-helpers.mjs';

const CLIENT_ID = 'cid-oauth-flows';
const CLIENT_SECRET = 'csecret-oauth-flows-7f3a9';
const APP = 'http://localhost:3000/welcome';

let env; // { server, sink }
let fake; // the provider
let P; // github (GitHub-like endpoints) and acme (OIDC-like) enabled
let D; // default settings: every provider disabled
let nextId = 5000;

function providerSettings() {
  return {
    redirect_urls: ['http://localhost:3000/**'],
    providers: {
      github: {
        enabled: true,
        client_id: CLIENT_ID,
        secret: CLIENT_SECRET,
        authorize_url: `${fake.url}/authorize`,
        token_url: `${fake.url}/token`,
        userinfo_url: `${fake.url}/user`,
        emails_url: `${fake.url}/user/emails`,
      },
      acme: {
        enabled: true,
        client_id: CLIENT_ID,
        secret: CLIENT_SECRET,
        authorize_url: `${fake.url}/authorize?audience=api`,
        token_url: `${fake.url}/token`,
        userinfo_url: `${fake.url}/userinfo`,
        scopes: 'openid email profile',
      },
    },
  };
}

before(async () => {
  fake = await startOAuthProvider({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
  env = await startAuthServer({ smtp: false });
  P = await createProject(env.server, null, 'oauth', providerSettings());
  D = await createProject(env.server, null, 'oauth-off');
});
after(async () => {
  await env?.close();
  await fake?.close();
});

const it = itFor(() => env?.server, test, 60000);

/** A fresh provider user (fields merged over a unique id and address). */
function providerUser(fields = {}) {
  const id = nextId++;
  return fake.setUser({ id, email: newEmail('gh'), name: `User ${id}`, email_verified: true, ...fields });
}

/** GET /authorize as a browser (no apikey); expects the 302 to the provider and returns its URL. */
async function authorize(project, params) {
  const q = new URLSearchParams({ provider: 'github', redirect_to: APP, ...params });
  const r = await request(env.server.url, 'GET', `${project.base}/authorize?${q}`);
  assert.equal(r.status, 302, fmt(r));
  return new URL(r.headers.location);
}

/** The provider's hop: its /authorize answers 302 to our callback with code and state. */
function providerHop(url) {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== 302) return reject(new Error(`provider /authorize: ${res.statusCode}`));
          resolve(new URL(res.headers.location));
        });
      })
      .on('error', reject);
  });
}

/** The whole browser round trip; returns the callback hop { status, location, fragment, query, callbackUrl }. */
async function signIn(project, params = {}) {
  const toProvider = await authorize(project, params);
  const callbackUrl = await providerHop(toProvider);
  const hop = await project.follow(callbackUrl.toString());
  return { ...hop, callbackUrl, toProvider };
}

/** The callback's redirect as an error: asserts where it went and the codes; returns the params. */
function expectErrorRedirect(hop, { to, error, code, where = 'fragment' }) {
  assert.equal(hop.status, 302, fmt(hop.res));
  assert.ok(hop.location.startsWith(to), `redirect ${hop.location} should go to ${to}`);
  const params = where === 'fragment' ? hop.fragment : hop.query;
  if (error) assert.equal(params.get('error'), error, hop.location);
  if (code !== undefined) assert.equal(params.get('error_code'), code, hop.location);
  assert.ok(params.get('error_description'), `no error_description: ${hop.location}`);
  assert.ok(!hop.fragment.get('access_token') && !hop.query.get('code'), `no session expected: ${hop.location}`);
  return params;
}

const adminUser = async (project, id) => expectStatus(await project.admin('GET', `/admin/users/${id}`), 200).json;
const usersWithEmail = (project, email) => project.rows(`select id from auth.users where email = ${lit(email)}`);
const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');

// ---------------------------------------------------------------------------------------------
// /authorize

it('authorize: 302 to the provider with client_id, redirect_uri, response_type, scope and a random state stored hashed', async () => {
  const to = await authorize(P, { scopes: 'repo' });
  assert.equal(`${to.origin}${to.pathname}`, `${fake.url}/authorize`);
  assert.equal(to.searchParams.get('client_id'), CLIENT_ID);
  assert.equal(to.searchParams.get('redirect_uri'), `${P.record.server_url}/auth/v1/callback`);
  assert.equal(to.searchParams.get('response_type'), 'code');
  assert.equal(to.searchParams.get('scope'), 'user:email repo');
  const state = to.searchParams.get('state');
  assert.match(state, /^[A-Za-z0-9]{40}$/);
  assert.ok(!to.toString().includes(CLIENT_SECRET), to.toString());
  const rows = P.rows(`select id, provider, redirect_to, flow_state_id from auth.alpaca_oauth_state where id = ${lit(sha256(state))}`);
  assert.deepEqual(rows, [{ id: sha256(state), provider: 'github', redirect_to: APP, flow_state_id: null }]);
  assert.equal(P.rows(`select 1 from auth.alpaca_oauth_state where id = ${lit(state)}`).length, 0, 'the state itself is not stored');
  const again = await authorize(P);
  assert.notEqual(again.searchParams.get('state'), state, 'a new state per authorize');
});

it('authorize: the authorize_url query is kept and the configured scopes are used', async () => {
  const to = await authorize(P, { provider: 'acme' });
  assert.equal(to.searchParams.get('audience'), 'api', to.toString());
  assert.equal(to.searchParams.get('scope'), 'openid email profile');
  assert.equal(to.searchParams.get('client_id'), CLIENT_ID);
});

it('authorize: a disabled, unknown or missing provider → 400 validation_failed', async () => {
  for (const [project, q] of [
    [D, 'provider=github'],
    [P, 'provider=google'],
    [P, 'provider=nosuch'],
    [P, ''],
  ]) {
    const r = await request(env.server.url, 'GET', `${project.base}/authorize?${q}`);
    expectAuthError(r, 400, 'validation_failed');
    assert.match(r.json.msg, /Unsupported provider: provider is not enabled/, fmt(r));
  }
});

it('authorize: bad PKCE parameters → 400 validation_failed', async () => {
  const { challenge } = pkcePair();
  for (const q of [
    `code_challenge=${challenge}`,
    'code_challenge_method=s256',
    `code_challenge=${challenge}&code_challenge_method=md5`,
    'code_challenge=short&code_challenge_method=s256',
  ]) {
    const r = await request(env.server.url, 'GET', `${P.base}/authorize?provider=github&${q}`);
    expectAuthError(r, 400, 'validation_failed');
  }
});

// ---------------------------------------------------------------------------------------------
// implicit flow

it('implicit flow: the session in the fragment, a confirmed user with a github identity, the provider token', async () => {
  const gh = providerUser({ name: 'Octo Implicit', login: 'octoimp' });
  const hop = await signIn(P);
  assert.equal(hop.status, 302, fmt(hop.res));
  assert.ok(hop.location.startsWith(`${APP}#`), hop.location);
  const claims = expectFragmentSession(hop.fragment);
  assert.equal(claims.email, gh.email);
  assert.ok(Number(hop.fragment.get('expires_at')) > Date.now() / 1000);

  // the provider saw the code exchange with our credentials and redirect_uri, then the profile reads
  const tokenReq = fake.requestsTo('/token', 'POST').at(-1);
  assert.equal(tokenReq.form.grant_type, 'authorization_code');
  assert.equal(tokenReq.form.client_id, CLIENT_ID);
  assert.equal(tokenReq.form.client_secret, CLIENT_SECRET);
  assert.equal(tokenReq.form.redirect_uri, `${P.record.server_url}/auth/v1/callback`);
  assert.equal(tokenReq.form.code, hop.callbackUrl.searchParams.get('code'));
  assert.match(String(tokenReq.headers.accept), /application\/json/);
  const userReq = fake.requestsTo('/user', 'GET').at(-1);
  assert.equal(userReq.headers['user-agent'], 'alpaca-auth');
  assert.equal(userReq.headers.authorization, `Bearer ${hop.fragment.get('provider_token')}`);
  assert.ok(fake.requestsTo('/user/emails', 'GET').length > 0);

  // the access token works
  const me = expectStatus(await P.getUser(hop.fragment.get('access_token')), 200).json;
  assert.equal(me.email, gh.email);
  expectClaims(claims, { user: me, method: 'oauth' });

  const u = await adminUser(P, me.id);
  assert.ok(u.email_confirmed_at, JSON.stringify(u));
  assert.deepEqual(u.app_metadata, { provider: 'github', providers: ['github'] });
  assert.equal(u.user_metadata.name, 'Octo Implicit');
  assert.equal(u.user_metadata.full_name, 'Octo Implicit');
  assert.equal(u.user_metadata.user_name, 'octoimp');
  assert.equal(u.user_metadata.avatar_url, gh.avatar_url);
  assert.equal(u.user_metadata.email_verified, true);
  assert.equal(u.user_metadata.provider_id, String(gh.id));
  assert.equal(u.identities.length, 1, JSON.stringify(u.identities));
  const ident = u.identities[0];
  assert.equal(ident.provider, 'github');
  assert.equal(ident.id, String(gh.id));
  assert.equal(ident.identity_data.sub, String(gh.id));
  assert.equal(ident.identity_data.email, gh.email);
  assert.ok(ident.last_sign_in_at, JSON.stringify(ident));
  assert.equal(P.rows(`select 1 from auth.users where id = '${me.id}' and encrypted_password is not null`).length, 0, 'no password');

  // the refresh token works too
  expectSession(await P.refresh(hop.fragment.get('refresh_token')), { userId: me.id });
});

it('implicit flow: the same provider user again → the same user, the profile updated, one identity', async () => {
  const gh = providerUser({ name: 'First Name' });
  const first = await signIn(P);
  const id1 = decodeJwt(first.fragment.get('access_token')).payload.sub;
  fake.setUser({ ...gh, name: 'Second Name' });
  const second = await signIn(P);
  const id2 = decodeJwt(second.fragment.get('access_token')).payload.sub;
  assert.equal(id2, id1);
  assert.notEqual(second.fragment.get('refresh_token'), first.fragment.get('refresh_token'));
  const u = await adminUser(P, id1);
  assert.equal(u.identities.length, 1, JSON.stringify(u.identities));
  assert.equal(u.user_metadata.name, 'Second Name');
  assert.equal(u.identities[0].identity_data.name, 'Second Name');
  assert.equal(usersWithEmail(P, gh.email).length, 1);
});

it('implicit flow: a verified provider address of an existing email user links a github identity to it', async () => {
  const existing = await P.createUser({ email: newEmail('link') });
  providerUser({ email: existing.email });
  const hop = await signIn(P);
  const claims = expectFragmentSession(hop.fragment);
  assert.equal(claims.sub, existing.id);
  const u = await adminUser(P, existing.id);
  assert.deepEqual(u.identities.map((i) => i.provider).sort(), ['email', 'github']);
  assert.deepEqual([...u.app_metadata.providers].sort(), ['email', 'github']);
  assert.equal(u.app_metadata.provider, 'email');
  // and the password still works
  expectSession(await P.signIn(existing.email, existing.password), { userId: existing.id });
});

it('an OIDC provider: sub and picture are mapped; an unverified address is not linked to an existing user', async () => {
  const oidc = providerUser({ name: 'Oidc Person', email_verified: true });
  const hop = await signIn(P, { provider: 'acme' });
  const claims = expectFragmentSession(hop.fragment);
  const u = await adminUser(P, claims.sub);
  assert.deepEqual(u.app_metadata, { provider: 'acme', providers: ['acme'] });
  assert.equal(u.identities[0].id, String(oidc.id));
  assert.equal(u.user_metadata.picture, oidc.avatar_url);
  assert.equal(u.user_metadata.avatar_url, oidc.avatar_url);
  assert.equal(fake.requestsTo('/userinfo', 'GET').length > 0, true);

  const existing = await P.createUser({ email: newEmail('nolink') });
  providerUser({ email: existing.email, email_verified: false });
  const bad = await signIn(P, { provider: 'acme' });
  expectErrorRedirect(bad, { to: APP, code: 'provider_email_needs_verification' });
  const unchanged = await adminUser(P, existing.id);
  assert.deepEqual(unchanged.identities.map((i) => i.provider), ['email']);
});

it('a GitHub user with no verified address is not signed up', async () => {
  const gh = providerUser({ email_verified: false });
  const hop = await signIn(P);
  expectErrorRedirect(hop, { to: APP, error: 'access_denied', code: 'provider_email_needs_verification' });
  assert.equal(usersWithEmail(P, gh.email).length, 0);
  assert.equal(P.rows(`select 1 from auth.identities where provider = 'github' and provider_id = '${gh.id}'`).length, 0);
});

it('disable_signup: a new provider user is refused, a known one still signs in', async () => {
  const known = providerUser();
  expectFragmentSession((await signIn(P)).fragment);
  await P.settings({ disable_signup: true });
  try {
    const fresh = providerUser();
    const refused = await signIn(P);
    expectErrorRedirect(refused, { to: APP, code: 'signup_disabled' });
    assert.equal(usersWithEmail(P, fresh.email).length, 0);
    fake.setUser(known);
    const claims = expectFragmentSession((await signIn(P)).fragment);
    assert.equal(claims.email, known.email);
  } finally {
    await P.settings({ disable_signup: false });
  }
});

// ---------------------------------------------------------------------------------------------
// redirects, state, failures

it('redirect_to not allowed → the site URL; allowed ones are kept (with their query)', async () => {
  providerUser();
  const evil = await signIn(P, { redirect_to: 'https://evil.example/steal' });
  assert.ok(evil.location.startsWith(`${SITE_URL}#access_token=`), evil.location);
  providerUser();
  const ok = await signIn(P, { redirect_to: 'http://localhost:3000/app/cb?x=1' });
  assert.ok(ok.location.startsWith('http://localhost:3000/app/cb?x=1#access_token='), ok.location);
});

it('tampered, unknown, missing, reused and expired state → bad_oauth_state to the site URL, nobody signed in', async () => {
  providerUser();
  const cb = await providerHop(await authorize(P));
  const state = cb.searchParams.get('state');
  const sessionsBefore = Number(P.sql('select count(*) from auth.sessions'));
  const siteError = { to: `${SITE_URL}#`, error: 'invalid_request', code: 'bad_oauth_state' };

  const tampered = new URL(cb);
  tampered.searchParams.set('state', `${state.slice(0, -1)}${state.endsWith('A') ? 'B' : 'A'}`);
  expectErrorRedirect(await P.follow(tampered.toString()), siteError);
  const unknown = new URL(cb);
  unknown.searchParams.set('state', 'x'.repeat(40));
  expectErrorRedirect(await P.follow(unknown.toString()), siteError);
  const missing = new URL(cb);
  missing.searchParams.delete('state');
  expectErrorRedirect(await P.follow(missing.toString()), siteError);
  assert.equal(Number(P.sql('select count(*) from auth.sessions')), sessionsBefore);

  // the real one works once
  expectFragmentSession((await P.follow(cb.toString())).fragment);
  expectErrorRedirect(await P.follow(cb.toString()), siteError);

  // older than 10 minutes
  providerUser();
  const cb2 = await providerHop(await authorize(P));
  P.sql(`update auth.alpaca_oauth_state set created_at = now() - interval '11 minutes' where id = ${lit(sha256(cb2.searchParams.get('state')))}`);
  expectErrorRedirect(await P.follow(cb2.toString()), siteError);
});

it('the provider answering error=access_denied → redirected with that error', async () => {
  const to = await authorize(P);
  const cb = new URL(`${P.record.server_url}/auth/v1/callback`);
  cb.searchParams.set('error', 'access_denied');
  cb.searchParams.set('error_description', 'The user denied access');
  cb.searchParams.set('state', to.searchParams.get('state'));
  const params = expectErrorRedirect(await P.follow(cb.toString()), { to: `${APP}#`, error: 'access_denied' });
  assert.equal(params.get('error_description'), 'The user denied access');
});

it('a failing token or userinfo endpoint → server_error / unexpected_failure, logged without secrets', async () => {
  await P.settings({ providers: { github: { token_url: `${fake.url}/no-such-token-endpoint` } } });
  try {
    providerUser();
    expectErrorRedirect(await signIn(P), { to: `${APP}#`, error: 'server_error', code: 'unexpected_failure' });
    await P.settings({ providers: { github: { token_url: `${fake.url}/token`, userinfo_url: 'http://127.0.0.1:9/user' } } });
    providerUser();
    expectErrorRedirect(await signIn(P), { to: `${APP}#`, error: 'server_error', code: 'unexpected_failure' });
  } finally {
    await P.settings(providerSettings());
  }
  assert.match(env.server.output, /OAuth sign-in with github .* failed/);
  assert.ok(!env.server.output.includes(CLIENT_SECRET), 'the client secret is in the log');
  for (const r of fake.requestsTo('/user', 'GET')) {
    const token = String(r.headers.authorization || '').replace(/^Bearer /, '');
    if (token) assert.ok(!env.server.output.includes(token), 'a provider token is in the log');
  }
});

// ---------------------------------------------------------------------------------------------
// PKCE

/** authorize with a challenge → provider → callback; returns { code, verifier, hop }. */
async function pkceSignIn(project, { method = 's256', redirectTo = APP } = {}) {
  const pair = pkcePair();
  const challenge = method === 'plain' ? pair.verifier : pair.challenge;
  const hop = await signIn(project, { code_challenge: challenge, code_challenge_method: method, redirect_to: redirectTo });
  assert.equal(hop.status, 302, fmt(hop.res));
  assert.ok(!hop.fragment.get('access_token'), `no session in the fragment with PKCE: ${hop.location}`);
  const code = hop.query.get('code');
  assert.ok(code, `no ?code= in ${hop.location}`);
  return { code, verifier: pair.verifier, hop };
}

const pkceGrant = (project, body) => project.auth('POST', '/token?grant_type=pkce', { body });

it('PKCE (S256): ?code= on the redirect, exchanged once for a session with the provider token', async () => {
  const gh = providerUser();
  const { code, verifier, hop } = await pkceSignIn(P, { redirectTo: 'http://localhost:3000/pkce?next=%2Fhome' });
  assert.ok(hop.location.startsWith('http://localhost:3000/pkce?next=%2Fhome&code='), hop.location);
  const flow = P.rows(`select user_id, provider_type, code_challenge_method::text as m, auth_code_issued_at is not null as issued from auth.flow_state where auth_code = ${lit(code)}`);
  assert.equal(flow.length, 1);
  assert.equal(flow[0].provider_type, 'github');
  assert.equal(flow[0].m, 's256');
  assert.equal(flow[0].issued, true);
  assert.match(String(flow[0].user_id), UUID_RE);

  const s = expectSession(await pkceGrant(P, { auth_code: code, code_verifier: verifier }), { email: gh.email });
  assert.equal(s.user.id, flow[0].user_id);
  assert.equal(s.claims.amr[0].method, 'oauth');
  assert.equal(typeof s.provider_token, 'string');
  assert.equal(fake.requestsTo('/user', 'GET').at(-1).headers.authorization, `Bearer ${s.provider_token}`);
  assert.equal(P.rows(`select 1 from auth.flow_state where auth_code = ${lit(code)}`).length, 0, 'the flow state is used up');

  expectAuthError(await pkceGrant(P, { auth_code: code, code_verifier: verifier }), 404, 'flow_state_not_found');
});

it('PKCE: a wrong verifier → 400 bad_code_verifier (the code survives); plain challenges work', async () => {
  providerUser();
  const { code, verifier } = await pkceSignIn(P);
  const wrong = await pkceGrant(P, { auth_code: code, code_verifier: `${verifier}x` });
  expectAuthError(wrong, 400, 'bad_code_verifier');
  assert.match(wrong.json.msg, /code challenge does not match previously saved code verifier/);
  expectSession(await pkceGrant(P, { auth_code: code, code_verifier: verifier }));

  providerUser();
  const plain = await pkceSignIn(P, { method: 'plain' });
  expectAuthError(await pkceGrant(P, { auth_code: plain.code, code_verifier: pkcePair().verifier }), 400, 'bad_code_verifier');
  expectSession(await pkceGrant(P, { auth_code: plain.code, code_verifier: plain.verifier }));
});

it('PKCE: missing fields → 400 validation_failed; unknown code → 404; an expired code → flow_state_expired', async () => {
  const missing = await pkceGrant(P, { auth_code: 'abc' });
  expectAuthError(missing, 400, 'validation_failed');
  assert.match(missing.json.msg, /both auth code and code verifier should be non-empty/);
  expectAuthError(await pkceGrant(P, { code_verifier: 'abc' }), 400, 'validation_failed');
  expectAuthError(await pkceGrant(P, { auth_code: 'nope', code_verifier: pkcePair().verifier }), 404, 'flow_state_not_found');

  providerUser();
  const { code, verifier } = await pkceSignIn(P);
  P.sql(`update auth.flow_state set auth_code_issued_at = now() - interval '6 minutes' where auth_code = ${lit(code)}`);
  expectAuthError(await pkceGrant(P, { auth_code: code, code_verifier: verifier }), 400, 'flow_state_expired');
  expectAuthError(await pkceGrant(P, { auth_code: code, code_verifier: verifier }), 404, 'flow_state_not_found');
});

it('PKCE: an authorize that never came back has no usable code; a provider error lands in the query', async () => {
  const pair = pkcePair();
  const to = await authorize(P, { code_challenge: pair.challenge, code_challenge_method: 's256' });
  const [row] = P.rows(`select flow_state_id from auth.alpaca_oauth_state where id = ${lit(sha256(to.searchParams.get('state')))}`);
  assert.match(String(row.flow_state_id), UUID_RE);
  const [flow] = P.rows(`select auth_code, user_id from auth.flow_state where id = '${row.flow_state_id}'`);
  assert.equal(flow.user_id, null);
  expectAuthError(await pkceGrant(P, { auth_code: flow.auth_code, code_verifier: pair.verifier }), 404, 'flow_state_not_found');

  const cb = new URL(`${P.record.server_url}/auth/v1/callback`);
  cb.searchParams.set('error', 'access_denied');
  cb.searchParams.set('state', to.searchParams.get('state'));
  expectErrorRedirect(await P.follow(cb.toString()), { to: `${APP}?`, error: 'access_denied', where: 'query' });
  assert.equal(P.rows(`select 1 from auth.flow_state where id = '${row.flow_state_id}'`).length, 0, 'the flow state is removed');
});
